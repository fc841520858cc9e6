#pragma once
// virt-api's part in spec.instancetype and spec.preference of a VirtualMachine, as upstream's VM
// admitter and mutator do it (pkg/instancetype/webhooks/vm):
//
//   validate  the matchers (a name, a kind we serve; inferFromVolume refused); the instancetype
//             and preference are looked up (their revisions when the VM has them) and applied to
//             a copy of the template: a field the VM sets that the instancetype owns is refused
//             ("VM field(s) spec.template.spec.domain.cpu.sockets conflicts with selected
//             instance type"), so are unmet preference requirements; the rest of validation then
//             sees the template as the VMI will be. An instancetype that does not exist (yet) is
//             not an error here, as upstream: the controller waits for it.
//   mutate    the matchers' kind defaulted (VirtualMachineClusterInstancetype,
//             VirtualMachineClusterPreference); the template is left as written, so the
//             preference fills its unset fields when the VMI is made.

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "api/v1/codec.hpp"
#include "core/json.hpp"
#include "core/kube/client.hpp"
#include "core/result.hpp"

namespace kv::apiserver {

// Reads instancetype.kubevirt.io objects and ControllerRevisions (the seam; a fake in tests).
class InstancetypeLookup {
 public:
  virtual ~InstancetypeLookup() = default;
  // resource: virtualmachineinstancetypes, virtualmachineclusterinstancetypes,
  // virtualmachinepreferences, virtualmachineclusterpreferences or controllerrevisions; ns is
  // "" for the cluster-scoped ones. Errc::not_found when absent.
  virtual core::Result<core::json::Document> get(std::string_view resource, std::string_view ns,
                                                 std::string_view name) const = 0;
};

// The lookup over the API (virt-api's client; it needs get on the four kinds and on
// controllerrevisions, manifests/rbac/virt-api.yaml).
std::shared_ptr<const InstancetypeLookup> make_instancetype_lookup(core::kube::KubeClient& client);

struct InstancetypeVerdict {
  api::v1::FieldErrors errors;       // deny with these
  std::optional<std::string> patch;  // mutate: the whole answer (a JSONPatch, "" for none)
};

// obj: the VirtualMachine as admitted (with its status, for the revisions it records);
// user_part: the same without status, replaced by the VM with its template expanded when
// validating. Any other kind, or a VM without matchers, is left alone. lookup may be null (no
// lookups: only the matchers are checked).
InstancetypeVerdict admit_instancetype(bool mutate, const core::json::Value& obj,
                                       core::json::Document& user_part,
                                       const InstancetypeLookup* lookup);

}  // namespace kv::apiserver
