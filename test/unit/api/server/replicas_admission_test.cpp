// virt-api's webhooks for VirtualMachineInstanceReplicaSet and VirtualMachinePool: their routes,
// a valid object allowed, upstream's selector message, and a pool's immutable template on UPDATE.
#include <catch2/catch.hpp>

#include "api/server/admission.hpp"
#include "api/server/routes.hpp"
#include "core/json.hpp"

using namespace kv::apiserver;
namespace json = kv::core::json;

namespace {

const std::string kSpec = R"({"domain":{"devices":{},"memory":{"guest":"128Mi"}}})";

std::string replica_set(const std::string& selector_value) {
  return R"({"apiVersion":"kubevirt.io/v1","kind":"VirtualMachineInstanceReplicaSet",
      "metadata":{"name":"rs","namespace":"default"},"spec":{"replicas":2,
      "selector":{"matchLabels":{"app":")" +
         selector_value + R"("}},"template":{"metadata":{"labels":{"app":"web"}},"spec":)" + kSpec +
         "}}}";
}

std::string pool(const std::string& guest) {
  return R"({"apiVersion":"pool.kubevirt.io/v1beta1","kind":"VirtualMachinePool",
      "metadata":{"name":"p","namespace":"default"},"spec":{"replicas":1,
      "selector":{"matchLabels":{"app":"db"}},"virtualMachineTemplate":{
      "metadata":{"labels":{"app":"db"}},"spec":{"runStrategy":"Always","template":{"spec":
      {"domain":{"devices":{},"memory":{"guest":")" +
         guest + R"("}}}}}}}})";
}

std::string review_of(const std::string& op, const std::string& object,
                      const std::string& old = "") {
  return R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u-1",
      "operation":")" +
         op + R"(","userInfo":{"username":"alice"},"object":)" + object +
         (old.empty() ? "" : R"(,"oldObject":)" + old) + "}}";
}

json::Document reply(Webhook hook, const std::string& body) {
  auto r = review(hook, body, {});
  REQUIRE(r.status == 200);
  auto d = json::parse(r.body);
  REQUIRE(d.ok());
  return std::move(*d);
}

bool allowed(const json::Value& d) {
  return json::find_path(d, {"response", "allowed"})->GetBool();
}

std::string message(const json::Value& d) {
  const auto* m = json::find_path(d, {"response", "status", "message"});
  return m ? m->GetString() : "";
}

}  // namespace

TEST_CASE("the replica set and pool webhooks have upstream's paths") {
  CHECK(route("POST", "/virtualmachinereplicaset-validate").kind == RouteKind::validate_vmirs);
  CHECK(route("POST", "/virtualmachinepool-validate").kind == RouteKind::validate_vmpool);
  CHECK(route("GET", "/virtualmachinepool-validate").kind == RouteKind::method_not_allowed);
}

TEST_CASE("a replica set is allowed, or denied naming its selector") {
  CHECK(allowed(reply(Webhook::validate_vmirs, review_of("CREATE", replica_set("web")))));
  auto d = reply(Webhook::validate_vmirs, review_of("CREATE", replica_set("other")));
  CHECK_FALSE(allowed(d));
  CHECK(message(d) == "spec.selector: selector does not match labels.");
  // A VM sent to the replica set hook is not judged as one.
  auto wrong = reply(Webhook::validate_vmirs, review_of("CREATE", pool("128Mi")));
  CHECK_FALSE(allowed(wrong));
  CHECK(message(wrong).find("allowed: VirtualMachineInstanceReplicaSet") != std::string::npos);
}

TEST_CASE("a pool is allowed; an UPDATE that changes its template is denied") {
  CHECK(allowed(reply(Webhook::validate_vmpool, review_of("CREATE", pool("128Mi")))));
  CHECK(
      allowed(reply(Webhook::validate_vmpool, review_of("UPDATE", pool("128Mi"), pool("128Mi")))));
  auto d = reply(Webhook::validate_vmpool, review_of("UPDATE", pool("256Mi"), pool("128Mi")));
  CHECK_FALSE(allowed(d));
  CHECK(message(d).find("spec.virtualMachineTemplate: cannot be changed yet") != std::string::npos);
}
