// The handler's status mapping: launcher events/status + pod -> VMI status
// (handler/status_mapping).
#include <catch2/catch.hpp>

#include "api/v1/codec.hpp"
#include "core/json.hpp"
#include "handler/status_mapping.hpp"

using namespace kv;
using api::v1::Condition;
using api::v1::VirtualMachineInstance;
using api::v1::VirtualMachineInstanceStatus;
using api::v1::VmiPhase;
using handler::desired_status;
using handler::LauncherView;
using handler::PodView;
using handler::StatusInput;

namespace {

constexpr const char* kT0 = "2026-01-01T00:00:00Z";
constexpr const char* kT1 = "2026-01-01T00:01:00Z";
constexpr const char* kT2 = "2026-01-01T00:02:00Z";

VirtualMachineInstance vmi_in(VmiPhase phase) {
  VirtualMachineInstance v;
  v.metadata.name = "vm1";
  v.metadata.namespace_ = "default";
  v.metadata.uid = "uid-1";
  v.metadata.resource_version = "42";
  VirtualMachineInstanceStatus st;
  st.phase = phase;
  st.node_name = "node-a";
  st.phase_transition_timestamps.push_back({phase, kT0});
  st.active_pods["pod-uid"] = "node-a";
  v.status = st;
  return v;
}

launcher_com::proto::DomainStatus domain(const std::string& state, const std::string& reason = "") {
  launcher_com::proto::DomainStatus d;
  d.state = state;
  d.reason = reason;
  d.interfaces.push_back({"default", "52:54:00:12:34:56", "10.0.2.2"});
  return d;
}

LauncherView connected(const std::string& state, const std::string& reason = "") {
  LauncherView l;
  l.connected = l.ever_connected = true;
  l.domain = domain(state, reason);
  return l;
}

PodView running_pod() {
  PodView p;
  p.exists = true;
  p.name = "virt-launcher-vm1-abcde";
  p.uid = "pod-uid";
  p.phase = "Running";
  p.pod_ips = {"10.244.0.7"};
  return p;
}

VirtualMachineInstanceStatus run(const VirtualMachineInstance& vmi, LauncherView l, PodView p,
                                 const std::string& now = kT1) {
  StatusInput in;
  in.vmi = &vmi;
  in.launcher = std::move(l);
  in.pod = std::move(p);
  in.now = now;
  return desired_status(in);
}

const Condition* cond(const VirtualMachineInstanceStatus& st, const std::string& type) {
  for (const auto& c : st.conditions)
    if (c.type == type)
      return &c;
  return nullptr;
}

VirtualMachineInstance with_status(VirtualMachineInstance v, VirtualMachineInstanceStatus st) {
  v.status = std::move(st);
  return v;
}

}  // namespace

TEST_CASE("a Scheduled VMI whose launcher runs the domain becomes Running with its status") {
  auto vmi = vmi_in(VmiPhase::scheduled);
  auto st = run(vmi, connected("running", "booted"), running_pod());
  REQUIRE(st.phase == VmiPhase::running);
  REQUIRE(st.phase_transition_timestamps.size() == 2);
  CHECK(st.phase_transition_timestamps[1].phase == VmiPhase::running);
  CHECK(st.phase_transition_timestamps[1].phase_transition_timestamp == kT1);
  const Condition* ready = cond(st, "Ready");
  REQUIRE(ready);
  CHECK(ready->status == "True");
  CHECK(ready->last_transition_time == kT1);
  CHECK(cond(st, "Paused") == nullptr);
  REQUIRE(st.interfaces.size() == 1);
  CHECK(st.interfaces[0].name == "default");
  CHECK(st.interfaces[0].mac == "52:54:00:12:34:56");
  // Others reach the guest at the pod's address, not the address inside the pod.
  CHECK(st.interfaces[0].ip_address == "10.244.0.7");
  CHECK(st.interfaces[0].ip_addresses == std::vector<std::string>{"10.244.0.7"});
  // The controller's fields are left alone.
  CHECK(st.node_name == "node-a");
  CHECK(st.active_pods.at("pod-uid") == "node-a");
}

TEST_CASE("the same observation again changes nothing (no status flapping)") {
  auto vmi = vmi_in(VmiPhase::scheduled);
  auto first = run(vmi, connected("running"), running_pod(), kT1);
  auto now_running = with_status(vmi, first);
  auto second = run(now_running, connected("running"), running_pod(), kT2);
  CHECK(second == first);
  CHECK_FALSE(handler::status_patch(now_running, second).has_value());
}

TEST_CASE("a launcher that cannot be reached leaves the written status alone") {
  auto vmi = with_status(vmi_in(VmiPhase::scheduled),
                         run(vmi_in(VmiPhase::scheduled), connected("running"), running_pod()));
  SECTION("after a handler restart, before the first connection") {
    CHECK(run(vmi, LauncherView{}, running_pod(), kT2) == *vmi.status);
  }
  SECTION("while the socket is gone but the pod still runs") {
    LauncherView lost = connected("running");
    lost.connected = false;
    CHECK(run(vmi, lost, running_pod(), kT2) == *vmi.status);
  }
  SECTION("while the launcher starts (no domain yet)") {
    LauncherView l;
    l.connected = l.ever_connected = true;
    l.domain = domain("none");
    CHECK(run(vmi, l, running_pod(), kT2) == *vmi.status);
  }
}

TEST_CASE("pause and unpause show in the Ready and Paused conditions") {
  auto running = with_status(vmi_in(VmiPhase::scheduled),
                             run(vmi_in(VmiPhase::scheduled), connected("running"), running_pod()));
  auto paused_st = run(running, connected("paused", "user"), running_pod(), kT2);
  CHECK(paused_st.phase == VmiPhase::running);
  CHECK(paused_st.phase_transition_timestamps.size() == 2);  // not a phase change
  REQUIRE(cond(paused_st, "Paused"));
  CHECK(cond(paused_st, "Paused")->status == "True");
  CHECK(cond(paused_st, "Paused")->reason == "PausedByUser");
  CHECK(cond(paused_st, "Ready")->status == "False");
  CHECK(cond(paused_st, "Ready")->reason == "Paused");
  CHECK(cond(paused_st, "Ready")->last_transition_time == kT2);

  auto paused = with_status(running, paused_st);
  auto resumed =
      run(paused, connected("running", "unpaused"), running_pod(), "2026-01-01T00:03:00Z");
  CHECK(cond(resumed, "Paused") == nullptr);
  CHECK(cond(resumed, "Ready")->status == "True");
  CHECK(cond(resumed, "Ready")->last_transition_time == "2026-01-01T00:03:00Z");
}

TEST_CASE("a condition keeps its transition time while its status holds") {
  auto vmi = vmi_in(VmiPhase::running);
  vmi.status->conditions.push_back(Condition{"Ready", "True", {}, kT0, {}, {}});
  auto st = run(vmi, connected("running"), running_pod(), kT2);
  CHECK(cond(st, "Ready")->last_transition_time == kT0);
}

TEST_CASE("how the VM ended decides Succeeded or Failed") {
  struct Row {
    std::string exit_reason, stop_reason;
    bool deleting;
    VmiPhase phase;
    std::string reason;
  };
  auto row = GENERATE(Row{"guest-shutdown", "shutdown", false, VmiPhase::succeeded, ""},
                      Row{"guest-shutdown", "shutdown", true, VmiPhase::succeeded, ""},
                      Row{"crashed", "failed", false, VmiPhase::failed, "QemuExited"},
                      Row{"crashed", "crashed", false, VmiPhase::failed, "GuestCrashed"},
                      Row{"crashed", "", false, VmiPhase::failed, "QemuExited"},
                      Row{"killed", "destroyed", true, VmiPhase::failed, "Destroyed"},
                      Row{"failed", "", false, VmiPhase::failed, "LauncherFailed"},
                      Row{"no-vm", "", true, VmiPhase::succeeded, ""},
                      Row{"no-vm", "", false, VmiPhase::failed, "LauncherStopped"});
  CAPTURE(row.exit_reason, row.stop_reason, row.deleting);
  auto vmi = vmi_in(VmiPhase::running);
  vmi.status->conditions.push_back(Condition{"Ready", "True", {}, kT0, {}, {}});
  if (row.deleting)
    vmi.metadata.deletion_timestamp = kT1;
  LauncherView l = connected("shutoff", row.stop_reason);
  l.stop_reason = row.stop_reason;
  l.exit_reason = row.exit_reason;
  auto st = run(vmi, l, running_pod(), kT2);
  CHECK(st.phase == row.phase);
  CHECK(st.reason.value_or("") == row.reason);
  REQUIRE(st.phase_transition_timestamps.size() == 2);
  CHECK(st.phase_transition_timestamps[1].phase == row.phase);
  CHECK(cond(st, "Ready")->status == "False");
  if (row.phase == VmiPhase::failed)
    CHECK(cond(st, "Ready")->reason == row.reason);
}

TEST_CASE("a launcher pod deleted under a running VMI ends it Failed, not Succeeded") {
  auto vmi = vmi_in(VmiPhase::running);
  vmi.status->conditions.push_back(Condition{"Ready", "True", {}, kT0, {}, {}});
  LauncherView l = connected("shutoff", "shutdown");
  l.stop_reason = "shutdown";
  l.exit_reason = "guest-shutdown";
  PodView pod = running_pod();
  pod.deleting = true;
  auto st = run(vmi, l, pod, kT2);
  CHECK(st.phase == VmiPhase::failed);
  CHECK(st.reason.value_or("") == "PodDeleted");
  CHECK(cond(st, "Ready")->reason == "PodDeleted");

  // Deleting the VMI itself (a user's stop) deletes the pod too: that shutdown is a success.
  vmi.metadata.deletion_timestamp = kT1;
  CHECK(run(vmi, l, pod, kT2).phase == VmiPhase::succeeded);
}

TEST_CASE("the stop event alone is enough when `exiting` has not arrived yet") {
  auto vmi = vmi_in(VmiPhase::running);
  LauncherView l = connected("shutoff", "failed");
  l.stop_reason = "failed";
  auto st = run(vmi, l, running_pod());
  CHECK(st.phase == VmiPhase::failed);
  CHECK(st.reason == "QemuExited");
  CHECK(cond(st, "Ready")->message.value_or("").find("QEMU") != std::string::npos);
}

TEST_CASE("a refused sync ends in Failed with the launcher's message") {
  auto vmi = vmi_in(VmiPhase::scheduled);
  LauncherView l = connected("none");
  l.sync_error = "spec.domain.devices.disks[0]: no such volume";
  l.exit_reason = "failed";
  auto st = run(vmi, l, running_pod());
  CHECK(st.phase == VmiPhase::failed);
  CHECK(st.reason == "LauncherFailed");
  CHECK(cond(st, "Ready")->message.value_or("").find("no such volume") != std::string::npos);
}

TEST_CASE(
    "a sync the launcher refuses without exiting (a bad containerDisk) leaves the VMI Scheduled "
    "with Synchronized=False, upstream's reason, and one SyncFailed message") {
  auto vmi = vmi_in(VmiPhase::scheduled);
  LauncherView l;
  l.connected = l.ever_connected = true;
  l.sync_error =
      "failed to find the disk of containerDisk \"root\" (image reg/guest:1): path /disk is "
      "absent from the image";
  auto st = run(vmi, l, running_pod());
  CHECK(st.phase == VmiPhase::scheduled);
  CHECK_FALSE(st.reason);
  const Condition* sync = cond(st, "Synchronized");
  REQUIRE(sync);
  CHECK(sync->status == "False");
  CHECK(sync->reason == "Synchronizing with the Domain failed.");
  CHECK(sync->message == *l.sync_error);
  CHECK(handler::new_sync_failure(vmi, st) == *l.sync_error);
  // Written once, it is not news again: no second Event, no status change.
  auto written = with_status(vmi, st);
  auto again = run(written, l, running_pod(), kT2);
  CHECK(again == st);
  CHECK_FALSE(handler::new_sync_failure(written, again));
}

TEST_CASE("without word from the launcher, the pod tells how it ended") {
  auto vmi = vmi_in(VmiPhase::running);
  LauncherView lost;
  lost.ever_connected = true;
  SECTION("pod Failed") {
    PodView p = running_pod();
    p.phase = "Failed";
    p.failure_message = "container compute terminated (Error, exit code 2)";
    auto st = run(vmi, lost, p);
    CHECK(st.phase == VmiPhase::failed);
    CHECK(st.reason == "PodFailed");
    CHECK(cond(st, "Ready")->message.value_or("").find("exit code 2") != std::string::npos);
  }
  SECTION("pod Succeeded") {
    PodView p = running_pod();
    p.phase = "Succeeded";
    CHECK(run(vmi, lost, p).phase == VmiPhase::succeeded);
  }
  SECTION("pod gone while Running") {
    auto st = run(vmi, lost, PodView{});
    CHECK(st.phase == VmiPhase::failed);
    CHECK(st.reason == "PodDeleted");
  }
  SECTION("pod gone while only Scheduled: the controller's call") {
    auto sched = vmi_in(VmiPhase::scheduled);
    CHECK(run(sched, LauncherView{}, PodView{}) == *sched.status);
  }
}

TEST_CASE("phases that are not the handler's are never changed") {
  auto phase =
      GENERATE(VmiPhase::pending, VmiPhase::scheduling, VmiPhase::succeeded, VmiPhase::failed);
  CAPTURE(api::v1::to_string(phase));
  auto vmi = vmi_in(phase);
  CHECK(run(vmi, connected("running"), running_pod()) == *vmi.status);
  LauncherView ended = connected("shutoff", "shutdown");
  ended.exit_reason = "guest-shutdown";
  CHECK(run(vmi, ended, running_pod()) == *vmi.status);
}

TEST_CASE("status_patch: a merge patch of the handler's fields with a resourceVersion guard") {
  auto vmi = vmi_in(VmiPhase::scheduled);
  vmi.status->reason = "Stale";
  auto st = run(vmi, connected("running"), running_pod());
  auto patch = handler::status_patch(vmi, st);
  REQUIRE(patch);
  auto doc = core::json::parse(*patch);
  REQUIRE(doc.ok());
  CHECK(core::json::find_path(*doc, {"metadata", "resourceVersion"})->GetString() ==
        std::string("42"));
  const auto* status = core::json::find(*doc, "status");
  REQUIRE(status);
  CHECK(core::json::get_string(*status, "phase") == "Running");
  // A field we own that is no longer set is removed, not left behind.
  REQUIRE(core::json::find(*status, "reason"));
  CHECK(core::json::find(*status, "reason")->IsNull());
  CHECK(core::json::find(*status, "conditions")->IsArray());
  CHECK(core::json::find(*status, "interfaces")->IsArray());
  // The controller's fields are not in the patch at all.
  CHECK(core::json::find(*status, "activePods") == nullptr);
  CHECK(core::json::find(*status, "nodeName") == nullptr);
}

TEST_CASE("pod_view_from reads the pod's addresses and failure") {
  auto doc = core::json::parse(R"({
    "metadata": {"name": "virt-launcher-x", "uid": "u1", "deletionTimestamp": "2026-01-01T00:00:00Z"},
    "status": {"phase": "Failed", "podIP": "10.244.0.9",
               "podIPs": [{"ip": "10.244.0.9"}, {"ip": "fd00::9"}],
               "containerStatuses": [{"name": "compute",
                 "state": {"terminated": {"exitCode": 2, "reason": "Error"}}}]}})");
  REQUIRE(doc.ok());
  auto p = handler::pod_view_from(*doc);
  CHECK(p.exists);
  CHECK(p.uid == "u1");
  CHECK(p.deleting);
  CHECK(p.phase == "Failed");
  CHECK(p.pod_ips == std::vector<std::string>{"10.244.0.9", "fd00::9"});
  CHECK(p.failure_message == "container compute terminated (Error, exit code 2)");
}

TEST_CASE("with a readiness probe, a running VM's Ready follows the launcher pod's Ready") {
  auto vmi = vmi_in(VmiPhase::scheduled);
  api::v1::Probe probe;
  probe.tcp_socket = api::v1::TcpSocketAction{api::v1::IntOrString{1500, {}}, std::nullopt};
  vmi.spec.readiness_probe = probe;
  PodView pod = running_pod();

  SECTION("the probe fails: Ready False with the kubelet's reason, Running all the same") {
    pod.ready = PodView::Readiness{"False", "ContainersNotReady",
                                   "containers with unready status: [compute]"};
    auto st = run(vmi, connected("running"), pod);
    CHECK(st.phase == VmiPhase::running);
    REQUIRE(cond(st, "Ready"));
    CHECK(cond(st, "Ready")->status == "False");
    CHECK(cond(st, "Ready")->reason == "ContainersNotReady");
    CHECK(cond(st, "Ready")->message == "containers with unready status: [compute]");

    SECTION("then the guest answers: Ready True, transition time moves") {
      auto running = with_status(vmi, st);
      PodView ready = running_pod();
      ready.ready = PodView::Readiness{"True", "", ""};
      auto now = run(running, connected("running"), ready, kT2);
      CHECK(cond(now, "Ready")->status == "True");
      CHECK_FALSE(cond(now, "Ready")->reason);
      CHECK(cond(now, "Ready")->last_transition_time == kT2);
    }
  }
  SECTION("the pod has no Ready condition yet: Ready False, PodConditionMissing") {
    auto st = run(vmi, connected("running"), pod);
    CHECK(cond(st, "Ready")->status == "False");
    CHECK(cond(st, "Ready")->reason == "PodConditionMissing");
  }
  SECTION("paused wins over the pod: Ready False, Paused") {
    pod.ready = PodView::Readiness{"True", "", ""};
    auto st = run(vmi, connected("paused", "user"), pod);
    CHECK(cond(st, "Ready")->reason == "Paused");
  }
}

TEST_CASE("without a readiness probe, the pod's Ready condition does not matter") {
  PodView pod = running_pod();
  pod.ready = PodView::Readiness{"False", "ContainersNotReady", ""};
  auto st = run(vmi_in(VmiPhase::scheduled), connected("running"), pod);
  CHECK(cond(st, "Ready")->status == "True");
}

TEST_CASE("status.interfaces: the pod's addresses with IPv4 first, the domain's MAC, infoSource") {
  PodView pod = running_pod();
  pod.pod_ips = {"fd00::7", "10.244.0.7"};
  auto st = run(vmi_in(VmiPhase::scheduled), connected("running"), pod);
  REQUIRE(st.interfaces.size() == 1);
  CHECK(st.interfaces[0].ip_address == "10.244.0.7");
  CHECK(st.interfaces[0].ip_addresses == std::vector<std::string>{"10.244.0.7", "fd00::7"});
  CHECK(st.interfaces[0].mac == "52:54:00:12:34:56");
  CHECK(st.interfaces[0].info_source == "domain");
  // No guest agent: the guest's own name for the interface is not known.
  CHECK_FALSE(st.interfaces[0].interface_name);
}

TEST_CASE("pod_view_from reads the pod's Ready condition") {
  auto doc = core::json::parse(R"({
    "metadata": {"name": "virt-launcher-x", "uid": "u1"},
    "status": {"phase": "Running", "podIP": "10.244.0.9",
               "conditions": [{"type": "PodScheduled", "status": "True"},
                              {"type": "Ready", "status": "False", "reason": "ContainersNotReady",
                               "message": "containers with unready status: [compute]"}]}})");
  REQUIRE(doc.ok());
  auto p = handler::pod_view_from(*doc);
  REQUIRE(p.ready);
  CHECK(p.ready->status == "False");
  CHECK(p.ready->reason == "ContainersNotReady");
  CHECK(p.ready->message == "containers with unready status: [compute]");
  auto none = core::json::parse(R"({"metadata": {"name": "p"}, "status": {"phase": "Pending"}})");
  REQUIRE(none.ok());
  CHECK_FALSE(handler::pod_view_from(*none).ready);
}

TEST_CASE("a Scheduling VMI whose active launcher pod is here is started early, its status left") {
  auto v = vmi_in(VmiPhase::scheduling);
  v.status->node_name.reset();  // the controller sets it with Scheduled
  PodView pending = running_pod();
  pending.phase = "Pending";  // the kubelet has not reported the container running yet
  CHECK(handler::handler_starts_early(v, pending, "node-a"));
  CHECK(handler::handler_starts_early(v, running_pod(), "node-a"));
  // The controller's status stays as it is until it marks the VMI Scheduled.
  auto st = run(v, connected("running"), running_pod());
  CHECK(st.phase == VmiPhase::scheduling);
  CHECK_FALSE(handler::status_patch(v, st));

  CHECK_FALSE(handler::handler_starts_early(v, running_pod(), "node-b"));  // active on node-a
  PodView other = running_pod();
  other.uid = "another-pod";  // not the VMI's active pod
  CHECK_FALSE(handler::handler_starts_early(v, other, "node-a"));
  PodView going = running_pod();
  going.deleting = true;
  CHECK_FALSE(handler::handler_starts_early(v, going, "node-a"));
  PodView ended = running_pod();
  ended.phase = "Failed";
  CHECK_FALSE(handler::handler_starts_early(v, ended, "node-a"));
  CHECK_FALSE(handler::handler_starts_early(v, PodView{}, "node-a"));
  auto deleted = v;
  deleted.metadata.deletion_timestamp = kT1;
  CHECK_FALSE(handler::handler_starts_early(deleted, running_pod(), "node-a"));
  // Scheduled and later are the handler's own (handler_owns), not an early start.
  CHECK_FALSE(handler::handler_starts_early(vmi_in(VmiPhase::scheduled), running_pod(), "node-a"));
  CHECK_FALSE(handler::handler_starts_early(vmi_in(VmiPhase::pending), running_pod(), "node-a"));
}
