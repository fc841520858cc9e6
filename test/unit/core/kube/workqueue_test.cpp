#include "core/kube/workqueue.hpp"

#include <catch2/catch.hpp>
#include <future>
#include <set>
#include <thread>

#include "test/fakes/fake_clock.hpp"
#include "test/support/kube_test_util.hpp"

using namespace std::chrono_literals;
using kv::core::kube::WorkQueue;
using kv::test::FakeClock;
using kv::test::wait_for;

TEST_CASE("work queue: a key added many times is handed out once, in FIFO order") {
  FakeClock clock;
  WorkQueue q(clock);
  q.add("a");
  q.add("b");
  q.add("a");
  q.add("c");
  q.add("b");
  CHECK(q.len() == 3);
  CHECK(q.get() == "a");
  CHECK(q.get() == "b");
  CHECK(q.get() == "c");
  CHECK_FALSE(q.try_get());
}

TEST_CASE("work queue: a key re-added while processed waits for done(), then comes back once") {
  FakeClock clock;
  WorkQueue q(clock);
  q.add("a");
  auto k = q.get();
  REQUIRE(k == "a");
  q.add("a");
  q.add("a");
  CHECK_FALSE(q.try_get());  // no second worker on "a"
  q.done("a");
  CHECK(q.try_get() == "a");
  q.done("a");
  CHECK_FALSE(q.try_get());
}

TEST_CASE("work queue: never two workers on one key, under concurrency") {
  WorkQueue q;  // real clock
  std::mutex mu;
  std::set<std::string> busy;
  std::atomic<bool> overlap{false};
  std::atomic<int> processed{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w)
    workers.emplace_back([&] {
      while (auto key = q.get()) {
        {
          std::lock_guard l(mu);
          if (!busy.insert(*key).second)
            overlap = true;
        }
        std::this_thread::yield();
        {
          std::lock_guard l(mu);
          busy.erase(*key);
        }
        ++processed;
        q.done(*key);
      }
    });
  for (int i = 0; i < 2000; ++i)
    q.add("k" + std::to_string(i % 7));
  REQUIRE(wait_for([&] { return q.len() == 0 && processed > 0; }));
  q.shut_down();
  for (auto& t : workers)
    t.join();
  CHECK_FALSE(overlap);
}

TEST_CASE("work queue: rate-limited retries back off exponentially; forget resets") {
  FakeClock clock;
  kv::core::kube::WorkQueueOptions opts;
  opts.base_delay = 10ms;
  opts.max_delay = 100ms;
  WorkQueue q(clock, opts);
  CHECK(q.next_backoff("a") == 10ms);
  q.add_rate_limited("a");  // 10ms
  CHECK(q.num_requeues("a") == 1);
  CHECK_FALSE(q.try_get());
  clock.advance(9ms);
  CHECK_FALSE(q.try_get());
  clock.advance(1ms);
  REQUIRE(q.try_get() == "a");
  q.done("a");
  q.add_rate_limited("a");  // 20ms
  q.add_rate_limited("a");  // 40ms; the earlier pending time (20ms) stays
  clock.advance(20ms);
  REQUIRE(q.try_get() == "a");
  q.done("a");
  CHECK(q.next_backoff("a") == 80ms);
  q.add_rate_limited("a");
  CHECK(q.next_backoff("a") == 100ms);  // capped
  q.forget("a");
  CHECK(q.num_requeues("a") == 0);
  CHECK(q.next_backoff("a") == 10ms);
}

TEST_CASE("work queue: a blocked get() wakes when a delayed key becomes ready") {
  FakeClock clock;
  WorkQueue q(clock);
  q.add_after("later", 5s);
  auto fut = std::async(std::launch::async, [&] { return q.get(); });
  REQUIRE(wait_for([&] { return clock.waiting() == 1; }));
  CHECK(fut.wait_for(0ms) == std::future_status::timeout);
  clock.advance(5s);
  REQUIRE(fut.wait_for(5s) == std::future_status::ready);
  CHECK(fut.get() == "later");
}

TEST_CASE("work queue: shut_down wakes blocked workers with nothing") {
  FakeClock clock;
  WorkQueue q(clock);
  auto fut = std::async(std::launch::async, [&] { return q.get(); });
  REQUIRE(wait_for([&] { return clock.waiting() == 1; }));
  q.shut_down();
  REQUIRE(fut.wait_for(5s) == std::future_status::ready);
  CHECK_FALSE(fut.get().has_value());
  q.add("ignored");
  CHECK(q.len() == 0);
}
