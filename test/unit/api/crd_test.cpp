#include "api/v1/crd.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "api/v1/crd_generic.hpp"
#include "api/v1/fields.hpp"
#include "core/yaml.hpp"
#include "test_support.hpp"

using namespace kv::api::v1;
using kv::api::v1::test::source_path;
namespace json = kv::core::json;

namespace {

std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Walks a schema; collects the paths of nodes that keep unknown fields, and checks that every
// node states a type (structural schema), except int-or-string nodes.
void walk(const json::Value& s, const std::string& path, std::vector<std::string>& preserved,
          std::vector<std::string>& untyped) {
  if (json::get_bool(s, "x-kubernetes-preserve-unknown-fields") == true) {
    preserved.push_back(path);
  }
  if (!json::find(s, "type") && json::get_bool(s, "x-kubernetes-int-or-string") != true) {
    untyped.push_back(path);
  }
  if (const auto* props = json::find(s, "properties")) {
    for (const auto& m : props->GetObject()) {
      walk(m.value, path + "." + m.name.GetString(), preserved, untyped);
    }
  }
  if (const auto* items = json::find(s, "items")) {
    walk(*items, path + "[]", preserved, untyped);
  }
  if (const auto* add = json::find(s, "additionalProperties")) {
    walk(*add, path + "{}", preserved, untyped);
  }
}

const json::Value& schema_of(const json::Value& crd) {
  return *json::find_path(crd["spec"]["versions"][0], {"schema", "openAPIV3Schema"});
}

}  // namespace

TEST_CASE("the committed CRDs are the ones the C++ types generate") {
  for (const auto& crd : generate_crds()) {
    const std::string path = source_path("manifests/crds/" + crd.file_name);
    INFO(path << " differs from what api/v1's types generate; " << kRegenerateHint);
    CHECK(read(path) == crd.yaml);
  }
}

TEST_CASE("the CRDs are valid YAML with the names, columns and subresources kubectl relies on") {
  auto vm = kv::core::yaml::to_json(generate_crds()[0].yaml);
  auto vmi = kv::core::yaml::to_json(generate_crds()[1].yaml);
  REQUIRE(vm.ok());
  REQUIRE(vmi.ok());
  REQUIRE(vm->size() == 1);
  CHECK(json::equal((*vm)[0], virtual_machine_crd()));
  CHECK(json::equal((*vmi)[0], virtual_machine_instance_crd()));

  auto crd = virtual_machine_crd();
  CHECK(json::get_string(crd["metadata"], "name") == "virtualmachines.kubevirt.io");
  CHECK(json::to_string(crd["spec"]["names"]["shortNames"]) == R"(["vm","vms"])");
  CHECK(json::to_string(crd["spec"]["names"]["categories"]) == R"(["all"])");
  const auto& version = crd["spec"]["versions"][0];
  CHECK(json::to_string(version["subresources"]) == R"({"status":{}})");
  std::string columns;
  for (const auto& c : version["additionalPrinterColumns"].GetArray()) {
    columns += std::string(c["name"].GetString()) + "=" + c["jsonPath"].GetString() + " ";
  }
  CHECK(columns ==
        "Age=.metadata.creationTimestamp Status=.status.printableStatus Ready=.status.ready ");

  auto icrd = virtual_machine_instance_crd();
  CHECK(json::to_string(icrd["spec"]["names"]["shortNames"]) == R"(["vmi","vmis"])");
  columns.clear();
  for (const auto& c : icrd["spec"]["versions"][0]["additionalPrinterColumns"].GetArray()) {
    columns += std::string(c["name"].GetString()) + "=" + c["jsonPath"].GetString() + " ";
  }
  CHECK(columns ==
        "Age=.metadata.creationTimestamp Phase=.status.phase IP=.status.interfaces[0].ipAddress "
        "NodeName=.status.nodeName Ready=.status.conditions[?(@.type=='Ready')].status "
        "Emulated=.status.conditions[?(@.type=='SoftwareEmulation')].status ");
}

TEST_CASE("by default a schema keeps unknown fields only where we carry JSON opaquely") {
  std::vector<std::string> preserved;
  std::vector<std::string> untyped;
  auto vmi = crd::crd_for<VirtualMachineInstance>({.group = kGroup,
                                                   .version = "v1",
                                                   .kind = "VirtualMachineInstance",
                                                   .plural = "vmis",
                                                   .singular = "vmi"});
  walk(schema_of(vmi), "", preserved, untyped);
  CHECK(untyped.empty());
  CHECK(preserved == std::vector<std::string>{".spec.affinity", ".spec.tolerations[]"});

  preserved.clear();
  auto vm = crd::crd_for<VirtualMachine>({.group = kGroup,
                                          .version = "v1",
                                          .kind = "VirtualMachine",
                                          .plural = "vms",
                                          .singular = "vm"});
  walk(schema_of(vm), "", preserved, untyped);
  CHECK(untyped.empty());
  CHECK(preserved == std::vector<std::string>{
                         ".spec.template.metadata.managedFields[]",
                         ".spec.template.spec.affinity",
                         ".spec.template.spec.tolerations[]",
                     });
}

namespace {

// Paths of struct nodes (objects that are not maps) that prune unknown fields.
void pruning(const json::Value& s, const std::string& path, std::vector<std::string>& out) {
  const auto* props = json::find(s, "properties");
  if (json::get_string(s, "type") == "object" && !json::find(s, "additionalProperties") &&
      json::get_bool(s, "x-kubernetes-preserve-unknown-fields") != true) {
    out.push_back(path);
  }
  if (props) {
    for (const auto& m : props->GetObject()) {
      pruning(m.value, path + "." + m.name.GetString(), out);
    }
  }
  if (const auto* items = json::find(s, "items")) {
    pruning(*items, path + "[]", out);
  }
}

}  // namespace

TEST_CASE("the served CRDs keep unknown fields outside status so the webhook refuses them") {
  for (auto make : {&virtual_machine_instance_crd, &virtual_machine_crd}) {
    const auto crd = make();
    const auto& schema = schema_of(crd);
    std::vector<std::string> preserved;
    std::vector<std::string> untyped;
    walk(schema, "", preserved, untyped);
    CHECK(untyped.empty());  // still structural
    // Every struct node prunes only under status; metadata is the API server's bare object.
    std::vector<std::string> pruned;
    pruning(schema, "", pruned);
    for (const auto& path : pruned) {
      INFO(path);
      CHECK((path.rfind(".status", 0) == 0 || path == ".metadata"));
    }
    CHECK(std::find(pruned.begin(), pruned.end(), ".status") != pruned.end());
    CHECK(json::find_path(schema, {"properties", "metadata",
                                   "x-kubernetes-preserve-unknown-fields"}) == nullptr);
    CHECK(std::find(preserved.begin(), preserved.end(), "") != preserved.end());  // the root
  }
  const auto vm_crd = virtual_machine_crd();
  const auto& vm = schema_of(vm_crd);
  const auto* devices =
      json::find_path(vm, {"properties", "spec", "properties", "template", "properties", "spec",
                           "properties", "domain", "properties", "devices"});
  REQUIRE(devices);
  CHECK(json::get_bool(*devices, "x-kubernetes-preserve-unknown-fields") == true);
  CHECK(json::find_path(*devices, {"properties", "disks", "items", "properties", "name"}));
  const auto* masquerade =
      json::find_path(*devices, {"properties", "interfaces", "items", "properties", "masquerade"});
  REQUIRE(masquerade);  // an empty marker object keeps `masquerade: {x: 1}` for the webhook too
  CHECK(json::get_bool(*masquerade, "x-kubernetes-preserve-unknown-fields") == true);
}

TEST_CASE("schema descriptions and enums come from the field tables") {
  auto crd = virtual_machine_crd();
  const auto* run_strategy =
      json::find_path(schema_of(crd), {"properties", "spec", "properties", "runStrategy"});
  REQUIRE(run_strategy != nullptr);
  CHECK(json::to_string((*run_strategy)["enum"]) ==
        R"(["Always","RerunOnFailure","Manual","Halted","Once"])");
  const auto* disk =
      json::find_path(schema_of(crd), {"properties", "spec", "properties", "template", "properties",
                                       "spec", "properties", "domain", "properties", "devices",
                                       "properties", "disks", "items"});
  REQUIRE(disk != nullptr);
  CHECK(json::to_string((*disk)["required"]) == R"(["name"])");
  const auto* guest = json::find_path(
      schema_of(crd), {"properties", "spec", "properties", "template", "properties", "spec",
                       "properties", "domain", "properties", "memory", "properties", "guest"});
  REQUIRE(guest != nullptr);
  CHECK(json::get_bool(*guest, "x-kubernetes-int-or-string") == true);
}
