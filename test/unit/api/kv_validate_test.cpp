// Runs the kv-validate binary the way a user would and checks its output and exit status.
#include <sys/wait.h>

#include <catch2/catch.hpp>

#include <array>
#include <cstdio>
#include <string>

#include "core/yaml.hpp"
#include "test_support.hpp"

using kv::api::v1::test::source_path;
using kv::api::v1::test::testdata;

namespace {

struct Run {
  int status = -1;
  std::string out;
};

Run run(const std::string& args) {
  Run r;
  std::string cmd = std::string(KV_VALIDATE) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) {
    r.out.append(buf.data(), n);
  }
  int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

}  // namespace

TEST_CASE("kv-validate prints the defaulted examples as YAML and exits 0") {
  const std::string examples = source_path("manifests/examples");
  auto r =
      run(examples + "/vm-containerdisk-cloudinit.yaml " + examples + "/vmi-containerdisk.yaml");
  INFO(r.out);
  CHECK(r.status == 0);
  auto docs = kv::core::yaml::to_json(r.out);
  REQUIRE(docs.ok());
  REQUIRE(docs->size() == 2);
  CHECK(kv::core::json::get_string((*docs)[1], "kind") == "VirtualMachineInstance");
  // Defaults are visible: the VMI got the pod network and the 180 s grace period is kept at 0.
  const auto* nets = kv::core::json::find_path((*docs)[1], {"spec", "networks"});
  REQUIRE(nets != nullptr);
  CHECK(kv::core::json::to_string(*nets) == R"([{"name":"default","pod":{}}])");
}

TEST_CASE("kv-validate prints every error as FILE: kind/name: path: message and exits 1") {
  const std::string bad = testdata("invalid/disk-without-volume.yaml");
  const std::string also = testdata("invalid/bad-runstrategy.yaml");
  auto r = run(bad + " " + also);
  CHECK(r.status == 1);
  CHECK(r.out == bad +
                     ": VirtualMachine/test: spec.template.spec.domain.devices.disks[1].name: "
                     "\"data\" has no matching volume\n" +
                     also +
                     ": VirtualMachine/test: spec.runStrategy: \"Sometimes\" is not supported; "
                     "allowed: Always, RerunOnFailure, Manual, Halted, Once\n");
}

TEST_CASE("kv-validate says what is wrong with its arguments") {
  auto r = run("");
  CHECK(r.status == 2);
  CHECK_THAT(r.out, Catch::Contains("usage: kv-validate FILE..."));
  r = run("/nonexistent/vm.yaml");
  CHECK(r.status == 2);
  CHECK_THAT(r.out, Catch::Contains("/nonexistent/vm.yaml"));
}
