// `virtctl expose`: a Service selecting a VM's launcher pod (see expose.hpp).
#include "tools/virtctl/expose.hpp"

#include <algorithm>
#include <cctype>
#include <ostream>

#include "addon/labels.hpp"
#include "addon/resources.hpp"
#include "core/names.hpp"

namespace kv::virtctl {

using core::Errc;
using core::Error;
using core::Result;
using core::Status;
namespace json = core::json;
namespace kube = core::kube;

namespace {

std::string lower(std::string s) {
  for (char& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// One of `allowed` matched case-insensitively, returned as spelled there; nullopt otherwise.
std::optional<std::string> one_of(const std::string& value,
                                  const std::vector<std::string>& allowed) {
  for (const auto& a : allowed)
    if (lower(a) == lower(value))
      return a;
  return std::nullopt;
}

kube::Resource replica_sets() {
  return {"kubevirt.io", "v1", "virtualmachineinstancereplicasets",
          "VirtualMachineInstanceReplicaSet", true};
}

struct Kind {
  std::string short_name;  // vm, vmi, vmirs
  kube::Resource resource;
};

// Upstream's aliases: short and long names, singular and plural.
std::optional<Kind> kind_of(const std::string& word) {
  const std::string w = lower(word);
  if (w == "vmi" || w == "vmis" || w == "virtualmachineinstance" || w == "virtualmachineinstances")
    return Kind{"vmi", addon::resources::virtual_machine_instances()};
  if (w == "vm" || w == "vms" || w == "virtualmachine" || w == "virtualmachines")
    return Kind{"vm", addon::resources::virtual_machines()};
  if (w == "vmirs" || w == "vmirss" || w == "virtualmachineinstancereplicaset" ||
      w == "virtualmachineinstancereplicasets")
    return Kind{"vmirs", replica_sets()};
  return std::nullopt;
}

// A Service port name or a container port name (IANA_SVC_NAME): at most 15 characters, lower-case
// letters, digits and '-', at least one letter, no '-' at either end nor two in a row.
bool valid_port_name(const std::string& s) {
  if (s.empty() || s.size() > 15 || s.front() == '-' || s.back() == '-' ||
      s.find("--") != std::string::npos)
    return false;
  bool letter = false;
  for (char c : s) {
    if (std::islower(static_cast<unsigned char>(c)))
      letter = true;
    else if (!std::isdigit(static_cast<unsigned char>(c)) && c != '-')
      return false;
  }
  return letter;
}

bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c));
  });
}

// The VMI spec inside the exposed object: spec (vmi) or spec.template.spec (vm, vmirs).
const json::Value* vmi_spec(const std::string& kind, const json::Value& obj) {
  if (kind == "vmi")
    return json::find(obj, "spec");
  return json::find_path(obj, {"spec", "template", "spec"});
}

// Upstream's podNetworkPorts: the ports listed on the interface bound to the pod network,
// named port-1, port-2, ... in order.
json::Value pod_network_ports(const json::Value* spec, json::Allocator& a) {
  json::Value out(rapidjson::kArrayType);
  if (spec == nullptr)
    return out;
  std::string pod_network;
  if (const auto* nets = json::find(*spec, "networks"); nets && nets->IsArray())
    for (const auto& n : nets->GetArray())
      if (json::find(n, "pod") != nullptr) {
        pod_network = std::string(json::get_string(n, "name").value_or(""));
        break;
      }
  if (pod_network.empty())
    return out;
  const auto* ifaces = json::find_path(*spec, {"domain", "devices", "interfaces"});
  if (ifaces == nullptr || !ifaces->IsArray())
    return out;
  for (const auto& iface : ifaces->GetArray()) {
    if (json::get_string(iface, "name").value_or("") != pod_network)
      continue;
    const auto* ports = json::find(iface, "ports");
    if (ports == nullptr || !ports->IsArray())
      break;
    int i = 0;
    for (const auto& p : ports->GetArray()) {
      json::Value sp(rapidjson::kObjectType);
      json::set(sp, "name", "port-" + std::to_string(++i), a);
      if (auto proto = json::get_string(p, "protocol"); proto && !proto->empty())
        json::set(sp, "protocol", *proto, a);
      json::set(sp, "port", json::Value(json::get_int(p, "port").value_or(0)), a);
      out.PushBack(sp, a);
    }
    break;
  }
  return out;
}

}  // namespace

void add_expose_command(core::Flags& virtctl, ExposeOptions* o) {
  auto& e = virtctl.command(
      "expose",
      "Expose a virtual machine instance, virtual machine, or virtual machine instance replica "
      "set as a new service.",
      "Looks up a virtual machine instance, virtual machine or virtual machine instance replica "
      "set by name and use its selector as the selector for a new service on the specified port. "
      "A virtual machine instance replica set is exposed only when its selector has matchLabels "
      "alone. Without --port, every port listed on the pod network interface is re-used.\n\n"
      "Possible types are (case insensitive, both single and plural forms): "
      "virtualmachineinstance (vmi), virtualmachine (vm), virtualmachineinstancereplicaset "
      "(vmirs).");
  e.argument({.name = "vm|vmi|vmirs", .help = "the kind of the object to expose"});
  e.argument({.name = "NAME", .help = "its name"});
  e.text({.name = "--name",
          .value = "SERVICE",
          .help = "Name of the service created for the exposure of the VM (required)."},
         &o->service_name);
  e.integer({.name = "--port",
             .value = "PORT",
             .help = "The port that the service should serve on.",
             .shown_default = "the ports listed on the pod network interface",
             .allowed = "a TCP or UDP port"},
            0, 65535, [o](long long n) {
              o->port = n;
              o->port_given = n != 0;
            });
  e.value({.name = "--target-port",
           .value = "PORT|NAME",
           .help = "Name or number for the port on the VM that the service should direct "
                   "traffic to.",
           .shown_default = "--port"},
          [o](const std::string& v) -> Status {
            if (all_digits(v)) {
              const long long n = v.size() > 5 ? 0 : std::stoll(v);
              if (n < 1 || n > 65535)
                return Error(Errc::invalid, "--target-port: \"" + v +
                                                "\" is not allowed: a port number (1-65535) "
                                                "or a port name");
            } else if (!valid_port_name(v)) {
              return Error(Errc::invalid,
                           "--target-port: \"" + v +
                               "\" is not allowed: a port number (1-65535) or a port name "
                               "(at most 15 lower-case letters, digits and '-', with a letter)");
            }
            o->target_port = v;
            o->target_port_given = true;
            return {};
          });
  e.value({.name = "--port-name", .value = "NAME", .help = "Name of the port."},
          [o](const std::string& v) -> Status {
            if (!valid_port_name(v))
              return Error(Errc::invalid,
                           "--port-name: \"" + v +
                               "\" is not allowed: at most 15 lower-case letters, digits and "
                               "'-', with a letter");
            o->port_name = v;
            o->port_name_given = true;
            return {};
          });
  e.value({.name = "--protocol",
           .value = "TCP|UDP",
           .help = "The network protocol for the service to be created.",
           .shown_default = o->protocol},
          [o](const std::string& v) -> Status {
            auto p = one_of(v, {"TCP", "UDP"});
            if (!p)
              return Error(Errc::invalid,
                           "unknown protocol: " + v + " (--protocol allows TCP or UDP)");
            o->protocol = *p;
            return {};
          });
  e.value({.name = "--type",
           .value = "TYPE",
           .help = "Type for this service: ClusterIP, NodePort, or LoadBalancer.",
           .shown_default = o->type},
          [o](const std::string& v) -> Status {
            if (lower(v) == "externalname")
              return Error(Errc::invalid, "type: " + v + " not supported");
            auto t = one_of(v, {"ClusterIP", "NodePort", "LoadBalancer"});
            if (!t)
              return Error(Errc::invalid, "unknown service type: " + v +
                                              " (--type allows ClusterIP, NodePort or "
                                              "LoadBalancer)");
            o->type = *t;
            return {};
          });
  e.text({.name = "--cluster-ip",
          .value = "IP",
          .help = "ClusterIP to be assigned to the service. Leave empty to auto-allocate, or set "
                  "to 'None' to create a headless service."},
         &o->cluster_ip);
  e.text({.name = "--external-ip",
          .value = "IP",
          .help = "Additional external IP address (not managed by the cluster) to accept for the "
                  "service."},
         &o->external_ip);
  e.value({.name = "--ip-family",
           .value = "FAMILY",
           .help = "IP family over which the service will be exposed: IPv4, IPv6, IPv4,IPv6 or "
                   "IPv6,IPv4."},
          [o](const std::string& v) -> Status {
            auto f = one_of(v, {"IPv4", "IPv6", "IPv4,IPv6", "IPv6,IPv4"});
            if (!f)
              return Error(Errc::invalid, "unknown IPFamily/s: " + v +
                                              " (--ip-family allows IPv4, IPv6, IPv4,IPv6 or "
                                              "IPv6,IPv4)");
            o->ip_families.clear();
            for (size_t at = 0; at < f->size();) {
              size_t comma = f->find(',', at);
              o->ip_families.push_back(
                  f->substr(at, comma == std::string::npos ? std::string::npos : comma - at));
              at = comma == std::string::npos ? f->size() : comma + 1;
            }
            return {};
          });
  e.value({.name = "--ip-family-policy",
           .value = "POLICY",
           .help = "IP family policy: SingleStack, PreferDualStack or RequireDualStack.",
           .shown_default = "PreferDualStack with two --ip-family, else the cluster's"},
          [o](const std::string& v) -> Status {
            auto p = one_of(v, {"SingleStack", "PreferDualStack", "RequireDualStack"});
            if (!p)
              return Error(Errc::invalid, "unknown IPFamilyPolicy/s: " + v +
                                              " (--ip-family-policy allows SingleStack, "
                                              "PreferDualStack or RequireDualStack)");
            o->ip_family_policy = *p;
            return {};
          });
}

Status finish_expose(ExposeOptions* o, const std::vector<std::string>& args) {
  auto kind = kind_of(args.at(0));
  if (!kind)
    return Error(Errc::invalid, "unsupported resource type: " + args[0] +
                                    " (use vm, vmi or vmirs, or their long names)");
  o->kind = kind->short_name;
  o->kind_as_given = lower(args[0]);
  if (!core::is_dns_subdomain(args.at(1)))
    return Error(Errc::invalid, "NAME: \"" + args[1] +
                                    "\" is not a valid name: lowercase letters, digits, '-' "
                                    "and '.'");
  o->name = args[1];
  if (o->service_name.empty())
    return Error(Errc::invalid, "required flag(s) \"name\" not set");
  // Service names are DNS-1035 labels: an RFC 1123 label that starts with a letter.
  if (!core::is_dns_label(o->service_name) ||
      !std::isalpha(static_cast<unsigned char>(o->service_name.front())))
    return Error(Errc::invalid, "--name: \"" + o->service_name +
                                    "\" is not a valid Service name: at most 63 lower-case "
                                    "letters, digits and '-', starting with a letter and "
                                    "ending with a letter or digit");
  if (!o->port_given && o->target_port_given)
    return Error(Errc::invalid,
                 "--target-port needs --port: without it the ports are taken from the pod "
                 "network interface of the " +
                     o->kind + ", and each keeps its own number");
  if (!o->port_given && o->port_name_given)
    return Error(Errc::invalid,
                 "--port-name needs --port: without it the ports are taken from the pod network "
                 "interface and named port-1, port-2, ...");
  return {};
}

Result<ExposeTarget> expose_target(const ExposeOptions& o, const json::Value& obj) {
  ExposeTarget t;
  auto& a = t.ports.GetAllocator();
  t.api_version = std::string(json::get_string(obj, "apiVersion").value_or("kubevirt.io/v1"));
  t.kind = std::string(json::get_string(obj, "kind").value_or(kind_of(o.kind)->resource.kind));
  t.name = std::string(kube::meta::name(obj));
  t.uid = std::string(kube::meta::uid(obj));
  if (o.kind == "vmirs") {
    const auto* sel = json::find_path(obj, {"spec", "selector"});
    const auto* labels = sel ? json::find(*sel, "matchLabels") : nullptr;
    if (labels == nullptr || !labels->IsObject() || labels->MemberCount() == 0)
      return Error(Errc::invalid,
                   "cannot expose VirtualMachineInstanceReplicaSet without any selector labels");
    if (const auto* ex = json::find(*sel, "matchExpressions"); ex && ex->IsArray() && !ex->Empty())
      return Error(Errc::invalid,
                   "cannot expose VirtualMachineInstanceReplicaSet with match expressions");
    for (const auto& m : labels->GetObject())
      if (m.value.IsString())
        t.selector[m.name.GetString()] = m.value.GetString();
  } else {
    // A VM's VMI carries the VM's name.
    t.selector[addon::kVmiIdLabel] = addon::vmi_id(t.name);
  }
  t.ports.SetArray();
  t.ports.CopyFrom(pod_network_ports(vmi_spec(o.kind, obj), a), a);
  return t;
}

Result<json::Document> build_service(const ExposeOptions& o, const ExposeTarget& t,
                                     const std::string& ns) {
  json::Document svc(rapidjson::kObjectType);
  auto& a = svc.GetAllocator();
  json::set(svc, "apiVersion", "v1", a);
  json::set(svc, "kind", "Service", a);

  json::Value meta(rapidjson::kObjectType);
  json::set(meta, "name", o.service_name, a);
  json::set(meta, "namespace", ns, a);
  json::Value owner(rapidjson::kObjectType);
  json::set(owner, "apiVersion", t.api_version, a);
  json::set(owner, "kind", t.kind, a);
  json::set(owner, "name", t.name, a);
  json::set(owner, "uid", t.uid, a);
  json::set(owner, "controller", json::Value(true), a);
  json::set(owner, "blockOwnerDeletion", json::Value(false), a);
  json::Value owners(rapidjson::kArrayType);
  owners.PushBack(owner, a);
  json::set(meta, "ownerReferences", std::move(owners), a);
  json::set(svc, "metadata", std::move(meta), a);

  json::Value spec(rapidjson::kObjectType);
  json::Value ports(rapidjson::kArrayType);
  if (o.port_given) {
    json::Value p(rapidjson::kObjectType);
    if (!o.port_name.empty())
      json::set(p, "name", o.port_name, a);
    json::set(p, "protocol", o.protocol, a);
    json::set(p, "port", json::Value(o.port), a);
    // Not given: the API server makes targetPort the port, as upstream relies on.
    if (!o.target_port.empty()) {
      if (all_digits(o.target_port))
        json::set(p, "targetPort", json::Value(static_cast<int64_t>(std::stoll(o.target_port))), a);
      else
        json::set(p, "targetPort", o.target_port, a);
    }
    ports.PushBack(p, a);
  } else {
    ports.CopyFrom(t.ports, a);
  }
  if (ports.Empty())
    return Error(Errc::invalid, "couldn't find port via --port flag or introspection");
  json::set(spec, "ports", std::move(ports), a);
  json::Value selector(rapidjson::kObjectType);
  for (const auto& [k, v] : t.selector)
    json::set(selector, k, v, a);
  json::set(spec, "selector", std::move(selector), a);
  json::set(spec, "type", o.type, a);
  if (!o.cluster_ip.empty())
    json::set(spec, "clusterIP", o.cluster_ip, a);
  if (!o.external_ip.empty()) {
    json::Value ips(rapidjson::kArrayType);
    ips.PushBack(json::string_value(o.external_ip, a), a);
    json::set(spec, "externalIPs", std::move(ips), a);
  }
  if (!o.ip_families.empty()) {
    json::Value fams(rapidjson::kArrayType);
    for (const auto& f : o.ip_families)
      fams.PushBack(json::string_value(f, a), a);
    json::set(spec, "ipFamilies", std::move(fams), a);
  }
  std::string policy = o.ip_family_policy;
  if (policy.empty() && o.ip_families.size() > 1)
    policy = "PreferDualStack";  // upstream's default for two families
  if (!policy.empty())
    json::set(spec, "ipFamilyPolicy", policy, a);
  json::set(svc, "spec", std::move(spec), a);
  return svc;
}

int run_expose(kube::KubeClient& client, const ExposeOptions& o, const std::string& ns,
               std::ostream& out, std::ostream& err) {
  auto kind = kind_of(o.kind);
  auto obj = client.get(kind->resource, ns, o.name);
  if (!obj.ok()) {
    err << "error fetching " << kind->resource.kind << ": " << obj.error().message << "\n";
    return 1;
  }
  auto target = expose_target(o, *obj);
  if (!target.ok()) {
    err << target.error().message << "\n";
    return 1;
  }
  auto svc = build_service(o, *target, ns);
  if (!svc.ok()) {
    err << svc.error().message << "\n";
    return 1;
  }
  auto created = client.create(core::kube::resources::services(), ns, *svc);
  if (!created.ok()) {
    err << "service creation failed: " << created.error().message << "\n";
    return 1;
  }
  out << "Service " << o.service_name << " successfully created for " << o.kind_as_given << " "
      << o.name << "\n";
  return 0;
}

}  // namespace kv::virtctl
