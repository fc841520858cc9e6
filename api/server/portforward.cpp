#include "api/server/portforward.hpp"

#include <charconv>
#include <vector>

#include "addon/resources.hpp"
#include "api/server/actions.hpp"
#include "core/json.hpp"

namespace kv::apiserver {
namespace json = core::json;
using core::Errc;

namespace {

Route refused(RouteKind kind, std::string message) {
  Route r;
  r.kind = kind;
  r.error = std::move(message);
  return r;
}

}  // namespace

std::optional<Route> port_forward_route(std::string_view method, std::string_view path) {
  // apis/subresources.kubevirt.io/v1/namespaces/{ns}/{resource}/{name}/portforward/{port}[/{proto}]
  const auto p = split_path(path);
  if ((p.size() != 9 && p.size() != 10) || p[0] != "apis" || p[1] != kGroup || p[2] != kVersion ||
      p[3] != "namespaces" || p[7] != "portforward" ||
      (p[5] != "virtualmachineinstances" && p[5] != "virtualmachines"))
    return std::nullopt;
  const std::string where = std::string(path);
  if (method != "GET")
    return refused(RouteKind::method_not_allowed, std::string(method) + " is not allowed on " +
                                                      where +
                                                      " (allowed: GET with a WebSocket upgrade)");
  Route r;
  r.kind = RouteKind::port_forward;
  r.ns = std::string(p[4]);
  r.resource = std::string(p[5]);
  r.name = std::string(p[6]);
  r.action = "portforward";  // the RBAC subresource: port and protocol are not part of it
  r.verb = "get";
  const std::string_view port = p[8];
  int n = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), n);
  if (ec != std::errc() || end != port.data() + port.size() || n < 1 || n > 65535)
    return refused(RouteKind::not_found,
                   "the server could not find the requested resource: " + where + " (the port \"" +
                       std::string(port) + "\" is not a number from 1 to 65535)");
  r.port = n;
  r.protocol = p.size() == 10 ? std::string(p[9]) : "tcp";
  if (r.protocol != "tcp" && r.protocol != "udp")
    return refused(RouteKind::not_found,
                   "the server could not find the requested resource: " + where +
                       " (the protocol \"" + r.protocol + "\" is not allowed: tcp or udp)");
  return r;
}

std::string handler_port_forward_path(const Route& r) {
  return "/v1/namespaces/" + r.ns + "/virtualmachineinstances/" + r.name + "/portforward/" +
         std::to_string(r.port) + "/" + r.protocol;
}

std::variant<HandlerAddress, ApiError> locate_port_forward(core::kube::KubeClient& client,
                                                           const Route& r,
                                                           const std::string& handler_namespace,
                                                           int handler_port) {
  if (r.resource == "virtualmachines") {
    auto vm = client.get(addon::resources::virtual_machines(), r.ns, r.name);
    if (!vm.ok()) {
      if (vm.error().code == Errc::not_found)
        return not_found("virtualmachine", r.name);
      return internal_error("unable to retrieve vm [" + r.name + "]: " + vm.error().message);
    }
    const json::Value* created = json::find_path(*vm, {"status", "created"});
    if (!created || !created->IsBool() || !created->GetBool())
      return conflict("virtualmachine", r.name, "VMI is not started");
  }
  auto vmi = client.get(addon::resources::virtual_machine_instances(), r.ns, r.name);
  if (!vmi.ok()) {
    if (vmi.error().code == Errc::not_found)
      return not_found("virtualmachineinstance", r.name);
    return internal_error("unable to retrieve vmi [" + r.name + "]: " + vmi.error().message);
  }
  if (has_true_condition(*vmi, "Paused"))
    return conflict("virtualmachineinstance", r.name, "VMI is paused");
  Route stream = r;
  stream.kind = RouteKind::vmi_stream;  // Running on a node, else 400 "VMI is not running"
  return locate_handler(client, stream, handler_namespace, handler_port);
}

}  // namespace kv::apiserver
