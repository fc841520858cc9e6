#include "api/instancetype/crd.hpp"

#include <string>

#include "api/instancetype/fields.hpp"
#include "api/instancetype/validation.hpp"
#include "api/v1/crd_generic.hpp"

namespace kv::api::instancetype {
namespace {

namespace json = core::json;
using json::Value;

// The CEL rule refusing r's member, on the schema of the object that holds it.
std::string cel(const Rule& r) {
  const std::string f = "self." + std::string(r.field);
  const std::string absent = "!has(" + f + ")";
  switch (r.when) {
    case Rule::When::present:
      return absent;
    case Rule::When::is_true:
      return absent + " || !" + f;
    case Rule::When::nonempty:
      return absent + " || size(" + f + ") == 0";
  }
  return absent;
}

void add_rules(json::Document& crd, const std::vector<Rule>& rules) {
  auto& a = crd.GetAllocator();
  Value& root = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
  for (const auto& r : rules) {
    Value* node = &root["properties"]["spec"];
    std::string_view rest = r.parent;
    while (!rest.empty()) {
      auto dot = rest.find('.');
      std::string part(rest.substr(0, dot));
      node = &(*node)["properties"][part.c_str()];
      rest = dot == std::string_view::npos ? std::string_view{} : rest.substr(dot + 1);
    }
    if (!node->HasMember("x-kubernetes-validations")) {
      node->AddMember("x-kubernetes-validations", Value(rapidjson::kArrayType), a);
    }
    Value v(rapidjson::kObjectType);
    json::set(v, "rule", cel(r), a);
    json::set(v, "message", std::string(r.message), a);
    json::set(v, "fieldPath", "." + std::string(r.field), a);
    json::set(v, "reason", "FieldValueForbidden", a);
    (*node)["x-kubernetes-validations"].PushBack(std::move(v), a);
  }
}

template <class Obj>
json::Document make(std::string_view kind, std::string_view plural, std::string_view singular,
                    std::vector<std::string_view> short_names, bool cluster,
                    const std::vector<Rule>& rules) {
  std::vector<std::string_view> categories;
  if (!cluster) {
    categories.push_back("all");
  }
  auto crd = v1::crd::crd_for<Obj>({
      .group = kGroup,
      .version = kVersion,
      .kind = kind,
      .plural = plural,
      .singular = singular,
      .short_names = std::move(short_names),
      .categories = std::move(categories),
      .cluster_scoped = cluster,
      .status_subresource = false,
      .columns = {{"Age", "date", ".metadata.creationTimestamp", ""}},
  });
  add_rules(crd, rules);
  return crd;
}

}  // namespace

json::Document instancetype_crd() {
  return make<VirtualMachineInstancetype>(
      kInstancetypeKind, "virtualmachineinstancetypes", "virtualmachineinstancetype",
      {"vminstancetype", "vminstancetypes", "vmf", "vmfs"}, false, instancetype_rules());
}

json::Document cluster_instancetype_crd() {
  return make<VirtualMachineClusterInstancetype>(
      kClusterInstancetypeKind, "virtualmachineclusterinstancetypes",
      "virtualmachineclusterinstancetype",
      {"vmclusterinstancetype", "vmclusterinstancetypes", "vmcf", "vmcfs"}, true,
      instancetype_rules());
}

json::Document preference_crd() {
  return make<VirtualMachinePreference>(
      kPreferenceKind, "virtualmachinepreferences", "virtualmachinepreference",
      {"vmpref", "vmprefs", "vmp", "vmps"}, false, preference_rules());
}

json::Document cluster_preference_crd() {
  return make<VirtualMachineClusterPreference>(
      kClusterPreferenceKind, "virtualmachineclusterpreferences", "virtualmachineclusterpreference",
      {"vmcp", "vmcps"}, true, preference_rules());
}

}  // namespace kv::api::instancetype
