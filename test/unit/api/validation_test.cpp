#include "api/v1/validation.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <set>

#include "test_support.hpp"

using namespace kv::api::v1;
using kv::api::v1::test::load;
using kv::api::v1::test::one;
using kv::api::v1::test::testdata;
using kv::api::v1::test::yaml_files;

namespace {

// The "# expect: <path>: <message>" lines at the top of a test file.
std::multiset<std::string> expected_errors(const std::string& path) {
  std::ifstream in(path);
  std::multiset<std::string> out;
  std::string line;
  const std::string prefix = "# expect: ";
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) == 0) {
      out.insert(line.substr(prefix.size()));
    }
  }
  return out;
}

}  // namespace

TEST_CASE("each invalid manifest is rejected with exactly its expected messages") {
  auto files = yaml_files(testdata("invalid"));
  // The brief asks for at least 30 distinct invalid inputs.
  REQUIRE(files.size() >= 30);
  std::set<std::string> distinct;
  for (const auto& file : files) {
    INFO(file);
    auto expected = expected_errors(file);
    REQUIRE_FALSE(expected.empty());
    auto docs = load(file);
    REQUIRE(docs.size() == 1);
    auto result = admit(docs[0]);
    std::multiset<std::string> got;
    for (const auto& e : result.errors) {
      got.insert(e.to_string());
    }
    CHECK(got == expected);
    distinct.insert(expected.begin(), expected.end());
  }
  CHECK(distinct.size() == files.size());
}

TEST_CASE("a valid VM passes, and validation after defaulting is what admission runs") {
  auto doc = one(R"(
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata: {name: ok}
spec:
  runStrategy: Always
  template:
    spec:
      domain:
        resources: {requests: {memory: 64Mi}}
        devices: {disks: [{name: root}]}
      volumes: [{name: root, containerDisk: {image: x}}]
)");
  auto r = admit(doc);
  CHECK(r.errors.empty());
  CHECK(r.kind == "VirtualMachine");
  CHECK(r.name == "ok");
  // The defaulted object carries the defaults.
  const auto* machine =
      kv::core::json::find_path(r.defaulted, {"spec", "template", "spec", "domain", "machine"});
  REQUIRE(machine != nullptr);
  CHECK(kv::core::json::get_string(*machine, "type") == "q35");
}

TEST_CASE("validation of an undefaulted spec reports what defaults would have filled") {
  VirtualMachineInstanceSpec spec;
  spec.domain.memory.emplace().guest = Quantity::from_int(64 << 20);
  Interface iface;
  iface.name = "default";
  spec.domain.devices.interfaces.push_back(iface);
  spec.networks.push_back(Network{"default", PodNetwork{}});
  auto errors = validate_spec(spec, "spec.template.spec");
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].to_string() ==
        "spec.template.spec.domain.devices.interfaces[0]: no binding; set one of masquerade, "
        "bridge, passt");
}

TEST_CASE("EFI with Secure Boot and SMM, and a non-persistent or disabled TPM, are admitted") {
  auto vmi = [](const std::string& domain) {
    return one(R"(
apiVersion: kubevirt.io/v1
kind: VirtualMachineInstance
metadata: {name: ok}
spec:
  domain:
    memory: {guest: 64Mi}
)" + domain + R"(
  volumes: [{name: root, containerDisk: {image: x}}]
)");
  };
  SECTION("secureBoot defaulted to true, smm listed without enabled") {
    auto r = admit(vmi(R"(
    firmware: {bootloader: {efi: {}}}
    features: {smm: {}}
    devices: {disks: [{name: root}], tpm: {}})"));
    CHECK(r.errors.empty());
  }
  SECTION("secureBoot false needs no SMM; persistent false is the default") {
    auto r = admit(vmi(R"(
    firmware: {bootloader: {efi: {secureBoot: false, persistent: false}}}
    devices: {disks: [{name: root}], tpm: {persistent: false}})"));
    CHECK(r.errors.empty());
  }
  SECTION("a disabled TPM may say persistent: no TPM is attached at all (as upstream)") {
    auto r = admit(vmi(R"(
    features: {smm: {enabled: true}}
    firmware: {bootloader: {efi: {secureBoot: true}}}
    devices: {disks: [{name: root}], tpm: {enabled: false, persistent: true}})"));
    CHECK(r.errors.empty());
  }
}
