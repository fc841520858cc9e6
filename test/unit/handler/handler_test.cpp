// virt-handler (handler/handler) above the Kubernetes REST seam: what it asks the API server for.
#include <catch2/catch.hpp>

#include "addon/resources.hpp"
#include "core/json.hpp"
#include "handler/handler.hpp"
#include "test/fakes/fake_kube_client.hpp"
#include "test/support/temp_dir.hpp"

using namespace std::chrono_literals;
namespace json = kv::core::json;
namespace kube = kv::core::kube;

namespace {

void add_vmi(kv::test::FakeKubeClient& client, const std::string& name, const std::string& node) {
  auto doc = json::parse(R"({"apiVersion":"kubevirt.io/v1","kind":"VirtualMachineInstance",
    "metadata":{"name":")" +
                         name + R"(","namespace":"ns","uid":"uid-)" + name +
                         R"(","labels":{"kubevirt.io/nodeName":")" + node + R"("}},
    "spec":{"domain":{"devices":{}}},"status":{"phase":"Scheduled","nodeName":")" +
                         node + R"("}})");
  REQUIRE(doc.ok());
  REQUIRE(client.create(kv::addon::resources::virtual_machine_instances(), "ns", *doc).ok());
}

}  // namespace

TEST_CASE("virt-handler lists and watches only its own node's VMIs (label kubevirt.io/nodeName)") {
  kv::test::TempDir tmp{"kv-handler"};
  kv::test::FakeKubeClient client;
  add_vmi(client, "here", "n1");
  add_vmi(client, "elsewhere", "n2");

  kv::handler::Options o;
  o.node_name = "n1";
  o.kubelet_root = tmp.path.string();
  o.stream_port = 0;
  o.metrics_port = 0;
  o.workers = 1;
  o.heartbeat_interval = 3600s;
  kv::handler::Handler handler(client, o);
  REQUIRE(handler.start(10s).ok());

  const auto vmis = kv::addon::resources::virtual_machine_instances();
  const std::pair<std::string, std::string> ours{"kubevirt.io/nodeName=n1", ""};
  CHECK(client.last_selectors("list", vmis) == ours);
  // The watch follows the list on the informer's thread.
  for (int i = 0; i < 1000 && !client.last_selectors("watch", vmis); ++i)
    std::this_thread::sleep_for(10ms);
  CHECK(client.last_selectors("watch", vmis) == ours);
  // Its launcher pods: this node's only, as before.
  const auto pods = client.last_selectors("list", kube::resources::pods());
  REQUIRE(pods);
  CHECK(pods->second == "spec.nodeName=n1");

  CHECK(handler.vmi_on_node("ns/here"));
  CHECK_FALSE(handler.vmi_on_node("ns/elsewhere"));
  handler.stop();
}
