// VirtualMachineInstanceReplicaSet and VirtualMachinePool: the pure plans (claim, scale up and
// down in upstream's order, replace final VMIs, pool ordinals) and the controller carrying them
// out on a fake API server (VMIs and VMs created and deleted, status and its scale fields).
#include <catch2/catch.hpp>
#include <thread>

#include "api/pool/pool.hpp"
#include "api/v1/codec.hpp"
#include "api/v1/replicaset.hpp"
#include "builders.hpp"
#include "controller/metrics.hpp"
#include "controller/replicas.hpp"
#include "controller/replicas_reconcile.hpp"
#include "test/fakes/fake_kube_client.hpp"

using namespace kv::controller;
using namespace kv::controller::testing;
namespace json = kv::core::json;
namespace pool = kv::api::pool;

namespace {

VirtualMachineInstanceReplicaSet make_rs(int32_t replicas) {
  VirtualMachineInstanceReplicaSet rs;
  rs.metadata.name = "web";
  rs.metadata.namespace_ = "default";
  rs.metadata.uid = "rs-uid";
  rs.spec.replicas = replicas;
  rs.spec.selector.match_labels = {{"app", "web"}};
  rs.spec.template_.metadata = ObjectMeta{};
  rs.spec.template_.metadata->labels = {{"app", "web"}};
  rs.spec.template_.spec = small_spec();
  return rs;
}

VirtualMachineInstance rs_vmi(const std::string& name, std::optional<VmiPhase> phase,
                              std::string created, bool owned = true) {
  auto vmi = make_vmi(phase, "uid-" + name);
  vmi.metadata.name = name;
  vmi.metadata.labels = {{"app", "web"}};
  vmi.metadata.creation_timestamp = std::move(created);
  if (owned)
    vmi.metadata.owner_references = {
        {"kubevirt.io/v1", "VirtualMachineInstanceReplicaSet", "web", "rs-uid", true, true}};
  return vmi;
}

std::vector<std::string> names(const std::vector<const VirtualMachineInstance*>& v) {
  std::vector<std::string> out;
  for (auto* x : v)
    out.push_back(*x->metadata.name);
  return out;
}

pool::VirtualMachinePool make_pool(int32_t replicas) {
  pool::VirtualMachinePool p;
  p.metadata.name = "db";
  p.metadata.namespace_ = "default";
  p.metadata.uid = "pool-uid";
  p.spec.replicas = replicas;
  p.spec.selector.match_labels = {{"app", "db"}};
  p.spec.virtual_machine_template.metadata = ObjectMeta{};
  p.spec.virtual_machine_template.metadata->labels = {{"app", "db"}};
  p.spec.virtual_machine_template.spec.run_strategy = RunStrategy::always;
  p.spec.virtual_machine_template.spec.template_.spec = small_spec();
  return p;
}

VirtualMachine pool_vm(const pool::VirtualMachinePool& p, int n, bool ready = false) {
  auto vm = vm_for_pool(p, n);
  vm.metadata.uid = "vm-uid-" + std::to_string(n);
  if (ready) {
    vm.status = VirtualMachineStatus{};
    vm.status->conditions.push_back(Condition{"Ready", "True", {}, {}, {}, {}});
  }
  return vm;
}

std::vector<std::string> vm_names(const std::vector<const VirtualMachine*>& v) {
  std::vector<std::string> out;
  for (auto* x : v)
    out.push_back(*x->metadata.name);
  return out;
}

}  // namespace

TEST_CASE("a replica set creates what is missing, from its template") {
  auto rs = make_rs(3);
  auto a = rs_vmi("web1", VmiPhase::running, "2026-01-01T00:00:00Z");
  auto plan = plan_replica_set({&rs, {&a}, true});
  CHECK(plan.create == 2);
  CHECK(plan.delete_excess.empty());
  auto vmi = vmi_for_replica_set(rs);
  CHECK(vmi.metadata.generate_name == "web");
  CHECK_FALSE(vmi.metadata.name);
  CHECK(vmi.metadata.labels == StringMap{{"app", "web"}});
  REQUIRE(vmi.metadata.owner_references.size() == 1);
  const auto& ref = vmi.metadata.owner_references[0];
  CHECK(ref.kind == "VirtualMachineInstanceReplicaSet");
  CHECK(ref.uid == "rs-uid");
  CHECK(ref.controller == true);
  CHECK(ref.block_owner_deletion == true);
  CHECK(vmi.spec == rs.spec.template_.spec);
}

TEST_CASE("replicas default to 1; nothing is done while paused, deleting or expecting") {
  auto rs = make_rs(0);
  rs.spec.replicas.reset();
  CHECK(plan_replica_set({&rs, {}, true}).create == 1);
  CHECK(plan_replica_set({&rs, {}, false}).create == 0);
  rs.spec.paused = true;
  CHECK(plan_replica_set({&rs, {}, true}).create == 0);
  rs.spec.paused.reset();
  rs.metadata.deletion_timestamp = "2026-01-01T00:00:00Z";
  CHECK(plan_replica_set({&rs, {}, true}).create == 0);
}

TEST_CASE("scale-down deletes VMIs not yet running first, then not ready, then the newest") {
  auto rs = make_rs(1);
  auto old_ready = rs_vmi("old-ready", VmiPhase::running, "2026-01-01T00:00:00Z");
  add_condition(old_ready, "Ready", "True");
  auto new_ready = rs_vmi("new-ready", VmiPhase::running, "2026-01-01T00:05:00Z");
  add_condition(new_ready, "Ready", "True");
  auto not_ready = rs_vmi("not-ready", VmiPhase::running, "2026-01-01T00:01:00Z");
  auto pending = rs_vmi("pending", VmiPhase::scheduling, "2026-01-01T00:00:30Z");
  auto plan = plan_replica_set({&rs, {&old_ready, &new_ready, &not_ready, &pending}, true});
  CHECK(names(plan.delete_excess) == std::vector<std::string>{"pending", "not-ready", "new-ready"});
  CHECK(names(plan.active).size() == 4);
}

TEST_CASE("final VMIs are deleted and replaced; deleting ones are not counted") {
  auto rs = make_rs(2);
  auto failed = rs_vmi("failed", VmiPhase::failed, "2026-01-01T00:00:00Z");
  auto done = rs_vmi("done", VmiPhase::succeeded, "2026-01-01T00:00:00Z");
  auto going = rs_vmi("going", VmiPhase::running, "2026-01-01T00:00:00Z");
  going.metadata.deletion_timestamp = "2026-01-01T00:10:00Z";
  auto plan = plan_replica_set({&rs, {&failed, &done, &going}, true});
  CHECK(plan.create == 2);
  CHECK(names(plan.delete_finished) == std::vector<std::string>{"failed", "done"});
  CHECK(plan.active.empty());
}

TEST_CASE("matching orphans are adopted, others' VMIs left, non-matching owned ones released") {
  auto rs = make_rs(2);
  auto orphan = rs_vmi("orphan", VmiPhase::running, "2026-01-01T00:00:00Z", false);
  auto foreign = rs_vmi("foreign", VmiPhase::running, "2026-01-01T00:00:00Z", false);
  foreign.metadata.owner_references = {{"kubevirt.io/v1", "VirtualMachine", "x", "x", true, {}}};
  auto other = rs_vmi("other", VmiPhase::running, "2026-01-01T00:00:00Z", false);
  other.metadata.labels = {{"app", "db"}};
  auto relabeled = rs_vmi("relabeled", VmiPhase::running, "2026-01-01T00:00:00Z");
  relabeled.metadata.labels = {{"app", "moved"}};
  auto plan = plan_replica_set({&rs, {&orphan, &foreign, &other, &relabeled}, true});
  CHECK(names(plan.adopt) == std::vector<std::string>{"orphan"});
  CHECK(names(plan.release) == std::vector<std::string>{"relabeled"});
  CHECK(names(plan.active) == std::vector<std::string>{"orphan"});
  CHECK(plan.create == 1);
}

TEST_CASE("replica set status counts active and ready VMIs and keeps upstream's conditions") {
  auto rs = make_rs(2);
  rs.spec.selector.match_expressions = {{"tier", LabelSelectorOperator::exists, {}}};
  rs.spec.template_.metadata->labels["tier"] = "front";
  auto a = rs_vmi("a", VmiPhase::running, "2026-01-01T00:00:00Z");
  add_condition(a, "Ready", "True");
  auto b = rs_vmi("b", VmiPhase::scheduling, "2026-01-01T00:00:00Z");
  auto st = replica_set_status(rs, {&a, &b}, ScaleError{"FailedCreate", "quota"}, "now");
  CHECK(st.replicas == 2);
  CHECK(st.ready_replicas == 1);
  CHECK(st.label_selector == "app=web,tier");
  REQUIRE(st.conditions.size() == 1);
  CHECK(st.conditions[0].type == "ReplicaFailure");
  CHECK(st.conditions[0].reason == "FailedCreate");
  rs.status = st;
  rs.spec.paused = true;
  auto paused = replica_set_status(rs, {&a, &b}, std::nullopt, "later");
  REQUIRE(paused.conditions.size() == 1);
  CHECK(paused.conditions[0].type == "ReplicaPaused");
  CHECK(paused.conditions[0].message == "Controller got paused");
}

TEST_CASE("a pool names its VMs <pool>-<n>, lowest free ordinals first") {
  auto p = make_pool(4);
  auto vm1 = pool_vm(p, 1);
  auto stranger = pool_vm(p, 0);  // db-0 exists but belongs to nobody: the name is taken
  stranger.metadata.owner_references.clear();
  auto plan = plan_pool({&p, {&vm1, &stranger}, true});
  std::vector<std::string> created;
  for (const auto& vm : plan.create)
    created.push_back(*vm.metadata.name);
  CHECK(created == std::vector<std::string>{"db-2", "db-3", "db-4"});
  const auto& vm = plan.create[0];
  CHECK(vm.metadata.labels == StringMap{{"app", "db"}});
  REQUIRE(vm.metadata.owner_references.size() == 1);
  CHECK(vm.metadata.owner_references[0].kind == "VirtualMachinePool");
  CHECK(vm.metadata.owner_references[0].api_version == "pool.kubevirt.io/v1beta1");
  CHECK(vm.spec.run_strategy == RunStrategy::always);
}

TEST_CASE("a pool scales in from the highest ordinal; VMs being deleted count as gone") {
  auto p = make_pool(1);
  auto vm0 = pool_vm(p, 0), vm1 = pool_vm(p, 1), vm2 = pool_vm(p, 2), vm10 = pool_vm(p, 10);
  auto plan = plan_pool({&p, {&vm0, &vm10, &vm1, &vm2}, true});
  CHECK(vm_names(plan.remove) == std::vector<std::string>{"db-10", "db-2", "db-1"});
  vm10.metadata.deletion_timestamp = "2026-01-01T00:00:00Z";
  plan = plan_pool({&p, {&vm0, &vm10, &vm1, &vm2}, true});
  CHECK(vm_names(plan.remove) == std::vector<std::string>{"db-2", "db-1"});
}

TEST_CASE("pool ordinals are read from <pool>-<digits> only") {
  CHECK(pool_ordinal("db", "db-0") == 0);
  CHECK(pool_ordinal("db", "db-12") == 12);
  CHECK_FALSE(pool_ordinal("db", "db-x"));
  CHECK_FALSE(pool_ordinal("db", "db-01"));
  CHECK_FALSE(pool_ordinal("db", "dba-1"));
  CHECK_FALSE(pool_ordinal("db", "db-"));
}

TEST_CASE("pool status counts its ready VMs") {
  auto p = make_pool(2);
  auto vm0 = pool_vm(p, 0, true), vm1 = pool_vm(p, 1, false);
  auto plan = plan_pool({&p, {&vm0, &vm1}, true});
  auto st = pool_status(p, plan.owned, std::nullopt, "now");
  CHECK(st.replicas == 2);
  CHECK(st.ready_replicas == 1);
  CHECK(st.label_selector == "app=db");
  CHECK(st.conditions.empty());
}

// --- the controller on a fake API server

namespace {

kv::core::kube::Resource vmi_res() {
  return {"kubevirt.io", "v1", "virtualmachineinstances", "VirtualMachineInstance", true};
}
kv::core::kube::Resource vm_res() {
  return {"kubevirt.io", "v1", "virtualmachines", "VirtualMachine", true};
}

template <class F>
bool eventually(F f) {
  for (int i = 0; i < 500; ++i) {
    if (f())
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

}  // namespace

TEST_CASE("the controller keeps a replica set at its count and writes its status") {
  kv::test::FakeKubeClient api;
  json::Document d;
  auto rs = make_rs(2);
  rs.metadata.uid.reset();
  auto created = api.create(replica_sets_resource(), "default", encode(rs, d.GetAllocator()));
  REQUIRE(created.ok());
  Metrics metrics;
  ReplicasOptions o;
  o.record_events = false;
  ReplicasController c(api, metrics, o);
  REQUIRE(c.start(std::chrono::seconds(5), false).ok());

  REQUIRE(c.sync_replica_set("default/web").ok());
  CHECK(api.count(vmi_res()) == 2);
  auto list = api.list(vmi_res(), "default");
  REQUIRE(list.ok());
  for (const auto& item : list->items) {
    CHECK(std::string(kv::core::kube::meta::name(item)).rfind("web", 0) == 0);
    auto vmi = decode_vmi(item);
    REQUIRE(vmi.ok());
    REQUIRE(vmi->metadata.owner_references.size() == 1);
    CHECK(vmi->metadata.owner_references[0].name == "web");
  }
  // Further rounds create nothing more; once the caches show both VMIs the status counts them.
  auto status_replicas = [&] {
    auto got = api.get(replica_sets_resource(), "default", "web");
    auto rs = got.ok() ? decode_replica_set(*got)
                       : kv::core::Result<VirtualMachineInstanceReplicaSet>(got.error());
    return rs.ok() && rs->status ? rs->status->replicas.value_or(-1) : -1;
  };
  REQUIRE(
      eventually([&] { return c.sync_replica_set("default/web").ok() && status_replicas() == 2; }));
  CHECK(api.count(vmi_res()) == 2);
  auto got = api.get(replica_sets_resource(), "default", "web");
  REQUIRE(got.ok());
  auto st = decode_replica_set(*got);
  REQUIRE(st.ok());
  CHECK(st->status->label_selector == "app=web");

  // Scaled to 1 (as kubectl scale does, through the object): one VMI is deleted.
  json::Document scaled;
  scaled.CopyFrom(*got, scaled.GetAllocator());
  (*json::find(scaled, "spec"))["replicas"].SetInt(1);
  REQUIRE(api.update(replica_sets_resource(), "default", scaled).ok());
  REQUIRE(eventually([&] {
    auto s = c.sync_replica_set("default/web");
    return s.ok() && api.count(vmi_res()) == 1;
  }));
  c.stop();
}

TEST_CASE("the controller creates pool VMs <pool>-0, <pool>-1 and removes the highest first") {
  kv::test::FakeKubeClient api;
  json::Document d;
  auto p = make_pool(2);
  p.metadata.uid.reset();
  REQUIRE(api.create(pools_resource(), "default", pool::encode(p, d.GetAllocator())).ok());
  Metrics metrics;
  ReplicasOptions o;
  o.record_events = false;
  ReplicasController c(api, metrics, o);
  REQUIRE(c.start(std::chrono::seconds(5), false).ok());
  REQUIRE(c.sync_pool("default/db").ok());
  CHECK(api.get(vm_res(), "default", "db-0").ok());
  CHECK(api.get(vm_res(), "default", "db-1").ok());
  CHECK(api.count(vm_res()) == 2);

  auto got = api.get(pools_resource(), "default", "db");
  REQUIRE(got.ok());
  json::Document scaled;
  scaled.CopyFrom(*got, scaled.GetAllocator());
  (*json::find(scaled, "spec"))["replicas"].SetInt(1);
  REQUIRE(api.update(pools_resource(), "default", scaled).ok());
  REQUIRE(eventually([&] {
    auto s = c.sync_pool("default/db");
    return s.ok() && api.count(vm_res()) == 1;
  }));
  CHECK(api.get(vm_res(), "default", "db-0").ok());
  CHECK_FALSE(api.get(vm_res(), "default", "db-1").ok());
  c.stop();
}
