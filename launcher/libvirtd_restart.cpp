#include "launcher/libvirtd_restart.hpp"

#include <algorithm>

namespace kv::launcher {

RestartDecision LibvirtdRestarts::lost(Clock::time_point now) {
  // Up long enough since the last restart: this loss starts a fresh count.
  if (attempts_ > 0 && now - up_since_ >= policy_.stable_after)
    attempts_ = 0;
  return next();
}

RestartDecision LibvirtdRestarts::failed() {
  return next();
}

void LibvirtdRestarts::restarted(Clock::time_point now) {
  state_ = State::up;
  up_since_ = now;
}

RestartDecision LibvirtdRestarts::next() {
  if (attempts_ >= policy_.max_attempts) {
    state_ = State::gave_up;
    return RestartDecision{true, attempts_, std::chrono::milliseconds(0)};
  }
  ++attempts_;
  state_ = State::restarting;
  std::chrono::milliseconds delay(0);
  if (attempts_ > 1) {
    delay = policy_.first_backoff;
    for (int i = 2; i < attempts_ && delay < policy_.max_backoff; ++i)
      delay *= 2;
    delay = std::min(delay, policy_.max_backoff);
  }
  return RestartDecision{false, attempts_, delay};
}

}  // namespace kv::launcher
