// The node labeller: labels from QEMU's answers captured on this machine (testdata/qmp-kvm.jsonl
// with -machine none,accel=kvm:tcg as root, testdata/qmp-tcg.jsonl with accel=tcg; QEMU 7.2 of
// Debian bookworm, the launcher image's) and the Node patch that keeps only the labeller's labels.
#include "handler/node_labeller.hpp"

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "core/json.hpp"

using namespace kv::handler;
namespace json = kv::core::json;

namespace {

std::string testdata(const std::string& name) {
  std::ifstream in(std::string(KV_TESTDATA) + "/" + name, std::ios::binary);
  REQUIRE(in);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::map<std::string, std::string> labels_of(const std::string& qmp_file) {
  auto cpu = parse_qmp_transcript(testdata(qmp_file));
  REQUIRE(cpu.ok());
  return cpu_labels(*cpu, parse_libvirt_feature_names(testdata("x86_features.xml")),
                    default_obsolete_cpu_models());
}

bool has(const std::map<std::string, std::string>& m, const std::string& k) {
  auto it = m.find(k);
  return it != m.end() && it->second == "true";
}

}  // namespace

TEST_CASE("node labeller: TCG labels the models QEMU emulates in full, minus obsolete ones") {
  auto cpu = parse_qmp_transcript(testdata("qmp-tcg.jsonl"));
  REQUIRE(cpu.ok());
  CHECK(cpu->accelerator == "tcg");
  auto labels = labels_of("qmp-tcg.jsonl");
  // QEMU 7.2's TCG has SSE4.2 and POPCNT but not AVX-512: Nehalem and Westmere run, Skylake not.
  CHECK(has(labels, "cpu-model.node.kubevirt.io/Nehalem"));
  CHECK(has(labels, "cpu-model.node.kubevirt.io/Westmere-v1"));
  CHECK(has(labels, "cpu-model.node.kubevirt.io/Penryn"));
  CHECK_FALSE(labels.count("cpu-model.node.kubevirt.io/Skylake-Server"));
  // Upstream's obsolete models and QEMU's pseudo-models are never labelled.
  CHECK_FALSE(labels.count("cpu-model.node.kubevirt.io/qemu64"));
  CHECK_FALSE(labels.count("cpu-model.node.kubevirt.io/486"));
  CHECK_FALSE(labels.count("cpu-model.node.kubevirt.io/max"));
  CHECK_FALSE(labels.count("cpu-model.node.kubevirt.io/base"));
  // Features by libvirt's names; QEMU-only properties (migratable, check, x-...) are not features.
  CHECK(has(labels, "cpu-feature.node.kubevirt.io/sse4.2"));
  CHECK(has(labels, "cpu-feature.node.kubevirt.io/lahf_lm"));  // QEMU says lahf-lm
  CHECK_FALSE(labels.count("cpu-feature.node.kubevirt.io/lahf-lm"));
  CHECK_FALSE(labels.count("cpu-feature.node.kubevirt.io/migratable"));
  CHECK_FALSE(labels.count("cpu-feature.node.kubevirt.io/check"));
  for (const auto& [k, v] : labels)
    CHECK(labeller_owns(k));
}

TEST_CASE("node labeller: under KVM the host's CPUID decides (this machine's KVM lacks pni)") {
  auto cpu = parse_qmp_transcript(testdata("qmp-kvm.jsonl"));
  REQUIRE(cpu.ok());
  CHECK(cpu->accelerator == "kvm");
  auto labels = labels_of("qmp-kvm.jsonl");
  // Every named model but the pentium-class ones needs pni (SSE3), which this host's KVM does not
  // offer; those are obsolete, so no model label at all.
  CHECK(std::none_of(labels.begin(), labels.end(), [](const auto& l) {
    return l.first.rfind("cpu-model.node.kubevirt.io/", 0) == 0;
  }));
  CHECK(has(labels, "cpu-feature.node.kubevirt.io/sse2"));
  CHECK_FALSE(labels.count("cpu-feature.node.kubevirt.io/pni"));
}

TEST_CASE("node labeller: a transcript without the answers is an error naming what is missing") {
  auto r = parse_qmp_transcript("{\"QMP\": {}}\n{\"return\": {}}\n");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.find("query-cpu-definitions") != std::string::npos);
  CHECK_FALSE(parse_qmp_transcript("{\"return\": [\n").ok());
  auto dir = labels_from_dir("/nonexistent-node-labeller-dir");
  REQUIRE_FALSE(dir.ok());
  CHECK(dir.error().code == kv::core::Errc::not_found);
}

TEST_CASE("node labeller: the patch sets new labels, removes stale own ones, leaves others") {
  auto node = json::parse(R"({"metadata":{"name":"n1","labels":{
      "kubernetes.io/hostname":"n1",
      "kubevirt.io/schedulable":"true",
      "cpu-model.node.kubevirt.io/Nehalem":"true",
      "cpu-model.node.kubevirt.io/Skylake-Client":"true",
      "cpu-feature.node.kubevirt.io/sse2":"true",
      "host-model-cpu.node.kubevirt.io/Skylake-Client":"true"}}})");
  REQUIRE(node.ok());
  std::map<std::string, std::string> want{{"cpu-model.node.kubevirt.io/Nehalem", "true"},
                                          {"cpu-model.node.kubevirt.io/Westmere", "true"},
                                          {"cpu-feature.node.kubevirt.io/sse2", "true"}};
  auto patch = node_label_patch(*node, want);
  REQUIRE(patch);
  auto p = json::parse(*patch);
  REQUIRE(p.ok());
  const json::Value* l = json::find_path(*p, {"metadata", "labels"});
  REQUIRE(l);
  CHECK(json::get_string(*l, "cpu-model.node.kubevirt.io/Westmere") == "true");
  CHECK(json::find(*l, "cpu-model.node.kubevirt.io/Skylake-Client")->IsNull());
  CHECK(json::find(*l, "host-model-cpu.node.kubevirt.io/Skylake-Client")->IsNull());
  // Unchanged and foreign labels are not in the patch at all.
  CHECK_FALSE(json::find(*l, "cpu-model.node.kubevirt.io/Nehalem"));
  CHECK_FALSE(json::find(*l, "kubevirt.io/schedulable"));
  CHECK_FALSE(json::find(*l, "kubernetes.io/hostname"));
  CHECK(l->MemberCount() == 3);

  // Applied, nothing is left to change.
  auto done = json::parse(R"({"metadata":{"labels":{"kubernetes.io/hostname":"n1",
      "cpu-model.node.kubevirt.io/Nehalem":"true","cpu-model.node.kubevirt.io/Westmere":"true",
      "cpu-feature.node.kubevirt.io/sse2":"true"}}})");
  REQUIRE(done.ok());
  CHECK_FALSE(node_label_patch(*done, want));
}
