#include "core/flags.hpp"

#include <catch2/catch.hpp>
#include <vector>

using kv::core::Flags;

namespace {
struct Opts {
  std::string dir = "/default";
  long long port = 8080;
  bool emulate = false;
};

Flags flags_for(Opts* o) {
  Flags f("prog", "usage: prog\n");
  f.text("--dir", &o->dir);
  f.integer("--port", 0, 65535, [o](long long n) { o->port = n; });
  f.boolean("--emulate", &o->emulate);
  return f;
}

kv::core::Result<Flags::Outcome> parse(const Flags& f, std::vector<const char*> args) {
  args.insert(args.begin(), "prog");
  return f.parse(static_cast<int>(args.size()), args.data());
}
}  // namespace

TEST_CASE("flags take `--name value` and `--name=value`; unset flags keep their defaults") {
  Opts o;
  auto f = flags_for(&o);
  auto r = parse(f, {"--dir", "/x", "--port=9"});
  REQUIRE(r.ok());
  CHECK(*r == Flags::Outcome::run);
  CHECK(o.dir == "/x");
  CHECK(o.port == 9);
  CHECK_FALSE(o.emulate);
}

TEST_CASE("a bare boolean means true; an explicit value is read") {
  Opts o;
  auto f = flags_for(&o);
  REQUIRE(parse(f, {"--emulate"}).ok());
  CHECK(o.emulate);
  REQUIRE(parse(f, {"--emulate=false"}).ok());
  CHECK_FALSE(o.emulate);
  REQUIRE(parse(f, {"--emulate", "true", "--dir", "/y"}).ok());
  CHECK(o.emulate);
  REQUIRE(parse(f, {"--emulate", "no"}).ok());
  CHECK_FALSE(o.emulate);
  CHECK(o.dir == "/y");
}

TEST_CASE("help is reported, not parsed as a flag") {
  Opts o;
  auto f = flags_for(&o);
  auto r = parse(f, {"--dir", "/x", "--help"});
  REQUIRE(r.ok());
  CHECK(*r == Flags::Outcome::help);
}

TEST_CASE("bad flags are errors that name the flag and what is allowed") {
  Opts o;
  auto f = flags_for(&o);
  auto message = [&](std::vector<const char*> args) {
    auto r = parse(f, std::move(args));
    REQUIRE_FALSE(r.ok());
    return r.error().message;
  };
  CHECK(message({"--colour", "red"}) == "unknown flag --colour");
  CHECK(message({"--dir"}) == "--dir: needs a value");
  CHECK(message({"--port", "70000"}) == "--port: \"70000\" is not an integer from 0 to 65535");
  CHECK(message({"--port", "8o"}) == "--port: \"8o\" is not an integer from 0 to 65535");
  CHECK(message({"--emulate=maybe"}) == "--emulate: \"maybe\" is not true or false");
  // The same mistake written with a space, and a stray word.
  CHECK(message({"--emulate", "maybe"}) == "--emulate: \"maybe\" is not true or false");
  CHECK(message({"--dir", "/x", "extra"}) == "unexpected argument \"extra\" (flags only)");
}
