#include "api/instancetype/validation.hpp"

#include <algorithm>
#include <cctype>

#include "api/instancetype/codec.hpp"
#include "core/json.hpp"

namespace kv::api::instancetype {
namespace {

using When = Rule::When;
namespace json = core::json;

constexpr std::string_view kNoHotplug = "not supported: no CPU or memory hotplug here";
constexpr std::string_view kNotYet =
    "not supported yet: the VirtualMachineInstance does not serve the field this fills";

std::string at(const std::string& path, std::string_view rest) {
  if (rest.empty()) {
    return path;
  }
  return path.empty() ? std::string(rest) : path + "." + std::string(rest);
}

// Applies the rules to the encoded spec, so the checks are the CRD's rules, read the same way.
void apply_rules(const std::vector<Rule>& rules, const json::Value& spec, const std::string& path,
                 FieldErrors& errors) {
  for (const auto& r : rules) {
    const json::Value* parent = &spec;
    if (!r.parent.empty()) {
      std::string_view rest = r.parent;
      while (parent && !rest.empty()) {
        auto dot = rest.find('.');
        parent = json::find(*parent, rest.substr(0, dot));
        rest = dot == std::string_view::npos ? std::string_view{} : rest.substr(dot + 1);
      }
    }
    if (!parent || !parent->IsObject()) {
      continue;
    }
    const json::Value* v = json::find(*parent, r.field);
    const bool refused = v && ((r.when == When::present) ||
                               (r.when == When::is_true && v->IsBool() && v->GetBool()) ||
                               (r.when == When::nonempty && v->IsArray() && !v->Empty()));
    if (refused) {
      errors.push_back({at(at(path, r.parent), r.field), std::string(r.message)});
    }
  }
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool kind_is(std::string_view kind, std::string_view singular) {
  const std::string k = lower(kind);
  return k == singular || k == std::string(singular) + "s";
}

}  // namespace

const std::vector<Rule>& instancetype_rules() {
  static const std::vector<Rule> rules = {
      {"cpu", "dedicatedCPUPlacement", When::is_true,
       "not supported: no dedicated CPUs here (no CPU manager with static policy)"},
      {"cpu", "numa", When::present, "not supported: no guest NUMA topology here"},
      {"cpu", "isolateEmulatorThread", When::is_true,
       "not supported: needs dedicatedCPUPlacement, which is not supported"},
      {"cpu", "realtime", When::present, "not supported: no realtime tuning here"},
      {"cpu", "maxSockets", When::present, kNoHotplug},
      {"memory", "hugepages", When::present,
       "not supported: hugepages are not supported; guest memory is ordinary pod memory"},
      {"memory", "maxGuest", When::present, kNoHotplug},
      {"", "gpus", When::nonempty, "not supported: no GPU passthrough here"},
      {"", "hostDevices", When::nonempty, "not supported: no host device passthrough here"},
      {"", "ioThreads", When::present, "not supported: no supplemental IO thread pool here"},
      {"", "launchSecurity", When::present, "not supported: no confidential computing (SEV) here"},
  };
  return rules;
}

const std::vector<Rule>& preference_rules() {
  static const std::vector<Rule> rules = {
      {"devices", "preferredAutoattachInputDevice", When::present, kNotYet},
      {"devices", "preferredDisableHotplug", When::present, "not supported: no hotplug here"},
      {"devices", "preferredVirtualGPUOptions", When::present, "not supported: no vGPUs here"},
      {"devices", "preferredSoundModel", When::present, "not supported: no sound devices here"},
      {"devices", "preferredUseVirtioTransitional", When::present,
       "not supported: virtio-transitional devices are not offered here"},
      {"devices", "preferredLunBus", When::present, "not supported: no LUN disks here"},
      {"devices", "preferredDiskDedicatedIoThread", When::present,
       "not supported: no dedicated IO threads here"},
      {"devices", "preferredDiskBlockSize", When::present,
       "not supported: disks keep their native block sizes here"},
      {"devices", "preferredPanicDeviceModel", When::present,
       "not supported: no panic devices here"},
      {"devices", "preferredVideoType", When::present,
       "not supported: the video device is always VGA here"},
      {"volumes", "preferredStorageClassName", When::present,
       "not supported: no DataVolumes here, so no storage class to prefer"},
      {"requirements", "architecture", When::present,
       "not supported: this add-on runs amd64 guests only and serves no architecture field"},
      {"", "preferredArchitecture", When::present,
       "not supported: this add-on runs amd64 guests only and serves no architecture field"},
      {"", "preferredLaunchSecurity", When::present,
       "not supported: no confidential computing (SEV) here"},
  };
  return rules;
}

FieldErrors validate(const VirtualMachineInstancetypeSpec& spec, const std::string& path) {
  FieldErrors errors;
  json::Document d;
  apply_rules(instancetype_rules(), encode(spec, d.GetAllocator()), path, errors);
  if (spec.cpu.guest < 1) {
    errors.push_back({at(path, "cpu.guest"), "0 is too few; allowed: 1 or more vCPUs"});
  }
  if (spec.memory.guest.compare(
          v1::Quantity::from_int(1024 * 1024, v1::Quantity::Format::binary_si)) < 0) {
    errors.push_back({at(path, "memory.guest"), "\"" + spec.memory.guest.to_string() +
                                                    "\" is too small; must be at least 1Mi"});
  }
  if (spec.memory.overcommit_percent &&
      (*spec.memory.overcommit_percent < 0 || *spec.memory.overcommit_percent > 100)) {
    errors.push_back(
        {at(path, "memory.overcommitPercent"),
         std::to_string(*spec.memory.overcommit_percent) + " is out of range; allowed: 0 to 100"});
  }
  return errors;
}

FieldErrors validate(const VirtualMachinePreferenceSpec& spec, const std::string& path) {
  FieldErrors errors;
  json::Document d;
  apply_rules(preference_rules(), encode(spec, d.GetAllocator()), path, errors);
  if (spec.devices && spec.devices->preferred_cdrom_bus == v1::DiskBus::virtio) {
    errors.push_back({at(path, "devices.preferredCdromBus"),
                      "\"virtio\" is not allowed for a CD-ROM; allowed: sata, scsi"});
  }
  const auto ratio_ok = [](const std::optional<uint32_t>& r) { return !r || *r >= 1; };
  if (!ratio_ok(spec.prefer_spread_socket_to_core_ratio)) {
    errors.push_back({at(path, "preferSpreadSocketToCoreRatio"), "0 is not allowed; 1 or more"});
  }
  if (spec.cpu && spec.cpu->spread_options && !ratio_ok(spec.cpu->spread_options->ratio)) {
    errors.push_back({at(path, "cpu.spreadOptions.ratio"), "0 is not allowed; 1 or more"});
  }
  return errors;
}

bool is_namespaced_instancetype_kind(std::string_view kind) {
  return kind_is(kind, "virtualmachineinstancetype");
}
bool is_cluster_instancetype_kind(std::string_view kind) {
  return kind.empty() || kind_is(kind, "virtualmachineclusterinstancetype");
}
bool is_namespaced_preference_kind(std::string_view kind) {
  return kind_is(kind, "virtualmachinepreference");
}
bool is_cluster_preference_kind(std::string_view kind) {
  return kind.empty() || kind_is(kind, "virtualmachineclusterpreference");
}

namespace {

template <class Matcher>
void matcher(const Matcher& m, const std::string& path, bool (*namespaced)(std::string_view),
             bool (*cluster)(std::string_view), std::string_view kinds, FieldErrors& errors) {
  if (m.infer_from_volume) {
    errors.push_back({path + ".inferFromVolume",
                      "not supported: inferring from a volume needs DataVolumes or labelled "
                      "PVCs, which this add-on does not serve; set name"});
  }
  if (m.infer_from_volume_failure_policy) {
    errors.push_back({path + ".inferFromVolumeFailurePolicy",
                      "not supported: inferFromVolume is not supported"});
  }
  if (!m.infer_from_volume && m.name.value_or("").empty()) {
    errors.push_back({path + ".name", "required field is missing"});
  }
  const std::string kind = m.kind.value_or("");
  if (!namespaced(kind) && !cluster(kind)) {
    errors.push_back(
        {path + ".kind", "\"" + kind + "\" is not supported; allowed: " + std::string(kinds)});
  }
}

}  // namespace

FieldErrors validate_matchers(const v1::VirtualMachineSpec& spec) {
  FieldErrors errors;
  if (spec.instancetype) {
    matcher(*spec.instancetype, "spec.instancetype", is_namespaced_instancetype_kind,
            is_cluster_instancetype_kind,
            "VirtualMachineClusterInstancetype, VirtualMachineInstancetype", errors);
  }
  if (spec.preference) {
    matcher(*spec.preference, "spec.preference", is_namespaced_preference_kind,
            is_cluster_preference_kind, "VirtualMachineClusterPreference, VirtualMachinePreference",
            errors);
  }
  return errors;
}

}  // namespace kv::api::instancetype
