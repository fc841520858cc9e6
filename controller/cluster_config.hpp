#pragma once
// The cluster-wide configuration of virt-controller: the ConfigMap `kubevirt-config` in the install
// namespace (`kubevirt` by default). Every key is optional; an absent key keeps its default. A
// ConfigMap with a bad value is rejected as a whole (the error names the key and what is allowed)
// and the controller keeps the last good configuration, so a typo never half-applies.
//
//   useEmulation                  "true" | "false"          TCG when /dev/kvm is missing (false)
//   launcherImage                 image reference          localhost/kubevirt-cpp/virt-launcher:<v>
//   launcherImagePullPolicy       Always|IfNotPresent|Never  (IfNotPresent)
//   memoryOverheadBase            quantity                 fixed per pod (see docs/controller.md)
//   memoryOverheadPerVcpu         quantity                 per guest vCPU
//   memoryOverheadEmulation       quantity                 added when useEmulation (TCG buffers)
//   memoryOverheadGraphics        quantity                 added with a graphics device
//   cpuRequestPerVcpu             quantity                 CPU request per vCPU (100m)
//   terminationGraceMarginSeconds integer >= 0             pod grace = VMI grace + this (15)
//   handlerHeartbeatTimeoutSeconds integer > 0             stale handler after this (300)
//   nodeSelector                  JSON object of strings   added to every launcher pod ({})
//   imageVolume                   auto | true | false      containerDisks and kernel-boot images
//                                                          mounted from their image (auto)
//   evictionStrategy              None | LiveMigrateIfPossible   for VMIs without their own (None);
//                                 LiveMigrate, External refused as in a VMI's spec for now
//   migrations                    JSON object              upstream's MigrationConfiguration
//                                                          (api/v1 types.hpp); unset members take
//                                                          upstream's defaults

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "api/v1/quantity.hpp"
#include "api/v1/types.hpp"
#include "core/kube/informer.hpp"
#include "core/result.hpp"

namespace kv::controller {

inline constexpr const char* kConfigMapName = "kubevirt-config";
inline constexpr const char* kDefaultInstallNamespace = "kubevirt";
#ifndef KV_PROJECT_VERSION
#define KV_PROJECT_VERSION "0.1.0"
#endif
inline constexpr const char* kDefaultLauncherImage =
    "localhost/kubevirt-cpp/virt-launcher:" KV_PROJECT_VERSION;

// Upstream's ImageVolume feature gate (Beta: on unless disabled) as one setting. `true` is the
// gate in featureGates, `false` in disabledFeatureGates. `auto`, the default, turns it on only
// where it can work: a runtime without image volumes fails every such pod, and the pod spec is
// fixed before scheduling (docs/controller.md "containerDisks: copy or image volume").
enum class ImageVolumeMode { automatic, enabled, disabled };

struct Config {
  bool use_emulation = false;
  std::string launcher_image = kDefaultLauncherImage;
  std::string launcher_image_pull_policy = "IfNotPresent";
  // Memory overhead of one launcher pod, in bytes (formula in pod_render.hpp).
  int64_t overhead_base_bytes = int64_t{96} << 20;
  int64_t overhead_per_vcpu_bytes = int64_t{8} << 20;
  int64_t overhead_emulation_bytes = int64_t{64} << 20;
  int64_t overhead_graphics_bytes = int64_t{16} << 20;
  int64_t cpu_request_per_vcpu_milli = 100;
  int64_t termination_grace_margin_seconds = 15;
  int64_t handler_heartbeat_timeout_seconds = 300;
  std::map<std::string, std::string> node_selector;
  ImageVolumeMode image_volume = ImageVolumeMode::automatic;
  // What the pod renderer reads: true mounts containerDisks and kernel-boot images as image
  // volumes, false copies them into emptyDirs with init containers. config_from_data sets it for
  // a forced mode; with_image_volumes() resolves `auto` from the nodes, per pod.
  bool image_volumes = false;
  // Upstream's spec.configuration.evictionStrategy and .migrations of the KubeVirt CR; migrations
  // holds every member (defaults filled in).
  api::v1::EvictionStrategy eviction_strategy = api::v1::EvictionStrategy::none;
  api::v1::MigrationConfiguration migrations = default_migrations();
  bool operator==(const Config&) const = default;

  // Upstream's migration defaults (api::v1::with_defaults).
  static api::v1::MigrationConfiguration default_migrations();
};

// Builds a Config from a ConfigMap's `data` (key -> string). Unknown keys are errors too (a
// misspelt key would otherwise be silently ignored). Errc::invalid, one line per bad key:
//   kubevirt-config data.useEmulation: "yes please" is not true or false
core::Result<Config> config_from_data(const std::map<std::string, std::string>& data);

// Whether a node's status.nodeInfo.containerRuntimeVersion ("containerd://2.1.4",
// "cri-o://1.31.0") names a runtime that mounts Kubernetes image volumes: containerd >= 2.1,
// CRI-O >= 1.31. Anything else, or a version it cannot read, is false.
bool runtime_supports_image_volumes(std::string_view runtime_version);

// True when at least one node could run a launcher pod (not spec.unschedulable, and carrying
// every label of node_selector) and every such node's runtime supports image volumes.
bool nodes_support_image_volumes(const std::vector<core::kube::ObjectPtr>& nodes,
                                 const std::map<std::string, std::string>& node_selector);

// cfg with image_volumes set: the mode when forced, else nodes_support_image_volumes(nodes).
Config with_image_volumes(Config cfg, const std::vector<core::kube::ObjectPtr>& nodes);

// The current configuration, swapped atomically when the ConfigMap changes. Readers take a
// snapshot (shared_ptr) and use it for one whole reconcile. Thread-safe.
class ConfigStore {
 public:
  ConfigStore() : current_(std::make_shared<const Config>()) {}
  std::shared_ptr<const Config> get() const;
  // Returns true when the value differs from the previous one.
  bool set(Config c);

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const Config> current_;
};

}  // namespace kv::controller
