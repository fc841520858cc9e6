#pragma once
// A Clock that moves only when the test calls advance(). Waiters registered through wait_until
// are woken on every advance so they re-check their deadlines.

#include <algorithm>
#include <utility>
#include <vector>

#include "core/kube/clock.hpp"

namespace kv::test {

class FakeClock final : public core::kube::Clock {
 public:
  time_point now() const override {
    std::lock_guard lock(mu_);
    return now_;
  }
  std::chrono::system_clock::time_point wall_now() const override {
    std::lock_guard lock(mu_);
    return wall_ + (now_ - time_point{});
  }
  void wait_until(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                  time_point deadline) const override {
    {
      std::lock_guard g(mu_);
      if (now_ >= deadline)
        return;
      waiters_.emplace_back(lock.mutex(), &cv);
      generations_.push_back(generation_);
      ++waiting_;
    }
    cv.wait(lock);  // woken by advance() (which takes this mutex first) or by the owner
    std::lock_guard g(mu_);
    auto it = std::find(waiters_.begin(), waiters_.end(), std::make_pair(lock.mutex(), &cv));
    if (it != waiters_.end()) {
      generations_.erase(generations_.begin() + (it - waiters_.begin()));
      waiters_.erase(it);
    }
    --waiting_;
  }
  void advance(duration d) {
    std::vector<std::pair<std::mutex*, std::condition_variable*>> ws;
    {
      std::lock_guard lock(mu_);
      now_ += d;
      ++generation_;
      ws = waiters_;
    }
    for (auto& [m, cv] : ws) {
      std::lock_guard l(*m);  // the waiter holds m until it is inside cv.wait: no lost wake-up
      cv->notify_all();
    }
  }
  // Threads currently blocked in wait_until (tests wait for this to know a loop is idle).
  int waiting() const {
    std::lock_guard lock(mu_);
    return waiting_;
  }
  // Threads that went back to waiting since the last advance(): once this reaches the number of
  // threads using the clock, all of them have reacted to the last step.
  int settled() const {
    std::lock_guard lock(mu_);
    return static_cast<int>(std::count(generations_.begin(), generations_.end(), generation_));
  }

 private:
  mutable std::mutex mu_;
  time_point now_{std::chrono::hours(1000)};
  std::chrono::system_clock::time_point wall_{std::chrono::seconds(1700000000)};
  mutable std::vector<std::pair<std::mutex*, std::condition_variable*>> waiters_;
  mutable int waiting_ = 0;
  mutable std::vector<uint64_t> generations_;  // parallel to waiters_: advance() count at entry
  uint64_t generation_ = 0;
};

}  // namespace kv::test
