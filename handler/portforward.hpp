#pragma once
// Port forwarding for virt-api's `portforward` subresource (docs/handler.md "Port forwarding"):
//
//   GET /v1/namespaces/{ns}/virtualmachineinstances/{name}/portforward/{port}[/{tcp|udp}]
//       + WebSocket upgrade
//
// The handler dials the VMI's launcher pod IP on the port (TCP: connect, bounded by 10 s; UDP: a
// connected socket), and only then accepts the WebSocket, so an unreachable port is an HTTP
// error the user sees (500 "dialing VM: ...", as upstream). Then binary messages carry the TCP
// bytes both ways (one message per read), or one datagram per message for UDP. The guest ending
// its side (TCP EOF, or an ICMP error for UDP) closes the WebSocket (code 1000); the client
// closing the WebSocket closes the socket.
//
// Why the pod IP: the handler is an ordinary pod (no host network, no CAP_SYS_ADMIN, no hostPID),
// so it cannot enter the launcher's network namespace; every address the guest serves is reachable
// at the pod IP anyway, because the pod-network binding forwards the pod's ports to the guest (all
// of them when the interface lists no `ports`, upstream's masquerade semantics; only the listed
// ones otherwise, the same set a Service or another pod reaches). Upstream's virt-api dials the
// VMI's first interface IP directly; relaying through the handler keeps virt-api's one dial target.
//
// Runs on the stream server's io_context thread.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.hpp"
#include "core/serve/server.hpp"

namespace kv::handler {

struct PortForwardTarget {
  std::string ns, name;
  int port = 0;
  std::string protocol = "tcp";  // or "udp"
  bool operator==(const PortForwardTarget&) const = default;
};

// nullopt when `path` is not a portforward path; Errc::invalid naming the port or protocol when
// it is one with a port outside 1-65535 or a protocol other than tcp/udp.
std::optional<core::Result<PortForwardTarget>> parse_port_forward_target(std::string_view path);

// Dials `ip`:target.port and, once connected, upgrades `ex` to the forwarding WebSocket (echoing
// the plain.kubevirt.io subprotocol when offered). A failed dial is answered on `ex` (500, or 400
// for an address that does not parse) and the connection closes. `opened` runs once the session
// starts. Call on the io thread of `ex`.
void open_port_forward(const std::shared_ptr<core::serve::Exchange>& ex,
                       const PortForwardTarget& target, const std::string& ip,
                       std::function<void()> opened);

}  // namespace kv::handler
