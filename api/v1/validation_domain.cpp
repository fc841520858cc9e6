// The domain's rules: machine type, CPU topology, memory and resources, firmware, TPM.

#include <regex>
#include <utility>

#include "api/v1/validation_checks.hpp"

namespace kv::api::v1::check {
namespace {

// Memory below 1Mi cannot boot anything and is almost always a unit mistake ("512" for "512Mi").
const Quantity& min_memory() {
  static const Quantity q = Quantity::from_int(1 << 20, Quantity::Format::binary_si);
  return q;
}

void machine(const DomainSpec& d, const std::string& path, FieldErrors& errors) {
  if (d.machine && d.machine->type) {
    static const std::regex re("q35|pc-q35-.+");
    if (!std::regex_match(*d.machine->type, re)) {
      add(errors, at(path, "machine.type"),
          quoted(*d.machine->type) + " is not supported; allowed: q35, pc-q35-*");
    }
  }
}

void cpu(const DomainSpec& d, const std::string& path, FieldErrors& errors) {
  if (!d.cpu) {
    return;
  }
  const std::pair<const char*, const std::optional<uint32_t>*> topology[] = {
      {"cores", &d.cpu->cores}, {"sockets", &d.cpu->sockets}, {"threads", &d.cpu->threads}};
  for (const auto& [name, value] : topology) {
    if (*value && **value == 0) {
      add(errors, at(path, std::string("cpu.") + name), "0 is not allowed; must be at least 1");
    }
  }
}

// resources.requests/limits: no negative quantity; a request at most its limit.
void resources(const ResourceRequirements& r, const std::string& path, FieldErrors& errors) {
  for (const auto* side : {&r.requests, &r.limits}) {
    const char* name = side == &r.requests ? "requests" : "limits";
    for (const auto& [resource, q] : *side) {
      if (q.sign() < 0) {
        add(errors, at(path, std::string("resources.") + name + "[" + resource + "]"),
            quoted(q.to_string()) + " is negative; allowed: a quantity of 0 or more");
      }
    }
  }
  for (const char* resource : {"memory", "cpu"}) {
    auto req = r.requests.find(resource);
    auto lim = r.limits.find(resource);
    if (req != r.requests.end() && lim != r.limits.end() && req->second.compare(lim->second) > 0) {
      add(errors, at(path, std::string("resources.requests[") + resource + "]"),
          quoted(req->second.to_string()) + " is more than the limit " +
              quoted(lim->second.to_string()) + "; must be at most the limit");
    }
  }
}

const Quantity* find_memory(const std::map<std::string, Quantity>& side) {
  auto it = side.find("memory");
  return it == side.end() ? nullptr : &it->second;
}

// The guest's memory: memory.guest or resources.requests.memory, at least 1Mi, at most the limit.
void memory(const DomainSpec& d, const std::string& path, FieldErrors& errors) {
  const Quantity* guest = d.memory && d.memory->guest ? &*d.memory->guest : nullptr;
  const Quantity* request = d.resources ? find_memory(d.resources->requests) : nullptr;
  const Quantity* limit = d.resources ? find_memory(d.resources->limits) : nullptr;
  if (d.resources) {
    resources(*d.resources, path, errors);
  }
  if (!guest && !request) {
    add(errors, at(path, "memory.guest"),
        "no memory requested; set memory.guest or resources.requests.memory");
    return;
  }
  const Quantity& effective = guest ? *guest : *request;
  const std::string where =
      guest ? at(path, "memory.guest") : at(path, "resources.requests[memory]");
  if (effective.compare(min_memory()) < 0) {
    add(errors, where, quoted(effective.to_string()) + " is too small; must be at least 1Mi");
  }
  if (guest && limit && guest->compare(*limit) > 0) {
    add(errors, at(path, "memory.guest"),
        quoted(guest->to_string()) + " is more than the memory limit " +
            quoted(limit->to_string()) + "; must be at most resources.limits.memory");
  }
}

void kernel_boot(const KernelBoot& kb, const std::string& kb_path, FieldErrors& errors) {
  if (!kb.container) {
    add(errors, at(kb_path, "container"),
        "required with kernelBoot: the image that holds the kernel and initrd");
    return;
  }
  const auto& c = *kb.container;
  const std::string c_path = at(kb_path, "container");
  if (c.image.empty()) {
    add(errors, at(c_path, "image"), "must not be empty; set the image that holds the kernel");
  }
  if (!c.kernel_path && !c.initrd_path) {
    add(errors, c_path, "set kernelPath or initrdPath (or both)");
  }
  for (const auto& [name, value] :
       {std::pair{"kernelPath", &c.kernel_path}, std::pair{"initrdPath", &c.initrd_path}}) {
    if (*value && ((*value)->empty() || (**value)[0] != '/')) {
      add(errors, at(c_path, name),
          quoted(**value) + " is not an absolute path; allowed: /path/in/image");
    }
  }
  if (kb.kernel_args && !c.kernel_path) {
    add(errors, at(kb_path, "kernelArgs"),
        "needs container.kernelPath: arguments go to a kernel we boot");
  }
}

void firmware(const Firmware& f, const std::string& path, FieldErrors& errors) {
  if (f.bootloader && f.bootloader->bios && f.bootloader->efi) {
    add(errors, at(path, "bootloader"), "bios and efi are mutually exclusive; set one");
  }
  if (f.uuid) {
    static const std::regex re(
        "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}");
    if (!std::regex_match(*f.uuid, re)) {
      add(errors, at(path, "uuid"),
          quoted(*f.uuid) + " is not a UUID; allowed: xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx (hex)");
    }
  }
  if (f.kernel_boot) {
    kernel_boot(*f.kernel_boot, at(path, "kernelBoot"), errors);
  }
}

// EFI: secure boot needs SMM (upstream's rule and wording: pkg/virt-api/webhooks/.../
// vmi-create-admitter.go validateDomainSpec; SMM counts only when features.smm is listed and not
// disabled), and persistent NVRAM is not served.
void efi(const DomainSpec& d, const std::string& path, FieldErrors& errors) {
  // bios and efi together is refused by firmware() already.
  if (!d.firmware || !d.firmware->bootloader || !d.firmware->bootloader->efi ||
      d.firmware->bootloader->bios) {
    return;
  }
  const EfiBootloader& efi = *d.firmware->bootloader->efi;
  bool smm = d.features && d.features->smm && d.features->smm->enabled.value_or(true);
  if (efi.secure_boot.value_or(true) && !smm) {
    add(errors, path,
        "has EFI SecureBoot enabled. SecureBoot requires SMM, which is currently disabled. "
        "Enable features.smm, or set firmware.bootloader.efi.secureBoot: false");
  }
  if (efi.persistent.value_or(false)) {
    add(errors, at(path, "firmware.bootloader.efi.persistent"),
        "true is not supported yet: persistent EFI variables are kept in a backend-storage "
        "PersistentVolumeClaim, which this installation does not create; allowed: false");
  }
}

// devices.tpm: an emulated TPM whose state lives as long as the launcher pod.
void tpm(const DomainSpec& d, const std::string& path, FieldErrors& errors) {
  const auto& t = d.devices.tpm;
  if (t && t->enabled.value_or(true) && t->persistent.value_or(false)) {
    add(errors, at(path, "devices.tpm.persistent"),
        "true is not supported yet: a persistent TPM state is kept in a backend-storage "
        "PersistentVolumeClaim, which this installation does not create; allowed: false");
  }
}

}  // namespace

void domain(const DomainSpec& d, const std::string& path, FieldErrors& errors) {
  machine(d, path, errors);
  cpu(d, path, errors);
  memory(d, path, errors);
  if (d.firmware) {
    firmware(*d.firmware, at(path, "firmware"), errors);
  }
  efi(d, path, errors);
  tpm(d, path, errors);
}

}  // namespace kv::api::v1::check
