#pragma once
// The launcher's lifecycle, as a pure state machine: step(phase, input) -> next phase, actions,
// and (when the launcher must exit) how the VM ended. The DomainSupervisor executes the actions.
//
//              sync ok                 paused event
//    idle ---------------> running <-------------------> paused
//     |  |                  |    |      resumed event      |
//     |  | sync failed      |    | shutdown / SIGTERM      | shutdown / SIGTERM:
//     |  '-------.          |    '-----> shutting_down <---'  resume, ACPI, arm timer
//     |          |          | kill          |     |
//     | SIGTERM  |          v               |     | grace expired, kill, or grace == 0
//     v          |      destroying <--------'     |
//   stopped      v          |                     |
//   (no_vm)   stopped       v                     v
//             (failed)   stopped(guest_shutdown | killed | crashed)  <- stopped/crashed event
//                                                                       in any live phase
//  - "stopped" is final: the launcher says `exiting` to its clients and exits with
//    exit_status(reason).
//  - The reason comes from libvirt's stop detail, not from what we asked: a guest that powers
//    itself off during the grace period ended by guest_shutdown; a destroy (ours, or a kill)
//    ends as killed; QEMU dying or a guest panic ends as crashed.
//  - Losing the libvirt daemon is not the VM's end: the launcher restarts the daemon, which
//    re-attaches to QEMU (libvirtd_restart.hpp). Once reconnected, the domain's real state
//    stands in for the events the outage swallowed (missed_event: a pause, a stop), and
//    `reconnected` re-issues what the dead daemon may have dropped: the power button while
//    shutting down, the destroy while destroying. Only when the restart gives up does
//    `connection_lost` end the VM as failed: we cannot see or control it any more.

#include <chrono>
#include <optional>
#include <string_view>
#include <vector>

#include "launcher/domain_manager.hpp"

namespace kv::launcher {

enum class Phase { idle, running, paused, shutting_down, destroying, stopped };
std::string_view phase_name(Phase p);

// How the VM ended; decides the launcher's exit status.
enum class ExitReason {
  no_vm,           // stopped before any VM was started            -> 0
  guest_shutdown,  // the guest powered off (itself, or on ACPI)    -> 0
  failed,          // the launcher could not start or lost libvirt  -> 1
  crashed,         // QEMU died or the guest panicked               -> 2
  killed,          // destroyed: kill, grace period expired, or an outside destroy -> 3
};
int exit_status(ExitReason r);
std::string_view exit_reason_name(ExitReason r);

struct Input {
  enum class Kind {
    started,             // sync defined and started the domain
    start_failed,        // sync could not start it
    shutdown_requested,  // shutdown command or SIGTERM, with grace_seconds
    kill_requested,
    grace_expired,
    domain_event,     // event
    connection_lost,  // libvirtd went away for good (its restart gave up)
    reconnected,      // libvirtd restarted and we reconnected; domain = its real state
  };
  Kind kind = Kind::started;
  DomainEvent event{};
  std::int64_t grace_seconds = 0;
  DomainInfo domain{};
};

enum class Action {
  resume,  // so the guest can see the ACPI button
  acpi_shutdown,
  arm_grace_timer,  // for Input::grace_seconds
  cancel_grace_timer,
  destroy,
  exit,  // say exiting, then exit with exit_status(*Transition::reason)
};

struct Transition {
  Phase next = Phase::idle;
  std::vector<Action> actions;
  std::optional<ExitReason> reason;  // set with Action::exit
};

Transition step(Phase phase, const Input& in);

// After a reconnect: the lifecycle event the launcher missed while libvirtd was away, judged from
// the domain's real state against the phase (a pause, a resume, or how it stopped); nullopt when
// the two agree or no VM is live.
std::optional<DomainEvent> missed_event(Phase phase, const DomainInfo& domain);

}  // namespace kv::launcher
