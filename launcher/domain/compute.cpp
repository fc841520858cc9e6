// Compute: accelerator, machine, memory, vCPUs, firmware, features, clock and SMBIOS.

#include "launcher/domain/domain.hpp"

namespace kv::launcher::domain {
namespace v1 = api::v1;
using core::Errc;
using core::Error;
using core::Result;

namespace {

Result<std::string> accelerator(const PodEnvironment& env) {
  if (env.kvm_usable)
    return std::string("kvm");
  if (env.allow_emulation)
    return std::string("qemu");
  return Error(Errc::unavailable,
               "KVM is not available: /dev/kvm is missing or this process cannot use it. To run "
               "the VM with software emulation (TCG, much slower), start virt-launcher with "
               "--allow-emulation (KubeVirt: spec.configuration.developerConfiguration."
               "useEmulation: true)");
}

Result<std::string> machine_type(const v1::VirtualMachineInstance& vmi) {
  std::string t = "q35";
  if (vmi.spec.domain.machine && vmi.spec.domain.machine->type)
    t = *vmi.spec.domain.machine->type;
  auto starts = [&](std::string_view p) { return t.rfind(p, 0) == 0; };
  if (t == "q35" || t == "pc" || starts("pc-q35-") || starts("pc-i440fx-"))
    return t;
  return invalid("spec.domain.machine.type",
                 "\"" + t +
                     "\" is not supported; use q35 (default), pc, pc-q35-<version> or "
                     "pc-i440fx-<version>");
}

// Guest memory in KiB: memory.guest, else the memory request, else the limit.
Result<std::int64_t> memory_kib(const v1::DomainSpec& dom) {
  std::optional<v1::Quantity> mem;
  if (dom.memory && dom.memory->guest)
    mem = dom.memory->guest;
  else if (dom.resources && dom.resources->requests.count("memory"))
    mem = dom.resources->requests.at("memory");
  else if (dom.resources && dom.resources->limits.count("memory"))
    mem = dom.resources->limits.at("memory");
  if (!mem)
    return invalid("spec.domain.memory.guest",
                   "missing; set it or spec.domain.resources.requests.memory");
  std::int64_t bytes = mem->value();
  if (bytes < 16 * 1024 * 1024)
    return invalid("spec.domain.memory.guest",
                   mem->to_string() + " is too small; at least 16Mi is needed");
  return bytes / 1024 + (bytes % 1024 != 0);  // rounded up; bytes + 1023 overflows near 2^63
}

// cpu.features, policy require by default. libvirt wants a model with features, so under TCG
// without a model the features go on QEMU's default model, qemu64, named.
core::Status cpu_features(const v1::DomainSpec& dom, Cpu& c) {
  if (!dom.cpu || dom.cpu->features.empty())
    return {};
  for (const auto& f : dom.cpu->features)
    c.features.push_back({f.policy.value_or("require"), f.name});
  if (c.mode.empty()) {
    c.mode = "custom";
    c.model = "qemu64";
  }
  return {};
}

// Topology and model. Without a model: host-model on KVM, QEMU's default under TCG.
Result<Cpu> cpu(const v1::DomainSpec& dom, const std::string& type) {
  Cpu c;
  std::optional<std::string> model;
  if (dom.cpu) {
    c.sockets = dom.cpu->sockets.value_or(1);
    c.cores = dom.cpu->cores.value_or(1);
    c.threads = dom.cpu->threads.value_or(1);
    model = dom.cpu->model;
  }
  if (c.sockets == 0 || c.cores == 0 || c.threads == 0)
    return invalid("spec.domain.cpu", "sockets, cores and threads must be at least 1");
  std::uint64_t vcpus = std::uint64_t{c.sockets} * c.cores * c.threads;
  if (vcpus > 255)
    return invalid("spec.domain.cpu", std::to_string(vcpus) + " vCPUs; at most 255");
  bool host = model && (*model == "host-passthrough" || *model == "host-model");
  if (type == "qemu" && host)
    return unsupported("spec.domain.cpu.model",
                       "\"" + *model +
                           "\" needs KVM; under emulation leave it empty or name "
                           "a QEMU model such as qemu64 or max");
  if (host) {
    c.mode = *model;
  } else if (model && !model->empty()) {
    c.mode = "custom";
    c.model = *model;
  } else if (type == "kvm") {
    c.mode = "host-model";
  }
  if (auto st = cpu_features(dom, c); !st.ok())
    return st.error();
  return c;
}

// BIOS, EFI (OVMF from the image) or direct kernel boot; SMBIOS identity.
core::Status firmware(const v1::DomainSpec& dom, const PodEnvironment& env, Compute& c) {
  if (!dom.firmware)
    return {};
  const v1::Firmware& fw = *dom.firmware;
  c.uuid = fw.uuid;
  c.smbios_serial = fw.serial;
  c.bios_serial =
      fw.bootloader && fw.bootloader->bios && fw.bootloader->bios->use_serial.value_or(false);
  if (fw.bootloader && fw.bootloader->efi) {
    // The NVRAM copy lives in the pod's ephemeral dir: it starts from the template on every boot.
    if (fw.bootloader->efi->persistent.value_or(false))
      return unsupported("spec.domain.firmware.bootloader.efi.persistent",
                         "true is not supported yet: persistent EFI variables are kept in a "
                         "backend-storage PersistentVolumeClaim, which this installation does not "
                         "create; allowed: false");
    // Secure Boot: the SMM-enforcing OVMF build with Microsoft's keys enrolled in the vars
    // template (Debian's .secboot code and .ms vars), so Microsoft-signed shims boot.
    bool secure_boot = fw.bootloader->efi->secure_boot.value_or(true);
    const std::string& code = secure_boot ? env.ovmf_secboot_code : env.ovmf_code;
    const std::string& vars = secure_boot ? env.ovmf_secboot_vars : env.ovmf_vars;
    if (code.empty() || vars.empty())
      return unsupported("spec.domain.firmware.bootloader.efi",
                         std::string("EFI") + (secure_boot ? " with secure boot" : "") +
                             " needs OVMF, which is not installed in the launcher image "
                             "(Debian package ovmf)");
    c.efi = Efi{code, secure_boot, vars, env.ephemeral_dir + "/nvram.fd"};
  }
  if (fw.kernel_boot) {
    const v1::KernelBoot& kb = *fw.kernel_boot;
    if (!kb.container)
      return invalid("spec.domain.firmware.kernelBoot.container",
                     "missing; direct kernel boot takes the kernel from a container image");
    if (!kb.container->kernel_path)
      return invalid("spec.domain.firmware.kernelBoot.container.kernelPath", "missing");
    DirectKernel k;
    k.kernel = env.kernel_boot_dir + *kb.container->kernel_path;
    if (kb.container->initrd_path)
      k.initrd = env.kernel_boot_dir + *kb.container->initrd_path;
    k.cmdline = kb.kernel_args;
    c.kernel = std::move(k);
  }
  return {};
}

bool is_on(const std::optional<v1::FeatureState>& f) {
  return f && f->enabled.value_or(true);
}

// features.hyperv -> <hyperv mode='custom'> children, in libvirt's order.
std::vector<HypervFeature> hyperv_features(const v1::FeatureHyperv& h) {
  std::vector<HypervFeature> out;
  auto state = [&](const char* name, const std::optional<v1::FeatureState>& f) {
    if (f)
      out.push_back({name, f->enabled.value_or(true), "", {}});
  };
  state("relaxed", h.relaxed);
  state("vapic", h.vapic);
  if (h.spinlocks) {
    bool on = h.spinlocks->enabled.value_or(true);
    std::string attrs;
    if (on)
      attrs = " retries='" + std::to_string(h.spinlocks->retries.value_or(4096)) + "'";
    out.push_back({"spinlocks", on, attrs, {}});
  }
  state("vpindex", h.vpindex);
  state("runtime", h.runtime);
  state("synic", h.synic);
  if (h.synictimer) {
    HypervFeature f{"stimer", h.synictimer->enabled.value_or(true), "", {}};
    if (h.synictimer->direct)
      f.children.emplace_back("direct", h.synictimer->direct->enabled.value_or(true));
    out.push_back(std::move(f));
  }
  state("reset", h.reset);
  if (h.vendorid) {
    bool on = h.vendorid->enabled.value_or(true);
    std::string attrs;
    if (on && h.vendorid->vendor_id)
      attrs = " value='" + xml_escape(*h.vendorid->vendor_id) + "'";
    out.push_back({"vendor_id", on, attrs, {}});
  }
  state("frequencies", h.frequencies);
  state("reenlightenment", h.reenlightenment);
  if (h.tlbflush) {
    HypervFeature f{"tlbflush", h.tlbflush->enabled.value_or(true), "", {}};
    if (h.tlbflush->direct)
      f.children.emplace_back("direct", h.tlbflush->direct->enabled.value_or(true));
    if (h.tlbflush->extended)
      f.children.emplace_back("extended", h.tlbflush->extended->enabled.value_or(true));
    out.push_back(std::move(f));
  }
  state("ipi", h.ipi);
  state("evmcs", h.evmcs);
  return out;
}

// domain.features as upstream renders them. Under TCG, QEMU cannot set the Hyper-V VP index
// (nor synic, synictimer, tlbflush and ipi, which need it) and has no paravirtual spinlocks:
// those are refused by name rather than left to fail at start.
Result<Features> features(const v1::DomainSpec& dom, const std::string& type) {
  Features out;
  if (!dom.features)
    return out;
  const v1::Features& f = *dom.features;
  const std::string path = "spec.domain.features";
  out.acpi = !f.acpi || f.acpi->enabled.value_or(true);
  if (f.apic) {
    out.apic = f.apic->enabled.value_or(true);
    if (out.apic && f.apic->end_of_interrupt)
      out.apic_eoi = *f.apic->end_of_interrupt;
  }
  if (f.smm)
    out.smm = f.smm->enabled.value_or(true);
  if (f.kvm)
    out.kvm_hidden = f.kvm->hidden.value_or(false);
  if (f.pvspinlock) {
    out.pvspinlock = f.pvspinlock->enabled.value_or(true);
    if (*out.pvspinlock && type == "qemu")
      return unsupported(path + ".pvspinlock",
                         "paravirtual spinlocks need KVM, and this node runs the VM under "
                         "emulation (TCG); remove it or set enabled: false");
  }
  if (f.hyperv) {
    const v1::FeatureHyperv& h = *f.hyperv;
    if (type == "qemu") {
      // The features that need vpindex first: defaulting added vpindex for them, so the one
      // the user wrote is the one to name.
      const std::pair<const char*, bool> kvm_only[] = {
          {"synictimer", h.synictimer && h.synictimer->enabled.value_or(true)},
          {"synic", is_on(h.synic)},
          {"tlbflush", h.tlbflush && h.tlbflush->enabled.value_or(true)},
          {"ipi", is_on(h.ipi)},
          {"vpindex", is_on(h.vpindex)}};
      for (const auto& [name, on] : kvm_only)
        if (on)
          return unsupported(
              path + ".hyperv." + name,
              std::string("needs KVM: under emulation (TCG) QEMU cannot set the "
                          "Hyper-V VP index") +
                  (std::string(name) == "vpindex" ? ""
                                                  : std::string(", which ") + name + " requires") +
                  "; remove it or set enabled: false");
    }
    out.hyperv_mode = "custom";
    out.hyperv = hyperv_features(h);
  } else if (f.hyperv_passthrough && f.hyperv_passthrough->enabled.value_or(false)) {
    out.hyperv_mode = "passthrough";
  }
  return out;
}

// domain.clock: utc (reset on boot, or kept with offsetSeconds) or a time zone; timers in
// upstream's order.
Clock clock(const v1::DomainSpec& dom) {
  Clock out;
  if (!dom.clock)
    return out;
  const v1::Clock& c = *dom.clock;
  if (c.timezone) {
    out.offset = "timezone";
    out.timezone = c.timezone;
  } else if (c.utc) {
    out.adjustment = c.utc->offset_seconds ? std::to_string(*c.utc->offset_seconds) : "reset";
  }
  if (!c.timer)
    return out;
  const v1::Timer& t = *c.timer;
  if (t.rtc)
    out.timers.push_back({"rtc", t.rtc->present, t.rtc->tick_policy, t.rtc->track});
  if (t.pit)
    out.timers.push_back({"pit", t.pit->present, t.pit->tick_policy, {}});
  if (t.kvm)
    out.timers.push_back({"kvmclock", t.kvm->present, {}, {}});
  if (t.hpet)
    out.timers.push_back({"hpet", t.hpet->present, t.hpet->tick_policy, {}});
  if (t.hyperv)
    out.timers.push_back({"hypervclock", t.hyperv->present, {}, {}});
  return out;
}

// domain.chassis -> SMBIOS type 3 entries; empty values are left out.
std::vector<std::pair<std::string, std::string>> chassis(const v1::DomainSpec& dom) {
  std::vector<std::pair<std::string, std::string>> out;
  if (!dom.chassis)
    return out;
  const v1::Chassis& c = *dom.chassis;
  for (const auto& [name, value] :
       {std::pair{"manufacturer", &c.manufacturer}, std::pair{"version", &c.version},
        std::pair{"serial", &c.serial}, std::pair{"asset", &c.asset}, std::pair{"sku", &c.sku}})
    if (*value && !(*value)->empty())
      out.emplace_back(name, **value);
  return out;
}

}  // namespace

Result<Compute> plan_compute(const v1::VirtualMachineInstance& vmi, const PodEnvironment& env) {
  const v1::DomainSpec& dom = vmi.spec.domain;
  Compute c;
  auto type = accelerator(env);
  if (!type.ok())
    return type.error();
  c.type = *type;
  auto machine = machine_type(vmi);
  if (!machine.ok())
    return machine.error();
  c.machine = *machine;
  auto mem = memory_kib(dom);
  if (!mem.ok())
    return mem.error();
  c.memory_kib = *mem;
  auto topology = cpu(dom, c.type);
  if (!topology.ok())
    return topology.error();
  c.cpu = *topology;
  c.vcpus = std::uint64_t{c.cpu.sockets} * c.cpu.cores * c.cpu.threads;
  if (auto st = firmware(dom, env, c); !st.ok())
    return st.error();
  auto feats = features(dom, c.type);
  if (!feats.ok())
    return feats.error();
  c.features = std::move(*feats);
  c.clock = clock(dom);
  c.chassis = chassis(dom);
  c.io_threads = plan_io_threads(vmi).count;
  return c;
}

namespace {

void write_os(std::ostream& x, const Compute& c) {
  x << "  <os>\n";
  x << "    <type arch='x86_64' machine='" << xml_escape(c.machine) << "'>hvm</type>\n";
  if (c.efi) {
    x << "    <loader readonly='yes' secure='" << (c.efi->secure_boot ? "yes" : "no")
      << "' type='pflash'>" << xml_escape(c.efi->loader) << "</loader>\n";
    x << "    <nvram template='" << xml_escape(c.efi->nvram_template) << "'>"
      << xml_escape(c.efi->nvram) << "</nvram>\n";
  }
  if (c.kernel) {
    x << "    <kernel>" << xml_escape(c.kernel->kernel) << "</kernel>\n";
    if (c.kernel->initrd)
      x << "    <initrd>" << xml_escape(*c.kernel->initrd) << "</initrd>\n";
    if (c.kernel->cmdline)
      x << "    <cmdline>" << xml_escape(*c.kernel->cmdline) << "</cmdline>\n";
  }
  if (c.bios_serial)
    x << "    <bios useserial='yes'/>\n";
  if (c.smbios_serial || !c.chassis.empty())
    x << "    <smbios mode='sysinfo'/>\n";
  x << "  </os>\n";
}

void write_cpu(std::ostream& x, const Cpu& cpu) {
  if (cpu.mode == "custom")
    x << "  <cpu mode='custom' match='exact'>\n    <model fallback='forbid'>"
      << xml_escape(cpu.model) << "</model>\n";
  else if (!cpu.mode.empty())
    x << "  <cpu mode='" << cpu.mode << "'>\n";
  else
    x << "  <cpu>\n";
  x << "    <topology sockets='" << cpu.sockets << "' dies='1' cores='" << cpu.cores
    << "' threads='" << cpu.threads << "'/>\n";
  for (const auto& f : cpu.features)
    x << "    <feature policy='" << xml_escape(f.policy) << "' name='" << xml_escape(f.name)
      << "'/>\n";
  x << "  </cpu>\n";
}

const char* on_off(bool on) {
  return on ? "on" : "off";
}

// The children of <features> that domain.features decides.
void write_features(std::ostream& x, const Features& f) {
  if (f.acpi)
    x << "    <acpi/>\n";
  if (f.apic && f.apic_eoi)
    x << "    <apic eoi='" << on_off(*f.apic_eoi) << "'/>\n";
  else if (f.apic)
    x << "    <apic/>\n";
  if (!f.hyperv_mode.empty() && f.hyperv.empty()) {
    x << "    <hyperv mode='" << f.hyperv_mode << "'/>\n";
  } else if (!f.hyperv_mode.empty()) {
    x << "    <hyperv mode='" << f.hyperv_mode << "'>\n";
    for (const auto& h : f.hyperv) {
      x << "      <" << h.name << " state='" << on_off(h.on) << "'" << h.attrs;
      if (h.children.empty()) {
        x << "/>\n";
        continue;
      }
      x << ">\n";
      for (const auto& [name, on] : h.children)
        x << "        <" << name << " state='" << on_off(on) << "'/>\n";
      x << "      </" << h.name << ">\n";
    }
    x << "    </hyperv>\n";
  }
  if (f.kvm_hidden)
    x << "    <kvm>\n      <hidden state='" << on_off(*f.kvm_hidden) << "'/>\n    </kvm>\n";
  if (f.pvspinlock)
    x << "    <pvspinlock state='" << on_off(*f.pvspinlock) << "'/>\n";
}

void write_clock(std::ostream& x, const Clock& c) {
  x << "  <clock offset='" << c.offset << "'";
  if (c.adjustment)
    x << " adjustment='" << xml_escape(*c.adjustment) << "'";
  if (c.timezone)
    x << " timezone='" << xml_escape(*c.timezone) << "'";
  if (c.timers.empty()) {
    x << "/>\n";
    return;
  }
  x << ">\n";
  for (const auto& t : c.timers) {
    x << "    <timer name='" << t.name << "'";
    if (t.tick_policy)
      x << " tickpolicy='" << xml_escape(*t.tick_policy) << "'";
    if (t.track)
      x << " track='" << xml_escape(*t.track) << "'";
    if (t.present)
      x << " present='" << (*t.present ? "yes" : "no") << "'";
    x << "/>\n";
  }
  x << "  </clock>\n";
}

// <sysinfo type='smbios'>: the system serial (firmware.serial) and the chassis.
void write_sysinfo(std::ostream& x, const Compute& c) {
  if (!c.smbios_serial && c.chassis.empty())
    return;
  x << "  <sysinfo type='smbios'>\n";
  if (c.smbios_serial)
    x << "    <system>\n"
      << "      <entry name='serial'>" << xml_escape(*c.smbios_serial) << "</entry>\n"
      << "    </system>\n";
  if (!c.chassis.empty()) {
    x << "    <chassis>\n";
    for (const auto& [name, value] : c.chassis)
      x << "      <entry name='" << name << "'>" << xml_escape(value) << "</entry>\n";
    x << "    </chassis>\n";
  }
  x << "  </sysinfo>\n";
}

}  // namespace

void write_compute(std::ostream& x, const Compute& c) {
  x << "  <memory unit='KiB'>" << c.memory_kib << "</memory>\n";
  x << "  <vcpu placement='static'>" << c.vcpus << "</vcpu>\n";
  if (c.io_threads > 0)
    x << "  <iothreads>" << c.io_threads << "</iothreads>\n";
  write_sysinfo(x, c);
  write_os(x, c);
  x << "  <features>\n";
  write_features(x, c.features);
  if (c.features.smm || (c.efi && c.efi->secure_boot))
    x << "    <smm state='" << on_off(c.features.smm.value_or(true)) << "'/>\n";
  x << "  </features>\n";
  write_cpu(x, c.cpu);
  write_clock(x, c.clock);
  x << "  <on_poweroff>destroy</on_poweroff>\n";
  x << "  <on_reboot>restart</on_reboot>\n";
  x << "  <on_crash>destroy</on_crash>\n";
}

}  // namespace kv::launcher::domain
