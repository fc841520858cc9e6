#include "core/yaml.hpp"

#include <catch2/catch.hpp>

namespace json = kv::core::json;
namespace yaml = kv::core::yaml;

namespace {
std::string one(const std::string& text) {
  auto r = yaml::to_json(text);
  REQUIRE(r.ok());
  REQUIRE(r->size() == 1);
  return json::to_string((*r)[0]);
}
}  // namespace

TEST_CASE("scalars are typed as kubectl types them") {
  CHECK(one("a: 123") == R"({"a":123})");
  CHECK(one("a: \"123\"") == R"({"a":"123"})");
  CHECK(one("a: '123'") == R"({"a":"123"})");
  CHECK(one("a: -7") == R"({"a":-7})");
  CHECK(one("a: 0x1F") == R"({"a":31})");
  CHECK(one("a: 0o17") == R"({"a":15})");
  CHECK(one("a: 017") == R"({"a":15})");
  CHECK(one("a: 1_000") == R"({"a":1000})");
  CHECK(one("a: 1.5") == R"({"a":1.5})");
  CHECK(one("a: 1e3") == R"({"a":1000})");
  CHECK(one("a: 1Gi") == R"({"a":"1Gi"})");
  CHECK(one("a: 512M") == R"({"a":"512M"})");
  CHECK(one("a: 100m") == R"({"a":"100m"})");
  CHECK(one("a: 1.2.3") == R"({"a":"1.2.3"})");
}

TEST_CASE("booleans and nulls follow YAML 1.1 as kubectl reads them") {
  CHECK(one("[true, True, TRUE, yes, Yes, on, ON, y]") ==
        "[true,true,true,true,true,true,true,true]");
  CHECK(one("[false, False, no, NO, off, Off, n]") ==
        "[false,false,false,false,false,false,false]");
  CHECK(one("[\"true\", 'no', tRUE]") == R"(["true","no","tRUE"])");
  CHECK(one("a: ~\nb: null\nc:\nd: Null") == R"({"a":null,"b":null,"c":null,"d":null})");
  CHECK(one("a: !!str true") == R"({"a":"true"})");
}

TEST_CASE("non-string keys become their canonical strings") {
  CHECK(one("1: a\nyes: b\n~: c") == R"({"1":"a","true":"b","null":"c"})");
  // YAML 1.1's y/n are booleans to kubectl too (the "Norway problem"): a key y becomes "true".
  CHECK(one("y: 1\n'n': 2") == R"({"true":1,"n":2})");
}

TEST_CASE("block scalars, anchors, aliases and merge keys") {
  CHECK(one("a: |\n  line1\n  line2\n") == R"({"a":"line1\nline2\n"})");
  CHECK(one("base: &b {x: 1, z: 2}\nd:\n  <<: *b\n  z: 3\n") ==
        R"({"base":{"x":1,"z":2},"d":{"z":3,"x":1}})");
}

TEST_CASE("multi-document streams give one document each, empty ones skipped") {
  auto r = yaml::to_json("---\na: 1\n---\n---\nb: 2\n...\n");
  REQUIRE(r.ok());
  REQUIRE(r->size() == 2);
  CHECK(json::to_string((*r)[0]) == R"({"a":1})");
  CHECK(json::to_string((*r)[1]) == R"({"b":2})");
}

TEST_CASE("syntax errors report their line") {
  auto r = yaml::to_json("a: 1\nb: [1, 2\nc: 3\n");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == kv::core::Errc::parse);
  CHECK_THAT(r.error().message, Catch::StartsWith("line "));
  CHECK_FALSE(r.error().get("line").empty());

  auto bad_indent = yaml::to_json("a:\n  b: 1\n c: 2\n");
  REQUIRE_FALSE(bad_indent.ok());
  CHECK(bad_indent.error().get("line") == "3");
}

TEST_CASE("duplicate keys and non-finite numbers are rejected with their line") {
  auto dup = yaml::to_json("a: 1\nb: 2\na: 3\n");
  REQUIRE_FALSE(dup.ok());
  CHECK_THAT(dup.error().message, Catch::Contains("duplicate key \"a\""));
  CHECK(dup.error().get("line") == "3");
  auto inf = yaml::to_json("x: .inf\n");
  REQUIRE_FALSE(inf.ok());
  CHECK_THAT(inf.error().message, Catch::Contains("not a finite number"));
}

TEST_CASE("a missing file names the file") {
  auto r = yaml::file_to_json("/nonexistent/vm.yaml");
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.error().message, Catch::Contains("/nonexistent/vm.yaml"));
}

TEST_CASE("to_yaml round-trips through to_json") {
  const char* src =
      R"({"s":"plain","n":1,"f":2.5,"b":false,"z":null,"q":"123","t":"yes","c":"a: b",)"
      R"("m":"l1\nl2\n","arr":[{"x":"1Gi"},[]],"o":{},"e":""})";
  auto in = json::parse(src);
  REQUIRE(in.ok());
  auto back = yaml::to_json(yaml::to_yaml(*in));
  REQUIRE(back.ok());
  REQUIRE(back->size() == 1);
  INFO(yaml::to_yaml(*in));
  CHECK(json::equal(*in, (*back)[0]));
}

// Found by test/fuzz/yaml_fuzz: "\ns" went out as a literal block and came back as "\ns\n" (a
// literal block keeps exactly one final line break). Such strings are double-quoted now; a
// cloud-init script ending in one line break stays a readable block.
TEST_CASE("to_yaml keeps multi-line strings exact, as a block only when one reads back") {
  const char* src = R"({"lead":"\ns","none":"a\nb","two":"a\n\n","space":" a\n","cr":"a\r\nb\n",)"
                    R"("script":"#!/bin/sh\necho hi\n"})";
  auto in = json::parse(src);
  REQUIRE(in.ok());
  const auto text = yaml::to_yaml(*in);
  INFO(text);
  auto back = yaml::to_json(text);
  REQUIRE(back.ok());
  REQUIRE(back->size() == 1);
  CHECK(json::equal(*in, (*back)[0]));
  CHECK_THAT(text, Catch::Contains("script: |"));
}

// Found by test/fuzz/yaml_fuzz: "\r\r" went out as a plain scalar and read back as nothing.
TEST_CASE("to_yaml quotes strings with control characters") {
  auto in = json::parse(R"({"cr":"\r\r","bell":"a\u0007b","del":"x\u007f"})");
  REQUIRE(in.ok());
  auto back = yaml::to_json(yaml::to_yaml(*in));
  REQUIRE(back.ok());
  REQUIRE(back->size() == 1);
  CHECK(json::equal(*in, (*back)[0]));
}

// Found by test/fuzz/yaml_fuzz: a stray byte in a string came out of the JSON writer as another
// character, so the manifest changed on its way through.
TEST_CASE("invalid UTF-8 is refused with its line and column") {
  auto r = yaml::to_json("kind: VirtualMachine\nspec:\n  image: \"disk\xcf example\"\n");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == kv::core::Errc::parse);
  CHECK(r.error().message ==
        "line 3, column 15: invalid UTF-8 (byte 0xCF); YAML must be UTF-8 text");
  CHECK(one("name: caf\xc3\xa9\n") == "{\"name\":\"caf\xc3\xa9\"}");
}

// Found by test/fuzz/yaml_fuzz: a NUL byte made yaml-cpp take the text for UTF-16, and what it
// decoded did not survive to_yaml. Control characters are not YAML at all (go-yaml refuses them).
TEST_CASE("control characters are refused with their line and column") {
  auto r = yaml::to_json(std::string("a: 1\nb: x\0y\n", 12));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message == "line 2, column 5: control characters are not allowed (byte 0x00)");
  CHECK_FALSE(yaml::to_json("a: \x01").ok());
  CHECK(one("a: \"tab\there\"\r\n") == "{\"a\":\"tab\\there\"}");
}

// Found by test/fuzz/yaml_fuzz (the open timeout of session 9): yaml-cpp 0.7's LoadAll never
// returns when a document starts on a ',' (it yields an empty document there, forever, growing
// memory). A lone "," or one after a flow collection or a "---" is an error with its place, as
// go-yaml's "did not find expected node content".
TEST_CASE("a ',' where a value should start is an error, not an endless stream of documents") {
  struct Case {
    const char* text;
    const char* line;
    const char* column;
  };
  for (const auto& c : {Case{",", "1", "1"}, Case{"[a],", "1", "4"}, Case{"{a: 1},", "1", "7"},
                        Case{"a: 1\n---\n,", "3", "1"}, Case{"# note\n  , x\n", "2", "3"}}) {
    INFO(c.text);
    auto r = yaml::to_json(c.text);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == kv::core::Errc::parse);
    CHECK(r.error().get("line") == c.line);
    CHECK(r.error().get("column") == c.column);
    CHECK_THAT(r.error().message, Catch::Contains("did not find expected node content (\",\""));
  }
  // Commas inside flow collections, and plain scalars with commas, are still fine.
  CHECK(one("a: [1, 2]\nb: x, y\n") == R"({"a":[1,2],"b":"x, y"})");
}

// The fuzzer's next find once the loop above was fixed: aliases are expanded where they are
// used, so anchors of anchors multiply (nine levels of nine: 300 bytes, 387 million values).
// The expansion is capped relative to the text, as go-yaml's "excessive aliasing"; ordinary
// reuse of an anchor is unaffected.
TEST_CASE("anchors that expand exponentially are refused; ordinary aliases are expanded") {
  std::string laughs = "a: &a [x, x, x, x, x, x, x, x, x]\n";
  for (char c = 'b'; c <= 'i'; ++c) {
    std::string prev(1, static_cast<char>(c - 1));
    laughs += std::string(1, c) + ": &" + c + " [";
    for (int i = 0; i < 9; ++i)
      laughs += (i ? ", *" : "*") + prev;
    laughs += "]\n";
  }
  auto r = yaml::to_json(laughs);
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.error().message, Catch::Contains("excessive aliasing"));

  CHECK(one("base: &b {cpu: 1, mem: 2}\nsame: *b\nbig: {<<: *b, cpu: 4}\n") ==
        R"({"base":{"cpu":1,"mem":2},"same":{"cpu":1,"mem":2},"big":{"cpu":4,"mem":2}})");
}
