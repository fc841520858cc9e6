#include "core/log.hpp"

#include <catch2/catch.hpp>
#include <vector>

#include "core/json.hpp"

namespace klog = kv::core::log;
namespace json = kv::core::json;

TEST_CASE("log lines are JSON objects carrying the subject and fields") {
  std::vector<std::string> lines;
  klog::set_sink([&](std::string_view l) { lines.emplace_back(l); });
  klog::init("virt-test", klog::Level::info);
  klog::Logger l({"default", "vm1", "u-1"});
  l.info("domain \"started\"", {{"phase", "Running"}});
  klog::debug("hidden");
  klog::error("boom");
  klog::set_sink(nullptr);

  REQUIRE(lines.size() == 2);
  CHECK(lines[0].back() == '\n');
  auto d = json::parse(lines[0]);
  REQUIRE(d.ok());
  CHECK(json::get_string(*d, "level") == "info");
  CHECK(json::get_string(*d, "component") == "virt-test");
  CHECK(json::get_string(*d, "namespace") == "default");
  CHECK(json::get_string(*d, "name") == "vm1");
  CHECK(json::get_string(*d, "uid") == "u-1");
  CHECK(json::get_string(*d, "msg") == "domain \"started\"");
  CHECK(json::get_string(*d, "phase") == "Running");
  CHECK(json::get_string(*d, "ts")->size() == 27);
  auto e = json::parse(lines[1]);
  REQUIRE(e.ok());
  CHECK(json::get_string(*e, "level") == "error");
  CHECK_FALSE(json::find(*e, "name"));
}

TEST_CASE("parse_level names what is allowed") {
  CHECK(*klog::parse_level("warning") == klog::Level::warn);
  auto bad = klog::parse_level("loud");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message == "log level \"loud\" is not one of debug, info, warn, error");
}
