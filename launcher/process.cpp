#include "launcher/process.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "core/log.hpp"
#include "core/process.hpp"

namespace kv::launcher {
using core::Errc;
using core::Error;
using core::Result;
using core::Status;
using namespace std::chrono_literals;

namespace {

struct Reaper {
  std::mutex mu;
  std::condition_variable exited_cv;   // a watched child was reaped
  std::condition_variable spawned_cv;  // a child exists again after ECHILD
  std::set<pid_t> watched;
  std::map<pid_t, int> exited;
  std::map<pid_t, Child::ExitHandler> exit_handlers;
  bool started = false;
};

Reaper& reaper() {
  static Reaper* r = new Reaper();  // never destroyed: the thread outlives static destruction
  return *r;
}

void reaper_loop() {
  auto& r = reaper();
  for (;;) {
    int status = 0;
    pid_t pid = waitpid(-1, &status, 0);
    if (pid > 0) {
      std::lock_guard l(r.mu);
      if (r.watched.erase(pid) > 0) {
        r.exited[pid] = status;
        r.exited_cv.notify_all();
        if (auto h = r.exit_handlers.extract(pid); !h.empty() && h.mapped())
          h.mapped()(status);
      }
      continue;
    }
    if (errno == EINTR)
      continue;
    // ECHILD: nothing to reap until the next spawn (or an adoption, which needs a live child
    // first; the timeout covers the rare case of a child exiting between the two).
    std::unique_lock l(r.mu);
    r.spawned_cv.wait_for(l, 200ms);
  }
}

// Forks and execs; out_fd (or /dev/null when < 0) becomes stdout and stderr.
Result<pid_t> spawn_fd(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                       int out_fd) {
  KV_CHECK(start_reaper());
  core::process::ExecSpec spec;
  spec.argv = argv;
  spec.env = env;
  spec.stdout_fd = spec.stderr_fd = out_fd;
  // A signal to the launcher's group must not reach libvirtd or a helper: the launcher decides
  // how they stop. And nothing it started may outlive it.
  spec.own_process_group = true;
  spec.die_with_parent = true;
  auto& r = reaper();
  // Held across fork so the reaper cannot collect the child before we watch it.
  std::lock_guard l(r.mu);
  auto pid = core::process::fork_exec(spec);
  if (pid.ok()) {
    r.watched.insert(*pid);
    r.spawned_cv.notify_all();
  }
  return pid;
}

Result<int> wait_pid(pid_t pid, std::chrono::milliseconds timeout) {
  auto& r = reaper();
  std::unique_lock l(r.mu);
  if (!r.exited_cv.wait_for(l, timeout, [&] { return r.exited.count(pid) > 0; }))
    return Error(Errc::timeout, "process did not exit in time").with("pid", std::to_string(pid));
  int st = r.exited[pid];
  r.exited.erase(pid);
  r.exit_handlers.erase(pid);
  return st;
}

}  // namespace

Status start_reaper() {
  auto& r = reaper();
  std::lock_guard l(r.mu);
  if (r.started)
    return {};
  if (getpid() != 1 && prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
    return core::errno_error("prctl(PR_SET_CHILD_SUBREAPER)", errno);
  std::thread(reaper_loop).detach();
  r.started = true;
  return {};
}

Child& Child::operator=(Child&& o) noexcept {
  if (this != &o) {
    if (pid_ > 0)
      stop(0ms);
    pid_ = std::exchange(o.pid_, -1);
  }
  return *this;
}

Child::~Child() {
  if (pid_ > 0)
    stop(0ms);
}

Result<int> Child::wait(std::chrono::milliseconds timeout) {
  if (pid_ <= 0)
    return Error(Errc::invalid, "wait: no such child");
  auto st = wait_pid(pid_, timeout);
  if (st.ok())
    pid_ = -1;
  return st;
}

bool Child::exited() const {
  if (pid_ <= 0)
    return true;
  auto& r = reaper();
  std::lock_guard l(r.mu);
  return r.exited.count(pid_) > 0;
}

void Child::signal(int sig) {
  if (pid_ <= 0)
    return;
  auto& r = reaper();
  std::lock_guard l(r.mu);  // the reaper records an exit under this lock
  if (r.exited.count(pid_) == 0)
    ::kill(pid_, sig);
}

void Child::on_exit(ExitHandler handler) {
  if (pid_ <= 0)
    return;
  auto& r = reaper();
  std::lock_guard l(r.mu);
  if (auto it = r.exited.find(pid_); it != r.exited.end()) {
    if (handler)
      handler(it->second);
    return;
  }
  if (handler)
    r.exit_handlers[pid_] = std::move(handler);
  else
    r.exit_handlers.erase(pid_);
}

void Child::stop(std::chrono::milliseconds grace) {
  if (pid_ <= 0)
    return;
  on_exit(nullptr);
  if (grace.count() > 0) {
    signal(SIGTERM);
    if (wait(grace).ok())
      return;
  }
  signal(SIGKILL);
  (void)wait(10s);
  pid_ = -1;
}

Result<Child> spawn(const SpawnOptions& opts) {
  int fd = -1;
  if (!opts.output_file.empty()) {
    fd = open(opts.output_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0)
      return core::errno_error("open " + opts.output_file, errno);
  }
  auto pid = spawn_fd(opts.argv, opts.env, fd);
  if (fd >= 0)
    close(fd);
  if (!pid.ok())
    return pid.error();
  return Child(*pid);
}

Result<RunResult> run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0)
    return core::errno_error("pipe", errno);
  auto pid = spawn_fd(argv, {}, p[1]);
  close(p[1]);
  if (!pid.ok()) {
    close(p[0]);
    return pid.error();
  }
  Child child(*pid);
  RunResult res;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string unused;
  if (!core::process::read_to_end(p[0], -1, res.output, unused, deadline, 64 * 1024).ok())
    return Error(Errc::timeout,
                 argv[0] + " did not finish within " + std::to_string(timeout.count()) + " ms");
  auto st = child.wait(std::max<std::chrono::milliseconds>(
      1ms, std::chrono::duration_cast<std::chrono::milliseconds>(
               deadline - std::chrono::steady_clock::now())));
  if (!st.ok())
    return st.error();
  res.exit_code = WIFEXITED(*st) ? WEXITSTATUS(*st) : -1;
  return res;
}

std::string describe_wait_status(int status) {
  if (WIFEXITED(status))
    return "exited with " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status))
    return "killed by signal " + std::to_string(WTERMSIG(status));
  return "ended with wait status " + std::to_string(status);
}

void kill_remaining_children(std::chrono::milliseconds grace) {
  auto children = [] {
    std::vector<pid_t> out;
    pid_t self = getpid();
    DIR* d = opendir("/proc");
    if (!d)
      return out;
    while (dirent* e = readdir(d)) {
      char* end = nullptr;
      long pid = std::strtol(e->d_name, &end, 10);
      if (*end != '\0' || pid <= 0)
        continue;
      std::string path = "/proc/" + std::string(e->d_name) + "/stat";
      FILE* f = fopen(path.c_str(), "re");
      if (!f)
        continue;
      char buf[512];
      size_t n = fread(buf, 1, sizeof buf - 1, f);
      fclose(f);
      buf[n] = '\0';
      // "pid (comm) state ppid ...": comm may hold spaces, so parse after the last ')'.
      const char* rp = std::strrchr(buf, ')');
      char state = 0;
      long ppid = 0;
      if (rp && std::sscanf(rp + 1, " %c %ld", &state, &ppid) == 2 && ppid == self && state != 'Z')
        out.push_back(static_cast<pid_t>(pid));
    }
    closedir(d);
    return out;
  };
  auto pids = children();
  if (pids.empty())
    return;
  for (pid_t p : pids) {
    core::log::warn("stopping a leftover child process", {{"pid", std::to_string(p)}});
    ::kill(p, SIGTERM);
  }
  auto deadline = std::chrono::steady_clock::now() + grace;
  while (std::chrono::steady_clock::now() < deadline && !children().empty())
    std::this_thread::sleep_for(20ms);
  for (pid_t p : children())
    ::kill(p, SIGKILL);
}

}  // namespace kv::launcher
