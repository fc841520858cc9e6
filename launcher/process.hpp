#pragma once
// Child processes of the launcher, and the reaper that collects them.
//
// The launcher is a child subreaper (or PID 1 in its container): libvirtd double-forks QEMU and
// waits until QEMU's PID is reaped, so orphans re-parented to us must be reaped at once, or every
// destroy/shutdown costs seconds (notes/host-facts.md). One thread blocks in waitpid(-1) and
// records the statuses of the children we spawned; orphans are reaped and forgotten.

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/result.hpp"

namespace kv::launcher {

// Starts the reaper thread and makes this process a child subreaper. Call once, early in main,
// before any child exists. Idempotent.
core::Status start_reaper();

struct SpawnOptions {
  std::vector<std::string> argv;
  // Environment as NAME=value; empty = inherit ours.
  std::vector<std::string> env;
  // Where the child's stdout and stderr go; empty = /dev/null. Opened for append.
  std::string output_file;
};

// A spawned child; the destructor kills (SIGKILL) and reaps it if it still runs.
class Child {
 public:
  Child() = default;
  explicit Child(pid_t pid) : pid_(pid) {}
  Child(Child&& o) noexcept : pid_(std::exchange(o.pid_, -1)) {}
  Child& operator=(Child&& o) noexcept;
  ~Child();

  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }
  // Waits for the child to exit; returns its wait status (as from waitpid), or Errc::timeout.
  core::Result<int> wait(std::chrono::milliseconds timeout);
  // True once the reaper has collected the child (wait() then returns its status at once).
  bool exited() const;
  // Sends a signal (no-op after the child was reaped: its PID may belong to another process).
  void signal(int sig);
  // SIGTERM, wait up to `grace`, then SIGKILL and wait. Removes the exit handler first: a stop we
  // asked for is not news.
  void stop(std::chrono::milliseconds grace);

  // Called once with the wait status when the child exits (at once if it already has), on the
  // reaper thread with the reaper's lock held: it must only hand the status over (post it), never
  // spawn or wait. Replaces an earlier handler; an empty function removes it. The child stays
  // waitable.
  using ExitHandler = std::function<void(int wait_status)>;
  void on_exit(ExitHandler handler);

 private:
  pid_t pid_ = -1;
};

core::Result<Child> spawn(const SpawnOptions& opts);

struct RunResult {
  int exit_code = -1;  // -1 when killed by a signal
  std::string output;  // stdout and stderr together
};

// Runs a helper to completion (qemu-img, genisoimage). Errc::timeout after `timeout`.
core::Result<RunResult> run(const std::vector<std::string>& argv,
                            std::chrono::milliseconds timeout = std::chrono::seconds(60));

// Describes a wait status for logs and errors: "exited with 1", "killed by signal 9".
std::string describe_wait_status(int status);

// Kills every remaining direct child of this process (orphans we adopted included) and reaps
// them. For the very end of run(): nothing the launcher started may outlive it.
void kill_remaining_children(std::chrono::milliseconds grace);

}  // namespace kv::launcher
