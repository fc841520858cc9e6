#include "launcher/libvirtd_restart.hpp"

#include <catch2/catch.hpp>

using namespace kv::launcher;
using namespace std::chrono_literals;
using State = LibvirtdRestarts::State;

namespace {
const LibvirtdRestarts::Clock::time_point t0{std::chrono::hours(1)};
}

TEST_CASE("the first restart is immediate; failures back off, doubling, then give up") {
  LibvirtdRestarts r;  // 5 attempts, 1 s doubling to 8 s
  auto d = r.lost(t0);
  CHECK_FALSE(d.give_up);
  CHECK(d.attempt == 1);
  CHECK(d.delay == 0ms);
  CHECK(r.state() == State::restarting);
  std::vector<std::chrono::milliseconds> delays;
  for (;;) {
    d = r.failed();
    if (d.give_up)
      break;
    delays.push_back(d.delay);
  }
  CHECK(delays == std::vector<std::chrono::milliseconds>{1000ms, 2000ms, 4000ms, 8000ms});
  CHECK(d.attempt == 5);
  CHECK(r.state() == State::gave_up);
}

TEST_CASE("the backoff never exceeds its cap") {
  RestartPolicy p;
  p.max_attempts = 8;
  p.first_backoff = 1s;
  p.max_backoff = 3s;
  LibvirtdRestarts r(p);
  r.lost(t0);
  std::vector<std::chrono::milliseconds> delays;
  for (auto d = r.failed(); !d.give_up; d = r.failed())
    delays.push_back(d.delay);
  CHECK(delays == std::vector<std::chrono::milliseconds>{1s, 2s, 3s, 3s, 3s, 3s, 3s});
}

TEST_CASE("a restart that works brings the daemon back up") {
  LibvirtdRestarts r;
  r.lost(t0);
  r.restarted(t0 + 1s);
  CHECK(r.state() == State::up);
}

TEST_CASE("a daemon that dies again soon after each restart runs out of attempts") {
  LibvirtdRestarts r;
  auto now = t0;
  RestartDecision d;
  int restarts = 0;
  for (;;) {
    d = r.lost(now);
    if (d.give_up)
      break;
    now += d.delay;
    r.restarted(now);
    ++restarts;
    now += 10s;  // up for 10 s, less than stable_after (60 s), then gone again
  }
  CHECK(restarts == 5);
  CHECK(r.state() == State::gave_up);
}

TEST_CASE("a daemon that stayed up long enough gets a fresh count") {
  LibvirtdRestarts r;
  auto now = t0;
  for (int i = 0; i < 20; ++i) {
    auto d = r.lost(now);
    REQUIRE_FALSE(d.give_up);
    CHECK(d.attempt == 1);
    CHECK(d.delay == 0ms);
    r.restarted(now);
    now += 60s;  // stable_after
  }
}
