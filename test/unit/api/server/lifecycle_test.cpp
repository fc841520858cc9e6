// start/stop/restart decisions per runStrategy (api/server/lifecycle): what patch a user's
// request turns into, or which error they get.
#include <catch2/catch.hpp>

#include "api/server/lifecycle.hpp"

using namespace kv::apiserver;
namespace json = kv::core::json;

namespace {

json::Document doc(const std::string& text) {
  auto d = json::parse(text);
  REQUIRE(d.ok());
  return std::move(*d);
}

json::Document vm_with(const std::string& spec, const std::string& status = "") {
  return doc(R"({"metadata":{"name":"vm1","namespace":"ns","resourceVersion":"42"},"spec":)" +
             spec + (status.empty() ? "" : R"(,"status":)" + status) + "}");
}

json::Document vmi_in(const std::string& phase) {
  return doc(
      R"({"metadata":{"name":"vm1","uid":"vmi-uid"},"spec":{"terminationGracePeriodSeconds":180},"status":{"phase":")" +
      phase + R"("}})");
}

LifecyclePlan plan_ok(VmAction a, const json::Value& vm, const json::Value* vmi,
                      LifecycleOptions o = {}) {
  auto p = plan_vm_action(a, vm, vmi, o);
  if (auto* e = std::get_if<ApiError>(&p))
    FAIL("unexpected error: " << e->message);
  return std::get<LifecyclePlan>(std::move(p));
}

ApiError plan_err(VmAction a, const json::Value& vm, const json::Value* vmi,
                  LifecycleOptions o = {}) {
  auto p = plan_vm_action(a, vm, vmi, o);
  REQUIRE(std::holds_alternative<ApiError>(p));
  return std::get<ApiError>(p);
}

void check_patch(const PatchStep& p, const std::string& resource, const std::string& sub,
                 const std::string& expected) {
  CHECK(p.resource == resource);
  CHECK(p.subresource == sub);
  auto got = doc(p.body);
  auto want = doc(expected);
  INFO("got " << p.body);
  CHECK(json::equal(got, want));
}

LifecycleOptions paused() {
  LifecycleOptions o;
  o.paused = true;
  return o;
}

LifecycleOptions grace(int64_t seconds) {
  LifecycleOptions o;
  o.grace_period = seconds;
  return o;
}

const std::string kGuard = R"({"op":"test","path":"/metadata/resourceVersion","value":"42"})";

}  // namespace

TEST_CASE("start: Halted VMs are switched to Always, legacy VMs to running: true") {
  auto vm = vm_with(R"({"runStrategy":"Halted"})");
  auto p = plan_ok(VmAction::start, vm, nullptr);
  REQUIRE(p.patches.size() == 1);
  check_patch(p.patches[0], "virtualmachines", "",
              "[" + kGuard +
                  R"(,{"op":"test","path":"/spec/runStrategy","value":"Halted"},
                  {"op":"replace","path":"/spec/runStrategy","value":"Always"}])");

  auto legacy = vm_with(R"({"running":false})");
  auto q = plan_ok(VmAction::start, legacy, nullptr);
  REQUIRE(q.patches.size() == 1);
  check_patch(q.patches[0], "virtualmachines", "",
              "[" + kGuard +
                  R"(,{"op":"test","path":"/spec/running","value":false},
                  {"op":"replace","path":"/spec/running","value":true}])");
}

TEST_CASE("start paused: a Start request carrying paused=true") {
  auto vm = vm_with(R"({"runStrategy":"Halted"})");
  auto p = plan_ok(VmAction::start, vm, nullptr, paused());
  REQUIRE(p.patches.size() == 1);
  check_patch(p.patches[0], "virtualmachines", "status",
              "[" + kGuard +
                  R"(,{"op":"add","path":"/status","value":{"stateChangeRequests":[
                  {"action":"Start","data":{"paused":"true"}}]}}])");
}

TEST_CASE("start: Manual and RerunOnFailure queue a Start request") {
  auto vm = vm_with(R"({"runStrategy":"Manual"})", R"({"printableStatus":"Stopped"})");
  auto p = plan_ok(VmAction::start, vm, nullptr);
  REQUIRE(p.patches.size() == 1);
  check_patch(
      p.patches[0], "virtualmachines", "status",
      "[" + kGuard +
          R"(,{"op":"add","path":"/status/stateChangeRequests","value":[{"action":"Start"}]}])");

  SECTION("a finished VMI is stopped first") {
    auto vmi = vmi_in("Succeeded");
    auto q = plan_ok(VmAction::start, vm, &vmi);
    check_patch(q.patches[0], "virtualmachines", "status",
                "[" + kGuard +
                    R"(,{"op":"add","path":"/status/stateChangeRequests","value":[
                    {"action":"Stop","uid":"vmi-uid"},{"action":"Start"}]}])");
  }
  SECTION("RerunOnFailure refuses a Failed VMI") {
    auto rerun = vm_with(R"({"runStrategy":"RerunOnFailure"})");
    auto vmi = vmi_in("Failed");
    auto e = plan_err(VmAction::start, rerun, &vmi);
    CHECK(e.code == 409);
    CHECK(e.message ==
          "Operation cannot be fulfilled on virtualmachine.kubevirt.io \"vm1\": "
          "RerunOnFailure does not support starting VM from failed state");
  }
}

TEST_CASE("start of a VM in crash-loop backoff clears the backoff, as upstream") {
  // virt-controller's record of the failed starts (upstream's status.startFailure).
  auto vm = doc(R"({"metadata":{"name":"vm1","namespace":"ns","resourceVersion":"42",
    "annotations":{"kubevirt-cpp.io/start-failure":"{\"consecutiveFailCount\":3}"}},
    "spec":{"runStrategy":"RerunOnFailure"},"status":{"printableStatus":"CrashLoopBackOff"}})");
  auto p = plan_ok(VmAction::start, vm, nullptr);
  REQUIRE(p.patches.size() == 2);
  check_patch(
      p.patches[0], "virtualmachines", "status",
      "[" + kGuard +
          R"(,{"op":"add","path":"/status/stateChangeRequests","value":[{"action":"Start"}]}])");
  // Then the record goes, so the controller starts the VMI at once instead of after the backoff.
  check_patch(p.patches[1], "virtualmachines", "",
              R"([{"op":"test","path":"/metadata/annotations/kubevirt-cpp.io~1start-failure",
                   "value":"{\"consecutiveFailCount\":3}"},
                  {"op":"remove","path":"/metadata/annotations/kubevirt-cpp.io~1start-failure"}])");

  SECTION("stop and restart requests clear it too") {
    auto manual = doc(R"({"metadata":{"name":"vm1","namespace":"ns","resourceVersion":"42",
      "annotations":{"kubevirt-cpp.io/start-failure":"{}"}},"spec":{"runStrategy":"Manual"}})");
    auto vmi = vmi_in("Running");
    CHECK(plan_ok(VmAction::stop, manual, &vmi).patches.size() == 2);
    CHECK(plan_ok(VmAction::restart, manual, &vmi).patches.size() == 2);
  }
  SECTION("no record, nothing more to patch") {
    auto plain = vm_with(R"({"runStrategy":"RerunOnFailure"})");
    CHECK(plan_ok(VmAction::start, plain, nullptr).patches.size() == 1);
  }
}

TEST_CASE("start: errors a user can act on") {
  auto always = vm_with(R"({"runStrategy":"Always"})");
  auto e = plan_err(VmAction::start, always, nullptr);
  CHECK(e.code == 409);
  CHECK(e.reason == "Conflict");
  CHECK(e.message.find("Always does not support manual start requests") != std::string::npos);

  auto manual = vm_with(R"({"runStrategy":"Manual"})");
  auto running = vmi_in("Running");
  auto e2 = plan_err(VmAction::start, manual, &running);
  CHECK(e2.code == 409);
  CHECK(e2.message.find("VM is already running") != std::string::npos);

  auto busy =
      vm_with(R"({"runStrategy":"Manual"})", R"({"stateChangeRequests":[{"action":"Start"}]})");
  auto e3 = plan_err(VmAction::start, busy, nullptr);
  CHECK(e3.message.find("stop/start already underway") != std::string::npos);
}

TEST_CASE("stop: Always and Once become Halted; Manual queues a Stop for the VMI") {
  auto always = vm_with(R"({"runStrategy":"Always"})");
  auto running = vmi_in("Running");
  auto p = plan_ok(VmAction::stop, always, &running);
  REQUIRE(p.patches.size() == 1);
  check_patch(p.patches[0], "virtualmachines", "",
              "[" + kGuard +
                  R"(,{"op":"test","path":"/spec/runStrategy","value":"Always"},
                  {"op":"replace","path":"/spec/runStrategy","value":"Halted"}])");

  auto legacy = vm_with(R"({"running":true})");
  auto q = plan_ok(VmAction::stop, legacy, &running);
  check_patch(q.patches[0], "virtualmachines", "",
              "[" + kGuard +
                  R"(,{"op":"test","path":"/spec/running","value":true},
                  {"op":"replace","path":"/spec/running","value":false}])");

  // A lone Stop replaces whatever was queued.
  auto manual =
      vm_with(R"({"runStrategy":"Manual"})", R"({"stateChangeRequests":[{"action":"Start"}]})");
  auto r = plan_ok(VmAction::stop, manual, &running);
  check_patch(r.patches[0], "virtualmachines", "status",
              "[" + kGuard +
                  R"(,{"op":"replace","path":"/status/stateChangeRequests","value":[
                  {"action":"Stop","uid":"vmi-uid"}]}])");
}

TEST_CASE("stop: a VM that is not running gets 409 VM is not running") {
  for (const char* rs : {"Halted", "Manual", "RerunOnFailure"}) {
    INFO(rs);
    auto vm = vm_with(std::string(R"({"runStrategy":")") + rs + "\"}");
    auto e = plan_err(VmAction::stop, vm, nullptr);
    CHECK(e.code == 409);
    CHECK(e.message ==
          "Operation cannot be fulfilled on virtualmachine.kubevirt.io \"vm1\": VM is not running");
    auto done = vmi_in("Succeeded");
    CHECK(plan_err(VmAction::stop, vm, &done).code == 409);
  }
}

TEST_CASE("stop with a shorter grace period: the VMI's is lowered, Halted VMs accept it") {
  auto vm = vm_with(R"({"runStrategy":"Halted"})");
  auto going = vmi_in("Running");
  auto e = plan_err(VmAction::stop, vm, &going);
  CHECK(e.message.find("Halted only supports manual stop requests with a shorter graceperiod") !=
        std::string::npos);
  CHECK(plan_err(VmAction::stop, vm, &going, grace(300)).code == 409);

  auto p = plan_ok(VmAction::stop, vm, &going, grace(0));
  REQUIRE(p.patches.size() == 2);
  check_patch(p.patches[0], "virtualmachineinstances", "",
              R"([{"op":"test","path":"/metadata/resourceVersion","value":""},
                  {"op":"test","path":"/spec/terminationGracePeriodSeconds","value":180},
                  {"op":"replace","path":"/spec/terminationGracePeriodSeconds","value":0}])");
  check_patch(p.patches[1], "virtualmachines", "status",
              "[" + kGuard +
                  R"(,{"op":"add","path":"/status","value":{"stateChangeRequests":[
                  {"action":"Stop","uid":"vmi-uid"}]}}])");
}

TEST_CASE("restart: Stop for the current VMI, then Start") {
  auto vm = vm_with(R"({"runStrategy":"Always"})", R"({"ready":true})");
  auto running = vmi_in("Running");
  auto p = plan_ok(VmAction::restart, vm, &running);
  REQUIRE(p.patches.size() == 1);
  check_patch(p.patches[0], "virtualmachines", "status",
              "[" + kGuard +
                  R"(,{"op":"add","path":"/status/stateChangeRequests","value":[
                  {"action":"Stop","uid":"vmi-uid"},{"action":"Start"}]}])");
  CHECK_FALSE(p.delete_launcher_pod_of);

  auto forced = plan_ok(VmAction::restart, vm, &running, grace(0));
  CHECK(forced.delete_launcher_pod_of == "vmi-uid");

  CHECK(plan_err(VmAction::restart, vm, &running, grace(5)).message ==
        "For force restart, only gracePeriod=0 is supported for now");
  CHECK(plan_err(VmAction::restart, vm, &running, grace(-1)).code == 400);
  CHECK(plan_err(VmAction::restart, vm, nullptr).message.find("VM is not running") !=
        std::string::npos);
  for (const char* rs : {"Halted", "Once"}) {
    auto v = vm_with(std::string(R"({"runStrategy":")") + rs + "\"}");
    auto e = plan_err(VmAction::restart, v, &running);
    CHECK(e.code == 409);
    CHECK(e.message.find(std::string("RunStrategy ") + rs +
                         " does not support manual restart requests") != std::string::npos);
  }
}

TEST_CASE("request bodies: empty is the default, bad ones name the field") {
  auto empty = parse_lifecycle_options(VmAction::stop, "");
  REQUIRE(std::holds_alternative<LifecycleOptions>(empty));
  CHECK_FALSE(std::get<LifecycleOptions>(empty).grace_period);

  auto stop = parse_lifecycle_options(VmAction::stop, R"({"gracePeriod":0,"dryRun":["All"]})");
  REQUIRE(std::holds_alternative<LifecycleOptions>(stop));
  CHECK(std::get<LifecycleOptions>(stop).grace_period == 0);
  CHECK(std::get<LifecycleOptions>(stop).dry_run);

  auto start = parse_lifecycle_options(VmAction::start, R"({"paused":true})");
  CHECK(std::get<LifecycleOptions>(start).paused);

  auto bad = parse_lifecycle_options(VmAction::stop, "{not json");
  REQUIRE(std::holds_alternative<ApiError>(bad));
  CHECK(std::get<ApiError>(bad).code == 400);
  CHECK(std::get<ApiError>(bad).message.find("StopOptions") != std::string::npos);

  auto unknown = parse_lifecycle_options(VmAction::restart, R"({"grace":1})");
  CHECK(std::get<ApiError>(unknown).message ==
        "RestartOptions.grace: unknown field; allowed: gracePeriodSeconds, dryRun");
  auto wrong = parse_lifecycle_options(VmAction::start, R"({"paused":"yes"})");
  CHECK(std::get<ApiError>(wrong).message == "StartOptions.paused: must be true or false");
  auto dry = parse_lifecycle_options(VmAction::start, R"({"dryRun":["Some"]})");
  CHECK(std::get<ApiError>(dry).message ==
        "StartOptions.dryRun: the only allowed value is \"All\"");
}

TEST_CASE("effective runStrategy matches the controller's reading") {
  CHECK(effective_run_strategy(vm_with(R"({"runStrategy":"Manual"})")) == "Manual");
  CHECK(effective_run_strategy(vm_with(R"({"running":true})")) == "Always");
  CHECK(effective_run_strategy(vm_with(R"({"running":false})")) == "Halted");
  CHECK(effective_run_strategy(vm_with("{}")) == "Halted");
}
