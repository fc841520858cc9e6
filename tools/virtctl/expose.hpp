#pragma once
// `virtctl expose vm|vmi|vmirs NAME --name SVC [--port P] ...`: creates a Service that selects the
// launcher pod(s) of a VirtualMachine, a VirtualMachineInstance or a replica set's VMIs, as
// upstream's pkg/virtctl/expose:
//   - selector: vm and vmi: `vmi.kubevirt.io/id: <vmi_id(NAME)>` (a label on every launcher pod);
//     vmirs: its spec.selector.matchLabels (refused with matchExpressions or without labels);
//   - ports: --port [--target-port] [--port-name] [--protocol], else every port listed on the
//     interface of the pod network (named port-1, port-2, ...), else an error;
//   - the Service is owned by the exposed object (controller, blockOwnerDeletion false), so
//     deleting the VM deletes it;
//   - flags, defaults and error wording as upstream (--type ClusterIP, --protocol TCP, --name
//     required); upstream's --ip-family and --ip-family-policy are passed through.
// Unlike upstream, --target-port and --port-name without --port are refused (upstream ignores
// them), and the Service name is checked before anything is sent.

#include <cstdint>
#include <iosfwd>
#include <map>
#include <string>
#include <vector>

#include "core/flags.hpp"
#include "core/json.hpp"
#include "core/kube/client.hpp"
#include "core/result.hpp"

namespace kv::virtctl {

struct ExposeOptions {
  std::string kind;           // vm, vmi or vmirs (normalised from upstream's aliases)
  std::string name;           // the object to expose
  std::string kind_as_given;  // lower-cased, for the success line ("vm", "virtualmachine")
  std::string service_name;   // --name
  int64_t port = 0;           // --port; 0: the ports listed on the pod network interface
  std::string target_port;    // --target-port: a number or a port name; empty: the port
  std::string port_name;      // --port-name
  std::string protocol = "TCP";
  std::string type = "ClusterIP";
  std::string cluster_ip;                // --cluster-ip ("None": headless)
  std::string external_ip;               // --external-ip
  std::vector<std::string> ip_families;  // --ip-family
  std::string ip_family_policy;          // --ip-family-policy
  bool port_given = false;               // for the checks of --target-port and --port-name
  bool target_port_given = false;
  bool port_name_given = false;
};

// Registers `expose` with its arguments and flags on virtctl's Flags, bound to *opts. --type,
// --protocol, --ip-family and --ip-family-policy are checked (case-insensitively, as upstream)
// while parsing, each error naming its flag.
void add_expose_command(core::Flags& virtctl, ExposeOptions* opts);

// The checks after parsing: the kind (args[0]), the object name (args[1]), --name given and a
// valid Service name, --target-port and --port-name only with --port. Fills kind and name.
core::Status finish_expose(ExposeOptions* opts, const std::vector<std::string>& args);

// What the Service is made from, read from the exposed object.
struct ExposeTarget {
  std::map<std::string, std::string> selector;
  core::json::Document ports;                // an array of ServicePorts (may be empty)
  std::string api_version, kind, name, uid;  // the owner reference
};

// Pure. obj is the VirtualMachine, VirtualMachineInstance or VirtualMachineInstanceReplicaSet
// named by opts. Errors: the replica set's selector cannot be a Service's.
core::Result<ExposeTarget> expose_target(const ExposeOptions& opts, const core::json::Value& obj);

// Pure. The Service to create in namespace ns; Errc::invalid when no port was given and the
// object lists none ("couldn't find port via --port flag or introspection").
core::Result<core::json::Document> build_service(const ExposeOptions& opts,
                                                 const ExposeTarget& target, const std::string& ns);

// Reads the object, creates the Service, prints "Service S successfully created for vm NAME" on
// out or the error on err. Returns the exit status.
int run_expose(core::kube::KubeClient& client, const ExposeOptions& opts, const std::string& ns,
               std::ostream& out, std::ostream& err);

}  // namespace kv::virtctl
