#pragma once
// WebSocket client through the Kubernetes API server: the same server URL, TLS settings (CA,
// insecure-skip-tls-verify, tls-server-name) and credentials (client certificate, bearer token,
// token file, exec plugin, basic auth) as the REST client, because it opens its connection with
// HttpTransport. Used by virtctl for the console and vnc subresources of virt-api.
//
// Threading: the connection's I/O runs on one internal thread. read() may be called from one
// thread while write()/close() are called from others; writes are serialized. This is what a CLI
// needs: one thread copies the socket to stdout, another copies stdin to the socket.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/kube/kubeconfig.hpp"
#include "core/result.hpp"

namespace kv::core::kube {

// A bidirectional stream of messages: the seam between a session (virtctl's console and VNC
// proxy) and the network, so the session's copying can be tested without a server.
class MessageStream {
 public:
  virtual ~MessageStream() = default;
  // The next message's payload (binary or text). nullopt when the peer closed the stream (a close
  // frame, or close() from this side completed). Errc::unavailable when the connection broke.
  // One reader at a time.
  virtual Result<std::optional<std::string>> read() = 0;
  // Sends one binary message. Thread-safe. Errc::unavailable once the stream is closed or broken.
  virtual Status write(std::string_view bytes) = 0;
  // Starts the close handshake with code (1000: normal) and waits for it to finish (bounded by a
  // few seconds); a pending read() then returns nullopt. Thread-safe; later calls do nothing.
  virtual Status close(uint16_t code = 1000, std::string_view reason = {}) = 0;
};

struct WebSocketRequest {
  // Absolute path without the server's own prefix:
  // "/apis/subresources.kubevirt.io/v1/namespaces/ns/virtualmachineinstances/vm1/console".
  std::string path;
  std::vector<std::pair<std::string, std::string>> query;  // escaped by dial()
  // Sec-WebSocket-Protocol offered; empty: none.
  std::string subprotocol = "plain.kubevirt.io";
  // TCP connect + TLS + upgrade, and later the close handshake.
  std::chrono::milliseconds handshake_timeout{30000};
};

class WebSocket final : public MessageStream {
 public:
  // Connects and upgrades. When the server declines the upgrade the Error carries the HTTP status
  // in context "http_status" and the Kubernetes Status message as its message (code mapped as
  // in http_error(): 404 not_found, 401/403 unauthorized, 400 invalid, ...). A 401 with a token
  // file or exec plugin refreshes the credentials and retries once, as the REST client does.
  static Result<std::unique_ptr<WebSocket>> dial(const RestConfig& config,
                                                 const WebSocketRequest& req);
  // Drops the connection (no close handshake if close() was not called) and joins the I/O
  // thread. No read()/write() may be running.
  ~WebSocket() override;

  Result<std::optional<std::string>> read() override;
  Status write(std::string_view bytes) override;
  Status close(uint16_t code = 1000, std::string_view reason = {}) override;

  // The subprotocol the server accepted ("" when it named none).
  const std::string& subprotocol() const { return subprotocol_; }
  // The peer's close code and reason, once read() returned nullopt (0 when none was sent).
  uint16_t close_code() const;
  std::string close_reason() const;

  class Session;

 private:
  explicit WebSocket(std::unique_ptr<Session> s, std::string subprotocol);
  std::unique_ptr<Session> session_;
  std::string subprotocol_;
};

// "path?k=v&..." with values escaped.
std::string websocket_target(const WebSocketRequest& req);

}  // namespace kv::core::kube
