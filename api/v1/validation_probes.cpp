// The probes' rules (spec.livenessProbe, spec.readinessProbe): one handler, and only those that
// see the guest through the pod IP (httpGet, tcpSocket: exec and guestAgentPing need a guest
// agent); ports that resolve; numbers the kubelet accepts. Upstream's webhook wording where it
// has one.

#include <arpa/inet.h>

#include "api/v1/probes.hpp"
#include "api/v1/validation_checks.hpp"

namespace kv::api::v1 {

const Interface* probed_interface(const VirtualMachineInstanceSpec& s) {
  for (const auto& n : s.networks) {
    if (!n.pod) {
      continue;
    }
    for (const auto& i : s.domain.devices.interfaces) {
      if (i.name == n.name) {
        return &i;
      }
    }
  }
  return nullptr;
}

std::optional<int32_t> resolve_probe_port(const IntOrString& port, const Interface& iface) {
  if (port.number) {
    return port.number;
  }
  for (const auto& p : iface.ports) {
    if (p.name == port.name && p.protocol.value_or(Protocol::tcp) == Protocol::tcp) {
      return p.port;
    }
  }
  return std::nullopt;
}

namespace check {
namespace {

constexpr std::string_view kNoGuestAgent =
    "not supported yet: it needs the QEMU guest agent, which this installation does not run; use "
    "tcpSocket or httpGet";

// A probe's port: a number in 1-65535, or the name of a TCP port of the pod interface (the
// launcher pod has no container ports to look a name up in, so the pod gets the number).
void port(const IntOrString& port, const Interface* iface, const std::string& p,
          FieldErrors& errors) {
  if (port.number) {
    if (*port.number < 1 || *port.number > 65535) {
      add(errors, p, std::to_string(*port.number) + " is not a port; allowed: 1 to 65535");
    }
    return;
  }
  if (!iface || !resolve_probe_port(port, *iface)) {
    add(errors, p,
        quoted(port.name) +
            " names no TCP port of the pod network's interface; allowed: a number, or the name "
            "of an entry of domain.devices.interfaces[].ports");
  }
}

void non_negative(const std::optional<int32_t>& v, const std::string& p, FieldErrors& errors) {
  if (v && *v < 0) {
    add(errors, p, std::to_string(*v) + " is negative; allowed: 0 or more");
  }
}

void probe(const Probe& pr, bool liveness, const Interface* iface, const std::string& p,
           FieldErrors& errors) {
  int handlers = 0;
  if (pr.exec) {
    ++handlers;
    add(errors, at(p, "exec"), std::string(kNoGuestAgent));
  }
  if (pr.guest_agent_ping) {
    ++handlers;
    add(errors, at(p, "guestAgentPing"), std::string(kNoGuestAgent));
  }
  if (pr.http_get) {
    ++handlers;
    const std::string h = at(p, "httpGet");
    port(pr.http_get->port, iface, at(h, "port"), errors);
    if (pr.http_get->scheme && *pr.http_get->scheme != "HTTP" && *pr.http_get->scheme != "HTTPS") {
      add(errors, at(h, "scheme"),
          quoted(*pr.http_get->scheme) + " is not supported; allowed: HTTP, HTTPS");
    }
    for (size_t i = 0; i < pr.http_get->http_headers.size(); ++i) {
      if (pr.http_get->http_headers[i].name.empty()) {
        add(errors, at(index(at(h, "httpHeaders"), i), "name"), "must not be empty");
      }
    }
  }
  if (pr.tcp_socket) {
    ++handlers;
    const std::string t = at(p, "tcpSocket");
    port(pr.tcp_socket->port, iface, at(t, "port"), errors);
    // virt-probe connects to it from inside the pod (controller/pod_render.cpp): no name lookup.
    in6_addr any;
    if (pr.tcp_socket->host && ::inet_pton(AF_INET, pr.tcp_socket->host->c_str(), &any) != 1 &&
        ::inet_pton(AF_INET6, pr.tcp_socket->host->c_str(), &any) != 1) {
      add(errors, at(t, "host"),
          quoted(*pr.tcp_socket->host) +
              " is not an IP address; allowed: an IPv4 or IPv6 address, or unset for the pod IP");
    }
  }
  if (handlers > 1) {
    add(errors, p, p + " must have exactly one probe type set");
  } else if (handlers == 0) {
    add(errors, p,
        "either " + at(p, "tcpSocket") + ", " + at(p, "exec") + " or " + at(p, "httpGet") +
            " must be set if a " + p + " is specified");
  }
  if ((pr.http_get || pr.tcp_socket) && !iface) {
    add(errors, p,
        "the probe reaches the guest at the pod IP, through an interface on the pod network, and "
        "the VMI has none; add one (or leave autoattachPodInterface on)");
  }
  non_negative(pr.initial_delay_seconds, at(p, "initialDelaySeconds"), errors);
  non_negative(pr.timeout_seconds, at(p, "timeoutSeconds"), errors);
  non_negative(pr.period_seconds, at(p, "periodSeconds"), errors);
  non_negative(pr.success_threshold, at(p, "successThreshold"), errors);
  non_negative(pr.failure_threshold, at(p, "failureThreshold"), errors);
  // The kubelet's rule (the pod would be refused): a liveness probe succeeds after one success.
  if (liveness && pr.success_threshold && *pr.success_threshold > 1) {
    add(errors, at(p, "successThreshold"),
        std::to_string(*pr.success_threshold) + " is not allowed for a liveness probe; allowed: 1");
  }
}

}  // namespace

void probes(const VirtualMachineInstanceSpec& s, const std::string& path, FieldErrors& errors) {
  const Interface* iface = probed_interface(s);
  if (s.liveness_probe) {
    probe(*s.liveness_probe, true, iface, at(path, "livenessProbe"), errors);
  }
  if (s.readiness_probe) {
    probe(*s.readiness_probe, false, iface, at(path, "readinessProbe"), errors);
  }
}

}  // namespace check
}  // namespace kv::api::v1
