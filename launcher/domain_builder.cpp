#include "launcher/domain_builder.hpp"

#include <array>
#include <cstdio>
#include <map>
#include <sstream>

namespace kv::launcher {
namespace v1 = api::v1;
using core::Errc;
using core::Error;
using core::Result;

namespace {

std::string vol_path(size_t i) {
  return "spec.volumes[" + std::to_string(i) + "]";
}
std::string disk_path(size_t i) {
  return "spec.domain.devices.disks[" + std::to_string(i) + "]";
}

Error invalid(const std::string& field, const std::string& msg) {
  return Error(Errc::invalid, field + ": " + msg).with("field", field);
}
Error unsupported(const std::string& field, const std::string& msg) {
  return Error(Errc::unsupported, field + ": " + msg).with("field", field);
}

// Decodes standard base64 (padding optional, whitespace ignored).
Result<std::string> base64_decode(std::string_view in, const std::string& field) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z')
      return c - 'A';
    if (c >= 'a' && c <= 'z')
      return c - 'a' + 26;
    if (c >= '0' && c <= '9')
      return c - '0' + 52;
    if (c == '+' || c == '-')
      return 62;
    if (c == '/' || c == '_')
      return 63;
    return -1;
  };
  std::string out;
  unsigned acc = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=' || c == '\n' || c == '\r' || c == ' ' || c == '\t')
      continue;
    int v = val(c);
    if (v < 0)
      return invalid(field, "not valid base64 (unexpected character)");
    acc = (acc << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

std::string device_name(const std::string& prefix, int index) {
  std::string suffix;
  int n = index;
  do {
    suffix.insert(suffix.begin(), static_cast<char>('a' + n % 26));
    n = n / 26 - 1;
  } while (n >= 0);
  return prefix + suffix;
}

std::string bus_name(v1::DiskBus b) {
  switch (b) {
    case v1::DiskBus::virtio:
      return "virtio";
    case v1::DiskBus::sata:
      return "sata";
    case v1::DiskBus::scsi:
      return "scsi";
    case v1::DiskBus::usb:
      return "usb";
  }
  return "virtio";
}

uint32_t fnv1a(std::string_view s) {
  uint32_t h = 2166136261u;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 16777619u;
  }
  return h;
}

struct Ipv4 {
  uint32_t addr = 0;
  int prefix = 0;
  std::string str(uint32_t a) const {
    char b[16];
    std::snprintf(b, sizeof b, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
    return b;
  }
};

Result<Ipv4> parse_cidr(const std::string& s, const std::string& field) {
  unsigned a, b, c, d;
  int p;
  char tail;
  if (std::sscanf(s.c_str(), "%u.%u.%u.%u/%d%c", &a, &b, &c, &d, &p, &tail) != 5 || a > 255 ||
      b > 255 || c > 255 || d > 255)
    return invalid(field, "\"" + s + "\" is not an IPv4 CIDR like 10.0.2.0/24");
  if (p < 8 || p > 29)
    return invalid(field, "prefix /" + std::to_string(p) + " must be between /8 and /29");
  uint32_t addr = (a << 24) | (b << 16) | (c << 8) | d;
  uint32_t mask = p == 0 ? 0 : ~uint32_t{0} << (32 - p);
  return Ipv4{addr & mask, p};
}

Result<std::string> nic_model(const std::optional<std::string>& model, const std::string& field) {
  static const std::map<std::string, std::string> models{
      {"virtio", "virtio-net-pci"}, {"e1000", "e1000"},       {"e1000e", "e1000e"},
      {"rtl8139", "rtl8139"},       {"ne2k_pci", "ne2k_pci"}, {"pcnet", "pcnet"},
  };
  auto it = models.find(model.value_or("virtio"));
  if (it == models.end())
    return invalid(
        field, "\"" + *model + "\" is not one of virtio, e1000, e1000e, rtl8139, ne2k_pci, pcnet");
  return it->second;
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

}  // namespace

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

std::string serial_socket_path(const PodEnvironment& env) {
  return env.socket_dir + "/virt-serial0";
}
std::string serial_log_path(const PodEnvironment& env) {
  return env.ephemeral_dir + "/serial0.log";
}
std::string vnc_socket_path(const PodEnvironment& env) {
  return env.socket_dir + "/virt-vnc";
}

Result<std::vector<DiskPlan>> plan_disks(const v1::VirtualMachineInstance& vmi,
                                         const PodEnvironment& env) {
  const auto& volumes = vmi.spec.volumes;
  std::vector<DiskPlan> plans;
  for (size_t i = 0; i < vmi.spec.domain.devices.disks.size(); ++i) {
    const auto& disk = vmi.spec.domain.devices.disks[i];
    size_t vi = 0;
    while (vi < volumes.size() && volumes[vi].name != disk.name)
      ++vi;
    if (vi == volumes.size())
      return invalid(disk_path(i) + ".name", "\"" + disk.name + "\" has no matching volume");
    const auto& vol = volumes[vi];
    DiskPlan p;
    p.name = disk.name;
    p.read_only = disk.cdrom.has_value() || (disk.disk && disk.disk->read_only.value_or(false));
    if (vol.container_disk) {
      p.kind = DiskKind::container_disk;
      std::string inner = vol.container_disk->path.value_or("/disk");
      if (inner.empty() || inner[0] != '/')
        return invalid(vol_path(vi) + ".containerDisk.path",
                       "\"" + inner + "\" must be an absolute path inside the image");
      if (inner.find("..") != std::string::npos)
        return invalid(vol_path(vi) + ".containerDisk.path",
                       "\"" + inner + "\" must not contain \"..\"");
      p.base = env.container_disk_dir + "/" + vol.name + inner;
      // The overlay keeps the image read-only; writes go to the pod's ephemeral storage.
      p.path = env.ephemeral_dir + "/disks/" + vol.name + ".qcow2";
      p.format = "qcow2";
    } else if (vol.empty_disk) {
      p.kind = DiskKind::empty_disk;
      p.capacity_bytes = vol.empty_disk->capacity.value();
      if (p.capacity_bytes <= 0)
        return invalid(vol_path(vi) + ".emptyDisk.capacity", "must be greater than zero");
      p.path = env.ephemeral_dir + "/disks/" + vol.name + ".qcow2";
      p.format = "qcow2";
    } else if (vol.persistent_volume_claim) {
      p.kind = DiskKind::pvc;
      p.read_only = p.read_only || vol.persistent_volume_claim->read_only.value_or(false);
      p.path = env.pvc_dir + "/" + vol.name + "/disk.img";
      p.format = "raw";
    } else if (vol.cloud_init_no_cloud) {
      const auto& ci = *vol.cloud_init_no_cloud;
      std::string f = vol_path(vi) + ".cloudInitNoCloud";
      if (ci.user_data_secret_ref)
        return unsupported(f + ".secretRef",
                           "user data from a Secret is not supported yet; use userData or "
                           "userDataBase64");
      if (ci.network_data_secret_ref)
        return unsupported(f + ".networkDataSecretRef",
                           "network data from a Secret is not supported yet; use networkData or "
                           "networkDataBase64");
      if (ci.user_data && ci.user_data_base64)
        return invalid(f, "set only one of userData and userDataBase64");
      if (ci.network_data && ci.network_data_base64)
        return invalid(f, "set only one of networkData and networkDataBase64");
      p.kind = DiskKind::cloud_init;
      p.read_only = true;
      if (ci.user_data) {
        p.user_data = *ci.user_data;
      } else if (ci.user_data_base64) {
        auto d = base64_decode(*ci.user_data_base64, f + ".userDataBase64");
        if (!d.ok())
          return d.error();
        p.user_data = *d;
      }
      if (ci.network_data) {
        p.network_config = *ci.network_data;
      } else if (ci.network_data_base64) {
        auto d = base64_decode(*ci.network_data_base64, f + ".networkDataBase64");
        if (!d.ok())
          return d.error();
        p.network_config = *d;
      }
      std::string instance_id = vmi.metadata.uid.value_or(
          vmi.metadata.name.value_or("vmi") + "." + vmi.metadata.namespace_.value_or("default"));
      std::string hostname = vmi.spec.hostname.value_or(vmi.metadata.name.value_or("vmi"));
      p.meta_data = "instance-id: " + instance_id + "\nlocal-hostname: " + hostname + "\n";
      p.path = env.ephemeral_dir + "/cloud-init/" + vol.name + ".iso";
      p.format = "raw";
    } else if (vol.config_map) {
      return unsupported(vol_path(vi) + ".configMap",
                         "configMap volumes are not supported by this launcher yet");
    } else if (vol.secret) {
      return unsupported(vol_path(vi) + ".secret",
                         "secret volumes are not supported by this launcher yet");
    } else {
      return invalid(vol_path(vi), "volume \"" + vol.name +
                                       "\" has no source; set one of containerDisk, "
                                       "persistentVolumeClaim, emptyDisk, cloudInitNoCloud");
    }
    plans.push_back(std::move(p));
  }
  return plans;
}

Result<std::optional<NetworkPlan>> plan_network(const v1::VirtualMachineInstance& vmi) {
  const auto& devs = vmi.spec.domain.devices;
  std::vector<v1::Interface> ifaces = devs.interfaces;
  std::vector<v1::Network> nets = vmi.spec.networks;
  // Upstream's default: with neither interfaces nor networks, a masquerade NIC on the pod network.
  if (ifaces.empty() && nets.empty() && devs.autoattach_pod_interface.value_or(true)) {
    v1::Interface i;
    i.name = "default";
    i.masquerade = v1::InterfaceMasquerade{};
    ifaces.push_back(i);
    v1::Network n;
    n.name = "default";
    n.pod = v1::PodNetwork{};
    nets.push_back(n);
  }
  if (ifaces.empty())
    return std::optional<NetworkPlan>{};
  if (ifaces.size() > 1)
    return unsupported("spec.domain.devices.interfaces",
                       "only one interface (on the pod network) is supported, got " +
                           std::to_string(ifaces.size()));
  const auto& iface = ifaces[0];
  std::string f = "spec.domain.devices.interfaces[0]";
  const v1::Network* net = nullptr;
  for (const auto& n : nets)
    if (n.name == iface.name)
      net = &n;
  if (!net)
    return invalid(f + ".name", "\"" + iface.name + "\" has no matching network in spec.networks");
  if (!net->pod)
    return unsupported("spec.networks", "network \"" + net->name +
                                            "\" is not a pod network; only pod: {} is supported");
  if (iface.bridge)
    return unsupported(f + ".bridge",
                       "bridge binding needs a tap device prepared by virt-handler, which is not "
                       "available yet; use masquerade: {}");

  NetworkPlan p;
  p.interface_name = iface.name;
  p.network_name = net->name;
  auto model = nic_model(iface.model, f + ".model");
  if (!model.ok())
    return model.error();
  p.model = *model;
  std::string cidr_text = net->pod->vm_network_cidr.value_or("10.0.2.0/24");
  auto cidr = parse_cidr(cidr_text, "spec.networks[].pod.vmNetworkCIDR");
  if (!cidr.ok())
    return cidr.error();
  p.cidr = cidr->str(cidr->addr) + "/" + std::to_string(cidr->prefix);
  p.gateway = cidr->str(cidr->addr + 1);
  p.guest_ip = cidr->str(cidr->addr + 2);
  p.dns = cidr->str(cidr->addr + 3);
  if (iface.mac_address) {
    unsigned m[6];
    char tail;
    if (std::sscanf(iface.mac_address->c_str(), "%2x:%2x:%2x:%2x:%2x:%2x%c", &m[0], &m[1], &m[2],
                    &m[3], &m[4], &m[5], &tail) != 6)
      return invalid(f + ".macAddress",
                     "\"" + *iface.mac_address + "\" is not a MAC address like 02:00:00:00:00:01");
    p.mac = *iface.mac_address;
  } else {
    // Stable across restarts of the same VMI, so the guest's DHCP lease and udev names hold.
    uint32_t h = fnv1a(vmi.metadata.namespace_.value_or("") + "/" + vmi.metadata.name.value_or(""));
    char b[18];
    std::snprintf(b, sizeof b, "52:54:00:%02x:%02x:%02x", (h >> 16) & 255, (h >> 8) & 255, h & 255);
    p.mac = b;
  }
  for (size_t i = 0; i < iface.ports.size(); ++i) {
    const auto& port = iface.ports[i];
    if (port.port < 1 || port.port > 65535)
      return invalid(f + ".ports[" + std::to_string(i) + "].port",
                     std::to_string(port.port) + " is not between 1 and 65535");
    p.ports.push_back(
        {port.protocol.value_or(v1::Protocol::tcp) == v1::Protocol::udp ? "udp" : "tcp",
         port.port});
  }
  return std::optional<NetworkPlan>{std::move(p)};
}

Result<std::string> build_domain_xml(const v1::VirtualMachineInstance& vmi,
                                     const PodEnvironment& env,
                                     const std::vector<DiskPlan>& disks) {
  const auto& dom = vmi.spec.domain;

  // Accelerator.
  std::string type;
  if (env.kvm_usable)
    type = "kvm";
  else if (env.allow_emulation)
    type = "qemu";
  else
    return Error(Errc::unavailable,
                 "KVM is not available: /dev/kvm is missing or this process cannot use it. To run "
                 "the VM with software emulation (TCG, much slower), start virt-launcher with "
                 "--allow-emulation (KubeVirt: spec.configuration.developerConfiguration."
                 "useEmulation: true)");

  auto machine = machine_type(vmi);
  if (!machine.ok())
    return machine.error();

  // Memory.
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
  int64_t mem_bytes = mem->value();
  if (mem_bytes < 16 * 1024 * 1024)
    return invalid("spec.domain.memory.guest",
                   mem->to_string() + " is too small; at least 16Mi is needed");
  int64_t mem_kib = (mem_bytes + 1023) / 1024;

  // CPU.
  uint32_t sockets = 1, cores = 1, threads = 1;
  std::optional<std::string> cpu_model;
  if (dom.cpu) {
    sockets = dom.cpu->sockets.value_or(1);
    cores = dom.cpu->cores.value_or(1);
    threads = dom.cpu->threads.value_or(1);
    cpu_model = dom.cpu->model;
  }
  if (sockets == 0 || cores == 0 || threads == 0)
    return invalid("spec.domain.cpu", "sockets, cores and threads must be at least 1");
  uint64_t vcpus = uint64_t{sockets} * cores * threads;
  if (vcpus > 255)
    return invalid("spec.domain.cpu", std::to_string(vcpus) + " vCPUs; at most 255");
  if (type == "qemu" && cpu_model &&
      (*cpu_model == "host-passthrough" || *cpu_model == "host-model"))
    return unsupported("spec.domain.cpu.model",
                       "\"" + *cpu_model +
                           "\" needs KVM; under emulation leave it empty or name "
                           "a QEMU model such as qemu64 or max");

  // Firmware.
  const v1::Firmware* fw = dom.firmware ? &*dom.firmware : nullptr;
  bool efi = fw && fw->bootloader && fw->bootloader->efi;
  bool secure_boot = efi && fw->bootloader->efi->secure_boot.value_or(true);
  bool bios_serial = fw && fw->bootloader && fw->bootloader->bios &&
                     fw->bootloader->bios->use_serial.value_or(false);
  const v1::KernelBoot* kb = fw && fw->kernel_boot ? &*fw->kernel_boot : nullptr;
  if (efi) {
    const std::string& code = secure_boot ? env.ovmf_secboot_code : env.ovmf_code;
    const std::string& vars = secure_boot ? env.ovmf_secboot_vars : env.ovmf_vars;
    if (code.empty() || vars.empty())
      return unsupported("spec.domain.firmware.bootloader.efi",
                         std::string("EFI") + (secure_boot ? " with secure boot" : "") +
                             " needs OVMF, which is not installed in the launcher image "
                             "(Debian package ovmf)");
  }
  if (kb) {
    if (!kb->container)
      return invalid("spec.domain.firmware.kernelBoot.container",
                     "missing; direct kernel boot takes the kernel from a container image");
    if (!kb->container->kernel_path)
      return invalid("spec.domain.firmware.kernelBoot.container.kernelPath", "missing");
  }

  std::ostringstream x;
  x << "<domain type='" << type << "' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>\n";
  x << "  <name>" << xml_escape(domain_name(vmi)) << "</name>\n";
  if (fw && fw->uuid)
    x << "  <uuid>" << xml_escape(*fw->uuid) << "</uuid>\n";
  x << "  <metadata>\n"
    << "    <kubevirt xmlns='http://kubevirt.io'>\n"
    << "      <uid>" << xml_escape(vmi.metadata.uid.value_or("")) << "</uid>\n"
    << "    </kubevirt>\n"
    << "  </metadata>\n";
  x << "  <memory unit='KiB'>" << mem_kib << "</memory>\n";
  x << "  <vcpu placement='static'>" << vcpus << "</vcpu>\n";
  if (fw && fw->serial)
    x << "  <sysinfo type='smbios'>\n"
      << "    <system>\n"
      << "      <entry name='serial'>" << xml_escape(*fw->serial) << "</entry>\n"
      << "    </system>\n"
      << "  </sysinfo>\n";

  x << "  <os>\n";
  x << "    <type arch='x86_64' machine='" << xml_escape(*machine) << "'>hvm</type>\n";
  if (efi) {
    x << "    <loader readonly='yes' secure='" << (secure_boot ? "yes" : "no") << "' type='pflash'>"
      << xml_escape(secure_boot ? env.ovmf_secboot_code : env.ovmf_code) << "</loader>\n";
    x << "    <nvram template='" << xml_escape(secure_boot ? env.ovmf_secboot_vars : env.ovmf_vars)
      << "'>" << xml_escape(env.ephemeral_dir + "/nvram.fd") << "</nvram>\n";
  }
  if (kb) {
    std::string root = env.kernel_boot_dir;
    x << "    <kernel>" << xml_escape(root + *kb->container->kernel_path) << "</kernel>\n";
    if (kb->container->initrd_path)
      x << "    <initrd>" << xml_escape(root + *kb->container->initrd_path) << "</initrd>\n";
    if (kb->kernel_args)
      x << "    <cmdline>" << xml_escape(*kb->kernel_args) << "</cmdline>\n";
  }
  if (bios_serial)
    x << "    <bios useserial='yes'/>\n";
  if (fw && fw->serial)
    x << "    <smbios mode='sysinfo'/>\n";
  x << "  </os>\n";

  x << "  <features>\n    <acpi/>\n    <apic/>\n";
  if (secure_boot)
    x << "    <smm state='on'/>\n";
  x << "  </features>\n";

  if (cpu_model && *cpu_model == "host-passthrough")
    x << "  <cpu mode='host-passthrough'>\n";
  else if (cpu_model && *cpu_model == "host-model")
    x << "  <cpu mode='host-model'>\n";
  else if (cpu_model && !cpu_model->empty())
    x << "  <cpu mode='custom' match='exact'>\n    <model fallback='forbid'>"
      << xml_escape(*cpu_model) << "</model>\n";
  else if (type == "kvm")
    x << "  <cpu mode='host-model'>\n";
  else
    x << "  <cpu>\n";
  x << "    <topology sockets='" << sockets << "' dies='1' cores='" << cores << "' threads='"
    << threads << "'/>\n  </cpu>\n";

  x << "  <clock offset='utc'/>\n";
  x << "  <on_poweroff>destroy</on_poweroff>\n";
  x << "  <on_reboot>restart</on_reboot>\n";
  x << "  <on_crash>destroy</on_crash>\n";

  x << "  <devices>\n";
  // Disks, in spec order. A device name per bus family; boot order only where the user set one.
  bool any_boot_order = false;
  for (const auto& d : dom.devices.disks)
    any_boot_order = any_boot_order || d.boot_order.has_value();
  int vd = 0, sd = 0;
  bool need_scsi = false, need_usb = false;
  for (size_t i = 0; i < dom.devices.disks.size(); ++i) {
    const auto& d = dom.devices.disks[i];
    const DiskPlan* plan = nullptr;
    for (const auto& p : disks)
      if (p.name == d.name)
        plan = &p;
    if (!plan)
      return Error(Errc::internal, "no disk plan for " + disk_path(i) + " (\"" + d.name + "\")");
    if (d.disk && d.cdrom)
      return invalid(disk_path(i), "set only one of disk and cdrom");
    bool cdrom = d.cdrom.has_value();
    v1::DiskBus bus =
        cdrom ? d.cdrom->bus.value_or(v1::DiskBus::sata)
              : (d.disk ? d.disk->bus.value_or(v1::DiskBus::virtio) : v1::DiskBus::virtio);
    if (cdrom && bus == v1::DiskBus::virtio)
      return invalid(disk_path(i) + ".cdrom.bus", "virtio cannot carry a CD-ROM; use sata or scsi");
    std::string dev =
        bus == v1::DiskBus::virtio ? device_name("vd", vd++) : device_name("sd", sd++);
    need_scsi = need_scsi || bus == v1::DiskBus::scsi;
    need_usb = need_usb || bus == v1::DiskBus::usb;
    x << "    <disk type='file' device='" << (cdrom ? "cdrom" : "disk") << "'>\n";
    x << "      <driver name='qemu' type='" << plan->format << "'"
      << (cdrom || plan->read_only ? "" : " discard='unmap'") << "/>\n";
    x << "      <source file='" << xml_escape(plan->path) << "'/>\n";
    x << "      <target dev='" << dev << "' bus='" << bus_name(bus) << "'/>\n";
    if (plan->read_only)
      x << "      <readonly/>\n";
    if (d.serial)
      x << "      <serial>" << xml_escape(*d.serial) << "</serial>\n";
    if (d.boot_order)
      x << "      <boot order='" << *d.boot_order << "'/>\n";
    else if (!any_boot_order && !kb && i == 0)
      x << "      <boot order='1'/>\n";
    x << "      <alias name='ua-" << xml_escape(d.name) << "'/>\n";
    x << "    </disk>\n";
  }
  if (need_scsi)
    x << "    <controller type='scsi' index='0' model='virtio-scsi'/>\n";
  // No USB controller unless a disk needs one: it costs memory and boot time under TCG.
  if (need_usb)
    x << "    <controller type='usb' index='0' model='qemu-xhci'/>\n";
  else
    x << "    <controller type='usb' index='0' model='none'/>\n";

  if (dom.devices.autoattach_serial_console.value_or(true)) {
    std::string sock = xml_escape(serial_socket_path(env));
    x << "    <serial type='unix'>\n"
      << "      <source mode='bind' path='" << sock << "'/>\n"
      << "      <log file='" << xml_escape(serial_log_path(env)) << "' append='off'/>\n"
      << "      <target type='isa-serial' port='0'/>\n"
      << "    </serial>\n"
      << "    <console type='unix'>\n"
      << "      <source mode='bind' path='" << sock << "'/>\n"
      << "      <target type='serial' port='0'/>\n"
      << "    </console>\n";
  }
  if (dom.devices.autoattach_graphics_device.value_or(true)) {
    x << "    <graphics type='vnc'>\n"
      << "      <listen type='socket' socket='" << xml_escape(vnc_socket_path(env)) << "'/>\n"
      << "    </graphics>\n"
      << "    <video>\n"
      << "      <model type='vga' vram='16384' heads='1'/>\n"
      << "    </video>\n";
  }
  x << "    <memballoon model='"
    << (dom.devices.autoattach_memory_balloon.value_or(true) ? "virtio" : "none") << "'/>\n";
  x << "  </devices>\n";

  auto net = plan_network(vmi);
  if (!net.ok())
    return net.error();
  if (*net) {
    const NetworkPlan& n = **net;
    std::string netdev = "user,id=kvnet0,net=" + n.cidr + ",host=" + n.gateway +
                         ",dhcpstart=" + n.guest_ip + ",dns=" + n.dns;
    for (const auto& p : n.ports)
      netdev += ",hostfwd=" + p.protocol + ":" + env.pod_ip + ":" + std::to_string(p.port) + "-" +
                n.guest_ip + ":" + std::to_string(p.port);
    // libvirt does not know this device, so we pick its PCI slot: 0x10 on the root bus is far
    // above the slots libvirt hands out (root ports from 0x1, 8 functions per slot).
    std::string root_bus =
        machine->rfind("pc-i440fx", 0) == 0 || *machine == "pc" ? "pci.0" : "pcie.0";
    std::string device = n.model + ",netdev=kvnet0,mac=" + n.mac + ",id=ua-" + n.interface_name +
                         ",bus=" + root_bus + ",addr=0x10";
    x << "  <qemu:commandline>\n"
      << "    <qemu:arg value='-netdev'/>\n"
      << "    <qemu:arg value='" << xml_escape(netdev) << "'/>\n"
      << "    <qemu:arg value='-device'/>\n"
      << "    <qemu:arg value='" << xml_escape(device) << "'/>\n"
      << "  </qemu:commandline>\n";
  }
  x << "</domain>\n";
  return x.str();
}

}  // namespace kv::launcher
