// The VM controller's decisions, one row per (runStrategy, requests, VMI) situation.
#include "controller/vm_reconcile.hpp"

#include <catch2/catch.hpp>

#include "api/v1/codec.hpp"
#include "builders.hpp"

using namespace kv::controller;
using namespace kv::controller::testing;
using namespace std::chrono_literals;

namespace {

enum class Vmi { none, pending, scheduling, scheduled, running, succeeded, failed, deleting };

struct Row {
  const char* name;
  std::optional<RunStrategy> rs;
  std::optional<bool> running = {};
  std::vector<StateChangeRequest> requests = {};
  std::optional<RunStrategy> status_rs = {};  // the strategy the last reconcile saw
  Vmi vmi = Vmi::none;
  bool vmi_ran = false;          // the VMI reached Running before its current phase
  int64_t failures = 0;          // consecutive start failures recorded on the VM
  bool backoff_pending = false;  // retryAfter is in the future
  bool vm_deleting = false;
  // expected
  bool create = false;
  bool remove = false;
  bool set_running = false;
  PrintableStatus printable = PrintableStatus::stopped;
  std::vector<StateChangeAction> requests_left = {};
};

VirtualMachineInstance vmi_for(const Row& r) {
  std::optional<VmiPhase> ph;
  switch (r.vmi) {
    case Vmi::none:
    case Vmi::pending:
      ph = VmiPhase::pending;
      break;
    case Vmi::scheduling:
      ph = VmiPhase::scheduling;
      break;
    case Vmi::scheduled:
      ph = VmiPhase::scheduled;
      break;
    case Vmi::running:
    case Vmi::deleting:
      ph = VmiPhase::running;
      break;
    case Vmi::succeeded:
      ph = VmiPhase::succeeded;
      break;
    case Vmi::failed:
      ph = VmiPhase::failed;
      break;
  }
  auto vmi = make_vmi(ph, "vmi-1");
  if (r.vmi_ran && ph != VmiPhase::running)
    vmi.status->phase_transition_timestamps.insert(vmi.status->phase_transition_timestamps.begin(),
                                                   {VmiPhase::running, "2026-01-01T00:00:00Z"});
  if (r.vmi == Vmi::deleting)
    vmi.metadata.deletion_timestamp = "2026-01-01T00:00:00Z";
  if (r.vmi == Vmi::running)
    add_condition(vmi, "Ready", "True");
  return vmi;
}

const std::vector<Row> kRows = {
    // --- Always
    {.name = "Always, no VMI: create",
     .rs = RunStrategy::always,
     .create = true,
     .printable = PrintableStatus::starting},
    {.name = "Always, VMI starting: wait",
     .rs = RunStrategy::always,
     .vmi = Vmi::scheduling,
     .printable = PrintableStatus::starting},
    {.name = "Always, VMI running: nothing",
     .rs = RunStrategy::always,
     .vmi = Vmi::running,
     .printable = PrintableStatus::running},
    {.name = "Always, VMI succeeded after running: delete to restart",
     .rs = RunStrategy::always,
     .vmi = Vmi::succeeded,
     .vmi_ran = true,
     .remove = true,
     .printable = PrintableStatus::stopped},
    {.name = "Always, VMI failed before running: delete, crash loop",
     .rs = RunStrategy::always,
     .vmi = Vmi::failed,
     .remove = true,
     .printable = PrintableStatus::crash_loop_back_off},
    {.name = "Always, no VMI, in backoff: wait",
     .rs = RunStrategy::always,
     .failures = 2,
     .backoff_pending = true,
     .printable = PrintableStatus::crash_loop_back_off},
    {.name = "Always, no VMI, backoff over: create",
     .rs = RunStrategy::always,
     .failures = 2,
     .create = true,
     .printable = PrintableStatus::starting},
    {.name = "Always, restart = Stop(uid)+Start, VMI running: delete",
     .rs = RunStrategy::always,
     .requests = {stop_request("vmi-1"), start_request()},
     .vmi = Vmi::running,
     .remove = true,
     .printable = PrintableStatus::stopping,
     .requests_left = {StateChangeAction::stop, StateChangeAction::start}},
    {.name = "Always, restart, old VMI gone: create, requests done",
     .rs = RunStrategy::always,
     .requests = {stop_request("vmi-1"), start_request()},
     .create = true,
     .printable = PrintableStatus::starting},
    {.name = "Always, Stop for another VMI UID: ignored and dropped",
     .rs = RunStrategy::always,
     .requests = {stop_request("other")},
     .vmi = Vmi::running,
     .printable = PrintableStatus::running},
    {.name = "Always, VMI being deleted: stopping",
     .rs = RunStrategy::always,
     .vmi = Vmi::deleting,
     .printable = PrintableStatus::stopping},
    // --- legacy running
    {.name = "running: true, no VMI: create",
     .rs = {},
     .running = true,
     .create = true,
     .printable = PrintableStatus::starting},
    {.name = "running: false, VMI running: delete",
     .rs = {},
     .running = false,
     .vmi = Vmi::running,
     .remove = true,
     .printable = PrintableStatus::stopping},
    {.name = "neither running nor runStrategy: Halted",
     .rs = {},
     .running = {},
     .printable = PrintableStatus::stopped},
    // --- RerunOnFailure
    {.name = "RerunOnFailure, new VM: create",
     .rs = RunStrategy::rerun_on_failure,
     .create = true,
     .printable = PrintableStatus::starting},
    {.name = "RerunOnFailure, VMI failed: delete and queue Start",
     .rs = RunStrategy::rerun_on_failure,
     .status_rs = RunStrategy::rerun_on_failure,
     .vmi = Vmi::failed,
     .vmi_ran = true,
     .remove = true,
     .printable = PrintableStatus::stopped,
     .requests_left = {StateChangeAction::start}},
    {.name = "RerunOnFailure, failed VMI gone, Start queued: create",
     .rs = RunStrategy::rerun_on_failure,
     .requests = {start_request()},
     .status_rs = RunStrategy::rerun_on_failure,
     .create = true,
     .printable = PrintableStatus::starting},
    {.name = "RerunOnFailure, guest shut down (Succeeded): delete, stays stopped",
     .rs = RunStrategy::rerun_on_failure,
     .status_rs = RunStrategy::rerun_on_failure,
     .vmi = Vmi::succeeded,
     .vmi_ran = true,
     .remove = true,
     .printable = PrintableStatus::stopped},
    {.name = "RerunOnFailure, succeeded VMI gone: no restart",
     .rs = RunStrategy::rerun_on_failure,
     .status_rs = RunStrategy::rerun_on_failure,
     .printable = PrintableStatus::stopped},
    {.name = "RerunOnFailure, Stop request: delete",
     .rs = RunStrategy::rerun_on_failure,
     .requests = {stop_request()},
     .status_rs = RunStrategy::rerun_on_failure,
     .vmi = Vmi::running,
     .remove = true,
     .printable = PrintableStatus::stopping,
     .requests_left = {StateChangeAction::stop}},
    {.name = "RerunOnFailure, start failure in backoff: wait",
     .rs = RunStrategy::rerun_on_failure,
     .requests = {start_request()},
     .status_rs = RunStrategy::rerun_on_failure,
     .failures = 1,
     .backoff_pending = true,
     .printable = PrintableStatus::crash_loop_back_off,
     .requests_left = {StateChangeAction::start}},
    // --- Manual
    {.name = "Manual, no VMI, no request: nothing",
     .rs = RunStrategy::manual,
     .printable = PrintableStatus::stopped},
    {.name = "Manual, Start: create",
     .rs = RunStrategy::manual,
     .requests = {start_request()},
     .create = true,
     .printable = PrintableStatus::starting},
    {.name = "Manual, Start, VMI now running: request done",
     .rs = RunStrategy::manual,
     .requests = {start_request()},
     .vmi = Vmi::running,
     .printable = PrintableStatus::running},
    {.name = "Manual, Stop: delete",
     .rs = RunStrategy::manual,
     .requests = {stop_request()},
     .vmi = Vmi::running,
     .remove = true,
     .printable = PrintableStatus::stopping,
     .requests_left = {StateChangeAction::stop}},
    {.name = "Manual, Stop, VMI gone: request done",
     .rs = RunStrategy::manual,
     .requests = {stop_request()},
     .printable = PrintableStatus::stopped},
    {.name = "Manual, VMI failed: stays, no backoff shown",
     .rs = RunStrategy::manual,
     .vmi = Vmi::failed,
     .printable = PrintableStatus::stopped},
    {.name = "Manual, Start on a finished VMI: delete it first",
     .rs = RunStrategy::manual,
     .requests = {start_request()},
     .vmi = Vmi::succeeded,
     .vmi_ran = true,
     .remove = true,
     .printable = PrintableStatus::stopped,
     .requests_left = {StateChangeAction::start}},
    // --- Halted
    {.name = "Halted, no VMI: nothing",
     .rs = RunStrategy::halted,
     .printable = PrintableStatus::stopped},
    {.name = "Halted, VMI running: delete",
     .rs = RunStrategy::halted,
     .vmi = Vmi::running,
     .remove = true,
     .printable = PrintableStatus::stopping},
    {.name = "Halted, Start: switch to Always",
     .rs = RunStrategy::halted,
     .requests = {start_request()},
     .set_running = true,
     .printable = PrintableStatus::stopped},
    {.name = "Halted, paused Start: switch to Always, the request stays for the create",
     .rs = RunStrategy::halted,
     .requests = {start_request(true)},
     .set_running = true,
     .printable = PrintableStatus::stopped,
     .requests_left = {StateChangeAction::start}},
    // --- Once
    {.name = "Once, no VMI: create",
     .rs = RunStrategy::once,
     .create = true,
     .printable = PrintableStatus::starting},
    {.name = "Once, VMI succeeded: stays, never restarted",
     .rs = RunStrategy::once,
     .vmi = Vmi::succeeded,
     .vmi_ran = true,
     .printable = PrintableStatus::stopped},
    {.name = "Once, VMI failed: stays, never restarted",
     .rs = RunStrategy::once,
     .vmi = Vmi::failed,
     .vmi_ran = true,
     .printable = PrintableStatus::stopped},
    // --- VM deletion
    {.name = "VM deleted, VMI running: delete VMI",
     .rs = RunStrategy::always,
     .vmi = Vmi::running,
     .vm_deleting = true,
     .remove = true,
     .printable = PrintableStatus::terminating},
    {.name = "VM deleted, no VMI: nothing",
     .rs = RunStrategy::always,
     .vm_deleting = true,
     .printable = PrintableStatus::terminating},
};

}  // namespace

TEST_CASE("reconcile_vm: runStrategy and stateChangeRequests transitions") {
  for (const auto& r : kRows) {
    SECTION(r.name) {
      auto vm = make_vm(r.rs, r.running);
      vm.status = VirtualMachineStatus{};
      vm.status->state_change_requests = r.requests;
      vm.status->run_strategy = r.status_rs;
      if (r.vm_deleting)
        vm.metadata.deletion_timestamp = "2026-01-01T00:00:00Z";
      const auto now = t0() + 1h;
      if (r.failures > 0) {
        StartFailure f{r.failures, "old-vmi", r.backoff_pending ? now + 5s : now - 1s};
        vm.metadata.annotations[kStartFailureAnnotation] = start_failure_to_json(f);
      }
      std::optional<VirtualMachineInstance> vmi;
      if (r.vmi != Vmi::none)
        vmi = vmi_for(r);
      VmInputs in{&vm, vmi ? &*vmi : nullptr, false, now};
      auto out = reconcile_vm(in);

      CHECK(out.create_vmi.has_value() == r.create);
      CHECK(out.delete_vmi_uid.has_value() == r.remove);
      if (r.remove)
        CHECK(*out.delete_vmi_uid == "vmi-1");
      CHECK(out.set_running == r.set_running);
      CHECK(to_string(*out.status.printable_status) == to_string(r.printable));
      std::vector<StateChangeAction> left;
      for (const auto& q : out.status.state_change_requests)
        left.push_back(q.action);
      CHECK(left == r.requests_left);
      CHECK(out.status.run_strategy.has_value());
      if (r.backoff_pending && !r.create)
        CHECK(out.requeue_after.has_value());
    }
  }
}

TEST_CASE("reconcile_vm: the created VMI is the template's, owned by the VM") {
  auto vm = make_vm(RunStrategy::always);
  vm.spec.template_.metadata = ObjectMeta{};
  vm.spec.template_.metadata->labels = {{"app", "web"}};
  auto out = reconcile_vm({&vm, nullptr, false, t0()});
  REQUIRE(out.create_vmi);
  const auto& vmi = *out.create_vmi;
  CHECK(vmi.metadata.name == "vm1");
  CHECK(vmi.metadata.namespace_ == "default");
  CHECK(vmi.metadata.labels.at("app") == "web");
  REQUIRE(vmi.metadata.owner_references.size() == 1);
  CHECK(vmi.metadata.owner_references[0].kind == "VirtualMachine");
  CHECK(vmi.metadata.owner_references[0].uid == "vm-uid");
  CHECK(vmi.metadata.owner_references[0].controller == true);
  CHECK(vmi.metadata.finalizers == std::vector<std::string>{"foregroundDeleteVirtualMachine"});
  CHECK(vmi.spec == vm.spec.template_.spec);
  REQUIRE(!out.events.empty());
  CHECK(out.events[0].reason == "SuccessfulCreate");
}

TEST_CASE("reconcile_vm: a paused Start creates the VMI with startStrategy Paused") {
  // virtctl start --paused on a Halted VM: the switch to Always keeps the request, then the
  // VMI is created from it. A plain Start, or none, leaves the template's strategy alone.
  for (auto rs : {RunStrategy::always, RunStrategy::manual}) {
    auto vm = make_vm(rs);
    vm.status = VirtualMachineStatus{};
    vm.status->state_change_requests = {start_request(true)};
    auto out = reconcile_vm({&vm, nullptr, false, t0()});
    REQUIRE(out.create_vmi);
    CHECK(out.create_vmi->spec.start_strategy == StartStrategy::paused);
    CHECK(out.status.state_change_requests.empty());
  }
  auto vm = make_vm(RunStrategy::manual);
  vm.status = VirtualMachineStatus{};
  vm.status->state_change_requests = {start_request()};
  auto out = reconcile_vm({&vm, nullptr, false, t0()});
  REQUIRE(out.create_vmi);
  CHECK_FALSE(out.create_vmi->spec.start_strategy.has_value());
  vm.spec.template_.spec.start_strategy = StartStrategy::paused;
  out = reconcile_vm({&vm, nullptr, false, t0()});
  REQUIRE(out.create_vmi);
  CHECK(out.create_vmi->spec.start_strategy == StartStrategy::paused);
}

TEST_CASE("reconcile_vm: a volume the template gives no disk gets one, with no bus yet") {
  // As upstream's VM controller: the disk exists before a preference is applied, so its
  // preferredDiskBus reaches it; the VMI mutator gives the bus when nothing else does.
  auto vm = make_vm(RunStrategy::always);
  Volume extra;
  extra.name = "data";
  extra.empty_disk = EmptyDiskSource{*parse_quantity("1Gi")};
  vm.spec.template_.spec.volumes.push_back(extra);
  auto out = reconcile_vm({&vm, nullptr, false, t0()});
  REQUIRE(out.create_vmi);
  const auto& disks = out.create_vmi->spec.domain.devices.disks;
  REQUIRE(disks.size() == vm.spec.template_.spec.domain.devices.disks.size() + 1);
  CHECK(disks.back().name == "data");
  CHECK_FALSE(disks.back().disk.has_value());
  CHECK_FALSE(disks.back().cdrom.has_value());
}

TEST_CASE("reconcile_vm: a VMI of the same name not owned by the VM blocks creation") {
  auto vm = make_vm(RunStrategy::always);
  auto out = reconcile_vm({&vm, nullptr, true, t0()});
  CHECK_FALSE(out.create_vmi);
  REQUIRE(!out.events.empty());
  CHECK(out.events[0].reason == "FailedCreate");
}

TEST_CASE("reconcile_vm: crash loop backoff doubles from 10 s to 5 min") {
  CHECK(crash_loop_backoff(0) == 0s);
  CHECK(crash_loop_backoff(1) == 10s);
  CHECK(crash_loop_backoff(2) == 20s);
  CHECK(crash_loop_backoff(3) == 40s);
  CHECK(crash_loop_backoff(5) == 160s);
  CHECK(crash_loop_backoff(6) == 300s);
  CHECK(crash_loop_backoff(60) == 300s);

  // A VMI that fails before running counts once per UID and sets the retry time.
  auto vm = make_vm(RunStrategy::always);
  auto failed = make_vmi(VmiPhase::failed, "vmi-a");
  auto out = reconcile_vm({&vm, &failed, false, t0()});
  REQUIRE(out.start_failure);
  CHECK(out.start_failure->consecutive_fail_count == 1);
  CHECK(out.start_failure->last_failed_vmi_uid == "vmi-a");
  CHECK(out.start_failure->retry_after == t0() + 10s);
  vm.metadata.annotations[kStartFailureAnnotation] = start_failure_to_json(*out.start_failure);
  auto again = reconcile_vm({&vm, &failed, false, t0() + 1s});
  CHECK_FALSE(again.start_failure);  // same VMI: not counted twice

  // The VMI is gone; the next create waits until retryAfter.
  auto waiting = reconcile_vm({&vm, nullptr, false, t0() + 4s});
  CHECK_FALSE(waiting.create_vmi);
  CHECK(waiting.requeue_after == 6s);
  CHECK(*waiting.status.printable_status == PrintableStatus::crash_loop_back_off);
  auto later = reconcile_vm({&vm, nullptr, false, t0() + 10s});
  CHECK(later.create_vmi);

  // A second early failure doubles the wait.
  auto failed2 = make_vmi(VmiPhase::failed, "vmi-b");
  auto out2 = reconcile_vm({&vm, &failed2, false, t0() + 30s});
  REQUIRE(out2.start_failure);
  CHECK(out2.start_failure->consecutive_fail_count == 2);
  CHECK(out2.start_failure->retry_after == t0() + 50s);

  // A VMI that reaches Running clears the count.
  vm.metadata.annotations[kStartFailureAnnotation] = start_failure_to_json(*out2.start_failure);
  auto running = make_vmi(VmiPhase::running, "vmi-c");
  auto ok = reconcile_vm({&vm, &running, false, t0() + 60s});
  CHECK(ok.clear_start_failure);
}

TEST_CASE("printable_status: VMI conditions surface as the VM's status") {
  auto vm = make_vm(RunStrategy::always);
  struct Case {
    const char* type;
    const char* reason;
    PrintableStatus want;
  };
  for (auto c : {Case{"PodScheduled", "Unschedulable", PrintableStatus::error_unschedulable},
                 Case{"Synchronized", "ErrImagePull", PrintableStatus::err_image_pull},
                 Case{"Synchronized", "ImagePullBackOff", PrintableStatus::image_pull_back_off},
                 Case{"Synchronized", "FailedPvcNotFound", PrintableStatus::error_pvc_not_found}}) {
    auto vmi = make_vmi(VmiPhase::scheduling);
    add_condition(vmi, c.type, "False", c.reason);
    CHECK(printable_status(vm, &vmi, {}, false, false, t0()) == c.want);
  }
  auto paused = make_vmi(VmiPhase::running);
  add_condition(paused, "Paused", "True");
  CHECK(printable_status(vm, &paused, {}, false, false, t0()) == PrintableStatus::paused);
  auto unknown = make_vmi(VmiPhase::unknown);
  CHECK(printable_status(vm, &unknown, {}, false, false, t0()) == PrintableStatus::unknown);
}

TEST_CASE("reconcile_vm: ready, created and the Ready condition follow the VMI") {
  auto vm = make_vm(RunStrategy::always);
  auto vmi = make_vmi(VmiPhase::running);
  add_condition(vmi, "Ready", "True");
  auto out = reconcile_vm({&vm, &vmi, false, t0()});
  CHECK(out.status.ready == true);
  CHECK(out.status.created == true);
  const auto* ready = find_condition(out.status.conditions, "Ready");
  REQUIRE(ready);
  CHECK(ready->status == "True");

  auto stopped = make_vm(RunStrategy::halted);
  auto out2 = reconcile_vm({&stopped, nullptr, false, t0()});
  CHECK(out2.status.ready == false);
  CHECK(out2.status.created == false);
  ready = find_condition(out2.status.conditions, "Ready");
  REQUIRE(ready);
  CHECK(ready->status == "False");
  CHECK(ready->reason == "VMINotExists");

  // Paused is copied from the VMI.
  add_condition(vmi, "Paused", "True");
  auto out3 = reconcile_vm({&vm, &vmi, false, t0()});
  CHECK(find_condition(out3.status.conditions, "Paused"));
  CHECK(*out3.status.printable_status == PrintableStatus::paused);
}

TEST_CASE("reconcile_vm: a printable status change is an Event; a steady state is quiet") {
  auto vm = make_vm(RunStrategy::always);
  auto vmi = make_vmi(VmiPhase::running);
  add_condition(vmi, "Ready", "True");
  auto out = reconcile_vm({&vm, &vmi, false, t0()});
  REQUIRE(out.events.size() == 1);
  CHECK(out.events[0].reason == "Running");
  vm.status = out.status;
  auto again = reconcile_vm({&vm, &vmi, false, t0() + 1s});
  CHECK(again.events.empty());
  CHECK(again.status == vm.status);  // nothing to write
}

TEST_CASE(
    "reconcile_vm: runStrategy Always keeps a VMI whose image cannot be pulled (no restart loop)") {
  auto vm = make_vm(RunStrategy::always);
  for (const char* reason : {"ErrImagePull", "ImagePullBackOff"}) {
    auto vmi = make_vmi(VmiPhase::scheduling);
    add_condition(vmi, "Synchronized", "False", reason);
    for (auto later : {0s, 600s}) {
      auto out = reconcile_vm({&vm, &vmi, false, t0() + later});
      CHECK_FALSE(out.create_vmi);
      CHECK_FALSE(out.delete_vmi_uid);
      CHECK_FALSE(out.start_failure);
      CHECK(out.status.printable_status == (std::string(reason) == "ErrImagePull"
                                                ? PrintableStatus::err_image_pull
                                                : PrintableStatus::image_pull_back_off));
    }
  }
}
