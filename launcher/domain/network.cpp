// Network: the pod NIC (plan_network) and the QEMU arguments that attach it to passt.

#include <cstdio>
#include <map>

#include "launcher/domain/domain.hpp"

namespace kv::launcher {
namespace v1 = api::v1;
using core::Result;
using domain::invalid;
using domain::unsupported;

namespace {

uint32_t fnv1a(std::string_view s) {
  uint32_t h = 2166136261u;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 16777619u;
  }
  return h;
}

struct Ipv4 {
  uint32_t addr = 0;
  int prefix = 0;
  std::string str(uint32_t a) const {
    char b[16];
    std::snprintf(b, sizeof b, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
    return b;
  }
};

Result<Ipv4> parse_cidr(const std::string& s, const std::string& field) {
  unsigned a, b, c, d;
  int p;
  char tail;
  if (std::sscanf(s.c_str(), "%u.%u.%u.%u/%d%c", &a, &b, &c, &d, &p, &tail) != 5 || a > 255 ||
      b > 255 || c > 255 || d > 255)
    return invalid(field, "\"" + s + "\" is not an IPv4 CIDR like 10.0.2.0/24");
  if (p < 8 || p > 29)
    return invalid(field, "prefix /" + std::to_string(p) + " must be between /8 and /29");
  uint32_t addr = (a << 24) | (b << 16) | (c << 8) | d;
  uint32_t mask = p == 0 ? 0 : ~uint32_t{0} << (32 - p);
  return Ipv4{addr & mask, p};
}

Result<std::string> nic_model(const std::optional<std::string>& model, const std::string& field) {
  static const std::map<std::string, std::string> models{
      {"virtio", "virtio-net-pci"}, {"e1000", "e1000"},       {"e1000e", "e1000e"},
      {"rtl8139", "rtl8139"},       {"ne2k_pci", "ne2k_pci"}, {"pcnet", "pcnet"},
  };
  auto it = models.find(model.value_or("virtio"));
  if (it == models.end())
    return invalid(
        field, "\"" + *model + "\" is not one of virtio, e1000, e1000e, rtl8139, ne2k_pci, pcnet");
  return it->second;
}

// interfaces[].macAddress, or one derived from the VMI's name: stable across restarts of the same
// VMI, so the guest's DHCP lease and udev names hold.
Result<std::string> mac_address(const v1::VirtualMachineInstance& vmi, const v1::Interface& iface,
                                const std::string& field) {
  if (iface.mac_address) {
    unsigned m[6];
    char tail;
    if (std::sscanf(iface.mac_address->c_str(), "%2x:%2x:%2x:%2x:%2x:%2x%c", &m[0], &m[1], &m[2],
                    &m[3], &m[4], &m[5], &tail) != 6)
      return invalid(field + ".macAddress",
                     "\"" + *iface.mac_address + "\" is not a MAC address like 02:00:00:00:00:01");
    return *iface.mac_address;
  }
  uint32_t h = fnv1a(vmi.metadata.namespace_.value_or("") + "/" + vmi.metadata.name.value_or(""));
  char b[18];
  std::snprintf(b, sizeof b, "52:54:00:%02x:%02x:%02x", (h >> 16) & 255, (h >> 8) & 255, h & 255);
  return std::string(b);
}

// interfaces[].pciAddress as QEMU's addr= on the root bus ("0x12.0x3"), or 0x10. libvirt does
// not place this device, so it must stay in the slots libvirt leaves free (0x10-0x1e).
Result<std::string> nic_pci_address(const v1::Interface& iface, const std::string& field) {
  if (!iface.pci_address)
    return std::string("0x10");
  auto a = domain::parse_pci_address(*iface.pci_address);
  if (!a || a->domain != 0 || a->bus != 0 || a->slot < 0x10 || a->slot > 0x1e)
    return unsupported(field + ".pciAddress",
                       "\"" + *iface.pci_address +
                           "\" is not supported; allowed 0000:00:10.0 to 0000:00:1e.7 (the root "
                           "bus, in slots libvirt leaves free)");
  char b[16];
  std::snprintf(b, sizeof b, "0x%02x.0x%x", a->slot, a->function);
  return std::string(b);
}

}  // namespace

Result<std::optional<NetworkPlan>> plan_network(const v1::VirtualMachineInstance& vmi) {
  const auto& devs = vmi.spec.domain.devices;
  std::vector<v1::Interface> ifaces = devs.interfaces;
  std::vector<v1::Network> nets = vmi.spec.networks;
  // Upstream's default: with neither interfaces nor networks, a masquerade NIC on the pod network.
  if (ifaces.empty() && nets.empty() && devs.autoattach_pod_interface.value_or(true)) {
    v1::Interface i;
    i.name = "default";
    i.masquerade = v1::InterfaceMasquerade{};
    ifaces.push_back(i);
    v1::Network n;
    n.name = "default";
    n.pod = v1::PodNetwork{};
    nets.push_back(n);
  }
  if (ifaces.empty())
    return std::optional<NetworkPlan>{};
  if (ifaces.size() > 1)
    return unsupported("spec.domain.devices.interfaces",
                       "only one interface (on the pod network) is supported, got " +
                           std::to_string(ifaces.size()));
  const auto& iface = ifaces[0];
  std::string f = "spec.domain.devices.interfaces[0]";
  const v1::Network* net = nullptr;
  for (const auto& n : nets)
    if (n.name == iface.name)
      net = &n;
  if (!net)
    return invalid(f + ".name", "\"" + iface.name + "\" has no matching network in spec.networks");
  if (!net->pod)
    return unsupported("spec.networks", "network \"" + net->name +
                                            "\" is not a pod network; only pod: {} is supported");
  if (iface.bridge)
    return unsupported(f + ".bridge",
                       "bridge binding needs a tap device prepared by virt-handler, which is not "
                       "available yet; use masquerade: {} or passt: {}");
  auto pci_addr = nic_pci_address(iface, f);
  if (!pci_addr.ok())
    return pci_addr.error();

  NetworkPlan p;
  p.interface_name = iface.name;
  p.network_name = net->name;
  p.binding = iface.passt ? "passt" : "masquerade";
  auto model = nic_model(iface.model, f + ".model");
  if (!model.ok())
    return model.error();
  p.model = *model;
  if (p.binding == "masquerade") {
    // Upstream's layout: the network address + 1 is the gateway, + 2 the guest.
    std::string cidr_text = net->pod->vm_network_cidr.value_or("10.0.2.0/24");
    auto cidr = parse_cidr(cidr_text, "spec.networks[].pod.vmNetworkCIDR");
    if (!cidr.ok())
      return cidr.error();
    p.cidr = cidr->str(cidr->addr) + "/" + std::to_string(cidr->prefix);
    p.gateway = cidr->str(cidr->addr + 1);
    p.guest_ip = cidr->str(cidr->addr + 2);
  }
  auto mac = mac_address(vmi, iface, f);
  if (!mac.ok())
    return mac.error();
  p.mac = *mac;
  p.pci_addr = *pci_addr;
  for (size_t i = 0; i < iface.ports.size(); ++i) {
    const auto& port = iface.ports[i];
    if (port.port < 1 || port.port > 65535)
      return invalid(f + ".ports[" + std::to_string(i) + "].port",
                     std::to_string(port.port) + " is not between 1 and 65535");
    p.ports.push_back(
        {port.protocol.value_or(v1::Protocol::tcp) == v1::Protocol::udp ? "udp" : "tcp",
         port.port});
  }
  return std::optional<NetworkPlan>{std::move(p)};
}

namespace domain {

std::string passt_socket_path(const PodEnvironment& env) {
  return env.passt_socket.empty() ? env.ephemeral_dir + "/passt.sock" : env.passt_socket;
}

std::vector<std::string> qemu_network_args(const NetworkPlan& n, const PodEnvironment& env,
                                           const std::string& machine) {
  // QEMU 7.2's stream netdev is passt's native transport (qrap is not needed).
  std::string netdev =
      "stream,id=kvnet0,server=off,addr.type=unix,addr.path=" + passt_socket_path(env);
  // libvirt does not know this device, so we pick its PCI slot: 0x10 on the root bus is far
  // above the slots libvirt hands out (root ports from 0x1, 8 functions per slot).
  std::string root_bus = machine.rfind("pc-i440fx", 0) == 0 || machine == "pc" ? "pci.0" : "pcie.0";
  std::string device = n.model + ",netdev=kvnet0,mac=" + n.mac + ",id=ua-" + n.interface_name +
                       ",bus=" + root_bus + ",addr=" + n.pci_addr;
  return {"-netdev", netdev, "-device", device};
}

void write_qemu_commandline(std::ostream& x, const std::vector<std::string>& args) {
  if (args.empty())
    return;
  x << "  <qemu:commandline>\n";
  for (const auto& a : args)
    x << "    <qemu:arg value='" << xml_escape(a) << "'/>\n";
  x << "  </qemu:commandline>\n";
}

}  // namespace domain
}  // namespace kv::launcher
