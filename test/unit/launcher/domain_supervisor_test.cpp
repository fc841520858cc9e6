#include "launcher/domain_supervisor.hpp"

#include <algorithm>

#include <catch2/catch.hpp>

#include "test/fakes/fake_domain_manager.hpp"

using namespace kv::launcher;
using kv::core::Errc;
using kv::core::Error;
using kv::launcher::testing::FakeDomainManager;

namespace {

struct Harness {
  FakeDomainManager dm;
  std::vector<proto::Event> events;
  std::vector<std::chrono::seconds> armed;
  int cancelled = 0;
  std::optional<int> exit_code;
  std::unique_ptr<DomainSupervisor> c;

  Harness() {
    Preparer prep = [](const kv::core::json::Value& vmi) -> kv::core::Result<PreparedDomain> {
      if (kv::core::json::find(vmi, "broken"))
        return Error(Errc::invalid, "spec.domain.memory.guest: missing");
      PreparedDomain p;
      p.xml = "<domain/>";
      p.grace_period_seconds = 20;
      p.uid = kv::core::json::find(vmi, "other") ? "uid-2" : "uid-1";
      p.start_paused = kv::core::json::find(vmi, "paused") != nullptr;
      NetworkPlan n;
      n.interface_name = n.network_name = "default";
      n.binding = "masquerade";
      n.model = "virtio-net-pci";
      n.mac = "52:54:00:00:00:01";
      n.cidr = "10.0.2.0/24";
      n.gateway = "10.0.2.1";
      n.guest_ip = "10.0.2.2";
      p.network = n;
      return p;
    };
    SupervisorHooks h;
    h.broadcast = [this](const proto::Event& e) { events.push_back(e); };
    h.arm_grace_timer = [this](std::chrono::seconds s) { armed.push_back(s); };
    h.cancel_grace_timer = [this] { ++cancelled; };
    h.exit = [this](int code) { exit_code = code; };
    c = std::make_unique<DomainSupervisor>(dm, prep, h, 30);
  }

  proto::Response send(proto::Command cmd, std::string vmi = "",
                       std::optional<std::int64_t> grace = std::nullopt) {
    proto::Request r;
    r.id = 5;
    r.command = cmd;
    if (!vmi.empty())
      r.vmi = *proto::parse_vmi(vmi);
    r.grace_period_seconds = grace;
    proto::Response out;
    int replies = 0;
    c->handle(r, [&](proto::Response resp) {
      out = std::move(resp);
      ++replies;
    });
    REQUIRE(replies == 1);
    CHECK(out.id == 5);
    return out;
  }
};

}  // namespace

TEST_CASE("sync defines and starts once; the same VMI again is a no-op, another is refused") {
  Harness h;
  auto r = h.send(proto::Command::sync, R"({"vmi":1})");
  CHECK(r.ok());
  CHECK(h.dm.calls == std::vector<std::string>{"define_and_start"});
  CHECK(h.c->phase() == Phase::running);
  REQUIRE(r.status);
  CHECK(r.status->state == "running");
  REQUIRE(r.status->interfaces.size() == 1);
  CHECK(r.status->interfaces[0].ip_address == "10.0.2.2");

  CHECK(h.send(proto::Command::sync, R"({"vmi":1})").ok());
  CHECK(h.dm.calls.size() == 1);

  auto other = h.send(proto::Command::sync, R"({"other":1})");
  REQUIRE_FALSE(other.ok());
  CHECK(other.error->code == Errc::conflict);
}

TEST_CASE(
    "startStrategy Paused starts the domain paused; libvirt's events leave the launcher "
    "paused, and unpause resumes it") {
  Harness h;
  auto r = h.send(proto::Command::sync, R"({"vmi":1,"paused":1})");
  CHECK(r.ok());
  CHECK(h.dm.calls == std::vector<std::string>{"define_and_start(paused)"});
  REQUIRE(r.status);
  CHECK(r.status->state == "paused");
  h.c->on_domain_event({proto::EventKind::started, "booted"});
  h.c->on_domain_event({proto::EventKind::paused, "user"});
  CHECK(h.c->phase() == Phase::paused);
  CHECK(h.send(proto::Command::unpause).ok());
  CHECK(h.dm.calls.back() == "resume");
}

TEST_CASE("a bad VMI is refused with the field, and the launcher keeps waiting") {
  Harness h;
  auto r = h.send(proto::Command::sync, R"({"broken":1})");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error->message.find("spec.domain.memory.guest") == 0);
  CHECK(h.dm.calls.empty());
  CHECK(h.c->phase() == Phase::idle);
  CHECK_FALSE(h.exit_code);
}

TEST_CASE("a start that libvirt refuses ends the launcher with status 1") {
  Harness h;
  h.dm.fail_next = Error(Errc::internal, "qemu died");
  auto r = h.send(proto::Command::sync, "{}");
  CHECK_FALSE(r.ok());
  REQUIRE(h.exit_code);
  CHECK(*h.exit_code == 1);
  REQUIRE_FALSE(h.events.empty());
  CHECK(h.events.back().kind == proto::EventKind::exiting);
  CHECK(h.events.back().exit_status == 1);
}

TEST_CASE("commands that need a VM say so before a sync") {
  Harness h;
  for (auto c : {proto::Command::pause, proto::Command::unpause, proto::Command::reset,
                 proto::Command::soft_reboot}) {
    auto r = h.send(c);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error->message.find("no running VM") != std::string::npos);
  }
  CHECK(h.send(proto::Command::ping).ok());
  auto st = h.send(proto::Command::get_status);
  REQUIRE(st.status);
  CHECK(st.status->state == "none");
  CHECK(h.dm.calls.empty());
}

TEST_CASE("SIGTERM: ACPI shutdown with the VMI's grace period, destroy when it expires") {
  Harness h;
  REQUIRE(h.send(proto::Command::sync, "{}").ok());
  h.c->on_sigterm();
  CHECK(h.c->phase() == Phase::shutting_down);
  CHECK(h.dm.calls.back() == "shutdown");
  REQUIRE(h.armed.size() == 1);
  CHECK(h.armed[0] == std::chrono::seconds(20));

  h.c->on_grace_expired();
  CHECK(h.dm.calls.back() == "destroy");
  CHECK_FALSE(h.exit_code);

  h.c->on_domain_event({proto::EventKind::shutdown, "destroyed"});
  REQUIRE(h.exit_code);
  CHECK(*h.exit_code == 3);
  CHECK(h.events.front().kind == proto::EventKind::shutdown);
  CHECK(h.events.front().reason == "destroyed");
  CHECK(h.events.back().kind == proto::EventKind::exiting);
  CHECK(h.events.back().reason == "killed");
}

TEST_CASE("a guest that powers off within the grace period exits 0") {
  Harness h;
  REQUIRE(h.send(proto::Command::sync, "{}").ok());
  CHECK(h.send(proto::Command::shutdown, "", 5).ok());
  REQUIRE(h.armed.size() == 1);
  CHECK(h.armed[0] == std::chrono::seconds(5));
  h.c->on_domain_event({proto::EventKind::shutdown, "shutdown"});
  CHECK(h.cancelled == 1);
  REQUIRE(h.exit_code);
  CHECK(*h.exit_code == 0);
}

TEST_CASE("a crash exits 2; pause and unpause reach the domain") {
  Harness h;
  REQUIRE(h.send(proto::Command::sync, "{}").ok());
  CHECK(h.send(proto::Command::pause).ok());
  CHECK(h.dm.calls.back() == "pause");
  h.c->on_domain_event({proto::EventKind::paused, "user"});
  CHECK(h.c->phase() == Phase::paused);
  CHECK(h.send(proto::Command::unpause).ok());
  CHECK(h.dm.calls.back() == "resume");
  h.c->on_domain_event({proto::EventKind::resumed, "unpaused"});
  CHECK(h.c->phase() == Phase::running);

  h.c->on_domain_event({proto::EventKind::crashed, "failed"});
  REQUIRE(h.exit_code);
  CHECK(*h.exit_code == 2);
}

TEST_CASE("kill destroys at once") {
  Harness h;
  REQUIRE(h.send(proto::Command::sync, "{}").ok());
  CHECK(h.send(proto::Command::kill).ok());
  CHECK(h.dm.calls.back() == "destroy");
  CHECK(h.armed.empty());
}

TEST_CASE("after a libvirtd restart: a pause it missed is reported and the phase follows") {
  Harness h;
  REQUIRE(h.send(proto::Command::sync, "{}").ok());
  h.dm.state = {"paused", "user"};  // paused while the daemon was away
  REQUIRE(h.c->on_libvirt_reconnected().ok());
  CHECK(h.c->phase() == Phase::paused);
  REQUIRE(h.events.size() == 1);
  CHECK(h.events[0].kind == proto::EventKind::paused);
  CHECK(h.events[0].status.state == "paused");
  CHECK_FALSE(h.exit_code);
  // Nothing was missed the second time.
  REQUIRE(h.c->on_libvirt_reconnected().ok());
  CHECK(h.events.size() == 1);
}

TEST_CASE("after a libvirtd restart: a VM whose QEMU died meanwhile ends as crashed (exit 2)") {
  Harness h;
  REQUIRE(h.send(proto::Command::sync, "{}").ok());
  h.dm.state = {"shutoff", "crashed"};
  REQUIRE(h.c->on_libvirt_reconnected().ok());
  REQUIRE(h.exit_code);
  CHECK(*h.exit_code == 2);
  REQUIRE(h.events.size() == 2);
  CHECK(h.events[0].kind == proto::EventKind::crashed);
  CHECK(h.events[1].kind == proto::EventKind::exiting);
  CHECK(h.events[1].reason == "crashed");
}

TEST_CASE(
    "after a libvirtd restart during a graceful shutdown, the power button is pressed again") {
  Harness h;
  REQUIRE(h.send(proto::Command::sync, "{}").ok());
  h.c->on_sigterm();
  REQUIRE(h.dm.calls.back() == "shutdown");
  auto presses = std::count(h.dm.calls.begin(), h.dm.calls.end(), "shutdown");
  REQUIRE(h.c->on_libvirt_reconnected().ok());
  CHECK(std::count(h.dm.calls.begin(), h.dm.calls.end(), "shutdown") == presses + 1);
  CHECK(h.c->phase() == Phase::shutting_down);
  CHECK(h.armed.size() == 1);  // the grace period runs on, not again from the start
}

TEST_CASE("libvirtd lost for good ends the VM as failed (exit 1)") {
  Harness h;
  REQUIRE(h.send(proto::Command::sync, "{}").ok());
  h.c->on_connection_lost();
  REQUIRE(h.exit_code);
  CHECK(*h.exit_code == 1);
  CHECK(h.events.back().reason == "failed");
}

TEST_CASE("a restart with no VM yet has nothing to catch up with") {
  Harness h;
  REQUIRE(h.c->on_libvirt_reconnected().ok());
  CHECK(h.c->phase() == Phase::idle);
  CHECK(h.events.empty());
  CHECK(h.dm.calls.empty());
}
