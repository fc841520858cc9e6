// The VM webhooks with spec.instancetype / spec.preference (api/server/instancetype_admission):
// conflicts refused as upstream words them, a missing instancetype admitted, the template
// validated as expanded, the matchers' kinds defaulted by the mutating hook. The lookup is a fake
// (a map of objects) at its seam.
#include <catch2/catch.hpp>

#include <map>

#include "api/server/admission.hpp"
#include "core/json.hpp"
#include "core/kube/kubeconfig.hpp"

using namespace kv::apiserver;
namespace json = kv::core::json;
using kv::core::Errc;
using kv::core::Error;
using kv::core::Result;

namespace {

class FakeLookup final : public InstancetypeLookup {
 public:
  std::map<std::string, std::string> objects;  // "resource/ns/name" -> JSON
  mutable std::vector<std::string> asked;
  Result<json::Document> get(std::string_view resource, std::string_view ns,
                             std::string_view name) const override {
    std::string key = std::string(resource) + "/" + std::string(ns) + "/" + std::string(name);
    asked.push_back(key);
    auto it = objects.find(key);
    if (it == objects.end())
      return Error(Errc::not_found,
                   std::string(resource) + " \"" + std::string(name) + "\" not found");
    return json::parse(it->second);
  }
};

const char* kNano =
    R"({"apiVersion":"instancetype.kubevirt.io/v1beta1","kind":"VirtualMachineClusterInstancetype",
        "metadata":{"name":"u1.nano"},"spec":{"cpu":{"guest":1},"memory":{"guest":"512Mi"}}})";
const char* kNeedsTwo =
    R"({"apiVersion":"instancetype.kubevirt.io/v1beta1","kind":"VirtualMachinePreference",
        "metadata":{"name":"big","namespace":"default"},"spec":{"requirements":{"cpu":{"guest":2}}}})";

std::string vm(const std::string& matchers, const std::string& domain_extra = "",
               const std::string& status = "") {
  return R"({"apiVersion":"kubevirt.io/v1","kind":"VirtualMachine","metadata":{"name":"vm1","namespace":"default"},
      "spec":{"runStrategy":"Halted",)" +
         matchers + R"("template":{"spec":{"domain":{)" + domain_extra +
         R"("devices":{"disks":[{"name":"root"}]}},"volumes":[{"name":"root","containerDisk":{"image":"x"}}]}}})" +
         (status.empty() ? "" : R"(,"status":)" + status) + "}";
}

std::string review_of(const std::string& object) {
  return R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u-1",
      "operation":"CREATE","userInfo":{"username":"alice"},"object":)" +
         object + "}}";
}

json::Document reply(Webhook hook, const std::string& object, std::shared_ptr<FakeLookup> lookup) {
  AdmissionPolicy policy;
  policy.instancetypes = lookup;
  auto r = review(hook, review_of(object), policy);
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

std::shared_ptr<FakeLookup> with_nano() {
  auto l = std::make_shared<FakeLookup>();
  l->objects["virtualmachineclusterinstancetypes//u1.nano"] = kNano;
  l->objects["virtualmachinepreferences/default/big"] = kNeedsTwo;
  return l;
}

}  // namespace

TEST_CASE("a VM whose instancetype gives CPU and memory needs neither in its template") {
  auto lookup = with_nano();
  auto d = reply(Webhook::validate_vm, vm(R"("instancetype":{"name":"u1.nano"},)"), lookup);
  INFO(message(d));
  CHECK(allowed(d));
  CHECK(lookup->asked == std::vector<std::string>{"virtualmachineclusterinstancetypes//u1.nano"});
}

TEST_CASE("a VM setting what its instancetype owns is refused, naming the field as upstream") {
  auto d = reply(Webhook::validate_vm,
                 vm(R"("instancetype":{"name":"u1.nano"},)",
                    R"("cpu":{"sockets":2},"memory":{"guest":"1Gi"},)"),
                 with_nano());
  CHECK_FALSE(allowed(d));
  const std::string m = message(d);
  INFO(m);
  CHECK(m.find("spec.template.spec.domain.cpu.sockets: VM field(s) "
               "spec.template.spec.domain.cpu.sockets conflicts with selected instance type") !=
        std::string::npos);
  CHECK(m.find("spec.template.spec.domain.memory.guest") != std::string::npos);
  const auto* causes = json::find_path(d, {"response", "status", "details", "causes"});
  REQUIRE(causes);
  CHECK(json::get_string((*causes)[0], "field") == "spec.template.spec.domain.cpu.sockets");
}

TEST_CASE("an instancetype that does not exist yet is admitted, as upstream") {
  auto d = reply(Webhook::validate_vm, vm(R"("instancetype":{"name":"nope"},)"), with_nano());
  INFO(message(d));
  CHECK(allowed(d));
}

TEST_CASE("unmet preference requirements are refused at spec.instancetype") {
  auto d = reply(
      Webhook::validate_vm,
      vm(R"("instancetype":{"name":"u1.nano"},"preference":{"kind":"VirtualMachinePreference","name":"big"},)"),
      with_nano());
  CHECK_FALSE(allowed(d));
  CHECK(message(d) ==
        "spec.instancetype: failure checking preference requirements: insufficient CPU resources "
        "of 1 vCPU provided by instance type, preference requires 2 vCPU");
}

TEST_CASE("the VM's recorded revision is what is checked, not the object as it stands") {
  auto lookup = with_nano();
  lookup->objects["controllerrevisions/default/vm1-u1.nano-rev"] =
      std::string(
          R"({"apiVersion":"apps/v1","kind":"ControllerRevision","metadata":{"name":"vm1-u1.nano-rev"},"data":)") +
      kNano + "}";
  const std::string status =
      R"({"instancetypeRef":{"name":"u1.nano","kind":"VirtualMachineClusterInstancetype","controllerRevisionRef":{"name":"vm1-u1.nano-rev"}}})";
  auto d =
      reply(Webhook::validate_vm,
            vm(R"("instancetype":{"name":"u1.nano","kind":"VirtualMachineClusterInstancetype"},)",
               "", status),
            lookup);
  CHECK(allowed(d));
  CHECK(lookup->asked == std::vector<std::string>{"controllerrevisions/default/vm1-u1.nano-rev"});
}

TEST_CASE("bad matchers are refused by name") {
  auto d = reply(
      Webhook::validate_vm,
      vm(R"("instancetype":{"name":"x","kind":"Flavor"},"preference":{"inferFromVolume":"root"},)"),
      with_nano());
  CHECK_FALSE(allowed(d));
  const std::string m = message(d);
  INFO(m);
  CHECK(m.find("spec.instancetype.kind: \"Flavor\" is not supported; allowed: "
               "VirtualMachineClusterInstancetype, VirtualMachineInstancetype") !=
        std::string::npos);
  CHECK(m.find("spec.preference.inferFromVolume: not supported") != std::string::npos);
}

TEST_CASE("the mutating hook defaults the matchers' kinds and leaves the template as written") {
  auto d =
      reply(Webhook::mutate_vm,
            vm(R"("instancetype":{"name":"u1.nano"},"preference":{"name":"linux"},)"), with_nano());
  CHECK(allowed(d));
  const auto* p = json::find_path(d, {"response", "patch"});
  REQUIRE(p);
  auto patch = json::parse(kv::core::kube::base64_decode(p->GetString()).value());
  REQUIRE(patch.ok());
  CHECK(
      json::to_string(*patch) ==
      R"([{"op":"add","path":"/spec/instancetype/kind","value":"VirtualMachineClusterInstancetype"},)"
      R"({"op":"add","path":"/spec/preference/kind","value":"VirtualMachineClusterPreference"}])");
  // Kinds already set: nothing to change, and the template gets no defaults.
  auto same =
      reply(Webhook::mutate_vm,
            vm(R"("instancetype":{"name":"u1.nano","kind":"VirtualMachineClusterInstancetype"},)"),
            with_nano());
  CHECK(allowed(same));
  CHECK_FALSE(json::find_path(same, {"response", "patch"}));
  // No runStrategy and no running: Halted, as for every VM.
  std::string bare =
      vm(R"("instancetype":{"name":"u1.nano","kind":"VirtualMachineClusterInstancetype"},)");
  const std::string rs = R"("runStrategy":"Halted",)";
  bare.erase(bare.find(rs), rs.size());
  auto halted = reply(Webhook::mutate_vm, bare, with_nano());
  const auto* hp = json::find_path(halted, {"response", "patch"});
  REQUIRE(hp);
  CHECK(kv::core::kube::base64_decode(hp->GetString()).value() ==
        R"([{"op":"add","path":"/spec/runStrategy","value":"Halted"}])");
}
