#include "api/v1/defaults.hpp"

#include <algorithm>
#include <cstdint>

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

// Upstream's SetDefaultGuestCPUTopology: with no topology at all, one socket per CPU of the
// limit, else of the request (rounded up), so `requests: {cpu: 2}` is a 2-vCPU guest.
void default_cpu(DomainSpec& domain) {
  auto& cpu = ensure(domain.cpu);
  if (!cpu.cores && !cpu.sockets && !cpu.threads && domain.resources) {
    const auto& res = *domain.resources;
    const Quantity* cpus = nullptr;
    if (auto limit = res.limits.find("cpu"); limit != res.limits.end()) {
      cpus = &limit->second;
    } else if (auto request = res.requests.find("cpu"); request != res.requests.end()) {
      cpus = &request->second;
    }
    if (cpus) {
      cpu.sockets = static_cast<uint32_t>(std::clamp<int64_t>(cpus->value(), 1, UINT32_MAX));
    }
  }
  default_to(cpu.cores, 1u);
  default_to(cpu.sockets, 1u);
  default_to(cpu.threads, 1u);
}

// Upstream's SetDefaultVolumeDisk: a volume no disk names gets a disk of its name (which then
// becomes `disk: {}` on the default bus, below).
// Upstream's setDefaultPullPoliciesOnContainerDisks: Always for `:latest` or an image with
// neither a tag nor a digest, IfNotPresent otherwise (what kubelet would pick for the image).
void default_pull_policies(std::vector<Volume>& volumes) {
  for (auto& volume : volumes) {
    if (!volume.container_disk || volume.container_disk->image_pull_policy) {
      continue;
    }
    const std::string& image = volume.container_disk->image;
    const bool latest = image.ends_with(":latest");
    const bool untagged = image.find_first_of(":@") == std::string::npos;
    volume.container_disk->image_pull_policy =
        latest || untagged ? PullPolicy::always : PullPolicy::if_not_present;
  }
}

void default_disks(Devices& devices) {
  for (auto& disk : devices.disks) {
    if (!disk.disk && !disk.cdrom) {
      disk.disk.emplace();
    }
    if (disk.disk) {
      default_to(disk.disk->bus, kDefaultDiskBus);
    }
    if (disk.cdrom) {
      default_to(disk.cdrom->bus, kDefaultDiskBus);
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

// Upstream's SetDefaults_FeatureState and friends: a feature that is there is on unless it says
// otherwise.
template <class F>
void enable(std::optional<F>& feature) {
  if (feature) {
    default_to(feature->enabled, true);
  }
}

// A Hyper-V feature that is on switches on the one it needs when that one is absent (upstream's
// SetHypervFeatureDependencies); one switched off stays off and validation refuses the pair.
void default_hyperv(FeatureHyperv& h) {
  auto is_on = [](const auto& f) { return f && f->enabled.value_or(true); };
  auto need = [](std::optional<FeatureState>& f) {
    if (!f) {
      f.emplace().enabled = true;
    }
  };
  if (is_on(h.evmcs)) {
    need(h.vapic);
  }
  if (is_on(h.ipi) || is_on(h.tlbflush)) {
    need(h.vpindex);
  }
  if (is_on(h.synictimer)) {
    need(h.synic);
  }
  if (is_on(h.synic)) {
    need(h.vpindex);
  }
  for (auto* f : {&h.relaxed, &h.vapic, &h.vpindex, &h.runtime, &h.synic, &h.reset, &h.frequencies,
                  &h.reenlightenment, &h.ipi, &h.evmcs}) {
    enable(*f);
  }
  enable(h.vendorid);
  if (h.spinlocks) {
    default_to(h.spinlocks->enabled, true);
    if (*h.spinlocks->enabled) {
      default_to(h.spinlocks->retries, 4096u);
    }
  }
  if (h.synictimer) {
    default_to(h.synictimer->enabled, true);
    enable(h.synictimer->direct);
  }
  enable(h.tlbflush);
}

void default_features(Features& f) {
  enable(f.acpi);
  enable(f.apic);
  enable(f.smm);
  enable(f.pvspinlock);
  if (f.hyperv) {
    default_hyperv(*f.hyperv);
  }
}

void default_clock(Clock& c) {
  if (!c.timer) {
    return;
  }
  auto& t = *c.timer;
  for (auto* present : {t.hpet ? &t.hpet->present : nullptr, t.kvm ? &t.kvm->present : nullptr,
                        t.pit ? &t.pit->present : nullptr, t.rtc ? &t.rtc->present : nullptr,
                        t.hyperv ? &t.hyperv->present : nullptr}) {
    if (present) {
      default_to(*present, true);
    }
  }
}

void default_inputs(Devices& devices) {
  for (auto& input : devices.inputs) {
    default_to(input.bus, "usb");
    if (input.type.empty()) {
      input.type = "tablet";
    }
  }
}

}  // namespace

void add_volume_disks(VirtualMachineInstanceSpec& spec) {
  auto& disks = spec.domain.devices.disks;
  for (const auto& volume : spec.volumes) {
    const bool named = std::any_of(disks.begin(), disks.end(),
                                   [&](const Disk& d) { return d.name == volume.name; });
    if (!named) {
      Disk disk;
      disk.name = volume.name;
      disks.push_back(std::move(disk));
    }
  }
}

void apply_defaults(VirtualMachineInstanceSpec& spec) {
  auto& domain = spec.domain;
  default_to(ensure(domain.machine).type, kDefaultMachineType);
  default_resources(domain);
  default_cpu(domain);
  default_pull_policies(spec.volumes);
  if (domain.firmware && domain.firmware->bootloader && domain.firmware->bootloader->efi) {
    default_to(domain.firmware->bootloader->efi->secure_boot, true);
  }
  if (domain.features) {
    default_features(*domain.features);
  }
  if (domain.clock) {
    default_clock(*domain.clock);
  }
  default_inputs(domain.devices);
  default_network(spec);
  add_volume_disks(spec);
  default_disks(domain.devices);
  default_to(domain.devices.autoattach_serial_console, true);
  default_to(domain.devices.autoattach_graphics_device, true);
  default_to(spec.termination_grace_period_seconds, kDefaultTerminationGracePeriodSeconds);
}

VirtualMachineInstance with_defaults(VirtualMachineInstance vmi) {
  apply_defaults(vmi.spec);
  return vmi;
}

VirtualMachine with_stored_defaults(VirtualMachine vm) {
  auto& domain = vm.spec.template_.spec.domain;
  default_to(ensure(domain.machine).type, kDefaultMachineType);
  if (!vm.spec.running && !vm.spec.run_strategy) {
    vm.spec.run_strategy = RunStrategy::halted;
  }
  return vm;
}

VirtualMachine with_defaults(VirtualMachine vm) {
  apply_defaults(vm.spec.template_.spec);
  if (!vm.spec.running && !vm.spec.run_strategy) {
    vm.spec.run_strategy = RunStrategy::halted;
  }
  return vm;
}

MigrationConfiguration with_defaults(MigrationConfiguration c) {
  default_to(c.node_drain_taint_key, "kubevirt.io/drain");
  default_to(c.parallel_outbound_migrations_per_node, 2u);
  default_to(c.parallel_migrations_per_cluster, 5u);
  default_to(c.allow_auto_converge, false);
  default_to(c.bandwidth_per_migration, Quantity::from_int(0, Quantity::Format::binary_si));
  default_to(c.completion_timeout_per_gib, 150);
  default_to(c.max_downtime_ms, 900u);
  default_to(c.progress_timeout, 150);
  default_to(c.utility_volumes_timeout, 150);
  default_to(c.unsafe_migration_override, false);
  default_to(c.allow_post_copy, false);
  default_to(c.allow_workload_disruption, *c.allow_post_copy);
  default_to(c.disable_tls, false);
  default_to(c.match_selinux_level_on_migration, false);
  return c;
}

}  // namespace kv::api::v1
