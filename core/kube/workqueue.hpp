#pragma once
// WorkQueue: the controller's queue of object keys ("ns/name"), as client-go's rate-limited
// work queue:
//   - dedupe: a key added many times before a worker takes it is processed once;
//   - at most one worker per key: a key re-added while being processed waits until done(key),
//     then is queued again;
//   - rate-limited retries: add_rate_limited(key) waits base * 2^failures (capped) before the
//     key is queued again; forget(key) resets the count after a success;
//   - add_after(key, d) for timed requeues.
// Thread-safe. Time comes from a Clock so tests drive backoff with a fake.

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "core/kube/clock.hpp"

namespace kv::core::kube {

struct WorkQueueOptions {
  std::chrono::milliseconds base_delay{5};
  std::chrono::milliseconds max_delay{std::chrono::seconds(1000)};
};

class WorkQueue {
 public:
  explicit WorkQueue(const Clock& clock = real_clock(), WorkQueueOptions opts = {});
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  // Queues key now (no-op if already queued; deferred if being processed).
  void add(const std::string& key);
  // Queues key once delay has passed (the earliest pending time wins).
  void add_after(const std::string& key, Clock::duration delay);
  // Queues key after its exponential backoff and counts a failure.
  void add_rate_limited(const std::string& key);
  // The delay add_rate_limited would use next for key (for logs and tests).
  Clock::duration next_backoff(const std::string& key) const;
  // Clears key's failure count (call after it was processed successfully).
  void forget(const std::string& key);
  int num_requeues(const std::string& key) const;

  // Blocks until a key is ready and returns it, marking it in processing; nullopt once
  // shut_down() was called and no key is ready.
  std::optional<std::string> get();
  // Non-blocking get(): nullopt when nothing is ready now.
  std::optional<std::string> try_get();
  // Must be called once for every key returned by get().
  void done(const std::string& key);
  // Wakes all get() callers; later adds are ignored.
  void shut_down();
  bool shutting_down() const;

  // Keys ready to be handed out (not counting delayed or in-processing keys).
  size_t len() const;
  // Keys waiting for a delay to pass.
  size_t delayed() const;

 private:
  void add_locked(const std::string& key);
  void promote_ready_locked();
  Clock::duration backoff_locked(const std::string& key) const;

  const Clock& clock_;
  WorkQueueOptions opts_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;
  std::unordered_set<std::string> dirty_;       // queued or to be re-queued after done()
  std::unordered_set<std::string> processing_;  // handed out, done() not called yet
  std::multimap<Clock::time_point, std::string> waiting_;
  std::unordered_map<std::string, Clock::time_point> waiting_at_;
  std::unordered_map<std::string, int> failures_;
  bool shutting_down_ = false;
};

}  // namespace kv::core::kube
