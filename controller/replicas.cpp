#include "controller/replicas.hpp"

#include <optional>

#include "addon/resources.hpp"
#include "api/pool/pool.hpp"
#include "api/v1/codec.hpp"
#include "api/v1/replicaset.hpp"
#include "controller/controller.hpp"
#include "controller/object_logger.hpp"
#include "controller/replicas_reconcile.hpp"
#include "controller/vm_reconcile.hpp"
#include "core/kube/kubeconfig.hpp"
#include "core/kube/resource.hpp"
#include "core/log.hpp"

namespace kv::controller {
namespace {

namespace json = core::json;
namespace kube = core::kube;
namespace meta = core::kube::meta;
namespace log = core::log;
using core::Errc;
using core::Error;
using core::Status;

constexpr const char* kIndexNamespace = "namespace";

// The object with its status replaced, for a PUT on the status subresource.
json::Document with_status(const json::Value& obj, json::Value status) {
  json::Document d;
  d.CopyFrom(obj, d.GetAllocator());
  json::set(d, "status", std::move(status), d.GetAllocator());
  return d;
}

std::string ns_of(const api::v1::ObjectMeta& m) {
  return m.namespace_.value_or("");
}

// Decodes the cached objects of a namespace; what does not decode is skipped (and logged).
template <class T, class Decode>
std::vector<T> decode_all(const std::vector<kube::ObjectPtr>& objs, Decode decode) {
  std::vector<T> out;
  out.reserve(objs.size());
  for (const auto& o : objs) {
    auto d = decode(*o);
    if (d.ok())
      out.push_back(std::move(*d));
    else
      logger_for(*o).warn("cannot read object; ignored by replica sets and pools",
                          {{"error", d.error().message}});
  }
  return out;
}

template <class T>
std::vector<const T*> pointers(const std::vector<T>& v) {
  std::vector<const T*> out;
  for (const auto& x : v)
    out.push_back(&x);
  return out;
}

const json::Value* find_by_uid(const std::vector<kube::ObjectPtr>& objs, const std::string& uid) {
  for (const auto& o : objs)
    if (meta::uid(*o) == uid)
      return o.get();
  return nullptr;
}

}  // namespace

// --- ReplicaExpectations

void ReplicaExpectations::expect_creations(const std::string& key, int n) {
  std::lock_guard lock(mu_);
  auto& p = pending_[key];
  p.creations += n;
  p.deadline = clock_.now() + timeout_;
}

void ReplicaExpectations::creation_observed(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = pending_.find(key);
  if (it != pending_.end() && it->second.creations > 0)
    --it->second.creations;
}

void ReplicaExpectations::expect_deletion(const std::string& key, const std::string& uid) {
  std::lock_guard lock(mu_);
  auto& p = pending_[key];
  p.deletions.insert(uid);
  p.deadline = clock_.now() + timeout_;
}

void ReplicaExpectations::deletion_observed(const std::string& key, const std::string& uid) {
  std::lock_guard lock(mu_);
  auto it = pending_.find(key);
  if (it != pending_.end())
    it->second.deletions.erase(uid);
}

bool ReplicaExpectations::satisfied(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = pending_.find(key);
  if (it == pending_.end())
    return true;
  const auto& p = it->second;
  return (p.creations <= 0 && p.deletions.empty()) || clock_.now() >= p.deadline;
}

void ReplicaExpectations::forget(const std::string& key) {
  std::lock_guard lock(mu_);
  pending_.erase(key);
}

// --- ReplicasController

ReplicasController::ReplicasController(kube::KubeClient& client, Metrics& metrics,
                                       ReplicasOptions opts)
    : client_(client),
      metrics_(metrics),
      opts_(std::move(opts)),
      clock_(opts_.clock ? *opts_.clock : kube::real_clock()),
      expectations_(clock_, opts_.expectation_timeout),
      recorder_(event_recorder(client_, opts_.record_events, opts_.clock)),
      rs_queue_(clock_, kQueueBackoff),
      pool_queue_(clock_, kQueueBackoff) {
  auto informer = [&](kube::Resource r) {
    kube::InformerOptions o;
    o.resync_period = opts_.resync_period;
    o.clock = opts_.clock;
    auto i = std::make_unique<kube::Informer>(client_, std::move(r), std::move(o));
    i->add_index(kIndexNamespace, kube::index_by_namespace());
    return i;
  };
  replica_sets_ = informer(replica_sets_resource());
  pools_ = informer(pools_resource());
  vmis_ = informer(addon::resources::virtual_machine_instances());
  vms_ = informer(addon::resources::virtual_machines());

  replica_sets_->add_handlers(
      kube::on_every_change([this](const kube::ObjectPtr& o) { rs_queue_.add(meta::key(*o)); }));
  pools_->add_handlers(
      kube::on_every_change([this](const kube::ObjectPtr& o) { pool_queue_.add(meta::key(*o)); }));
  vmis_->add_handlers({[this](const kube::ObjectPtr& o) { on_vmi(*o, false); },
                       [this](const kube::ObjectPtr& old, const kube::ObjectPtr& n) {
                         if (meta::resource_version(*old) == meta::resource_version(*n))
                           return;  // a resync: nothing changed
                         on_vmi(*old, false);
                         on_vmi(*n, false);
                       },
                       [this](const kube::ObjectPtr& o) { on_vmi(*o, true); }});
  vms_->add_handlers({[this](const kube::ObjectPtr& o) { on_vm(*o, false); },
                      [this](const kube::ObjectPtr& old, const kube::ObjectPtr& n) {
                        if (meta::resource_version(*old) == meta::resource_version(*n))
                          return;
                        on_vm(*old, false);
                        on_vm(*n, false);
                      },
                      [this](const kube::ObjectPtr& o) { on_vm(*o, true); }});
}

ReplicasController::~ReplicasController() {
  stop();
}

Status ReplicasController::start(std::chrono::milliseconds sync_timeout, bool run_workers) {
  for (auto* i : {replica_sets_.get(), pools_.get(), vmis_.get(), vms_.get()})
    i->start();
  auto deadline = std::chrono::steady_clock::now() + sync_timeout;
  for (auto* i : {replica_sets_.get(), pools_.get(), vmis_.get(), vms_.get()}) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (!i->wait_for_sync(std::max(left, std::chrono::milliseconds(1))))
      return Error(Errc::timeout, "informer for " + i->resource().id() + " did not sync within " +
                                      std::to_string(sync_timeout.count()) + " ms")
          .with("resource", i->resource().id());
  }
  if (run_workers) {
    workers_.emplace_back([this] { worker(rs_queue_, false); });
    workers_.emplace_back([this] { worker(pool_queue_, true); });
  }
  return {};
}

void ReplicasController::stop() {
  if (stopped_.exchange(true))
    return;
  rs_queue_.shut_down();
  pool_queue_.shut_down();
  for (auto& t : workers_)
    t.join();
  workers_.clear();
  for (auto* i : {replica_sets_.get(), pools_.get(), vmis_.get(), vms_.get()})
    i->stop();
  if (recorder_)
    recorder_->flush(std::chrono::seconds(5));
}

void ReplicasController::worker(kube::WorkQueue& q, bool pools) {
  const char* kind = pools ? "vmpool" : "vmirs";
  while (auto key = q.get()) {
    Status st = pools ? sync_pool(*key) : sync_replica_set(*key);
    metrics_.inc("kv_controller_reconcile_total",
                 {{"controller", kind}, {"result", st.ok() ? "ok" : "error"}});
    if (st.ok()) {
      q.forget(*key);
    } else {
      const auto& e = st.error();
      metrics_.inc("kv_controller_reconcile_errors_total",
                   {{"controller", kind}, {"kind", std::string(core::errc_name(e.code))}});
      if (e.code != Errc::conflict)
        log::warn("reconcile failed; will retry",
                  {{"controller", kind}, {"key", *key}, {"error", e.to_string()}});
      q.add_rate_limited(*key);
    }
    q.done(*key);
  }
}

void ReplicasController::record(const json::Value& obj, const std::string& type,
                                const std::string& reason, const std::string& message) {
  if (recorder_)
    recorder_->record(kube::reference_to(obj), type, reason, message);
}

void ReplicasController::on_vmi(const json::Value& vmi, bool deleted) {
  const std::string ns(meta::ns(vmi));
  if (const json::Value* ref =
          meta::controller_ref(vmi, api::v1::kVirtualMachineInstanceReplicaSetKind)) {
    const std::string key = meta::key(ns, json::get_string(*ref, "name").value_or(""));
    const std::string uid(meta::uid(vmi));
    if (deleted || meta::has_deletion_timestamp(vmi))
      expectations_.deletion_observed(key, uid);
    else
      expectations_.creation_observed(key);
    rs_queue_.add(key);
    return;
  }
  if (deleted || meta::controller_ref(vmi, api::v1::kVirtualMachineKind))
    return;
  // An orphan: the replica sets that select it may adopt it.
  api::v1::StringMap labels;
  if (const json::Value* l = json::find_path(vmi, {"metadata", "labels"}); l && l->IsObject())
    for (const auto& m : l->GetObject())
      if (m.value.IsString())
        labels[m.name.GetString()] = m.value.GetString();
  for (const auto& o : replica_sets_->store().by_index(kIndexNamespace, ns)) {
    auto rs = api::v1::decode_replica_set(*o);
    if (rs.ok() && api::v1::selector_matches(rs->spec.selector, labels))
      rs_queue_.add(meta::key(*o));
  }
}

void ReplicasController::on_vm(const json::Value& vm, bool deleted) {
  const json::Value* ref = meta::controller_ref(vm, api::pool::kVirtualMachinePoolKind);
  if (!ref)
    return;  // pools do not adopt
  const std::string key = meta::key(meta::ns(vm), json::get_string(*ref, "name").value_or(""));
  if (deleted || meta::has_deletion_timestamp(vm))
    expectations_.deletion_observed(key, std::string(meta::uid(vm)));
  else
    expectations_.creation_observed(key);
  pool_queue_.add(key);
}

Status ReplicasController::set_owner_refs(const kube::Resource& r, const json::Value& obj,
                                          const json::Value* add_ref, std::string_view drop_uid) {
  json::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  json::Value refs(rapidjson::kArrayType);
  if (const json::Value* old = json::find_path(obj, {"metadata", "ownerReferences"});
      old && old->IsArray())
    for (const auto& ref : old->GetArray())
      if (drop_uid.empty() || json::get_string(ref, "uid") != drop_uid)
        refs.PushBack(json::clone(ref, a), a);
  if (add_ref)
    refs.PushBack(json::clone(*add_ref, a), a);
  json::Value m(rapidjson::kObjectType);
  json::set(m, "ownerReferences", std::move(refs), a);
  // The UID and resourceVersion make the patch conditional: a re-created object or a newer
  // version is not touched (409 or 422; the next round decides again).
  json::set(m, "uid", meta::uid(obj), a);
  json::set(m, "resourceVersion", meta::resource_version(obj), a);
  json::set(d, "metadata", std::move(m), a);
  auto res =
      client_.patch(r, meta::ns(obj), meta::name(obj), kube::PatchType::merge, json::to_string(d));
  if (!res.ok() && res.error().code != Errc::not_found)
    return res.error();
  return {};
}

Status ReplicasController::sync_replica_set(const std::string& key) {
  auto obj = replica_sets_->store().get(key);
  if (!obj) {
    expectations_.forget(key);
    return {};
  }
  const auto log = logger_for(*obj);
  auto rs = api::v1::decode_replica_set(*obj);
  if (!rs.ok()) {
    log.error("cannot read VirtualMachineInstanceReplicaSet; skipping",
              {{"error", rs.error().message}});
    return {};
  }
  const std::string ns = ns_of(rs->metadata);
  const auto objs = vmis_->store().by_index(kIndexNamespace, ns);
  const auto vmis = decode_all<api::v1::VirtualMachineInstance>(
      objs, [](const json::Value& v) { return api::v1::decode_vmi(v); });
  const ReplicaSetPlan plan =
      plan_replica_set({&*rs, pointers(vmis), expectations_.satisfied(key)});
  const auto vmi_res = addon::resources::virtual_machine_instances();

  // Claim first: scaling counts the adopted VMIs as ours.
  json::Document ref(rapidjson::kObjectType);
  {
    const auto owner = vmi_for_replica_set(*rs).metadata;
    json::Value m = api::v1::encode(owner, ref.GetAllocator());
    ref.CopyFrom(m["ownerReferences"][0], ref.GetAllocator());
  }
  for (const auto* vmi : plan.adopt)
    if (auto st =
            set_owner_refs(vmi_res, *find_by_uid(objs, vmi->metadata.uid.value_or("")), &ref, "");
        !st.ok())
      return st;
  for (const auto* vmi : plan.release)
    if (auto st = set_owner_refs(vmi_res, *find_by_uid(objs, vmi->metadata.uid.value_or("")),
                                 nullptr, rs->metadata.uid.value_or(""));
        !st.ok())
      return st;

  std::optional<ScaleError> error;
  if (plan.create > 0) {
    expectations_.expect_creations(key, plan.create);
    json::Document d;
    const json::Value vmi = api::v1::encode(vmi_for_replica_set(*rs), d.GetAllocator());
    for (int i = 0; i < plan.create; ++i) {
      auto r = client_.create(vmi_res, ns, vmi);
      if (!r.ok()) {
        // The rest are not attempted: the same error would most likely repeat.
        for (int j = i; j < plan.create; ++j)
          expectations_.creation_observed(key);
        record(*obj, "Warning", "FailedCreate",
               "Error creating virtual machine instance: " + r.error().message);
        error = ScaleError{"FailedCreate", r.error().message};
        break;
      }
      log.info("created VirtualMachineInstance", {{"vmi", std::string(meta::name(*r))}});
      record(*obj, "Normal", "SuccessfulCreate",
             "Started the virtual machine by creating the new virtual machine instance " +
                 std::string(meta::name(*r)));
    }
  }
  auto remove = [&](const api::v1::VirtualMachineInstance* vmi, const std::string& failed_text,
                    const std::string& done_text) {
    const std::string uid = vmi->metadata.uid.value_or("");
    const std::string name = vmi->metadata.name.value_or("");
    expectations_.expect_deletion(key, uid);
    kube::DeleteOptions o;
    o.precondition_uid = uid;
    auto r = client_.remove(vmi_res, ns, name, o);
    if (!r.ok() && r.error().code != Errc::not_found) {
      expectations_.deletion_observed(key, uid);
      record(*obj, "Warning", "FailedDelete", failed_text + name + ": " + r.error().message);
      if (!error)
        error = ScaleError{"FailedDelete", r.error().message};
      return;
    }
    log.info("deleted VirtualMachineInstance", {{"vmi", name}, {"vmi_uid", uid}});
    record(*obj, "Normal", "SuccessfulDelete", done_text + uid);
  };
  for (const auto* vmi : plan.delete_excess)
    remove(vmi, "Error deleting virtual machine instance ",
           "Stopped the virtual machine by deleting the virtual machine instance ");
  if (!error)
    for (const auto* vmi : plan.delete_finished)
      remove(vmi, "Error deleting finished virtual machine ", "Deleted finished virtual machine: ");

  Status result;
  if (error)
    result = Error(Errc::unavailable, error->message);
  const auto old = rs->status.value_or(api::v1::VirtualMachineInstanceReplicaSetStatus{});
  auto status =
      replica_set_status(*rs, plan.active, error, kube::format_rfc3339(clock_.wall_now()));
  if (!(status == old)) {
    json::Document tmp;
    kube::WriteOptions wo;
    wo.subresource = "status";
    auto r = client_.update(replica_sets_resource(), ns,
                            with_status(*obj, api::v1::encode(status, tmp.GetAllocator())), wo);
    if (!r.ok()) {
      if (result.ok())
        result = r.error();
    } else {
      const bool was_paused = find_condition(old.conditions, "ReplicaPaused");
      const bool paused = rs->spec.paused.value_or(false);
      if (paused != was_paused)
        record(*obj, "Normal", paused ? "SuccessfulPaused" : "SuccessfulResumed",
               paused ? "Paused" : "Resumed");
    }
  }
  return result;
}

Status ReplicasController::sync_pool(const std::string& key) {
  auto obj = pools_->store().get(key);
  if (!obj) {
    expectations_.forget(key);
    return {};
  }
  const auto log = logger_for(*obj);
  auto pool = api::pool::decode_pool(*obj);
  if (!pool.ok()) {
    log.error("cannot read VirtualMachinePool; skipping", {{"error", pool.error().message}});
    return {};
  }
  const std::string ns = ns_of(pool->metadata);
  const auto objs = vms_->store().by_index(kIndexNamespace, ns);
  const auto vms = decode_all<api::v1::VirtualMachine>(
      objs, [](const json::Value& v) { return api::v1::decode_vm(v); });
  const PoolPlan plan = plan_pool({&*pool, pointers(vms), expectations_.satisfied(key)});
  const auto vm_res = addon::resources::virtual_machines();

  for (const auto* vm : plan.release)
    if (auto st = set_owner_refs(vm_res, *find_by_uid(objs, vm->metadata.uid.value_or("")), nullptr,
                                 pool->metadata.uid.value_or(""));
        !st.ok())
      return st;

  std::optional<ScaleError> error;
  if (!plan.create.empty()) {
    expectations_.expect_creations(key, int(plan.create.size()));
    for (size_t i = 0; i < plan.create.size(); ++i) {
      json::Document d;
      auto r = client_.create(vm_res, ns, api::v1::encode(plan.create[i], d.GetAllocator()));
      if (!r.ok()) {
        for (size_t j = i; j < plan.create.size(); ++j)
          expectations_.creation_observed(key);
        record(*obj, "Warning", "FailedCreate", "Error creating VM: " + r.error().message);
        error = ScaleError{"FailedScaleOut", "error during scale out: " + r.error().message};
        break;
      }
      log.info("created VirtualMachine", {{"vm", std::string(meta::name(*r))}});
      record(*obj, "Normal", "SuccessfulCreate",
             "Created VM " + ns + "/" + std::string(meta::name(*r)));
    }
  }
  for (const auto* vm : plan.remove) {
    const std::string uid = vm->metadata.uid.value_or("");
    const std::string name = vm->metadata.name.value_or("");
    expectations_.expect_deletion(key, uid);
    kube::DeleteOptions o;
    o.precondition_uid = uid;
    auto r = client_.remove(vm_res, ns, name, o);
    if (!r.ok() && r.error().code != Errc::not_found) {
      expectations_.deletion_observed(key, uid);
      record(*obj, "Warning", "FailedDelete",
             "Error deleting virtual machine " + ns + "/" + name + ": " + r.error().message);
      if (!error)
        error = ScaleError{"FailedScaleIn", "error during scale in: " + r.error().message};
      continue;
    }
    log.info("deleted VirtualMachine", {{"vm", name}, {"vm_uid", uid}});
    record(*obj, "Normal", "SuccessfulDelete",
           "Deleted VM " + ns + "/" + name + " with uid " + uid + " from pool");
  }

  Status result;
  if (error)
    result = Error(Errc::unavailable, error->message);
  const auto old = pool->status.value_or(api::pool::VirtualMachinePoolStatus{});
  auto status = pool_status(*pool, plan.owned, error, kube::format_rfc3339(clock_.wall_now()));
  if (!(status == old)) {
    json::Document tmp;
    kube::WriteOptions wo;
    wo.subresource = "status";
    auto r = client_.update(pools_resource(), ns,
                            with_status(*obj, api::pool::encode(status, tmp.GetAllocator())), wo);
    if (!r.ok()) {
      if (result.ok())
        result = r.error();
    } else {
      const bool was_paused = find_condition(old.conditions, "ReplicaPaused");
      const bool paused = pool->spec.paused.value_or(false);
      if (paused != was_paused)
        record(*obj, "Normal", paused ? "SuccessfulPaused" : "SuccessfulResume",
               paused ? "Pool is paused" : "Pool is unpaused");
      const bool had_failure = find_condition(old.conditions, "ReplicaFailure");
      if (error && !had_failure)
        record(*obj, "Warning", error->reason, error->message);
    }
  }
  return result;
}

}  // namespace kv::controller
