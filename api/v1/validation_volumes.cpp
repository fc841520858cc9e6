// The volumes' rules: names, exactly one source, each source's fields, at most one cloud-init
// volume, and disks and volumes matching by name.

#include <set>
#include <vector>

#include "api/v1/validation_checks.hpp"

namespace kv::api::v1::check {
namespace {

void cloud_init(const CloudInitNoCloudSource& c, const std::string& path, FieldErrors& errors) {
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
  if (sources.empty()) {
    add(errors, p,
        "no volume source; set one of containerDisk, persistentVolumeClaim, emptyDisk, "
        "cloudInitNoCloud, configMap, secret");
  } else if (sources.size() > 1) {
    std::string list;
    for (const auto& src : sources) {
      list += (list.empty() ? "" : ", ") + src;
    }
    add(errors, p, "more than one volume source (" + list + "); set exactly one");
  }
}

// The fields of each source set on v; second_cloud_init: an earlier volume is cloud-init too.
void sources(const Volume& v, const std::string& p, bool second_cloud_init, FieldErrors& errors) {
  if (v.container_disk) {
    const auto& cd = *v.container_disk;
    if (cd.image.empty()) {
      add(errors, at(p, "containerDisk.image"),
          "must not be empty; set the image holding the disk");
    }
    if (cd.path && (cd.path->empty() || (*cd.path)[0] != '/')) {
      add(errors, at(p, "containerDisk.path"),
          quoted(*cd.path) + " is not an absolute path; allowed: /path/in/image");
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
  if (v.config_map && v.config_map->name.empty()) {
    add(errors, at(p, "configMap.name"), "must not be empty");
  }
  if (v.secret && v.secret->secret_name.empty()) {
    add(errors, at(p, "secret.secretName"), "must not be empty");
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
  for (size_t i = 0; i < s.volumes.size(); ++i) {
    const auto& v = s.volumes[i];
    const std::string p = index(at(path, "volumes"), i);
    unique_name(v.name, i, "volumes", volume_index, p, errors);
    one_source(v, p, errors);
    if (v.cloud_init_no_cloud) {
      ++cloud_inits;
    }
    sources(v, p, cloud_inits > 1, errors);
  }
  disks_match_volumes(s, path, volume_index, errors);
}

}  // namespace kv::api::v1::check
