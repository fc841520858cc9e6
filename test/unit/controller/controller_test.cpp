// The controller's wiring (controller/controller.cpp) on the in-memory API server: informers fill
// the caches, sync_vm / sync_vmi / sync_node are called directly (no workers), and each case checks
// what a user would see through the API afterwards: objects created or deleted, status, labels,
// finalizers, Events, and the errors a worker would retry on.
//
// Waiting: where a case needs the caches to have seen a write, it waits (bounded, real time) for
// the informer-backed sign of it: a key queued by the informer's handler, or a sync whose outcome
// depends on the cache. Where a case needs the caches NOT to see a write yet, it freezes them
// (freeze_caches below) instead of racing the informers.
#include <catch2/catch.hpp>

#include "addon/resources.hpp"
#include "api/v1/codec.hpp"
#include "builders.hpp"
#include "controller/controller.hpp"
#include "controller/node_health.hpp"
#include "controller/pod_render.hpp"
#include "core/kube/kubeconfig.hpp"
#include "core/kube/resource.hpp"
#include "test/fakes/fake_clock.hpp"
#include "test/fakes/fake_kube_client.hpp"
#include "test/support/kube_test_util.hpp"

using namespace kv::controller;
using namespace kv::controller::testing;
namespace json = kv::core::json;
namespace kube = kv::core::kube;
namespace meta = kv::core::kube::meta;
namespace resources = kv::addon::resources;
using kv::core::Errc;
using kv::core::Error;
using kv::test::FakeClock;
using kv::test::FakeKubeClient;
using kv::test::wait_for;

namespace {

constexpr int kInformers = 6;  // VMs, VMIs, pods, PVCs, nodes, the config ConfigMap
const std::string kKey = "default/vm1";

// The object as the API server stored it (uid, resourceVersion).
json::Document create(FakeKubeClient& api, const kube::Resource& r, const json::Value& obj) {
  auto d = api.create(r, r.namespaced ? "default" : "", obj);
  REQUIRE(d.ok());
  return std::move(*d);
}

std::string create_vm(FakeKubeClient& api, const VirtualMachine& vm) {
  json::Document d;
  return std::string(
      meta::uid(create(api, resources::virtual_machines(), encode(vm, d.GetAllocator()))));
}

std::string create_vmi(FakeKubeClient& api, const VirtualMachineInstance& vmi) {
  json::Document d;
  return std::string(meta::uid(
      create(api, resources::virtual_machine_instances(), encode(vmi, d.GetAllocator()))));
}

// A VMI the VM with this uid controls, as vmi_from_template makes it.
VirtualMachineInstance owned_vmi(VmiPhase phase, const std::string& vm_uid) {
  auto vmi = make_vmi(phase);
  vmi.metadata.owner_references = {{"kubevirt.io/v1", "VirtualMachine", "vm1", vm_uid, true, true}};
  return vmi;
}

std::optional<VirtualMachine> vm_in_api(FakeKubeClient& api) {
  auto got = api.get(resources::virtual_machines(), "default", "vm1");
  if (!got.ok())
    return std::nullopt;
  auto vm = decode_vm(*got);
  REQUIRE(vm.ok());
  return std::move(*vm);
}

std::optional<VirtualMachineInstance> vmi_in_api(FakeKubeClient& api) {
  auto got = api.get(resources::virtual_machine_instances(), "default", "vm1");
  if (!got.ok())
    return std::nullopt;
  auto vmi = decode_vmi(*got);
  REQUIRE(vmi.ok());
  return std::move(*vmi);
}

std::optional<VmiPhase> vmi_phase(FakeKubeClient& api) {
  auto vmi = vmi_in_api(api);
  return vmi && vmi->status ? vmi->status->phase : std::nullopt;
}

std::optional<PrintableStatus> printable(FakeKubeClient& api) {
  auto vm = vm_in_api(api);
  return vm && vm->status ? vm->status->printable_status : std::nullopt;
}

std::vector<json::Document> launcher_pods(FakeKubeClient& api) {
  auto list = api.list(kube::resources::pods(), "default");
  REQUIRE(list.ok());
  return std::move(list->items);
}

// The Events recorded with this reason, about the object named `name`.
std::vector<json::Document> events(FakeKubeClient& api, const std::string& reason,
                                   const std::string& name) {
  auto list = api.list(kube::resources::events(), "");
  REQUIRE(list.ok());
  std::vector<json::Document> out;
  for (auto& e : list->items)
    if (json::get_string(e, "reason") == reason &&
        json::get_string(*json::find(e, "involvedObject"), "name") == name)
      out.push_back(std::move(e));
  return out;
}

// Takes every key queued so far, so that the next key to appear comes from a later informer event.
void drain(kube::WorkQueue& q) {
  while (auto k = q.try_get())
    q.done(*k);
}

// Waits until an informer event queues `key`: the handlers run after the cache took the change.
bool wait_queued(kube::WorkQueue& q, const std::string& key) {
  return wait_for([&] {
    auto k = q.try_get();
    if (!k)
      return false;
    q.done(*k);
    return *k == key;
  });
}

// The caches stop taking changes: every watch is broken, and the informers then wait out their
// retry backoff on the fake clock, which moves only when the test says so (thaw_caches).
void freeze_caches(FakeKubeClient& api) {
  // A watch opened after break_watches() would not be broken: wait until all are open.
  REQUIRE(wait_for([&] { return api.open_watches() == kInformers; }));
  api.break_watches();
  REQUIRE(wait_for([&] { return api.open_watches() == 0; }));
}

// Moves the fake clock past the informers' backoff until every watch is open again; the caches
// then catch up with what happened meanwhile.
void thaw_caches(FakeKubeClient& api, FakeClock& clock) {
  REQUIRE(wait_for([&] {
    clock.advance(std::chrono::milliseconds(250));
    return api.open_watches() == kInformers;
  }));
}

// A launcher pod of the VMI with this uid (found by its labels, as the controller's pods);
// `more` adds fields after metadata (spec, status).
json::Document launcher_pod(const std::string& vmi_uid, const std::string& more = "") {
  auto d =
      json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"virt-launcher-vm1",)"
                  R"("labels":{")" +
                  std::string(kAppLabel) + R"(":")" + kAppLabelValue + R"(",")" + kCreatedByLabel +
                  R"(":")" + vmi_uid + R"("}})" + (more.empty() ? "" : "," + more) + "}");
  REQUIRE(d.ok());
  return std::move(*d);
}

json::Document node(const std::string& name, std::chrono::system_clock::time_point heartbeat) {
  auto d =
      json::parse(R"({"apiVersion":"v1","kind":"Node","metadata":{"name":")" + name +
                  R"(","labels":{")" + kSchedulableLabel + R"(":"true"},"annotations":{")" +
                  kHeartbeatAnnotation + R"(":")" + kube::format_rfc3339(heartbeat) + R"("}}})");
  REQUIRE(d.ok());
  return std::move(*d);
}

std::string schedulable(FakeKubeClient& api, const std::string& name) {
  auto got = api.get(kube::resources::nodes(), "", name);
  REQUIRE(got.ok());
  return std::string(meta::label(*got, kSchedulableLabel).value_or("<none>"));
}

// The fake API server, plus what kube-apiserver does with a PUT on a status subresource and the
// fake does not: only the status is taken from the object sent (its resourceVersion still decides
// 409); metadata and spec stay as stored, so a status write cannot undo a label patched before it.
class StatusSubresource final : public kube::KubeClient {
 public:
  explicit StatusSubresource(FakeKubeClient& fake) : fake_(fake) {}

  kv::core::Result<json::Document> update(const kube::Resource& r, std::string_view ns,
                                          const json::Value& obj,
                                          const kube::WriteOptions& o = {}) override {
    if (o.subresource != "status")
      return fake_.update(r, ns, obj, o);
    auto stored = fake_.get(r, ns, meta::name(obj));
    if (!stored.ok())
      return std::move(stored).error();
    auto& a = stored->GetAllocator();
    const json::Value* status = json::find(obj, "status");
    json::set(*stored, "status", status ? json::clone(*status, a) : json::Value(), a);
    json::set(*json::find(*stored, "metadata"), "resourceVersion", meta::resource_version(obj), a);
    return fake_.update(r, ns, *stored, o);
  }

  kv::core::Result<json::Document> get(const kube::Resource& r, std::string_view ns,
                                       std::string_view name,
                                       const kube::GetOptions& o = {}) override {
    return fake_.get(r, ns, name, o);
  }
  kv::core::Result<kube::ListResult> list(const kube::Resource& r, std::string_view ns,
                                          const kube::ListOptions& o = {}) override {
    return fake_.list(r, ns, o);
  }
  kv::core::Result<json::Document> create(const kube::Resource& r, std::string_view ns,
                                          const json::Value& obj,
                                          const kube::WriteOptions& o = {}) override {
    return fake_.create(r, ns, obj, o);
  }
  kv::core::Result<json::Document> patch(const kube::Resource& r, std::string_view ns,
                                         std::string_view name, kube::PatchType type,
                                         std::string_view body,
                                         const kube::PatchOptions& o = {}) override {
    return fake_.patch(r, ns, name, type, body, o);
  }
  kv::core::Status remove(const kube::Resource& r, std::string_view ns, std::string_view name,
                          const kube::DeleteOptions& o = {}) override {
    return fake_.remove(r, ns, name, o);
  }
  kv::core::Status watch(const kube::Resource& r, std::string_view ns, const kube::ListOptions& o,
                         const kube::WatchHandler& h, kube::Cancel* c = nullptr) override {
    return fake_.watch(r, ns, o, h, c);
  }
  kv::core::Result<kube::RawResponse> raw(const kube::RawRequest& req) override {
    return fake_.raw(req);
  }
  kv::core::Result<kube::Resource> resolve(std::string_view api_version,
                                           std::string_view kind) override {
    return fake_.resolve(api_version, kind);
  }
  std::string default_namespace() const override { return fake_.default_namespace(); }

 private:
  FakeKubeClient& fake_;
};

// A controller on `api`, started with its caches filled and no workers.
struct Started {
  StatusSubresource server;
  Metrics metrics;
  Controller controller;
  Started(FakeKubeClient& api, ControllerOptions o)
      : server(api), controller(server, metrics, std::move(o)) {
    REQUIRE(controller.start(std::chrono::seconds(10), /*run_workers=*/false).ok());
  }
};

// Events are named <object>.<nanoseconds>, so on a stopped fake clock two Events about one object
// in one sync would collide: cases that read Events use the real clock.
ControllerOptions with_real_clock() {
  return {};
}

ControllerOptions with_fake_clock(const FakeClock& clock, bool record_events) {
  ControllerOptions o;
  o.clock = &clock;
  o.record_events = record_events;
  return o;
}

}  // namespace

TEST_CASE("a VM with runStrategy Always gets a VMI it controls, with the finalizer, and an Event") {
  FakeKubeClient api;
  const std::string vm_uid = create_vm(api, make_vm(RunStrategy::always));
  Started s(api, with_real_clock());

  REQUIRE(s.controller.sync_vm(kKey).ok());

  auto vmi = vmi_in_api(api);
  REQUIRE(vmi);
  REQUIRE(vmi->metadata.owner_references.size() == 1);
  const auto& owner = vmi->metadata.owner_references[0];
  CHECK(owner.kind == "VirtualMachine");
  CHECK(owner.name == "vm1");
  CHECK(owner.uid == vm_uid);
  CHECK(owner.controller == true);
  CHECK(owner.block_owner_deletion == true);
  CHECK(vmi->metadata.finalizers == std::vector<std::string>{kVmiFinalizer});
  CHECK(vmi->spec.domain.memory == small_spec().domain.memory);
  CHECK(printable(api) == PrintableStatus::starting);

  s.controller.stop();  // writes the recorded Events
  auto created = events(api, "SuccessfulCreate", "vm1");
  REQUIRE(created.size() == 1);
  CHECK(json::get_string(created[0], "type") == "Normal");
  const json::Value& about = *json::find(created[0], "involvedObject");
  CHECK(json::get_string(about, "kind") == "VirtualMachine");
  CHECK(json::get_string(about, "uid") == vm_uid);
}

TEST_CASE("a VMI gets one launcher pod although it is synced again before the pod is cached") {
  FakeKubeClient api;
  FakeClock clock;
  const std::string vmi_uid = create_vmi(api, make_vmi(VmiPhase::pending));
  Started s(api, with_fake_clock(clock, /*record_events=*/false));
  freeze_caches(api);  // the caches hold the Pending VMI and no pod, whatever is written next
  const int creates = api.calls("create");

  REQUIRE(s.controller.sync_vmi(kKey).ok());
  auto pods = launcher_pods(api);
  REQUIRE(pods.size() == 1);
  CHECK(meta::label(pods[0], kCreatedByLabel) == vmi_uid);
  CHECK(vmi_phase(api) == VmiPhase::scheduling);

  // The caches still show the Pending VMI and no pod: the controller remembers its create and
  // waits, neither creating again nor writing the stale status back.
  auto again = s.controller.sync_vmi(kKey);
  CHECK(again.ok());
  CHECK(api.calls("create") == creates + 1);
  CHECK(vmi_phase(api) == VmiPhase::scheduling);

  thaw_caches(api, clock);
  // Once the pod is cached the VMI lists it as its active pod; still the one pod.
  CHECK(wait_for([&] {
    if (!s.controller.sync_vmi(kKey).ok())
      return false;
    auto vmi = vmi_in_api(api);
    return vmi->status && vmi->status->active_pods.count(std::string(meta::uid(pods[0]))) == 1;
  }));
  CHECK(launcher_pods(api).size() == 1);
  CHECK(api.calls("create") == creates + 1);
  CHECK(vmi_phase(api) == VmiPhase::scheduling);
}

TEST_CASE("a VM whose VMI exists but is not cached yet gets no SuccessfulCreate Event") {
  FakeKubeClient api;
  const std::string vm_uid = create_vm(api, make_vm(RunStrategy::always));
  Started s(api, with_real_clock());
  // An earlier sync created the VMI; the cache has not seen it yet.
  json::Document d;
  REQUIRE(api.create_silently(resources::virtual_machine_instances(), "default",
                              encode(owned_vmi(VmiPhase::pending, vm_uid), d.GetAllocator()))
              .ok());

  REQUIRE(s.controller.sync_vm(kKey).ok());  // the create finds it there

  s.controller.stop();  // writes the recorded Events
  CHECK(events(api, "SuccessfulCreate", "vm1").empty());
  CHECK(events(api, "FailedCreate", "vm1").empty());
}

TEST_CASE("a failed VMI create is returned for a retry and shown on the VM; the retry creates it") {
  FakeKubeClient api;
  create_vm(api, make_vm(RunStrategy::always));
  Started s(api, with_real_clock());
  drain(s.controller.vm_queue());
  drain(s.controller.vmi_queue());
  api.fail_next("create", 1, Error(Errc::unavailable, "connection refused"));

  auto failed = s.controller.sync_vm(kKey);
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.error().code == Errc::unavailable);
  CHECK_FALSE(vmi_in_api(api));
  auto vm = vm_in_api(api);
  REQUIRE(vm->status);
  const Condition* failure = find_condition(vm->status->conditions, "Failure");
  REQUIRE(failure);
  CHECK(failure->status == "True");
  CHECK(failure->reason == "FailedCreate");
  CHECK(failure->message.value_or("").find("connection refused") != std::string::npos);

  // Once the VM cache holds the status just written, the retry succeeds.
  REQUIRE(wait_queued(s.controller.vm_queue(), kKey));
  REQUIRE(s.controller.sync_vm(kKey).ok());
  CHECK(vmi_in_api(api));
  // And once the VMI is cached, the Failure condition goes.
  REQUIRE(wait_queued(s.controller.vmi_queue(), kKey));
  CHECK(wait_for([&] {
    if (!s.controller.sync_vm(kKey).ok())
      return false;
    auto now = vm_in_api(api);
    return now->status && !find_condition(now->status->conditions, "Failure");
  }));

  s.controller.stop();
  auto warned = events(api, "FailedCreate", "vm1");
  REQUIRE(warned.size() == 1);
  CHECK(json::get_string(warned[0], "type") == "Warning");
  CHECK(json::get_string(warned[0], "message").value_or("").find("connection refused") !=
        std::string::npos);
  CHECK(events(api, "SuccessfulCreate", "vm1").size() == 1);  // not for the failed attempt
}

TEST_CASE("a 409 on the VMI status write is returned; the rerun on the fresher cache writes it") {
  FakeKubeClient api;
  FakeClock clock;
  create_vmi(api, make_vmi(VmiPhase::pending));
  Started s(api, with_fake_clock(clock, /*record_events=*/false));
  freeze_caches(api);
  // Someone changes the VMI after the cache last saw it.
  REQUIRE(api.patch(resources::virtual_machine_instances(), "default", "vm1",
                    kube::PatchType::merge, R"({"metadata":{"labels":{"team":"a"}}})")
              .ok());

  auto st = s.controller.sync_vmi(kKey);
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().code == Errc::conflict);
  CHECK(launcher_pods(api).size() == 1);       // the pod was created before the status write
  CHECK(vmi_phase(api) == VmiPhase::pending);  // the stale status was not written
  CHECK(vmi_in_api(api)->metadata.labels.count("team") == 1);  // nor the other writer's label lost

  thaw_caches(api, clock);
  CHECK(wait_for(
      [&] { return s.controller.sync_vmi(kKey).ok() && vmi_phase(api) == VmiPhase::scheduling; }));
  CHECK(launcher_pods(api).size() == 1);
  CHECK(vmi_in_api(api)->metadata.labels.count("team") == 1);
}

TEST_CASE("a VMI whose pod runs on a node is Scheduled there and labelled with the node") {
  FakeKubeClient api;
  const std::string vmi_uid = create_vmi(api, make_vmi(VmiPhase::scheduling));
  create(api, kube::resources::pods(),
         launcher_pod(vmi_uid, R"("spec":{"nodeName":"n1"},"status":{"phase":"Running",)"
                               R"("containerStatuses":[{"name":")" +
                                   std::string(kComputeContainer) +
                                   R"(","ready":true,"state":{"running":{}}}]})"));
  Started s(api, with_real_clock());

  // The label patch moves the VMI's resourceVersion; the status write must build on it.
  REQUIRE(s.controller.sync_vmi(kKey).ok());
  auto vmi = vmi_in_api(api);
  CHECK(vmi->metadata.labels[kNodeNameLabel] == "n1");
  REQUIRE(vmi->status);
  CHECK(vmi->status->phase == VmiPhase::scheduled);
  CHECK(vmi->status->node_name == "n1");
}

TEST_CASE("a VM being deleted has its VMI deleted and shows Terminating") {
  FakeKubeClient api;
  const std::string vm_uid = create_vm(api, make_vm(RunStrategy::always));
  create_vmi(api, owned_vmi(VmiPhase::running, vm_uid));
  // kubectl delete --cascade=foreground: the VM stays, with a deletionTimestamp, until the VMI
  // goes.
  REQUIRE(api.patch(resources::virtual_machines(), "default", "vm1", kube::PatchType::merge,
                    R"({"metadata":{"deletionTimestamp":"2026-01-01T00:00:00Z",)"
                    R"("finalizers":["foregroundDeletion"]}})")
              .ok());
  Started s(api, with_real_clock());

  REQUIRE(s.controller.sync_vm(kKey).ok());
  CHECK_FALSE(vmi_in_api(api));
  CHECK(printable(api) == PrintableStatus::terminating);
}

TEST_CASE("a VM with runStrategy Halted has its VMI deleted, then shows Stopped") {
  FakeKubeClient api;
  const std::string vm_uid = create_vm(api, make_vm(RunStrategy::halted));
  create_vmi(api, owned_vmi(VmiPhase::running, vm_uid));
  Started s(api, with_real_clock());

  REQUIRE(s.controller.sync_vm(kKey).ok());
  CHECK_FALSE(vmi_in_api(api));
  CHECK(printable(api) == PrintableStatus::stopping);
  CHECK(wait_for([&] {
    return s.controller.sync_vm(kKey).ok() && printable(api) == PrintableStatus::stopped;
  }));
  CHECK(api.count(resources::virtual_machine_instances()) == 0);  // and it is not started again

  s.controller.stop();
  auto deleted = events(api, "SuccessfulDelete", "vm1");
  REQUIRE(deleted.size() == 1);
  const json::Value& about = *json::find(deleted[0], "involvedObject");
  CHECK(json::get_string(about, "kind") == "VirtualMachine");
}

TEST_CASE("a VMI being deleted loses its launcher pod first and its finalizer only after") {
  FakeKubeClient api;
  const std::string vmi_uid = create_vmi(api, make_vmi(VmiPhase::running));
  create(api, kube::resources::pods(), launcher_pod(vmi_uid));
  REQUIRE(api.patch(resources::virtual_machine_instances(), "default", "vm1",
                    kube::PatchType::merge,
                    R"({"metadata":{"deletionTimestamp":"2026-01-01T00:00:00Z"}})")
              .ok());
  Started s(api, with_real_clock());

  REQUIRE(s.controller.sync_vmi(kKey).ok());
  CHECK(launcher_pods(api).empty());
  // The guest may still run until the pod is gone from the cache too: the VMI stays.
  CHECK(vmi_in_api(api)->metadata.finalizers == std::vector<std::string>{kVmiFinalizer});

  CHECK(wait_for([&] {
    return s.controller.sync_vmi(kKey).ok() && vmi_in_api(api)->metadata.finalizers.empty();
  }));
}

TEST_CASE("a node whose handler heartbeat is stale is marked unschedulable, a fresh one is not") {
  FakeKubeClient api;
  FakeClock clock;
  const auto now = clock.wall_now();
  const auto timeout = std::chrono::seconds(Config{}.handler_heartbeat_timeout_seconds);
  create(api, kube::resources::nodes(), node("quiet", now - timeout - std::chrono::seconds(1)));
  create(api, kube::resources::nodes(), node("alive", now - timeout + std::chrono::seconds(60)));
  Started s(api, with_fake_clock(clock, /*record_events=*/true));

  REQUIRE(s.controller.sync_node("quiet").ok());
  REQUIRE(s.controller.sync_node("alive").ok());
  CHECK(schedulable(api, "quiet") == "false");
  CHECK(schedulable(api, "alive") == "true");
  CHECK(s.controller.sync_node("gone").ok());  // a node deleted meanwhile: nothing to do

  // Time passes without a heartbeat from "alive" either.
  clock.advance(std::chrono::seconds(61));
  REQUIRE(s.controller.sync_node("alive").ok());
  CHECK(schedulable(api, "alive") == "false");

  s.controller.stop();
  for (const char* name : {"quiet", "alive"}) {
    INFO(name);
    auto told = events(api, "NodeUnresponsive", name);
    REQUIRE(told.size() == 1);
    CHECK(json::get_string(*json::find(told[0], "involvedObject"), "kind") == "Node");
  }
}
