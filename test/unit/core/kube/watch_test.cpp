#include "core/kube/watch.hpp"

#include <catch2/catch.hpp>
#include <future>

#include "core/kube/client_impl.hpp"
#include "test/fakes/fake_server.hpp"
#include "test/support/kube_test_util.hpp"

using namespace kv::core;
using namespace kv::core::kube;
using kv::test::FakeServer;
using kv::test::wait_for;

namespace {

std::unique_ptr<KubeClientImpl> client_for(const FakeServer& s) {
  RestConfig c;
  c.server = s.url();
  c.qps = 0;
  c.timeout = std::chrono::seconds(5);
  auto r = KubeClientImpl::create(c);
  REQUIRE(r.ok());
  return std::move(*r);
}

std::string event(const std::string& type, const std::string& name, int rv) {
  return R"({"type":")" + type + R"(","object":{"kind":"ConfigMap","metadata":{"name":")" + name +
         R"(","namespace":"ns","resourceVersion":")" + std::to_string(rv) + R"("}}})" + "\n";
}

std::string gone_event() {
  return R"x({"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","status":"Failure",)x"
         R"x("message":"too old resource version: 5 (20)","reason":"Expired","code":410}})x"
         "\n";
}

}  // namespace

TEST_CASE("LineSplitter joins objects split across chunks and splits chunks holding several") {
  std::string stream =
      event("ADDED", "a", 1) + event("MODIFIED", "a", 2) + event("DELETED", "a", 3);
  for (size_t step : {1, 2, 3, 7, 50, 1000}) {
    LineSplitter s;
    std::vector<std::string> lines;
    for (size_t i = 0; i < stream.size(); i += step)
      s.feed(std::string_view(stream).substr(i, step), [&](std::string_view l) {
        lines.emplace_back(l);
        return true;
      });
    REQUIRE(lines.size() == 3);
    CHECK(parse_watch_event(lines[1])->type == WatchEventType::modified);
    CHECK(s.buffered() == 0);
  }
}

TEST_CASE("parse_watch_event: types, and ERROR 410 becomes Errc::gone") {
  auto ev = parse_watch_event(event("BOOKMARK", "", 9));
  REQUIRE(ev.ok());
  CHECK(ev->type == WatchEventType::bookmark);
  CHECK(meta::resource_version(ev->object) == "9");
  auto gone = parse_watch_event(gone_event());
  REQUIRE_FALSE(gone.ok());
  CHECK(gone.error().code == Errc::gone);
  CHECK_FALSE(parse_watch_event("{not json").ok());
  CHECK_FALSE(parse_watch_event(R"({"type":"WEIRD","object":{}})").ok());
}

TEST_CASE("watch: events are delivered as they arrive, across odd chunk boundaries") {
  std::promise<void> first_seen;
  auto first_seen_f = first_seen.get_future().share();
  FakeServer server([&](const FakeServer::Request& r, FakeServer::Conn& c) {
    CHECK(r.query("watch") == "true");
    CHECK(r.query("resourceVersion") == "5");
    CHECK(r.query("allowWatchBookmarks") == "true");
    CHECK(r.query("timeoutSeconds") == "30");
    c.start_chunked();
    std::string one = event("ADDED", "a", 6);
    c.chunk(one.substr(0, 10));
    c.chunk(one.substr(10));
    // The client must hand over event 1 before the stream goes on.
    if (first_seen_f.wait_for(std::chrono::seconds(5)) != std::future_status::ready)
      return;
    std::string rest =
        event("MODIFIED", "a", 7) + event("BOOKMARK", "", 8) + event("DELETED", "a", 9);
    c.chunk(rest.substr(0, 3));
    c.chunk(rest.substr(3, 150));
    c.chunk(rest.substr(153));
    c.end_chunked();
  });
  auto client = client_for(server);
  std::vector<std::string> seen;
  ListOptions o;
  o.resource_version = "5";
  o.allow_watch_bookmarks = true;
  o.timeout_seconds = 30;
  Status st = client->watch(resources::config_maps(), "ns", o, [&](WatchEvent& ev) {
    seen.push_back(std::string(watch_event_type_name(ev.type)) + "/" +
                   std::string(meta::resource_version(ev.object)));
    if (seen.size() == 1)
      first_seen.set_value();
    return true;
  });
  REQUIRE(st.ok());
  CHECK(seen == std::vector<std::string>{"ADDED/6", "MODIFIED/7", "BOOKMARK/8", "DELETED/9"});
}

TEST_CASE("watch: 410 as an HTTP status or as an ERROR event is Errc::gone") {
  bool as_status = GENERATE(true, false);
  FakeServer server([&](const FakeServer::Request&, FakeServer::Conn& c) {
    if (as_status) {
      c.respond(410, R"({"kind":"Status","code":410,"reason":"Expired","message":"too old"})");
    } else {
      c.start_chunked();
      c.chunk(gone_event());
      c.end_chunked();
    }
  });
  auto client = client_for(server);
  Status st = client->watch(resources::config_maps(), "ns", {}, [](WatchEvent&) { return true; });
  REQUIRE_FALSE(st.ok());
  INFO(st.error().to_string());
  CHECK(st.error().code == Errc::gone);
}

TEST_CASE("watch: a connection dropped mid-stream is Errc::unavailable after the events so far") {
  FakeServer server([](const FakeServer::Request&, FakeServer::Conn& c) {
    c.start_chunked();
    std::string e = event("ADDED", "a", 6) + event("ADDED", "b", 7);
    c.chunk(e.substr(0, e.size() - 20));  // "b" is cut in half
    c.close();
  });
  auto client = client_for(server);
  std::vector<std::string> names;
  Status st = client->watch(resources::config_maps(), "ns", {}, [&](WatchEvent& ev) {
    names.emplace_back(meta::name(ev.object));
    return true;
  });
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().code == Errc::unavailable);
  CHECK(names == std::vector<std::string>{"a"});
}

TEST_CASE("watch: the idle timeout ends a silent stream; cancel ends a blocked one promptly") {
  std::atomic<bool> release{false};
  FakeServer server([&](const FakeServer::Request&, FakeServer::Conn& c) {
    c.start_chunked();
    wait_for([&] { return release.load(); }, std::chrono::seconds(10));
  });
  auto client = client_for(server);
  SECTION("idle timeout") {
    ListOptions o;
    o.idle_timeout = std::chrono::milliseconds(200);
    Status st = client->watch(resources::config_maps(), "ns", o, [](WatchEvent&) { return true; });
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().code == Errc::timeout);
  }
  SECTION("cancel") {
    Cancel cancel;
    auto fut = std::async(std::launch::async, [&] {
      return client->watch(
          resources::config_maps(), "ns", {}, [](WatchEvent&) { return true; }, &cancel);
    });
    REQUIRE(wait_for([&] { return server.connections() == 1; }));
    auto start = std::chrono::steady_clock::now();
    cancel.cancel();
    REQUIRE(fut.wait_for(std::chrono::seconds(2)) == std::future_status::ready);
    CHECK(fut.get().ok());
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(1));
  }
  release = true;
}

TEST_CASE("ListWatcher: re-watches from the last version after a drop, relists after 410") {
  std::mutex mu;
  int watch_no = 0;
  std::atomic<bool> release{false};
  FakeServer server([&](const FakeServer::Request& r, FakeServer::Conn& c) {
    if (r.query("watch").empty()) {  // LIST
      int n;
      {
        std::lock_guard l(mu);
        n = watch_no;
      }
      std::string rv = n == 0 ? "10" : "20";
      c.respond(
          200, R"({"kind":"ConfigMapList","apiVersion":"v1","metadata":{"resourceVersion":")" + rv +
                   R"("},"items":[{"metadata":{"name":"x","namespace":"ns","resourceVersion":")" +
                   rv + R"("}}]})");
      return;
    }
    int n;
    {
      std::lock_guard l(mu);
      n = ++watch_no;
    }
    c.start_chunked();
    if (n == 1) {  // from the list's version; one event, then the connection drops
      c.chunk(event("ADDED", "y", 11));
      c.close();
    } else if (n == 2) {  // resumed from 11: the server has compacted
      c.chunk(gone_event());
      c.end_chunked();
    } else {  // after the relist
      c.chunk(event("MODIFIED", "x", 21));
      wait_for([&] { return release.load(); }, std::chrono::seconds(10));
    }
  });
  auto client = client_for(server);
  std::mutex smu;
  std::vector<std::string> log;
  ListWatchOptions opts;
  opts.ns = "ns";
  opts.initial_backoff = std::chrono::milliseconds(10);
  ListWatcher lw(
      *client, resources::config_maps(), opts,
      ListWatchSink{[&](std::vector<json::Document> items, const std::string& rv) {
                      std::lock_guard l(smu);
                      log.push_back("replace " + std::to_string(items.size()) + "@" + rv);
                    },
                    [&](WatchEvent& ev) {
                      std::lock_guard l(smu);
                      log.push_back(std::string(watch_event_type_name(ev.type)) + " " +
                                    std::string(meta::name(ev.object)));
                    }});
  std::thread t([&] { lw.run(); });
  REQUIRE(wait_for([&] {
    std::lock_guard l(smu);
    return log.size() >= 4;
  }));
  lw.stop();
  release = true;
  t.join();
  std::lock_guard l(smu);
  CHECK(log == std::vector<std::string>{"replace 1@10", "ADDED y", "replace 1@20", "MODIFIED x"});
  auto reqs = server.requests();
  std::vector<std::string> watch_rvs;
  for (const auto& r : reqs)
    if (!r.query("watch").empty())
      watch_rvs.push_back(r.query("resourceVersion"));
  CHECK(watch_rvs == std::vector<std::string>{"10", "11", "20"});
  auto stats = lw.stats();
  CHECK(stats.lists == 2);
  CHECK(stats.relists == 1);
  CHECK(stats.errors == 1);
}
