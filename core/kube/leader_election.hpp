#pragma once
// Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection:
//
//   FOLLOWING --(lease free, expired, or ours)--> LEADING --(renew failed for renew_deadline,
//       ^            try every retry_period         |        or stop())--> STOPPED
//       +-----------------------------------------------+   (release on stop: holder cleared)
//
// A lease held by someone else counts as expired when its record has not changed for
// lease_duration as observed on OUR clock (never comparing the holder's timestamps with our
// clock, so clock skew between nodes cannot make two leaders).

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

#include "core/kube/client.hpp"
#include "core/kube/clock.hpp"

namespace kv::core::kube {

// The spec of a Lease as leader election uses it.
struct LeaseRecord {
  std::string holder;
  int lease_duration_seconds = 0;
  std::string acquire_time;  // MicroTime, RFC 3339 with microseconds
  std::string renew_time;
  int lease_transitions = 0;
  bool operator==(const LeaseRecord& o) const {
    return holder == o.holder && lease_duration_seconds == o.lease_duration_seconds &&
           acquire_time == o.acquire_time && renew_time == o.renew_time &&
           lease_transitions == o.lease_transitions;
  }
};

// Reads spec of a Lease object (missing fields: zero values).
LeaseRecord lease_record_from(const json::Value& lease);
// Writes record into lease.spec.
void lease_record_to(const LeaseRecord& r, json::Value& lease, json::Allocator& a);

// The pure decision: may `identity` write the lease now?
//   current: the lease as read; observed_at: when we last saw current change (our clock).
// Returns true when the lease is free (no holder), held by identity, or its holder has not renewed
// for its lease duration (or `lease_duration` when the record carries none).
bool may_acquire(const LeaseRecord& current, Clock::time_point observed_at, Clock::time_point now,
                 const std::string& identity, std::chrono::seconds lease_duration);

struct LeaderElectionConfig {
  std::string lease_namespace;
  std::string lease_name;
  std::string identity;  // unique per process, e.g. pod name + random suffix
  std::chrono::milliseconds lease_duration{std::chrono::seconds(15)};
  std::chrono::milliseconds renew_deadline{std::chrono::seconds(10)};
  std::chrono::milliseconds retry_period{std::chrono::seconds(2)};
  bool release_on_stop = true;
  // Called on the elector's thread; must return promptly (start work on another thread).
  std::function<void()> on_started_leading;
  std::function<void()> on_stopped_leading;
  std::function<void(const std::string& leader)> on_new_leader;
  const Clock* clock = nullptr;  // null: the real clock
};

class LeaderElector {
 public:
  LeaderElector(KubeClient& client, LeaderElectionConfig config);
  // Validates the config: durations must satisfy lease_duration > renew_deadline > retry_period.
  static Status validate(const LeaderElectionConfig& c);

  // Blocks: tries to acquire until it leads or stop(); then renews until renewal fails for
  // renew_deadline or stop(). Returns after on_stopped_leading (when it had led). Run once.
  void run();
  // Thread-safe: ends run() promptly, releasing the lease when leading and release_on_stop.
  void stop();
  bool is_leader() const;
  // The holder last observed ("" when none).
  std::string leader() const;

 private:
  // One attempt to acquire or renew; true when we hold the lease afterwards.
  bool try_acquire_or_renew();
  void release();
  // Waits d on the clock; false when stopped meanwhile.
  bool sleep(Clock::duration d);

  KubeClient& client_;
  LeaderElectionConfig cfg_;
  const Clock& clock_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;
  bool leading_ = false;
  std::optional<LeaseRecord> observed_;
  Clock::time_point observed_at_{};
  std::string observed_rv_;
  std::string leader_;
};

}  // namespace kv::core::kube
