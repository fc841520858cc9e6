#pragma once
// spec.instancetype and spec.preference in the VM controller, as upstream's instancetype
// controller (pkg/instancetype/controller/vm) in its default Reference policy:
//
//   every sync      status.instancetypeRef / preferenceRef follow the matchers; when one has no
//                   controllerRevisionRef yet, the object is read and a ControllerRevision
//                   holding it is created (owned by the VM) and recorded there
//                   (api/instancetype/revision.hpp)
//   creating a VMI  the specs are read from those revisions (so later edits of the instancetype
//                   change nothing until the matcher changes) and applied to the VMI
//                   (api/instancetype/apply.hpp)
//
// Failures do not create a VMI: the VM gets the Failure condition with upstream's reasons
// (FailedFindInstancetype, FailedFindPreference, FailedCreate) and the message, a Warning
// Event, and the sync is retried with backoff. A VM naming an instancetype that does not exist
// is accepted by virt-api (as upstream: it may be created later) and waits here.

#include <optional>
#include <string>

#include "api/v1/types.hpp"
#include "controller/vm_reconcile.hpp"
#include "core/kube/client.hpp"
#include "core/result.hpp"

namespace kv::controller {

// What the first step found: the status refs to have, or why not.
struct VmInstancetypes {
  bool used = false;  // the VM has spec.instancetype or spec.preference
  std::optional<api::v1::InstancetypeStatusRef> instancetype_ref;
  std::optional<api::v1::InstancetypeStatusRef> preference_ref;
  std::optional<core::Error> error;
  std::string reason;  // the Failure condition's reason when error is set
};

// Before reconcile_vm: the revisions stored (API calls only when one is missing).
VmInstancetypes store_instancetype_revisions(core::kube::KubeClient& client,
                                             const api::v1::VirtualMachine& vm);

// After reconcile_vm: puts the refs into a.status; when a.create_vmi is set, reads the specs from
// the revisions and expands the VMI. On a failure (here or in the first step) drops the
// creation, sets the Failure condition, a Warning event and the printable status, and returns
// the error (the worker retries with backoff).
core::Status expand_instancetypes(core::kube::KubeClient& client, const VmInstancetypes& its,
                                  const api::v1::VirtualMachine& vm, VmActions& a,
                                  Clock::time_point now);

}  // namespace kv::controller
