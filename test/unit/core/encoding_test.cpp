#include "core/encoding.hpp"

#include <catch2/catch.hpp>

#include "core/names.hpp"

using namespace kv::core;
using namespace std::chrono_literals;

TEST_CASE("base64: standard alphabet, padding optional, whitespace ignored, errors say where") {
  CHECK(base64_encode("hello") == "aGVsbG8=");
  CHECK(base64_encode("") == "");
  CHECK(base64_decode("aGVsbG8=").value() == "hello");
  CHECK(base64_decode("aGVsbG8").value() == "hello");
  CHECK(base64_decode("aGVs\nbG8=\n").value() == "hello");
  CHECK(base64_decode("").value().empty());
  auto bad = base64_decode("a$b=");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message == "invalid base64: unexpected character '$' at offset 1");
  CHECK_FALSE(base64_decode("aGVsbG8=x").ok());
  std::string all;
  for (int c = 0; c < 256; ++c)
    all.push_back(static_cast<char>(c));
  CHECK(base64_decode(base64_encode(all)).value() == all);
}

TEST_CASE("RFC 3339: Kubernetes' Time and MicroTime, offsets and fractions parsed") {
  const auto t = std::chrono::system_clock::time_point(1704164645s + 123456us);
  CHECK(format_rfc3339(t) == "2024-01-02T03:04:05Z");
  CHECK(format_rfc3339_micro(t) == "2024-01-02T03:04:05.123456Z");
  CHECK(parse_rfc3339("2024-01-02T03:04:05.123456Z").value() == t);
  CHECK(parse_rfc3339("2024-01-02T04:04:05+01:00").value() ==
        std::chrono::system_clock::time_point(1704164645s));
  auto bad = parse_rfc3339("yesterday");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message == "\"yesterday\" is not an RFC 3339 time (like 2024-01-02T03:04:05Z)");
}

TEST_CASE("names: RFC 1123 labels and subdomains as Kubernetes checks them") {
  CHECK(is_dns_label("kubevirt"));
  CHECK(is_dns_label("a-1"));
  CHECK_FALSE(is_dns_label(""));
  CHECK_FALSE(is_dns_label("Kube_Virt"));
  CHECK_FALSE(is_dns_label("-a"));
  CHECK_FALSE(is_dns_label("a-"));
  CHECK_FALSE(is_dns_label("a.b"));
  CHECK_FALSE(is_dns_label(std::string(64, 'a')));
  CHECK(is_dns_label(std::string(63, 'a')));
  CHECK(is_dns_subdomain("virt-handler-certs"));
  CHECK(is_dns_subdomain("a.b.c"));
  CHECK_FALSE(is_dns_subdomain("a..b"));
  CHECK_FALSE(is_dns_subdomain(".a"));
  CHECK_FALSE(is_dns_subdomain("UPPER"));
  CHECK_FALSE(is_dns_subdomain(std::string(254, 'a')));
}

TEST_CASE("RFC 3339: a negative offset and garbage after the time") {
  CHECK(format_rfc3339(parse_rfc3339("2024-01-02T01:04:05-02:00").value()) ==
        "2024-01-02T03:04:05Z");
  CHECK_FALSE(parse_rfc3339("2024-01-02 nonsense").ok());
  CHECK_FALSE(parse_rfc3339("2024-01-02T03:04:05Zjunk").ok());
}
