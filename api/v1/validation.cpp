#include "api/v1/validation.hpp"

#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "api/v1/defaults.hpp"

namespace kv::api::v1 {
namespace {

std::string quoted(std::string_view s) {
  return "\"" + std::string(s) + "\"";
}

std::string at(const std::string& path, std::string_view member) {
  return path.empty() ? std::string(member) : path + "." + std::string(member);
}

std::string index(const std::string& path, size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

bool matches(const std::string& s, const std::regex& re) {
  return std::regex_match(s, re);
}

// RFC 1123 label: what Kubernetes requires of names that become host names.
bool is_dns_label(const std::string& s) {
  static const std::regex re("[a-z0-9]([-a-z0-9]*[a-z0-9])?");
  return s.size() <= 63 && matches(s, re);
}

// RFC 1123 subdomain: object names.
bool is_dns_subdomain(const std::string& s) {
  static const std::regex re("[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");
  return s.size() <= 253 && matches(s, re);
}

bool is_base64(const std::string& s) {
  static const std::regex re("([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?");
  std::string compact;
  for (char c : s) {
    if (c != '\n' && c != '\r') {
      compact.push_back(c);
    }
  }
  return matches(compact, re);
}

bool is_ipv4_cidr(const std::string& s) {
  static const std::regex re(
      "((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\\.){3}"
      "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])/(3[0-2]|[12]?[0-9])");
  return matches(s, re);
}

bool is_ipv6_cidr(const std::string& s) {
  static const std::regex re("[0-9A-Fa-f:]*:[0-9A-Fa-f:]*/(12[0-8]|1[01][0-9]|[1-9]?[0-9])");
  return matches(s, re);
}

constexpr std::string_view kDnsLabelRule =
    "must be lower-case letters, digits and '-', start and end with a letter or digit, at most "
    "63 characters";

// Memory below 1Mi cannot boot anything and is almost always a unit mistake ("512" for "512Mi").
const Quantity& min_memory() {
  static const Quantity q = Quantity::from_int(1 << 20, Quantity::Format::binary_si);
  return q;
}

class Validator {
 public:
  explicit Validator(FieldErrors& errors) : errors_(errors) {}

  void spec(const VirtualMachineInstanceSpec& s, const std::string& path) {
    domain(s.domain, at(path, "domain"));
    volumes(s, path);
    networks(s, path);
    boot_orders(s.domain.devices, at(path, "domain.devices"));
    if (s.termination_grace_period_seconds && *s.termination_grace_period_seconds < 0) {
      add(at(path, "terminationGracePeriodSeconds"),
          std::to_string(*s.termination_grace_period_seconds) +
              " is negative; allowed: 0 or more seconds");
    }
    if (s.eviction_strategy == EvictionStrategy::live_migrate) {
      add(at(path, "evictionStrategy"),
          "\"LiveMigrate\" is not supported yet (no live migration); allowed: None, External, "
          "LiveMigrateIfPossible");
    }
    if (s.hostname && !is_dns_label(*s.hostname)) {
      add(at(path, "hostname"),
          quoted(*s.hostname) + " is not a valid host name; " + std::string(kDnsLabelRule));
    }
    if (s.subdomain && !is_dns_label(*s.subdomain)) {
      add(at(path, "subdomain"),
          quoted(*s.subdomain) + " is not a valid subdomain; " + std::string(kDnsLabelRule));
    }
  }

 private:
  void add(std::string path, std::string message) {
    errors_.push_back({std::move(path), std::move(message)});
  }

  void domain(const DomainSpec& d, const std::string& path) {
    if (d.machine && d.machine->type) {
      static const std::regex re("q35|pc-q35-.+");
      if (!matches(*d.machine->type, re)) {
        add(at(path, "machine.type"),
            quoted(*d.machine->type) + " is not supported; allowed: q35, pc-q35-*");
      }
    }
    if (d.cpu) {
      const std::pair<const char*, const std::optional<uint32_t>*> topology[] = {
          {"cores", &d.cpu->cores}, {"sockets", &d.cpu->sockets}, {"threads", &d.cpu->threads}};
      for (const auto& [name, value] : topology) {
        if (*value && **value == 0) {
          add(at(path, std::string("cpu.") + name), "0 is not allowed; must be at least 1");
        }
      }
    }
    memory(d, path);
    if (d.firmware) {
      firmware(*d.firmware, at(path, "firmware"));
    }
    disks(d.devices, at(path, "devices"));
    interfaces(d.devices, at(path, "devices"));
  }

  void memory(const DomainSpec& d, const std::string& path) {
    const Quantity* guest = d.memory && d.memory->guest ? &*d.memory->guest : nullptr;
    const Quantity* request = nullptr;
    const Quantity* limit = nullptr;
    if (d.resources) {
      auto r = d.resources->requests.find("memory");
      request = r == d.resources->requests.end() ? nullptr : &r->second;
      auto l = d.resources->limits.find("memory");
      limit = l == d.resources->limits.end() ? nullptr : &l->second;
      for (const auto* side : {&d.resources->requests, &d.resources->limits}) {
        const char* name = side == &d.resources->requests ? "requests" : "limits";
        for (const auto& [resource, q] : *side) {
          if (q.sign() < 0) {
            add(at(path, std::string("resources.") + name + "[" + resource + "]"),
                quoted(q.to_string()) + " is negative; allowed: a quantity of 0 or more");
          }
        }
      }
      for (const char* resource : {"memory", "cpu"}) {
        auto req = d.resources->requests.find(resource);
        auto lim = d.resources->limits.find(resource);
        if (req != d.resources->requests.end() && lim != d.resources->limits.end() &&
            req->second.compare(lim->second) > 0) {
          add(at(path, std::string("resources.requests[") + resource + "]"),
              quoted(req->second.to_string()) + " is more than the limit " +
                  quoted(lim->second.to_string()) + "; must be at most the limit");
        }
      }
    }
    if (!guest && !request) {
      add(at(path, "memory.guest"),
          "no memory requested; set memory.guest or resources.requests.memory");
      return;
    }
    const Quantity& effective = guest ? *guest : *request;
    const std::string where =
        guest ? at(path, "memory.guest") : at(path, "resources.requests[memory]");
    if (effective.compare(min_memory()) < 0) {
      add(where, quoted(effective.to_string()) + " is too small; must be at least 1Mi");
    }
    if (guest && limit && guest->compare(*limit) > 0) {
      add(at(path, "memory.guest"), quoted(guest->to_string()) + " is more than the memory limit " +
                                        quoted(limit->to_string()) +
                                        "; must be at most resources.limits.memory");
    }
  }

  void firmware(const Firmware& f, const std::string& path) {
    if (f.bootloader && f.bootloader->bios && f.bootloader->efi) {
      add(at(path, "bootloader"), "bios and efi are mutually exclusive; set one");
    }
    if (f.uuid) {
      static const std::regex re(
          "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}");
      if (!matches(*f.uuid, re)) {
        add(at(path, "uuid"),
            quoted(*f.uuid) +
                " is not a UUID; allowed: xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx (hex)");
      }
    }
    if (!f.kernel_boot) {
      return;
    }
    const auto& kb = *f.kernel_boot;
    const std::string kb_path = at(path, "kernelBoot");
    if (!kb.container) {
      add(at(kb_path, "container"),
          "required with kernelBoot: the image that holds the kernel and initrd");
      return;
    }
    const auto& c = *kb.container;
    const std::string c_path = at(kb_path, "container");
    if (c.image.empty()) {
      add(at(c_path, "image"), "must not be empty; set the image that holds the kernel");
    }
    if (!c.kernel_path && !c.initrd_path) {
      add(c_path, "set kernelPath or initrdPath (or both)");
    }
    for (const auto& [name, value] :
         {std::pair{"kernelPath", &c.kernel_path}, std::pair{"initrdPath", &c.initrd_path}}) {
      if (*value && ((*value)->empty() || (**value)[0] != '/')) {
        add(at(c_path, name),
            quoted(**value) + " is not an absolute path; allowed: /path/in/image");
      }
    }
    if (kb.kernel_args && !c.kernel_path) {
      add(at(kb_path, "kernelArgs"),
          "needs container.kernelPath: arguments go to a kernel we boot");
    }
  }

  void disks(const Devices& devices, const std::string& path) {
    std::map<std::string, size_t> seen;
    for (size_t i = 0; i < devices.disks.size(); ++i) {
      const auto& disk = devices.disks[i];
      const std::string p = index(at(path, "disks"), i);
      if (disk.name.empty()) {
        add(at(p, "name"), "must not be empty");
      } else if (auto [it, fresh] = seen.emplace(disk.name, i); !fresh) {
        add(at(p, "name"), quoted(disk.name) + " is already used by disks[" +
                               std::to_string(it->second) + "]; names must be unique");
      }
      if (disk.disk && disk.cdrom) {
        add(p, "disk and cdrom are mutually exclusive; set one");
      }
      if (disk.cdrom && disk.cdrom->bus == DiskBus::virtio) {
        add(at(p, "cdrom.bus"), "\"virtio\" is not allowed for a cdrom; allowed: sata, scsi");
      }
      if (disk.cdrom && disk.cdrom->read_only == false) {
        add(at(p, "cdrom.readonly"), "false is not allowed; a cdrom is read-only");
      }
      if (disk.cdrom && disk.cdrom->tray && *disk.cdrom->tray != "closed" &&
          *disk.cdrom->tray != "open") {
        add(at(p, "cdrom.tray"),
            quoted(*disk.cdrom->tray) + " is not supported; allowed: closed, open");
      }
      if (disk.disk && disk.disk->pci_address) {
        static const std::regex re("[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\\.[0-7]");
        if (!matches(*disk.disk->pci_address, re)) {
          add(at(p, "disk.pciAddress"), quoted(*disk.disk->pci_address) +
                                            " is not a PCI address; allowed: dddd:bb:ss.f (hex)");
        } else if (disk.disk->bus && *disk.disk->bus != DiskBus::virtio) {
          add(at(p, "disk.pciAddress"), "only a virtio disk has a PCI address");
        }
      }
      if (disk.serial) {
        static const std::regex re("[A-Za-z0-9_.+-]+");
        if (disk.serial->size() > 36 || !matches(*disk.serial, re)) {
          add(at(p, "serial"), quoted(*disk.serial) +
                                   " is not allowed; use at most 36 letters, digits, '_', '.', "
                                   "'+' or '-'");
        }
      }
    }
  }

  void interfaces(const Devices& devices, const std::string& path) {
    static const std::set<std::string> kModels = {"virtio",   "e1000", "e1000e",
                                                  "ne2k_pci", "pcnet", "rtl8139"};
    std::map<std::string, size_t> seen;
    for (size_t i = 0; i < devices.interfaces.size(); ++i) {
      const auto& iface = devices.interfaces[i];
      const std::string p = index(at(path, "interfaces"), i);
      if (iface.name.empty()) {
        add(at(p, "name"), "must not be empty");
      } else if (auto [it, fresh] = seen.emplace(iface.name, i); !fresh) {
        add(at(p, "name"), quoted(iface.name) + " is already used by interfaces[" +
                               std::to_string(it->second) + "]; names must be unique");
      }
      if (iface.model && !kModels.contains(*iface.model)) {
        add(at(p, "model"), quoted(*iface.model) +
                                " is not supported; allowed: virtio, e1000, e1000e, ne2k_pci, "
                                "pcnet, rtl8139");
      }
      if (iface.mac_address) {
        static const std::regex re("([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}");
        if (!matches(*iface.mac_address, re)) {
          add(at(p, "macAddress"), quoted(*iface.mac_address) +
                                       " is not a MAC address; allowed: six hex pairs, e.g. "
                                       "02:00:00:00:00:01");
        } else if ((std::stoi(iface.mac_address->substr(0, 2), nullptr, 16) & 1) != 0) {
          add(at(p, "macAddress"),
              quoted(*iface.mac_address) + " is a multicast address; the first octet must be even");
        }
      }
      if (iface.pci_address) {
        static const std::regex re("[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\\.[0-7]");
        if (!matches(*iface.pci_address, re)) {
          add(at(p, "pciAddress"),
              quoted(*iface.pci_address) + " is not a PCI address; allowed: dddd:bb:ss.f (hex)");
        }
      }
      const int bindings = int(iface.masquerade.has_value()) + int(iface.bridge.has_value()) +
                           int(iface.passt.has_value());
      if (bindings == 0) {
        add(p, "no binding; set one of masquerade, bridge, passt");
      } else if (bindings > 1) {
        add(p, "more than one binding; set exactly one of masquerade, bridge, passt");
      }
      for (size_t j = 0; j < iface.ports.size(); ++j) {
        const auto& port = iface.ports[j];
        const std::string pp = index(at(p, "ports"), j);
        if (port.port < 1 || port.port > 65535) {
          add(at(pp, "port"), std::to_string(port.port) + " is out of range; allowed: 1-65535");
        }
      }
      if (!iface.ports.empty() && iface.bridge) {
        add(at(p, "ports"),
            "not allowed with a bridge binding (all ports reach the guest); "
            "allowed with masquerade or passt");
      }
    }
  }

  void volumes(const VirtualMachineInstanceSpec& s, const std::string& path) {
    const auto& disks = s.domain.devices.disks;
    std::map<std::string, size_t> volume_index;
    size_t cloud_inits = 0;
    for (size_t i = 0; i < s.volumes.size(); ++i) {
      const auto& v = s.volumes[i];
      const std::string p = index(at(path, "volumes"), i);
      if (v.name.empty()) {
        add(at(p, "name"), "must not be empty");
      } else if (auto [it, fresh] = volume_index.emplace(v.name, i); !fresh) {
        add(at(p, "name"), quoted(v.name) + " is already used by volumes[" +
                               std::to_string(it->second) + "]; names must be unique");
      }
      std::vector<std::string> sources;
      if (v.container_disk)
        sources.push_back("containerDisk");
      if (v.persistent_volume_claim)
        sources.push_back("persistentVolumeClaim");
      if (v.empty_disk)
        sources.push_back("emptyDisk");
      if (v.cloud_init_no_cloud)
        sources.push_back("cloudInitNoCloud");
      if (v.config_map)
        sources.push_back("configMap");
      if (v.secret)
        sources.push_back("secret");
      if (sources.empty()) {
        add(p,
            "no volume source; set one of containerDisk, persistentVolumeClaim, emptyDisk, "
            "cloudInitNoCloud, configMap, secret");
      } else if (sources.size() > 1) {
        std::string list;
        for (const auto& src : sources) {
          list += (list.empty() ? "" : ", ") + src;
        }
        add(p, "more than one volume source (" + list + "); set exactly one");
      }
      if (v.container_disk) {
        const auto& cd = *v.container_disk;
        if (cd.image.empty()) {
          add(at(p, "containerDisk.image"), "must not be empty; set the image holding the disk");
        }
        if (cd.path && (cd.path->empty() || (*cd.path)[0] != '/')) {
          add(at(p, "containerDisk.path"),
              quoted(*cd.path) + " is not an absolute path; allowed: /path/in/image");
        }
      }
      if (v.persistent_volume_claim && v.persistent_volume_claim->claim_name.empty()) {
        add(at(p, "persistentVolumeClaim.claimName"), "must not be empty");
      }
      if (v.empty_disk && v.empty_disk->capacity.sign() <= 0) {
        add(at(p, "emptyDisk.capacity"),
            quoted(v.empty_disk->capacity.to_string()) + " is not allowed; must be more than 0");
      }
      if (v.cloud_init_no_cloud) {
        ++cloud_inits;
        if (cloud_inits > 1) {
          add(at(p, "cloudInitNoCloud"), "a second cloud-init volume; at most one is allowed");
        }
        cloud_init(*v.cloud_init_no_cloud, at(p, "cloudInitNoCloud"));
      }
      if (v.config_map && v.config_map->name.empty()) {
        add(at(p, "configMap.name"), "must not be empty");
      }
      if (v.secret && v.secret->secret_name.empty()) {
        add(at(p, "secret.secretName"), "must not be empty");
      }
    }
    std::set<std::string> disk_names;
    for (size_t i = 0; i < disks.size(); ++i) {
      disk_names.insert(disks[i].name);
      if (!disks[i].name.empty() && !volume_index.contains(disks[i].name)) {
        add(at(index(at(path, "domain.devices.disks"), i), "name"),
            quoted(disks[i].name) + " has no matching volume");
      }
    }
    for (size_t i = 0; i < s.volumes.size(); ++i) {
      if (!s.volumes[i].name.empty() && !disk_names.contains(s.volumes[i].name)) {
        add(at(index(at(path, "volumes"), i), "name"),
            quoted(s.volumes[i].name) + " is not used by any disk; add a disk of that name");
      }
    }
  }

  void cloud_init(const CloudInitNoCloudSource& c, const std::string& path) {
    const int user = int(c.user_data.has_value()) + int(c.user_data_base64.has_value()) +
                     int(c.user_data_secret_ref.has_value());
    const int network = int(c.network_data.has_value()) + int(c.network_data_base64.has_value()) +
                        int(c.network_data_secret_ref.has_value());
    if (user == 0 && network == 0) {
      add(path,
          "no data; set one of userData, userDataBase64, secretRef (and optionally one of "
          "networkData, networkDataBase64, networkDataSecretRef)");
    }
    if (user > 1) {
      add(path, "userData, userDataBase64 and secretRef are mutually exclusive; set one");
    }
    if (network > 1) {
      add(path,
          "networkData, networkDataBase64 and networkDataSecretRef are mutually exclusive; set "
          "one");
    }
    constexpr size_t kMaxLen = 2048 * 1024;  // KubeVirt's limit for inline cloud-init data
    for (const auto& [name, value] :
         {std::pair{"userData", &c.user_data}, std::pair{"userDataBase64", &c.user_data_base64},
          std::pair{"networkData", &c.network_data},
          std::pair{"networkDataBase64", &c.network_data_base64}}) {
      if (*value && (*value)->size() > kMaxLen) {
        add(at(path, name),
            "is " + std::to_string((*value)->size()) + " bytes; must be at most 2097152 (2 MiB)");
      }
    }
    for (const auto& [name, value] : {std::pair{"userDataBase64", &c.user_data_base64},
                                      std::pair{"networkDataBase64", &c.network_data_base64}}) {
      if (*value && !is_base64(**value)) {
        add(at(path, name), "is not valid base64; allowed: the standard alphabet with padding");
      }
    }
    if (c.user_data_secret_ref && c.user_data_secret_ref->name.empty()) {
      add(at(path, "secretRef.name"), "must not be empty");
    }
    if (c.network_data_secret_ref && c.network_data_secret_ref->name.empty()) {
      add(at(path, "networkDataSecretRef.name"), "must not be empty");
    }
  }

  void networks(const VirtualMachineInstanceSpec& s, const std::string& path) {
    const auto& ifaces = s.domain.devices.interfaces;
    std::map<std::string, size_t> network_index;
    size_t pods = 0;
    for (size_t i = 0; i < s.networks.size(); ++i) {
      const auto& n = s.networks[i];
      const std::string p = index(at(path, "networks"), i);
      if (n.name.empty()) {
        add(at(p, "name"), "must not be empty");
      } else if (auto [it, fresh] = network_index.emplace(n.name, i); !fresh) {
        add(at(p, "name"), quoted(n.name) + " is already used by networks[" +
                               std::to_string(it->second) + "]; names must be unique");
      }
      if (!n.pod) {
        add(p, "no network source; allowed: pod");
        continue;
      }
      if (++pods > 1) {
        add(at(p, "pod"), "a second pod network; at most one is allowed");
      }
      if (n.pod->vm_network_cidr && !is_ipv4_cidr(*n.pod->vm_network_cidr)) {
        add(at(p, "pod.vmNetworkCIDR"),
            quoted(*n.pod->vm_network_cidr) + " is not an IPv4 CIDR; allowed: e.g. 10.0.2.0/24");
      }
      if (n.pod->vm_ipv6_network_cidr && !is_ipv6_cidr(*n.pod->vm_ipv6_network_cidr)) {
        add(at(p, "pod.vmIPv6NetworkCIDR"),
            quoted(*n.pod->vm_ipv6_network_cidr) +
                " is not an IPv6 CIDR; allowed: e.g. fd10:0:2::/120");
      }
    }
    std::set<std::string> iface_names;
    for (size_t i = 0; i < ifaces.size(); ++i) {
      iface_names.insert(ifaces[i].name);
      if (!ifaces[i].name.empty() && !network_index.contains(ifaces[i].name)) {
        add(at(index(at(path, "domain.devices.interfaces"), i), "name"),
            quoted(ifaces[i].name) + " has no matching network");
      }
    }
    for (size_t i = 0; i < s.networks.size(); ++i) {
      if (!s.networks[i].name.empty() && !iface_names.contains(s.networks[i].name)) {
        add(at(index(at(path, "networks"), i), "name"),
            quoted(s.networks[i].name) + " has no matching interface");
      }
    }
  }

  void boot_orders(const Devices& devices, const std::string& path) {
    std::map<uint32_t, std::string> used;
    auto check = [&](const std::optional<uint32_t>& order, const std::string& device,
                     const std::string& p) {
      if (!order) {
        return;
      }
      if (*order == 0) {
        add(at(p, "bootOrder"), "0 is not allowed; must be at least 1 (1 boots first)");
        return;
      }
      auto [it, fresh] = used.emplace(*order, device);
      if (!fresh) {
        add(at(p, "bootOrder"), std::to_string(*order) + " is already used by " + it->second +
                                    "; boot orders must be unique");
      }
    };
    for (size_t i = 0; i < devices.disks.size(); ++i) {
      const std::string device = "disks[" + std::to_string(i) + "]";
      check(devices.disks[i].boot_order, device, at(path, device));
    }
    for (size_t i = 0; i < devices.interfaces.size(); ++i) {
      const std::string device = "interfaces[" + std::to_string(i) + "]";
      check(devices.interfaces[i].boot_order, device, at(path, device));
    }
  }

  FieldErrors& errors_;
};

void validate_meta(const ObjectMeta& meta, FieldErrors& errors) {
  if (!meta.name && !meta.generate_name) {
    errors.push_back({"metadata.name", "required field is missing (or set metadata.generateName)"});
  } else if (meta.name && !is_dns_subdomain(*meta.name)) {
    errors.push_back({"metadata.name",
                      quoted(*meta.name) +
                          " is not a valid name; must be lower-case letters, digits, '-' and '.', "
                          "start and end with a letter or digit, at most 253 characters"});
  }
}

}  // namespace

FieldErrors validate_spec(const VirtualMachineInstanceSpec& spec, const std::string& path) {
  FieldErrors errors;
  Validator(errors).spec(spec, path);
  return errors;
}

FieldErrors validate(const VirtualMachineInstance& vmi) {
  FieldErrors errors;
  validate_meta(vmi.metadata, errors);
  Validator(errors).spec(vmi.spec, "spec");
  return errors;
}

FieldErrors validate(const VirtualMachine& vm) {
  FieldErrors errors;
  validate_meta(vm.metadata, errors);
  if (vm.spec.running && vm.spec.run_strategy) {
    errors.push_back({"spec.running",
                      "mutually exclusive with spec.runStrategy; set only runStrategy (running: "
                      "true is Always, false is Halted)"});
  }
  Validator(errors).spec(vm.spec.template_.spec, "spec.template.spec");
  return errors;
}

Admission admit(const core::json::Value& manifest) {
  Admission out;
  if (!manifest.IsObject()) {
    out.errors.push_back(
        {"", "expected an object, got " + std::string(core::json::type_name(manifest))});
    return out;
  }
  out.kind = std::string(core::json::get_string(manifest, "kind").value_or(""));
  if (const auto* meta = core::json::find(manifest, "metadata")) {
    out.name =
        std::string(core::json::get_string(*meta, "name")
                        .value_or(core::json::get_string(*meta, "generateName").value_or("")));
  }
  auto& a = out.defaulted.GetAllocator();
  if (out.kind == kVirtualMachineKind) {
    auto vm = decode_vm(manifest, out.errors);
    if (out.errors.empty()) {
      vm = with_defaults(std::move(vm));
      out.errors = validate(vm);
      out.defaulted.CopyFrom(encode(vm, a), a);
    }
  } else if (out.kind == kVirtualMachineInstanceKind) {
    auto vmi = decode_vmi(manifest, out.errors);
    if (out.errors.empty()) {
      vmi = with_defaults(std::move(vmi));
      out.errors = validate(vmi);
      out.defaulted.CopyFrom(encode(vmi, a), a);
    }
  } else {
    out.errors.push_back({"kind", (out.kind.empty() ? std::string("missing")
                                                    : quoted(out.kind) + " is not supported") +
                                      "; allowed: VirtualMachine, VirtualMachineInstance"});
  }
  return out;
}

}  // namespace kv::api::v1
