#pragma once
// When the pod's private libvirtd goes away (killed, crashed, or hung until a connection's
// keepalive gave up), the launcher starts it again with the same directories and reconnects;
// QEMU runs on meanwhile and the new daemon re-attaches to it from the status XML in its run
// directory (as upstream's virt-launcher restarts its virtqemud). This is the policy: how soon,
// how often, and when to give up. Pure: the launcher passes the time in and carries the
// decisions out.
//
//            lost                       restarted
//    up ------------> restarting(n) ------------------> up
//                       |     ^
//        restart failed |     | after backoff(n + 1)
//        and n < max    v     |
//                     waiting(n)
//                       |
//       n == max        v
//                     gave_up    the VM ends as failed (domain_lifecycle.hpp: connection_lost)
//
//  - n counts the restarts since the daemon last stayed up for `stable_after`: a daemon that
//    dies right after each restart runs out of attempts as surely as one that never starts.
//  - The first restart is immediate (the VM is unmanaged until it is back); later ones wait
//    first_backoff, doubling up to max_backoff: 0, 1, 2, 4, 8 s with the defaults.

#include <chrono>

namespace kv::launcher {

struct RestartPolicy {
  int max_attempts = 5;
  std::chrono::milliseconds first_backoff{1000};
  std::chrono::milliseconds max_backoff{8000};
  std::chrono::seconds stable_after{60};
};

struct RestartDecision {
  bool give_up = false;
  int attempt = 0;                     // 1-based number of the restart to make
  std::chrono::milliseconds delay{0};  // wait this long, then restart
};

class LibvirtdRestarts {
 public:
  using Clock = std::chrono::steady_clock;
  enum class State { up, restarting, gave_up };

  explicit LibvirtdRestarts(RestartPolicy policy = {}) : policy_(policy) {}

  // The daemon was found gone while up. Precondition: state() == up.
  RestartDecision lost(Clock::time_point now);
  // The restart just attempted failed. Precondition: state() == restarting.
  RestartDecision failed();
  // The restart just attempted worked: the daemon answers and we reconnected.
  void restarted(Clock::time_point now);

  State state() const { return state_; }
  int attempts() const { return attempts_; }
  const RestartPolicy& policy() const { return policy_; }

 private:
  RestartDecision next();

  RestartPolicy policy_;
  State state_ = State::up;
  int attempts_ = 0;
  Clock::time_point up_since_{};
};

}  // namespace kv::launcher
