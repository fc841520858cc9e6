#include "core/json.hpp"

#include <catch2/catch.hpp>

namespace json = kv::core::json;

TEST_CASE("parse reports where the JSON is broken") {
  auto r = json::parse(R"({"a": 1,})");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == kv::core::Errc::parse);
  CHECK_THAT(r.error().message, Catch::Contains("offset 8"));
}

// Found by test/fuzz/json_fuzz: invalid UTF-8 used to parse, then serialize as other characters.
TEST_CASE("parse refuses invalid UTF-8 instead of changing it on the way out") {
  auto r = json::parse("{\"name\": \"a\xcf(b\"}");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == kv::core::Errc::parse);
  CHECK_THAT(r.error().message,
             Catch::Contains("invalid JSON at offset 1") && Catch::Contains("encoding"));
  auto ok = json::parse("{\"name\": \"caf\xc3\xa9\"}");  // valid UTF-8 still parses, unchanged
  REQUIRE(ok.ok());
  CHECK(json::to_string(*ok) == "{\"name\":\"caf\xc3\xa9\"}");
}

// Found by test/fuzz/json_fuzz: both members of a duplicated key were kept, find() saw the
// first (Go's decoder keeps the last), and the document was not equal() to itself.
TEST_CASE("parse refuses a key named twice in one object, naming where") {
  auto r = json::parse(R"({"spec": {"rules": [{"a": 1, "b": 2, "a": 3}]}})");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message == "invalid JSON: duplicate key \"a\" in spec.rules[0]");
  auto top = json::parse(R"({"kind": "VM", "kind": "VMI"})");
  REQUIRE_FALSE(top.ok());
  CHECK(top.error().message == "invalid JSON: duplicate key \"kind\"");
  CHECK(json::parse(R"({"a": {"x": 1}, "b": {"x": 1}})").ok());  // the same name in two objects
}

TEST_CASE("look-ups are typed and null-safe") {
  auto d = json::parse(R"({"s":"x","i":7,"b":true,"o":{"p":{"q":1}}})");
  REQUIRE(d.ok());
  CHECK(json::get_string(*d, "s") == "x");
  CHECK_FALSE(json::get_string(*d, "i"));
  CHECK(json::get_int(*d, "i") == 7);
  CHECK(json::get_bool(*d, "b") == true);
  CHECK(json::find_path(*d, {"o", "p", "q"})->GetInt() == 1);
  CHECK(json::find_path(*d, {"o", "x", "q"}) == nullptr);
  CHECK(json::find(json::Value(5), "a") == nullptr);
}

TEST_CASE("set replaces, ensure_object creates, erase removes") {
  json::Document d;
  d.SetObject();
  auto& a = d.GetAllocator();
  json::set(d, "k", "v1", a);
  json::set(d, "k", "v2", a);
  CHECK(d.MemberCount() == 1);
  CHECK(json::get_string(d, "k") == "v2");
  json::set(json::ensure_object(d, "meta", a), "name", "n", a);
  CHECK(json::to_string(d) == R"({"k":"v2","meta":{"name":"n"}})");
  json::erase(d, "k");
  CHECK(json::to_string(d) == R"({"meta":{"name":"n"}})");
}

TEST_CASE("equal ignores member order and number representation") {
  auto a = json::parse(R"({"a":[1,2,{"x":null}],"b":1.0})");
  auto b = json::parse(R"({"b":1,"a":[1,2,{"x":null}]})");
  auto c = json::parse(R"({"b":1,"a":[2,1,{"x":null}]})");
  auto d = json::parse(R"({"b":"1","a":[1,2,{"x":null}]})");
  CHECK(json::equal(*a, *b));
  CHECK_FALSE(json::equal(*a, *c));
  CHECK_FALSE(json::equal(*a, *d));
}
