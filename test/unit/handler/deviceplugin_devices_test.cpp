// The device plugins' pure decisions: which devices, where they are looked for, what Allocate
// answers, and when a plugin (re-)registers.
#include "handler/deviceplugin/devices.hpp"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

using namespace kv::handler::deviceplugin;

namespace {

const DeviceKind& kind(const std::string& name) {
  for (const auto& k : permanent_devices())
    if (k.name == name)
      return k;
  FAIL("no device kind " << name);
  throw;
}

}  // namespace

TEST_CASE("the permanent devices are upstream's kvm, tun and vhost-net") {
  const auto& kinds = permanent_devices();
  REQUIRE(kinds.size() == 3);
  CHECK(resource_name(kind("kvm")) == "devices.kubevirt.io/kvm");
  CHECK(kind("kvm").path == "/dev/kvm");
  CHECK_FALSE(kind("kvm").pre_open);
  CHECK(resource_name(kind("tun")) == "devices.kubevirt.io/tun");
  CHECK(kind("tun").path == "/dev/net/tun");
  CHECK(kind("tun").pre_open);
  CHECK(resource_name(kind("vhost-net")) == "devices.kubevirt.io/vhost-net");
  CHECK(kind("vhost-net").path == "/dev/vhost-net");
  CHECK(kind("vhost-net").pre_open);
  CHECK(socket_name(kind("vhost-net")) == "kubevirt-vhost-net.sock");
}

TEST_CASE("device paths: the node's, a stand-in root's, and where the handler sees them") {
  Options o;
  CHECK(host_path(o, kind("kvm")) == "/dev/kvm");
  CHECK(visible_path(o, kind("kvm")) == "/dev/kvm");
  o.node_root = "/var/lib/kubevirt-node";
  CHECK(host_path(o, kind("tun")) == "/dev/net/tun");
  CHECK(visible_path(o, kind("tun")) == "/var/lib/kubevirt-node/dev/net/tun");
  o.device_root = "/var/tmp/stand-in/";
  CHECK(host_path(o, kind("kvm")) == "/var/tmp/stand-in/dev/kvm");
  CHECK(visible_path(o, kind("kvm")) == "/var/lib/kubevirt-node/var/tmp/stand-in/dev/kvm");
}

TEST_CASE("device list: max_devices devices, all healthy or all unhealthy with the node") {
  auto present = device_list(kind("kvm"), 3, true);
  CHECK(present ==
        std::vector<Device>{{"kvm0", "Healthy"}, {"kvm1", "Healthy"}, {"kvm2", "Healthy"}});
  auto absent = device_list(kind("vhost-net"), 1000, false);
  REQUIRE(absent.size() == 1000);
  CHECK(absent.back() == Device{"vhost-net999", "Unhealthy"});
}

TEST_CASE("Allocate: each container gets the one device node, host path under the device root") {
  Options o;
  o.device_root = "/tmp/dev-root";
  o.max_devices = 10;
  auto r = allocate(o, kind("kvm"), "rw", {{"kvm3"}, {"kvm0", "kvm9"}});
  REQUIRE(r.ok());
  DeviceSpec want{
      .container_path = "/dev/kvm", .host_path = "/tmp/dev-root/dev/kvm", .permissions = "rw"};
  CHECK(*r == std::vector<DeviceSpec>{want, want});

  auto tun = allocate(Options{}, kind("tun"), device_permissions(true), {{"tun0"}});
  REQUIRE(tun.ok());
  CHECK((*tun)[0] == DeviceSpec{"/dev/net/tun", "/dev/net/tun", "rwm"});

  SECTION("an ID that is not this plugin's is refused") {
    for (std::string bad : {"kvm10", "tun0", "kvm", "kvm01", "kvm-1", "kvmx"}) {
      auto e = allocate(o, kind("kvm"), "rw", {{bad}});
      REQUIRE_FALSE(e.ok());
      CHECK(e.error().message == "device \"" + bad + "\" is not one of devices.kubevirt.io/kvm");
    }
  }
}

TEST_CASE("cgroup permissions as upstream: rwm on cgroup v2, rw on v1") {
  CHECK(device_permissions(false) == "rw");
  CHECK(device_permissions(true) == "rwm");
}

TEST_CASE("preferred allocation: must-include first, then available, size in all") {
  CHECK(preferred_allocation({"a", "b", "c"}, {"c"}, 2) == std::vector<std::string>{"c", "a"});
  CHECK(preferred_allocation({"a"}, {}, 3) == std::vector<std::string>{"a"});
  CHECK(preferred_allocation({"a", "b"}, {}, 0).empty());
}

TEST_CASE("registration: what a plugin does next") {
  using V = RegistrationView;
  using S = RegistrationStep;
  struct Row {
    const char* what;
    V view;
    S want;
  };
  const Row rows[] = {
      {"not serving, no kubelet: serve, wait for the kubelet",
       V{.serving = false, .kubelet_present = false}, S{.restart_server = true}},
      {"not serving, kubelet there: serve and register",
       V{.serving = false, .kubelet_present = true}, S{true, true}},
      {"serving, unregistered, kubelet there: register",
       V{.serving = true, .socket_present = true, .kubelet_present = true}, S{false, true}},
      {"serving, unregistered, backoff not over: wait",
       V{.serving = true, .socket_present = true, .kubelet_present = true, .retry_due = false},
       S{false, false}},
      {"registered and socket there: nothing",
       V{.serving = true, .socket_present = true, .kubelet_present = true, .registered = true},
       S{false, false}},
      {"registered but the kubelet deleted our socket (it restarted): serve anew and register",
       V{.serving = true, .socket_present = false, .kubelet_present = true, .registered = true},
       S{true, true}},
      {"socket deleted, new kubelet not listening yet: serve anew, register later",
       V{.serving = true, .socket_present = false, .kubelet_present = false, .registered = true},
       S{true, false}},
  };
  for (const auto& row : rows) {
    INFO(row.what);
    CHECK(next_step(row.view) == row.want);
  }
}

TEST_CASE("register backoff: 1s, 2s, 5s, then 10s") {
  using std::chrono::seconds;
  CHECK(register_backoff(0) == std::chrono::milliseconds(0));
  CHECK(register_backoff(1) == seconds(1));
  CHECK(register_backoff(2) == seconds(2));
  CHECK(register_backoff(3) == seconds(5));
  CHECK(register_backoff(4) == seconds(10));
  CHECK(register_backoff(40) == seconds(10));
}

TEST_CASE("options: relative paths and device counts are refused by name") {
  Options o;
  CHECK(validate(o).ok());
  o.plugin_dir = "device-plugins";
  REQUIRE_FALSE(validate(o).ok());
  CHECK(validate(o).error().message.starts_with("--device-plugin-dir: \"device-plugins\""));
  o.plugin_dir = "/var/lib/kubelet/device-plugins";
  o.device_root = "stand-in";
  REQUIRE_FALSE(validate(o).ok());
  CHECK(validate(o).error().message.starts_with("--device-root: \"stand-in\" is not an absolute"));
  o.device_root = "/";
  o.node_root = "";
  REQUIRE_FALSE(validate(o).ok());
  CHECK(validate(o).error().message.starts_with("--node-root: "));
  o.node_root = "/";
  o.max_devices = 0;
  REQUIRE_FALSE(validate(o).ok());
  CHECK(validate(o).error().message == "--max-devices: 0 is not between 1 and 100000");
}

TEST_CASE(
    "offered: a device node that exists; kvm not while the node labeller says it is unusable") {
  auto dir = std::filesystem::temp_directory_path() / ("kv-dp-offered-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir / "dev/net");
  std::ofstream(dir / "dev/kvm").put('x');
  std::ofstream(dir / "dev/net/tun").put('x');
  Options o;
  o.device_root = dir.string();
  CHECK(device_offered(o, kind("kvm")));
  CHECK(device_offered(o, kind("tun")));
  CHECK_FALSE(device_offered(o, kind("vhost-net")));
  o.kvm_unusable_file = (dir / "kvm-unusable").string();
  CHECK(device_offered(o, kind("kvm")));  // no such file yet: usable
  std::ofstream(dir / "kvm-unusable") << "/dev/kvm (mode 600, owner 0:0) ...\n";
  CHECK_FALSE(device_offered(o, kind("kvm")));
  CHECK(device_offered(o, kind("tun")));  // only kvm is affected
  std::filesystem::remove_all(dir);
}
