#include "launcher/domain_lifecycle.hpp"

#include <catch2/catch.hpp>

using namespace kv::launcher;
using K = Input::Kind;
using proto::EventKind;

namespace {
Input ev(EventKind k, std::string reason) {
  Input i;
  i.kind = K::domain_event;
  i.event = DomainEvent{k, std::move(reason)};
  return i;
}
Input in(K k, std::int64_t grace = 0) {
  Input i;
  i.kind = k;
  i.grace_seconds = grace;
  return i;
}
Input reconnected(std::string state, std::string reason = "") {
  Input i;
  i.kind = K::reconnected;
  i.domain = DomainInfo{std::move(state), std::move(reason)};
  return i;
}
}  // namespace

TEST_CASE("lifecycle transitions") {
  struct Row {
    const char* what;
    Phase from;
    Input input;
    Phase to;
    std::vector<Action> actions;
    std::optional<ExitReason> reason;
  };
  std::vector<Row> rows{
      {"sync starts the VM", Phase::idle, in(K::started), Phase::running, {}, {}},
      {"a failed start ends the launcher",
       Phase::idle,
       in(K::start_failed),
       Phase::stopped,
       {Action::exit},
       ExitReason::failed},
      {"SIGTERM before any VM exits cleanly",
       Phase::idle,
       in(K::shutdown_requested, 30),
       Phase::stopped,
       {Action::exit},
       ExitReason::no_vm},
      {"graceful shutdown presses the power button and arms the timer",
       Phase::running,
       in(K::shutdown_requested, 30),
       Phase::shutting_down,
       {Action::acpi_shutdown, Action::arm_grace_timer},
       {}},
      {"a paused guest is resumed so it can see the button",
       Phase::paused,
       in(K::shutdown_requested, 30),
       Phase::shutting_down,
       {Action::resume, Action::acpi_shutdown, Action::arm_grace_timer},
       {}},
      {"no grace means destroy",
       Phase::running,
       in(K::shutdown_requested, 0),
       Phase::destroying,
       {Action::destroy},
       {}},
      {"a second shutdown with grace waits",
       Phase::shutting_down,
       in(K::shutdown_requested, 5),
       Phase::shutting_down,
       {},
       {}},
      {"grace expiry destroys",
       Phase::shutting_down,
       in(K::grace_expired),
       Phase::destroying,
       {Action::destroy},
       {}},
      {"late grace expiry is ignored",
       Phase::running,
       in(K::grace_expired),
       Phase::running,
       {},
       {}},
      {"kill destroys and cancels the timer",
       Phase::shutting_down,
       in(K::kill_requested),
       Phase::destroying,
       {Action::cancel_grace_timer, Action::destroy},
       {}},
      {"kill of a running VM",
       Phase::running,
       in(K::kill_requested),
       Phase::destroying,
       {Action::destroy},
       {}},
      {"guest powers off by itself",
       Phase::running,
       ev(EventKind::shutdown, "shutdown"),
       Phase::stopped,
       {Action::exit},
       ExitReason::guest_shutdown},
      {"guest powers off within the grace period",
       Phase::shutting_down,
       ev(EventKind::shutdown, "shutdown"),
       Phase::stopped,
       {Action::cancel_grace_timer, Action::exit},
       ExitReason::guest_shutdown},
      {"destroyed ends as killed",
       Phase::destroying,
       ev(EventKind::shutdown, "destroyed"),
       Phase::stopped,
       {Action::exit},
       ExitReason::killed},
      {"an outside destroy ends as killed",
       Phase::running,
       ev(EventKind::shutdown, "destroyed"),
       Phase::stopped,
       {Action::exit},
       ExitReason::killed},
      {"QEMU dying is a crash",
       Phase::running,
       ev(EventKind::crashed, "failed"),
       Phase::stopped,
       {Action::exit},
       ExitReason::crashed},
      {"a crash while paused",
       Phase::paused,
       ev(EventKind::crashed, "failed"),
       Phase::stopped,
       {Action::exit},
       ExitReason::crashed},
      {"paused event", Phase::running, ev(EventKind::paused, "user"), Phase::paused, {}, {}},
      {"resumed event", Phase::paused, ev(EventKind::resumed, "unpaused"), Phase::running, {}, {}},
      {"pausing during shutdown keeps shutting down",
       Phase::shutting_down,
       ev(EventKind::paused, "user"),
       Phase::shutting_down,
       {},
       {}},
      {"after a libvirtd restart, a running VM carries on",
       Phase::running,
       reconnected("running", "booted"),
       Phase::running,
       {},
       {}},
      {"after a libvirtd restart while shutting down, the power button is pressed again",
       Phase::shutting_down,
       reconnected("running", "booted"),
       Phase::shutting_down,
       {Action::acpi_shutdown},
       {}},
      {"... and a paused guest resumed first, so it can see it",
       Phase::shutting_down,
       reconnected("paused", "user"),
       Phase::shutting_down,
       {Action::resume, Action::acpi_shutdown},
       {}},
      {"after a libvirtd restart while destroying, a domain still running is destroyed again",
       Phase::destroying,
       reconnected("running", "booted"),
       Phase::destroying,
       {Action::destroy},
       {}},
      {"a domain that stopped during the outage is left to its missed event",
       Phase::destroying,
       reconnected("shutoff", "destroyed"),
       Phase::destroying,
       {},
       {}},
      {"losing libvirtd for good (its restart gave up) is fatal",
       Phase::running,
       in(K::connection_lost),
       Phase::stopped,
       {Action::exit},
       ExitReason::failed},
      {"stopped is final", Phase::stopped, in(K::started), Phase::stopped, {}, {}},
  };
  for (const auto& r : rows) {
    INFO(r.what);
    Transition t = step(r.from, r.input);
    CHECK(t.next == r.to);
    CHECK(t.actions == r.actions);
    CHECK(t.reason == r.reason);
  }
}

TEST_CASE("exit statuses tell how the VM ended") {
  CHECK(exit_status(ExitReason::guest_shutdown) == 0);
  CHECK(exit_status(ExitReason::no_vm) == 0);
  CHECK(exit_status(ExitReason::failed) == 1);
  CHECK(exit_status(ExitReason::crashed) == 2);
  CHECK(exit_status(ExitReason::killed) == 3);
}

TEST_CASE("after a libvirtd restart, the real state stands in for the event the outage hid") {
  struct Row {
    const char* what;
    Phase phase;
    DomainInfo domain;
    std::optional<DomainEvent> missed;
  };
  auto event = [](EventKind k, std::string reason) {
    return std::optional<DomainEvent>(DomainEvent{k, std::move(reason)});
  };
  std::vector<Row> rows{
      {"running and still running", Phase::running, {"running", "booted"}, std::nullopt},
      {"paused and still paused", Phase::paused, {"paused", "user"}, std::nullopt},
      {"paused meanwhile", Phase::running, {"paused", "user"}, event(EventKind::paused, "user")},
      {"resumed meanwhile",
       Phase::paused,
       {"running", "unpaused"},
       event(EventKind::resumed, "unpaused")},
      {"QEMU died meanwhile (libvirt found it gone)",
       Phase::running,
       {"shutoff", "crashed"},
       event(EventKind::crashed, "crashed")},
      {"gone for a reason libvirt does not know",
       Phase::paused,
       {"shutoff", "unknown"},
       event(EventKind::crashed, "failed")},
      {"no domain at all", Phase::running, {"none", ""}, event(EventKind::crashed, "failed")},
      {"the guest powered off during a graceful shutdown",
       Phase::shutting_down,
       {"shutoff", "shutdown"},
       event(EventKind::shutdown, "shutdown")},
      {"the destroy went through",
       Phase::destroying,
       {"shutoff", "destroyed"},
       event(EventKind::shutdown, "destroyed")},
      {"an idle launcher has no VM to miss events of", Phase::idle, {"none", ""}, std::nullopt},
      {"a stopped launcher neither", Phase::stopped, {"running", "booted"}, std::nullopt},
  };
  for (const auto& r : rows) {
    INFO(r.what);
    auto got = missed_event(r.phase, r.domain);
    REQUIRE(got.has_value() == r.missed.has_value());
    if (got) {
      CHECK(got->kind == r.missed->kind);
      CHECK(got->reason == r.missed->reason);
    }
  }
}

TEST_CASE("a missed event then the reconnect: QEMU gone during the outage ends the VM as crashed") {
  // The supervisor feeds missed_event first, then reconnected; together they end the VM as a
  // crash (exit 2), as if libvirtd had seen QEMU die.
  auto missed = missed_event(Phase::running, DomainInfo{"shutoff", "crashed"});
  REQUIRE(missed);
  Input e;
  e.kind = K::domain_event;
  e.event = *missed;
  Transition t = step(Phase::running, e);
  CHECK(t.next == Phase::stopped);
  CHECK(t.reason == ExitReason::crashed);
  CHECK(step(t.next, reconnected("shutoff", "crashed")).actions.empty());
}
