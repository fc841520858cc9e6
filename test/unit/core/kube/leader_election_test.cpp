#include "core/kube/leader_election.hpp"

#include <catch2/catch.hpp>
#include <thread>

#include "test/fakes/fake_clock.hpp"
#include "test/fakes/fake_kube_client.hpp"
#include "test/support/kube_test_util.hpp"

using namespace std::chrono_literals;
using namespace kv::core::kube;
using kv::test::FakeClock;
using kv::test::FakeKubeClient;
using kv::test::wait_for;

TEST_CASE("may_acquire: free, own, or expired by our own observation") {
  Clock::time_point t0{std::chrono::hours(1)};
  LeaseRecord other{"b", 15, "", "", 0};
  CHECK(may_acquire({"", 15, "", "", 0}, t0, t0, "a", 15s));
  CHECK(may_acquire({"a", 15, "", "", 0}, t0, t0, "a", 15s));
  CHECK_FALSE(may_acquire(other, t0, t0 + 14s, "a", 15s));
  CHECK(may_acquire(other, t0, t0 + 15s, "a", 15s));
  // A released lease (duration 1s) can be taken almost at once.
  CHECK(may_acquire({"b", 1, "", "", 0}, t0, t0 + 1s, "a", 15s));
}

TEST_CASE("leader election: validate rejects inconsistent durations") {
  LeaderElectionConfig c;
  c.lease_namespace = "ns";
  c.lease_name = "l";
  c.identity = "a";
  CHECK(LeaderElector::validate(c).ok());
  c.renew_deadline = 20s;
  CHECK_FALSE(LeaderElector::validate(c).ok());
}

namespace {
struct Candidate {
  std::atomic<bool> leading{false};
  std::atomic<int> started{0}, stopped{0};
  std::unique_ptr<LeaderElector> elector;
  std::thread thread;
  Candidate(FakeKubeClient& client, FakeClock& clock, const std::string& id, bool release = true) {
    LeaderElectionConfig c;
    c.lease_namespace = "kube-system";
    c.lease_name = "virt-controller";
    c.identity = id;
    c.lease_duration = 15s;
    c.renew_deadline = 10s;
    c.retry_period = 2s;
    c.release_on_stop = release;
    c.clock = &clock;
    c.on_started_leading = [this] {
      leading = true;
      ++started;
    };
    c.on_stopped_leading = [this] {
      leading = false;
      ++stopped;
    };
    elector = std::make_unique<LeaderElector>(client, c);
    thread = std::thread([this] { elector->run(); });
  }
  void stop() {
    elector->stop();
    if (thread.joinable())
      thread.join();
  }
  ~Candidate() { stop(); }
};

// Advances fake time by d and waits until the `threads` electors have reacted and wait again.
void step(FakeClock& clock, int threads, Clock::duration d = 500ms) {
  clock.advance(d);
  // A thread that has just finished (stepped down) never settles: bounded wait.
  wait_for([&] { return clock.settled() >= threads; }, 2s);
}

// Steps fake time until cond holds (at most 100 steps).
bool advance_until(FakeClock& clock, int threads, const std::function<bool()>& cond) {
  for (int i = 0; i < 100; ++i) {
    if (cond())
      return true;
    step(clock, threads);
  }
  return cond();
}
}  // namespace

TEST_CASE("leader election: one leader; release on stop hands over at once") {
  FakeClock clock;
  FakeKubeClient client;
  Candidate a(client, clock, "a");
  REQUIRE(wait_for([&] { return a.leading.load() && clock.settled() == 1; }));
  Candidate b(client, clock, "b");
  REQUIRE(wait_for([&] { return clock.waiting() == 2; }));
  // b keeps trying but never leads while a renews.
  for (int i = 0; i < 120; ++i) {
    step(clock, 2);
    REQUIRE_FALSE(b.leading.load());
  }
  CHECK(a.leading);
  CHECK(b.elector->leader() == "a");
  a.stop();
  CHECK(a.stopped == 1);
  auto released = clock.now();
  REQUIRE(advance_until(clock, 1, [&] { return b.leading.load(); }));
  CHECK(clock.now() - released <= 4s);  // 1s released lease + one retry period (jittered)
  auto lease = client.get(resources::leases(), "kube-system", "virt-controller");
  REQUIRE(lease.ok());
  auto rec = lease_record_from(*lease);
  CHECK(rec.holder == "b");
  CHECK(rec.lease_transitions == 1);
}

TEST_CASE("leader election: a crashed leader is replaced after the lease duration") {
  FakeClock clock;
  FakeKubeClient client;
  auto a = std::make_unique<Candidate>(client, clock, "a", /*release=*/false);
  REQUIRE(wait_for([&] { return a->leading.load() && clock.settled() == 1; }));
  Candidate b(client, clock, "b");
  REQUIRE(wait_for([&] { return clock.waiting() == 2; }));
  for (int i = 0; i < 10; ++i)
    step(clock, 2);
  a.reset();  // "crash": stops renewing, does not release
  auto crashed = clock.now();
  REQUIRE(advance_until(clock, 1, [&] { return b.leading.load(); }));
  auto took = clock.now() - crashed;
  // b saw a's last renewal (at most one retry period before the crash) no earlier than it
  // happened, and takes over one lease duration after seeing it, at its next poll.
  CHECK(took >= 13s);
  CHECK(took <= 15s + 2 * 2400ms + 500ms);
}

TEST_CASE("leader election: a leader that cannot renew steps down after renew_deadline") {
  FakeClock clock;
  FakeKubeClient client;
  Candidate a(client, clock, "a");
  REQUIRE(wait_for([&] { return a.leading.load() && clock.settled() == 1; }));
  client.fail_next("get", 1000, kv::core::Error(kv::core::Errc::unavailable, "apiserver down"));
  auto broke = clock.now();
  REQUIRE(advance_until(clock, 1, [&] { return a.stopped.load() == 1; }));
  CHECK_FALSE(a.leading);
  CHECK(clock.now() - broke >= 10s);
  CHECK(clock.now() - broke <= 14s);
}
