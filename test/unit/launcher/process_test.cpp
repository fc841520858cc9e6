// The reaper's exit handlers (process.hpp): how the launcher learns that libvirtd died.
#include "launcher/process.hpp"

#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <future>
#include <optional>
#include <thread>

using namespace kv::launcher;
using namespace std::chrono_literals;

namespace {
Child spawn_sleep() {
  REQUIRE(start_reaper().ok());
  auto c = spawn({{"sleep", "30"}, {}, ""});
  REQUIRE(c.ok());
  return std::move(*c);
}
}  // namespace

TEST_CASE("a child killed from outside: the exit handler gets its wait status, once") {
  Child c = spawn_sleep();
  std::promise<int> status;
  int calls = 0;
  c.on_exit([&](int st) {
    ++calls;
    status.set_value(st);
  });
  CHECK_FALSE(c.exited());
  REQUIRE(::kill(c.pid(), SIGKILL) == 0);
  auto f = status.get_future();
  REQUIRE(f.wait_for(10s) == std::future_status::ready);
  int st = f.get();
  CHECK(WIFSIGNALED(st));
  CHECK(WTERMSIG(st) == SIGKILL);
  CHECK(describe_wait_status(st) == "killed by signal 9");
  // Still waitable, with the same status; no second call.
  CHECK(c.exited());
  auto w = c.wait(1s);
  REQUIRE(w.ok());
  CHECK(*w == st);
  CHECK(calls == 1);
}

TEST_CASE("a handler set after the child exited is called at once") {
  auto c = spawn({{"sh", "-c", "exit 3"}, {}, ""});
  REQUIRE(c.ok());
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!c->exited() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  REQUIRE(c->exited());
  std::optional<int> got;
  c->on_exit([&](int st) { got = st; });
  REQUIRE(got);
  CHECK(WIFEXITED(*got));
  CHECK(WEXITSTATUS(*got) == 3);
}

TEST_CASE("stop() is not news: the handler is not called") {
  Child c = spawn_sleep();
  std::atomic<int> calls{0};
  c.on_exit([&](int) { ++calls; });
  c.stop(1s);
  CHECK_FALSE(c.running());
  CHECK(calls == 0);
}
