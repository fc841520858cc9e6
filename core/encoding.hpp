#pragma once
// Encodings used across the tree, each written once: standard base64 (OpenSSL's) and RFC 3339
// times as Kubernetes writes them.

#include <chrono>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace kv::core {

// Standard base64 (RFC 4648, padding optional, whitespace ignored). Errc::invalid on bad input,
// naming the offending character and its offset.
Result<std::string> base64_decode(std::string_view in);
std::string base64_encode(std::string_view in);

// Parses RFC 3339 ("2024-01-02T03:04:05Z", fractional seconds and offsets allowed).
Result<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view s);
// Formats with microseconds, UTC, as Kubernetes MicroTime: "2024-01-02T03:04:05.123456Z".
std::string format_rfc3339_micro(std::chrono::system_clock::time_point t);
// Seconds precision, as metav1.Time: "2024-01-02T03:04:05Z".
std::string format_rfc3339(std::chrono::system_clock::time_point t);

}  // namespace kv::core
