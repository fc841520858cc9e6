#pragma once
// The node heartbeat, as upstream KubeVirt keeps it: virt-handler patches its Node every
// --heartbeat-interval with
//   metadata.annotations["kubevirt.io/heartbeat"] = RFC 3339 time of the write
//   metadata.labels["kubevirt.io/schedulable"]    = "true"
// virt-controller treats a node whose heartbeat is older than handlerHeartbeatTimeoutSeconds as
// having no handler, and fails its VMIs whose launcher pod is not running (docs/handler.md).

#include <chrono>
#include <string>

#include "core/kube/client.hpp"
#include "core/result.hpp"

namespace kv::handler {

inline constexpr const char* kHeartbeatAnnotation = "kubevirt.io/heartbeat";
inline constexpr const char* kSchedulableLabel = "kubevirt.io/schedulable";

// The merge patch body for a heartbeat at `now`.
std::string heartbeat_patch(std::chrono::system_clock::time_point now);

// Patches the Node. Errc::not_found when the Node does not exist.
core::Status write_heartbeat(core::kube::KubeClient& client, const std::string& node,
                             std::chrono::system_clock::time_point now);

}  // namespace kv::handler
