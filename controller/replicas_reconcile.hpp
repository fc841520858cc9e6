#pragma once
// The decisions of the VirtualMachineInstanceReplicaSet and VirtualMachinePool controllers, as
// pure functions over what the caches hold; controller/replicas.cpp carries them out. Upstream's
// semantics (pkg/virt-controller/watch/replicaset and pool), docs/replicas.md:
//
// VirtualMachineInstanceReplicaSet (desired = spec.replicas, default 1)
//   claim      orphan VMIs of the namespace whose labels match the selector are adopted (owner
//              reference, controller=true); owned VMIs whose labels stopped matching are released
//   active     owned VMIs neither final (Succeeded/Failed) nor being deleted
//   scale      only when earlier creates/deletes were all observed, not paused, not deleting:
//              active < desired: create the difference (generateName <rs name>, the template's
//              labels and annotations, at most 250 per round)
//              active > desired: delete the excess, VMIs not yet Running first, then not Ready,
//              then the newest
//              final VMIs are deleted (a Failed or Succeeded VMI is so replaced)
//   status     replicas = active, readyReplicas = active with Ready=True, labelSelector,
//              conditions ReplicaFailure (FailedCreate/FailedDelete) and ReplicaPaused
//
// VirtualMachinePool (desired = spec.replicas, default 1)
//   owned      VMs controlled by the pool; those whose labels stopped matching are released
//   scale      as above: fewer: create VMs <pool>-<n>, n the lowest ordinals no VM of the
//              namespace uses; more: delete the highest ordinals first (VMs already being deleted
//              count as gone)
//   status     replicas = owned VMs, readyReplicas = those with Ready=True, labelSelector,
//              conditions ReplicaFailure (FailedScaleOut/FailedScaleIn) and ReplicaPaused

#include <optional>
#include <string>
#include <vector>

#include "api/pool/types.hpp"
#include "api/v1/replicaset.hpp"
#include "api/v1/types.hpp"

namespace kv::controller {

// Creates or deletes at most this many per round (upstream's burstReplicas).
inline constexpr int kBurstReplicas = 250;

// --- VirtualMachineInstanceReplicaSet

struct ReplicaSetInputs {
  const api::v1::VirtualMachineInstanceReplicaSet* rs = nullptr;  // required
  // Every VMI of the replica set's namespace.
  std::vector<const api::v1::VirtualMachineInstance*> vmis;
  // No create or delete of an earlier round is still unobserved in the cache.
  bool expectations_satisfied = true;
};

struct ReplicaSetPlan {
  std::vector<const api::v1::VirtualMachineInstance*> adopt;
  std::vector<const api::v1::VirtualMachineInstance*> release;
  // Owned (adoptions included), not final, not being deleted: what status counts.
  std::vector<const api::v1::VirtualMachineInstance*> active;
  int create = 0;
  std::vector<const api::v1::VirtualMachineInstance*> delete_excess;  // in deletion order
  std::vector<const api::v1::VirtualMachineInstance*> delete_finished;
};

ReplicaSetPlan plan_replica_set(const ReplicaSetInputs& in);

// The VMI to create: generateName = the template's name or generateName, else the replica set's
// name (as upstream: no "-" added); the template's labels, annotations and spec; an owner
// reference to the replica set (controller, blockOwnerDeletion).
api::v1::VirtualMachineInstance vmi_for_replica_set(
    const api::v1::VirtualMachineInstanceReplicaSet& rs);

// A failed scale step: the condition's reason and the first error's message.
struct ScaleError {
  std::string reason;  // FailedCreate, FailedDelete, FailedScaleOut, FailedScaleIn
  std::string message;
};

// The status to have after this round (now: RFC 3339 for new conditions' lastTransitionTime).
api::v1::VirtualMachineInstanceReplicaSetStatus replica_set_status(
    const api::v1::VirtualMachineInstanceReplicaSet& rs,
    const std::vector<const api::v1::VirtualMachineInstance*>& active,
    const std::optional<ScaleError>& error, const std::string& now);

// --- VirtualMachinePool

struct PoolInputs {
  const api::pool::VirtualMachinePool* pool = nullptr;  // required
  // Every VM of the pool's namespace (ordinals in use are taken from all of them).
  std::vector<const api::v1::VirtualMachine*> vms;
  bool expectations_satisfied = true;
};

struct PoolPlan {
  std::vector<const api::v1::VirtualMachine*> release;
  std::vector<const api::v1::VirtualMachine*> owned;   // controlled by the pool, still matching
  std::vector<api::v1::VirtualMachine> create;         // named <pool>-<n>
  std::vector<const api::v1::VirtualMachine*> remove;  // highest ordinals first
};

PoolPlan plan_pool(const PoolInputs& in);

// The VM <pool>-<ordinal>: the template's labels, annotations and spec; an owner reference to
// the pool (controller, blockOwnerDeletion).
api::v1::VirtualMachine vm_for_pool(const api::pool::VirtualMachinePool& pool, int ordinal);

// The ordinal of a VM named <pool>-<n>; nullopt for any other name.
std::optional<int> pool_ordinal(const std::string& pool_name, const std::string& vm_name);

api::pool::VirtualMachinePoolStatus pool_status(
    const api::pool::VirtualMachinePool& pool,
    const std::vector<const api::v1::VirtualMachine*>& owned,
    const std::optional<ScaleError>& error, const std::string& now);

// The owner reference of `kind` that is the controller, if any.
const api::v1::OwnerReference* controller_of(const api::v1::ObjectMeta& meta);

}  // namespace kv::controller
