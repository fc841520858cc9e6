// VirtualMachineInstanceReplicaSet and VirtualMachinePool: label selectors (matching, canonical
// text, rules), the codec, validation and admission with upstream's messages, and the CRDs with
// their scale subresource.
#include <catch2/catch.hpp>

#include "api/pool/pool.hpp"
#include "api/v1/replicaset.hpp"
#include "core/json.hpp"
#include "core/yaml.hpp"

using namespace kv::api;
using namespace kv::api::v1;
namespace json = kv::core::json;

namespace {

json::Document yaml(const std::string& text) {
  auto docs = kv::core::yaml::to_json(text);
  REQUIRE(docs.ok());
  REQUIRE(docs->size() == 1);
  return std::move((*docs)[0]);
}

const char* kReplicaSet = R"(
apiVersion: kubevirt.io/v1
kind: VirtualMachineInstanceReplicaSet
metadata:
  name: web
  namespace: default
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      domain:
        memory:
          guest: 128Mi
        devices:
          disks:
            - name: root
      volumes:
        - name: root
          containerDisk:
            image: example/disk
)";

const char* kPool = R"(
apiVersion: pool.kubevirt.io/v1beta1
kind: VirtualMachinePool
metadata:
  name: db
  namespace: default
spec:
  replicas: 2
  selector:
    matchLabels:
      app: db
  virtualMachineTemplate:
    metadata:
      labels:
        app: db
    spec:
      runStrategy: Always
      template:
        metadata:
          labels:
            app: db
        spec:
          domain:
            memory:
              guest: 128Mi
            devices: {}
)";

std::vector<std::string> paths(const FieldErrors& errors) {
  std::vector<std::string> out;
  for (const auto& e : errors)
    out.push_back(e.to_string());
  return out;
}

bool has_error(const FieldErrors& errors, const std::string& text) {
  for (const auto& e : errors)
    if (e.to_string().find(text) != std::string::npos)
      return true;
  return false;
}

LabelSelectorRequirement req(std::string key, LabelSelectorOperator op,
                             std::vector<std::string> values = {}) {
  return LabelSelectorRequirement{std::move(key), op, std::move(values)};
}

}  // namespace

TEST_CASE("a label selector matches as Kubernetes' does") {
  LabelSelector s;
  s.match_labels = {{"app", "web"}};
  s.match_expressions = {req("tier", LabelSelectorOperator::in, {"a", "b"}),
                         req("canary", LabelSelectorOperator::does_not_exist),
                         req("zone", LabelSelectorOperator::not_in, {"x"}),
                         req("team", LabelSelectorOperator::exists)};
  CHECK(selector_matches(s, {{"app", "web"}, {"tier", "a"}, {"team", "t"}}));
  CHECK(selector_matches(s, {{"app", "web"}, {"tier", "b"}, {"team", "t"}, {"zone", "y"}}));
  CHECK_FALSE(selector_matches(s, {{"app", "db"}, {"tier", "a"}, {"team", "t"}}));
  CHECK_FALSE(selector_matches(s, {{"app", "web"}, {"tier", "c"}, {"team", "t"}}));
  CHECK_FALSE(selector_matches(s, {{"app", "web"}, {"tier", "a"}, {"team", "t"}, {"canary", ""}}));
  CHECK_FALSE(selector_matches(s, {{"app", "web"}, {"tier", "a"}, {"team", "t"}, {"zone", "x"}}));
  CHECK_FALSE(selector_matches(s, {{"app", "web"}, {"tier", "a"}}));
  CHECK(selector_matches(LabelSelector{}, {}));  // empty selects everything
}

TEST_CASE("the canonical selector text is sorted by key, as status.labelSelector upstream") {
  LabelSelector s;
  s.match_labels = {{"b", "2"}, {"a", "1"}};
  s.match_expressions = {req("c", LabelSelectorOperator::in, {"z", "y"}),
                         req("aa", LabelSelectorOperator::not_in, {"q"}),
                         req("d", LabelSelectorOperator::exists),
                         req("e", LabelSelectorOperator::does_not_exist)};
  CHECK(selector_string(s) == "a=1,aa notin (q),b=2,c in (y,z),d,!e");
}

TEST_CASE("selector rules name the bad part") {
  LabelSelector s;
  s.match_labels = {{"bad key!", "v"}};
  s.match_expressions = {req("k", LabelSelectorOperator::in),
                         req("k2", LabelSelectorOperator::exists, {"x"})};
  auto errors = validate_selector(s, "spec.selector");
  CHECK(has_error(errors, "spec.selector.matchLabels[bad key!]: \"bad key!\" is not a valid"));
  CHECK(has_error(errors,
                  "spec.selector.matchExpressions[0].values: must not be empty for operator In"));
  CHECK(has_error(errors,
                  "spec.selector.matchExpressions[1].values: must be empty for operator Exists"));
}

TEST_CASE("a VMI replica set decodes, encodes back and is valid") {
  auto doc = yaml(kReplicaSet);
  auto rs = decode_replica_set(doc);
  REQUIRE(rs.ok());
  CHECK(rs->spec.replicas == 2);
  CHECK(rs->spec.selector.match_labels.at("app") == "web");
  CHECK(rs->spec.template_.spec.volumes.size() == 1);
  json::Document out;
  CHECK(json::equal(encode(*rs, out.GetAllocator()), doc));
  CHECK(paths(validate(*rs)).empty());
  auto a = admit_replica_set(doc);
  CHECK(a.errors.empty());
}

TEST_CASE("a VMI replica set is refused as upstream refuses it") {
  auto doc = yaml(kReplicaSet);
  auto rs = *decode_replica_set(doc);
  SECTION("selector does not match the template's labels") {
    rs.spec.template_.metadata->labels = {{"app", "other"}};
    CHECK(paths(validate(rs)) ==
          std::vector<std::string>{"spec.selector: selector does not match labels."});
  }
  SECTION("negative replicas") {
    rs.spec.replicas = -1;
    CHECK(has_error(validate(rs), "spec.replicas: -1 is negative; allowed: 0 or more"));
  }
  SECTION("the template by the VMI rules, under spec.template.spec") {
    rs.spec.template_.spec.domain.devices.disks[0].name = "data";
    CHECK(has_error(validate(rs), "spec.template.spec.domain.devices.disks[0].name"));
  }
  SECTION("an unknown field is named") {
    json::set(*json::find(doc, "spec"), "dataVolumeTemplates", json::Value(rapidjson::kArrayType),
              doc.GetAllocator());
    auto a = admit_replica_set(doc);
    CHECK(has_error(a.errors, "spec.dataVolumeTemplates: unknown field"));
  }
  SECTION("a missing selector is required") {
    json::erase(*json::find(doc, "spec"), "selector");
    auto a = admit_replica_set(doc);
    CHECK(has_error(a.errors, "spec.selector: required field is missing"));
  }
}

TEST_CASE("a VM pool decodes, encodes back and is valid") {
  auto doc = yaml(kPool);
  auto p = pool::decode_pool(doc);
  REQUIRE(p.ok());
  CHECK(p->spec.replicas == 2);
  CHECK(p->spec.virtual_machine_template.spec.run_strategy == RunStrategy::always);
  json::Document out;
  CHECK(json::equal(pool::encode(*p, out.GetAllocator()), doc));
  CHECK(paths(pool::validate(*p)).empty());
}

TEST_CASE("a VM pool is refused by name for what is not served, with the VM rules' paths") {
  auto p = *pool::decode_pool(yaml(kPool));
  SECTION("selector") {
    p.spec.virtual_machine_template.metadata->labels.clear();
    CHECK(paths(pool::validate(p)) ==
          std::vector<std::string>{"spec.selector: selector does not match labels."});
  }
  SECTION("the VM rules under spec.virtualMachineTemplate.spec") {
    p.spec.virtual_machine_template.spec.running = true;
    CHECK(has_error(pool::validate(p),
                    "spec.virtualMachineTemplate.spec.running: mutually exclusive with "
                    "spec.runStrategy"));
  }
  SECTION("strategies upstream has and we do not") {
    p.spec.scale_in_strategy = RawJson{"{}"};
    p.spec.name_generation = RawJson{"{}"};
    p.spec.update_strategy = RawJson{"{}"};
    p.spec.autohealing = RawJson{"{}"};
    auto errors = pool::validate(p);
    CHECK(has_error(errors, "spec.scaleInStrategy: not supported yet"));
    CHECK(has_error(errors, "spec.nameGeneration: not supported yet"));
    CHECK(has_error(errors, "spec.updateStrategy: not supported yet"));
    CHECK(has_error(errors, "spec.autohealing: not supported yet"));
  }
  SECTION("maxUnavailable is unknown") {
    auto doc = yaml(kPool);
    json::set(*json::find(doc, "spec"), "maxUnavailable", json::Value(1), doc.GetAllocator());
    CHECK(has_error(pool::admit(doc).errors, "spec.maxUnavailable: unknown field"));
  }
}

TEST_CASE("a VM pool update keeps its selector and template") {
  auto old = yaml(kPool);
  auto scaled = yaml(kPool);
  (*json::find(scaled, "spec"))["replicas"].SetInt(5);
  CHECK(pool::admit(scaled, &old).errors.empty());
  auto changed = yaml(kPool);
  json::Value& labels =
      *json::find(*json::find(*json::find(changed, "spec"), "selector"), "matchLabels");
  json::set(labels, "tier", "x", changed.GetAllocator());
  json::Value& tmpl_labels = *json::find(
      *json::find(*json::find(*json::find(changed, "spec"), "virtualMachineTemplate"), "metadata"),
      "labels");
  json::set(tmpl_labels, "tier", "x", changed.GetAllocator());
  auto errors = pool::admit(changed, &old).errors;
  CHECK(has_error(errors, "spec.selector: selector is immutable after creation."));
  CHECK(has_error(errors, "spec.virtualMachineTemplate: cannot be changed yet"));
}

TEST_CASE("the CRDs carry upstream's names and the scale subresource") {
  auto rs = virtual_machine_instance_replica_set_crd();
  CHECK(json::get_string(*json::find(rs, "metadata"), "name") ==
        "virtualmachineinstancereplicasets.kubevirt.io");
  const auto* names = json::find_path(rs, {"spec", "names"});
  REQUIRE(names);
  CHECK(json::to_string(*json::find(*names, "shortNames")) == R"(["vmirs","vmirss"])");
  const auto* scale = json::find_path(rs, {"spec", "versions"});
  REQUIRE(scale);
  const auto& v = (*scale)[0];
  CHECK(json::to_string(*json::find_path(v, {"subresources", "scale"})) ==
        R"({"specReplicasPath":".spec.replicas","statusReplicasPath":".status.replicas",)"
        R"("labelSelectorPath":".status.labelSelector"})");

  auto p = pool::virtual_machine_pool_crd();
  CHECK(json::get_string(*json::find(p, "metadata"), "name") ==
        "virtualmachinepools.pool.kubevirt.io");
  const auto& pv = (*json::find_path(p, {"spec", "versions"}))[0];
  CHECK(json::get_string(pv, "name") == "v1beta1");
  CHECK(json::find_path(pv, {"subresources", "scale"}) != nullptr);
  CHECK(json::to_string(*json::find_path(p, {"spec", "names", "shortNames"})) ==
        R"(["vmpool","vmpools"])");
}
