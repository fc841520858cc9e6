#pragma once
// The VirtualMachineInstanceReplicaSet and VirtualMachinePool controllers of virt-controller:
// informers on replica sets, pools, VMIs and VMs feed two work queues keyed "namespace/name";
// workers run the pure plans of replicas_reconcile.hpp on the caches and carry them out through
// the KubeClient (adopt/release by owner-reference patches, create, delete, status), recording
// upstream's Events (SuccessfulCreate, SuccessfulDelete, FailedCreate, FailedDelete) on the
// replica set or pool.
//
// Expectations (client-go's ControllerExpectations): after creating or deleting, a key is not
// scaled again until the informer has shown every one of those changes (or 5 minutes passed),
// so a stale cache never makes it create twice.
//
// Threads: start() starts the informers and one worker per queue; stop() joins them.
// sync_replica_set()/sync_pool() may be called directly (tests) when workers are not run.

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "controller/metrics.hpp"
#include "core/kube/client.hpp"
#include "core/kube/events.hpp"
#include "core/kube/informer.hpp"
#include "core/kube/workqueue.hpp"

namespace kv::controller {

inline core::kube::Resource replica_sets_resource() {
  return {"kubevirt.io", "v1", "virtualmachineinstancereplicasets",
          "VirtualMachineInstanceReplicaSet", true};
}
inline core::kube::Resource pools_resource() {
  return {"pool.kubevirt.io", "v1beta1", "virtualmachinepools", "VirtualMachinePool", true};
}

struct ReplicasOptions {
  std::chrono::milliseconds resync_period{std::chrono::minutes(5)};
  std::chrono::milliseconds expectation_timeout{std::chrono::minutes(5)};
  const core::kube::Clock* clock = nullptr;  // null: the real clock
  bool record_events = true;
};

// Creations and deletions made per key and not yet seen in the informer. Thread-safe.
class ReplicaExpectations {
 public:
  ReplicaExpectations(const core::kube::Clock& clock, std::chrono::milliseconds timeout)
      : clock_(clock), timeout_(timeout) {}
  void expect_creations(const std::string& key, int n);
  void creation_observed(const std::string& key);
  void expect_deletion(const std::string& key, const std::string& uid);
  void deletion_observed(const std::string& key, const std::string& uid);
  // True when nothing is pending for key (or what is pending timed out).
  bool satisfied(const std::string& key) const;
  void forget(const std::string& key);

 private:
  struct Pending {
    int creations = 0;
    std::set<std::string> deletions;
    core::kube::Clock::time_point deadline{};
  };
  const core::kube::Clock& clock_;
  std::chrono::milliseconds timeout_;
  mutable std::mutex mu_;
  std::map<std::string, Pending> pending_;
};

class ReplicasController {
 public:
  ReplicasController(core::kube::KubeClient& client, Metrics& metrics, ReplicasOptions opts = {});
  ~ReplicasController();
  ReplicasController(const ReplicasController&) = delete;
  ReplicasController& operator=(const ReplicasController&) = delete;

  // Starts the informers, waits for their first lists, then the workers unless run_workers is
  // false. Errc::timeout when a cache did not fill in time.
  core::Status start(std::chrono::milliseconds sync_timeout, bool run_workers = true);
  void stop();  // idempotent

  core::Status sync_replica_set(const std::string& key);
  core::Status sync_pool(const std::string& key);

  core::kube::WorkQueue& replica_set_queue() { return rs_queue_; }
  core::kube::WorkQueue& pool_queue() { return pool_queue_; }
  const ReplicaExpectations& expectations() const { return expectations_; }

 private:
  void worker(core::kube::WorkQueue& q, bool pools);
  void on_vmi(const core::json::Value& vmi, bool deleted);
  void on_vm(const core::json::Value& vm, bool deleted);
  void record(const core::json::Value& obj, const std::string& type, const std::string& reason,
              const std::string& message);
  // Replaces metadata.ownerReferences of an object (merge patch, on its UID).
  core::Status set_owner_refs(const core::kube::Resource& r, const core::json::Value& obj,
                              const core::json::Value* add_ref, std::string_view drop_uid);

  core::kube::KubeClient& client_;
  Metrics& metrics_;
  ReplicasOptions opts_;
  const core::kube::Clock& clock_;
  ReplicaExpectations expectations_;
  std::unique_ptr<core::kube::EventRecorder> recorder_;
  core::kube::WorkQueue rs_queue_;
  core::kube::WorkQueue pool_queue_;
  std::unique_ptr<core::kube::Informer> replica_sets_, pools_, vmis_, vms_;
  std::vector<std::thread> workers_;
  std::atomic<bool> stopped_{false};
};

}  // namespace kv::controller
