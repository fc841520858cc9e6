// The networks' rules: names, the pod network (at most one) and its CIDRs, interfaces and
// networks matching by name, and each interface's ports.

#include <map>
#include <set>
#include <utility>

#include "api/v1/validation_checks.hpp"

namespace kv::api::v1::check {
namespace {

void pod_network(const PodNetwork& pod, const std::string& p, FieldErrors& errors) {
  if (pod.vm_network_cidr && !is_ipv4_cidr(*pod.vm_network_cidr)) {
    add(errors, at(p, "pod.vmNetworkCIDR"),
        quoted(*pod.vm_network_cidr) + " is not an IPv4 CIDR; allowed: e.g. 10.0.2.0/24");
  }
  if (pod.vm_ipv6_network_cidr && !is_ipv6_cidr(*pod.vm_ipv6_network_cidr)) {
    add(errors, at(p, "pod.vmIPv6NetworkCIDR"),
        quoted(*pod.vm_ipv6_network_cidr) + " is not an IPv6 CIDR; allowed: e.g. fd10:0:2::/120");
  } else if (pod.vm_ipv6_network_cidr) {
    add(errors, at(p, "pod.vmIPv6NetworkCIDR"),
        "not supported yet: the guest's masquerade network is IPv4 only; remove it, or use the "
        "passt binding (the guest gets the pod's own IPv6 address)");
  }
}

// Every named interface has a network of its name, every named network an interface.
void interfaces_match_networks(const VirtualMachineInstanceSpec& s, const std::string& path,
                               const std::map<std::string, size_t>& network_index,
                               FieldErrors& errors) {
  const auto& ifaces = s.domain.devices.interfaces;
  std::set<std::string> iface_names;
  for (size_t i = 0; i < ifaces.size(); ++i) {
    iface_names.insert(ifaces[i].name);
    if (!ifaces[i].name.empty() && !network_index.contains(ifaces[i].name)) {
      add(errors, at(index(at(path, "domain.devices.interfaces"), i), "name"),
          quoted(ifaces[i].name) + " has no matching network");
    }
  }
  for (size_t i = 0; i < s.networks.size(); ++i) {
    if (!s.networks[i].name.empty() && !iface_names.contains(s.networks[i].name)) {
      add(errors, at(index(at(path, "networks"), i), "name"),
          quoted(s.networks[i].name) + " has no matching interface");
    }
  }
}

// interfaces[].ports: each port+protocol once (passt forwards a port to one place). The range
// is checked with the other interface fields (validation_devices.cpp).
void interface_ports(const Interface& iface, const std::string& p, FieldErrors& errors) {
  std::map<std::pair<int32_t, Protocol>, size_t> seen;
  for (size_t j = 0; j < iface.ports.size(); ++j) {
    const auto& port = iface.ports[j];
    Protocol proto = port.protocol.value_or(Protocol::tcp);
    auto [it, fresh] = seen.emplace(std::pair{port.port, proto}, j);
    if (!fresh) {
      add(errors, at(index(at(p, "ports"), j), "port"),
          std::to_string(port.port) + "/" + (proto == Protocol::udp ? "UDP" : "TCP") +
              " is already listed at ports[" + std::to_string(it->second) +
              "]; list each port and protocol once");
    }
  }
}

}  // namespace

void networks(const VirtualMachineInstanceSpec& s, const std::string& path, FieldErrors& errors) {
  std::map<std::string, size_t> network_index;
  size_t pods = 0;
  for (size_t i = 0; i < s.networks.size(); ++i) {
    const auto& n = s.networks[i];
    const std::string p = index(at(path, "networks"), i);
    unique_name(n.name, i, "networks", network_index, p, errors);
    if (!n.pod) {
      add(errors, p, "no network source; allowed: pod");
      continue;
    }
    if (++pods > 1) {
      add(errors, at(p, "pod"), "a second pod network; at most one is allowed");
    }
    pod_network(*n.pod, p, errors);
  }
  interfaces_match_networks(s, path, network_index, errors);
  for (size_t i = 0; i < s.domain.devices.interfaces.size(); ++i) {
    interface_ports(s.domain.devices.interfaces[i], index(at(path, "domain.devices.interfaces"), i),
                    errors);
  }
}

}  // namespace kv::api::v1::check
