#include "launcher/domain_lifecycle.hpp"

namespace kv::launcher {
using proto::EventKind;

std::string_view phase_name(Phase p) {
  switch (p) {
    case Phase::idle:
      return "idle";
    case Phase::running:
      return "running";
    case Phase::paused:
      return "paused";
    case Phase::shutting_down:
      return "shutting-down";
    case Phase::destroying:
      return "destroying";
    case Phase::stopped:
      return "stopped";
  }
  return "unknown";
}

int exit_status(ExitReason r) {
  switch (r) {
    case ExitReason::no_vm:
    case ExitReason::guest_shutdown:
      return 0;
    case ExitReason::failed:
      return 1;
    case ExitReason::crashed:
      return 2;
    case ExitReason::killed:
      return 3;
  }
  return 1;
}

std::string_view exit_reason_name(ExitReason r) {
  switch (r) {
    case ExitReason::no_vm:
      return "no-vm";
    case ExitReason::guest_shutdown:
      return "guest-shutdown";
    case ExitReason::failed:
      return "failed";
    case ExitReason::crashed:
      return "crashed";
    case ExitReason::killed:
      return "killed";
  }
  return "failed";
}

namespace {

Transition stay(Phase p) {
  return Transition{p, {}, std::nullopt};
}

Transition finish(ExitReason r, bool timer_armed) {
  Transition t{Phase::stopped, {}, r};
  if (timer_armed)
    t.actions.push_back(Action::cancel_grace_timer);
  t.actions.push_back(Action::exit);
  return t;
}

bool live(Phase p) {
  return p == Phase::running || p == Phase::paused || p == Phase::shutting_down ||
         p == Phase::destroying;
}

// A QEMU process exists for the domain (libvirt's state names, as DomainInfo carries them).
bool domain_active(const std::string& state) {
  return state != "shutoff" && state != "none" && state != "crashed";
}

}  // namespace

Transition step(Phase phase, const Input& in) {
  if (phase == Phase::stopped)
    return stay(phase);
  bool timer_armed = phase == Phase::shutting_down;
  switch (in.kind) {
    case Input::Kind::started:
      return phase == Phase::idle ? Transition{Phase::running, {}, std::nullopt} : stay(phase);

    case Input::Kind::start_failed:
      return phase == Phase::idle ? finish(ExitReason::failed, false) : stay(phase);

    case Input::Kind::shutdown_requested:
      switch (phase) {
        case Phase::idle:
          return finish(ExitReason::no_vm, false);
        case Phase::running:
        case Phase::paused: {
          if (in.grace_seconds <= 0)
            return Transition{Phase::destroying, {Action::destroy}, std::nullopt};
          Transition t{Phase::shutting_down, {}, std::nullopt};
          if (phase == Phase::paused)
            t.actions.push_back(Action::resume);
          t.actions.push_back(Action::acpi_shutdown);
          t.actions.push_back(Action::arm_grace_timer);
          return t;
        }
        case Phase::shutting_down:
          // A second request with no grace left means "now".
          if (in.grace_seconds <= 0)
            return Transition{
                Phase::destroying, {Action::cancel_grace_timer, Action::destroy}, std::nullopt};
          return stay(phase);
        default:
          return stay(phase);
      }

    case Input::Kind::kill_requested:
      if (phase == Phase::idle)
        return finish(ExitReason::no_vm, false);
      if (phase == Phase::destroying)
        return stay(phase);
      {
        Transition t{Phase::destroying, {}, std::nullopt};
        if (timer_armed)
          t.actions.push_back(Action::cancel_grace_timer);
        t.actions.push_back(Action::destroy);
        return t;
      }

    case Input::Kind::grace_expired:
      if (phase == Phase::shutting_down)
        return Transition{Phase::destroying, {Action::destroy}, std::nullopt};
      return stay(phase);

    case Input::Kind::connection_lost:
      return finish(ExitReason::failed, timer_armed);

    case Input::Kind::reconnected:
      // A stop the outage hid comes as a missed event first; here the domain still runs.
      if (!domain_active(in.domain.state))
        return stay(phase);
      if (phase == Phase::shutting_down) {
        Transition t = stay(phase);
        if (in.domain.state == "paused")
          t.actions.push_back(Action::resume);
        t.actions.push_back(Action::acpi_shutdown);
        return t;
      }
      if (phase == Phase::destroying)
        return Transition{phase, {Action::destroy}, std::nullopt};
      return stay(phase);

    case Input::Kind::domain_event:
      switch (in.event.kind) {
        case EventKind::started:
        case EventKind::resumed:
          if (phase == Phase::idle || phase == Phase::paused)
            return Transition{Phase::running, {}, std::nullopt};
          return stay(phase);
        case EventKind::paused:
          if (phase == Phase::running || phase == Phase::idle)
            return Transition{Phase::paused, {}, std::nullopt};
          return stay(phase);
        case EventKind::shutdown:
          if (!live(phase))
            return stay(phase);
          return finish(
              in.event.reason == "destroyed" ? ExitReason::killed : ExitReason::guest_shutdown,
              timer_armed);
        case EventKind::crashed:
          if (!live(phase))
            return stay(phase);
          return finish(ExitReason::crashed, timer_armed);
        default:
          return stay(phase);
      }
  }
  return stay(phase);
}

std::optional<DomainEvent> missed_event(Phase phase, const DomainInfo& domain) {
  if (!live(phase))
    return std::nullopt;
  if (!domain_active(domain.state)) {
    // libvirt re-attaching to a QEMU that is gone marks the domain shut off, crashed (or with
    // an unknown reason); only a stop it recorded itself says shutdown or destroyed.
    if (domain.reason == "shutdown")
      return DomainEvent{EventKind::shutdown, "shutdown"};
    if (domain.reason == "destroyed")
      return DomainEvent{EventKind::shutdown, "destroyed"};
    return DomainEvent{EventKind::crashed, domain.reason == "crashed" ? "crashed" : "failed"};
  }
  if (domain.state == "paused" && phase == Phase::running)
    return DomainEvent{EventKind::paused, domain.reason.empty() ? "other" : domain.reason};
  if (domain.state == "running" && phase == Phase::paused)
    return DomainEvent{EventKind::resumed, "unpaused"};
  return std::nullopt;
}

}  // namespace kv::launcher
