// The admission webhooks (api/server/admission): AdmissionReview in, AdmissionReview out with the
// same uid; denials list every field error; garbage gets 400, never a crash.
#include <catch2/catch.hpp>

#include "api/server/admission.hpp"
#include "core/json.hpp"
#include "core/kube/kubeconfig.hpp"

using namespace kv::apiserver;
namespace json = kv::core::json;

namespace {

const std::string kVmi =
    R"({"apiVersion":"kubevirt.io/v1","kind":"VirtualMachineInstance","metadata":{"name":"a","namespace":"default"},
        "spec":{"domain":{"devices":{},"resources":{"requests":{"memory":"128Mi"}}}}})";

std::string vm(const std::string& disks, const std::string& volumes) {
  return R"({"apiVersion":"kubevirt.io/v1","kind":"VirtualMachine","metadata":{"name":"vm1","namespace":"default"},
      "spec":{"runStrategy":"Halted","template":{"spec":{"domain":{"devices":{"disks":)" +
         disks + R"(},"resources":{"requests":{"memory":"128Mi"}}},"volumes":)" + volumes + "}}}}";
}

std::string review_of(const std::string& op, const std::string& object, const std::string& old = "",
                      const std::string& user = "alice") {
  return R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u-123",
      "operation":")" +
         op + R"(","userInfo":{"username":")" + user + R"("},"object":)" + object +
         (old.empty() ? "" : R"(,"oldObject":)" + old) + "}}";
}

json::Document reply_of(Webhook hook, const std::string& body, AdmissionPolicy policy = {}) {
  auto r = review(hook, body, policy);
  REQUIRE(r.status == 200);
  auto d = json::parse(r.body);
  REQUIRE(d.ok());
  CHECK(json::get_string(*d, "kind") == "AdmissionReview");
  CHECK(json::get_string(*d, "apiVersion") == "admission.k8s.io/v1");
  const auto* res = json::find(*d, "response");
  REQUIRE(res);
  CHECK(json::get_string(*res, "uid") == "u-123");
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

TEST_CASE("a valid VM is allowed") {
  auto d = reply_of(Webhook::validate_vm,
                    review_of("CREATE", vm(R"([{"name":"root"}])",
                                           R"([{"name":"root","containerDisk":{"image":"x"}}])")));
  CHECK(allowed(d));
  CHECK_FALSE(json::find_path(d, {"response", "status"}));
}

TEST_CASE("an invalid VM is denied with 422 and every field error") {
  auto d = reply_of(Webhook::validate_vm,
                    review_of("CREATE", vm(R"([{"name":"root"},{"name":"data"}])", "[]")));
  CHECK_FALSE(allowed(d));
  CHECK(json::find_path(d, {"response", "status", "code"})->GetInt() == 422);
  const std::string m = message(d);
  INFO(m);
  CHECK(m.find("spec.template.spec.domain.devices.disks[0].name") != std::string::npos);
  CHECK(m.find("spec.template.spec.domain.devices.disks[1].name") != std::string::npos);
  const auto* causes = json::find_path(d, {"response", "status", "details", "causes"});
  REQUIRE(causes);
  CHECK(causes->Size() >= 2);
}

TEST_CASE("unknown fields and wrong kinds are named") {
  auto obj =
      vm(R"([{"name":"root","bsu":1}])", R"([{"name":"root","containerDisk":{"image":"x"}}])");
  auto d = reply_of(Webhook::validate_vm, review_of("UPDATE", obj));
  CHECK_FALSE(allowed(d));
  CHECK(message(d).find("disks[0].bsu: unknown field") != std::string::npos);

  auto k = reply_of(Webhook::validate_vm, review_of("CREATE", kVmi));
  CHECK_FALSE(allowed(k));
  CHECK(message(k).find("allowed: VirtualMachine") != std::string::npos);
}

TEST_CASE("DELETE is allowed without looking") {
  auto d = reply_of(Webhook::validate_vm, review_of("DELETE", "null"));
  CHECK(allowed(d));
}

TEST_CASE("a VMI's spec cannot change on UPDATE, except by our components") {
  auto changed = kVmi;
  changed.replace(changed.find("128Mi"), 5, "256Mi");
  auto d = reply_of(Webhook::validate_vmi, review_of("UPDATE", changed, kVmi));
  CHECK_FALSE(allowed(d));
  CHECK(message(d).find("update of VMI object is restricted") != std::string::npos);

  // Metadata or status only: fine.
  auto labelled = kVmi;
  labelled.replace(labelled.find("\"name\":\"a\""), 10, R"("name":"a","labels":{"x":"y"})");
  CHECK(allowed(reply_of(Webhook::validate_vmi, review_of("UPDATE", labelled, kVmi))));

  AdmissionPolicy p{{"system:serviceaccount:kubevirt:"}};
  CHECK(allowed(
      reply_of(Webhook::validate_vmi,
               review_of("UPDATE", changed, kVmi, "system:serviceaccount:kubevirt:virt-api"), p)));
  CHECK(allowed(reply_of(Webhook::validate_vmi, review_of("CREATE", kVmi))));
}

// The JSONPatch of a mutating reply applied to `object` (our hooks only ever replace /spec);
// the object itself when the reply has no patch.
std::string patched(const json::Value& reply, const std::string& object) {
  auto obj = json::parse(object);
  REQUIRE(obj.ok());
  auto patch_b64 = json::get_string(*json::find(reply, "response"), "patch");
  if (!patch_b64)
    return json::to_string(*obj);
  CHECK(json::get_string(*json::find(reply, "response"), "patchType") == "JSONPatch");
  auto patch = kv::core::kube::base64_decode(*patch_b64);
  REQUIRE(patch.ok());
  auto p = json::parse(*patch);
  REQUIRE(p.ok());
  REQUIRE(p->IsArray());
  REQUIRE(p->Size() == 1);
  CHECK(json::get_string((*p)[0], "op") == "replace");
  CHECK(json::get_string((*p)[0], "path") == "/spec");
  (*obj)["spec"].CopyFrom((*p)[0]["value"], obj->GetAllocator());
  return json::to_string(*obj);
}

TEST_CASE("the VM mutating webhook stores what upstream's does: the template's machine type") {
  auto obj = vm(R"([{"name":"root"}])", R"([{"name":"root","containerDisk":{"image":"x"}}])");
  auto d = reply_of(Webhook::mutate_vm, review_of("CREATE", obj));
  CHECK(allowed(d));
  auto out = json::parse(patched(d, obj));
  REQUIRE(out.ok());
  const auto* tmpl = json::find_path(*out, {"spec", "template", "spec"});
  REQUIRE(tmpl);
  CHECK(json::find_path(*tmpl, {"domain", "machine", "type"})->GetString() == std::string("q35"));
  // The rest of the template stays as written: its defaults are the VMI's, applied when the VMI
  // is created.
  const auto* disks = json::find_path(*tmpl, {"domain", "devices", "disks"});
  REQUIRE(disks);
  CHECK(json::to_string((*disks)[0]) == R"({"name":"root"})");
  CHECK_FALSE(json::find(*tmpl, "networks"));

  // Once stored, nothing more to add.
  auto again = reply_of(Webhook::mutate_vm, review_of("UPDATE", json::to_string(*out), obj));
  CHECK(allowed(again));
  CHECK_FALSE(json::find_path(again, {"response", "patch"}));
}

TEST_CASE("the VMI mutating webhook stores every default on CREATE, as upstream") {
  // A volume no disk names, no interfaces or networks, a CPU request and no topology.
  const std::string obj =
      R"({"apiVersion":"kubevirt.io/v1","kind":"VirtualMachineInstance","metadata":{"name":"a","namespace":"default"},
          "spec":{"domain":{"devices":{},"resources":{"requests":{"memory":"128Mi","cpu":"2"}}},
                  "volumes":[{"name":"root","containerDisk":{"image":"registry.example/disk"}}]}})";
  auto d = reply_of(Webhook::mutate_vmi, review_of("CREATE", obj));
  REQUIRE(allowed(d));
  auto out = json::parse(patched(d, obj));
  REQUIRE(out.ok());
  INFO(json::to_string(*out));
  const auto* spec = json::find(*out, "spec");
  REQUIRE(spec);
  const auto* disks = json::find_path(*spec, {"domain", "devices", "disks"});
  REQUIRE(disks);
  REQUIRE(disks->Size() == 1);
  CHECK(json::to_string((*disks)[0]) == R"({"name":"root","disk":{"bus":"sata"}})");
  CHECK(json::find_path(*spec, {"domain", "machine", "type"})->GetString() == std::string("q35"));
  CHECK(json::find_path(*spec, {"domain", "cpu", "sockets"})->GetInt() == 2);
  CHECK(json::find_path(*spec, {"domain", "memory", "guest"})->GetString() == std::string("128Mi"));
  CHECK(json::to_string(*json::find(*spec, "networks")) == R"([{"name":"default","pod":{}}])");
  const auto* ifaces = json::find_path(*spec, {"domain", "devices", "interfaces"});
  REQUIRE(ifaces);
  CHECK(json::get_string((*ifaces)[0], "name") == "default");
  CHECK(json::find((*ifaces)[0], "masquerade"));
  const auto& volume = (*json::find(*spec, "volumes"))[0];
  CHECK(json::find_path(volume, {"containerDisk", "imagePullPolicy"})->GetString() ==
        std::string("Always"));  // untagged

  // The validating hook accepts what the mutating hook stored, and defaulting it again adds
  // nothing.
  const std::string stored = json::to_string(*out);
  CHECK(allowed(reply_of(Webhook::validate_vmi, review_of("CREATE", stored))));
  auto again = reply_of(Webhook::mutate_vmi, review_of("CREATE", stored));
  CHECK(allowed(again));
  CHECK_FALSE(json::find_path(again, {"response", "patch"}));

  // UPDATE: never defaulted again (as upstream).
  auto update = reply_of(Webhook::mutate_vmi, review_of("UPDATE", obj, obj));
  CHECK(allowed(update));
  CHECK_FALSE(json::find_path(update, {"response", "patch"}));
}

TEST_CASE("a mutating webhook leaves an invalid object to the schema and the validating hook") {
  // Run before the API server's schema check, a denial here would hide the schema's own message
  // (e.g. for a bad runStrategy enum).
  const std::string obj =
      R"({"apiVersion":"kubevirt.io/v1","kind":"VirtualMachineInstance","metadata":{"name":"a"},
          "spec":{"domain":{"devices":{"bogus":1},"resources":{"requests":{"memory":"128Mi"}}}}})";
  auto m = reply_of(Webhook::mutate_vmi, review_of("CREATE", obj));
  CHECK(allowed(m));
  CHECK_FALSE(json::find_path(m, {"response", "patch"}));
  auto v = reply_of(Webhook::validate_vmi, review_of("CREATE", obj));
  CHECK_FALSE(allowed(v));
  CHECK(message(v).find("spec.domain.devices.bogus: unknown field; allowed: disks") == 0);

  auto bad_vm = vm(R"([{"name":"root"}])", R"([{"name":"root","containerDisk":{"image":"x"}}])");
  bad_vm.replace(bad_vm.find("Halted"), 6, "Sometimes");
  auto mv = reply_of(Webhook::mutate_vm, review_of("CREATE", bad_vm));
  CHECK(allowed(mv));
  CHECK_FALSE(json::find_path(mv, {"response", "patch"}));
  CHECK_FALSE(allowed(reply_of(Webhook::validate_vm, review_of("CREATE", bad_vm))));
}

TEST_CASE("malformed reviews get 400 with a Status, never a crash") {
  for (const std::string& body :
       {std::string("not json"), std::string("[]"), std::string("{}"),
        std::string(R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"})"),
        std::string(
            R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{}})"),
        std::string(R"({"apiVersion":"v1","kind":"Pod"})"), std::string("")}) {
    INFO(body);
    auto r = review(Webhook::validate_vm, body, {});
    CHECK(r.status == 400);
    auto d = json::parse(r.body);
    REQUIRE(d.ok());
    CHECK(json::get_string(*d, "kind") == "Status");
    CHECK(json::get_string(*d, "message")->find("malformed AdmissionReview") == 0);
  }
  // A well-formed review of garbage is denied, not a 400.
  auto d = reply_of(Webhook::validate_vm, review_of("CREATE", "[1,2]"));
  CHECK_FALSE(allowed(d));
}

TEST_CASE("status is not judged: an UPDATE of a VM with controller-written status passes") {
  auto obj = vm(R"([{"name":"root"}])", R"([{"name":"root","containerDisk":{"image":"x"}}])");
  obj.insert(obj.size() - 1, R"(,"status":{"printableStatus":"Stopped","somethingNew":{"x":1}})");
  auto d = reply_of(Webhook::validate_vm, review_of("UPDATE", obj));
  CHECK(allowed(d));
}

TEST_CASE("an object being deleted is not judged again, so its finalizers can come off") {
  // Valid once, refused by today's rules (bridge), now being deleted.
  std::string obj =
      vm(R"([{"name":"root"}])", R"([{"name":"root","containerDisk":{"image":"x"}}])");
  obj.replace(obj.find(R"("devices":{)"), 11,
              R"("devices":{"interfaces":[{"name":"default","bridge":{}}],)");
  obj.replace(obj.find(R"("volumes":)"), 10,
              R"("networks":[{"name":"default","pod":{}}],"volumes":)");
  CHECK_FALSE(allowed(reply_of(Webhook::validate_vm, review_of("UPDATE", obj, obj))));
  obj.replace(obj.find(R"("namespace":"default")"), 21,
              R"("namespace":"default","deletionTimestamp":"2026-01-01T00:00:00Z")");
  for (auto hook : {Webhook::validate_vm, Webhook::mutate_vm}) {
    auto d = reply_of(hook, review_of("UPDATE", obj, obj));
    CHECK(allowed(d));
    CHECK_FALSE(json::find_path(d, {"response", "patch"}));
  }
}
