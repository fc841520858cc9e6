#include "core/process.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <csignal>

using namespace kv::core;
using namespace std::chrono_literals;

namespace {

struct Ran {
  int exit_code = -1;
  std::string out, err;
};

// Runs spec with stdout and stderr on pipes, to the end.
Ran run(process::ExecSpec spec) {
  int out[2], err[2];
  REQUIRE(pipe2(out, O_CLOEXEC) == 0);
  REQUIRE(pipe2(err, O_CLOEXEC) == 0);
  spec.stdout_fd = out[1];
  spec.stderr_fd = err[1];
  auto pid = process::fork_exec(spec);
  close(out[1]);
  close(err[1]);
  REQUIRE(pid.ok());
  Ran r;
  REQUIRE(process::read_to_end(out[0], err[0], r.out, r.err, std::chrono::steady_clock::now() + 10s)
              .ok());
  int status = 0;
  REQUIRE(waitpid(*pid, &status, 0) == *pid);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace

TEST_CASE("fork_exec: the child's output, exit code and environment reach the caller") {
  process::ExecSpec s;
  s.argv = {"sh", "-c", "echo out; echo err >&2; echo \"$KV_PROCESS_TEST\"; exit 3"};
  s.env = process::environment_with({{"KV_PROCESS_TEST", "overridden"}});
  auto r = run(s);
  CHECK(r.exit_code == 3);
  CHECK(r.out == "out\noverridden\n");
  CHECK(r.err == "err\n");
}

TEST_CASE("fork_exec: a command that cannot be executed exits 127 saying so") {
  process::ExecSpec s;
  s.argv = {"/nonexistent/kv-no-such-program"};
  auto r = run(s);
  CHECK(r.exit_code == 127);
  CHECK(r.err == "exec failed\n");
  process::ExecSpec empty;
  CHECK(process::fork_exec(empty).error().code == Errc::invalid);
}

TEST_CASE("environment_with: replaces a variable once and keeps the rest") {
  setenv("KV_PROCESS_KEEP", "1", 1);
  setenv("KV_PROCESS_SWAP", "old", 1);
  auto env = process::environment_with({{"KV_PROCESS_SWAP", "new"}});
  CHECK(std::count(env.begin(), env.end(), "KV_PROCESS_KEEP=1") == 1);
  CHECK(std::count(env.begin(), env.end(), "KV_PROCESS_SWAP=new") == 1);
  CHECK(std::count(env.begin(), env.end(), "KV_PROCESS_SWAP=old") == 0);
}

TEST_CASE("read_to_end: a child that keeps its output open ends in a timeout") {
  int out[2];
  REQUIRE(pipe2(out, O_CLOEXEC) == 0);
  process::ExecSpec s;
  s.argv = {"sleep", "30"};
  s.stdout_fd = out[1];
  auto pid = process::fork_exec(s);
  close(out[1]);
  REQUIRE(pid.ok());
  std::string o, e;
  auto st = process::read_to_end(out[0], -1, o, e, std::chrono::steady_clock::now() + 200ms);
  CHECK(st.error().code == Errc::timeout);
  kill(*pid, SIGKILL);
  waitpid(*pid, nullptr, 0);
}
