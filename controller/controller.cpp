#include "controller/controller.hpp"

#include <algorithm>
#include <functional>

#include "addon/resources.hpp"
#include "api/v1/codec.hpp"
#include "controller/instancetype.hpp"
#include "controller/node_health.hpp"
#include "controller/object_logger.hpp"
#include "controller/pod_render.hpp"
#include "controller/vm_reconcile.hpp"
#include "controller/vmi_reconcile.hpp"
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
using core::Result;
using core::Status;

constexpr const char* kIndexCreatedBy = "created-by";
constexpr const char* kIndexNode = "node";
constexpr const char* kIndexNamespace = "namespace";

kube::Resource pvc_resource() {
  return {"", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", true};
}

// The object with its status replaced, for a PUT on the status subresource.
json::Document with_status(const json::Value& obj, json::Value status, std::string_view rv) {
  json::Document d;
  d.CopyFrom(obj, d.GetAllocator());
  json::set(d, "status", std::move(status), d.GetAllocator());
  json::set(json::ensure_object(d, "metadata", d.GetAllocator()), "resourceVersion", rv,
            d.GetAllocator());
  return d;
}

// {"metadata": {key: value, "resourceVersion": rv}}. A resourceVersion in a merge patch makes it
// conditional: 409 if the object moved on.
std::string conditional_metadata_patch(
    std::string_view rv, std::string_view key,
    const std::function<json::Value(json::Document::AllocatorType&)>& value) {
  json::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  json::Value m(rapidjson::kObjectType);
  json::set(m, key, value(a), a);
  json::set(m, "resourceVersion", rv, a);
  json::set(d, "metadata", std::move(m), a);
  return json::to_string(d);
}

std::string finalizers_patch(const std::vector<std::string>& finalizers, std::string_view rv) {
  return conditional_metadata_patch(rv, "finalizers", [&](auto& a) {
    json::Value list(rapidjson::kArrayType);
    for (const auto& f : finalizers)
      list.PushBack(json::string_value(f, a), a);
    return list;
  });
}

std::string label_patch(std::string_view label, std::string_view value, std::string_view rv) {
  return conditional_metadata_patch(rv, "labels", [&](auto& a) {
    json::Value labels(rapidjson::kObjectType);
    json::set(labels, label, value, a);
    return labels;
  });
}

bool transient(const Error& e) {
  return e.code != Errc::invalid && e.code != Errc::unsupported && e.code != Errc::unauthorized;
}

}  // namespace

// --- PodExpectations

void PodExpectations::expect(const std::string& vmi_uid) {
  std::lock_guard lock(mu_);
  expected_[vmi_uid] = clock_.now() + timeout_;
}

void PodExpectations::observed(const std::string& vmi_uid) {
  std::lock_guard lock(mu_);
  expected_.erase(vmi_uid);
}

bool PodExpectations::pending(const std::string& vmi_uid) const {
  std::lock_guard lock(mu_);
  auto it = expected_.find(vmi_uid);
  return it != expected_.end() && clock_.now() < it->second;
}

// --- Controller

std::unique_ptr<kube::EventRecorder> event_recorder(kube::KubeClient& client, bool record,
                                                    const kube::Clock* clock) {
  if (!record)
    return nullptr;
  kube::EventRecorderOptions eo;
  eo.clock = clock;
  return std::make_unique<kube::EventRecorder>(client, kube::EventSource{"virt-controller", ""},
                                               eo);
}

Controller::Controller(kube::KubeClient& client, Metrics& metrics, ControllerOptions opts)
    : client_(client),
      metrics_(metrics),
      opts_(std::move(opts)),
      clock_(opts_.clock ? *opts_.clock : kube::real_clock()),
      expectations_(clock_, opts_.expectation_timeout),
      recorder_(event_recorder(client_, opts_.record_events, opts_.clock)),
      vm_queue_(clock_, kQueueBackoff),
      vmi_queue_(clock_, kQueueBackoff),
      node_queue_(clock_, kQueueBackoff) {
  auto informer = [&](kube::Resource r, kube::ListWatchOptions lw,
                      std::chrono::milliseconds resync) {
    kube::InformerOptions o;
    o.list_watch = std::move(lw);
    o.resync_period = resync;
    o.clock = opts_.clock;
    return std::make_unique<kube::Informer>(client_, std::move(r), std::move(o));
  };
  vms_ = informer(addon::resources::virtual_machines(), {}, opts_.resync_period);
  vmis_ = informer(addon::resources::virtual_machine_instances(), {}, opts_.resync_period);
  kube::ListWatchOptions pod_lw;
  pod_lw.label_selector = std::string(kAppLabel) + "=" + kAppLabelValue;
  pods_ = informer(kube::resources::pods(), pod_lw, std::chrono::milliseconds(0));
  pvcs_ = informer(pvc_resource(), {}, std::chrono::milliseconds(0));
  nodes_ =
      informer(kube::resources::nodes(), {},
               std::min<std::chrono::milliseconds>(opts_.resync_period, std::chrono::seconds(30)));
  kube::ListWatchOptions cfg_lw;
  cfg_lw.ns = opts_.install_namespace;
  cfg_lw.field_selector = std::string("metadata.name=") + kConfigMapName;
  config_maps_ = informer(kube::resources::config_maps(), cfg_lw, std::chrono::milliseconds(0));

  pods_->add_index(kIndexCreatedBy, kube::index_by_label(kCreatedByLabel));
  vmis_->add_index(kIndexNode, kube::index_by_field({"status", "nodeName"}));
  vmis_->add_index(kIndexNamespace, kube::index_by_namespace());

  vms_->add_handlers(
      kube::on_every_change([this](const kube::ObjectPtr& o) { vm_queue_.add(meta::key(*o)); }));
  vmis_->add_handlers(kube::on_every_change([this](const kube::ObjectPtr& o) {
    vmi_queue_.add(meta::key(*o));
    if (meta::controller_ref(*o, api::v1::kVirtualMachineKind))
      vm_queue_.add(meta::key(*o));  // the VM has the VMI's name
  }));
  pods_->add_handlers(
      {[this](const kube::ObjectPtr& o) { enqueue_vmi_of_pod(*o, true); },
       [this](const kube::ObjectPtr&, const kube::ObjectPtr& n) { enqueue_vmi_of_pod(*n, false); },
       [this](const kube::ObjectPtr& o) { enqueue_vmi_of_pod(*o, false); }});
  pvcs_->add_handlers({[this](const kube::ObjectPtr& o) {
                         // A claim appeared: VMIs of its namespace waiting for it may start.
                         for (const auto& vmi :
                              vmis_->store().by_index(kIndexNamespace, std::string(meta::ns(*o))))
                           vmi_queue_.add(meta::key(*vmi));
                       },
                       nullptr, nullptr});
  auto node_check = [this](const kube::ObjectPtr& n) {
    const std::string name(meta::name(*n));
    if (unresponsive_node_patch(*n, clock_.wall_now(), heartbeat_timeout()))
      node_queue_.add(name);  // the resync (at most 30 s) brings each node back here
    if (!handler_stale(name, clock_.now()))
      return;
    for (const auto& vmi : vmis_->store().by_index(kIndexNode, name))
      vmi_queue_.add(meta::key(*vmi));
  };
  nodes_->add_handlers(
      {node_check,
       [node_check](const kube::ObjectPtr&, const kube::ObjectPtr& n) { node_check(n); }, nullptr});
  config_maps_->add_handlers(
      {[this](const kube::ObjectPtr& o) { on_config(o, false); },
       [this](const kube::ObjectPtr&, const kube::ObjectPtr& n) { on_config(n, false); },
       [this](const kube::ObjectPtr& o) { on_config(o, true); }});

  metrics_.help("kv_controller_reconcile_total", "counter",
                "Reconciles by controller (vm, vmi) and result (ok, error).");
  metrics_.help("kv_controller_reconcile_errors_total", "counter",
                "Failed reconciles by controller and error kind (conflict, unavailable, ...).");
  metrics_.help("kv_controller_api_requests_total", "counter",
                "Kubernetes API requests by verb and resource.");
  metrics_.help("kv_controller_api_errors_total", "counter",
                "Failed Kubernetes API requests by verb, resource and error kind.");
  metrics_.help("kv_controller_vmi_phase_transitions_total", "counter",
                "VMI phase changes written by the controller, by phase.");
  metrics_.help("kv_controller_vmi_scheduled_seconds", "histogram",
                "Seconds from VMI creation to phase Scheduled.");
  metrics_.help("kv_controller_config_reloads_total", "counter",
                "kubevirt-config changes applied.");
  metrics_.help("kv_controller_config_errors_total", "counter",
                "kubevirt-config versions rejected (the previous configuration stays).");
  metrics_.help("kv_controller_queue_depth", "gauge", "Keys ready in the work queues.");
  metrics_.help("kv_controller_watch_errors_total", "counter",
                "Failed list/watch requests of the informers (retried).");
  metrics_.help("kv_controller_relists_total", "counter", "Informer relists after 410 Gone.");
  metrics_.gauge_func("kv_controller_queue_depth",
                      [this] { return double(vm_queue_.len() + vmi_queue_.len()); });
  metrics_.gauge_func("kv_controller_watch_errors_total", [this] {
    double n = 0;
    for (auto* i :
         {vms_.get(), vmis_.get(), pods_.get(), pvcs_.get(), nodes_.get(), config_maps_.get()})
      n += double(i->stats().errors);
    return n;
  });
  metrics_.gauge_func("kv_controller_relists_total", [this] {
    double n = 0;
    for (auto* i :
         {vms_.get(), vmis_.get(), pods_.get(), pvcs_.get(), nodes_.get(), config_maps_.get()})
      n += double(i->stats().relists);
    return n;
  });
}

Controller::~Controller() {
  stop();
}

Status Controller::start(std::chrono::milliseconds sync_timeout, bool run_workers) {
  // Configuration first, so the first pods already use it.
  config_maps_->start();
  config_maps_->wait_for_sync(sync_timeout);
  for (auto* i : {vms_.get(), vmis_.get(), pods_.get(), pvcs_.get(), nodes_.get()})
    i->start();
  auto deadline = std::chrono::steady_clock::now() + sync_timeout;
  for (auto* i :
       {config_maps_.get(), vms_.get(), vmis_.get(), pods_.get(), pvcs_.get(), nodes_.get()}) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (!i->wait_for_sync(std::max(left, std::chrono::milliseconds(1))))
      return Error(Errc::timeout, "informer for " + i->resource().id() + " did not sync within " +
                                      std::to_string(sync_timeout.count()) + " ms")
          .with("resource", i->resource().id());
  }
  synced_ = true;
  log::info("caches synced; starting workers",
            {{"vm_workers", std::to_string(opts_.vm_workers)},
             {"vmi_workers", std::to_string(opts_.vmi_workers)}});
  if (run_workers) {
    for (int i = 0; i < opts_.vm_workers; ++i)
      workers_.emplace_back([this] { worker(vm_queue_, "vm"); });
    for (int i = 0; i < opts_.vmi_workers; ++i)
      workers_.emplace_back([this] { worker(vmi_queue_, "vmi"); });
    workers_.emplace_back([this] { worker(node_queue_, "node"); });
  }
  return {};
}

void Controller::stop() {
  if (stopped_.exchange(true))
    return;
  vm_queue_.shut_down();
  vmi_queue_.shut_down();
  node_queue_.shut_down();
  for (auto& t : workers_)
    t.join();
  workers_.clear();
  for (auto* i :
       {vms_.get(), vmis_.get(), pods_.get(), pvcs_.get(), nodes_.get(), config_maps_.get()})
    i->stop();
  // The gauges read this object: detach them before it goes.
  for (const char* g : {"kv_controller_queue_depth", "kv_controller_watch_errors_total",
                        "kv_controller_relists_total"})
    metrics_.gauge_func(g, [] { return 0.0; });
  if (recorder_)
    recorder_->flush(std::chrono::seconds(5));
}

void Controller::worker(kube::WorkQueue& q, const char* kind) {
  while (auto key = q.get()) {
    const std::string_view k(kind);
    Status st = k == "vm" ? sync_vm(*key) : k == "vmi" ? sync_vmi(*key) : sync_node(*key);
    metrics_.inc("kv_controller_reconcile_total",
                 {{"controller", kind}, {"result", st.ok() ? "ok" : "error"}});
    if (st.ok()) {
      q.forget(*key);
    } else {
      const auto& e = st.error();
      metrics_.inc("kv_controller_reconcile_errors_total",
                   {{"controller", kind}, {"kind", std::string(core::errc_name(e.code))}});
      // Conflicts are routine (someone wrote first); the rest is worth a line.
      if (e.code != Errc::conflict)
        log::warn("reconcile failed; will retry",
                  {{"controller", kind}, {"key", *key}, {"error", e.to_string()}});
      q.add_rate_limited(*key);
    }
    q.done(*key);
  }
}

void Controller::record(const json::Value& obj, const std::string& type, const std::string& reason,
                        const std::string& message) {
  if (recorder_)
    recorder_->record(kube::reference_to(obj), type, reason, message);
}

void Controller::enqueue_vmi_of_pod(const json::Value& pod, bool added) {
  if (auto uid = meta::label(pod, kCreatedByLabel); uid && added)
    expectations_.observed(std::string(*uid));
  if (const json::Value* ref = meta::controller_ref(pod, api::v1::kVirtualMachineInstanceKind))
    vmi_queue_.add(meta::key(meta::ns(pod), json::get_string(*ref, "name").value_or("")));
}

std::chrono::seconds Controller::heartbeat_timeout() const {
  return std::chrono::seconds(config_.get()->handler_heartbeat_timeout_seconds);
}

bool Controller::handler_stale(const std::string& node, kube::Clock::time_point) const {
  if (node.empty())
    return false;
  auto obj = nodes_->store().get(node);
  if (!obj)
    return false;  // unknown node: nothing to conclude
  return heartbeat_stale(*obj, clock_.wall_now(), heartbeat_timeout());
}

Status Controller::sync_node(const std::string& name) {
  auto obj = nodes_->store().get(name);
  if (!obj)
    return {};
  auto patch = unresponsive_node_patch(*obj, clock_.wall_now(), heartbeat_timeout());
  if (!patch)
    return {};  // the handler came back (or someone else took the label) meanwhile
  auto r = client_.patch(kube::resources::nodes(), "", name, kube::PatchType::merge, *patch);
  if (!r.ok())
    return r.error().code == Errc::not_found ? Status{} : Status(r.error());
  log::warn("virt-handler is not responsive; node marked unschedulable for VMs",
            {{"node", name}, {"label", std::string(kSchedulableLabel) + "=false"}});
  record(*obj, "Normal", "NodeUnresponsive",
         "virt-handler is not responsive, marking node as unresponsive");
  return {};
}

void Controller::on_config(const kube::ObjectPtr& obj, bool deleted) {
  if (deleted) {
    if (config_.set(Config{}))
      log::info("kubevirt-config deleted; using the defaults");
    metrics_.inc("kv_controller_config_reloads_total");
    return;
  }
  std::map<std::string, std::string> data;
  if (const json::Value* d = json::find(*obj, "data"); d && d->IsObject())
    for (const auto& m : d->GetObject())
      if (m.value.IsString())
        data[m.name.GetString()] = m.value.GetString();
  auto cfg = config_from_data(data);
  if (!cfg.ok()) {
    metrics_.inc("kv_controller_config_errors_total");
    log::error("kubevirt-config rejected; keeping the previous configuration",
               {{"error", cfg.error().message}});
    record(*obj, "Warning", "InvalidConfiguration", cfg.error().message);
    return;
  }
  if (config_.set(*cfg)) {
    metrics_.inc("kv_controller_config_reloads_total");
    log::info("kubevirt-config applied", {{"useEmulation", cfg->use_emulation ? "true" : "false"},
                                          {"launcherImage", cfg->launcher_image}});
  }
}

Status Controller::sync_vm(const std::string& key) {
  auto obj = vms_->store().get(key);
  if (!obj)
    return {};  // deleted: the garbage collector removes what it owned
  const auto log = logger_for(*obj);
  auto vm = api::v1::decode_vm(*obj);
  if (!vm.ok()) {
    log.error("cannot read VirtualMachine; skipping", {{"error", vm.error().message}});
    return {};  // retrying cannot help; the next change re-queues it
  }
  std::optional<api::v1::VirtualMachineInstance> vmi;
  bool foreign = false;
  kube::ObjectPtr vmi_obj = vmis_->store().get(key);
  if (vmi_obj) {
    const json::Value* ref = meta::controller_ref(*vmi_obj, api::v1::kVirtualMachineKind);
    if (ref && json::get_string(*ref, "uid") == vm->metadata.uid.value_or("")) {
      auto d = api::v1::decode_vmi(*vmi_obj);
      if (!d.ok()) {
        log.error("cannot read VirtualMachineInstance; skipping", {{"error", d.error().message}});
        return {};
      }
      vmi = std::move(*d);
    } else {
      foreign = true;
    }
  }
  const auto now = clock_.wall_now();
  const VmInstancetypes its = store_instancetype_revisions(client_, *vm);
  VmActions a = reconcile_vm({&*vm, vmi ? &*vmi : nullptr, foreign, now});
  const std::string ns = vm->metadata.namespace_.value_or("");
  const std::string name = vm->metadata.name.value_or("");
  Status result = expand_instancetypes(client_, its, *vm, a, now);
  // create_failed: the VMI was not created, now or before; vmi_existed: an earlier sync created
  // it and our cache is behind. Either way no SuccessfulCreate Event.
  bool create_failed = false, vmi_existed = false, delete_failed = false;

  if (a.create_vmi) {
    json::Document d;
    json::Value v = api::v1::encode(*a.create_vmi, d.GetAllocator());
    auto r = client_.create(addon::resources::virtual_machine_instances(), ns, v);
    if (!r.ok() && r.error().code != Errc::exists) {
      create_failed = true;
      const std::string msg = "Error creating virtual machine instance: " + r.error().message;
      record(*obj, "Warning", "FailedCreate", msg);
      set_condition(a.status.conditions,
                    api::v1::Condition{"Failure", "True", {}, {}, "FailedCreate", msg},
                    kube::format_rfc3339(now));
      a.status.printable_status = printable_status(
          *vm, nullptr, a.start_failure.value_or(start_failure_from(*vm)), false, false, now);
      result = r.error();
    } else if (r.ok()) {
      log.info("created VirtualMachineInstance");
    } else {
      vmi_existed = true;
    }
  }
  if (a.delete_vmi_uid) {
    kube::DeleteOptions o;
    o.precondition_uid = *a.delete_vmi_uid;
    auto r = client_.remove(addon::resources::virtual_machine_instances(), ns, name, o);
    if (!r.ok() && r.error().code != Errc::not_found) {
      delete_failed = true;
      record(*obj, "Warning", "FailedDelete",
             "Error deleting virtual machine instance: " + r.error().message);
      result = r.error();
    } else {
      log.info("deleted VirtualMachineInstance", {{"vmi_uid", *a.delete_vmi_uid}});
    }
  }

  const api::v1::VirtualMachineStatus old = vm->status.value_or(api::v1::VirtualMachineStatus{});
  if (!(a.status == old)) {
    json::Document tmp;
    auto put = with_status(*obj, api::v1::encode(a.status, tmp.GetAllocator()),
                           meta::resource_version(*obj));
    kube::WriteOptions wo;
    wo.subresource = "status";
    auto r = client_.update(addon::resources::virtual_machines(), ns, put, wo);
    if (!r.ok()) {
      if (result.ok())
        result = r.error();
      // Our view was stale: the events describe a transition we may re-decide.
      a.events.erase(std::remove_if(a.events.begin(), a.events.end(),
                                    [](const ObjectEvent& e) {
                                      return e.reason != "SuccessfulCreate" &&
                                             e.reason != "SuccessfulDelete";
                                    }),
                     a.events.end());
    }
  }
  if (a.start_failure || a.clear_start_failure) {
    std::string patch = a.clear_start_failure
                            ? std::string(R"({"metadata":{"annotations":{")") +
                                  kStartFailureAnnotation + R"(":null}}})"
                            : [&] {
                                json::Document d(rapidjson::kObjectType);
                                auto& al = d.GetAllocator();
                                json::Value ann(rapidjson::kObjectType);
                                json::set(ann, kStartFailureAnnotation,
                                          start_failure_to_json(*a.start_failure), al);
                                json::Value m(rapidjson::kObjectType);
                                json::set(m, "annotations", std::move(ann), al);
                                json::set(d, "metadata", std::move(m), al);
                                return json::to_string(d);
                              }();
    auto r = client_.patch(addon::resources::virtual_machines(), ns, name, kube::PatchType::merge,
                           patch);
    if (!r.ok() && result.ok())
      result = r.error();
    if (a.start_failure && r.ok())
      log.warn("VMI failed before running; backing off",
               {{"failures", std::to_string(a.start_failure->consecutive_fail_count)}});
  }
  if (a.set_running) {
    std::string patch = vm->spec.run_strategy ? R"({"spec":{"runStrategy":"Always"}})"
                                              : R"({"spec":{"running":true}})";
    auto r = client_.patch(addon::resources::virtual_machines(), ns, name, kube::PatchType::merge,
                           patch);
    if (!r.ok() && result.ok())
      result = r.error();
  }
  for (const auto& e : a.events) {
    if ((e.reason == "SuccessfulCreate" && (create_failed || vmi_existed)) ||
        (e.reason == "SuccessfulDelete" && delete_failed))
      continue;
    record(*obj, e.type, e.reason, e.message);
  }
  if (a.requeue_after)
    vm_queue_.add_after(key, *a.requeue_after);
  return result;
}

Status Controller::sync_vmi(const std::string& key) {
  auto obj = vmis_->store().get(key);
  if (!obj)
    return {};
  auto vmi = api::v1::decode_vmi(*obj);
  if (!vmi.ok()) {
    logger_for(*obj).error("cannot read VirtualMachineInstance; skipping",
                           {{"error", vmi.error().message}});
    return {};
  }
  const VmiInputs in = observe_vmi(*vmi);
  VmiActions a = reconcile_vmi(in);
  return carry_out_vmi(key, *obj, in, a);
}

VmiInputs Controller::observe_vmi(const api::v1::VirtualMachineInstance& vmi) {
  const std::string ns = vmi.metadata.namespace_.value_or("");
  const std::string uid = vmi.metadata.uid.value_or("");
  VmiInputs in;
  in.vmi = &vmi;
  for (const auto& p : pods_->store().by_index(kIndexCreatedBy, uid))
    if (meta::ns(*p) == ns)
      in.pods.push_back(launcher_pod_from(*p));
  if (!in.pods.empty())
    expectations_.observed(uid);
  in.pod_creation_expected = in.pods.empty() && expectations_.pending(uid);
  for (const auto& v : vmi.spec.volumes)
    if (v.persistent_volume_claim &&
        !pvcs_->store().get(meta::key(ns, v.persistent_volume_claim->claim_name)))
      in.missing_pvcs.push_back(v.persistent_volume_claim->claim_name);
  if (vmi.status && vmi.status->node_name)
    in.handler_stale = handler_stale(*vmi.status->node_name, clock_.now());
  in.emulation_allowed = config_.get()->use_emulation;
  in.now = clock_.wall_now();
  return in;
}

Status Controller::carry_out_vmi(const std::string& key, const json::Value& obj,
                                 const VmiInputs& in, VmiActions& a) {
  auto rv = patch_vmi_metadata(obj, in, a);
  if (!rv.ok())
    return std::move(rv).error();  // the rest would race with a newer object: redo from the cache
  Status result =
      delete_launcher_pods(obj, in.vmi->metadata.namespace_.value_or(""), a.delete_pods);
  const bool pod_not_created = a.create_pod && !create_launcher_pod(obj, in, a, result);
  std::string status_rv = write_vmi_status(obj, in, a, *rv, result);
  if (a.remove_finalizer) {
    auto removed = remove_vmi_finalizer(*in.vmi, status_rv);
    if (!removed.ok() && result.ok())
      result = removed;
  }
  for (const auto& e : a.events) {
    if (e.reason == "SuccessfulCreate" && pod_not_created)
      continue;
    record(obj, e.type, e.reason, e.message);
  }
  if (a.requeue_after)
    vmi_queue_.add_after(key, *a.requeue_after);
  return result;
}

Result<std::string> Controller::patch_vmi_metadata(const json::Value& obj, const VmiInputs& in,
                                                   const VmiActions& a) {
  const auto& vmi = *in.vmi;
  const std::string ns = vmi.metadata.namespace_.value_or("");
  const std::string name = vmi.metadata.name.value_or("");
  std::string rv(meta::resource_version(obj));
  if (a.add_finalizer) {
    auto fins = vmi.metadata.finalizers;
    fins.push_back(kVmiFinalizer);
    auto r = client_.patch(addon::resources::virtual_machine_instances(), ns, name,
                           kube::PatchType::merge, finalizers_patch(fins, rv));
    if (!r.ok())
      return std::move(r).error();
    rv = std::string(meta::resource_version(*r));
  }
  if (a.node_label) {
    auto r = client_.patch(addon::resources::virtual_machine_instances(), ns, name,
                           kube::PatchType::merge, label_patch(kNodeNameLabel, *a.node_label, rv));
    if (!r.ok())
      return std::move(r).error();
    rv = std::string(meta::resource_version(*r));
  }
  return rv;
}

Status Controller::delete_launcher_pods(const json::Value& obj, const std::string& ns,
                                        const std::vector<std::string>& pods) {
  Status result;
  for (const auto& p : pods) {
    auto r = client_.remove(kube::resources::pods(), ns, p);
    if (!r.ok() && r.error().code != Errc::not_found) {
      record(obj, "Warning", "FailedDelete", "Error deleting pod " + p + ": " + r.error().message);
      result = r.error();
    } else {
      logger_for(obj).info("deleted launcher pod", {{"pod", p}});
      record(obj, "Normal", "SuccessfulDelete", "Deleted virtual machine pod " + p);
    }
  }
  return result;
}

bool Controller::create_launcher_pod(const json::Value& obj, const VmiInputs& in, VmiActions& a,
                                     Status& result) {
  const auto& vmi = *in.vmi;
  const std::string uid = vmi.metadata.uid.value_or("");
  // reconcile_vmi moves to Scheduling assuming the create succeeds; undone on failure.
  const auto old_phase = vmi.status && vmi.status->phase
                             ? vmi.status->phase
                             : std::optional(api::v1::VmiPhase::pending);
  auto failed = [&](const std::string& msg) {
    a.status.phase = old_phase;
    set_condition(a.status.conditions,
                  api::v1::Condition{"Synchronized", "False", {}, {}, "FailedCreate", msg},
                  kube::format_rfc3339(in.now));
    record(obj, "Warning", "FailedCreate", msg);
    return false;
  };
  auto cfg = config_.get();
  NodeFacts nodes;
  if (cfg->use_emulation) {  // without emulation the pod requests KVM whatever the nodes say
    for (const auto& n : nodes_->store().list())
      if (node_offers_kvm(*n)) {
        nodes.kvm_available = true;
        break;
      }
  }
  auto pod = render_launcher_pod(vmi, with_image_volumes(*cfg, nodes_->store().list()), nodes);
  if (!pod.ok())
    return failed("cannot render the launcher pod: " + pod.error().message);
  expectations_.expect(uid);
  auto r = client_.create(kube::resources::pods(), vmi.metadata.namespace_.value_or(""), *pod);
  if (!r.ok() && r.error().code != Errc::exists) {
    expectations_.observed(uid);
    if (transient(r.error()))
      result = r.error();
    return failed("Error creating pod: " + r.error().message);
  }
  if (!r.ok())
    return false;  // it exists: created by an earlier sync our cache has not seen yet
  logger_for(obj).info("created launcher pod", {{"pod", std::string(meta::name(*r))}});
  return true;
}

std::string Controller::write_vmi_status(const json::Value& obj, const VmiInputs& in, VmiActions& a,
                                         std::string rv, Status& result) {
  const auto& vmi = *in.vmi;
  const auto log = logger_for(obj);
  const auto old = vmi.status.value_or(api::v1::VirtualMachineInstanceStatus{});
  if (a.status == old)
    return rv;
  json::Document tmp;
  auto put = with_status(obj, api::v1::encode(a.status, tmp.GetAllocator()), rv);
  kube::WriteOptions wo;
  wo.subresource = "status";
  auto r = client_.update(addon::resources::virtual_machine_instances(),
                          vmi.metadata.namespace_.value_or(""), put, wo);
  if (!r.ok()) {
    if (result.ok())
      result = r.error();
    a.events.erase(
        std::remove_if(a.events.begin(), a.events.end(),
                       [](const ObjectEvent& e) { return e.reason != "SuccessfulCreate"; }),
        a.events.end());
    return rv;
  }
  if (a.status.phase != old.phase) {
    const std::string phase(api::v1::to_string(*a.status.phase));
    metrics_.inc("kv_controller_vmi_phase_transitions_total", {{"phase", phase}});
    log.info("VMI phase changed", {{"phase", phase}, {"reason", a.status.reason.value_or("")}});
    if (*a.status.phase == api::v1::VmiPhase::scheduled && vmi.metadata.creation_timestamp) {
      auto created = kube::parse_rfc3339(*vmi.metadata.creation_timestamp);
      if (created.ok())
        metrics_.observe("kv_controller_vmi_scheduled_seconds", {},
                         std::chrono::duration<double>(in.now - *created).count(),
                         {0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600});
    }
  }
  return std::string(meta::resource_version(*r));
}

Status Controller::remove_vmi_finalizer(const api::v1::VirtualMachineInstance& vmi,
                                        const std::string& rv) {
  auto fins = vmi.metadata.finalizers;
  fins.erase(std::remove(fins.begin(), fins.end(), kVmiFinalizer), fins.end());
  auto r = client_.patch(addon::resources::virtual_machine_instances(),
                         vmi.metadata.namespace_.value_or(""), vmi.metadata.name.value_or(""),
                         kube::PatchType::merge, finalizers_patch(fins, rv));
  if (!r.ok() && r.error().code != Errc::not_found)
    return r.error();
  return {};
}

}  // namespace kv::controller
