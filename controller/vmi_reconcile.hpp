#pragma once
// The VirtualMachineInstance controller's decision, as a pure function:
// (VMI, its launcher pods, facts about PVCs and the node's handler) -> actions.
// No I/O; controller.cpp carries the actions out. Table-tested in
// test/unit/controller/vmi_reconcile_test.cpp.
//
// The phases this controller writes (the handler writes Running, Succeeded and Failed once it
// has the VMI; the controller writes Failed only in the cases drawn here):
//
// clang-format off
//             pod created          pod Running,
//                                  "compute" running,
//   Pending --------------> Scheduling ---------------> Scheduled --(handler)--> Running
//                               |    status.nodeName      |                         |
//   missing PVC:                |    := node              |                         |
//   stays Pending,              | pod Failed/Succeeded,   | pod Failed or gone      | the handler's
//   condition                   | deleted, or being       | or being deleted        | heartbeat is
//   Synchronized=False          | deleted                 |                         | stale and the
//   FailedPvcNotFound           v                         v                         | pod not Running
//                             Failed <----------------------------------------------+
// clang-format on
//
// While Scheduling, the pod's troubles become VMI conditions (the VM's printableStatus reads
// them): PodScheduled=False/Unschedulable with the scheduler's message (when the scheduler found
// no node with devices.kubevirt.io/kvm, a message that says so and how to allow emulation comes
// first: unschedulable_message()); Synchronized=False with
// reason ErrImagePull or ImagePullBackOff and the kubelet's message.
//
// Deletion: the VMI keeps the finalizer kVmiFinalizer until no launcher pod of it exists, so a
// VM is never restarted while its previous guest may still run. A final VMI's pods that still
// run are deleted; finished pods stay for their logs until the VMI goes.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "api/v1/types.hpp"
#include "controller/vm_reconcile.hpp"
#include "core/json.hpp"

namespace kv::controller {

// What the controller reads from a launcher pod.
struct LauncherPod {
  std::string name;
  std::string uid;
  std::string node_name;  // spec.nodeName
  std::string phase;      // Pending, Running, Succeeded, Failed, Unknown
  bool deleting = false;
  bool ready = false;  // the compute container is ready
  // The compute container runs (state.running). It is what hands the VMI to the handler, as
  // upstream's IsPodReady: with a VMI readiness probe the container runs long before it is ready.
  bool compute_running = false;
  // PodScheduled=False with reason Unschedulable: the scheduler's message.
  std::optional<std::string> unschedulable_message;
  // A container (init or main) waiting for a reason the user must act on (ErrImagePull,
  // ImagePullBackOff, CreateContainerConfigError, InvalidImageName): reason and message.
  std::optional<std::string> waiting_reason;
  std::string waiting_message;
  // Failed: why (the first terminated container's reason, exit code and message).
  std::string failure_message;
  bool operator==(const LauncherPod&) const = default;
};

// Reads the fields above from a Pod object.
LauncherPod launcher_pod_from(const core::json::Value& pod);

struct VmiInputs {
  const api::v1::VirtualMachineInstance* vmi = nullptr;  // required
  std::vector<LauncherPod> pods;  // pods labelled kubevirt.io/created-by=<vmi uid>
  // We created a pod that the informer has not shown yet: do not create another.
  bool pod_creation_expected = false;
  // Claims of persistentVolumeClaim volumes that do not exist.
  std::vector<std::string> missing_pvcs;
  // The handler of status.nodeName has not sent a heartbeat within the timeout.
  bool handler_stale = false;
  Clock::time_point now{};
  // kubevirt-config useEmulation: the launcher may fall back to TCG.
  bool emulation_allowed = false;
};

// The label naming the VMI's node, as upstream: set as soon as the launcher pod is bound to a
// node (before status.nodeName), since virt-handler selects its VMIs by it.
inline constexpr const char* kNodeNameLabel = "kubevirt.io/nodeName";

struct VmiActions {
  bool add_finalizer = false;
  // Set metadata.labels[kNodeNameLabel] to this.
  std::optional<std::string> node_label;
  bool remove_finalizer = false;
  bool create_pod = false;
  std::vector<std::string> delete_pods;          // names
  api::v1::VirtualMachineInstanceStatus status;  // the status to have (write when different)
  std::vector<ObjectEvent> events;
  std::optional<std::chrono::seconds> requeue_after;
};

VmiActions reconcile_vmi(const VmiInputs& in);

// The PodScheduled=False message for the scheduler's `scheduler_message`. When no node could give
// the pod devices.kubevirt.io/kvm ("Insufficient devices.kubevirt.io/kvm"), it says that no node
// offers KVM and, with emulation off, how to allow it; the scheduler's text follows.
std::string unschedulable_message(const std::string& scheduler_message, bool emulation_allowed);

}  // namespace kv::controller
