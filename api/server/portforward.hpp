#pragma once
// The `portforward` subresource of VirtualMachineInstances and VirtualMachines, as upstream:
//
//   GET .../namespaces/{ns}/virtualmachineinstances/{name}/portforward/{port}[/{tcp|udp}]
//   GET .../namespaces/{ns}/virtualmachines/{name}/portforward/{port}[/{tcp|udp}]
//
// A WebSocket (subprotocol plain.kubevirt.io) whose binary messages carry the connection's bytes
// (TCP) or one datagram each (UDP). virt-api authorizes it (resource .../portforward, verb get;
// port and protocol are not part of the RBAC check, as upstream), finds the VMI (a VM's VMI has
// the VM's name) and relays the WebSocket to the VMI's virt-handler unchanged, as it does for the
// console; the handler dials the guest (docs/handler.md "Port forwarding").

#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "api/server/actions.hpp"
#include "api/server/routes.hpp"
#include "core/kube/client.hpp"

namespace kv::apiserver {

// The route of a portforward path, or nullopt when `path` is not one (so other routes are tried).
// A portforward path with a bad port, protocol or method routes to not_found/method_not_allowed
// with a message naming what is allowed.
std::optional<Route> port_forward_route(std::string_view method, std::string_view path);

// The handler path virt-api asks for:
// "/v1/namespaces/{ns}/virtualmachineinstances/{name}/portforward/{port}/{protocol}".
std::string handler_port_forward_path(const Route& r);

// For a portforward route: the VM must exist and have created its VMI (404 virtualmachine,
// 409 "VMI is not started"); the VMI must exist (404), not be paused (409 "VMI is paused", as
// upstream) and be Running on a node (400); then the virt-handler on that node (locate_handler).
std::variant<HandlerAddress, ApiError> locate_port_forward(core::kube::KubeClient& client,
                                                           const Route& r,
                                                           const std::string& handler_namespace,
                                                           int handler_port);

}  // namespace kv::apiserver
