// virt-api's path routing (api/server/routes): what each path a user or kube-apiserver sends
// becomes, and the messages for paths and methods it does not serve.
#include <catch2/catch.hpp>

#include <vector>

#include "api/server/routes.hpp"

using namespace kv::apiserver;

namespace {
const std::string kBase = "/apis/subresources.kubevirt.io/v1/namespaces/default/";
}

TEST_CASE("discovery, version and health paths") {
  CHECK(route("GET", "/apis").kind == RouteKind::group_list);
  CHECK(route("GET", "/apis/subresources.kubevirt.io").kind == RouteKind::group);
  CHECK(route("GET", "/apis/subresources.kubevirt.io/v1").kind == RouteKind::resource_list);
  CHECK(route("GET", "/apis/subresources.kubevirt.io/v1/?timeout=32s").kind ==
        RouteKind::resource_list);
  CHECK(route("GET", "/apis/subresources.kubevirt.io/v1/version").kind == RouteKind::version);
  CHECK(route("GET", "/apis/subresources.kubevirt.io/v1/healthz").kind == RouteKind::healthz);
  CHECK(route("GET", "/healthz").kind == RouteKind::healthz);
  CHECK(route("GET", "/metrics").kind == RouteKind::metrics);
  CHECK(route("GET", "/apis").needs_front_proxy());
  CHECK_FALSE(route("GET", "/apis").needs_authorization());
  CHECK_FALSE(route("GET", "/healthz").needs_front_proxy());
}

TEST_CASE("VM actions are PUTs authorized as update on virtualmachines/<action>") {
  for (const char* a : {"start", "stop", "restart"}) {
    auto r = route("PUT", kBase + "virtualmachines/vm1/" + a);
    CHECK(r.kind == RouteKind::vm_action);
    CHECK(r.ns == "default");
    CHECK(r.name == "vm1");
    CHECK(r.action == a);
    CHECK(r.resource == "virtualmachines");
    CHECK(r.verb == "update");
    CHECK(r.needs_authorization());
  }
  auto migrate = route("PUT", kBase + "virtualmachines/vm1/migrate");
  CHECK(migrate.kind == RouteKind::vm_migrate);
  CHECK(migrate.name == "vm1");
  CHECK(migrate.action == "migrate");
  CHECK(migrate.resource == "virtualmachines");
  CHECK(migrate.verb == "update");
  CHECK(migrate.needs_front_proxy());
  CHECK(migrate.needs_authorization());
  CHECK(route("POST", kBase + "virtualmachines/vm1/migrate").kind == RouteKind::method_not_allowed);
  auto get = route("GET", kBase + "virtualmachines/vm1/start");
  CHECK(get.kind == RouteKind::method_not_allowed);
  CHECK(get.error.find("allowed: PUT") != std::string::npos);
}

TEST_CASE("VMI actions and streams") {
  for (const char* a : {"pause", "unpause", "softreboot"}) {
    auto r = route("PUT", kBase + "virtualmachineinstances/vm1/" + a);
    CHECK(r.kind == RouteKind::vmi_action);
    CHECK(r.resource == "virtualmachineinstances");
    CHECK(r.verb == "update");
  }
  auto c = route("GET", kBase + "virtualmachineinstances/vm1/console?x=1");
  CHECK(c.kind == RouteKind::vmi_stream);
  CHECK(c.action == "console");
  CHECK(c.verb == "get");
  CHECK(route("GET", kBase + "virtualmachineinstances/vm1/vnc").kind == RouteKind::vmi_stream);
  CHECK(route("PUT", kBase + "virtualmachineinstances/vm1/console").kind ==
        RouteKind::method_not_allowed);
}

TEST_CASE("webhooks are POSTs") {
  CHECK(route("POST", "/virtualmachines-validate").kind == RouteKind::validate_vm);
  CHECK(route("POST", "/virtualmachineinstances-validate?timeout=10s").kind ==
        RouteKind::validate_vmi);
  CHECK(route("POST", "/virtualmachines-mutate").kind == RouteKind::mutate_vm);
  CHECK(route("POST", "/virtualmachineinstances-mutate").kind == RouteKind::mutate_vmi);
  CHECK(route("GET", "/virtualmachines-validate").kind == RouteKind::method_not_allowed);
  CHECK_FALSE(route("POST", "/virtualmachines-validate").needs_front_proxy());
}

TEST_CASE("unknown paths say what is served") {
  for (const std::string& p : std::vector<std::string>{
           "/", "/apis/other.io/v1", kBase + "virtualmachines/vm1/explode",
           kBase + "pods/vm1/console", kBase + "virtualmachines/vm1",
           "/apis/subresources.kubevirt.io/v2/namespaces/default/virtualmachines/vm1/start"}) {
    INFO(p);
    auto r = route("PUT", p);
    CHECK(r.kind == RouteKind::not_found);
    CHECK(r.error.find("start,stop,restart") != std::string::npos);
  }
}

TEST_CASE("portforward on VMIs and VMs: GET, authorized as get on <resource>/portforward") {
  auto r = route("GET", kBase + "virtualmachineinstances/vm1/portforward/22");
  CHECK(r.kind == RouteKind::port_forward);
  CHECK(r.ns == "default");
  CHECK(r.name == "vm1");
  CHECK(r.resource == "virtualmachineinstances");
  CHECK(r.action == "portforward");  // port and protocol are not part of the RBAC check
  CHECK(r.verb == "get");
  CHECK(r.port == 22);
  CHECK(r.protocol == "tcp");
  CHECK(r.needs_front_proxy());
  CHECK(r.needs_authorization());
  auto vm = route("GET", kBase + "virtualmachines/vm1/portforward/53/udp");
  CHECK(vm.kind == RouteKind::port_forward);
  CHECK(vm.resource == "virtualmachines");
  CHECK(vm.port == 53);
  CHECK(vm.protocol == "udp");

  auto put = route("PUT", kBase + "virtualmachineinstances/vm1/portforward/22");
  CHECK(put.kind == RouteKind::method_not_allowed);
  CHECK(put.error.find("allowed: GET with a WebSocket upgrade") != std::string::npos);
  auto port = route("GET", kBase + "virtualmachineinstances/vm1/portforward/0");
  CHECK(port.kind == RouteKind::not_found);
  CHECK(port.error.find("the port \"0\" is not a number from 1 to 65535") != std::string::npos);
  auto proto = route("GET", kBase + "virtualmachines/vm1/portforward/22/sctp");
  CHECK(proto.kind == RouteKind::not_found);
  CHECK(proto.error.find("the protocol \"sctp\" is not allowed: tcp or udp") != std::string::npos);
  CHECK(route("GET", kBase + "virtualmachineinstances/vm1/portforward").kind ==
        RouteKind::not_found);
  CHECK(route("GET", kBase + "virtualmachineinstances/vm1/portforward/22/tcp/x").kind ==
        RouteKind::not_found);
}
