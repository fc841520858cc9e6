#include "api/instancetype/apply.hpp"

#include <algorithm>

#include "api/instancetype/validation.hpp"

namespace kv::api::instancetype {
namespace {

using v1::FieldErrors;
using v1::Quantity;
using v1::VirtualMachineInstanceSpec;

std::string at(const std::string& path, std::string_view rest) {
  return path.empty() ? std::string(rest) : path + "." + std::string(rest);
}

void conflict(FieldErrors& out, std::string path) {
  std::string message = "VM field(s) " + path + " conflicts with selected instance type";
  out.push_back({std::move(path), std::move(message)});
}

bool has(const std::map<std::string, Quantity>& m, const char* key) {
  return m.contains(key);
}

template <class T>
T& ensure(std::optional<T>& o) {
  if (!o) {
    o.emplace();
  }
  return *o;
}

template <class T, class V>
void fill(std::optional<T>& target, const std::optional<V>& preferred) {
  if (!target && preferred) {
    target = *preferred;
  }
}

PreferredCpuTopology topology_of(const VirtualMachinePreferenceSpec* p) {
  if (p && p->cpu && p->cpu->preferred_cpu_topology) {
    return *p->cpu->preferred_cpu_topology;
  }
  return PreferredCpuTopology::sockets;
}

// --- instancetype: conflicts first (nothing applied when there is one), then the values

void cpu_conflicts(const VirtualMachineInstancetypeSpec& it, const VirtualMachineInstanceSpec& s,
                   const std::string& path, FieldErrors& out) {
  const std::string d = at(path, "domain");
  if (s.domain.resources) {
    if (has(s.domain.resources->requests, "cpu")) {
      conflict(out, d + ".resources.requests.cpu");
    }
    if (has(s.domain.resources->limits, "cpu")) {
      conflict(out, d + ".resources.limits.cpu");
    }
  }
  if (!s.domain.cpu) {
    return;
  }
  const auto& cpu = *s.domain.cpu;
  for (const auto& [name, value] :
       {std::pair{"sockets", &cpu.sockets}, std::pair{"cores", &cpu.cores},
        std::pair{"threads", &cpu.threads}}) {
    if (value->value_or(0) != 0) {
      conflict(out, d + ".cpu." + name);
    }
  }
  if (cpu.model && !cpu.model->empty() && it.cpu.model) {
    conflict(out, d + ".cpu.model");
  }
}

void memory_conflicts(const VirtualMachineInstanceSpec& s, const std::string& path,
                      FieldErrors& out) {
  // Upstream reports the first memory conflict only.
  const std::string d = at(path, "domain");
  if (s.domain.memory && s.domain.memory->guest) {
    conflict(out, d + ".memory.guest");
  } else if (s.domain.resources && has(s.domain.resources->requests, "memory")) {
    conflict(out, d + ".resources.requests.memory");
  } else if (s.domain.resources && has(s.domain.resources->limits, "memory")) {
    conflict(out, d + ".resources.limits.memory");
  }
}

void apply_cpu(const VirtualMachineInstancetypeSpec& it, const VirtualMachinePreferenceSpec* pref,
               VirtualMachineInstanceSpec& s) {
  auto& cpu = ensure(s.domain.cpu);
  if (it.cpu.model) {
    cpu.model = it.cpu.model;
  }
  const uint32_t vcpus = it.cpu.guest;
  uint32_t sockets = 1, cores = 1, threads = 1;
  if (vcpus > 1) {
    switch (topology_of(pref)) {
      case PreferredCpuTopology::prefer_cores:
      case PreferredCpuTopology::cores:
        cores = vcpus;
        break;
      case PreferredCpuTopology::prefer_threads:
      case PreferredCpuTopology::threads:
        threads = vcpus;
        break;
      case PreferredCpuTopology::prefer_spread:
      case PreferredCpuTopology::spread: {
        uint32_t ratio = pref->prefer_spread_socket_to_core_ratio.value_or(2);
        SpreadAcross across = SpreadAcross::sockets_cores;
        if (pref->cpu && pref->cpu->spread_options) {
          across = pref->cpu->spread_options->across.value_or(across);
          ratio = pref->cpu->spread_options->ratio.value_or(ratio);
        }
        ratio = std::max<uint32_t>(ratio, 1);
        if (across == SpreadAcross::sockets_cores) {
          cores = ratio;
          sockets = vcpus / ratio;
        } else if (across == SpreadAcross::cores_threads) {
          threads = ratio;
          cores = vcpus / ratio;
        } else {
          threads = 2;
          cores = ratio;
          sockets = vcpus / 2 / ratio;
        }
        break;
      }
      case PreferredCpuTopology::prefer_sockets:
      case PreferredCpuTopology::prefer_any:
      case PreferredCpuTopology::sockets:
      case PreferredCpuTopology::any:
        sockets = vcpus;
        break;
    }
  }
  cpu.sockets = sockets;
  cpu.cores = cores;
  cpu.threads = threads;
}

void apply_memory(const VirtualMachineInstancetypeSpec& it, VirtualMachineInstanceSpec& s) {
  ensure(s.domain.memory).guest = it.memory.guest;
  const int32_t overcommit = it.memory.overcommit_percent.value_or(0);
  if (overcommit > 0) {
    const int64_t guest = it.memory.guest.value();
    const int64_t request =
        guest / 100 * (100 - overcommit) + guest % 100 * (100 - overcommit) / 100;
    ensure(s.domain.resources).requests["memory"] =
        Quantity::from_int(request, it.memory.guest.format());
  }
}

// --- preference: fills only what is unset

void apply_devices(const DevicePreferences& p, VirtualMachineInstanceSpec& s) {
  auto& dev = s.domain.devices;
  fill(dev.autoattach_graphics_device, p.preferred_autoattach_graphics_device);
  fill(dev.autoattach_memory_balloon, p.preferred_autoattach_mem_balloon);
  fill(dev.autoattach_pod_interface, p.preferred_autoattach_pod_interface);
  fill(dev.autoattach_serial_console, p.preferred_autoattach_serial_console);
  fill(dev.block_multi_queue, p.preferred_block_multi_queue);
  fill(dev.network_interface_multi_queue, p.preferred_network_interface_multi_queue);
  fill(dev.rng, p.preferred_rng);
  fill(dev.tpm, p.preferred_tpm);
  for (auto& disk : dev.disks) {
    if (!disk.disk && !disk.cdrom) {
      disk.disk.emplace();
    }
    if (disk.disk) {
      fill(disk.disk->bus, p.preferred_disk_bus);
      fill(disk.cache, p.preferred_disk_cache);
      fill(disk.io, p.preferred_disk_io);
    } else if (disk.cdrom) {
      fill(disk.cdrom->bus, p.preferred_cdrom_bus);
    }
  }
  for (auto& input : dev.inputs) {
    fill(input.bus, p.preferred_input_bus);
    if (input.type.empty() && p.preferred_input_type) {
      input.type = *p.preferred_input_type;
    }
  }
  for (auto& iface : dev.interfaces) {
    fill(iface.model, p.preferred_interface_model);
    const bool unbound = !iface.masquerade && !iface.bridge && !iface.passt;
    const bool on_pod = std::any_of(s.networks.begin(), s.networks.end(), [&](const auto& n) {
      return n.name == iface.name && n.pod.has_value();
    });
    if (p.preferred_interface_masquerade && unbound && on_pod) {
      iface.masquerade = *p.preferred_interface_masquerade;
    }
  }
}

void apply_clock(const ClockPreferences& p, VirtualMachineInstanceSpec& s) {
  auto& clock = ensure(s.domain.clock);
  // The offset is taken whole or not at all, as upstream does.
  if (p.preferred_clock_offset && !clock.utc && !clock.timezone) {
    clock.utc = p.preferred_clock_offset->utc;
    clock.timezone = p.preferred_clock_offset->timezone;
  }
  fill(clock.timer, p.preferred_timer);
}

void apply_cpu_features(const CpuPreferences& p, VirtualMachineInstanceSpec& s) {
  if (p.preferred_cpu_features.empty()) {
    return;
  }
  auto& features = ensure(s.domain.cpu).features;
  for (const auto& preferred : p.preferred_cpu_features) {
    const bool named = std::any_of(features.begin(), features.end(),
                                   [&](const auto& f) { return f.name == preferred.name; });
    if (!named) {
      features.push_back(preferred);
    }
  }
}

void apply_hyperv(const v1::FeatureHyperv& p, v1::FeatureHyperv& h) {
  fill(h.relaxed, p.relaxed);
  fill(h.vapic, p.vapic);
  fill(h.spinlocks, p.spinlocks);
  fill(h.vpindex, p.vpindex);
  fill(h.runtime, p.runtime);
  fill(h.synic, p.synic);
  fill(h.synictimer, p.synictimer);
  fill(h.reset, p.reset);
  fill(h.vendorid, p.vendorid);
  fill(h.frequencies, p.frequencies);
  fill(h.reenlightenment, p.reenlightenment);
  fill(h.tlbflush, p.tlbflush);
  fill(h.ipi, p.ipi);
  fill(h.evmcs, p.evmcs);
}

void apply_features(const FeaturePreferences& p, VirtualMachineInstanceSpec& s) {
  auto& f = ensure(s.domain.features);
  // Upstream overwrites acpi (its VMI field is no pointer, so it cannot tell unset); ours can,
  // so acpi is filled like the others.
  fill(f.acpi, p.preferred_acpi);
  fill(f.apic, p.preferred_apic);
  if (p.preferred_hyperv) {
    apply_hyperv(*p.preferred_hyperv, ensure(f.hyperv));
  }
  fill(f.kvm, p.preferred_kvm);
  fill(f.pvspinlock, p.preferred_pvspinlock);
  fill(f.smm, p.preferred_smm);
}

void apply_firmware(const FirmwarePreferences& p, VirtualMachineInstanceSpec& s) {
  auto& boot = ensure(ensure(s.domain.firmware).bootloader);
  if (p.preferred_use_bios.value_or(false) && !boot.bios && !boot.efi) {
    boot.bios.emplace();
  }
  if (p.preferred_use_bios_serial && boot.bios && !boot.bios->use_serial) {
    boot.bios->use_serial = p.preferred_use_bios_serial;
  }
  if (!boot.efi && !boot.bios && p.preferred_efi) {
    boot.efi = p.preferred_efi;
    return;
  }
  if (p.preferred_use_efi.value_or(false) && !boot.efi && !boot.bios) {
    boot.efi.emplace();
  }
  if (p.preferred_use_secure_boot && boot.efi && !boot.efi->secure_boot) {
    boot.efi->secure_boot = p.preferred_use_secure_boot;
  }
}

void apply_preference(const VirtualMachinePreferenceSpec& p, VirtualMachineInstanceSpec& s,
                      v1::StringMap& annotations) {
  if (p.devices) {
    apply_devices(*p.devices, s);
  }
  if (p.firmware) {
    apply_firmware(*p.firmware, s);
    // An empty firmware/bootloader left behind says nothing; keep the spec as written.
    auto& fw = *s.domain.firmware;
    if (fw.bootloader && !fw.bootloader->bios && !fw.bootloader->efi) {
      fw.bootloader.reset();
    }
    if (fw == v1::Firmware{}) {
      s.domain.firmware.reset();
    }
  }
  if (p.clock) {
    apply_clock(*p.clock, s);
    if (*s.domain.clock == v1::Clock{}) {
      s.domain.clock.reset();
    }
  }
  if (p.cpu) {
    apply_cpu_features(*p.cpu, s);
  }
  if (p.features) {
    apply_features(*p.features, s);
    if (*s.domain.features == v1::Features{}) {
      s.domain.features.reset();
    }
  }
  if (p.machine && p.machine->preferred_machine_type &&
      !(s.domain.machine && s.domain.machine->type)) {
    ensure(s.domain.machine).type = p.machine->preferred_machine_type;
  }
  fill(s.subdomain, p.preferred_subdomain);
  fill(s.termination_grace_period_seconds, p.preferred_termination_grace_period_seconds);
  for (const auto& [k, v] : p.annotations) {
    annotations.emplace(k, v);
  }
}

}  // namespace

FieldErrors apply_to_vmi(const VirtualMachineInstancetypeSpec* it,
                         const VirtualMachinePreferenceSpec* pref, VirtualMachineInstanceSpec& s,
                         v1::StringMap& annotations, const std::string& path) {
  FieldErrors conflicts;
  if (it) {
    if (!it->node_selector.empty() && !s.node_selector.empty()) {
      conflict(conflicts, at(path, "nodeSelector"));
    }
    if (it->scheduler_name && s.scheduler_name && !s.scheduler_name->empty()) {
      conflict(conflicts, at(path, "schedulerName"));
    }
    cpu_conflicts(*it, s, path, conflicts);
    memory_conflicts(s, path, conflicts);
    if (it->io_threads_policy && s.domain.io_threads_policy) {
      conflict(conflicts, at(path, "domain.ioThreadsPolicy"));
    }
    for (const auto& [k, v] : it->annotations) {
      auto found = annotations.find(k);
      if (found != annotations.end() && found->second != v) {
        conflict(conflicts, "annotations." + k);
      }
    }
    if (!conflicts.empty()) {
      return conflicts;
    }
    if (!it->node_selector.empty()) {
      s.node_selector = it->node_selector;
    }
    if (it->scheduler_name) {
      s.scheduler_name = it->scheduler_name;
    }
    apply_cpu(*it, pref, s);
    apply_memory(*it, s);
    if (it->io_threads_policy) {
      s.domain.io_threads_policy = it->io_threads_policy;
    }
    for (const auto& [k, v] : it->annotations) {
      annotations.emplace(k, v);
    }
  }
  if (pref) {
    apply_preference(*pref, s, annotations);
  }
  return conflicts;
}

FieldErrors check_requirements(const VirtualMachineInstancetypeSpec* it,
                               const VirtualMachinePreferenceSpec& pref,
                               const VirtualMachineInstanceSpec& s) {
  FieldErrors out;
  if (!pref.requirements) {
    return out;
  }
  const auto& req = *pref.requirements;
  const std::string prefix = "failure checking preference requirements: ";
  if (req.cpu) {
    const uint32_t need = req.cpu->guest;
    if (it) {
      if (it->cpu.guest < need) {
        out.push_back({"spec.instancetype",
                       prefix + "insufficient CPU resources of " + std::to_string(it->cpu.guest) +
                           " vCPU provided by instance type, preference requires " +
                           std::to_string(need) + " vCPU"});
      }
    } else {
      const v1::Cpu cpu = s.domain.cpu.value_or(v1::Cpu{});
      const uint32_t sockets = cpu.sockets.value_or(1), cores = cpu.cores.value_or(1),
                     threads = cpu.threads.value_or(1);
      const std::string base = "spec.template.spec.domain.cpu";
      auto insufficient = [&](uint32_t have, const std::string& field, const std::string& as) {
        out.push_back({field, prefix + "insufficient CPU resources of " + std::to_string(have) +
                                  " vCPU provided by VirtualMachine, preference requires " +
                                  std::to_string(need) + " vCPU provided as " + as});
      };
      switch (topology_of(&pref)) {
        case PreferredCpuTopology::prefer_threads:
        case PreferredCpuTopology::threads:
          if (threads < need) {
            insufficient(threads, base + ".threads", "threads");
          }
          break;
        case PreferredCpuTopology::prefer_cores:
        case PreferredCpuTopology::cores:
          if (cores < need) {
            insufficient(cores, base + ".cores", "cores");
          }
          break;
        case PreferredCpuTopology::prefer_sockets:
        case PreferredCpuTopology::sockets:
          if (sockets < need) {
            insufficient(sockets, base + ".sockets", "sockets");
          }
          break;
        case PreferredCpuTopology::prefer_spread:
        case PreferredCpuTopology::spread:
        case PreferredCpuTopology::prefer_any:
        case PreferredCpuTopology::any:
          if (sockets * cores * threads < need) {
            insufficient(sockets * cores * threads,
                         base + ".cores, " + base + ".sockets, " + base + ".threads",
                         "cores, sockets and threads");
          }
          break;
      }
    }
  }
  if (req.memory) {
    const Quantity& need = req.memory->guest;
    Quantity have;
    std::string field = "spec.template.spec.domain.memory";
    std::string by = "VirtualMachine";
    if (it) {
      have = it->memory.guest;
      field = "spec.instancetype";
      by = "instance type";
    }
    if (s.domain.memory && s.domain.memory->guest) {
      have = *s.domain.memory->guest;
    }
    if (have.compare(need) < 0) {
      out.push_back({field, prefix + "insufficient Memory resources of " + have.to_string() +
                                " provided by " + by + ", preference requires " +
                                need.to_string()});
    }
  }
  return out;
}

void annotate(const v1::VirtualMachineSpec& vm, v1::StringMap& annotations) {
  if (vm.instancetype) {
    const bool ns = is_namespaced_instancetype_kind(vm.instancetype->kind.value_or(""));
    annotations[std::string(ns ? kInstancetypeAnnotation : kClusterInstancetypeAnnotation)] =
        vm.instancetype->name.value_or("");
  }
  if (vm.preference) {
    const bool ns = is_namespaced_preference_kind(vm.preference->kind.value_or(""));
    annotations[std::string(ns ? kPreferenceAnnotation : kClusterPreferenceAnnotation)] =
        vm.preference->name.value_or("");
  }
}

}  // namespace kv::api::instancetype
