#include "controller/replicas_reconcile.hpp"

#include <algorithm>
#include <set>

#include "controller/vm_reconcile.hpp"

namespace kv::controller {
namespace {

using api::v1::Condition;
using api::v1::OwnerReference;
using api::v1::VirtualMachine;
using api::v1::VirtualMachineInstance;
using api::v1::VmiPhase;

bool has_condition(const std::vector<Condition>& cs, const std::string& type,
                   const std::string& status) {
  const Condition* c = find_condition(cs, type);
  return c && c->status == status;
}

bool vmi_ready(const VirtualMachineInstance& vmi) {
  return vmi.status && has_condition(vmi.status->conditions, "Ready", "True");
}

bool vm_ready(const VirtualMachine& vm) {
  return vm.status && has_condition(vm.status->conditions, "Ready", "True");
}

bool controlled_by(const api::v1::ObjectMeta& meta, std::string_view kind,
                   const api::v1::ObjectMeta& owner) {
  const OwnerReference* ref = controller_of(meta);
  return ref && ref->kind == kind && ref->uid == owner.uid.value_or("");
}

OwnerReference owner_ref(std::string api_version, std::string kind, const api::v1::ObjectMeta& m) {
  return OwnerReference{
      std::move(api_version), std::move(kind), m.name.value_or(""), m.uid.value_or(""), true, true};
}

int desired(const std::optional<int32_t>& replicas) {
  return replicas ? std::max<int32_t>(*replicas, 0) : 1;
}

// Scale-down preference: a VMI not yet Running goes first, then one not Ready, then the newest
// (creationTimestamps are RFC 3339 in UTC, so their text orders like their time).
int running_rank(const VirtualMachineInstance& vmi) {
  const bool running = vmi.status && vmi.status->phase == VmiPhase::running;
  return running ? (vmi_ready(vmi) ? 2 : 1) : 0;
}

// A paused condition added, or removed when not paused.
void paused_condition(std::vector<Condition>& cs, bool paused, const std::string& reason,
                      const std::string& message, const std::string& now) {
  if (paused && !find_condition(cs, "ReplicaPaused"))
    cs.push_back(Condition{"ReplicaPaused", "True", {}, now, reason, message});
  else if (!paused)
    remove_condition(cs, "ReplicaPaused");
}

// Upstream keeps a ReplicaFailure condition as first written until the failures stop.
void failure_condition(std::vector<Condition>& cs, const std::optional<ScaleError>& error,
                       const std::string& now) {
  if (error && !find_condition(cs, "ReplicaFailure"))
    cs.push_back(Condition{"ReplicaFailure", "True", {}, now, error->reason, error->message});
  else if (!error)
    remove_condition(cs, "ReplicaFailure");
}

}  // namespace

const OwnerReference* controller_of(const api::v1::ObjectMeta& meta) {
  for (const auto& r : meta.owner_references)
    if (r.controller.value_or(false))
      return &r;
  return nullptr;
}

// --- VirtualMachineInstanceReplicaSet

ReplicaSetPlan plan_replica_set(const ReplicaSetInputs& in) {
  const auto& rs = *in.rs;
  const auto kind = api::v1::kVirtualMachineInstanceReplicaSetKind;
  ReplicaSetPlan p;
  std::vector<const VirtualMachineInstance*> owned;
  const bool rs_deleting = rs.metadata.deletion_timestamp.has_value();
  for (const auto* vmi : in.vmis) {
    const bool matches = api::v1::selector_matches(rs.spec.selector, vmi->metadata.labels);
    if (controlled_by(vmi->metadata, kind, rs.metadata)) {
      if (matches) {
        owned.push_back(vmi);
      } else if (!vmi->metadata.deletion_timestamp) {
        p.release.push_back(vmi);
      }
    } else if (!controller_of(vmi->metadata) && matches && !rs_deleting &&
               !vmi->metadata.deletion_timestamp) {
      p.adopt.push_back(vmi);
      owned.push_back(vmi);
    }
  }
  std::vector<const VirtualMachineInstance*> finished;
  for (const auto* vmi : owned) {
    if (vmi->metadata.deletion_timestamp)
      continue;
    if (is_final(*vmi))
      finished.push_back(vmi);
    else
      p.active.push_back(vmi);
  }
  if (!in.expectations_satisfied || rs.spec.paused.value_or(false) || rs_deleting)
    return p;
  const int diff = int(p.active.size()) - desired(rs.spec.replicas);
  if (diff < 0) {
    p.create = std::min(-diff, kBurstReplicas);
  } else if (diff > 0) {
    auto order = p.active;
    std::stable_sort(order.begin(), order.end(), [](const auto* a, const auto* b) {
      const int ra = running_rank(*a), rb = running_rank(*b);
      if (ra != rb)
        return ra < rb;
      return a->metadata.creation_timestamp.value_or("") >
             b->metadata.creation_timestamp.value_or("");
    });
    order.resize(std::min(diff, kBurstReplicas));
    p.delete_excess = std::move(order);
  }
  for (const auto* vmi : finished)
    if (int(p.delete_finished.size()) < kBurstReplicas)
      p.delete_finished.push_back(vmi);
  return p;
}

VirtualMachineInstance vmi_for_replica_set(const api::v1::VirtualMachineInstanceReplicaSet& rs) {
  VirtualMachineInstance vmi;
  const auto& tmpl = rs.spec.template_;
  if (tmpl.metadata) {
    vmi.metadata.labels = tmpl.metadata->labels;
    vmi.metadata.annotations = tmpl.metadata->annotations;
  }
  if (tmpl.metadata && tmpl.metadata->name && !tmpl.metadata->name->empty())
    vmi.metadata.generate_name = *tmpl.metadata->name;
  else if (tmpl.metadata && tmpl.metadata->generate_name && !tmpl.metadata->generate_name->empty())
    vmi.metadata.generate_name = *tmpl.metadata->generate_name;
  else
    vmi.metadata.generate_name = rs.metadata.name.value_or("");
  vmi.metadata.namespace_ = rs.metadata.namespace_;
  vmi.metadata.owner_references = {
      owner_ref(std::string(api::v1::kApiVersion),
                std::string(api::v1::kVirtualMachineInstanceReplicaSetKind), rs.metadata)};
  vmi.spec = tmpl.spec;
  return vmi;
}

api::v1::VirtualMachineInstanceReplicaSetStatus replica_set_status(
    const api::v1::VirtualMachineInstanceReplicaSet& rs,
    const std::vector<const VirtualMachineInstance*>& active,
    const std::optional<ScaleError>& error, const std::string& now) {
  auto st = rs.status.value_or(api::v1::VirtualMachineInstanceReplicaSetStatus{});
  st.replicas = int32_t(active.size());
  st.ready_replicas =
      int32_t(std::count_if(active.begin(), active.end(), [](auto* v) { return vmi_ready(*v); }));
  st.label_selector = api::v1::selector_string(rs.spec.selector);
  paused_condition(st.conditions, rs.spec.paused.value_or(false), "Paused", "Controller got paused",
                   now);
  failure_condition(st.conditions, error, now);
  return st;
}

// --- VirtualMachinePool

std::optional<int> pool_ordinal(const std::string& pool_name, const std::string& vm_name) {
  const std::string prefix = pool_name + "-";
  if (vm_name.size() <= prefix.size() || vm_name.compare(0, prefix.size(), prefix) != 0)
    return std::nullopt;
  const std::string digits = vm_name.substr(prefix.size());
  if (digits.size() > 9 || !std::all_of(digits.begin(), digits.end(), ::isdigit) ||
      (digits.size() > 1 && digits[0] == '0'))
    return std::nullopt;
  return std::stoi(digits);
}

VirtualMachine vm_for_pool(const api::pool::VirtualMachinePool& pool, int ordinal) {
  VirtualMachine vm;
  const auto& tmpl = pool.spec.virtual_machine_template;
  vm.metadata.name = pool.metadata.name.value_or("") + "-" + std::to_string(ordinal);
  vm.metadata.namespace_ = pool.metadata.namespace_;
  if (tmpl.metadata) {
    vm.metadata.labels = tmpl.metadata->labels;
    vm.metadata.annotations = tmpl.metadata->annotations;
  }
  vm.metadata.owner_references = {owner_ref(std::string(api::pool::kApiVersion),
                                            std::string(api::pool::kVirtualMachinePoolKind),
                                            pool.metadata)};
  vm.spec = tmpl.spec;
  return vm;
}

PoolPlan plan_pool(const PoolInputs& in) {
  const auto& pool = *in.pool;
  const std::string name = pool.metadata.name.value_or("");
  PoolPlan p;
  std::set<std::string> taken;
  for (const auto* vm : in.vms) {
    taken.insert(vm->metadata.name.value_or(""));
    if (!controlled_by(vm->metadata, api::pool::kVirtualMachinePoolKind, pool.metadata))
      continue;
    if (api::v1::selector_matches(pool.spec.selector, vm->metadata.labels))
      p.owned.push_back(vm);
    else if (!vm->metadata.deletion_timestamp)
      p.release.push_back(vm);
  }
  if (!in.expectations_satisfied || pool.spec.paused.value_or(false) ||
      pool.metadata.deletion_timestamp)
    return p;
  const int diff = int(p.owned.size()) - desired(pool.spec.replicas);
  if (diff < 0) {
    const int count = std::min(-diff, kBurstReplicas);
    for (int n = 0; int(p.create.size()) < count; ++n)
      if (!taken.count(name + "-" + std::to_string(n)))
        p.create.push_back(vm_for_pool(pool, n));
  } else if (diff > 0) {
    std::vector<const VirtualMachine*> eligible;
    for (const auto* vm : p.owned)
      if (!vm->metadata.deletion_timestamp)
        eligible.push_back(vm);
    // VMs already being deleted count as gone.
    const int count = std::min(
        {diff - int(p.owned.size() - eligible.size()), int(eligible.size()), kBurstReplicas});
    std::stable_sort(eligible.begin(), eligible.end(), [&](const auto* a, const auto* b) {
      return pool_ordinal(name, a->metadata.name.value_or("")).value_or(0) >
             pool_ordinal(name, b->metadata.name.value_or("")).value_or(0);
    });
    if (count > 0)
      p.remove.assign(eligible.begin(), eligible.begin() + count);
  }
  return p;
}

api::pool::VirtualMachinePoolStatus pool_status(const api::pool::VirtualMachinePool& pool,
                                                const std::vector<const VirtualMachine*>& owned,
                                                const std::optional<ScaleError>& error,
                                                const std::string& now) {
  auto st = pool.status.value_or(api::pool::VirtualMachinePoolStatus{});
  st.replicas = int32_t(owned.size());
  st.ready_replicas =
      int32_t(std::count_if(owned.begin(), owned.end(), [](auto* v) { return vm_ready(*v); }));
  st.label_selector = api::v1::selector_string(pool.spec.selector);
  failure_condition(st.conditions, error, now);
  paused_condition(st.conditions, pool.spec.paused.value_or(false), "SuccessfulPaused",
                   "Pool controller is paused", now);
  return st;
}

}  // namespace kv::controller
