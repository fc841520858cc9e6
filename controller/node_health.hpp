#pragma once
// Whether a node still has a virt-handler, as pure functions over the Node object (upstream's
// virt-controller node controller). virt-handler writes metadata.annotations
// ["kubevirt.io/heartbeat"] (RFC 3339) and labels["kubevirt.io/schedulable"]="true" every
// heartbeat interval (handler/heartbeat.hpp). When the heartbeat is older than the timeout
// (kubevirt-config handlerHeartbeatTimeoutSeconds, 300 s as upstream's 5 minutes), the
// controller sets kubevirt.io/schedulable to "false": launcher pods select "true", so no new VM
// lands on a node nobody would run it on. The handler's next heartbeat sets "true" again.

#include <chrono>
#include <optional>
#include <string>

#include "core/json.hpp"

namespace kv::controller {

inline constexpr const char* kHeartbeatAnnotation = "kubevirt.io/heartbeat";

// True when the node has a heartbeat annotation older than `timeout` at `now`. A node without
// the annotation (no handler ever ran there) or with an unreadable one is not stale: nothing to
// conclude.
bool heartbeat_stale(const core::json::Value& node, std::chrono::system_clock::time_point now,
                     std::chrono::seconds timeout);

// The merge patch that marks the node unschedulable for VMs ({"metadata":{"labels":
// {"kubevirt.io/schedulable":"false"}}}) when its heartbeat is stale and the label still says
// "true"; nullopt otherwise (also when a label is absent: we only take back what the handler set).
std::optional<std::string> unresponsive_node_patch(const core::json::Value& node,
                                                   std::chrono::system_clock::time_point now,
                                                   std::chrono::seconds timeout);

}  // namespace kv::controller
