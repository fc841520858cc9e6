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

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "api/v1/quantity.hpp"
#include "core/result.hpp"

namespace kv::controller {

inline constexpr const char* kConfigMapName = "kubevirt-config";
inline constexpr const char* kDefaultInstallNamespace = "kubevirt";
#ifndef KV_PROJECT_VERSION
#define KV_PROJECT_VERSION "0.1.0"
#endif
inline constexpr const char* kDefaultLauncherImage =
    "localhost/kubevirt-cpp/virt-launcher:" KV_PROJECT_VERSION;

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
  bool operator==(const Config&) const = default;
};

// Builds a Config from a ConfigMap's `data` (key -> string). Unknown keys are errors too (a
// misspelt key would otherwise be silently ignored). Errc::invalid, one line per bad key:
//   kubevirt-config data.useEmulation: "yes please" is not true or false
core::Result<Config> config_from_data(const std::map<std::string, std::string>& data);

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
