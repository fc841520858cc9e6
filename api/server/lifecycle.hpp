#pragma once
// start, stop and restart of a VirtualMachine as a pure decision: (action, the VM, its VMI, the
// request's options) -> JSON patches to apply, or the error the user gets. Upstream virt-api's
// semantics (pkg/virt-api/rest/lifecycle.go), in the terms virt-controller consumes
// (controller/vm_reconcile.hpp):
//
//   start    Halted          -> spec.runStrategy := Always (spec.running := true on legacy VMs);
//                               with {"paused":true}: a Start request carrying paused=true
//            Manual          -> Start request ([Stop uid, Start] when the VMI has finished)
//            RerunOnFailure  -> Start request ([Stop uid, Start] after Succeeded; 409 after Failed)
//            Always, Once    -> 409 "... does not support manual start requests"
//            a live VMI      -> 409 "VM is already running"
//   stop     Always, Once    -> spec.runStrategy := Halted (spec.running := false)
//            Manual, RerunOnFailure -> Stop request for the VMI's UID; 409 "VM is not running"
//                               when there is no live VMI
//            Halted          -> 409 "VM is not running", or with a shorter gracePeriod than the
//                               VMI's: a Stop request (a forced stop of a VMI that is going)
//            gracePeriod     -> the VMI's spec.terminationGracePeriodSeconds is lowered first
//   restart  Halted, Once    -> 409; no VMI -> 409 "VM is not running";
//            else [Stop uid, Start]; gracePeriodSeconds 0 also deletes the launcher pod
//
// status.stateChangeRequests is a queue owned by the controller: a new request is added only
// when the queue is empty, or replaces a lone Stop; otherwise 409 "stop/start already underway".
// Every patch starts with a `test` of metadata.resourceVersion, so a concurrent change fails the
// patch and the caller re-reads and decides again.
//
// A request that joins that queue also removes the VM's crash-loop record (the annotation
// api::v1::kStartFailureAnnotation, upstream's status.startFailure), as upstream does: the next
// start is not held back by the backoff. That last patch is guarded by the record's value.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "api/server/status.hpp"
#include "core/json.hpp"

namespace kv::apiserver {

enum class VmAction { start, stop, restart };
std::optional<VmAction> vm_action_from(std::string_view name);

// The request bodies: StartOptions {paused, dryRun}, StopOptions {gracePeriod, dryRun},
// RestartOptions {gracePeriodSeconds, dryRun}. An empty body is all defaults.
struct LifecycleOptions {
  bool paused = false;
  std::optional<int64_t> grace_period;
  bool dry_run = false;
};
std::variant<LifecycleOptions, ApiError> parse_lifecycle_options(VmAction action,
                                                                 std::string_view body);

struct PatchStep {
  std::string resource;     // "virtualmachines" or "virtualmachineinstances"
  std::string subresource;  // "" or "status"
  std::string body;         // a JSON patch
  bool operator==(const PatchStep&) const = default;
};

struct LifecyclePlan {
  std::vector<PatchStep> patches;  // applied in order
  // restart with gracePeriodSeconds=0: delete the launcher pod of this VMI UID (grace 1 s).
  std::optional<std::string> delete_launcher_pod_of;
};

// The runStrategy in effect, as the controller reads it: spec.runStrategy, else Always/Halted
// from spec.running, else Halted.
std::string effective_run_strategy(const core::json::Value& vm);

// vm: the VirtualMachine as stored (with metadata.resourceVersion); vmi: the VMI named like it,
// or null when there is none.
std::variant<LifecyclePlan, ApiError> plan_vm_action(VmAction action, const core::json::Value& vm,
                                                     const core::json::Value* vmi,
                                                     const LifecycleOptions& opts);

}  // namespace kv::apiserver
