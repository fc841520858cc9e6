// The domain's rules: machine type, CPU topology, memory and resources, firmware (EFI), clock,
// features, IO threads, TPM.

#include <regex>
#include <set>
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

// libvirt's x86 CPU feature names (/usr/share/libvirt/cpu_map/x86_features.xml of the launcher
// image's libvirt 9.0): a name outside it makes libvirt refuse the domain at start.
bool known_cpu_feature(const std::string& name) {
  // clang-format off
  static const std::set<std::string> kNames = {
      "3dnow", "3dnowext", "3dnowprefetch", "abm", "acpi", "adx", "aes", "amd-no-ssb", "amd-ssbd",
      "amd-stibp", "amx-bf16", "amx-int8", "amx-tile", "apic", "arat", "arch-capabilities",
      "arch-lbr", "avic", "avx", "avx-vnni", "avx2", "avx512-4fmaps", "avx512-4vnniw",
      "avx512-bf16", "avx512-fp16", "avx512-vp2intersect", "avx512-vpopcntdq", "avx512bitalg",
      "avx512bw", "avx512cd", "avx512dq", "avx512er", "avx512f", "avx512ifma", "avx512pf",
      "avx512vbmi", "avx512vbmi2", "avx512vl", "avx512vnni", "bmi1", "bmi2", "bus-lock-detect",
      "cid", "cldemote", "clflush", "clflushopt", "clwb", "clzero", "cmov", "cmp_legacy", "cmt",
      "core-capability", "cr8legacy", "cvt16", "cx16", "cx8", "dca", "de", "decodeassists", "ds",
      "ds_cpl", "dtes64", "erms", "est", "extapic", "f16c", "flushbyasid", "fma", "fma4", "fpu",
      "fsgsbase", "fsrm", "fxsr", "fxsr_opt", "gfni", "hle", "ht", "hypervisor", "ia64", "ibpb",
      "ibrs", "ibrs-all", "ibs", "intel-pt", "intel-pt-lip", "invpcid", "invtsc", "la57",
      "lahf_lm", "lbrv", "lm", "lwp", "mbm_local", "mbm_total", "mca", "mce", "md-clear", "mds-no",
      "misalignsse", "mmx", "mmxext", "monitor", "movbe", "movdir64b", "movdiri", "mpx", "msr",
      "mtrr", "nodeid_msr", "npt", "nrip-save", "nx", "ospke", "osvw", "osxsave", "pae", "pat",
      "pause-filter", "pbe", "pcid", "pclmuldq", "pcommit", "pconfig", "pdcm", "pdpe1gb",
      "perfctr_core", "perfctr_nb", "pfthreshold", "pge", "pks", "pku", "pn", "pni", "popcnt",
      "pschange-mc-no", "pse", "pse36", "rdctl-no", "rdpid", "rdrand", "rdseed", "rdtscp", "rsba",
      "rtm", "sep", "serialize", "sgx", "sgx-debug", "sgx-exinfo", "sgx-kss", "sgx-mode64",
      "sgx-provisionkey", "sgx-tokenkey", "sgx1", "sgx2", "sgxlc", "sha-ni", "skinit",
      "skip-l1dfl-vmentry", "smap", "smep", "smx", "spec-ctrl", "split-lock-detect", "ss",
      "ssb-no", "ssbd", "sse", "sse2", "sse4.1", "sse4.2", "sse4a", "ssse3", "stibp", "svm",
      "svm-lock", "svme-addr-chk", "syscall", "taa-no", "tbm", "tce", "tm", "tm2", "topoext",
      "tsc", "tsc-deadline", "tsc-scale", "tsc_adjust", "tsx-ctrl", "tsx-ldtrk", "umip",
      "v-vmsave-vmload", "vaes", "vgif", "virt-ssbd", "vmcb-clean", "vme", "vmx", "vpclmulqdq",
      "waitpkg", "wbnoinvd", "wdt", "x2apic", "xfd", "xgetbv1", "xop", "xsave", "xsavec",
      "xsaveerptr", "xsaveopt", "xsaves", "xtpr",
  };
  // clang-format on
  return kNames.contains(name);
}

// cpu.features and cpu.dedicatedCpuPlacement.
void cpu_extras(const DomainSpec& d, const std::string& path, FieldErrors& errors) {
  if (!d.cpu) {
    return;
  }
  static const std::set<std::string> kPolicies = {"force", "require", "optional", "disable",
                                                  "forbid"};
  static const std::regex kName("[a-z0-9][a-z0-9_.-]*");
  for (size_t i = 0; i < d.cpu->features.size(); ++i) {
    const auto& f = d.cpu->features[i];
    const std::string p = index(at(path, "cpu.features"), i);
    if (!std::regex_match(f.name, kName) || !known_cpu_feature(f.name)) {
      add(errors, at(p, "name"),
          quoted(f.name) +
              " is not a CPU feature libvirt knows; allowed: libvirt's x86 names, e.g. vmx, svm, "
              "avx2, pcid, x2apic");
    }
    if (f.policy && !kPolicies.contains(*f.policy)) {
      add(errors, at(p, "policy"),
          quoted(*f.policy) +
              " is not supported; allowed: force, require, optional, disable, "
              "forbid");
    }
  }
  if (d.cpu->dedicated_cpu_placement.value_or(false)) {
    add(errors, at(path, "cpu.dedicatedCpuPlacement"),
        "true is not supported: pinning vCPUs to dedicated host CPUs needs the kubelet's static "
        "CPU manager policy, which this add-on does not set up; leave it false");
  }
}

void hugepages(const DomainSpec& d, const std::string& path, FieldErrors& errors) {
  if (d.memory && d.memory->hugepages) {
    add(errors, at(path, "memory.hugepages"),
        "not supported: guest memory on huge pages needs huge pages pre-allocated on the node "
        "and a hugepages-<size> pod resource, which this add-on does not request; remove it");
  }
}

void tick_policy(const std::optional<std::string>& policy, const std::set<std::string>& allowed,
                 const std::string& allowed_text, const std::string& p, FieldErrors& errors) {
  if (policy && !allowed.contains(*policy)) {
    add(errors, at(p, "tickPolicy"),
        quoted(*policy) + " is not supported; allowed: " + allowed_text);
  }
}

void clock(const Clock& c, const std::string& path, FieldErrors& errors) {
  // Upstream says "exactly one" but accepts neither (libvirt's default, utc); both is refused.
  if (c.utc && c.timezone) {
    add(errors, path, "utc and timezone are mutually exclusive; set one");
  }
  if (c.timezone) {
    // A TZ database name: Area/Location, or UTC-like single names; no path tricks.
    static const std::regex re("[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*");
    if (!std::regex_match(*c.timezone, re) || c.timezone->size() > 64) {
      add(errors, at(path, "timezone"),
          quoted(*c.timezone) +
              " is not a time zone name; allowed: a TZ database name such as "
              "Europe/Paris or America/New_York");
    }
  }
  if (!c.timer) {
    return;
  }
  const std::string t = at(path, "timer");
  if (c.timer->rtc) {
    tick_policy(c.timer->rtc->tick_policy, {"delay", "catchup"}, "delay, catchup", at(t, "rtc"),
                errors);
    const auto& track = c.timer->rtc->track;
    if (track && *track != "guest" && *track != "wall") {
      add(errors, at(t, "rtc.track"), quoted(*track) + " is not supported; allowed: guest, wall");
    }
  }
  if (c.timer->pit) {
    tick_policy(c.timer->pit->tick_policy, {"delay", "catchup", "discard"},
                "delay, catchup, discard", at(t, "pit"), errors);
  }
  if (c.timer->hpet) {
    tick_policy(c.timer->hpet->tick_policy, {"delay", "catchup", "merge", "discard"},
                "delay, catchup, merge, discard", at(t, "hpet"), errors);
  }
}

bool on(const std::optional<bool>& enabled) {
  return enabled.value_or(true);
}

// Upstream's Hyper-V dependencies: a feature that is on needs the one it builds on, which
// defaulting switches on when absent; refused when the user switched it off.
void hyperv(const FeatureHyperv& h, const std::string& p, FieldErrors& errors) {
  auto enabled = [](const auto& feature) { return feature && on(feature->enabled); };
  auto disabled = [](const auto& feature) { return !feature || !on(feature->enabled); };
  auto requires_ = [&](bool feature_on, const char* name, bool needed_off, const char* needed) {
    if (feature_on && needed_off) {
      add(errors, at(p, name),
          "'" + at(p, name) + "' requires '" + at(p, needed) + "', which was disabled.");
    }
  };
  requires_(enabled(h.evmcs), "evmcs", disabled(h.vapic), "vapic");
  requires_(enabled(h.ipi), "ipi", disabled(h.vpindex), "vpindex");
  requires_(enabled(h.tlbflush), "tlbflush", disabled(h.vpindex), "vpindex");
  requires_(enabled(h.synictimer), "synictimer", disabled(h.synic), "synic");
  requires_(enabled(h.synic), "synic", disabled(h.vpindex), "vpindex");
  if (h.spinlocks && on(h.spinlocks->enabled) && h.spinlocks->retries &&
      *h.spinlocks->retries < 4096) {
    add(errors, at(p, "spinlocks.spinlocks"),
        std::to_string(*h.spinlocks->retries) + " is too small; must be at least 4096");
  }
  if (h.vendorid && on(h.vendorid->enabled)) {
    const auto& id = h.vendorid->vendor_id;
    if (!id || id->empty() || id->size() > 12) {
      add(errors, at(p, "vendorid.vendorid"),
          (id ? quoted(*id) + " is not allowed" : std::string("missing")) +
              "; allowed: 1 to 12 characters");
    }
  }
}

void features(const DomainSpec& d, const std::string& path, FieldErrors& errors) {
  const Features& f = *d.features;
  if (f.hyperv && f.hyperv_passthrough) {
    add(errors, at(path, "hyperv"),
        "Cannot explicitly set hyperV features if HypervPassthrough is being used. Please use "
        "either HyperV or HypervPassthrough.");
  }
  if (f.hyperv) {
    hyperv(*f.hyperv, at(path, "hyperv"), errors);
  }
  const bool uefi = d.firmware && d.firmware->bootloader && d.firmware->bootloader->efi;
  if (f.acpi && !on(f.acpi->enabled) && uefi) {
    add(errors, at(path, "acpi.enabled"),
        "false is not allowed with EFI firmware, which needs ACPI");
  }
}

// ioThreadsPolicy and disks' dedicatedIOThread.
void io_threads(const DomainSpec& d, const std::string& path, FieldErrors& errors) {
  if (d.io_threads_policy && *d.io_threads_policy != "shared" && *d.io_threads_policy != "auto") {
    add(errors, at(path, "ioThreadsPolicy"),
        quoted(*d.io_threads_policy) +
            (*d.io_threads_policy == "supplementalPool"
                 ? " is not supported yet (it needs ioThreads.supplementalPoolThreadCount)"
                 : " is not supported") +
            "; allowed: shared, auto");
  }
}

// networkInterfaceMultiqueue: one queue per vCPU on virtio NICs. The pod NIC is QEMU user
// networking, a single-queue backend, so only a one-vCPU guest (one queue) gets upstream's meaning.
void multi_queue(const DomainSpec& d, const std::string& path, FieldErrors& errors) {
  if (!d.devices.network_interface_multi_queue.value_or(false)) {
    return;
  }
  uint64_t vcpus = 1;
  if (d.cpu) {
    vcpus = uint64_t{d.cpu->sockets.value_or(1)} * d.cpu->cores.value_or(1) *
            d.cpu->threads.value_or(1);
  }
  bool virtio = false;
  for (const auto& iface : d.devices.interfaces) {
    virtio = virtio || iface.model.value_or("virtio") == "virtio";
  }
  if (vcpus > 1 && virtio) {
    add(errors, at(path, "devices.networkInterfaceMultiqueue"),
        "true is not supported with " + std::to_string(vcpus) +
            " vCPUs: the pod network interface is served by passt over one stream socket, which "
            "has one queue; "
            "leave it unset or false");
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
  cpu_extras(d, path, errors);
  memory(d, path, errors);
  hugepages(d, path, errors);
  if (d.firmware) {
    firmware(*d.firmware, at(path, "firmware"), errors);
  }
  if (d.clock) {
    clock(*d.clock, at(path, "clock"), errors);
  }
  if (d.features) {
    features(d, at(path, "features"), errors);
  }
  io_threads(d, path, errors);
  multi_queue(d, path, errors);
  efi(d, path, errors);
  tpm(d, path, errors);
}

}  // namespace kv::api::v1::check
