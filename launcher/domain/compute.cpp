// Compute: accelerator, machine, memory, vCPUs and firmware.

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
  return (bytes + 1023) / 1024;
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
  if (c.smbios_serial)
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
    << "' threads='" << cpu.threads << "'/>\n  </cpu>\n";
}

}  // namespace

void write_compute(std::ostream& x, const Compute& c) {
  x << "  <memory unit='KiB'>" << c.memory_kib << "</memory>\n";
  x << "  <vcpu placement='static'>" << c.vcpus << "</vcpu>\n";
  if (c.smbios_serial)
    x << "  <sysinfo type='smbios'>\n"
      << "    <system>\n"
      << "      <entry name='serial'>" << xml_escape(*c.smbios_serial) << "</entry>\n"
      << "    </system>\n"
      << "  </sysinfo>\n";
  write_os(x, c);
  x << "  <features>\n    <acpi/>\n    <apic/>\n";
  if (c.efi && c.efi->secure_boot)
    x << "    <smm state='on'/>\n";
  x << "  </features>\n";
  write_cpu(x, c.cpu);
  x << "  <clock offset='utc'/>\n";
  x << "  <on_poweroff>destroy</on_poweroff>\n";
  x << "  <on_reboot>restart</on_reboot>\n";
  x << "  <on_crash>destroy</on_crash>\n";
}

}  // namespace kv::launcher::domain
