#include "core/kube/informer.hpp"

#include <catch2/catch.hpp>

#include "test/fakes/fake_clock.hpp"
#include "test/fakes/fake_kube_client.hpp"
#include "test/support/kube_test_util.hpp"

using namespace kv::core;
using namespace kv::core::kube;
using kv::test::FakeKubeClient;
using kv::test::wait_for;

namespace {

json::Document pod(const std::string& ns, const std::string& name, const std::string& node,
                   const std::string& app = "web") {
  auto d = json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":")" + name +
                       R"(","namespace":")" + ns + R"(","labels":{"app":")" + app +
                       R"("}},"status":{"nodeName":")" + node + R"("}})");
  return std::move(*d);
}

// Records handler calls as "add ns/name", "update ns/name", "delete ns/name".
struct Recorder {
  std::mutex mu;
  std::vector<std::string> calls;
  EventHandlers handlers() {
    return {[this](const ObjectPtr& o) { push("add " + meta::key(*o)); },
            [this](const ObjectPtr&, const ObjectPtr& n) { push("update " + meta::key(*n)); },
            [this](const ObjectPtr& o) { push("delete " + meta::key(*o)); }};
  }
  void push(std::string s) {
    std::lock_guard l(mu);
    calls.push_back(std::move(s));
  }
  size_t size() {
    std::lock_guard l(mu);
    return calls.size();
  }
  std::vector<std::string> get() {
    std::lock_guard l(mu);
    return calls;
  }
};

// The cache equals a fresh list: same keys, same resourceVersions.
bool cache_matches(FakeKubeClient& fake, const Informer& inf) {
  auto list = fake.list(inf.resource(), "");
  if (!list.ok() || list->items.size() != inf.store().size())
    return false;
  for (const auto& item : list->items) {
    auto cached = inf.store().get(meta::key(item));
    if (!cached || meta::resource_version(*cached) != meta::resource_version(item))
      return false;
  }
  return true;
}

InformerOptions fast_options() {
  InformerOptions o;
  o.list_watch.initial_backoff = std::chrono::milliseconds(5);
  o.list_watch.max_backoff = std::chrono::milliseconds(50);
  return o;
}

}  // namespace

TEST_CASE("informer: initial list, then adds, updates and deletes reach cache and handlers") {
  FakeKubeClient fake;
  auto pods = resources::pods();
  REQUIRE(fake.create(pods, "a", pod("a", "p1", "n1")).ok());
  REQUIRE(fake.create(pods, "b", pod("b", "p2", "n2")).ok());

  Informer inf(fake, pods, fast_options());
  Recorder rec;
  inf.add_handlers(rec.handlers());
  inf.add_index("node", index_by_field({"status", "nodeName"}));
  inf.add_index("ns", index_by_namespace());
  inf.add_index("app", index_by_label("app"));
  inf.start();
  REQUIRE(inf.wait_for_sync(std::chrono::seconds(5)));
  CHECK(inf.store().size() == 2);
  CHECK(rec.size() == 2);
  REQUIRE(wait_for([&] { return fake.open_watches() == 1; }));

  REQUIRE(fake.create(pods, "a", pod("a", "p3", "n1", "db")).ok());
  auto p1 = fake.get(pods, "a", "p1");
  json::set(*json::find(*p1, "status"), "nodeName", "n2", p1->GetAllocator());
  REQUIRE(fake.update(pods, "a", *p1).ok());
  REQUIRE(fake.remove(pods, "b", "p2").ok());

  REQUIRE(wait_for([&] { return rec.size() == 5; }));
  auto calls = rec.get();
  CHECK(std::vector<std::string>(calls.begin() + 2, calls.end()) ==
        std::vector<std::string>{"add a/p3", "update a/p1", "delete b/p2"});
  CHECK(cache_matches(fake, inf));
  CHECK(inf.store().by_index("node", "n1").size() == 1);  // p3 (p1 moved to n2)
  CHECK(inf.store().by_index("node", "n2").size() == 1);
  CHECK(inf.store().by_index("ns", "a").size() == 2);
  CHECK(inf.store().by_index("app", "db").size() == 1);
  CHECK(inf.store().by_index("ns", "b").empty());
  inf.stop();
}

TEST_CASE("informer: a dropped watch resumes without loss; 410 relists and finds silent deletes") {
  FakeKubeClient fake;
  auto pods = resources::pods();
  for (int i = 0; i < 5; ++i)
    REQUIRE(fake.create(pods, "a", pod("a", "p" + std::to_string(i), "n1")).ok());
  Informer inf(fake, pods, fast_options());
  Recorder rec;
  inf.add_handlers(rec.handlers());
  inf.start();
  REQUIRE(inf.wait_for_sync(std::chrono::seconds(5)));
  REQUIRE(wait_for([&] { return fake.open_watches() == 1; }));

  // Dropped connection: changes made meanwhile arrive once the watch resumes.
  fake.break_watches();
  REQUIRE(fake.create(pods, "a", pod("a", "late", "n1")).ok());
  REQUIRE(wait_for([&] { return inf.store().get("a/late") != nullptr; }));
  CHECK(inf.stats().lists == 1);

  // Compaction + a change nobody saw as an event: only a relist can notice it. The watch that
  // follows the break gets 410 for sure: left to the compaction alone, it would not when the
  // watch delivered "after" (the newest revision) before the compaction.
  REQUIRE(wait_for([&] { return fake.open_watches() == 1; }));
  fake.delete_silently(pods, "a", "p0");
  REQUIRE(fake.create(pods, "a", pod("a", "after", "n1")).ok());
  fake.compact();
  fake.fail_next("watch", 1,
                 Error(Errc::gone, "too old resource version").with("http_status", "410"));
  fake.break_watches();
  REQUIRE(wait_for([&] { return inf.stats().relists >= 1 && cache_matches(fake, inf); }));
  CHECK(inf.store().get("a/p0") == nullptr);
  CHECK(inf.store().get("a/after") != nullptr);
  auto calls = rec.get();
  CHECK(std::count(calls.begin(), calls.end(), "delete a/p0") == 1);
  CHECK(std::count(calls.begin(), calls.end(), "add a/after") == 1);
  CHECK(std::count(calls.begin(), calls.end(), "add a/late") == 1);
  inf.stop();
}

TEST_CASE("informer: a failing list is retried with backoff") {
  FakeKubeClient fake;
  REQUIRE(fake.create(resources::pods(), "a", pod("a", "p", "n")).ok());
  fake.fail_next("list", 3, Error(Errc::unavailable, "apiserver down"));
  Informer inf(fake, resources::pods(), fast_options());
  inf.start();
  REQUIRE(inf.wait_for_sync(std::chrono::seconds(5)));
  CHECK(inf.store().size() == 1);
  CHECK(inf.stats().errors == 3);
  inf.stop();
}

TEST_CASE("informer: periodic resync re-delivers every object as an update") {
  kv::test::FakeClock clock;
  FakeKubeClient fake;
  REQUIRE(fake.create(resources::pods(), "a", pod("a", "p", "n")).ok());
  auto opts = fast_options();
  opts.resync_period = std::chrono::minutes(5);
  opts.clock = &clock;
  Informer inf(fake, resources::pods(), opts);
  Recorder rec;
  inf.add_handlers(rec.handlers());
  inf.start();
  REQUIRE(inf.wait_for_sync(std::chrono::seconds(5)));
  REQUIRE(rec.size() == 1);
  REQUIRE(wait_for([&] { return clock.waiting() >= 1; }));  // the resync timer is armed
  clock.advance(std::chrono::minutes(4));
  REQUIRE(wait_for([&] { return clock.waiting() >= 1; }));
  CHECK(rec.size() == 1);  // not yet
  clock.advance(std::chrono::minutes(1));
  REQUIRE(wait_for([&] { return rec.size() == 2; }));
  CHECK(rec.get()[1] == "update a/p");
  inf.stop();
}

TEST_CASE("informer: handlers added after sync get the existing objects") {
  FakeKubeClient fake;
  REQUIRE(fake.create(resources::pods(), "a", pod("a", "p", "n")).ok());
  Informer inf(fake, resources::pods(), fast_options());
  inf.start();
  REQUIRE(inf.wait_for_sync(std::chrono::seconds(5)));
  Recorder rec;
  inf.add_handlers(rec.handlers());
  CHECK(rec.get() == std::vector<std::string>{"add a/p"});
  inf.stop();
}
