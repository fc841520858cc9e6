// The volumes' rules: names, exactly one source, each source's fields (everything the launcher
// cannot make of a source is refused here, so no volume passes admission and fails at start), at
// most one cloud-init and one serviceAccount volume, and disks and volumes matching by name.

#include <algorithm>
#include <array>
#include <set>
#include <vector>

#include "api/v1/validation_checks.hpp"

namespace kv::api::v1::check {
namespace {

// cloudInitNoCloud and cloudInitConfigDrive carry the same fields.
template <class CloudInit>
void cloud_init(const CloudInit& c, const std::string& path, FieldErrors& errors) {
  const int user = int(c.user_data.has_value()) + int(c.user_data_base64.has_value()) +
                   int(c.user_data_secret_ref.has_value());
  const int network = int(c.network_data.has_value()) + int(c.network_data_base64.has_value()) +
                      int(c.network_data_secret_ref.has_value());
  if (user == 0 && network == 0) {
    add(errors, path,
        "no data; set one of userData, userDataBase64, secretRef (and optionally one of "
        "networkData, networkDataBase64, networkDataSecretRef)");
  }
  if (user > 1) {
    add(errors, path, "userData, userDataBase64 and secretRef are mutually exclusive; set one");
  }
  if (network > 1) {
    add(errors, path,
        "networkData, networkDataBase64 and networkDataSecretRef are mutually exclusive; set "
        "one");
  }
  constexpr size_t kMaxLen = 2048 * 1024;  // KubeVirt's limit for inline cloud-init data
  for (const auto& [name, value] :
       {std::pair{"userData", &c.user_data}, std::pair{"userDataBase64", &c.user_data_base64},
        std::pair{"networkData", &c.network_data},
        std::pair{"networkDataBase64", &c.network_data_base64}}) {
    if (*value && (*value)->size() > kMaxLen) {
      add(errors, at(path, name),
          "is " + std::to_string((*value)->size()) + " bytes; must be at most 2097152 (2 MiB)");
    }
  }
  for (const auto& [name, value] : {std::pair{"userDataBase64", &c.user_data_base64},
                                    std::pair{"networkDataBase64", &c.network_data_base64}}) {
    if (*value && !is_base64(**value)) {
      add(errors, at(path, name),
          "is not valid base64; allowed: the standard alphabet with padding");
    }
  }
  if (c.user_data_secret_ref && c.user_data_secret_ref->name.empty()) {
    add(errors, at(path, "secretRef.name"), "must not be empty");
  }
  if (c.network_data_secret_ref && c.network_data_secret_ref->name.empty()) {
    add(errors, at(path, "networkDataSecretRef.name"), "must not be empty");
  }
}

// An ISO 9660 volume identifier holds at most 32 characters; genisoimage would cut a longer one.
void volume_label(const std::optional<std::string>& label, const std::string& path,
                  FieldErrors& errors) {
  if (label && label->size() > 32) {
    add(errors, path,
        quoted(*label) + " is " + std::to_string(label->size()) +
            " characters; an ISO 9660 volume label holds at most 32");
  }
}

// A downwardAPI file path as the kubelet takes it: relative, no ".." element, not starting with
// "..".
bool is_downward_path(const std::string& p) {
  if (p.empty() || p[0] == '/' || p.rfind("..", 0) == 0) {
    return false;
  }
  size_t start = 0;
  while (start <= p.size()) {
    size_t end = p.find('/', start);
    if (end == std::string::npos) {
      end = p.size();
    }
    if (p.compare(start, end - start, "..") == 0 && end - start == 2) {
      return false;
    }
    start = end + 1;
  }
  return true;
}

// The fields a downwardAPI volume may expose (the kubelet refuses the others in volumes).
bool is_volume_field_path(const std::string& f) {
  for (const char* exact : {"metadata.name", "metadata.namespace", "metadata.uid",
                            "metadata.labels", "metadata.annotations"}) {
    if (f == exact) {
      return true;
    }
  }
  for (const std::string prefix : {"metadata.labels['", "metadata.annotations['"}) {
    if (f.size() > prefix.size() + 2 && f.rfind(prefix, 0) == 0 && f.ends_with("']")) {
      return true;
    }
  }
  return false;
}

void downward_api(const DownwardApiVolumeSource& d, const std::string& path, FieldErrors& errors) {
  std::map<std::string, size_t> paths;
  for (size_t i = 0; i < d.fields.size(); ++i) {
    const auto& f = d.fields[i];
    const std::string p = index(at(path, "fields"), i);
    if (!is_downward_path(f.path)) {
      add(errors, at(p, "path"),
          quoted(f.path) +
              " is not allowed; must be a relative path without '..' elements, not starting "
              "with '..'");
    } else if (auto [it, fresh] = paths.emplace(f.path, i); !fresh) {
      add(errors, at(p, "path"),
          quoted(f.path) + " is already used by fields[" + std::to_string(it->second) + "]");
    }
    if (f.field_ref.has_value() == f.resource_field_ref.has_value()) {
      add(errors, p, "set exactly one of fieldRef and resourceFieldRef");
    }
    if (f.field_ref) {
      if (f.field_ref->api_version && *f.field_ref->api_version != "v1") {
        add(errors, at(p, "fieldRef.apiVersion"),
            quoted(*f.field_ref->api_version) + " is not supported; allowed: v1");
      }
      if (!is_volume_field_path(f.field_ref->field_path)) {
        add(errors, at(p, "fieldRef.fieldPath"),
            quoted(f.field_ref->field_path) +
                " is not supported in a volume; allowed: metadata.name, metadata.namespace, "
                "metadata.uid, metadata.labels, metadata.annotations, metadata.labels['<key>'], "
                "metadata.annotations['<key>']");
      }
    }
    if (f.resource_field_ref) {
      const auto& r = *f.resource_field_ref;
      if (r.container_name && *r.container_name != "compute") {
        add(errors, at(p, "resourceFieldRef.containerName"),
            quoted(*r.container_name) +
                " is not a container of the launcher pod; allowed: compute (the VM's)");
      }
      static constexpr std::array kResources = {
          "limits.cpu",   "limits.memory",   "limits.ephemeral-storage",
          "requests.cpu", "requests.memory", "requests.ephemeral-storage"};
      if (std::find(kResources.begin(), kResources.end(), r.resource) == kResources.end()) {
        add(errors, at(p, "resourceFieldRef.resource"),
            quoted(r.resource) +
                " is not supported; allowed: limits.cpu, limits.memory, "
                "limits.ephemeral-storage, requests.cpu, requests.memory, "
                "requests.ephemeral-storage");
      }
      if (r.divisor && r.divisor->sign() <= 0) {
        add(errors, at(p, "resourceFieldRef.divisor"),
            quoted(r.divisor->to_string()) + " is not allowed; must be more than 0");
      }
    }
    if (f.mode && (*f.mode < 0 || *f.mode > 0777)) {
      add(errors, at(p, "mode"),
          std::to_string(*f.mode) + " is not allowed; must be between 0 and 0777 (511)");
    }
  }
  volume_label(d.volume_label, at(path, "volumeLabel"), errors);
}

void sysprep(const SysprepSource& s, const std::string& path, FieldErrors& errors) {
  if (s.secret.has_value() == s.config_map.has_value()) {
    add(errors, path,
        "set exactly one of secret and configMap (holding autounattend.xml or "
        "unattend.xml)");
  }
  if (s.secret && s.secret->name.empty()) {
    add(errors, at(path, "secret.name"), "must not be empty");
  }
  if (s.config_map && s.config_map->name.empty()) {
    add(errors, at(path, "configMap.name"), "must not be empty");
  }
}

// Exactly one source.
void one_source(const Volume& v, const std::string& p, FieldErrors& errors) {
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
  if (v.cloud_init_config_drive)
    sources.push_back("cloudInitConfigDrive");
  if (v.service_account)
    sources.push_back("serviceAccount");
  if (v.downward_api)
    sources.push_back("downwardAPI");
  if (v.sysprep)
    sources.push_back("sysprep");
  if (sources.empty()) {
    add(errors, p,
        "no volume source; set one of containerDisk, persistentVolumeClaim, emptyDisk, "
        "cloudInitNoCloud, cloudInitConfigDrive, configMap, secret, serviceAccount, "
        "downwardAPI, sysprep");
  } else if (sources.size() > 1) {
    std::string list;
    for (const auto& src : sources) {
      list += (list.empty() ? "" : ", ") + src;
    }
    add(errors, p, "more than one volume source (" + list + "); set exactly one");
  }
}

// The fields of each source set on v; second_*: an earlier volume is of that kind too.
void sources(const Volume& v, const std::string& p, bool second_cloud_init,
             bool second_service_account, FieldErrors& errors) {
  if (v.container_disk) {
    const auto& cd = *v.container_disk;
    if (cd.image.empty()) {
      add(errors, at(p, "containerDisk.image"),
          "must not be empty; set the image holding the disk");
    }
    if (cd.path && (cd.path->empty() || (*cd.path)[0] != '/')) {
      add(errors, at(p, "containerDisk.path"),
          quoted(*cd.path) + " is not an absolute path; allowed: /path/in/image");
    } else if (cd.path && cd.path->find("..") != std::string::npos) {
      add(errors, at(p, "containerDisk.path"),
          quoted(*cd.path) + " must not contain \"..\"; allowed: /path/in/image");
    }
  }
  if (v.persistent_volume_claim && v.persistent_volume_claim->claim_name.empty()) {
    add(errors, at(p, "persistentVolumeClaim.claimName"), "must not be empty");
  }
  if (v.empty_disk && v.empty_disk->capacity.sign() <= 0) {
    add(errors, at(p, "emptyDisk.capacity"),
        quoted(v.empty_disk->capacity.to_string()) + " is not allowed; must be more than 0");
  }
  if (v.cloud_init_no_cloud) {
    if (second_cloud_init) {
      add(errors, at(p, "cloudInitNoCloud"), "a second cloud-init volume; at most one is allowed");
    }
    cloud_init(*v.cloud_init_no_cloud, at(p, "cloudInitNoCloud"), errors);
  }
  if (v.cloud_init_config_drive) {
    if (second_cloud_init) {
      add(errors, at(p, "cloudInitConfigDrive"),
          "a second cloud-init volume; at most one is allowed");
    }
    cloud_init(*v.cloud_init_config_drive, at(p, "cloudInitConfigDrive"), errors);
  }
  if (v.config_map) {
    if (v.config_map->name.empty()) {
      add(errors, at(p, "configMap.name"), "must not be empty");
    }
    volume_label(v.config_map->volume_label, at(p, "configMap.volumeLabel"), errors);
  }
  if (v.secret) {
    if (v.secret->secret_name.empty()) {
      add(errors, at(p, "secret.secretName"), "must not be empty");
    }
    volume_label(v.secret->volume_label, at(p, "secret.volumeLabel"), errors);
  }
  if (v.service_account) {
    if (second_service_account) {
      add(errors, at(p, "serviceAccount"),
          "a second serviceAccount volume; at most one is allowed (the pod runs as one account)");
    }
    if (!is_dns_subdomain(v.service_account->service_account_name)) {
      add(errors, at(p, "serviceAccount.serviceAccountName"),
          quoted(v.service_account->service_account_name) +
              " is not a valid service account name; must be lower-case letters, digits, '-' "
              "and '.', start and end with a letter or digit, at most 253 characters");
    }
  }
  if (v.downward_api) {
    downward_api(*v.downward_api, at(p, "downwardAPI"), errors);
  }
  if (v.sysprep) {
    sysprep(*v.sysprep, at(p, "sysprep"), errors);
  }
}

// Every named disk has a volume of its name, every named volume a disk.
void disks_match_volumes(const VirtualMachineInstanceSpec& s, const std::string& path,
                         const std::map<std::string, size_t>& volume_index, FieldErrors& errors) {
  const auto& disks = s.domain.devices.disks;
  std::set<std::string> disk_names;
  for (size_t i = 0; i < disks.size(); ++i) {
    disk_names.insert(disks[i].name);
    if (!disks[i].name.empty() && !volume_index.contains(disks[i].name)) {
      add(errors, at(index(at(path, "domain.devices.disks"), i), "name"),
          quoted(disks[i].name) + " has no matching volume");
    }
  }
  for (size_t i = 0; i < s.volumes.size(); ++i) {
    if (!s.volumes[i].name.empty() && !disk_names.contains(s.volumes[i].name)) {
      add(errors, at(index(at(path, "volumes"), i), "name"),
          quoted(s.volumes[i].name) + " is not used by any disk; add a disk of that name");
    }
  }
}

}  // namespace

void volumes(const VirtualMachineInstanceSpec& s, const std::string& path, FieldErrors& errors) {
  std::map<std::string, size_t> volume_index;
  size_t cloud_inits = 0;
  size_t service_accounts = 0;
  for (size_t i = 0; i < s.volumes.size(); ++i) {
    const auto& v = s.volumes[i];
    const std::string p = index(at(path, "volumes"), i);
    unique_name(v.name, i, "volumes", volume_index, p, errors);
    one_source(v, p, errors);
    if (v.cloud_init_no_cloud || v.cloud_init_config_drive) {
      ++cloud_inits;
    }
    if (v.service_account) {
      ++service_accounts;
    }
    sources(v, p, cloud_inits > 1, service_accounts > 1, errors);
  }
  disks_match_volumes(s, path, volume_index, errors);
}

}  // namespace kv::api::v1::check
