// virt-api's blocking steps against the KubeClient seam (api/server/actions): start/stop/restart
// applied as patches with retries when the VM changes underneath, migrate creating a
// VirtualMachineInstanceMigration, SubjectAccessReviews, and finding the virt-handler of a VMI's
// node.
#include <catch2/catch.hpp>

#include "addon/resources.hpp"
#include "api/server/actions.hpp"
#include "api/server/portforward.hpp"
#include "core/json.hpp"
#include "test/fakes/fake_kube_client.hpp"

using namespace kv::apiserver;
namespace json = kv::core::json;
namespace kube = kv::core::kube;
using kv::core::Errc;
using kv::core::Error;
using kv::core::Result;

namespace {

// The fake client, plus what it lacks for virt-api: SubjectAccessReviews answered by `allow`,
// and JSON patches recorded (and failed like kube-apiserver fails a stale `test`).
class Client final : public kube::KubeClient {
 public:
  kv::test::FakeKubeClient fake;
  std::function<bool(const json::Value& sar)> allow = [](const json::Value&) { return true; };
  std::vector<json::Document> reviews;
  std::vector<std::string> patches;   // "<resource>/<subresource>: <body>"
  int stale_patches = 0;              // the next n JSON patches fail their resourceVersion test
  std::vector<bool> created_dry_run;  // WriteOptions::dry_run of each create (not reviews)

  Result<json::Document> get(const kube::Resource& r, std::string_view ns, std::string_view name,
                             const kube::GetOptions& o = {}) override {
    return fake.get(r, ns, name, o);
  }
  Result<kube::ListResult> list(const kube::Resource& r, std::string_view ns,
                                const kube::ListOptions& o = {}) override {
    return fake.list(r, ns, o);
  }
  Result<json::Document> create(const kube::Resource& r, std::string_view ns,
                                const json::Value& obj, const kube::WriteOptions& o = {}) override {
    if (r.resource != "subjectaccessreviews") {
      created_dry_run.push_back(o.dry_run);
      return fake.create(r, ns, obj, o);
    }
    json::Document d;
    d.CopyFrom(obj, d.GetAllocator());
    reviews.emplace_back().CopyFrom(obj, reviews.back().GetAllocator());
    auto& st = json::ensure_object(d, "status", d.GetAllocator());
    st.AddMember("allowed", allow(obj), d.GetAllocator());
    return d;
  }
  Result<json::Document> update(const kube::Resource& r, std::string_view ns,
                                const json::Value& obj, const kube::WriteOptions& o = {}) override {
    return fake.update(r, ns, obj, o);
  }
  Result<json::Document> patch(const kube::Resource& r, std::string_view ns, std::string_view name,
                               kube::PatchType type, std::string_view body,
                               const kube::PatchOptions& o = {}) override {
    if (type != kube::PatchType::json)
      return fake.patch(r, ns, name, type, body, o);
    if (stale_patches > 0) {
      --stale_patches;
      return Error(Errc::invalid, "the server rejected our request due to an error in our request")
          .with("http_status", "422");
    }
    patches.push_back(r.resource + "/" + o.subresource + ": " + std::string(body));
    return fake.get(r, ns, name);
  }
  kv::core::Status remove(const kube::Resource& r, std::string_view ns, std::string_view name,
                          const kube::DeleteOptions& o = {}) override {
    return fake.remove(r, ns, name, o);
  }
  kv::core::Status watch(const kube::Resource& r, std::string_view ns, const kube::ListOptions& o,
                         const kube::WatchHandler& h, kube::Cancel* c = nullptr) override {
    return fake.watch(r, ns, o, h, c);
  }
  Result<kube::RawResponse> raw(const kube::RawRequest& req) override { return fake.raw(req); }
  Result<kube::Resource> resolve(std::string_view v, std::string_view k) override {
    return fake.resolve(v, k);
  }
  std::string default_namespace() const override { return "default"; }
};

json::Document doc(const std::string& text) {
  auto d = json::parse(text);
  REQUIRE(d.ok());
  return std::move(*d);
}

void add(Client& c, const kube::Resource& r, const std::string& ns, const std::string& text) {
  REQUIRE(c.fake.create(r, ns, doc(text)).ok());
}

void add_vm(Client& c, const std::string& name, const std::string& run_strategy) {
  add(c, kv::addon::resources::virtual_machines(), "default",
      R"({"apiVersion":"kubevirt.io/v1","kind":"VirtualMachine","metadata":{"name":")" + name +
          R"("},"spec":{"runStrategy":")" + run_strategy + R"(","template":{"spec":{}}}})");
}

void add_vmi(Client& c, const std::string& name, const std::string& status) {
  add(c, kv::addon::resources::virtual_machine_instances(), "default",
      R"({"apiVersion":"kubevirt.io/v1","kind":"VirtualMachineInstance","metadata":{"name":")" +
          name + R"("},"spec":{},"status":)" + status + "}");
}

void add_handler_pod(Client& c, const std::string& name, const std::string& node,
                     const std::string& phase, const std::string& ip) {
  add(c, kube::resources::pods(), "kubevirt",
      R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":")" + name +
          R"(","labels":{"kubevirt.io":"virt-handler"}},"spec":{"nodeName":")" + node +
          R"("},"status":{"phase":")" + phase + R"(","podIP":")" + ip + R"("}})");
}

Route vm_route(const std::string& name, const std::string& action) {
  return route("PUT", "/apis/subresources.kubevirt.io/v1/namespaces/default/virtualmachines/" +
                          name + "/" + action);
}

Route vmi_route(const std::string& method, const std::string& name, const std::string& action) {
  return route(method,
               "/apis/subresources.kubevirt.io/v1/namespaces/default/virtualmachineinstances/" +
                   name + "/" + action);
}

std::string message_of(const HttpReply& r) {
  auto d = json::parse(r.body);
  REQUIRE(d.ok());
  return std::string(json::get_string(*d, "message").value_or(""));
}

}  // namespace

TEST_CASE("stop patches the VM and answers 202") {
  Client c;
  add_vm(c, "vm1", "Always");
  auto r = vm_action(c, vm_route("vm1", "stop"), "");
  CHECK(r.status == 202);
  REQUIRE(c.patches.size() == 1);
  CHECK(c.patches[0].rfind("virtualmachines/: ", 0) == 0);
  CHECK(c.patches[0].find(R"("value":"Halted")") != std::string::npos);
}

TEST_CASE("a VM changed between read and patch is read again and the patch retried") {
  Client c;
  add_vm(c, "vm1", "Manual");
  add_vmi(c, "vm1", R"({"phase":"Running"})");
  c.stale_patches = 2;
  auto r = vm_action(c, vm_route("vm1", "stop"), "");
  CHECK(r.status == 202);
  CHECK(c.patches.size() == 1);
  CHECK(c.fake.calls("get") == 7);  // VM and VMI three times, and the patched VM returned

  SECTION("a VM that keeps changing ends in 409") {
    c.stale_patches = 100;
    auto busy = vm_action(c, vm_route("vm1", "stop"), "");
    CHECK(busy.status == 409);
    CHECK(message_of(busy).find("virtualmachine.kubevirt.io \"vm1\"") != std::string::npos);
  }
}

TEST_CASE("start/stop errors reach the user as Status bodies") {
  Client c;
  auto missing = vm_action(c, vm_route("nope", "start"), "");
  CHECK(missing.status == 404);
  CHECK(message_of(missing) == "virtualmachine.kubevirt.io \"nope\" not found");

  add_vm(c, "halted", "Halted");
  auto stop = vm_action(c, vm_route("halted", "stop"), "");
  CHECK(stop.status == 409);
  CHECK(message_of(stop).find("VM is not running") != std::string::npos);

  auto bad = vm_action(c, vm_route("halted", "start"), "[]");
  CHECK(bad.status == 400);
  CHECK(c.patches.empty());

  c.fake.fail_next("get", 1, Error(Errc::unavailable, "etcd is down"));
  auto down = vm_action(c, vm_route("halted", "start"), "");
  CHECK(down.status == 500);
  CHECK(message_of(down).find("etcd is down") != std::string::npos);
}

TEST_CASE("restart --grace-period=0 deletes the launcher pod of the current VMI") {
  Client c;
  add_vm(c, "vm1", "Always");
  add_vmi(c, "vm1", R"({"phase":"Running"})");
  auto vmi = c.fake.get(kv::addon::resources::virtual_machine_instances(), "default", "vm1");
  REQUIRE(vmi.ok());
  const std::string uid(json::find_path(*vmi, {"metadata", "uid"})->GetString());
  add(c, kube::resources::pods(), "default",
      R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"virt-launcher-vm1-abc",
          "labels":{"kubevirt.io":"virt-launcher","kubevirt.io/created-by":")" +
          uid + R"("}}})");
  auto r = vm_action(c, vm_route("vm1", "restart"), R"({"gracePeriodSeconds":0})");
  CHECK(r.status == 202);
  CHECK_FALSE(c.fake.get(kube::resources::pods(), "default", "virt-launcher-vm1-abc").ok());
  REQUIRE(c.patches.size() == 1);
  CHECK(c.patches[0].find(R"({"action":"Stop","uid":")" + uid + "\"}") != std::string::npos);
}

TEST_CASE("authorization asks about the user on the subresource") {
  Client c;
  UserInfo bob{"bob", {"devs", "system:authenticated"}, {{"scopes", {"a"}}}};
  c.allow = [](const json::Value& sar) {
    return json::find_path(sar, {"spec", "user"})->GetString() != std::string("bob");
  };
  auto denied = authorize(c, bob, vm_route("vm1", "stop"));
  REQUIRE(denied);
  CHECK(denied->code == 403);
  CHECK(denied->message ==
        "virtualmachines.subresources.kubevirt.io \"vm1\" is forbidden: User \"bob\" cannot "
        "update resource \"virtualmachines/stop\" in API group \"subresources.kubevirt.io\" in "
        "the namespace \"default\"");
  REQUIRE(c.reviews.size() == 1);
  auto expected = doc(R"({"namespace":"default","verb":"update","group":"subresources.kubevirt.io",
      "version":"v1","resource":"virtualmachines","subresource":"stop","name":"vm1"})");
  CHECK(json::equal(*json::find_path(c.reviews[0], {"spec", "resourceAttributes"}), expected));
  CHECK(json::equal(*json::find_path(c.reviews[0], {"spec", "groups"}),
                    doc(R"(["devs","system:authenticated"])")));
  CHECK(json::equal(*json::find_path(c.reviews[0], {"spec", "extra"}), doc(R"({"scopes":["a"]})")));

  UserInfo alice{"alice", {}, {}};
  CHECK_FALSE(authorize(c, alice, vmi_route("GET", "vm1", "console")));
  CHECK(json::find_path(c.reviews[1], {"spec", "resourceAttributes", "verb"})->GetString() ==
        std::string("get"));
}

TEST_CASE("the handler is the Running virt-handler pod on the VMI's node") {
  Client c;
  add_vmi(c, "vm1", R"({"phase":"Running","nodeName":"n2"})");
  add_handler_pod(c, "h-n1", "n1", "Running", "10.0.0.1");
  add_handler_pod(c, "h-n2-old", "n2", "Pending", "");
  add_handler_pod(c, "h-n2", "n2", "Running", "10.0.0.2");
  auto where = locate_handler(c, vmi_route("GET", "vm1", "console"), "kubevirt", 8186);
  REQUIRE(std::holds_alternative<HandlerAddress>(where));
  CHECK(std::get<HandlerAddress>(where) == HandlerAddress{"10.0.0.2", 8186, "n2"});

  add_vmi(c, "lonely", R"({"phase":"Running","nodeName":"n3"})");
  auto none = locate_handler(c, vmi_route("PUT", "lonely", "pause"), "kubevirt", 8186);
  REQUIRE(std::holds_alternative<ApiError>(none));
  CHECK(std::get<ApiError>(none).code == 503);
  CHECK(std::get<ApiError>(none).message.find("no running virt-handler pod on node n3") !=
        std::string::npos);
}

TEST_CASE("VMI state checks before reaching the handler") {
  Client c;
  add_vmi(c, "pending", R"({"phase":"Scheduling"})");
  add_vmi(
      c, "paused",
      R"({"phase":"Running","nodeName":"n1","conditions":[{"type":"Paused","status":"True"}]})");
  add_vmi(c, "running", R"({"phase":"Running","nodeName":"n1"})");
  auto err = [&](const Route& r) {
    auto w = locate_handler(c, r, "kubevirt", 8186);
    REQUIRE(std::holds_alternative<ApiError>(w));
    return std::get<ApiError>(w);
  };
  CHECK(err(vmi_route("PUT", "absent", "pause")).message ==
        "virtualmachineinstance.kubevirt.io \"absent\" not found");
  auto not_running = err(vmi_route("PUT", "pending", "pause"));
  CHECK(not_running.code == 409);
  CHECK(not_running.message.find("VMI is not running") != std::string::npos);
  auto stream = err(vmi_route("GET", "pending", "console"));
  CHECK(stream.code == 400);
  CHECK(stream.message == "VMI is not running");
  CHECK(err(vmi_route("PUT", "paused", "pause")).message.find("VMI is already paused") !=
        std::string::npos);
  CHECK(err(vmi_route("PUT", "paused", "softreboot")).message.find("VMI is paused") !=
        std::string::npos);
  CHECK(err(vmi_route("PUT", "running", "unpause")).message.find("VMI is not paused") !=
        std::string::npos);
}

TEST_CASE("pause/unpause bodies: dryRun is honoured, anything else is named") {
  CHECK(std::get<bool>(parse_vmi_action_dry_run("pause", "")) == false);
  CHECK(std::get<bool>(parse_vmi_action_dry_run("pause", R"({"dryRun":["All"]})")) == true);
  CHECK(std::get<bool>(parse_vmi_action_dry_run("unpause", R"({"dryRun":[]})")) == false);
  auto bad = parse_vmi_action_dry_run("unpause", R"({"force":true})");
  REQUIRE(std::holds_alternative<ApiError>(bad));
  CHECK(std::get<ApiError>(bad).code == 400);
  CHECK(std::get<ApiError>(bad).message == "UnpauseOptions.force: unknown field; allowed: dryRun");
  CHECK(std::get<ApiError>(parse_vmi_action_dry_run("pause", "nope")).code == 400);
}

TEST_CASE("portforward finds the VMI (a VM's by its name) and its handler") {
  Client c;
  add_handler_pod(c, "h-n1", "n1", "Running", "10.0.0.1");
  add(c, kv::addon::resources::virtual_machines(), "default",
      R"({"apiVersion":"kubevirt.io/v1","kind":"VirtualMachine","metadata":{"name":"vm1"},)"
      R"("spec":{"runStrategy":"Always","template":{"spec":{}}},"status":{"created":true}})");
  add(c, kv::addon::resources::virtual_machines(), "default",
      R"({"apiVersion":"kubevirt.io/v1","kind":"VirtualMachine","metadata":{"name":"off"},)"
      R"("spec":{"runStrategy":"Halted","template":{"spec":{}}}})");
  add_vmi(c, "vm1", R"({"phase":"Running","nodeName":"n1"})");
  add_vmi(
      c, "paused",
      R"({"phase":"Running","nodeName":"n1","conditions":[{"type":"Paused","status":"True"}]})");
  add_vmi(c, "pending", R"({"phase":"Scheduling"})");
  const std::string base = "/apis/subresources.kubevirt.io/v1/namespaces/default/";
  auto locate = [&](const std::string& path) {
    return locate_port_forward(c, route("GET", base + path), "kubevirt", 8186);
  };
  auto err = [&](const std::string& path) {
    auto w = locate(path);
    REQUIRE(std::holds_alternative<ApiError>(w));
    return std::get<ApiError>(w);
  };
  auto vmi = locate("virtualmachineinstances/vm1/portforward/22");
  REQUIRE(std::holds_alternative<HandlerAddress>(vmi));
  CHECK(std::get<HandlerAddress>(vmi) == HandlerAddress{"10.0.0.1", 8186, "n1"});
  auto vm = locate("virtualmachines/vm1/portforward/22/tcp");
  REQUIRE(std::holds_alternative<HandlerAddress>(vm));
  CHECK(handler_port_forward_path(route("GET", base + "virtualmachines/vm1/portforward/22")) ==
        "/v1/namespaces/default/virtualmachineinstances/vm1/portforward/22/tcp");

  CHECK(err("virtualmachines/absent/portforward/22").message ==
        "virtualmachine.kubevirt.io \"absent\" not found");
  auto off = err("virtualmachines/off/portforward/22");
  CHECK(off.code == 409);
  CHECK(off.message.find("VMI is not started") != std::string::npos);
  CHECK(err("virtualmachineinstances/absent/portforward/22").code == 404);
  auto paused = err("virtualmachineinstances/paused/portforward/22");
  CHECK(paused.code == 409);
  CHECK(paused.message.find("VMI is paused") != std::string::npos);
  auto pending = err("virtualmachineinstances/pending/portforward/22");
  CHECK(pending.code == 400);
  CHECK(pending.message == "VMI is not running");
}

TEST_CASE("migrate creates a VirtualMachineInstanceMigration for a running VM and answers 202") {
  Client c;
  add_vm(c, "vm1", "Always");
  add_vmi(c, "vm1", R"({"phase":"Running"})");
  auto r = vm_migrate(c, vm_route("vm1", "migrate"), R"({"addedNodeSelector":{"zone":"b"}})");
  CHECK(r.status == 202);
  CHECK(r.body.empty());
  auto list = c.fake.list(kv::addon::resources::virtual_machine_instance_migrations(), "default");
  REQUIRE(list.ok());
  REQUIRE(list->items.size() == 1);
  const auto& m = list->items[0];
  CHECK(std::string(json::find_path(m, {"metadata", "generateName"})->GetString()) ==
        "kubevirt-migrate-vm-");
  CHECK(json::to_string(*json::find(m, "spec")) ==
        R"({"vmiName":"vm1","addedNodeSelector":{"zone":"b"}})");
  CHECK(c.created_dry_run == std::vector<bool>{false});

  // A dry run is passed on to the API server.
  CHECK(vm_migrate(c, vm_route("vm1", "migrate"), R"({"dryRun":["All"]})").status == 202);
  CHECK(c.created_dry_run == std::vector<bool>{false, true});
}

TEST_CASE("migrate refuses as upstream: no VM, no VMI, a VMI that is not running, bad options") {
  Client c;
  auto no_vm = vm_migrate(c, vm_route("vm1", "migrate"), "");
  CHECK(no_vm.status == 404);
  CHECK(message_of(no_vm) == "virtualmachine.kubevirt.io \"vm1\" not found");

  add_vm(c, "vm1", "Halted");
  auto stopped = vm_migrate(c, vm_route("vm1", "migrate"), "");
  CHECK(stopped.status == 404);
  CHECK(message_of(stopped) == "virtualmachineinstance.kubevirt.io \"vm1\" not found");

  add_vmi(c, "vm1", R"({"phase":"Scheduling"})");
  auto pending = vm_migrate(c, vm_route("vm1", "migrate"), "");
  CHECK(pending.status == 409);
  CHECK(message_of(pending) ==
        "Operation cannot be fulfilled on virtualmachine.kubevirt.io \"vm1\": VM is not running");

  auto bad = vm_migrate(c, vm_route("vm1", "migrate"), R"({"addedNodeSelector":"zone=b"})");
  CHECK(bad.status == 400);
  CHECK(c.created_dry_run.empty());
}

TEST_CASE("migrate answers with the API server's refusal of the migration") {
  Client c;
  add_vm(c, "vm1", "Always");
  add_vmi(c, "vm1", R"({"phase":"Running"})");
  c.fake.fail_next("create", 1,
                   Error(Errc::invalid,
                         "admission webhook \"migration-create-validator.kubevirt.io\" denied "
                         "the request: spec.vmiName: in-flight migration detected.")
                       .with("http_status", "422")
                       .with("reason", "Invalid"));
  auto r = vm_migrate(c, vm_route("vm1", "migrate"), "");
  CHECK(r.status == 422);
  CHECK(message_of(r).find("in-flight migration detected.") != std::string::npos);
}
