// `virtctl expose`: the command line (upstream's flags, defaults and errors, each naming its
// argument), the Service built for a VM, a VMI and a replica set (selector, ports, owner), and the
// whole command against FakeKubeClient.
#include "tools/virtctl/expose.hpp"

#include <catch2/catch.hpp>
#include <sstream>

#include "addon/resources.hpp"
#include "core/json.hpp"
#include "test/fakes/fake_kube_client.hpp"
#include "tools/virtctl/args.hpp"

using namespace kv::virtctl;
namespace json = kv::core::json;
namespace kube = kv::core::kube;
using kv::test::FakeKubeClient;

namespace {

ExposeOptions parsed(std::vector<std::string> args) {
  args.insert(args.begin(), "expose");
  auto r = parse_args(args);
  if (!r.ok())
    FAIL(r.error().message);
  REQUIRE(r->command == Command::expose);
  return r->expose;
}

std::string parse_error(std::vector<std::string> args) {
  args.insert(args.begin(), "expose");
  auto r = parse_args(args);
  REQUIRE_FALSE(r.ok());
  return r.error().message;
}

json::Document doc(const std::string& text) {
  auto d = json::parse(text);
  REQUIRE(d.ok());
  return std::move(*d);
}

// A VM whose pod-network interface lists 80/TCP and 53/UDP (and a second, non-pod interface).
const char* kVm = R"({
  "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
  "metadata": {"name": "web", "namespace": "ns1", "uid": "vm-uid"},
  "spec": {"template": {"metadata": {"labels": {"app": "web"}}, "spec": {
    "domain": {"devices": {"interfaces": [
      {"name": "other", "bridge": {}, "ports": [{"port": 9999}]},
      {"name": "default", "masquerade": {}, "ports": [{"port": 80}, {"port": 53, "protocol": "UDP"}]}
    ]}},
    "networks": [{"name": "other", "multus": {"networkName": "x"}}, {"name": "default", "pod": {}}]
  }}}
})";

json::Document service_for(const ExposeOptions& o, const char* obj) {
  auto d = doc(obj);
  auto t = expose_target(o, d);
  REQUIRE(t.ok());
  auto s = build_service(o, *t, "ns1");
  REQUIRE(s.ok());
  return std::move(*s);
}

}  // namespace

TEST_CASE("expose: arguments and defaults as upstream") {
  auto o = parsed({"vm", "web", "--port", "8080", "--name", "web-http"});
  CHECK(o.kind == "vm");
  CHECK(o.name == "web");
  CHECK(o.service_name == "web-http");
  CHECK(o.port == 8080);
  CHECK(o.type == "ClusterIP");
  CHECK(o.protocol == "TCP");
  CHECK(o.target_port.empty());

  // Upstream's aliases and case-insensitive values.
  CHECK(parsed({"VirtualMachineInstance", "a", "--name=s"}).kind == "vmi");
  CHECK(parsed({"vmis", "a", "--name=s"}).kind == "vmi");
  CHECK(parsed({"virtualmachineinstancereplicasets", "a", "--name=s"}).kind == "vmirs");
  auto np = parsed({"vmi", "a", "--name=s", "--type", "nodeport", "--protocol", "udp", "--port",
                    "53", "--target-port", "dns", "--port-name", "dns"});
  CHECK(np.type == "NodePort");
  CHECK(np.protocol == "UDP");
  CHECK(np.target_port == "dns");
  CHECK(np.port_name == "dns");
  CHECK(parsed({"vm", "a", "--name=s", "--ip-family", "ipv6,ipv4"}).ip_families ==
        std::vector<std::string>{"IPv6", "IPv4"});
}

TEST_CASE("expose: bad input is refused, naming the argument or flag") {
  CHECK(parse_error({"vm", "web", "--port", "80"}) == "required flag(s) \"name\" not set");
  CHECK(parse_error({"pod", "web", "--name", "s"}).starts_with("unsupported resource type: pod"));
  CHECK(parse_error({"vm", "Web_1", "--name", "s"}).starts_with("NAME: \"Web_1\""));
  CHECK(parse_error({"vm", "web", "--name", "1svc"})
            .starts_with("--name: \"1svc\" is not a valid "
                         "Service name"));
  CHECK(parse_error({"vm", "web", "--name", "Svc"}).starts_with("--name: \"Svc\""));
  CHECK(parse_error({"vm", "web", "--name", "s", "--type", "ExternalName"}) ==
        "type: ExternalName not supported");
  CHECK(parse_error({"vm", "web", "--name", "s", "--type", "Ingress"})
            .starts_with("unknown service type: Ingress (--type allows ClusterIP, NodePort or "
                         "LoadBalancer)"));
  CHECK(parse_error({"vm", "web", "--name", "s", "--protocol", "SCTP"})
            .starts_with("unknown protocol: SCTP (--protocol allows TCP or UDP)"));
  CHECK(parse_error({"vm", "web", "--name", "s", "--port", "70000"}).find("--port") !=
        std::string::npos);
  CHECK(parse_error({"vm", "web", "--name", "s", "--port", "80", "--target-port", "0"})
            .starts_with("--target-port: \"0\" is not allowed"));
  CHECK(parse_error({"vm", "web", "--name", "s", "--port", "80", "--target-port", "Http_x"})
            .starts_with("--target-port: \"Http_x\" is not allowed"));
  CHECK(parse_error({"vm", "web", "--name", "s", "--target-port", "8080"})
            .starts_with("--target-port needs --port"));
  CHECK(parse_error({"vm", "web", "--name", "s", "--port-name", "http"})
            .starts_with("--port-name needs --port"));
  CHECK(parse_error({"vm", "web", "--name", "s", "--ip-family", "IPv5"})
            .starts_with("unknown IPFamily/s: IPv5"));
  CHECK(parse_error({"vm", "web", "--name", "s", "--ip-family-policy", "Dual"})
            .starts_with("unknown IPFamilyPolicy/s: Dual"));
  CHECK(parse_error({"vm", "--name", "s"}).find("NAME") != std::string::npos);
  CHECK(parse_error({"vm", "web", "--name", "s", "--selector", "a=b"}).find("--selector") !=
        std::string::npos);
}

TEST_CASE("expose vm --port: one port, selecting the VM's launcher pod, owned by the VM") {
  auto svc = service_for(parsed({"vm", "web", "--port", "8080", "--name", "web-http"}), kVm);
  auto want = doc(R"({
    "apiVersion": "v1", "kind": "Service",
    "metadata": {"name": "web-http", "namespace": "ns1", "ownerReferences": [
      {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine", "name": "web", "uid": "vm-uid",
       "controller": true, "blockOwnerDeletion": false}]},
    "spec": {"ports": [{"protocol": "TCP", "port": 8080}],
             "selector": {"vmi.kubevirt.io/id": "web"}, "type": "ClusterIP"}
  })");
  INFO(json::to_pretty_string(svc));
  CHECK(json::equal(svc, want));
}

TEST_CASE("expose: --target-port as a number or a name, and the other optional fields") {
  auto num = service_for(parsed({"vm", "web", "--port", "80", "--target-port", "8080", "--name",
                                 "s", "--port-name", "http", "--type", "NodePort"}),
                         kVm);
  CHECK(
      json::equal(*json::find_path(num, {"spec", "ports"}),
                  doc(R"([{"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080}])")));
  CHECK(json::get_string(*json::find(num, "spec"), "type") == "NodePort");

  auto named = service_for(
      parsed({"vm", "web", "--port", "80", "--target-port", "http", "--name", "s", "--cluster-ip",
              "None", "--external-ip", "192.0.2.7", "--ip-family", "IPv4,IPv6"}),
      kVm);
  const auto& spec = *json::find(named, "spec");
  CHECK(json::equal(*json::find(spec, "ports"),
                    doc(R"([{"protocol": "TCP", "port": 80, "targetPort": "http"}])")));
  CHECK(json::get_string(spec, "clusterIP") == "None");
  CHECK(json::equal(*json::find(spec, "externalIPs"), doc(R"(["192.0.2.7"])")));
  CHECK(json::equal(*json::find(spec, "ipFamilies"), doc(R"(["IPv4", "IPv6"])")));
  // Upstream's default policy for two families.
  CHECK(json::get_string(spec, "ipFamilyPolicy") == "PreferDualStack");
}

TEST_CASE("expose without --port: the ports listed on the pod network interface") {
  auto svc = service_for(parsed({"vm", "web", "--name", "s"}), kVm);
  CHECK(json::equal(
      *json::find_path(svc, {"spec", "ports"}),
      doc(R"([{"name": "port-1", "port": 80}, {"name": "port-2", "protocol": "UDP", "port": 53}])")));

  // None listed: upstream's error.
  auto bare = doc(R"({"kind": "VirtualMachineInstance", "metadata": {"name": "v", "uid": "u"},
                      "spec": {"domain": {"devices": {"interfaces": [{"name": "default",
                               "masquerade": {}}]}}, "networks": [{"name": "default", "pod": {}}]}})");
  auto o = parsed({"vmi", "v", "--name", "s"});
  auto t = expose_target(o, bare);
  REQUIRE(t.ok());
  auto s = build_service(o, *t, "ns1");
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().message == "couldn't find port via --port flag or introspection");
}

TEST_CASE("expose vmi: the same selector; a long name is hashed as on the launcher pod") {
  const std::string name =
      "vm-with-a-rather-long-name.that-goes-on-and-on-beyond-sixty-three-chars";
  auto vmi = doc(R"({"kind": "VirtualMachineInstance", "metadata": {"name": ")" + name +
                 R"(", "uid": "vmi-uid"}, "spec": {}})");
  auto o = parsed({"vmi", name, "--port", "22", "--name", "ssh"});
  auto t = expose_target(o, vmi);
  REQUIRE(t.ok());
  CHECK(t->selector == std::map<std::string, std::string>{
                           {"vmi.kubevirt.io/id",
                            "vm-with-a-rather-long-name.that-goes-on-and-on-beyond--81b2372c"}});
  CHECK(t->kind == "VirtualMachineInstance");
}

TEST_CASE("expose vmirs: its matchLabels, and upstream's refusals") {
  auto o = parsed({"vmirs", "rs", "--port", "80", "--name", "s"});
  auto rs =
      doc(R"({"kind": "VirtualMachineInstanceReplicaSet", "metadata": {"name": "rs", "uid": "u"},
    "spec": {"selector": {"matchLabels": {"app": "web", "tier": "front"}},
             "template": {"spec": {}}}})");
  auto t = expose_target(o, rs);
  REQUIRE(t.ok());
  CHECK(t->selector == std::map<std::string, std::string>{{"app", "web"}, {"tier", "front"}});

  auto exprs = doc(R"({"metadata": {"name": "rs"}, "spec": {"selector": {"matchLabels": {"a": "b"},
    "matchExpressions": [{"key": "x", "operator": "Exists"}]}}})");
  CHECK(expose_target(o, exprs).error().message ==
        "cannot expose VirtualMachineInstanceReplicaSet with match expressions");
  auto none = doc(R"({"metadata": {"name": "rs"}, "spec": {"selector": {}}})");
  CHECK(expose_target(o, none).error().message ==
        "cannot expose VirtualMachineInstanceReplicaSet without any selector labels");
}

TEST_CASE("run_expose: reads the VM, creates the Service, says so; errors as upstream") {
  FakeKubeClient client;
  REQUIRE(client.create(kv::addon::resources::virtual_machines(), "ns1", doc(kVm)).ok());
  std::ostringstream out, err;
  auto o = parsed({"vm", "web", "--port", "8080", "--name", "web-http"});
  CHECK(run_expose(client, o, "ns1", out, err) == 0);
  CHECK(out.str() == "Service web-http successfully created for vm web\n");
  CHECK(err.str().empty());
  auto svc = client.get(kube::resources::services(), "ns1", "web-http");
  REQUIRE(svc.ok());
  CHECK(json::get_string(*json::find_path(*svc, {"spec", "selector"}), "vmi.kubevirt.io/id") ==
        "web");
  // The uid the fake gave the VM becomes the owner reference's.
  auto vm = client.get(kv::addon::resources::virtual_machines(), "ns1", "web");
  CHECK(json::get_string((*json::find_path(*svc, {"metadata", "ownerReferences"}))[0], "uid") ==
        kube::meta::uid(*vm));

  std::ostringstream out2, err2;
  CHECK(run_expose(client, o, "ns1", out2, err2) == 1);
  CHECK(err2.str().starts_with("service creation failed: "));

  std::ostringstream out3, err3;
  CHECK(run_expose(client, parsed({"vm", "nope", "--port", "1", "--name", "s"}), "ns1", out3,
                   err3) == 1);
  CHECK(err3.str() ==
        "error fetching VirtualMachine: virtualmachines.kubevirt.io \"nope\" not found\n");
  CHECK(out3.str().empty());
}
