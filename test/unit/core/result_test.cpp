#include "core/result.hpp"

#include <catch2/catch.hpp>
#include <cerrno>

using kv::core::Errc;
using kv::core::Error;
using kv::core::Result;
using kv::core::Status;

namespace {
Result<int> half(int x) {
  if (x % 2)
    return Error(Errc::invalid, "odd").with("x", std::to_string(x));
  return x / 2;
}
Status quarter(int x, int* out) {
  auto h = half(x);
  KV_CHECK(h);
  auto q = half(*h);
  KV_CHECK(q);
  *out = *q;
  return {};
}
}  // namespace

TEST_CASE("Result carries a value or an error with context") {
  auto ok = half(8);
  REQUIRE(ok.ok());
  CHECK(*ok == 4);
  auto bad = half(3);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == Errc::invalid);
  CHECK(bad.error().get("x") == "3");
  CHECK(bad.error().to_string() == "odd (x=3)");
  CHECK(bad.value_or(-1) == -1);
}

TEST_CASE("KV_CHECK propagates the first error") {
  int out = 0;
  CHECK(quarter(8, &out).ok());
  CHECK(out == 2);
  auto s = quarter(6, &out);  // 6 -> 3 -> odd
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().get("x") == "3");
}

TEST_CASE("errno_error names the errno") {
  auto e = kv::core::errno_error("open /nope", ENOENT);
  CHECK(e.code == Errc::io);
  CHECK(e.message == "open /nope: No such file or directory");
  CHECK(e.get("errno") == std::to_string(ENOENT));
}
