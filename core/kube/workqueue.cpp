#include "core/kube/workqueue.hpp"

#include <algorithm>
#include <cmath>

namespace kv::core::kube {

WorkQueue::WorkQueue(const Clock& clock, WorkQueueOptions opts) : clock_(clock), opts_(opts) {}

WorkQueue::~WorkQueue() {
  shut_down();
}

void WorkQueue::add_locked(const std::string& key) {
  if (shutting_down_ || dirty_.count(key))
    return;
  dirty_.insert(key);
  if (processing_.count(key))
    return;  // re-queued by done()
  queue_.push_back(key);
  cv_.notify_one();
}

void WorkQueue::add(const std::string& key) {
  std::lock_guard lock(mu_);
  add_locked(key);
}

void WorkQueue::add_after(const std::string& key, Clock::duration delay) {
  std::lock_guard lock(mu_);
  if (shutting_down_)
    return;
  if (delay <= Clock::duration::zero()) {
    add_locked(key);
    return;
  }
  auto at = clock_.now() + delay;
  auto it = waiting_at_.find(key);
  if (it != waiting_at_.end()) {
    if (it->second <= at)
      return;  // already due earlier
    auto range = waiting_.equal_range(it->second);
    for (auto w = range.first; w != range.second; ++w) {
      if (w->second == key) {
        waiting_.erase(w);
        break;
      }
    }
  }
  waiting_.emplace(at, key);
  waiting_at_[key] = at;
  cv_.notify_all();  // a getter may need to wake earlier
}

Clock::duration WorkQueue::backoff_locked(const std::string& key) const {
  auto it = failures_.find(key);
  int n = it == failures_.end() ? 0 : it->second;
  // base * 2^n, computed in double to avoid overflow, capped at max_delay.
  double ms = static_cast<double>(opts_.base_delay.count()) * std::pow(2.0, std::min(n, 62));
  double cap = static_cast<double>(opts_.max_delay.count());
  return std::chrono::duration_cast<Clock::duration>(
      std::chrono::milliseconds(static_cast<int64_t>(std::min(ms, cap))));
}

Clock::duration WorkQueue::next_backoff(const std::string& key) const {
  std::lock_guard lock(mu_);
  return backoff_locked(key);
}

void WorkQueue::add_rate_limited(const std::string& key) {
  Clock::duration d;
  {
    std::lock_guard lock(mu_);
    d = backoff_locked(key);
    ++failures_[key];
  }
  add_after(key, d);
}

void WorkQueue::forget(const std::string& key) {
  std::lock_guard lock(mu_);
  failures_.erase(key);
}

int WorkQueue::num_requeues(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = failures_.find(key);
  return it == failures_.end() ? 0 : it->second;
}

void WorkQueue::promote_ready_locked() {
  auto now = clock_.now();
  while (!waiting_.empty() && waiting_.begin()->first <= now) {
    std::string key = waiting_.begin()->second;
    waiting_.erase(waiting_.begin());
    waiting_at_.erase(key);
    add_locked(key);
  }
}

std::optional<std::string> WorkQueue::try_get() {
  std::lock_guard lock(mu_);
  promote_ready_locked();
  if (queue_.empty())
    return std::nullopt;
  std::string key = std::move(queue_.front());
  queue_.pop_front();
  processing_.insert(key);
  dirty_.erase(key);
  return key;
}

std::optional<std::string> WorkQueue::get() {
  std::unique_lock lock(mu_);
  while (true) {
    promote_ready_locked();
    if (!queue_.empty()) {
      std::string key = std::move(queue_.front());
      queue_.pop_front();
      processing_.insert(key);
      dirty_.erase(key);
      return key;
    }
    if (shutting_down_)
      return std::nullopt;
    auto deadline =
        waiting_.empty() ? clock_.now() + std::chrono::hours(24) : waiting_.begin()->first;
    clock_.wait_until(lock, cv_, deadline);
  }
}

void WorkQueue::done(const std::string& key) {
  std::lock_guard lock(mu_);
  processing_.erase(key);
  if (dirty_.count(key)) {
    queue_.push_back(key);
    cv_.notify_one();
  }
}

void WorkQueue::shut_down() {
  std::lock_guard lock(mu_);
  shutting_down_ = true;
  cv_.notify_all();
}

bool WorkQueue::shutting_down() const {
  std::lock_guard lock(mu_);
  return shutting_down_;
}

size_t WorkQueue::len() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

size_t WorkQueue::delayed() const {
  std::lock_guard lock(mu_);
  return waiting_.size();
}

}  // namespace kv::core::kube
