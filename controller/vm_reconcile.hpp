#pragma once
// The VirtualMachine controller's decision, as a pure function: (VM, its VMI, now) -> actions.
// No I/O; controller.cpp carries the actions out. Table-tested in
// test/unit/controller/vm_reconcile_test.cpp.
//
// runStrategy, as upstream KubeVirt applies it (spec.running true/false is Always/Halted):
//
//   Always          VMI absent            -> create (after the crash-loop backoff, if any)
//                   VMI final, or a Stop request for it -> delete (recreated next round)
//   RerunOnFailure  VMI absent            -> create when the VM was never started under this
//                                            strategy (status.runStrategy differs) or on Start
//                   VMI Failed            -> delete and queue a Start request (restart)
//                   VMI Succeeded         -> delete; stays stopped
//                   Stop request for it   -> delete
//   Manual          Start request, VMI absent -> create; Stop request for it -> delete
//   Halted          VMI present           -> delete; a Start request turns the VM to Always
//                                            (running: true for legacy VMs), as upstream does
//   Once            VMI absent            -> create; a final VMI stays; nothing restarts it
//
// status.stateChangeRequests is a queue; only its head is acted upon. A Stop is done once no
// VMI with its UID remains; a Start is done once a VMI exists. A Start with data paused=true
// (`virtctl start --paused`) creates the VMI with spec.startStrategy Paused; on a Halted VM it
// stays queued through the switch to Always, so the VMI then created is paused.
//
// Crash loops: a VMI that ends before ever reaching Running counts as a start failure (once per
// VMI UID); the next automatic start waits 10 s * 2^(failures-1), at most 5 min, and the VM shows
// CrashLoopBackOff meanwhile. A VMI that reaches Running clears the count. Upstream keeps this in
// status.startFailure; our API types have no such field yet, so it lives in the VM annotation
// kStartFailureAnnotation (JSON {"consecutiveFailCount","lastFailedVMIUID","retryAfterTimestamp"}).
// A start, stop or restart request through virt-api clears it, as upstream's clears
// status.startFailure: a user who fixed the cause does not wait out the backoff.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "api/v1/types.hpp"
#include "core/result.hpp"

namespace kv::controller {

using api::v1::kStartFailureAnnotation;

using Clock = std::chrono::system_clock;

// An Event to record on the object being reconciled.
struct ObjectEvent {
  std::string type;  // "Normal" | "Warning"
  std::string reason;
  std::string message;
  bool operator==(const ObjectEvent&) const = default;
};

struct StartFailure {
  int64_t consecutive_fail_count = 0;
  std::string last_failed_vmi_uid;
  Clock::time_point retry_after{};
  bool operator==(const StartFailure&) const = default;
};

// Reads the annotation (absent or unreadable: no failures).
StartFailure start_failure_from(const api::v1::VirtualMachine& vm);
std::string start_failure_to_json(const StartFailure& f);

// Seconds to wait after the n-th consecutive start failure (n >= 1): 10, 20, 40, ... 300.
std::chrono::seconds crash_loop_backoff(int64_t failures);

// The runStrategy in effect: spec.runStrategy, else Always/Halted from spec.running, else Halted.
api::v1::RunStrategy effective_run_strategy(const api::v1::VirtualMachine& vm);

struct VmInputs {
  const api::v1::VirtualMachine* vm = nullptr;  // required
  // The VMI named like the VM and controlled by it (owner reference with its UID), or null.
  const api::v1::VirtualMachineInstance* vmi = nullptr;
  // A VMI with the VM's name that the VM does not control (blocks creating ours).
  bool foreign_vmi = false;
  Clock::time_point now{};
};

struct VmActions {
  std::optional<api::v1::VirtualMachineInstance> create_vmi;
  std::optional<std::string> delete_vmi_uid;  // delete the VMI, precondition on this UID
  // Halted + Start request: spec.runStrategy := Always (or spec.running := true).
  bool set_running = false;
  std::optional<StartFailure> start_failure;  // new annotation value when it changed
  bool clear_start_failure = false;           // remove the annotation
  api::v1::VirtualMachineStatus status;       // the status to have (write when different)
  std::vector<ObjectEvent> events;
  std::optional<std::chrono::seconds> requeue_after;
};

// The VMI the VM's template describes: name and namespace of the VM, the template's labels and
// annotations, an owner reference to the VM (controller, blockOwnerDeletion), the VMI finalizer
// (pod_render.hpp kVmiFinalizer), so the VMI outlives its launcher pod.
api::v1::VirtualMachineInstance vmi_from_template(const api::v1::VirtualMachine& vm);

VmActions reconcile_vm(const VmInputs& in);

// The printable status for a VM in this situation (the first that applies, upstream's order):
// Terminating, Stopping, Paused, Running, ErrorPvcNotFound, ErrorUnschedulable, ErrImagePull,
// ImagePullBackOff, Starting, CrashLoopBackOff, Stopped, else Unknown.
//   creating: a VMI is being created this round; deleting: the VMI is being deleted this round.
api::v1::PrintableStatus printable_status(const api::v1::VirtualMachine& vm,
                                          const api::v1::VirtualMachineInstance* vmi,
                                          const StartFailure& failure, bool creating, bool deleting,
                                          Clock::time_point now);

// Sets (or adds) a condition; lastTransitionTime changes only when status changes.
void set_condition(std::vector<api::v1::Condition>& conditions, api::v1::Condition c,
                   const std::string& now);
void remove_condition(std::vector<api::v1::Condition>& conditions, const std::string& type);
const api::v1::Condition* find_condition(const std::vector<api::v1::Condition>& conditions,
                                         const std::string& type);
bool is_final(const api::v1::VirtualMachineInstance& vmi);

}  // namespace kv::controller
