#pragma once
// The wiring of virt-controller: informers (VMs, VMIs, launcher pods, PVCs, nodes, the config
// ConfigMap) feed two work queues keyed "namespace/name"; workers run the pure reconcile
// functions (vm_reconcile.hpp, vmi_reconcile.hpp) on what the caches hold and carry out the
// actions through the KubeClient.
//
// Guarantees (docs/controller.md "Robustness"):
//  - Idempotent: a reconcile reads only the caches and writes only what differs; running it
//    again changes nothing. A key is processed by one worker at a time (WorkQueue).
//  - One launcher pod per VMI: the pod's name is derived from the VMI's UID, so the API server
//    refuses a second one (AlreadyExists); expectations keep us from even trying while our own
//    create is not yet in the pod cache. A restarted controller lists before it acts, so it
//    finds the pods it created before.
//  - Failed API calls are retried with per-key exponential backoff; 409 conflicts on status
//    writes re-run the reconcile on the fresher cache.
//
// Threads: start() starts the informers' threads and `workers` threads per queue; stop() joins
// them all. sync_vm()/sync_vmi() may also be called directly (tests) when workers are not run.

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "controller/cluster_config.hpp"
#include "controller/metrics.hpp"
#include "controller/vmi_reconcile.hpp"
#include "core/kube/client.hpp"
#include "core/kube/events.hpp"
#include "core/kube/informer.hpp"
#include "core/kube/workqueue.hpp"

namespace kv::controller {

struct ControllerOptions {
  int vm_workers = 4;
  int vmi_workers = 4;
  std::string install_namespace = kDefaultInstallNamespace;
  // Every object is re-reconciled this often, so time-based decisions (a stale handler
  // heartbeat, a missed event) are caught even without a change.
  std::chrono::milliseconds resync_period{std::chrono::minutes(5)};
  // How long an expected pod creation may stay unseen before we stop waiting for it.
  std::chrono::milliseconds expectation_timeout{std::chrono::minutes(5)};
  const core::kube::Clock* clock = nullptr;  // null: the real clock
  bool record_events = true;
};

// Pod creations we made and have not seen in the informer yet, per VMI key and UID (client-go's
// ControllerExpectations, reduced to what one pod per VMI needs). Thread-safe.
class PodExpectations {
 public:
  explicit PodExpectations(const core::kube::Clock& clock, std::chrono::milliseconds timeout)
      : clock_(clock), timeout_(timeout) {}
  void expect(const std::string& vmi_uid);
  void observed(const std::string& vmi_uid);
  // True while a creation for this VMI is expected and not timed out.
  bool pending(const std::string& vmi_uid) const;

 private:
  const core::kube::Clock& clock_;
  std::chrono::milliseconds timeout_;
  mutable std::mutex mu_;
  std::map<std::string, core::kube::Clock::time_point> expected_;
};

// The work queues' retry backoff, for virt-controller's controllers: 5 ms, doubling to 5 min.
inline const core::kube::WorkQueueOptions kQueueBackoff{std::chrono::milliseconds(5),
                                                        std::chrono::seconds(300)};

// virt-controller's event recorder; null when `record` is false (tests without events).
std::unique_ptr<core::kube::EventRecorder> event_recorder(core::kube::KubeClient& client,
                                                          bool record,
                                                          const core::kube::Clock* clock);

class Controller {
 public:
  Controller(core::kube::KubeClient& client, Metrics& metrics, ControllerOptions opts = {});
  ~Controller();
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  // Starts the informers and waits (up to sync_timeout) for their first lists; then starts the
  // workers unless run_workers is false. Errc::timeout when the caches did not fill in time.
  core::Status start(std::chrono::milliseconds sync_timeout, bool run_workers = true);
  // Stops workers and informers; flushes recorded events. Idempotent.
  void stop();
  bool synced() const { return synced_.load(); }

  // One reconcile of a key (what a worker does). Errors are what the worker retries on.
  core::Status sync_vm(const std::string& key);
  core::Status sync_vmi(const std::string& key);
  // Marks the node kubevirt.io/schedulable=false when its handler's heartbeat is stale
  // (controller/node_health.hpp), with a NodeUnresponsive Event on the Node.
  core::Status sync_node(const std::string& name);

  const ConfigStore& config() const { return config_; }
  core::kube::WorkQueue& vm_queue() { return vm_queue_; }
  core::kube::WorkQueue& vmi_queue() { return vmi_queue_; }

 private:
  void worker(core::kube::WorkQueue& q, const char* kind);
  void on_config(const core::kube::ObjectPtr& obj, bool deleted);
  void enqueue_vmi_of_pod(const core::json::Value& pod, bool added);
  bool handler_stale(const std::string& node, core::kube::Clock::time_point now_steady) const;
  std::chrono::seconds heartbeat_timeout() const;
  void record(const core::json::Value& obj, const std::string& type, const std::string& reason,
              const std::string& message);

  // sync_vmi's steps. observe_vmi: what the caches say about the VMI, as reconcile_vmi's inputs
  // (notes pod creations the cache now shows). carry_out_vmi: its actions, in the order that
  // keeps them safe: metadata patches (each on the resourceVersion the previous returned; a
  // failure ends the round), pod deletions and creation, the status, the finalizer's removal
  // last; then the events and the requeue. obj is the VMI as cached, in.vmi its decoding.
  VmiInputs observe_vmi(const api::v1::VirtualMachineInstance& vmi);
  core::Status carry_out_vmi(const std::string& key, const core::json::Value& obj,
                             const VmiInputs& in, VmiActions& a);
  // The finalizer and node label patches; the resourceVersion after them.
  core::Result<std::string> patch_vmi_metadata(const core::json::Value& obj, const VmiInputs& in,
                                               const VmiActions& a);
  // The last failure (not-found counts as done); each deletion becomes an Event.
  core::Status delete_launcher_pods(const core::json::Value& obj, const std::string& ns,
                                    const std::vector<std::string>& pods);
  // True when this call created the pod. False when it already existed (our cache was behind:
  // nothing to undo, and no second SuccessfulCreate Event), or when it could not be rendered or
  // created: then the phase goes back, a Synchronized=False/FailedCreate condition and Event say
  // why, and a transient API error is put in result.
  bool create_launcher_pod(const core::json::Value& obj, const VmiInputs& in, VmiActions& a,
                           core::Status& result);
  // Writes a.status when it differs; the resourceVersion after. A failed write goes to result
  // (unless it holds an error) and drops the events but SuccessfulCreate.
  std::string write_vmi_status(const core::json::Value& obj, const VmiInputs& in, VmiActions& a,
                               std::string rv, core::Status& result);
  core::Status remove_vmi_finalizer(const api::v1::VirtualMachineInstance& vmi,
                                    const std::string& rv);

  core::kube::KubeClient& client_;
  Metrics& metrics_;
  ControllerOptions opts_;
  const core::kube::Clock& clock_;
  ConfigStore config_;
  PodExpectations expectations_;
  std::unique_ptr<core::kube::EventRecorder> recorder_;
  core::kube::WorkQueue vm_queue_;
  core::kube::WorkQueue vmi_queue_;
  core::kube::WorkQueue node_queue_;  // node names whose handler went quiet
  std::unique_ptr<core::kube::Informer> vms_, vmis_, pods_, pvcs_, nodes_, config_maps_;
  std::vector<std::thread> workers_;
  std::atomic<bool> synced_{false};
  std::atomic<bool> stopped_{false};
};

}  // namespace kv::controller
