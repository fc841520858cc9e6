#include "launcher/domain_builder.hpp"

#include <sstream>

#include "launcher/domain/domain.hpp"

namespace kv::launcher {
namespace v1 = api::v1;
using core::Result;

std::string xml_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::string domain_name(const v1::VirtualMachineInstance& vmi) {
  return vmi.metadata.namespace_.value_or("default") + "_" + vmi.metadata.name.value_or("vmi");
}

std::int64_t grace_period_seconds(const v1::VirtualMachineInstance& vmi) {
  return vmi.spec.termination_grace_period_seconds.value_or(30);
}

bool starts_paused(const v1::VirtualMachineInstance& vmi) {
  return vmi.spec.start_strategy == v1::StartStrategy::paused;
}

std::string serial_socket_path(const PodEnvironment& env) {
  return env.socket_dir + "/virt-serial0";
}
std::string serial_log_path(const PodEnvironment& env) {
  return env.ephemeral_dir + "/serial0.log";
}
std::string vnc_socket_path(const PodEnvironment& env) {
  return env.socket_dir + "/virt-vnc";
}

Result<std::string> build_domain_xml(const v1::VirtualMachineInstance& vmi,
                                     const PodEnvironment& env, const std::vector<DiskPlan>& disks,
                                     const std::optional<NetworkPlan>& network) {
  auto compute = domain::plan_compute(vmi, env);
  if (!compute.ok())
    return compute.error();
  auto storage = domain::plan_storage(vmi, disks, compute->kernel.has_value());
  if (!storage.ok())
    return storage.error();
  domain::Devices devices = domain::plan_devices(vmi, env, *storage);
  std::vector<std::string> qemu_args;
  if (network)
    qemu_args = domain::qemu_network_args(*network, env, compute->machine);

  std::ostringstream x;
  x << "<domain type='" << compute->type
    << "' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>\n";
  x << "  <name>" << xml_escape(domain_name(vmi)) << "</name>\n";
  if (compute->uuid)
    x << "  <uuid>" << xml_escape(*compute->uuid) << "</uuid>\n";
  x << "  <metadata>\n"
    << "    <kubevirt xmlns='http://kubevirt.io'>\n"
    << "      <uid>" << xml_escape(vmi.metadata.uid.value_or("")) << "</uid>\n"
    << "    </kubevirt>\n"
    << "  </metadata>\n";
  domain::write_compute(x, *compute);
  x << "  <devices>\n";
  domain::write_storage(x, *storage);
  domain::write_devices(x, devices);
  x << "  </devices>\n";
  domain::write_qemu_commandline(x, qemu_args);
  x << "</domain>\n";
  return x.str();
}

}  // namespace kv::launcher
