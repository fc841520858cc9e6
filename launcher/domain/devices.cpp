// Devices: controllers, serial console, graphics, TPM, the memory balloon, rng, watchdog and
// inputs.

#include "launcher/domain/domain.hpp"

namespace kv::launcher::domain {
namespace {

// devices.rng, devices.watchdog (i6300esb, action reset by default) and devices.inputs (tablets,
// on USB unless virtio), as upstream's RNG, Watchdog and InputDevice configurators.
void plan_extra_devices(const api::v1::Devices& devs, Devices& d) {
  d.rng = devs.rng.has_value();
  if (devs.watchdog && devs.watchdog->i6300esb)
    d.watchdog = Watchdog{"i6300esb", devs.watchdog->i6300esb->action.value_or("reset"),
                          "ua-" + devs.watchdog->name};
  for (const auto& in : devs.inputs)
    d.inputs.push_back(
        {in.type.empty() ? "tablet" : in.type, in.bus.value_or("usb"), "ua-" + in.name});
}

bool usb_input(const Devices& d) {
  for (const auto& in : d.inputs)
    if (in.bus == "usb")
      return true;
  return false;
}

void write_extra_devices(std::ostream& x, const Devices& d) {
  for (const auto& in : d.inputs) {
    x << "    <input type='" << xml_escape(in.type) << "' bus='" << xml_escape(in.bus) << "'"
      << (in.bus == "virtio" ? " model='virtio'" : "") << ">\n"
      << "      <alias name='" << xml_escape(in.alias) << "'/>\n"
      << "    </input>\n";
  }
  if (d.watchdog)
    x << "    <watchdog model='" << d.watchdog->model << "' action='"
      << xml_escape(d.watchdog->action) << "'>\n"
      << "      <alias name='" << xml_escape(d.watchdog->alias) << "'/>\n"
      << "    </watchdog>\n";
  if (d.rng)
    x << "    <rng model='virtio'>\n"
      << "      <backend model='random'>/dev/urandom</backend>\n"
      << "    </rng>\n";
}

}  // namespace

namespace {

// devices.tpm: present unless enabled is false. Upstream renders tpm-tis for a non-persistent
// TPM (tpm-crb only with persistent, which validation refuses).
bool tpm_attached(const api::v1::Devices& devs) {
  return devs.tpm && devs.tpm->enabled.value_or(true);
}

void write_tpm(std::ostream& x) {
  x << "    <tpm model='tpm-tis'>\n"
    << "      <backend type='emulator' version='2.0'/>\n"
    << "    </tpm>\n";
}

}  // namespace

Devices plan_devices(const api::v1::VirtualMachineInstance& vmi, const PodEnvironment& env,
                     const std::vector<Disk>& disks) {
  const auto& devs = vmi.spec.domain.devices;
  Devices d;
  bool usb_disk = false;
  for (const Disk& disk : disks) {
    d.scsi_controller = d.scsi_controller || disk.bus == "scsi";
    usb_disk = usb_disk || disk.bus == "usb";
  }
  plan_extra_devices(devs, d);
  // No USB controller unless a disk or an input needs one: it costs memory and boot time under
  // TCG.
  d.usb_model = usb_disk || usb_input(d) ? "qemu-xhci" : "none";
  if (devs.autoattach_serial_console.value_or(true))
    d.serial = SerialConsole{serial_socket_path(env), serial_log_path(env)};
  if (devs.autoattach_graphics_device.value_or(true))
    d.vnc_socket = vnc_socket_path(env);
  d.memballoon = devs.autoattach_memory_balloon.value_or(true) ? "virtio" : "none";
  d.tpm = tpm_attached(devs);
  return d;
}

void write_devices(std::ostream& x, const Devices& d) {
  if (d.scsi_controller)
    x << "    <controller type='scsi' index='0' model='virtio-scsi'/>\n";
  x << "    <controller type='usb' index='0' model='" << d.usb_model << "'/>\n";
  if (d.serial) {
    std::string sock = xml_escape(d.serial->socket);
    x << "    <serial type='unix'>\n"
      << "      <source mode='bind' path='" << sock << "'/>\n"
      << "      <log file='" << xml_escape(d.serial->log) << "' append='off'/>\n"
      << "      <target type='isa-serial' port='0'/>\n"
      << "    </serial>\n"
      << "    <console type='unix'>\n"
      << "      <source mode='bind' path='" << sock << "'/>\n"
      << "      <target type='serial' port='0'/>\n"
      << "    </console>\n";
  }
  if (d.vnc_socket) {
    x << "    <graphics type='vnc'>\n"
      << "      <listen type='socket' socket='" << xml_escape(*d.vnc_socket) << "'/>\n"
      << "    </graphics>\n"
      << "    <video>\n"
      << "      <model type='vga' vram='16384' heads='1'/>\n"
      << "    </video>\n";
  }
  write_extra_devices(x, d);
  if (d.tpm)
    write_tpm(x);
  x << "    <memballoon model='" << d.memballoon << "'/>\n";
}

}  // namespace kv::launcher::domain
