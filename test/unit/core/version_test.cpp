// The build's version facts (core/version): what virt-api's /version and virtctl version show.
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <regex>

#include "core/json.hpp"
#include "core/version.hpp"

using kv::core::version;

TEST_CASE("the version is the project's, the commit and date those of the source tree built") {
  const auto& v = version();
  CHECK(v.git_version == "v0.1.0");
  CHECK(std::regex_match(v.build_date, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")));
  CHECK((v.git_tree_state == "clean" || v.git_tree_state == "dirty"));
  REQUIRE(std::regex_match(v.git_commit, std::regex("[0-9a-f]{40}")));
  // The commit is one the source tree has (the tree may have moved on since the build).
  const char* src = std::getenv("KV_SOURCE_ROOT");
  REQUIRE(src);
  std::string cmd = std::string("git -C '") + src + "' cat-file -t " + v.git_commit;
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p);
  char buf[64] = {};
  std::string out(buf, std::fread(buf, 1, sizeof buf - 1, p));
  ::pclose(p);
  CHECK(out == "commit\n");
}

TEST_CASE("version_json carries upstream's version.Info fields") {
  kv::core::VersionInfo v{"v1.2.3", "0123456789abcdef0123456789abcdef01234567",
                          "clean",  "2026-01-02T03:04:05Z",
                          "gcc",    "linux/amd64"};
  auto doc = kv::core::json::parse(kv::core::version_json(v));
  REQUIRE(doc.ok());
  CHECK(kv::core::json::get_string(*doc, "gitVersion") == "v1.2.3");
  CHECK(kv::core::json::get_string(*doc, "gitCommit") == v.git_commit);
  CHECK(kv::core::json::get_string(*doc, "gitTreeState") == "clean");
  CHECK(kv::core::json::get_string(*doc, "buildDate") == "2026-01-02T03:04:05Z");
  CHECK(kv::core::json::get_string(*doc, "compiler") == "gcc");
  CHECK(kv::core::json::get_string(*doc, "platform") == "linux/amd64");
}
