#pragma once
// Clock: the seam for time in the work queue's backoff, the informer's resync and leader election,
// so unit tests can drive time with a fake instead of sleeping.

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace kv::core::kube {

class Clock {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  using duration = std::chrono::steady_clock::duration;

  virtual ~Clock() = default;
  // Monotonic time: for deadlines and backoff.
  virtual time_point now() const = 0;
  // Wall-clock time: for timestamps written to the API (Lease renewTime, Event lastTimestamp).
  virtual std::chrono::system_clock::time_point wall_now() const = 0;
  // Waits on cv (lock held by the caller, as for cv.wait_until) until `deadline` on this clock
  // passes or cv is notified. May return early (spuriously); callers re-check their condition.
  virtual void wait_until(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                          time_point deadline) const = 0;
};

class RealClock final : public Clock {
 public:
  time_point now() const override { return std::chrono::steady_clock::now(); }
  std::chrono::system_clock::time_point wall_now() const override {
    return std::chrono::system_clock::now();
  }
  void wait_until(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                  time_point deadline) const override {
    cv.wait_until(lock, deadline);
  }
};

// The process-wide real clock (stateless; safe from any thread).
inline const Clock& real_clock() {
  static const RealClock clock;
  return clock;
}

}  // namespace kv::core::kube
