// virt-api's webhooks for VirtualMachineInstanceMigration: upstream's paths, the create mutator's
// patch (selector label and finalizer), the create checks against the VMI and its migrations
// (read through the lookup over a fake KubeClient), and the fixed spec on UPDATE.
#include <catch2/catch.hpp>

#include "addon/resources.hpp"
#include "api/server/admission.hpp"
#include "api/server/routes.hpp"
#include "core/json.hpp"
#include "core/kube/kubeconfig.hpp"
#include "test/fakes/fake_kube_client.hpp"

using namespace kv::apiserver;
namespace json = kv::core::json;
namespace res = kv::addon::resources;

namespace {

std::string migration(const std::string& vmi, const std::string& extra_meta = "",
                      const std::string& status = "") {
  return R"({"apiVersion":"kubevirt.io/v1","kind":"VirtualMachineInstanceMigration",
      "metadata":{"generateName":"kubevirt-migrate-vm-")" +
         extra_meta + R"(},"spec":{"vmiName":")" + vmi + R"("})" +
         (status.empty() ? "" : R"(,"status":)" + status) + "}";
}

std::string review_of(const std::string& op, const std::string& object,
                      const std::string& old = "") {
  return R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u-1",
      "namespace":"ns1","operation":")" +
         op + R"(","userInfo":{"username":"alice"},"object":)" + object +
         (old.empty() ? "" : R"(,"oldObject":)" + old) + "}}";
}

json::Document parse(const std::string& text) {
  auto d = json::parse(text);
  REQUIRE(d.ok());
  return std::move(*d);
}

json::Document reply(Webhook hook, const std::string& body, const AdmissionPolicy& policy = {}) {
  auto r = review(hook, body, policy);
  REQUIRE(r.status == 200);
  return parse(r.body);
}

bool allowed(const json::Value& d) {
  return json::find_path(d, {"response", "allowed"})->GetBool();
}

std::string message(const json::Value& d) {
  const auto* m = json::find_path(d, {"response", "status", "message"});
  return m ? m->GetString() : "";
}

std::string patch_of(const json::Value& d) {
  const auto* p = json::find_path(d, {"response", "patch"});
  if (!p)
    return "";
  auto text = kv::core::kube::base64_decode(p->GetString());
  REQUIRE(text.ok());
  return *text;
}

// A cluster with VMIs and migrations in ns1, read by virt-api's own lookup.
struct Cluster {
  kv::test::FakeKubeClient client;
  AdmissionPolicy policy;
  Cluster() { policy.migrations = make_migration_lookup(client); }
  void vmi(const std::string& name, const std::string& status) {
    auto r = client.create(res::virtual_machine_instances(), "ns1",
                           parse(R"({"apiVersion":"kubevirt.io/v1","kind":"VirtualMachineInstance",
                                   "metadata":{"name":")" +
                                 name + R"("},"spec":{},"status":)" + status + "}"));
    REQUIRE(r.ok());
  }
  std::string migration_of(const std::string& vmi, const std::string& phase) {
    auto r = client.create(
        res::virtual_machine_instance_migrations(), "ns1",
        parse(R"({"apiVersion":"kubevirt.io/v1","kind":"VirtualMachineInstanceMigration",
                  "metadata":{"generateName":"m-","labels":{"kubevirt.io/vmi-name":")" +
              vmi + R"("}},"spec":{"vmiName":")" + vmi + R"("},"status":{"phase":")" + phase +
              R"("}})"));
    REQUIRE(r.ok());
    return std::string(json::find_path(*r, {"metadata", "uid"})->GetString());
  }
};

}  // namespace

TEST_CASE("the migration webhooks have upstream's paths") {
  CHECK(route("POST", "/migration-mutate-create").kind == RouteKind::mutate_vmim);
  CHECK(route("POST", "/migration-validate-create").kind == RouteKind::validate_vmim_create);
  CHECK(route("POST", "/migration-validate-update").kind == RouteKind::validate_vmim_update);
  CHECK(route("GET", "/migration-validate-create").kind == RouteKind::method_not_allowed);
}

TEST_CASE("the create mutator adds the selector label and the finalizer, as upstream's") {
  auto d = reply(Webhook::mutate_vmim, review_of("CREATE", migration("vm1")));
  CHECK(allowed(d));
  CHECK(json::find_path(d, {"response", "patchType"})->GetString() == std::string("JSONPatch"));
  CHECK(
      patch_of(d) ==
      R"([{"op":"add","path":"/metadata/labels","value":{"kubevirt.io/vmi-name":"vm1"}},)"
      R"({"op":"add","path":"/metadata/finalizers","value":["kubevirt.io/migrationJobFinalize"]}])");

  // Existing labels and finalizers are kept; a wrong selector label is replaced.
  auto kept = reply(Webhook::mutate_vmim,
                    review_of("CREATE", migration("vm1", R"(,"labels":{"kubevirt.io/vmi-name":"x",
                        "team":"a"},"finalizers":["example.com/keep"])")));
  CHECK(
      patch_of(kept) ==
      R"([{"op":"add","path":"/metadata/labels/kubevirt.io~1vmi-name","value":"vm1"},)"
      R"({"op":"add","path":"/metadata/finalizers/-","value":"kubevirt.io/migrationJobFinalize"}])");
  // Already as stored: no patch.
  auto done =
      reply(Webhook::mutate_vmim,
            review_of("CREATE", migration("vm1", R"(,"labels":{"kubevirt.io/vmi-name":"vm1"},
                        "finalizers":["kubevirt.io/migrationJobFinalize"])")));
  CHECK(allowed(done));
  CHECK(patch_of(done).empty());
  // An invalid migration gets no patch; the validating hook refuses it.
  auto bad = reply(Webhook::mutate_vmim, review_of("CREATE", migration("")));
  CHECK(allowed(bad));
  CHECK(patch_of(bad).empty());
}

TEST_CASE("a new migration is refused naming spec.vmiName, with upstream's messages") {
  // Without a lookup only the object's own rules run.
  auto empty = reply(Webhook::validate_vmim_create, review_of("CREATE", migration("")));
  CHECK_FALSE(allowed(empty));
  CHECK(message(empty) == "spec.vmiName: vmiName is missing");
  CHECK(json::to_string(*json::find_path(empty, {"response", "status", "details", "causes"})) ==
        R"([{"type":"FieldValueInvalid","message":"vmiName is missing","field":"spec.vmiName"}])");
  auto unknown =
      reply(Webhook::validate_vmim_create, review_of("CREATE", R"({"apiVersion":"kubevirt.io/v1",
                           "kind":"VirtualMachineInstanceMigration","metadata":{"name":"m"},
                           "spec":{"vmiName":"vm1","receive":{"migrationID":"x"}}})"));
  CHECK(message(unknown) == "spec.receive: unknown field; allowed: vmiName, addedNodeSelector");
  CHECK(allowed(reply(Webhook::validate_vmim_create, review_of("CREATE", migration("vm1")))));

  Cluster c;
  auto missing =
      reply(Webhook::validate_vmim_create, review_of("CREATE", migration("vm1")), c.policy);
  CHECK_FALSE(allowed(missing));
  CHECK(message(missing) == "spec.vmiName: the VMI \"ns1/vm1\" does not exist");

  c.vmi("done", R"({"phase":"Succeeded"})");
  CHECK(message(reply(Webhook::validate_vmim_create, review_of("CREATE", migration("done")),
                      c.policy)) == "spec.vmiName: Cannot migrate VMI in finalized state.");

  c.vmi("pinned", R"({"phase":"Running","conditions":[{"type":"LiveMigratable","status":"False",
      "reason":"DisksNotLiveMigratable","message":"cannot migrate a VMI with a RWO PVC"}]})");
  CHECK(message(reply(Webhook::validate_vmim_create, review_of("CREATE", migration("pinned")),
                      c.policy)) ==
        "spec.vmiName: Cannot migrate VMI, Reason: DisksNotLiveMigratable, Message: cannot "
        "migrate a VMI with a RWO PVC");

  c.vmi("vm1", R"({"phase":"Running","conditions":[{"type":"LiveMigratable","status":"True"}]})");
  c.migration_of("vm1", "Succeeded");
  c.migration_of("vm1", "Failed");
  CHECK(allowed(
      reply(Webhook::validate_vmim_create, review_of("CREATE", migration("vm1")), c.policy)));
  const std::string uid = c.migration_of("vm1", "Scheduling");
  CHECK(message(reply(Webhook::validate_vmim_create, review_of("CREATE", migration("vm1")),
                      c.policy)) ==
        "spec.vmiName: in-flight migration detected. Active migration job (" + uid +
            ") is currently already in progress for VMI vm1.");
  // The lookup asked for the migrations by their selector label.
  CHECK(c.client.last_selectors("list", res::virtual_machine_instance_migrations())->first ==
        "kubevirt.io/vmi-name=vm1");

  // The create hook leaves UPDATE and DELETE alone.
  CHECK(allowed(reply(Webhook::validate_vmim_create, review_of("UPDATE", migration("")))));
}

TEST_CASE("a migration's spec is fixed; its selector label stays while it runs") {
  const std::string meta = R"(,"labels":{"kubevirt.io/vmi-name":"vm1"})";
  const std::string old = migration("vm1", meta, R"({"phase":"Running"})");
  CHECK(allowed(reply(Webhook::validate_vmim_update, review_of("UPDATE", old, old))));

  auto moved = reply(Webhook::validate_vmim_update,
                     review_of("UPDATE", migration("vm2", meta, R"({"phase":"Running"})"), old));
  CHECK_FALSE(allowed(moved));
  CHECK(message(moved) == "spec: update of Migration object's spec is restricted");

  auto unlabelled = reply(Webhook::validate_vmim_update,
                          review_of("UPDATE", migration("vm1", "", R"({"phase":"Running"})"), old));
  CHECK(message(unlabelled) ==
        "metadata.labels[kubevirt.io/vmi-name]: selector label can't be "
        "removed from an in-flight migration");
  CHECK(allowed(reply(Webhook::validate_vmim_update,
                      review_of("UPDATE", migration("vm1", "", R"({"phase":"Succeeded"})"), old))));
  // The update hook leaves CREATE alone; the wrong kind is refused by name.
  CHECK(allowed(reply(Webhook::validate_vmim_update, review_of("CREATE", migration("")))));
  auto vm =
      reply(Webhook::validate_vmim_update,
            review_of("UPDATE", R"({"apiVersion":"kubevirt.io/v1","kind":"VirtualMachine"})", old));
  CHECK(message(vm) ==
        "kind: \"VirtualMachine\" is not handled here; allowed: VirtualMachineInstanceMigration");
}
