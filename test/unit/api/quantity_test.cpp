#include "api/v1/quantity.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using kv::api::v1::parse_quantity;
using kv::api::v1::Quantity;

namespace {

// Undoes Go's %q for the inputs we use (printable ASCII; \" and \\ only).
std::string unquote(const std::string& q) {
  std::string out;
  for (size_t i = 1; i + 1 < q.size(); ++i) {
    if (q[i] == '\\') {
      ++i;
    }
    out.push_back(q[i]);
  }
  return out;
}

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> out;
  std::stringstream ss(line);
  std::string part;
  while (std::getline(ss, part, '\t')) {
    out.push_back(part);
  }
  return out;
}

Quantity q(std::string_view s) {
  auto r = parse_quantity(s);
  INFO(s);
  REQUIRE(r.ok());
  return r.value();
}

}  // namespace

TEST_CASE("quantities parse, print and round as Kubernetes' resource.Quantity does") {
  // vectors.tsv comes from running k8s.io/apimachinery's ParseQuantity (testdata/quantity/gen.go).
  std::ifstream in(KV_API_TESTDATA "/quantity/vectors.tsv");
  REQUIRE(in.good());
  std::string line;
  int checked = 0;
  while (std::getline(in, line)) {
    auto cols = split_tabs(line);
    REQUIRE(cols.size() >= 2);
    const std::string input = unquote(cols[0]);
    INFO("input: \"" << input << "\"");
    auto r = parse_quantity(input);
    ++checked;
    if (cols[1] == "error") {
      CHECK_FALSE(r.ok());
      continue;
    }
    // ParseQuantity alone reads a lone sign or dot as zero; the API server's schema pattern for
    // quantity strings rejects them first, and so do we.
    if (input == "-" || input == "+" || input == ".") {
      CHECK_FALSE(r.ok());
      continue;
    }
    REQUIRE(cols.size() == 5);
    REQUIRE(r.ok());
    // Kubernetes writes a DecimalSI amount beyond 999E or finer than 1n without its exponent
    // ("1000E" prints as "1"), changing its value; we write e-notation there. Everywhere else the
    // strings must be identical.
    auto go_printed = parse_quantity(cols[2]);
    if (go_printed.ok() && go_printed.value() == r.value()) {
      CHECK(r->to_string() == cols[2]);
    } else {
      CHECK(parse_quantity(r->to_string()).value() == r.value());
    }
    // Go's Value()/MilliValue() overflow silently beyond int64 (we saturate), and round negative
    // amounts inconsistently between its two representations (we round away from zero): compare
    // non-negative amounts in range.
    if (r->sign() >= 0 && r->compare(q("9e18")) < 0) {
      CHECK(std::to_string(r->value()) == cols[3]);
    }
    if (r->sign() >= 0 && r->compare(q("9e15")) < 0) {
      CHECK(std::to_string(r->milli_value()) == cols[4]);
    }
  }
  CHECK(checked > 900);
}

TEST_CASE("quantity examples from the API a user writes") {
  CHECK(q("1Gi").value() == 1073741824);
  CHECK(q("512M").value() == 512000000);
  CHECK(q("100m").milli_value() == 100);
  CHECK(q("100m").value() == 1);  // rounds up
  CHECK(q("1024Mi").to_string() == "1Gi");
  CHECK(q("1024Mi") == q("1Gi"));
  CHECK(q("1G").compare(q("1Gi")) < 0);
  CHECK(Quantity::from_int(1073741824, Quantity::Format::binary_si).to_string() == "1Gi");
  CHECK(Quantity::from_int(0).to_string() == "0");
  CHECK(Quantity::from_milli(1500).to_string() == "1500m");
  CHECK(q("-1.5").value() == -2);
  CHECK(q("1000E").to_string() == "1e21");
  CHECK(q("8Ei").value() == INT64_MAX);  // binary amounts are capped, as Kubernetes caps them
}

// Found by test/fuzz/quantity_fuzz: an exponent near -2^31 divided the amount by ten once per
// step, billions of times, inside virt-api's webhook. (Go truncates the exponent to int32, so
// "1e496999999999997291" is 1e-446794389.)
TEST_CASE("amounts far below 1n round up to 1n without a step per power of ten") {
  CHECK(q("1e-2000000000") == q("1n"));
  CHECK(q("-1e-2000000000") == q("-1n"));
  CHECK(q("1e496999999999997291") == q("1n"));
  CHECK(q("1e-2000000000").milli_value() == 1);
}

TEST_CASE("invalid quantities say what is allowed") {
  for (const char* bad : {"1.5.5", "1Gb", "-", " 1Gi", "1Gi ", "", "1KiB", "abc", "1e"}) {
    INFO(bad);
    auto r = parse_quantity(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == kv::core::Errc::invalid);
    CHECK_THAT(r.error().message, Catch::Contains("allowed:"));
    CHECK_THAT(r.error().message, Catch::Contains("Gi"));
  }
}

// Found by test/fuzz/quantity_fuzz: a binary amount that is a whole number but not a multiple of
// 1024 prints without a suffix, as Kubernetes' CanonicalizeBytes does, and that text reads back as
// a decimal amount with its own canonical form. The amount is kept; the spelling settles after one
// round (the fuzz target's check was too strict here, not the parser).
TEST_CASE("a binary amount printed without a suffix reads back as the same decimal amount") {
  auto binary = q("2819234568812.5Ki");
  CHECK(binary.canonical() == "2886896198464000");
  auto back = q(binary.canonical());
  CHECK(back == binary);
  CHECK(back.canonical() == "2886896198464k");
  CHECK(q(back.canonical()).canonical() == "2886896198464k");
}
