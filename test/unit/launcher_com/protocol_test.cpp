#include "launcher_com/protocol.hpp"

#include <catch2/catch.hpp>

namespace proto = kv::launcher_com::proto;
namespace json = kv::core::json;
using kv::core::Errc;

TEST_CASE("requests, responses and events survive encode and decode") {
  proto::Request r;
  r.id = 42;
  r.command = proto::Command::shutdown;
  r.grace_period_seconds = 7;
  auto m = proto::decode(proto::encode(r));
  REQUIRE(m.ok());
  auto* got = std::get_if<proto::Request>(&*m);
  REQUIRE(got);
  CHECK(got->id == 42);
  CHECK(got->command == proto::Command::shutdown);
  CHECK(got->grace_period_seconds == 7);

  proto::Request sync;
  sync.id = 1;
  sync.command = proto::Command::sync;
  sync.vmi = *proto::parse_vmi(R"({"kind":"VirtualMachineInstance","metadata":{"name":"a"}})");
  auto s = proto::decode(proto::encode(sync));
  REQUIRE(s.ok());
  CHECK(json::to_string(*std::get<proto::Request>(*s).vmi) == json::to_string(*sync.vmi));

  proto::Response resp;
  resp.id = 9;
  resp.error = kv::core::Error(Errc::invalid, "vmi: bad").with("field", "vmi");
  resp.status =
      proto::DomainStatus{"paused", "user", {{"default", "52:54:00:00:00:01", "10.0.2.2"}}};
  auto rr = proto::decode(proto::encode(resp));
  REQUIRE(rr.ok());
  auto& back = std::get<proto::Response>(*rr);
  CHECK_FALSE(back.ok());
  CHECK(back.error->code == Errc::invalid);
  CHECK(back.error->get("field") == "vmi");
  REQUIRE(back.status);
  CHECK(back.status->state == "paused");
  REQUIRE(back.status->interfaces.size() == 1);
  CHECK(back.status->interfaces[0].ip_address == "10.0.2.2");

  proto::Event e;
  e.kind = proto::EventKind::exiting;
  e.reason = "crashed";
  e.exit_status = 2;
  auto ee = proto::decode(proto::encode(e));
  REQUIRE(ee.ok());
  CHECK(std::get<proto::Event>(*ee).kind == proto::EventKind::exiting);
  CHECK(std::get<proto::Event>(*ee).exit_status == 2);
}

TEST_CASE("decode names what is wrong") {
  auto unknown = proto::decode(R"({"type":"request","id":1,"command":"explode"})");
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().message.find("command: \"explode\" is not one of sync") == 0);

  auto no_type = proto::decode(R"({"id":1})");
  REQUIRE_FALSE(no_type.ok());
  CHECK(no_type.error().message.find("type") == 0);

  auto bad_grace =
      proto::decode(R"({"type":"request","id":1,"command":"shutdown","gracePeriodSeconds":-1})");
  REQUIRE_FALSE(bad_grace.ok());
  CHECK(bad_grace.error().message.find("gracePeriodSeconds") == 0);

  CHECK_FALSE(proto::decode("not json").ok());
  CHECK_FALSE(proto::decode("[1,2]").ok());
}

TEST_CASE("the frame reader reassembles split frames and refuses garbage lengths") {
  proto::Request r;
  r.id = 3;
  std::string bytes = proto::frame(r) + proto::frame(r);
  proto::FrameReader fr;
  // Byte by byte: nothing until a whole frame is there.
  int frames = 0;
  for (char c : bytes) {
    fr.feed(std::string_view(&c, 1));
    auto b = fr.next();
    REQUIRE(b.ok());
    if (*b) {
      ++frames;
      CHECK(proto::decode(**b).ok());
    }
  }
  CHECK(frames == 2);

  proto::FrameReader garbage;
  garbage.feed("GET / HTTP/1.1\r\n");  // "GET " as a length is ~1.2 GB
  auto g = garbage.next();
  REQUIRE_FALSE(g.ok());
  CHECK(g.error().code == Errc::parse);

  proto::FrameReader zero;
  zero.feed(std::string("\0\0\0\0", 4));
  CHECK_FALSE(zero.next().ok());
}

TEST_CASE("a sync request's bytes are the ones protocol.hpp and docs/launcher.md promise") {
  proto::Request sync;
  sync.id = 7;
  sync.command = proto::Command::sync;
  sync.vmi = *proto::parse_vmi(
      R"({"kind":"VirtualMachineInstance","metadata":{"name":"a","labels":{"x":"1"}},)"
      R"("spec":{"domain":{"memory":{"guest":"64Mi"}},"n":[1,2.5,-3,true,null]}})");
  sync.grace_period_seconds = 30;
  CHECK(
      proto::encode(sync) ==
      R"({"type":"request","id":7,"command":"sync","vmi":{"kind":"VirtualMachineInstance",)"
      R"("metadata":{"name":"a","labels":{"x":"1"}},"spec":{"domain":{"memory":{"guest":"64Mi"}},)"
      R"("n":[1,2.5,-3,true,null]}},"gracePeriodSeconds":30})");
  std::string body = proto::encode(sync);
  std::string framed = proto::frame(sync);
  REQUIRE(framed.size() == body.size() + 4);
  CHECK(framed.substr(4) == body);
  CHECK(static_cast<unsigned char>(framed[3]) == (body.size() & 0xff));
}
