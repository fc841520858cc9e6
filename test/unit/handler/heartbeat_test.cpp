// The node heartbeat patch (handler/heartbeat).
#include <catch2/catch.hpp>

#include "core/json.hpp"
#include "core/kube/kubeconfig.hpp"
#include "handler/heartbeat.hpp"

using namespace kv;

TEST_CASE("the heartbeat patch stamps the time and marks the node schedulable") {
  auto t = core::kube::parse_rfc3339("2026-03-04T05:06:07Z");
  REQUIRE(t.ok());
  auto doc = core::json::parse(handler::heartbeat_patch(*t));
  REQUIRE(doc.ok());
  const auto* ann = core::json::find_path(*doc, {"metadata", "annotations"});
  REQUIRE(ann);
  CHECK(core::json::get_string(*ann, "kubevirt.io/heartbeat") == "2026-03-04T05:06:07Z");
  const auto* labels = core::json::find_path(*doc, {"metadata", "labels"});
  REQUIRE(labels);
  CHECK(core::json::get_string(*labels, "kubevirt.io/schedulable") == "true");
  // Nothing else of the Node is touched.
  CHECK(doc->MemberCount() == 1);
}
