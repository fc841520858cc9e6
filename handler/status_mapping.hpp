#pragma once
// The status the handler writes, as a pure function: (VMI as stored, what its launcher said, its
// launcher pod) -> the VMI status to have. No I/O; table-tested in
// test/unit/handler/status_mapping_test.cpp. docs/handler.md has the same table in prose.
//
// The handler owns a VMI from Scheduled on (the controller wrote status.nodeName = our node):
//
// clang-format off
//               launcher answers sync,             launcher says `exiting`
//               domain running/paused/...          (or the pod ended / vanished)
//   Scheduled ----------------------------> Running ------------------> Succeeded or Failed
//       |                                      |
//       |  launcher exits / pod ends           |
//       |  before start                        |  conditions follow the domain:
//       '--------------------------------------+---> Failed    Ready  True   running
//                                                              Ready  False  paused (Paused)
//                                                              Paused True   paused
// clang-format on
//  - SoftwareEmulation=True (reason KVMUnavailable) while the launcher says the guest runs under
//    TCG; removed when it says KVM (upstream's condition type; `kubectl get vmi` shows it).
//  - With spec.readinessProbe, a running VM's Ready is the launcher pod's Ready condition (status,
//    reason, message), as upstream: the probe is the compute container's readiness probe, so the
//    pod is Ready exactly when the guest answers it. No Ready condition on the pod: Ready False,
//    PodConditionMissing. Without a probe the pod is Ready once the container runs: nothing to wait
//    for, Ready follows the domain alone.
//  - status.interfaces: one per interface of the domain, with its MAC; on the pod network its
//    addresses are the pod's (IPv4 first), infoSource "domain", as upstream without a guest agent.
//  - Final phases (Succeeded, Failed) are never left; phases before Scheduled are the controller's.
//  - How the VM ended decides Succeeded or Failed (upstream's rule): the guest powered off ->
//    Succeeded; QEMU died, the guest crashed, or the domain had to be destroyed (ACPI ignored
//    within the grace period) -> Failed, with status.reason and a Ready=False condition saying why.
//  - No flapping: when the launcher cannot be reached (handler restart, launcher restarting) we
//    keep what is written; conditions keep their lastTransitionTime while their status holds.

#include <optional>
#include <string>
#include <vector>

#include "api/v1/types.hpp"
#include "core/json.hpp"
#include "launcher_com/protocol.hpp"

namespace kv::handler {

// What the handler knows about one launcher, from its command socket.
struct LauncherView {
  bool connected = false;       // the command socket is open now
  bool ever_connected = false;  // we talked to this launcher at least once (this handler run)
  // The domain status from the last event or response; nullopt before the first.
  std::optional<launcher_com::proto::DomainStatus> domain;
  // Reason of the last `shutdown` / `crashed` event: libvirt's stop detail ("shutdown",
  // "destroyed", "failed" = QEMU died, "crashed" = guest panic).
  std::string stop_reason;
  // The `exiting` event: how the VM ended ("guest-shutdown", "killed", "crashed", "failed",
  // "no-vm"); nullopt until the launcher says it.
  std::optional<std::string> exit_reason;
  // The launcher refused or failed the sync: its message.
  std::optional<std::string> sync_error;
};

// What the handler reads from the launcher pod (labelled kubevirt.io/created-by=<vmi uid>).
struct PodView {
  bool exists = false;
  std::string name;
  std::string uid;
  std::string phase;                 // Pending, Running, Succeeded, Failed, Unknown
  std::vector<std::string> pod_ips;  // status.podIPs (podIP first)
  bool deleting = false;
  std::string failure_message;  // a terminated container's reason / exit code / message
  // The pod's Ready condition as the kubelet wrote it; nullopt when it has none.
  struct Readiness {
    std::string status;  // True, False, Unknown
    std::string reason;
    std::string message;
    bool operator==(const Readiness&) const = default;
  };
  std::optional<Readiness> ready;
};

// Reads a Pod object into a PodView (exists = true).
PodView pod_view_from(const core::json::Value& pod);

struct StatusInput {
  const api::v1::VirtualMachineInstance* vmi = nullptr;  // required
  LauncherView launcher;
  PodView pod;
  std::string now;  // RFC 3339: phase transition and condition transition times
};

// The status the VMI should have. Equal (operator==) to vmi.status when nothing changes.
api::v1::VirtualMachineInstanceStatus desired_status(const StatusInput& in);

// Upstream's reason for Synchronized=False after a failed sync (and its Event SyncFailed).
inline constexpr const char* kSyncFailedReason = "Synchronizing with the Domain failed.";

// The message of a Synchronized=False condition `desired` adds that the VMI does not carry yet:
// what the SyncFailed Event says once.
std::optional<std::string> new_sync_failure(const api::v1::VirtualMachineInstance& vmi,
                                            const api::v1::VirtualMachineInstanceStatus& desired);

// The JSON merge patch that takes the stored VMI to `desired`, for the fields the handler owns
// (phase, reason, phaseTransitionTimestamps, conditions, interfaces), with the VMI's
// metadata.resourceVersion as a precondition (a concurrent writer makes it fail with 409, and the
// caller recomputes). nullopt when those fields are already as desired.
std::optional<std::string> status_patch(const api::v1::VirtualMachineInstance& vmi,
                                        const api::v1::VirtualMachineInstanceStatus& desired);

// True when the handler should act on this VMI (phase Scheduled or Running on our node).
bool handler_owns(const api::v1::VirtualMachineInstance& vmi, const std::string& node_name);
bool is_final(const api::v1::VirtualMachineInstance& vmi);
// A VMI still Scheduling whose launcher pod (`pod`, from this node's pods) is up here: the handler
// connects to that launcher and syncs at once, before the controller marks the VMI Scheduled
// (which waits for the kubelet to report the pod Running, up to a second after the launcher
// started), but leaves the status to the controller until then. The pod must be the VMI's active
// pod on `node_name`, neither being deleted.
bool handler_starts_early(const api::v1::VirtualMachineInstance& vmi, const PodView& pod,
                          const std::string& node_name);

}  // namespace kv::handler
