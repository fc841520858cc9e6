#include "controller/pod_render.hpp"

#include <algorithm>
#include <cctype>
#include <regex>
#include <vector>

#include "addon/labels.hpp"
#include "api/v1/codec.hpp"
#include "api/v1/defaults.hpp"
#include "api/v1/probes.hpp"

namespace kv::controller {
namespace {

using api::v1::VirtualMachineInstance;
using api::v1::VirtualMachineInstanceSpec;
using core::Errc;
using core::Error;
using core::Result;
namespace json = core::json;

constexpr int64_t kMiB = int64_t{1} << 20;

// Small helpers so the pod reads top-down like its YAML.
class Builder {
 public:
  explicit Builder(json::Allocator& a) : a_(a) {}
  json::Value obj() { return json::Value(rapidjson::kObjectType); }
  json::Value arr() { return json::Value(rapidjson::kArrayType); }
  json::Value str(std::string_view s) { return json::string_value(s, a_); }
  json::Value num(int64_t n) { return json::Value(static_cast<int64_t>(n)); }
  json::Value boolean(bool b) { return json::Value(b); }
  void set(json::Value& o, std::string_view k, json::Value v) { json::set(o, k, std::move(v), a_); }
  void set(json::Value& o, std::string_view k, std::string_view s) { set(o, k, str(s)); }
  void push(json::Value& arr, json::Value v) { arr.PushBack(std::move(v), a_); }
  json::Value strings(const std::vector<std::string>& v) {
    auto r = arr();
    for (const auto& s : v)
      push(r, str(s));
    return r;
  }
  json::Value map(const std::map<std::string, std::string>& m) {
    auto r = obj();
    for (const auto& [k, v] : m)
      set(r, k, v);
    return r;
  }
  // Parses RawJson carried from the VMI (affinity, tolerations): always an object.
  json::Value raw(const api::v1::RawJson& r) {
    auto doc = json::parse(r.text);
    if (!doc.ok())
      return obj();
    return json::Value(*doc, a_);
  }
  json::Value mount(std::string_view name, std::string_view path, bool read_only) {
    auto m = obj();
    set(m, "name", name);
    set(m, "mountPath", path);
    if (read_only)
      set(m, "readOnly", boolean(true));
    return m;
  }
  json::Value empty_dir_volume(std::string_view name) {
    auto v = obj();
    set(v, "name", name);
    set(v, "emptyDir", obj());
    return v;
  }

 private:
  json::Allocator& a_;
};

std::string_view pull_policy(const std::optional<api::v1::PullPolicy>& p,
                             std::string_view fallback) {
  if (!p)
    return fallback;
  return api::v1::to_string(*p);
}

// The restricted security context every container of the pod gets: what the launcher needs
// (docs: non-root session libvirtd) and what the init containers' copy needs, nothing more.
json::Value restricted_security_context(Builder& b) {
  auto sc = b.obj();
  b.set(sc, "allowPrivilegeEscalation", b.boolean(false));
  auto caps = b.obj();
  b.set(caps, "drop", b.strings({"ALL"}));
  b.set(sc, "capabilities", std::move(caps));
  b.set(sc, "runAsNonRoot", b.boolean(true));
  b.set(sc, "runAsUser", b.num(kLauncherUid));
  b.set(sc, "runAsGroup", b.num(kLauncherUid));
  return sc;
}

// Copies files from the container's own image into dest, keeping their paths:
//   helper sh -c '<script>' copy DEST PATH...
// (PATH may be a directory; the launcher accepts a directory holding one file.)
constexpr const char* kCopyScript =
    "d=$1; shift; for f; do mkdir -p \"$d${f%/*}\" && cp -R \"$f\" \"$d$f\" || exit 1; done";
// The same for a containerDisk, where an absent path is left for the launcher to report (a VMI
// condition, as on the image-volume route) instead of failing the pod, which would restart the VM
// over and over.
constexpr const char* kCopyIfPresentScript =
    "d=$1; shift; for f; do [ -e \"$f\" ] || continue; mkdir -p \"$d${f%/*}\" && "
    "cp -R \"$f\" \"$d$f\" || exit 1; done";

// A short-lived init container that copies files: small requests, the restricted security
// context. The caller adds its volume mounts.
json::Value copy_step_container(Builder& b, std::string_view name, std::string_view image,
                                std::string_view policy, const std::vector<std::string>& command) {
  auto c = b.obj();
  b.set(c, "name", name);
  b.set(c, "image", image);
  b.set(c, "imagePullPolicy", policy);
  b.set(c, "command", b.strings(command));
  auto res = b.obj();
  auto req = b.obj();
  b.set(req, "cpu", "10m");
  b.set(req, "memory", "16Mi");
  b.set(res, "requests", std::move(req));
  b.set(c, "resources", std::move(res));
  b.set(c, "securityContext", restricted_security_context(b));
  return c;
}

json::Value copy_container(Builder& b, std::string_view name, std::string_view image,
                           std::string_view policy, const std::string& dest,
                           const std::vector<std::string>& paths,
                           const char* script = kCopyScript) {
  std::vector<std::string> cmd{
      std::string(kHelperDir) + "/busybox", "sh", "-c", script, "copy", dest};
  cmd.insert(cmd.end(), paths.begin(), paths.end());
  auto c = copy_step_container(b, name, image, policy, cmd);
  auto mounts = b.arr();
  b.push(mounts, b.mount("helper", kHelperDir, true));
  if (dest.rfind(kKernelBootDir, 0) == 0)
    b.push(mounts, b.mount("kernel-boot", kKernelBootDir, false));
  else
    b.push(mounts, b.mount("container-disks", kContainerDiskDir, false));
  b.set(c, "volumeMounts", std::move(mounts));
  return c;
}

// A container or pod volume name from a VMI volume name when it fits a DNS label, else from its
// index.
std::string container_name(std::string_view prefix, const std::string& volume, size_t index) {
  std::string n = std::string(prefix) + volume;
  if (n.size() <= 63)
    return n;
  return std::string(prefix) + std::to_string(index);
}

bool graphics_attached(const VirtualMachineInstanceSpec& spec) {
  return spec.domain.devices.autoattach_graphics_device.value_or(true);
}

}  // namespace

// The grammar of github.com/distribution/reference (what the kubelet parses), written out:
//   reference := name [":" tag] ["@" digest]
//   name      := [domain "/"] path-component ("/" path-component)*     (at most 255 characters)
//   domain    := host [":" port]; host: dns labels joined by ".", or an [IPv6] address
//   path-component := [a-z0-9]+ (([._]|__|-+) [a-z0-9]+)*
//   tag       := [\w][\w.-]{0,127}
//   digest    := algorithm ":" hex; algorithm [A-Za-z][A-Za-z0-9]* ([+._-] ...)*, hex {32,}
// (A lower-case first component without "." or ":" that matches the domain rule also matches
// the path-component rule, so one pattern serves distribution's domain split too.)
std::optional<std::string> image_reference_problem(std::string_view ref) {
  static const std::regex kReference(
      R"(^((?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?/)?)"
      R"(([a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*))"
      R"((?::([\w][\w.-]{0,127}))?(?:@([A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?$)");
  const std::string s(ref);
  if (s.empty())
    return "an image reference is required";
  std::smatch m;
  if (!std::regex_match(s, m, kReference)) {
    std::string lower = s;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (lower != s && std::regex_match(lower, kReference))
      return "repository name must be lowercase";
    return "invalid reference format";
  }
  if (m[1].length() + m[2].length() > 255)
    return "repository name must not be more than 255 characters";
  return std::nullopt;
}

Result<int64_t> guest_memory_bytes(const VirtualMachineInstanceSpec& spec) {
  const auto& d = spec.domain;
  const char* field = nullptr;
  std::optional<api::v1::Quantity> q;
  if (d.memory && d.memory->guest) {
    q = d.memory->guest;
    field = "spec.domain.memory.guest";
  } else if (d.resources && d.resources->requests.count("memory")) {
    q = d.resources->requests.at("memory");
    field = "spec.domain.resources.requests.memory";
  } else if (d.resources && d.resources->limits.count("memory")) {
    q = d.resources->limits.at("memory");
    field = "spec.domain.resources.limits.memory";
  }
  if (!q)
    return Error(Errc::invalid,
                 "spec.domain.memory.guest: no guest memory set; set memory.guest or "
                 "resources.requests.memory");
  if (q->sign() <= 0)
    return Error(Errc::invalid, std::string(field) + ": must be greater than zero");
  return q->value();
}

int64_t vcpu_count(const VirtualMachineInstanceSpec& spec) {
  const auto& c = spec.domain.cpu;
  if (!c)
    return 1;
  return int64_t{c->sockets.value_or(1)} * c->cores.value_or(1) * c->threads.value_or(1);
}

int64_t memory_overhead_bytes(const VirtualMachineInstanceSpec& spec, int64_t guest_bytes,
                              const Config& cfg) {
  int64_t o = cfg.overhead_base_bytes + cfg.overhead_per_vcpu_bytes * vcpu_count(spec);
  o += (guest_bytes + 511) / 512;  // guest page tables
  if (cfg.use_emulation)
    o += cfg.overhead_emulation_bytes;
  if (graphics_attached(spec))
    o += cfg.overhead_graphics_bytes;
  return (o + kMiB - 1) / kMiB * kMiB;
}

std::string launcher_pod_name(const VirtualMachineInstance& vmi) {
  // The alphabet Kubernetes uses for generateName suffixes (no vowels, no look-alikes).
  static constexpr std::string_view kAlphabet = "bcdfghjklmnpqrstvwxz2456789";
  uint64_t h = 1469598103934665603ULL;  // FNV-1a
  for (unsigned char ch : vmi.metadata.uid.value_or(""))
    h = (h ^ ch) * 1099511628211ULL;
  std::string suffix;
  for (int i = 0; i < 5; ++i) {
    suffix += kAlphabet[h % kAlphabet.size()];
    h /= kAlphabet.size();
  }
  std::string base = vmi.metadata.name.value_or("");
  constexpr size_t kMax = 253 - 14 /* "virt-launcher-" */ - 6 /* "-xxxxx" */;
  if (base.size() > kMax)
    base.resize(kMax);
  while (!base.empty() && (base.back() == '-' || base.back() == '.'))
    base.pop_back();
  return "virt-launcher-" + base + "-" + suffix;
}

namespace {

// --- metadata: name, labels, annotations, the owner reference to the VMI

json::Value pod_metadata(Builder& b, const VirtualMachineInstance& vmi) {
  const std::string name = vmi.metadata.name.value_or("");
  const std::string uid = vmi.metadata.uid.value_or("");
  auto meta = b.obj();
  b.set(meta, "name", launcher_pod_name(vmi));
  b.set(meta, "namespace", vmi.metadata.namespace_.value_or(""));
  std::map<std::string, std::string> labels = vmi.metadata.labels;  // Services select VMs
  labels[kAppLabel] = kAppLabelValue;
  labels[kCreatedByLabel] = uid;
  if (name.size() <= 63)  // label values are at most 63 characters
    labels[kVmNameLabel] = name;
  labels[addon::kVmiIdLabel] = addon::vmi_id(name);  // what `virtctl expose` selects
  b.set(meta, "labels", b.map(labels));
  b.set(meta, "annotations",
        b.map({{kDomainAnnotation, name},
               {"kubectl.kubernetes.io/default-container", kComputeContainer}}));
  auto owners = b.arr();
  auto owner = b.obj();
  b.set(owner, "apiVersion", api::v1::kApiVersion);
  b.set(owner, "kind", api::v1::kVirtualMachineInstanceKind);
  b.set(owner, "name", name);
  b.set(owner, "uid", uid);
  b.set(owner, "controller", b.boolean(true));
  b.set(owner, "blockOwnerDeletion", b.boolean(true));
  b.push(owners, std::move(owner));
  b.set(meta, "ownerReferences", std::move(owners));
  return meta;
}

// --- storage: the pod's volumes, the launcher's mounts, the init containers that copy
// containerDisks and kernel-boot files out of their images

// What the storage step adds to the pod, in the order the pod lists them.
struct PodStorage {
  json::Value volumes;
  json::Value mounts;  // the launcher container's
  json::Value init;    // initContainers
};

// The kernel-boot container of the spec, or null.
const api::v1::KernelBootContainer* kernel_boot_container(const VirtualMachineInstanceSpec& spec) {
  const auto& fw = spec.domain.firmware;
  if (fw && fw->kernel_boot && fw->kernel_boot->container)
    return &*fw->kernel_boot->container;
  return nullptr;
}

bool has_container_disk(const VirtualMachineInstanceSpec& spec) {
  return std::any_of(spec.volumes.begin(), spec.volumes.end(),
                     [](const auto& v) { return v.container_disk.has_value(); });
}

// The paths to copy out of the kernel-boot image: kernelPath, initrdPath (those set).
// Errc::invalid naming the field for a path that is not absolute or holds "..", or when none is
// set.
Result<std::vector<std::string>> kernel_boot_paths(const api::v1::KernelBootContainer& kernel) {
  std::vector<std::string> paths;
  const std::string kb = "spec.domain.firmware.kernelBoot.container";
  for (const auto& [p, f] : {std::pair{kernel.kernel_path, kb + ".kernelPath"},
                             std::pair{kernel.initrd_path, kb + ".initrdPath"}}) {
    if (!p)
      continue;
    if (p->empty() || (*p)[0] != '/' || p->find("..") != std::string::npos)
      return Error(Errc::invalid,
                   f + ": \"" + *p + "\" must be an absolute path inside the image without \"..\"");
    paths.push_back(*p);
  }
  if (paths.empty())
    return Error(Errc::invalid, kb + ".kernelPath: a kernel path is required");
  return paths;
}

// The first init container: the static helper from the launcher image into an emptyDir, so user
// images need no shell or cp of their own.
json::Value helper_container(Builder& b, const Config& cfg) {
  auto c = copy_step_container(
      b, "helper", cfg.launcher_image, cfg.launcher_image_pull_policy,
      {kImageBusybox, "cp", kImageBusybox, std::string(kHelperDir) + "/busybox"});
  auto m = b.arr();
  b.push(m, b.mount("helper", kHelperDir, false));
  b.set(c, "volumeMounts", std::move(m));
  return c;
}

// A pod volume named `name` of kind `source_key` (configMap, secret, downwardAPI, projected),
// mounted read-only in the launcher at `path`.
void add_source_volume(Builder& b, PodStorage& out, const std::string& name,
                       std::string_view source_key, json::Value source, const std::string& path) {
  auto pv = b.obj();
  b.set(pv, "name", name);
  b.set(pv, source_key, std::move(source));
  b.push(out.volumes, std::move(pv));
  b.push(out.mounts, b.mount(name, path, true));
}

// A ConfigMap or Secret (`name_key`: name or secretName) as a pod volume; the kubelet keeps it
// current and, when it is optional and missing, mounts an empty directory.
json::Value object_source(Builder& b, const char* name_key, const std::string& object_name,
                          const std::optional<bool>& optional) {
  auto src = b.obj();
  b.set(src, name_key, object_name);
  if (optional)
    b.set(src, "optional", b.boolean(*optional));
  return src;
}

void add_pvc_volume(Builder& b, PodStorage& out, const api::v1::Volume& v, size_t i) {
  const auto& claim = *v.persistent_volume_claim;
  std::string vol = container_name("pvc-", v.name, i);
  auto pv = b.obj();
  b.set(pv, "name", vol);
  auto src = b.obj();
  b.set(src, "claimName", claim.claim_name);
  if (claim.read_only.value_or(false))
    b.set(src, "readOnly", b.boolean(true));
  b.set(pv, "persistentVolumeClaim", std::move(src));
  b.push(out.volumes, std::move(pv));
  b.push(out.mounts,
         b.mount(vol, std::string(kPvcDir) + "/" + v.name, claim.read_only.value_or(false)));
}

// Inline cloud-init data travels in the VMI the handler sends; Secret references become mounts
// at <secret dir>/<volume>-userdata and -networkdata, where the launcher reads them.
void add_cloud_init_secrets(Builder& b, PodStorage& out, const api::v1::Volume& v, size_t i,
                            const std::optional<api::v1::LocalObjectReference>& user,
                            const std::optional<api::v1::LocalObjectReference>& network) {
  for (const auto& [ref, suffix] :
       {std::pair{&user, "-userdata"}, std::pair{&network, "-networkdata"}}) {
    if (!*ref)
      continue;
    add_source_volume(b, out, container_name("secret-", v.name + suffix, i), "secret",
                      object_source(b, "secretName", (*ref)->name, std::nullopt),
                      std::string(kSecretDir) + "/" + v.name + suffix);
  }
}

// What the kubelet mounts for a pod's own service account token: a bound token, the cluster's CA
// and the namespace. Mounted where the launcher looks rather than at the well-known path, so the
// pod keeps automountServiceAccountToken: false.
json::Value service_account_source(Builder& b) {
  auto sources = b.arr();
  auto token = b.obj();
  auto t = b.obj();
  b.set(t, "path", "token");
  b.set(t, "expirationSeconds", b.num(3607));
  b.set(token, "serviceAccountToken", std::move(t));
  b.push(sources, std::move(token));
  auto ca = b.obj();
  auto cm = b.obj();
  b.set(cm, "name", "kube-root-ca.crt");
  auto items = b.arr();
  auto item = b.obj();
  b.set(item, "key", "ca.crt");
  b.set(item, "path", "ca.crt");
  b.push(items, std::move(item));
  b.set(cm, "items", std::move(items));
  b.set(ca, "configMap", std::move(cm));
  b.push(sources, std::move(ca));
  auto ns = b.obj();
  auto da = b.obj();
  auto da_items = b.arr();
  auto ns_item = b.obj();
  b.set(ns_item, "path", "namespace");
  auto ref = b.obj();
  b.set(ref, "apiVersion", "v1");
  b.set(ref, "fieldPath", "metadata.namespace");
  b.set(ns_item, "fieldRef", std::move(ref));
  b.push(da_items, std::move(ns_item));
  b.set(da, "items", std::move(da_items));
  b.set(ns, "downwardAPI", std::move(da));
  b.push(sources, std::move(ns));
  auto projected = b.obj();
  b.set(projected, "sources", std::move(sources));
  return projected;
}

// The VMI's downwardAPI fields as the pod's; a resourceFieldRef without a container means the
// compute container (the pod itself requires one).
json::Value downward_api_source(Builder& b, const api::v1::DownwardApiVolumeSource& d) {
  auto items = b.arr();
  for (const auto& f : d.fields) {
    auto item = b.obj();
    b.set(item, "path", f.path);
    if (f.field_ref) {
      auto ref = b.obj();
      b.set(ref, "apiVersion", f.field_ref->api_version.value_or("v1"));
      b.set(ref, "fieldPath", f.field_ref->field_path);
      b.set(item, "fieldRef", std::move(ref));
    }
    if (f.resource_field_ref) {
      auto ref = b.obj();
      b.set(ref, "containerName", f.resource_field_ref->container_name.value_or(kComputeContainer));
      b.set(ref, "resource", f.resource_field_ref->resource);
      if (f.resource_field_ref->divisor)
        b.set(ref, "divisor", f.resource_field_ref->divisor->to_string());
      b.set(item, "resourceFieldRef", std::move(ref));
    }
    if (f.mode)
      b.set(item, "mode", b.num(*f.mode));
    b.push(items, std::move(item));
  }
  auto src = b.obj();
  b.set(src, "items", std::move(items));
  return src;
}

// Errc::invalid naming `field` when `image` is not an image reference the kubelet can pull
// (its InvalidImageName), checked before any pod exists.
core::Status check_image_reference(const std::string& field, const std::string& image) {
  if (auto why = image_reference_problem(image))
    return Error(Errc::invalid,
                 field + ": \"" + image + "\" is not a valid image reference: " + *why);
  return {};
}

// A pod volume mounting `image` read-only (Kubernetes image volume), nothing copied.
json::Value image_volume(Builder& b, std::string_view name, std::string_view image,
                         std::string_view policy) {
  auto v = b.obj();
  b.set(v, "name", name);
  auto src = b.obj();
  b.set(src, "reference", image);
  b.set(src, "pullPolicy", policy);
  b.set(v, "image", std::move(src));
  return v;
}

// spec.volumes[i] as pod volumes, launcher mounts and (containerDisk) a copy container or an
// image volume. Errc::invalid for a containerDisk image that is not a reference, or a path that
// is not absolute or holds "..".
core::Status add_spec_volume(Builder& b, PodStorage& out, const api::v1::Volume& v, size_t i,
                             const Config& cfg) {
  const std::string at = "/" + v.name;
  if (v.container_disk) {
    const std::string field = "spec.volumes[" + std::to_string(i) + "].containerDisk";
    KV_CHECK(check_image_reference(field + ".image", v.container_disk->image));
    std::string inner = v.container_disk->path.value_or("/disk");
    if (inner.empty() || inner[0] != '/' || inner.find("..") != std::string::npos)
      return Error(Errc::invalid, field + ".path: \"" + inner +
                                      "\" must be an absolute path inside the image without "
                                      "\"..\"");
    const auto policy = pull_policy(v.container_disk->image_pull_policy, "IfNotPresent");
    const std::string dest = std::string(kContainerDiskDir) + "/" + v.name;
    if (cfg.image_volumes) {
      // The image's files at the place the copy would put them: the launcher's overlay backs
      // onto <dir>/<volume><path> either way.
      const std::string vol = container_name("volume-", v.name, i);
      b.push(out.volumes, image_volume(b, vol, v.container_disk->image, policy));
      b.push(out.mounts, b.mount(vol, dest, true));
    } else {
      b.push(out.init,
             copy_container(b, container_name("volume-", v.name, i), v.container_disk->image,
                            policy, dest, {inner}, kCopyIfPresentScript));
    }
  } else if (v.persistent_volume_claim) {
    add_pvc_volume(b, out, v, i);
  } else if (v.config_map) {
    add_source_volume(b, out, container_name("configmap-", v.name, i), "configMap",
                      object_source(b, "name", v.config_map->name, v.config_map->optional),
                      kConfigMapDir + at);
  } else if (v.secret) {
    add_source_volume(b, out, container_name("secret-", v.name, i), "secret",
                      object_source(b, "secretName", v.secret->secret_name, v.secret->optional),
                      kSecretDir + at);
  } else if (v.service_account) {
    add_source_volume(b, out, container_name("serviceaccount-", v.name, i), "projected",
                      service_account_source(b), kServiceAccountDir);
  } else if (v.downward_api) {
    add_source_volume(b, out, container_name("downwardapi-", v.name, i), "downwardAPI",
                      downward_api_source(b, *v.downward_api), kDownwardApiDir + at);
  } else if (v.sysprep) {
    if (v.sysprep->config_map)
      add_source_volume(b, out, container_name("sysprep-", v.name, i), "configMap",
                        object_source(b, "name", v.sysprep->config_map->name, std::nullopt),
                        kSysprepDir + at);
    else if (v.sysprep->secret)
      add_source_volume(b, out, container_name("sysprep-", v.name, i), "secret",
                        object_source(b, "secretName", v.sysprep->secret->name, std::nullopt),
                        kSysprepDir + at);
  } else if (v.cloud_init_no_cloud) {
    add_cloud_init_secrets(b, out, v, i, v.cloud_init_no_cloud->user_data_secret_ref,
                           v.cloud_init_no_cloud->network_data_secret_ref);
  } else if (v.cloud_init_config_drive) {
    add_cloud_init_secrets(b, out, v, i, v.cloud_init_config_drive->user_data_secret_ref,
                           v.cloud_init_config_drive->network_data_secret_ref);
  }
  // emptyDisk: a file in the ephemeral emptyDir; nothing to mount.
  return {};
}

// The sockets and ephemeral emptyDirs; then the containerDisks and the kernel-boot image, either
// copied (the helper and copy init containers into emptyDirs) or, with cfg.image_volumes,
// mounted as image volumes; then each of spec.volumes. Fails (Errc::invalid, naming the field) on
// an image that is not a reference, or a kernel-boot or containerDisk path that cannot be read.
core::Status add_storage(Builder& b, const VirtualMachineInstanceSpec& spec, const Config& cfg,
                         PodStorage& out) {
  b.push(out.volumes, b.empty_dir_volume("sockets"));
  b.push(out.mounts, b.mount("sockets", kSocketDir, false));
  b.push(out.volumes, b.empty_dir_volume("ephemeral"));
  b.push(out.mounts, b.mount("ephemeral", kEphemeralDir, false));

  const bool container_disks = has_container_disk(spec);
  const api::v1::KernelBootContainer* kernel = kernel_boot_container(spec);
  if ((container_disks || kernel) && !cfg.image_volumes) {
    b.push(out.init, helper_container(b, cfg));
    b.push(out.volumes, b.empty_dir_volume("helper"));
  }
  if (container_disks && !cfg.image_volumes) {
    b.push(out.volumes, b.empty_dir_volume("container-disks"));
    b.push(out.mounts, b.mount("container-disks", kContainerDiskDir, true));
  }
  if (kernel) {
    const std::string kb = "spec.domain.firmware.kernelBoot.container";
    KV_CHECK(check_image_reference(kb + ".image", kernel->image));
    auto paths = kernel_boot_paths(*kernel);
    if (!paths.ok())
      return std::move(paths).error();
    const auto policy = pull_policy(kernel->image_pull_policy, "IfNotPresent");
    if (cfg.image_volumes) {
      // The launcher reads kernelPath and initrdPath below this directory, from the image.
      b.push(out.volumes, image_volume(b, "kernel-boot", kernel->image, policy));
      b.push(out.mounts, b.mount("kernel-boot", kKernelBootDir, true));
    } else {
      b.push(out.volumes, b.empty_dir_volume("kernel-boot"));
      b.push(out.mounts, b.mount("kernel-boot", kKernelBootDir, true));
      b.push(out.init,
             copy_container(b, "kernel-boot", kernel->image, policy, kKernelBootDir, *paths));
    }
  }
  for (size_t i = 0; i < spec.volumes.size(); ++i)
    if (auto st = add_spec_volume(b, out, spec.volumes[i], i, cfg); !st.ok())
      return st;
  return {};
}

// --- resources: the memory request + overhead; CPU per vCPU unless the VMI asks for its own;
// every other resource as the VMI asks

// Resources Kubernetes lets a pod overcommit (request below limit); the others (extended
// resources such as devices.kubevirt.io/*, nvidia.com/gpu) need request == limit, and a request
// alone stands for both, as the VMI's author meant it.
bool overcommittable(const std::string& name) {
  return name == "cpu" || name == "memory" || name == "ephemeral-storage" ||
         name.rfind("hugepages-", 0) == 0;
}

json::Value launcher_resources(Builder& b, const VirtualMachineInstanceSpec& spec,
                               int64_t guest_bytes, const Config& cfg, bool kvm) {
  const int64_t overhead = memory_overhead_bytes(spec, guest_bytes, cfg);
  const api::v1::ResourceRequirements* rr =
      spec.domain.resources ? &*spec.domain.resources : nullptr;
  std::map<std::string, std::string> requests, limits;
  // The VMI's own first; memory and cpu are then set below.
  if (rr) {
    for (const auto& [name, q] : rr->requests)
      requests[name] = q.to_string();
    for (const auto& [name, q] : rr->limits)
      limits[name] = q.to_string();
    for (const auto& [name, q] : rr->requests)
      if (!overcommittable(name) && !rr->limits.count(name))
        limits[name] = q.to_string();
    for (const auto& [name, q] : rr->limits)
      if (!overcommittable(name) && !rr->requests.count(name))
        requests[name] = q.to_string();
  }
  // The memory request is what the VMI requests (the guest memory unless it overcommits), plus
  // the overhead unless overcommitGuestOverhead leaves the overhead out of the request (upstream:
  // the limit keeps it).
  const int64_t requested =
      rr && rr->requests.count("memory") ? rr->requests.at("memory").value() : guest_bytes;
  const bool overcommit_overhead = rr && rr->overcommit_guest_overhead.value_or(false);
  requests["memory"] = api::v1::Quantity::from_int(requested + (overcommit_overhead ? 0 : overhead),
                                                   api::v1::Quantity::Format::binary_si)
                           .to_string();
  if (!(rr && rr->requests.count("cpu")))
    requests["cpu"] =
        api::v1::Quantity::from_milli(cfg.cpu_request_per_vcpu_milli * vcpu_count(spec))
            .to_string();
  if (rr && rr->limits.count("memory")) {
    int64_t lim = rr->limits.at("memory").value();
    limits["memory"] =
        api::v1::Quantity::from_int(lim + overhead, api::v1::Quantity::Format::binary_si)
            .to_string();
  }
  if (kvm) {
    requests[kKvmResource] = "1";
    limits[kKvmResource] = "1";  // extended resources need request == limit
  }
  auto resources = b.obj();
  b.set(resources, "requests", b.map(requests));
  if (!limits.empty())
    b.set(resources, "limits", b.map(limits));
  return resources;
}

// --- the launcher container: command line and environment (its resources, security context
// and mounts are set by the caller, after these)

int64_t grace_period_seconds(const VirtualMachineInstanceSpec& spec) {
  return spec.termination_grace_period_seconds.value_or(
      api::v1::kDefaultTerminationGracePeriodSeconds);
}

json::Value launcher_container(Builder& b, const Config& cfg, int64_t grace) {
  std::vector<std::string> cmd{"/usr/bin/virt-launcher",
                               "--socket-dir",
                               kSocketDir,
                               "--ephemeral-dir",
                               kEphemeralDir,
                               "--container-disk-dir",
                               kContainerDiskDir,
                               "--kernel-boot-dir",
                               kKernelBootDir,
                               "--pvc-dir",
                               kPvcDir,
                               "--config-map-dir",
                               kConfigMapDir,
                               "--secret-dir",
                               kSecretDir,
                               "--service-account-dir",
                               kServiceAccountDir,
                               "--downward-api-dir",
                               kDownwardApiDir,
                               "--sysprep-dir",
                               kSysprepDir,
                               "--pod-ip",
                               "$(POD_IP)",
                               "--grace-period",
                               std::to_string(grace)};
  if (cfg.use_emulation)
    cmd.push_back("--allow-emulation");

  auto compute = b.obj();
  b.set(compute, "name", kComputeContainer);
  b.set(compute, "image", cfg.launcher_image);
  b.set(compute, "imagePullPolicy", cfg.launcher_image_pull_policy);
  b.set(compute, "command", b.strings(cmd));
  auto env = b.arr();
  auto pod_ip = b.obj();
  b.set(pod_ip, "name", "POD_IP");
  auto from = b.obj();
  auto fref = b.obj();
  b.set(fref, "fieldPath", "status.podIP");
  b.set(from, "fieldRef", std::move(fref));
  b.set(pod_ip, "valueFrom", std::move(from));
  b.push(env, std::move(pod_ip));
  b.set(compute, "env", std::move(env));
  return compute;
}

// --- the compute container's probes: the VMI's, as upstream copies them (rendercontainer.go)

// Added to the initial delay, as upstream's LibvirtStartupDelay: the guest is not up before
// libvirtd and QEMU are.
constexpr int32_t kLibvirtStartupDelaySeconds = 10;

// A VMI probe as a core/v1 Probe against the pod IP (the kubelet's default host), with upstream's
// defaults (SetDefaults_Probe) for what is unset or below 1; tcpSocket as virt-probe's exec.
// Validation has refused exec, guestAgentPing and ports that do not resolve.
json::Value compute_probe(Builder& b, const api::v1::Probe& p,
                          const VirtualMachineInstanceSpec& spec) {
  const api::v1::Interface* iface = api::v1::probed_interface(spec);
  auto port_number = [&](const api::v1::IntOrString& port) {
    auto n = iface ? api::v1::resolve_probe_port(port, *iface) : port.number;
    return n.value_or(0);
  };
  auto port = [&](const api::v1::IntOrString& p) { return b.num(port_number(p)); };
  auto probe = b.obj();
  if (p.http_get) {
    auto h = b.obj();
    if (p.http_get->path)
      b.set(h, "path", *p.http_get->path);
    b.set(h, "port", port(p.http_get->port));
    if (p.http_get->host)
      b.set(h, "host", *p.http_get->host);
    if (p.http_get->scheme)
      b.set(h, "scheme", *p.http_get->scheme);
    if (!p.http_get->http_headers.empty()) {
      auto headers = b.arr();
      for (const auto& hh : p.http_get->http_headers) {
        auto header = b.obj();
        b.set(header, "name", hh.name);
        b.set(header, "value", hh.value);
        b.push(headers, std::move(header));
      }
      b.set(h, "httpHeaders", std::move(headers));
    }
    b.set(probe, "httpGet", std::move(h));
  }
  auto at_least_1 = [](const std::optional<int32_t>& v, int32_t fallback) {
    return v && *v >= 1 ? *v : fallback;
  };
  const int32_t timeout_seconds = at_least_1(p.timeout_seconds, 1);
  if (p.tcp_socket) {
    // Not the kubelet's tcpSocket: passt accepts every connection on the pod IP itself, so a
    // bare connect succeeds whatever the guest does. virt-probe watches whether the guest keeps
    // the connection (launcher/probe/tcp_probe.hpp).
    std::vector<std::string> cmd{"/usr/bin/virt-probe", "--tcp",
                                 std::to_string(port_number(p.tcp_socket->port))};
    if (p.tcp_socket->host)
      cmd.insert(cmd.end(), {"--host", *p.tcp_socket->host});
    cmd.insert(cmd.end(), {"--timeout-seconds", std::to_string(timeout_seconds)});
    auto exec = b.obj();
    b.set(exec, "command", b.strings(cmd));
    b.set(probe, "exec", std::move(exec));
  }
  b.set(probe, "initialDelaySeconds",
        b.num(p.initial_delay_seconds.value_or(0) + kLibvirtStartupDelaySeconds));
  b.set(probe, "timeoutSeconds", b.num(timeout_seconds));
  b.set(probe, "periodSeconds", b.num(at_least_1(p.period_seconds, 10)));
  b.set(probe, "successThreshold", b.num(at_least_1(p.success_threshold, 1)));
  b.set(probe, "failureThreshold", b.num(at_least_1(p.failure_threshold, 3)));
  return probe;
}

// --- the pod spec: host name, scheduling, security context, containers, volumes

// spec.hostname, else the VMI name, made one DNS label.
std::string pod_hostname(const VirtualMachineInstanceSpec& spec, const std::string& vmi_name) {
  std::string hostname = spec.hostname.value_or(vmi_name);
  if (hostname.size() > 63)
    hostname.resize(63);
  while (!hostname.empty() && (hostname.back() == '-' || hostname.back() == '.'))
    hostname.pop_back();
  for (auto& ch : hostname)
    if (ch == '.')
      ch = '-';  // a hostname is one DNS label; VMI names may hold dots
  return hostname;
}

// nodeSelector (the config's, then the VMI's on top, then the labels the VMI needs), affinity,
// tolerations, schedulerName, priorityClassName, each only when set.
void set_scheduling(Builder& b, json::Value& ps, const VirtualMachineInstanceSpec& spec,
                    const Config& cfg) {
  std::map<std::string, std::string> selector = cfg.node_selector;
  for (const auto& [k, v] : spec.node_selector)
    selector[k] = v;
  for (const auto& [k, v] : required_node_labels(spec))
    selector[k] = v;
  if (!selector.empty())
    b.set(ps, "nodeSelector", b.map(selector));
  if (spec.affinity)
    b.set(ps, "affinity", b.raw(*spec.affinity));
  if (!spec.tolerations.empty()) {
    auto t = b.arr();
    for (const auto& raw : spec.tolerations)
      b.push(t, b.raw(raw));
    b.set(ps, "tolerations", std::move(t));
  }
  if (spec.scheduler_name)
    b.set(ps, "schedulerName", *spec.scheduler_name);
  if (spec.priority_class_name)
    b.set(ps, "priorityClassName", *spec.priority_class_name);
}

json::Value pod_security_context(Builder& b) {
  auto psc = b.obj();
  b.set(psc, "runAsNonRoot", b.boolean(true));
  b.set(psc, "runAsUser", b.num(kLauncherUid));
  b.set(psc, "runAsGroup", b.num(kLauncherUid));
  b.set(psc, "fsGroup", b.num(kLauncherUid));
  // virt-handler's profile: RuntimeDefault plus what passt's user-namespace sandbox needs
  // (handler/seccomp.hpp). Localhost profiles are allowed under Pod Security restricted.
  auto seccomp = b.obj();
  b.set(seccomp, "type", "Localhost");
  b.set(seccomp, "localhostProfile", "kubevirt/kubevirt.json");
  b.set(psc, "seccompProfile", std::move(seccomp));
  // passt (uid 107, no capabilities) listens on the pod IP's ports below 1024 for the guest.
  // A "safe" sysctl, allowed under restricted; upstream's passt binding sets it too.
  auto sysctl = b.obj();
  b.set(sysctl, "name", "net.ipv4.ip_unprivileged_port_start");
  b.set(sysctl, "value", "0");
  auto sysctls = b.arr();
  b.push(sysctls, std::move(sysctl));
  b.set(psc, "sysctls", std::move(sysctls));
  return psc;
}

// The registry credentials of the containerDisk and kernel-boot images, each once, in spec order
// (upstream's order).
std::vector<std::string> image_pull_secrets(const VirtualMachineInstanceSpec& spec) {
  std::vector<std::string> names;
  auto add = [&](const std::optional<std::string>& name) {
    if (name && !name->empty() && std::find(names.begin(), names.end(), *name) == names.end())
      names.push_back(*name);
  };
  for (const auto& v : spec.volumes)
    if (v.container_disk)
      add(v.container_disk->image_pull_secret);
  if (const auto* kernel = kernel_boot_container(spec))
    add(kernel->image_pull_secret);
  return names;
}

// The service account of a serviceAccount volume (validation allows one), or nullopt.
std::optional<std::string> service_account_name(const VirtualMachineInstanceSpec& spec) {
  for (const auto& v : spec.volumes)
    if (v.service_account)
      return v.service_account->service_account_name;
  return std::nullopt;
}

json::Value pod_spec(Builder& b, const VirtualMachineInstance& vmi, const Config& cfg,
                     int64_t grace, json::Value compute, PodStorage storage) {
  const auto& spec = vmi.spec;
  auto ps = b.obj();
  b.set(ps, "restartPolicy", "Never");
  // A serviceAccount volume's token is a projected volume mounted for the launcher alone (see
  // service_account_source), so nothing is mounted at the well-known path either way.
  if (auto account = service_account_name(spec))
    b.set(ps, "serviceAccountName", *account);
  b.set(ps, "automountServiceAccountToken", b.boolean(false));
  b.set(ps, "enableServiceLinks", b.boolean(false));
  b.set(ps, "hostname", pod_hostname(spec, vmi.metadata.name.value_or("")));
  if (spec.subdomain)
    b.set(ps, "subdomain", *spec.subdomain);
  set_scheduling(b, ps, spec, cfg);
  // The handler stops the guest within the VMI's grace; the margin keeps the kubelet from
  // killing the launcher while it still does.
  b.set(ps, "terminationGracePeriodSeconds", b.num(grace + cfg.termination_grace_margin_seconds));
  b.set(ps, "securityContext", pod_security_context(b));
  if (auto secrets = image_pull_secrets(spec); !secrets.empty()) {
    auto refs = b.arr();
    for (const auto& name : secrets) {
      auto ref = b.obj();
      b.set(ref, "name", name);
      b.push(refs, std::move(ref));
    }
    b.set(ps, "imagePullSecrets", std::move(refs));
  }
  if (!storage.init.Empty())
    b.set(ps, "initContainers", std::move(storage.init));
  auto containers = b.arr();
  b.push(containers, std::move(compute));
  b.set(ps, "containers", std::move(containers));
  b.set(ps, "volumes", std::move(storage.volumes));
  return ps;
}

}  // namespace

bool node_offers_kvm(const json::Value& node) {
  const json::Value* labels = json::find_path(node, {"metadata", "labels"});
  if (!labels || json::get_string(*labels, kSchedulableLabel).value_or("") != "true")
    return false;
  if (const json::Value* spec = json::find(node, "spec");
      spec && json::get_bool(*spec, "unschedulable").value_or(false))
    return false;
  const json::Value* kvm = json::find_path(node, {"status", "allocatable", kKvmResource});
  if (!kvm || !kvm->IsString())
    return false;
  auto q = api::v1::parse_quantity(kvm->GetString());
  return q.ok() && q->value() > 0;
}

bool requests_kvm(const Config& cfg, const NodeFacts& nodes) {
  return !cfg.use_emulation || nodes.kvm_available;
}

std::map<std::string, std::string> required_node_labels(const VirtualMachineInstanceSpec& spec) {
  std::map<std::string, std::string> labels{{kSchedulableLabel, "true"}};
  const auto& cpu = spec.domain.cpu;
  if (!cpu)
    return labels;
  if (cpu->model && !cpu->model->empty() && *cpu->model != "host-model" &&
      *cpu->model != "host-passthrough")
    labels[kCpuModelLabelPrefix + *cpu->model] = "true";
  for (const auto& f : cpu->features)
    if (f.policy.value_or("require") == "require" || f.policy->empty())
      labels[kCpuFeatureLabelPrefix + f.name] = "true";
  return labels;
}

Result<json::Document> render_launcher_pod(const VirtualMachineInstance& vmi, const Config& cfg,
                                           const NodeFacts& nodes) {
  auto guest = guest_memory_bytes(vmi.spec);
  if (!guest.ok())
    return std::move(guest).error();
  json::Document doc(rapidjson::kObjectType);
  Builder b(doc.GetAllocator());
  PodStorage storage{b.arr(), b.arr(), b.arr()};
  if (auto st = add_storage(b, vmi.spec, cfg, storage); !st.ok())
    return std::move(st).error();
  const int64_t grace = grace_period_seconds(vmi.spec);
  auto compute = launcher_container(b, cfg, grace);
  b.set(compute, "resources",
        launcher_resources(b, vmi.spec, *guest, cfg, requests_kvm(cfg, nodes)));
  b.set(compute, "securityContext", restricted_security_context(b));
  b.set(compute, "volumeMounts", std::move(storage.mounts));
  if (vmi.spec.readiness_probe)
    b.set(compute, "readinessProbe", compute_probe(b, *vmi.spec.readiness_probe, vmi.spec));
  if (vmi.spec.liveness_probe)
    b.set(compute, "livenessProbe", compute_probe(b, *vmi.spec.liveness_probe, vmi.spec));

  b.set(doc, "apiVersion", "v1");
  b.set(doc, "kind", "Pod");
  b.set(doc, "metadata", pod_metadata(b, vmi));
  b.set(doc, "spec", pod_spec(b, vmi, cfg, grace, std::move(compute), std::move(storage)));
  return doc;
}

}  // namespace kv::controller
