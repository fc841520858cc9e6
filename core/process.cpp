#include "core/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

extern char** environ;

namespace kv::core::process {

namespace {

// Closes every descriptor >= 3 in a freshly forked child.
void close_inherited_fds() {
#ifdef SYS_close_range
  if (syscall(SYS_close_range, 3U, ~0U, 0U) == 0)
    return;
#endif
  long max = sysconf(_SC_OPEN_MAX);
  for (int fd = 3; fd < max; ++fd)
    close(fd);
}

}  // namespace

std::vector<std::string> environment_with(
    const std::vector<std::pair<std::string, std::string>>& overrides) {
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string_view s(*e);
    bool overridden = false;
    for (const auto& [k, v] : overrides)
      if (s.size() > k.size() && s.substr(0, k.size()) == k && s[k.size()] == '=')
        overridden = true;
    if (!overridden)
      env.emplace_back(s);
  }
  for (const auto& [k, v] : overrides)
    env.push_back(k + "=" + v);
  return env;
}

Result<pid_t> fork_exec(const ExecSpec& spec) {
  if (spec.argv.empty())
    return Error(Errc::invalid, "fork_exec: empty argv");
  // Everything the child needs is built before fork: only async-signal-safe calls after it.
  std::vector<char*> cargv;
  for (const auto& a : spec.argv)
    cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  std::vector<char*> cenv;
  for (const auto& e : spec.env)
    cenv.push_back(const_cast<char*>(e.c_str()));
  cenv.push_back(nullptr);
  int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull < 0)
    return errno_error("open /dev/null", errno);
  const int in = spec.stdin_fd >= 0 ? spec.stdin_fd : devnull;
  const int out = spec.stdout_fd >= 0 ? spec.stdout_fd : devnull;
  const int err = spec.stderr_fd >= 0 ? spec.stderr_fd : devnull;
  const pid_t parent = getpid();

  pid_t pid = fork();
  if (pid == 0) {
    if (spec.own_process_group)
      setpgid(0, 0);
    if (spec.die_with_parent) {
      prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (getppid() != parent)
        _exit(127);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    // An ignored signal stays ignored across exec: a parent that ignores SIGPIPE (virt-launcher
    // and virt-handler do, for libvirt and their sockets) must not pass that on.
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    sigaction(SIGPIPE, &dfl, nullptr);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    close_inherited_fds();
    if (spec.env.empty())
      execvp(cargv[0], cargv.data());
    else
      execvpe(cargv[0], cargv.data(), cenv.data());
    const char msg[] = "exec failed\n";
    ssize_t ignored = write(2, msg, sizeof msg - 1);
    (void)ignored;
    _exit(127);
  }
  const int fork_errno = errno;
  close(devnull);
  if (pid < 0)
    return errno_error("fork", fork_errno);
  return pid;
}

Status read_to_end(int out_fd, int err_fd, std::string& out, std::string& err,
                   std::chrono::steady_clock::time_point deadline, size_t max_bytes) {
  pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
  int open_fds = err_fd >= 0 ? 2 : 1;
  bool timed_out = false;
  while (open_fds > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    int n = poll(fds, 2, static_cast<int>(left));
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
        continue;
      char buf[4096];
      ssize_t r = read(fds[i].fd, buf, sizeof buf);
      if (r > 0) {
        std::string& sink = i == 0 ? out : err;
        if (sink.size() < max_bytes)
          sink.append(buf, std::min(static_cast<size_t>(r), max_bytes - sink.size()));
      } else if (r == 0 || (r < 0 && errno != EINTR)) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (auto& f : fds)
    if (f.fd >= 0)
      close(f.fd);
  if (timed_out)
    return Error(Errc::timeout, "the output did not end in time");
  return {};
}

}  // namespace kv::core::process
