#include "core/kube/events.hpp"

#include <catch2/catch.hpp>

#include "test/fakes/fake_kube_client.hpp"

using namespace std::chrono_literals;
using namespace kv::core::kube;
using kv::test::FakeKubeClient;

TEST_CASE("events: a repeated event bumps count on one Event; a different one creates another") {
  FakeKubeClient client;
  auto vm = kv::core::json::parse(
      R"({"apiVersion":"kubevirt.io/v1","kind":"VirtualMachine","metadata":{"name":"vm1","namespace":"ns","uid":"u1"}})");
  REQUIRE(vm.ok());
  {
    EventRecorder rec(client, {"virt-controller", "node1"});
    auto ref = reference_to(*vm);
    for (int i = 0; i < 3; ++i)
      rec.record(ref, "Normal", "Started", "VM started");
    rec.record(ref, "Warning", "FailedCreate", "cannot create pod");
    REQUIRE(rec.flush(5s));
  }
  auto list = client.list(resources::events(), "ns");
  REQUIRE(list.ok());
  REQUIRE(list->items.size() == 2);
  int started = 0;
  for (const auto& e : list->items) {
    auto reason = kv::core::json::get_string(e, "reason");
    if (reason == "Started") {
      ++started;
      CHECK(kv::core::json::get_int(e, "count") == 3);
      CHECK(kv::core::json::find_path(e, {"involvedObject", "uid"})->GetString() ==
            std::string("u1"));
      CHECK(kv::core::json::find_path(e, {"source", "component"})->GetString() ==
            std::string("virt-controller"));
      CHECK(kv::core::json::get_string(e, "type") == "Normal");
    } else {
      CHECK(reason == "FailedCreate");
      CHECK(kv::core::json::get_int(e, "count") == 1);
    }
  }
  CHECK(started == 1);
  CHECK(client.calls("create") == 2);
  CHECK(client.calls("patch") == 2);
}

TEST_CASE("events: an Event that expired on the server is created again") {
  FakeKubeClient client;
  EventRecorder rec(client, {"virt-handler", ""});
  ObjectReference ref{"v1", "Pod", "ns", "p", "u", "", ""};
  rec.record(ref, "Normal", "Pulled", "x");
  REQUIRE(rec.flush(5s));
  auto list = client.list(resources::events(), "ns");
  REQUIRE(list->items.size() == 1);
  REQUIRE(client.remove(resources::events(), "ns", meta::name(list->items[0])).ok());
  rec.record(ref, "Normal", "Pulled", "x");
  REQUIRE(rec.flush(5s));
  list = client.list(resources::events(), "ns");
  REQUIRE(list->items.size() == 1);
  CHECK(kv::core::json::get_int(list->items[0], "count") == 1);
}
