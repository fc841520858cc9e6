// The devices' rules: disks, interfaces, and boot orders across both.

#include <regex>
#include <set>

#include "api/v1/validation_checks.hpp"

namespace kv::api::v1::check {
namespace {

// Where the machine and this add-on already put devices on the root bus (q35): the host bridge
// (00:00), the VGA card (00:01), the pod NIC (00:10) and the ICH9 chipset functions (00:1f).
void disk_pci_address(const std::string& a, const std::string& p, FieldErrors& errors) {
  const unsigned domain = std::stoul(a.substr(0, 4), nullptr, 16);
  const unsigned bus = std::stoul(a.substr(5, 2), nullptr, 16);
  const unsigned slot = std::stoul(a.substr(8, 2), nullptr, 16);
  if (domain != 0) {
    add(errors, p, quoted(a) + " is not allowed; the guest has PCI domain 0000 only");
  } else if (slot > 0x1f) {
    add(errors, p, quoted(a) + " is not allowed; slots are 00 to 1f");
  } else if (bus != 0 && slot != 0) {
    add(errors, p,
        quoted(a) +
            " is not allowed; a bus other than 00 is a PCIe root port, which has slot 00 "
            "only");
  } else if (bus == 0 && (slot == 0x00 || slot == 0x01 || slot == 0x10 || slot == 0x1f)) {
    add(errors, p,
        quoted(a) +
            " is taken; on bus 00 the host bridge (00), VGA (01), the pod network "
            "interface (10) and the chipset (1f) are fixed");
  }
}

// cache, io and dedicatedIOThread.
void disk_driver(const Disk& disk, const std::string& p, FieldErrors& errors) {
  if (disk.cache && *disk.cache != "none" && *disk.cache != "writethrough" &&
      *disk.cache != "writeback") {
    add(errors, at(p, "cache"),
        quoted(*disk.cache) + " is not supported; allowed: none, writethrough, writeback");
  }
  if (disk.io && *disk.io != "native" && *disk.io != "threads") {
    add(errors, at(p, "io"), quoted(*disk.io) + " is not supported; allowed: native, threads");
  } else if (disk.io == "native" && disk.cache && *disk.cache != "none") {
    add(errors, at(p, "io"),
        "\"native\" needs cache \"none\" (QEMU's native IO bypasses the host cache); set cache: "
        "none or io: threads");
  }
  if (disk.dedicated_io_thread.value_or(false)) {
    const bool virtio = disk.disk && disk.disk->bus.value_or(DiskBus::virtio) == DiskBus::virtio;
    if (!virtio) {
      add(errors, at(p, "dedicatedIOThread"), "IO threads are only for disks on the virtio bus");
    }
  }
}

void disk(const Disk& disk, const std::string& p, FieldErrors& errors) {
  if (disk.disk && disk.cdrom) {
    add(errors, p, "disk and cdrom are mutually exclusive; set one");
  }
  if (disk.cdrom && disk.cdrom->bus == DiskBus::virtio) {
    add(errors, at(p, "cdrom.bus"), "\"virtio\" is not allowed for a cdrom; allowed: sata, scsi");
  }
  if (disk.cdrom && disk.cdrom->read_only == false) {
    add(errors, at(p, "cdrom.readonly"), "false is not allowed; a cdrom is read-only");
  }
  if (disk.cdrom && disk.cdrom->tray && *disk.cdrom->tray != "closed" &&
      *disk.cdrom->tray != "open") {
    add(errors, at(p, "cdrom.tray"),
        quoted(*disk.cdrom->tray) + " is not supported; allowed: closed, open");
  }
  if (disk.disk && disk.disk->pci_address) {
    if (!is_pci_address(*disk.disk->pci_address)) {
      add(errors, at(p, "disk.pciAddress"),
          quoted(*disk.disk->pci_address) + " is not a PCI address; allowed: dddd:bb:ss.f (hex)");
    } else if (disk.disk->bus && *disk.disk->bus != DiskBus::virtio) {
      add(errors, at(p, "disk.pciAddress"), "only a virtio disk has a PCI address");
    } else {
      disk_pci_address(*disk.disk->pci_address, at(p, "disk.pciAddress"), errors);
    }
  }
  disk_driver(disk, p, errors);
  if (disk.serial) {
    static const std::regex re("[A-Za-z0-9_.+-]+");
    if (disk.serial->size() > 36 || !std::regex_match(*disk.serial, re)) {
      add(errors, at(p, "serial"),
          quoted(*disk.serial) +
              " is not allowed; use at most 36 letters, digits, '_', '.', '+' or '-'");
    }
  }
}

void watchdog(const Watchdog& w, const std::string& p, FieldErrors& errors) {
  if (w.name.empty()) {
    add(errors, at(p, "name"), "must not be empty");
  }
  if (!w.i6300esb) {
    add(errors, p, "no watchdog type; set i6300esb");
    return;
  }
  const auto& action = w.i6300esb->action;
  if (action && *action != "poweroff" && *action != "reset" && *action != "shutdown") {
    add(errors, at(p, "i6300esb.action"),
        quoted(*action) + " is not supported; allowed: poweroff, reset, shutdown");
  }
}

void inputs(const std::vector<Input>& inputs, const std::string& path, FieldErrors& errors) {
  std::map<std::string, size_t> seen;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const std::string p = index(path, i);
    unique_name(inputs[i].name, i, "inputs", seen, p, errors);
    if (inputs[i].bus && *inputs[i].bus != "usb" && *inputs[i].bus != "virtio") {
      add(errors, at(p, "bus"),
          quoted(*inputs[i].bus) +
              " is not supported; Input device can have only virtio or usb "
              "bus.");
    }
    if (inputs[i].type != "tablet") {
      add(errors, at(p, "type"),
          quoted(inputs[i].type) + " is not supported; Input device can have only tablet type.");
    }
  }
}

void mac_address(const std::string& mac, const std::string& p, FieldErrors& errors) {
  static const std::regex re("([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}");
  if (!std::regex_match(mac, re)) {
    add(errors, at(p, "macAddress"),
        quoted(mac) + " is not a MAC address; allowed: six hex pairs, e.g. 02:00:00:00:00:01");
  } else if ((std::stoi(mac.substr(0, 2), nullptr, 16) & 1) != 0) {
    add(errors, at(p, "macAddress"),
        quoted(mac) + " is a multicast address; the first octet must be even");
  }
}

// The pod NIC is a QEMU device that libvirt does not place, so it goes on the root bus in slots
// libvirt does not hand out to its own devices (it fills the low slots first).
void interface_pci_address(const std::string& a, const std::string& p, FieldErrors& errors) {
  const unsigned domain_bus = std::stoul(a.substr(0, 4) + a.substr(5, 2), nullptr, 16);
  const unsigned slot = std::stoul(a.substr(8, 2), nullptr, 16);
  if (domain_bus != 0 || slot < 0x10 || slot > 0x1e) {
    add(errors, p,
        quoted(a) +
            " is not supported; the pod network interface sits on the root bus in a "
            "slot libvirt leaves free: allowed 0000:00:10.0 to 0000:00:1e.7");
  }
}

void interface(const Interface& iface, const std::string& p, FieldErrors& errors) {
  static const std::set<std::string> kModels = {"virtio",   "e1000", "e1000e",
                                                "ne2k_pci", "pcnet", "rtl8139"};
  if (iface.model && !kModels.contains(*iface.model)) {
    add(errors, at(p, "model"),
        quoted(*iface.model) +
            " is not supported; allowed: virtio, e1000, e1000e, ne2k_pci, pcnet, rtl8139");
  }
  if (iface.mac_address) {
    mac_address(*iface.mac_address, p, errors);
  }
  if (iface.pci_address && !is_pci_address(*iface.pci_address)) {
    add(errors, at(p, "pciAddress"),
        quoted(*iface.pci_address) + " is not a PCI address; allowed: dddd:bb:ss.f (hex)");
  } else if (iface.pci_address) {
    interface_pci_address(*iface.pci_address, at(p, "pciAddress"), errors);
  }
  const int bindings = int(iface.masquerade.has_value()) + int(iface.bridge.has_value()) +
                       int(iface.passt.has_value());
  if (bindings == 0) {
    add(errors, p, "no binding; set one of masquerade, bridge, passt");
  } else if (bindings > 1) {
    add(errors, p, "more than one binding; set exactly one of masquerade, bridge, passt");
  }
  // Accepted by upstream, but nothing here could honour them: refused rather than run as
  // masquerade.
  if (iface.bridge) {
    add(errors, at(p, "bridge"),
        "not supported yet: the bridge binding needs a tap device prepared by virt-handler; "
        "allowed: masquerade, passt");
  }
  if (iface.boot_order) {
    add(errors, at(p, "bootOrder"),
        "not supported yet: the NIC has no network boot (PXE) here; boot from a disk "
        "(disks[].bootOrder)");
  }
  for (size_t j = 0; j < iface.ports.size(); ++j) {
    const auto& port = iface.ports[j];
    if (port.port < 1 || port.port > 65535) {
      add(errors, at(index(at(p, "ports"), j), "port"),
          std::to_string(port.port) + " is out of range; allowed: 1-65535");
    }
  }
  if (!iface.ports.empty() && iface.bridge) {
    add(errors, at(p, "ports"),
        "not allowed with a bridge binding (all ports reach the guest); "
        "allowed with masquerade or passt");
  }
}

// Two devices at the same PCI address cannot both be placed.
void pci_addresses(const Devices& devices, const std::string& path, FieldErrors& errors) {
  std::map<std::string, std::string> used;
  auto check = [&](const std::string& address, const std::string& p) {
    std::string key = address;
    for (auto& c : key) {
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    auto [it, fresh] = used.emplace(key, p);
    if (!fresh) {
      add(errors, p, quoted(address) + " is already used by " + it->second);
    }
  };
  for (size_t i = 0; i < devices.disks.size(); ++i) {
    const auto& d = devices.disks[i];
    if (d.disk && d.disk->pci_address && is_pci_address(*d.disk->pci_address)) {
      check(*d.disk->pci_address, at(index(at(path, "disks"), i), "disk.pciAddress"));
    }
  }
  for (size_t i = 0; i < devices.interfaces.size(); ++i) {
    const auto& iface = devices.interfaces[i];
    if (iface.pci_address && is_pci_address(*iface.pci_address)) {
      check(*iface.pci_address, at(index(at(path, "interfaces"), i), "pciAddress"));
    }
  }
}

}  // namespace

void devices(const Devices& devices, const std::string& path, FieldErrors& errors) {
  std::map<std::string, size_t> seen;
  for (size_t i = 0; i < devices.disks.size(); ++i) {
    const std::string p = index(at(path, "disks"), i);
    unique_name(devices.disks[i].name, i, "disks", seen, p, errors);
    disk(devices.disks[i], p, errors);
  }
  seen.clear();
  for (size_t i = 0; i < devices.interfaces.size(); ++i) {
    const std::string p = index(at(path, "interfaces"), i);
    unique_name(devices.interfaces[i].name, i, "interfaces", seen, p, errors);
    interface(devices.interfaces[i], p, errors);
  }
  if (devices.watchdog) {
    watchdog(*devices.watchdog, at(path, "watchdog"), errors);
  }
  inputs(devices.inputs, at(path, "inputs"), errors);
  pci_addresses(devices, path, errors);
}

void boot_orders(const Devices& devices, const std::string& path, FieldErrors& errors) {
  std::map<uint32_t, std::string> used;
  auto check = [&](const std::optional<uint32_t>& order, const std::string& device) {
    if (!order) {
      return;
    }
    const std::string p = at(path, device);
    if (*order == 0) {
      add(errors, at(p, "bootOrder"), "0 is not allowed; must be at least 1 (1 boots first)");
      return;
    }
    auto [it, fresh] = used.emplace(*order, device);
    if (!fresh) {
      add(errors, at(p, "bootOrder"),
          std::to_string(*order) + " is already used by " + it->second +
              "; boot orders must be unique");
    }
  };
  for (size_t i = 0; i < devices.disks.size(); ++i) {
    check(devices.disks[i].boot_order, "disks[" + std::to_string(i) + "]");
  }
  for (size_t i = 0; i < devices.interfaces.size(); ++i) {
    check(devices.interfaces[i].boot_order, "interfaces[" + std::to_string(i) + "]");
  }
}

}  // namespace kv::api::v1::check
