// Where a VM may run: the devices.kubevirt.io/kvm request (emulation policy and the nodes that
// offer KVM), the node selectors of cpu.model / cpu.features, the message of a VM no node can
// take for want of KVM, and a node whose virt-handler went quiet.
#include <catch2/catch.hpp>

#include "builders.hpp"
#include "controller/node_health.hpp"
#include "controller/pod_render.hpp"
#include "controller/vmi_reconcile.hpp"
#include "core/json.hpp"

using namespace kv::controller;
using namespace kv::controller::testing;
using namespace std::chrono_literals;
namespace json = kv::core::json;

namespace {

json::Document node(const std::string& text) {
  auto d = json::parse(text);
  REQUIRE(d.ok());
  return std::move(*d);
}

const json::Value* kvm_request(const json::Document& pod) {
  const json::Value* cs = json::find_path(pod, {"spec", "containers"});
  REQUIRE(cs);
  return json::find_path((*cs)[0], {"resources", "requests", "devices.kubevirt.io/kvm"});
}

std::map<std::string, std::string> node_selector(const json::Document& pod) {
  std::map<std::string, std::string> out;
  if (const json::Value* s = json::find_path(pod, {"spec", "nodeSelector"}))
    for (const auto& m : s->GetObject())
      out[m.name.GetString()] = m.value.GetString();
  return out;
}

}  // namespace

TEST_CASE("kvm request: always without emulation; with it, only when some node offers KVM") {
  Config off;
  Config on;
  on.use_emulation = true;
  CHECK(requests_kvm(off, {false}));
  CHECK(requests_kvm(off, {true}));
  CHECK_FALSE(requests_kvm(on, {false}));
  CHECK(requests_kvm(on, {true}));

  auto vmi = make_vmi(VmiPhase::pending);
  auto tcg_only = render_launcher_pod(vmi, on, {false});
  REQUIRE(tcg_only.ok());
  CHECK_FALSE(kvm_request(*tcg_only));
  auto prefer_kvm = render_launcher_pod(vmi, on, {true});
  REQUIRE(prefer_kvm.ok());
  REQUIRE(kvm_request(*prefer_kvm));
  CHECK(kvm_request(*prefer_kvm)->GetString() == std::string("1"));
}

TEST_CASE("node_offers_kvm: a schedulable node with devices.kubevirt.io/kvm allocatable") {
  CHECK(node_offers_kvm(node(R"({"metadata":{"labels":{"kubevirt.io/schedulable":"true"}},
      "status":{"allocatable":{"devices.kubevirt.io/kvm":"1k","cpu":"2"}}})")));
  // None allocatable, none advertised, not taking VMs, cordoned: no.
  CHECK_FALSE(node_offers_kvm(node(R"({"metadata":{"labels":{"kubevirt.io/schedulable":"true"}},
      "status":{"allocatable":{"devices.kubevirt.io/kvm":"0"}}})")));
  CHECK_FALSE(node_offers_kvm(node(R"({"metadata":{"labels":{"kubevirt.io/schedulable":"true"}},
      "status":{"allocatable":{"cpu":"2"}}})")));
  CHECK_FALSE(node_offers_kvm(node(R"({"metadata":{"labels":{"kubevirt.io/schedulable":"false"}},
      "status":{"allocatable":{"devices.kubevirt.io/kvm":"1k"}}})")));
  CHECK_FALSE(node_offers_kvm(node(R"({"metadata":{"labels":{"kubevirt.io/schedulable":"true"}},
      "spec":{"unschedulable":true},"status":{"allocatable":{"devices.kubevirt.io/kvm":"1k"}}})")));
}

TEST_CASE("node selectors: schedulable always; a named CPU model and required features") {
  auto vmi = make_vmi(VmiPhase::pending);
  auto plain = render_launcher_pod(vmi, Config{});
  REQUIRE(plain.ok());
  CHECK(node_selector(*plain) ==
        std::map<std::string, std::string>{{"kubevirt.io/schedulable", "true"}});

  Cpu cpu;
  cpu.model = "Westmere";
  cpu.features = {{"avx2", std::nullopt}, {"sse4.2", "require"},  {"vmx", "forbid"},
                  {"pcid", "force"},      {"x2apic", "optional"}, {"aes", "disable"}};
  vmi.spec.domain.cpu = cpu;
  vmi.spec.node_selector = {{"zone", "a"}};
  auto pod = render_launcher_pod(vmi, Config{});
  REQUIRE(pod.ok());
  // As upstream: only features with policy require (or none) need a node that has them.
  CHECK(node_selector(*pod) ==
        std::map<std::string, std::string>{{"kubevirt.io/schedulable", "true"},
                                           {"cpu-model.node.kubevirt.io/Westmere", "true"},
                                           {"cpu-feature.node.kubevirt.io/avx2", "true"},
                                           {"cpu-feature.node.kubevirt.io/sse4.2", "true"},
                                           {"zone", "a"}});

  for (const char* mode : {"host-model", "host-passthrough"}) {
    Cpu host;
    host.model = mode;
    vmi.spec.domain.cpu = host;
    CHECK(required_node_labels(vmi.spec) ==
          std::map<std::string, std::string>{{"kubevirt.io/schedulable", "true"}});
  }
}

TEST_CASE("unschedulable: no node with KVM says so and how to allow emulation") {
  const std::string sched =
      "0/1 nodes are available: 1 Insufficient devices.kubevirt.io/kvm. preemption: 0/1 nodes "
      "are available: 1 No preemption victims found for incoming pod.";
  const std::string off = unschedulable_message(sched, false);
  CHECK(off.find("no node offers KVM") != std::string::npos);
  CHECK(off.find("software emulation is off") != std::string::npos);
  CHECK(off.find(R"({"data":{"useEmulation":"true"}})") != std::string::npos);
  CHECK(off.find("Scheduler: " + sched) != std::string::npos);
  // Emulation on (the pod asked for KVM because some node offers it): those nodes are full.
  const std::string on = unschedulable_message(sched, true);
  CHECK(on.find("full") != std::string::npos);
  CHECK(on.find("useEmulation") == std::string::npos);
  // Any other reason: the scheduler's words alone.
  CHECK(unschedulable_message("0/1 nodes are available: 1 Insufficient memory.", false) ==
        "0/1 nodes are available: 1 Insufficient memory.");

  // Through reconcile: the condition and its Event carry it.
  auto vmi = make_vmi(VmiPhase::scheduling);
  LauncherPod p;
  p.name = "virt-launcher-vm1-abcde";
  p.uid = "pod-1";
  p.phase = "Pending";
  p.unschedulable_message = sched;
  VmiInputs in;
  in.vmi = &vmi;
  in.pods = {p};
  in.now = t0();
  auto out = reconcile_vmi(in);
  CHECK(out.status.phase == VmiPhase::scheduling);
  const auto* c = find_condition(out.status.conditions, "PodScheduled");
  REQUIRE(c);
  CHECK(c->reason == "Unschedulable");
  CHECK(c->message == off);
  REQUIRE(out.events.size() == 1);
  CHECK(out.events[0].type == "Warning");
  CHECK(out.events[0].message == off);
}

TEST_CASE("node health: a stale heartbeat takes kubevirt.io/schedulable back, once") {
  const auto now = t0();
  auto n = [](const std::string& hb, const std::string& schedulable) {
    return node(R"({"metadata":{"name":"n1","annotations":{"kubevirt.io/heartbeat":")" + hb +
                R"("},"labels":{"kubevirt.io/schedulable":")" + schedulable + R"("}}})");
  };
  // 5 minutes is the timeout (upstream's); 6 minutes old is stale, 1 minute is not.
  auto stale = n("2025-12-31T23:54:00Z", "true");
  CHECK(heartbeat_stale(stale, now, 300s));
  auto patch = unresponsive_node_patch(stale, now, 300s);
  REQUIRE(patch);
  CHECK(*patch == R"({"metadata":{"labels":{"kubevirt.io/schedulable":"false"}}})");
  CHECK_FALSE(unresponsive_node_patch(n("2025-12-31T23:59:00Z", "true"), now, 300s));
  // Already false: nothing to write.
  CHECK_FALSE(unresponsive_node_patch(n("2025-12-31T23:54:00Z", "false"), now, 300s));
  // No handler ever ran there: nothing to conclude, nothing touched.
  auto never = node(R"({"metadata":{"name":"n2","labels":{"kubevirt.io/schedulable":"true"}}})");
  CHECK_FALSE(heartbeat_stale(never, now, 300s));
  CHECK_FALSE(unresponsive_node_patch(never, now, 300s));
}
