#pragma once
// fork + exec, once for the whole tree: the launcher's children (libvirtd, qemu-img, genisoimage)
// and kubeconfig exec credential plugins start through here. Waiting is the caller's: the
// launcher reaps through its subreaper thread, the Kubernetes client with waitpid on its pid.

#include <sys/types.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "core/result.hpp"

namespace kv::core::process {

struct ExecSpec {
  std::vector<std::string> argv;  // argv[0] is looked up in PATH
  // The whole environment, as NAME=value; empty: the child inherits ours.
  std::vector<std::string> env;
  // The child's standard streams; -1 is /dev/null. The same descriptor may serve several.
  int stdin_fd = -1, stdout_fd = -1, stderr_fd = -1;
  // A process group of its own: a signal to our group (Ctrl-C, `timeout`) does not reach it.
  bool own_process_group = false;
  // SIGTERM when this thread's process dies (PR_SET_PDEATHSIG).
  bool die_with_parent = false;
};

// Our environment with `overrides` replacing or adding variables, as NAME=value strings.
std::vector<std::string> environment_with(
    const std::vector<std::pair<std::string, std::string>>& overrides);

// Forks and execs `spec`; returns the child's pid. The child closes every other descriptor,
// clears its signal mask and sets SIGPIPE back to its default (a parent may ignore it); when exec
// fails it writes "exec failed" to its stderr and exits 127.
// Call under whatever lock must see the pid before anyone can reap it.
Result<pid_t> fork_exec(const ExecSpec& spec);

// Reads `out_fd` (and `err_fd` when >= 0) until both reach end of file, keeping at most
// `max_bytes` of each; closes them. Errc::timeout at `deadline` (descriptors closed too).
Status read_to_end(int out_fd, int err_fd, std::string& out, std::string& err,
                   std::chrono::steady_clock::time_point deadline,
                   size_t max_bytes = 16 * 1024 * 1024);

}  // namespace kv::core::process
