#include "api/v1/defaults.hpp"

namespace kv::api::v1 {
namespace {

template <class T>
T& ensure(std::optional<T>& o) {
  if (!o) {
    o.emplace();
  }
  return *o;
}

template <class T, class V>
void default_to(std::optional<T>& o, V v) {
  if (!o) {
    o = T(std::move(v));
  }
}

void default_resources(DomainSpec& domain) {
  auto& res = ensure(domain.resources);
  // Like a pod: a limit without a request requests the limit.
  for (const char* name : {"memory", "cpu"}) {
    auto limit = res.limits.find(name);
    if (limit != res.limits.end() && !res.requests.contains(name)) {
      res.requests.emplace(name, limit->second);
    }
  }
  auto request = res.requests.find("memory");
  const bool has_guest = domain.memory && domain.memory->guest;
  if (!has_guest && request != res.requests.end()) {
    ensure(domain.memory).guest = request->second;
  } else if (has_guest && request == res.requests.end()) {
    res.requests.emplace("memory", *domain.memory->guest);
  }
  if (res.requests.empty() && res.limits.empty() && !res.overcommit_guest_overhead) {
    domain.resources.reset();  // nothing to say: keep the spec as the user wrote it
  }
}

void default_disks(Devices& devices) {
  for (auto& disk : devices.disks) {
    if (!disk.disk && !disk.cdrom) {
      disk.disk.emplace();
    }
    if (disk.disk) {
      default_to(disk.disk->bus, DiskBus::virtio);
    }
    if (disk.cdrom) {
      default_to(disk.cdrom->bus, DiskBus::sata);
      default_to(disk.cdrom->read_only, true);
      default_to(disk.cdrom->tray, "closed");
    }
  }
}

void default_network(VirtualMachineInstanceSpec& spec) {
  auto& devices = spec.domain.devices;
  if (devices.interfaces.empty() && spec.networks.empty() &&
      devices.autoattach_pod_interface.value_or(true)) {
    Network net;
    net.name = kDefaultNetworkName;
    net.pod.emplace();
    spec.networks.push_back(std::move(net));
    Interface iface;
    iface.name = kDefaultNetworkName;
    iface.masquerade.emplace();
    devices.interfaces.push_back(std::move(iface));
  }
  for (auto& iface : devices.interfaces) {
    default_to(iface.model, "virtio");
    if (!iface.masquerade && !iface.bridge && !iface.passt) {
      iface.masquerade.emplace();
    }
    for (auto& port : iface.ports) {
      default_to(port.protocol, Protocol::tcp);
    }
  }
}

}  // namespace

void apply_defaults(VirtualMachineInstanceSpec& spec) {
  auto& domain = spec.domain;
  default_to(ensure(domain.machine).type, kDefaultMachineType);
  auto& cpu = ensure(domain.cpu);
  default_to(cpu.cores, 1u);
  default_to(cpu.sockets, 1u);
  default_to(cpu.threads, 1u);
  default_resources(domain);
  if (domain.firmware && domain.firmware->bootloader && domain.firmware->bootloader->efi) {
    default_to(domain.firmware->bootloader->efi->secure_boot, true);
  }
  default_disks(domain.devices);
  default_network(spec);
  default_to(domain.devices.autoattach_serial_console, true);
  default_to(domain.devices.autoattach_graphics_device, true);
  default_to(spec.termination_grace_period_seconds, kDefaultTerminationGracePeriodSeconds);
}

VirtualMachineInstance with_defaults(VirtualMachineInstance vmi) {
  apply_defaults(vmi.spec);
  return vmi;
}

VirtualMachine with_defaults(VirtualMachine vm) {
  apply_defaults(vm.spec.template_.spec);
  if (!vm.spec.running && !vm.spec.run_strategy) {
    vm.spec.run_strategy = RunStrategy::halted;
  }
  return vm;
}

}  // namespace kv::api::v1
