#pragma once
// HTTP/1.1 client transport on Boost.Beast (+ OpenSSL for https): blocking, thread-safe, with a
// small pool of keep-alive connections to one server. Each connection owns its own io_context,
// so a call runs its I/O on the calling thread and timeouts come from beast::tcp_stream.
//
// Used by KubeClientImpl; not a seam (no interface), but usable alone for raw HTTP in tests.

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/kube/client.hpp"
#include "core/kube/kubeconfig.hpp"
#include "core/result.hpp"

namespace kv::core::kube {

struct HttpRequest {
  std::string method = "GET";
  std::string target;  // path + query, already escaped; the server's path prefix is added
  std::string body;
  std::string content_type;
  std::string accept = "application/json";
  std::string authorization;                 // the Authorization header value; "" for none
  std::chrono::milliseconds timeout{30000};  // whole request (send + full response)
};

struct HttpResponse {
  int status = 0;
  std::string body;
  std::string content_type;
  std::string retry_after;
};

class HttpTransport {
 public:
  struct Connection;  // defined in core/kube/http_connection.hpp

  // Parses config.server and prepares TLS (CA, client certificate, verification).
  static Result<std::unique_ptr<HttpTransport>> create(const RestConfig& config);
  ~HttpTransport();

  // One request/response on a pooled connection. A reused connection that turns out closed by the
  // server before any response byte is retried once on a fresh connection.
  Result<HttpResponse> send(const HttpRequest& req);

  // Streams the response body of a long request (watch) on a dedicated connection: on_data gets
  // the decoded body bytes as they arrive (chunk boundaries are arbitrary). Returns the HTTP status
  // when the stream ends normally or on_data returns false; when the status is not 2xx the body
  // is collected into *error_body instead and on_data is not called. Errc::timeout when no bytes
  // arrive for idle_timeout (0: none); Errc::unavailable when the connection drops mid-stream;
  // cancel makes it return promptly with the status so far.
  Result<int> stream(const HttpRequest& req, const std::function<bool(std::string_view)>& on_data,
                     std::string* error_body, std::chrono::milliseconds idle_timeout,
                     Cancel* cancel);

  // A fresh, unpooled connection (TCP, then TLS with the config's CA, client certificate and server
  // name) for protocols that take the connection over, such as WebSocket upgrades. The definition
  // of Connection is in core/kube/http_connection.hpp.
  Result<std::unique_ptr<Connection>> open(std::chrono::steady_clock::time_point deadline);
  // The Host header value for the server ("host:port", IPv6 in brackets).
  std::string host_header() const;
  // The server URL's path prefix ("" or "/prefix"), prepended to every request target.
  const std::string& path_prefix() const { return prefix_; }

  // TCP connections opened so far (tests check keep-alive reuse).
  int64_t connections_opened() const { return connections_opened_.load(); }
  // Replaces the client certificate (exec plugins rotate it); drops pooled connections.
  Status set_client_certificate(const std::string& cert_pem, const std::string& key_pem);

 private:
  HttpTransport() = default;
  Result<std::unique_ptr<Connection>> connect(std::chrono::steady_clock::time_point deadline);
  std::unique_ptr<Connection> take_idle();
  void put_idle(std::unique_ptr<Connection> c);
  Result<HttpResponse> send_on(Connection& c, const HttpRequest& req, bool& any_response_bytes);

  RestConfig config_;
  bool tls_ = true;
  std::string host_, port_, prefix_;
  std::mutex mu_;                  // guards ssl_ctx_, idle_
  std::shared_ptr<void> ssl_ctx_;  // boost::asio::ssl::context, type-erased to keep Beast out
  std::vector<std::unique_ptr<Connection>> idle_;
  std::atomic<int64_t> connections_opened_{0};
  static constexpr size_t kMaxIdle = 8;
};

}  // namespace kv::core::kube
