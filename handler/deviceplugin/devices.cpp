#include "handler/deviceplugin/devices.hpp"

#include <algorithm>
#include <charconv>
#include <filesystem>

namespace kv::handler::deviceplugin {

using core::Errc;
using core::Error;

const std::vector<DeviceKind>& permanent_devices() {
  static const std::vector<DeviceKind> kinds = {
      {.name = "kvm", .path = "/dev/kvm", .pre_open = false},
      {.name = "tun", .path = "/dev/net/tun", .pre_open = true},
      {.name = "vhost-net", .path = "/dev/vhost-net", .pre_open = true},
  };
  return kinds;
}

core::Status validate(const Options& o) {
  if (!o.plugin_dir.empty() && o.plugin_dir[0] != '/')
    return Error(Errc::invalid, "--device-plugin-dir: \"" + o.plugin_dir +
                                    "\" is not an absolute path (the kubelet's device-plugins "
                                    "directory, or empty for no device plugins)");
  if (o.device_root.empty() || o.device_root[0] != '/')
    return Error(Errc::invalid, "--device-root: \"" + o.device_root +
                                    "\" is not an absolute path (the node directory holding "
                                    "dev/kvm, dev/net/tun, dev/vhost-net; / on a real node)");
  if (o.node_root.empty() || o.node_root[0] != '/')
    return Error(Errc::invalid,
                 "--node-root: \"" + o.node_root +
                     "\" is not an absolute path (where this process sees the node's /)");
  if (o.max_devices < 1 || o.max_devices > 100000)
    return Error(Errc::invalid, "--max-devices: " + std::to_string(o.max_devices) +
                                    " is not between 1 and 100000");
  return {};
}

std::string join_path(const std::string& a, const std::string& b) {
  std::string left = a;
  while (!left.empty() && left.back() == '/')
    left.pop_back();
  std::string_view right = b;
  while (!right.empty() && right.front() == '/')
    right.remove_prefix(1);
  return left + "/" + std::string(right);
}

std::string host_path(const Options& o, const DeviceKind& kind) {
  return join_path(o.device_root, kind.path);
}

std::string visible_path(const Options& o, const DeviceKind& kind) {
  return join_path(o.node_root, host_path(o, kind));
}

bool device_offered(const Options& o, const DeviceKind& kind) {
  std::error_code ec;
  if (!std::filesystem::exists(visible_path(o, kind), ec))
    return false;
  return kind.name != "kvm" || o.kvm_unusable_file.empty() ||
         !std::filesystem::exists(o.kvm_unusable_file, ec);
}

std::string resource_name(const DeviceKind& kind) {
  return std::string(kResourceNamespace) + "/" + kind.name;
}

std::string socket_name(const DeviceKind& kind) {
  return "kubevirt-" + kind.name + ".sock";
}

std::string device_permissions(bool cgroup_v2) {
  return cgroup_v2 ? "rwm" : "rw";
}

std::vector<Device> device_list(const DeviceKind& kind, int count, bool present) {
  std::vector<Device> out;
  out.reserve(static_cast<std::size_t>(std::max(count, 0)));
  for (int i = 0; i < count; ++i)
    out.push_back({kind.name + std::to_string(i), std::string(present ? kHealthy : kUnhealthy)});
  return out;
}

namespace {

// "kvm17" for kind kvm and count > 17.
bool is_our_id(const DeviceKind& kind, int count, std::string_view id) {
  if (!id.starts_with(kind.name))
    return false;
  std::string_view digits = id.substr(kind.name.size());
  if (digits.empty() || (digits.size() > 1 && digits[0] == '0'))
    return false;
  int n = -1;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  return ec == std::errc() && end == digits.data() + digits.size() && n >= 0 && n < count;
}

}  // namespace

core::Result<std::vector<DeviceSpec>> allocate(const Options& o, const DeviceKind& kind,
                                               const std::string& permissions,
                                               const std::vector<std::vector<std::string>>& ids) {
  std::vector<DeviceSpec> out;
  for (const auto& container : ids) {
    for (const auto& id : container)
      if (!is_our_id(kind, o.max_devices, id))
        return Error(Errc::invalid, "device \"" + id + "\" is not one of " + resource_name(kind))
            .with("resource", resource_name(kind));
    out.push_back(
        {.container_path = kind.path, .host_path = host_path(o, kind), .permissions = permissions});
  }
  return out;
}

std::vector<std::string> preferred_allocation(const std::vector<std::string>& available,
                                              const std::vector<std::string>& must_include,
                                              int size) {
  std::vector<std::string> out;
  auto add = [&](const std::string& id) {
    if (static_cast<int>(out.size()) < size && std::find(out.begin(), out.end(), id) == out.end())
      out.push_back(id);
  };
  for (const auto& id : must_include)
    add(id);
  for (const auto& id : available)
    add(id);
  return out;
}

RegistrationStep next_step(const RegistrationView& v) {
  RegistrationStep s;
  // A server whose socket is gone can no longer be reached: the kubelet restarted (it deletes
  // the sockets) or someone cleaned the directory. Serve anew; the old registration is void.
  s.restart_server = !v.serving || !v.socket_present;
  const bool registered = v.registered && !s.restart_server;
  s.register_now = !registered && v.kubelet_present && v.retry_due;
  return s;
}

std::chrono::milliseconds register_backoff(int failures) {
  using std::chrono::seconds;
  static const seconds steps[] = {seconds(1), seconds(2), seconds(5), seconds(10)};
  if (failures < 1)
    return std::chrono::milliseconds(0);
  const auto i =
      std::min<std::size_t>(static_cast<std::size_t>(failures) - 1, std::size(steps) - 1);
  return steps[i];
}

}  // namespace kv::handler::deviceplugin
