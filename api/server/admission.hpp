#pragma once
// The admission webhooks as pure functions: AdmissionReview (admission.k8s.io/v1, or v1beta1) in,
// AdmissionReview out with the same uid.
//
//   /virtualmachines-validate          CREATE/UPDATE: decode, default, validate (api/v1 admit);
//                                      denied with code 422 and every field error in the message
//   /virtualmachineinstances-validate  CREATE: the same; UPDATE: the spec may not change (as
//                                      upstream) unless the caller is one of our components
//   /virtualmachines-mutate            CREATE/UPDATE: what upstream's VM mutator stores (the
//                                      template's machine type, runStrategy Halted when neither
//                                      it nor running is set) as a JSONPatch (replace /spec)
//   /virtualmachineinstances-mutate    CREATE: every VMI default (api/v1/defaults.hpp) as a
//                                      JSONPatch (replace /spec); UPDATE: nothing (as upstream)
//   /virtualmachinereplicaset-validate CREATE/UPDATE: VirtualMachineInstanceReplicaSet
//   /virtualmachinepool-validate       CREATE/UPDATE: VirtualMachinePool (selector and template
//                                      immutable on UPDATE)
//   /migration-mutate-create           CREATE: VirtualMachineInstanceMigration gets the selector
//                                      label and the finalizer (api/v1/migration.hpp)
//   /migration-validate-create         CREATE: the migration's rules, then the checks that read
//                                      the cluster (migration_admission.hpp)
//   /migration-validate-update         UPDATE: spec fixed, selector label kept while in flight
// A mutating hook never denies: an object the validating hook (or the CRD schema) will refuse gets
// no patch and is refused there, with that check's message.
//
// Malformed input (not JSON, not an AdmissionReview, no request.uid) gets HTTP 400 and a Status.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "api/server/instancetype_admission.hpp"
#include "api/server/migration_admission.hpp"

namespace kv::apiserver {

enum class Webhook {
  validate_vm,
  validate_vmi,
  mutate_vm,
  mutate_vmi,
  validate_vmirs,
  validate_vmpool,
  mutate_vmim,           // VirtualMachineInstanceMigration
  validate_vmim_create,  //
  validate_vmim_update,  //
};

struct AdmissionPolicy {
  // Users whose VMI spec updates are allowed: prefixes of userInfo.username, e.g.
  // "system:serviceaccount:kubevirt:" (virt-controller, virt-handler, virt-api itself).
  std::vector<std::string> privileged_user_prefixes;
  // Reads instancetypes and preferences for VMs that name them; null: matchers checked only.
  std::shared_ptr<const InstancetypeLookup> instancetypes = nullptr;
  // Reads the VMI and its migrations for a new migration; null: only the migration's own rules.
  std::shared_ptr<const MigrationLookup> migrations = nullptr;
};

struct HttpReply {
  int status = 200;
  std::string body;
};

HttpReply review(Webhook hook, std::string_view body, const AdmissionPolicy& policy);

}  // namespace kv::apiserver
