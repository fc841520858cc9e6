#pragma once
// A plain-HTTP GET with a deadline, for probes and scrapes of our own loopback endpoints
// (/metrics, /healthz, /readyz) from tests and benchmarks. Not a general client: the Kubernetes
// client (core/kube) is that.

#include <chrono>
#include <string>

#include "core/result.hpp"

namespace kv::core {

struct HttpGetResponse {
  int status = 0;
  std::string body;
};

// GET http://host:port/path with Connection: close. Errc::unavailable when nothing answers,
// Errc::timeout after `timeout`.
Result<HttpGetResponse> http_get(const std::string& host, unsigned short port,
                                 const std::string& path,
                                 std::chrono::milliseconds timeout = std::chrono::seconds(5));

}  // namespace kv::core
