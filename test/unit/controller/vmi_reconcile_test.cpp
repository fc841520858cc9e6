// The VMI controller's decisions, one row per (VMI phase, launcher pods) situation, and reading
// the facts it needs out of real Pod JSON.
#include "controller/vmi_reconcile.hpp"

#include <catch2/catch.hpp>

#include "api/v1/codec.hpp"
#include "builders.hpp"
#include "core/json.hpp"

using namespace kv::controller;
using namespace kv::controller::testing;
using namespace std::chrono_literals;

namespace {

LauncherPod pod(std::string phase, bool ready = false, std::string node = {}) {
  LauncherPod p;
  p.name = "virt-launcher-vm1-abcde";
  p.uid = "pod-1";
  p.phase = std::move(phase);
  p.ready = ready;
  p.node_name = std::move(node);
  return p;
}

struct Row {
  const char* name;
  std::optional<VmiPhase> phase;
  std::vector<LauncherPod> pods = {};
  bool expected = false;
  std::vector<std::string> missing_pvcs = {};
  bool handler_stale = false;
  // expected
  VmiPhase want_phase = VmiPhase::pending;
  bool create = false;
  size_t deletes = 0;
  std::string reason = {};     // status.reason when Failed
  std::string condition = {};  // a condition type=reason expected False
  std::string node = {};
};

LauncherPod deleting(LauncherPod p) {
  p.deleting = true;
  return p;
}
LauncherPod waiting(std::string reason) {
  auto p = pod("Pending", false, "n1");
  p.waiting_reason = reason;
  p.waiting_message = "container compute: " + reason;
  return p;
}
LauncherPod unschedulable() {
  auto p = pod("Pending");
  p.unschedulable_message = "0/1 nodes are available: 1 Insufficient memory.";
  return p;
}
LauncherPod failed_pod() {
  auto p = pod("Failed", false, "n1");
  p.failure_message = "container compute terminated (Error, exit code 1)";
  return p;
}
// The compute container runs and is not ready: a VMI readiness probe the guest does not answer yet.
LauncherPod running_not_ready() {
  auto p = pod("Running", false, "n1");
  p.compute_running = true;
  return p;
}
LauncherPod second(LauncherPod p) {
  p.name = "virt-launcher-vm1-zzzzz";
  p.uid = "pod-2";
  return p;
}

const std::vector<Row> kRows = {
    {.name = "new VMI: create the pod, Scheduling",
     .phase = {},
     .want_phase = VmiPhase::scheduling,
     .create = true},
    {.name = "Pending, our create not yet seen: wait",
     .phase = VmiPhase::pending,
     .expected = true,
     .want_phase = VmiPhase::pending},
    {.name = "Pending, PVC missing: no pod, condition",
     .phase = VmiPhase::pending,
     .missing_pvcs = {"data"},
     .want_phase = VmiPhase::pending,
     .condition = "Synchronized=FailedPvcNotFound"},
    {.name = "Pending, pod exists: Scheduling",
     .phase = VmiPhase::pending,
     .pods = {pod("Pending")},
     .want_phase = VmiPhase::scheduling},
    {.name = "Scheduling, pod unschedulable: condition with the scheduler's message",
     .phase = VmiPhase::scheduling,
     .pods = {unschedulable()},
     .want_phase = VmiPhase::scheduling,
     .condition = "PodScheduled=Unschedulable"},
    {.name = "Scheduling, image pull error: condition",
     .phase = VmiPhase::scheduling,
     .pods = {waiting("ErrImagePull")},
     .want_phase = VmiPhase::scheduling,
     .condition = "Synchronized=ErrImagePull"},
    {.name = "Scheduling, image pull backoff: condition",
     .phase = VmiPhase::scheduling,
     .pods = {waiting("ImagePullBackOff")},
     .want_phase = VmiPhase::scheduling,
     .condition = "Synchronized=ImagePullBackOff"},
    {.name = "Scheduling, pod running but launcher not ready: wait",
     .phase = VmiPhase::scheduling,
     .pods = {pod("Running", false, "n1")},
     .want_phase = VmiPhase::scheduling},
    {.name = "Scheduling, pod running and ready: Scheduled on its node",
     .phase = VmiPhase::scheduling,
     .pods = {pod("Running", true, "n1")},
     .want_phase = VmiPhase::scheduled,
     .node = "n1"},
    {.name = "Scheduling, compute running, not ready (readiness probe): Scheduled all the same",
     .phase = VmiPhase::scheduling,
     .pods = {running_not_ready()},
     .want_phase = VmiPhase::scheduled,
     .node = "n1"},
    {.name = "Pending, pod already running and ready (controller restarted): Scheduled",
     .phase = VmiPhase::pending,
     .pods = {pod("Running", true, "n1")},
     .want_phase = VmiPhase::scheduled,
     .node = "n1"},
    {.name = "Scheduling, pod failed: Failed",
     .phase = VmiPhase::scheduling,
     .pods = {failed_pod()},
     .want_phase = VmiPhase::failed,
     .reason = "PodFailed"},
    {.name = "Scheduling, pod deleted: Failed",
     .phase = VmiPhase::scheduling,
     .want_phase = VmiPhase::failed,
     .reason = "PodDeleted"},
    {.name = "Scheduling, our pod not yet in the cache: wait, not Failed",
     .phase = VmiPhase::scheduling,
     .expected = true,
     .want_phase = VmiPhase::scheduling},
    {.name = "Scheduling, pod being deleted: Failed",
     .phase = VmiPhase::scheduling,
     .pods = {deleting(pod("Pending"))},
     .want_phase = VmiPhase::failed,
     .reason = "PodTerminating"},
    {.name = "Scheduling, launcher exited 0 early: Failed",
     .phase = VmiPhase::scheduling,
     .pods = {pod("Succeeded", false, "n1")},
     .want_phase = VmiPhase::failed,
     .reason = "PodSucceeded"},
    {.name = "Scheduled, pod fine: the handler's turn",
     .phase = VmiPhase::scheduled,
     .pods = {pod("Running", true, "n1")},
     .want_phase = VmiPhase::scheduled},
    {.name = "Scheduled, pod failed: Failed",
     .phase = VmiPhase::scheduled,
     .pods = {failed_pod()},
     .want_phase = VmiPhase::failed,
     .reason = "PodFailed"},
    {.name = "Scheduled, pod gone: Failed",
     .phase = VmiPhase::scheduled,
     .want_phase = VmiPhase::failed,
     .reason = "PodDeleted"},
    {.name = "Scheduled, pod succeeded: left to the handler",
     .phase = VmiPhase::scheduled,
     .pods = {pod("Succeeded", false, "n1")},
     .want_phase = VmiPhase::scheduled},
    {.name = "Scheduled, handler stale and pod not running: Failed",
     .phase = VmiPhase::scheduled,
     .pods = {pod("Unknown", false, "n1")},
     .handler_stale = true,
     .want_phase = VmiPhase::failed,
     .reason = "NodeUnresponsive"},
    {.name = "Running, pod gone, handler alive: the handler's to report",
     .phase = VmiPhase::running,
     .want_phase = VmiPhase::running},
    {.name = "Running, handler stale, pod still running: cannot tell, leave it",
     .phase = VmiPhase::running,
     .pods = {pod("Running", true, "n1")},
     .handler_stale = true,
     .want_phase = VmiPhase::running},
    {.name = "Running, handler stale, pod gone: Failed",
     .phase = VmiPhase::running,
     .handler_stale = true,
     .want_phase = VmiPhase::failed,
     .reason = "NodeUnresponsive"},
    {.name = "Succeeded, pod still running: delete it",
     .phase = VmiPhase::succeeded,
     .pods = {pod("Running", true, "n1")},
     .want_phase = VmiPhase::succeeded,
     .deletes = 1},
    {.name = "Failed, pod finished: kept for its logs",
     .phase = VmiPhase::failed,
     .pods = {failed_pod()},
     .want_phase = VmiPhase::failed},
    {.name = "two live pods: the second is deleted",
     .phase = VmiPhase::scheduling,
     .pods = {pod("Pending"), second(pod("Pending"))},
     .want_phase = VmiPhase::scheduling,
     .deletes = 1},
};

}  // namespace

TEST_CASE("reconcile_vmi: phases from the launcher pod") {
  for (const auto& r : kRows) {
    SECTION(r.name) {
      auto vmi = make_vmi(r.phase);
      VmiInputs in{&vmi, r.pods, r.expected, r.missing_pvcs, r.handler_stale, t0()};
      auto out = reconcile_vmi(in);
      CHECK(to_string(*out.status.phase) == to_string(r.want_phase));
      CHECK(out.create_pod == r.create);
      CHECK(out.delete_pods.size() == r.deletes);
      if (!r.reason.empty()) {
        CHECK(out.status.reason == r.reason);
        bool warned = false;
        for (const auto& e : out.events)
          warned = warned || (e.type == "Warning" && e.reason == r.reason);
        CHECK(warned);
      }
      if (!r.condition.empty()) {
        auto eq = r.condition.find('=');
        const auto* c = find_condition(out.status.conditions, r.condition.substr(0, eq));
        REQUIRE(c);
        CHECK(c->status == "False");
        CHECK(c->reason == r.condition.substr(eq + 1));
        CHECK(!c->message.value_or("").empty());
      }
      if (!r.node.empty())
        CHECK(out.status.node_name == r.node);
      if (out.status.phase != (vmi.status ? vmi.status->phase : std::nullopt)) {
        REQUIRE(!out.status.phase_transition_timestamps.empty());
        CHECK(out.status.phase_transition_timestamps.back().phase == *out.status.phase);
      }
    }
  }
}

TEST_CASE("reconcile_vmi: the scheduler's message reaches the VMI condition") {
  auto vmi = make_vmi(VmiPhase::scheduling);
  auto out = reconcile_vmi({&vmi, {unschedulable()}, false, {}, false, t0()});
  const auto* c = find_condition(out.status.conditions, "PodScheduled");
  REQUIRE(c);
  CHECK(c->message == "0/1 nodes are available: 1 Insufficient memory.");
  // Once the pod is scheduled and running the condition goes away.
  vmi.status = out.status;
  auto later = reconcile_vmi({&vmi, {pod("Running", true, "n1")}, false, {}, false, t0()});
  CHECK(find_condition(later.status.conditions, "PodScheduled") == nullptr);
}

TEST_CASE("reconcile_vmi: finalizer and deletion") {
  auto vmi = make_vmi(VmiPhase::pending);
  vmi.metadata.finalizers.clear();
  auto out = reconcile_vmi({&vmi, {}, false, {}, false, t0()});
  CHECK(out.add_finalizer);

  auto del = make_vmi(VmiPhase::running);
  del.metadata.deletion_timestamp = "2026-01-01T00:00:00Z";
  auto d1 = reconcile_vmi({&del, {pod("Running", true, "n1")}, false, {}, false, t0()});
  CHECK(d1.delete_pods == std::vector<std::string>{"virt-launcher-vm1-abcde"});
  CHECK_FALSE(d1.remove_finalizer);
  // While the pod terminates the finalizer stays: the guest may still run.
  auto d2 = reconcile_vmi({&del, {deleting(pod("Running", true, "n1"))}, false, {}, false, t0()});
  CHECK(d2.delete_pods.empty());
  CHECK_FALSE(d2.remove_finalizer);
  auto d3 = reconcile_vmi({&del, {}, false, {}, false, t0()});
  CHECK(d3.remove_finalizer);
  CHECK_FALSE(d3.create_pod);
}

TEST_CASE("reconcile_vmi: the node becomes the label kubevirt.io/nodeName, once") {
  auto vmi = make_vmi(VmiPhase::scheduling);
  auto unbound = reconcile_vmi({&vmi, {pod("Pending", false, "")}, false, {}, false, t0()});
  CHECK_FALSE(unbound.node_label);  // the scheduler has not picked a node: none to name
  // Bound to n1, still Scheduling: the label comes now, since virt-handler selects its VMIs by it
  // and starts the VM before the VMI is Scheduled.
  auto bound = reconcile_vmi({&vmi, {pod("Pending", false, "n1")}, false, {}, false, t0()});
  CHECK(bound.status.phase == VmiPhase::scheduling);
  CHECK_FALSE(bound.status.node_name);
  CHECK(bound.node_label == "n1");
  auto out = reconcile_vmi({&vmi, {pod("Running", true, "n1")}, false, {}, false, t0()});
  CHECK(out.node_label == "n1");
  vmi.status = out.status;
  vmi.metadata.labels[kNodeNameLabel] = "n1";
  auto again = reconcile_vmi({&vmi, {pod("Running", true, "n1")}, false, {}, false, t0()});
  CHECK_FALSE(again.node_label);
}

TEST_CASE("reconcile_vmi: a steady state writes nothing and records nothing") {
  auto vmi = make_vmi(VmiPhase::scheduling);
  auto p = pod("Pending", false, "n1");
  auto out = reconcile_vmi({&vmi, {p}, false, {}, false, t0()});
  vmi.status = out.status;
  auto again = reconcile_vmi({&vmi, {p}, false, {}, false, t0() + 5s});
  CHECK(again.status == *vmi.status);
  CHECK(again.events.empty());
  CHECK_FALSE(again.create_pod);
}

TEST_CASE("launcher_pod_from: reads what the kubelet and scheduler write") {
  auto doc = kv::core::json::parse(R"({
    "metadata": {"name": "virt-launcher-a-xyz", "uid": "u1"},
    "spec": {"nodeName": "n1"},
    "status": {
      "phase": "Pending",
      "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                      "message": "0/3 nodes are available"}],
      "initContainerStatuses": [{"name": "volume-disk", "ready": false,
        "state": {"waiting": {"reason": "ImagePullBackOff",
                              "message": "Back-off pulling image \"x\""}}}],
      "containerStatuses": [{"name": "compute", "ready": true,
        "state": {"waiting": {"reason": "PodInitializing"}}}]
    }})");
  REQUIRE(doc.ok());
  auto p = launcher_pod_from(*doc);
  CHECK(p.name == "virt-launcher-a-xyz");
  CHECK(p.uid == "u1");
  CHECK(p.node_name == "n1");
  CHECK(p.phase == "Pending");
  CHECK(p.ready);
  CHECK_FALSE(p.compute_running);
  CHECK(p.unschedulable_message == "0/3 nodes are available");
  CHECK(p.waiting_reason == "ImagePullBackOff");
  CHECK(p.waiting_message == "container volume-disk: Back-off pulling image \"x\"");

  auto failed = kv::core::json::parse(R"({
    "metadata": {"name": "p", "uid": "u", "deletionTimestamp": "2026-01-01T00:00:00Z"},
    "status": {"phase": "Failed", "containerStatuses": [{"name": "compute", "ready": false,
      "state": {"terminated": {"exitCode": 2, "reason": "Error", "message": "guest crashed"}}}]}})");
  REQUIRE(failed.ok());
  auto f = launcher_pod_from(*failed);
  CHECK(f.deleting);
  CHECK(f.failure_message == "container compute terminated (Error, exit code 2): guest crashed");
}

TEST_CASE("launcher_pod_from: a running compute container that its readiness probe holds back") {
  auto doc = kv::core::json::parse(R"({
    "metadata": {"name": "virt-launcher-a-xyz", "uid": "u1"},
    "spec": {"nodeName": "n1"},
    "status": {"phase": "Running",
      "conditions": [{"type": "Ready", "status": "False", "reason": "ContainersNotReady"}],
      "containerStatuses": [{"name": "compute", "ready": false,
        "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}}]}})");
  REQUIRE(doc.ok());
  auto p = launcher_pod_from(*doc);
  CHECK_FALSE(p.ready);
  CHECK(p.compute_running);
}

namespace {

// The launcher pod, as the controller reads it, while the kubelet cannot pull the containerDisk of
// init container volume-root from a registry that answers `answer` (the kubelet's and containerd's
// wording, from the e2e cluster: Kubernetes 1.34's back-off message carries the last pull error).
LauncherPod pod_pulling(const std::string& reason, const std::string& answer) {
  const std::string image = "registry.kubevirt-cpp.local/private/disk:1";
  std::string pull = "failed to pull and unpack image \\\"" + image +
                     "\\\": failed to resolve reference \\\"" + image + "\\\": " + answer;
  std::string message = reason == "ErrImagePull"
                            ? pull
                            : "Back-off pulling image \\\"" + image + "\\\": ErrImagePull: " + pull;
  auto doc = kv::core::json::parse(R"({
    "metadata": {"name": "virt-launcher-vm1-abcde", "uid": "pod-1"},
    "spec": {"nodeName": "n1"},
    "status": {"phase": "Pending",
      "initContainerStatuses": [
        {"name": "helper", "ready": true, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
        {"name": "volume-root", "ready": false,
         "state": {"waiting": {"reason": ")" +
                                   reason + R"(", "message": ")" + message + R"("}}}],
      "containerStatuses": [{"name": "compute", "ready": false,
        "state": {"waiting": {"reason": "PodInitializing"}}}]}})");
  REQUIRE(doc.ok());
  return launcher_pod_from(*doc);
}

}  // namespace

TEST_CASE(
    "reconcile_vmi: a containerDisk the registry refuses shows its answer, once, and the pod "
    "stays") {
  struct Case {
    const char* what;
    const char* answer;
  };
  for (auto c : {Case{"no credentials",
                      "pulling from host 127.0.0.1:15000 failed with status code [manifests 1]: "
                      "401 Unauthorized"},
                 Case{"no such image", "registry.kubevirt-cpp.local/private/disk:1: not found"}}) {
    SECTION(c.what) {
      auto vmi = make_vmi(VmiPhase::scheduling);
      std::string last_message;
      // The kubelet alternates: a pull fails, it backs off, pulls again, fails again.
      int round = 0;
      for (const char* reason :
           {"ErrImagePull", "ImagePullBackOff", "ErrImagePull", "ErrImagePull"}) {
        auto p = pod_pulling(reason, c.answer);
        auto out =
            reconcile_vmi({&vmi, {p}, false, {}, false, t0() + std::chrono::seconds(10 * round)});
        // The VMI waits on its one pod: nothing is deleted, created or failed.
        CHECK(out.status.phase == VmiPhase::scheduling);
        CHECK_FALSE(out.create_pod);
        CHECK(out.delete_pods.empty());
        const auto* cond = find_condition(out.status.conditions, "Synchronized");
        REQUIRE(cond);
        CHECK(cond->status == "False");
        CHECK(cond->reason == reason);
        // The registry's answer, as the kubelet passed it on, naming the container.
        CHECK_THAT(cond->message.value_or(""), Catch::Contains(c.answer));
        CHECK_THAT(cond->message.value_or(""), Catch::StartsWith("container volume-root: "));
        // A Warning Event when the condition changes, none when it repeats.
        const bool changed = cond->message.value_or("") != last_message;
        size_t warnings = 0;
        for (const auto& e : out.events)
          if (e.type == "Warning" && e.reason == reason && e.message == cond->message)
            ++warnings;
        CHECK(warnings == (changed ? 1u : 0u));
        last_message = cond->message.value_or("");
        vmi.status = out.status;
        ++round;
      }
      // The pull succeeds at last: the problem goes away.
      auto ok = reconcile_vmi({&vmi, {pod("Running", true, "n1")}, false, {}, false, t0() + 60s});
      CHECK(find_condition(ok.status.conditions, "Synchronized") == nullptr);
      CHECK(ok.status.phase == VmiPhase::scheduled);
    }
  }
}
