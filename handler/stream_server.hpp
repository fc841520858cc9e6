#pragma once
// The handler's server for virt-api: HTTPS (TLS 1.2+, a client certificate signed by
// --client-ca required) with WebSocket streams to a VMI's serial console and VNC socket, and the
// launcher commands virt-api's subresources need. Paths (docs/handler.md):
//
//   GET  /v1/namespaces/{ns}/virtualmachineinstances/{name}/console   WebSocket, binary frames
//   GET  /v1/namespaces/{ns}/virtualmachineinstances/{name}/vnc       WebSocket, binary frames
//   PUT  /v1/namespaces/{ns}/virtualmachineinstances/{name}/pause     -> 200 {} or an error
//   PUT  /v1/namespaces/{ns}/virtualmachineinstances/{name}/unpause
//   PUT  /v1/namespaces/{ns}/virtualmachineinstances/{name}/softreboot
//   GET  /v1/namespaces/{ns}/virtualmachineinstances/{name}/portforward/{port}[/{tcp|udp}]
//        WebSocket to the guest's port at the launcher pod's IP (handler/portforward.hpp)
//   GET  /healthz
//
// Console: one session per VMI; a new one closes the old (WebSocket close code 1008 "another
// console session took over"), as upstream. QEMU's serial socket is always read at once, so the
// guest never waits on a slow client: when more than `max_buffered_bytes` wait for the client,
// the oldest bytes are dropped (counted in kubevirt_handler_console_dropped_bytes_total).
// VNC: QEMU's VNC server buffers for slow clients itself without stopping the guest, so there we
// stop reading QEMU's socket while the client is behind (dropping would break the protocol).
//
// Serves on core/serve's server, on the handler's io_context thread; start/stop from any thread.
// The certificate can be replaced while serving (set_certificate): new connections get the new one.

#include <utility>  // before Asio: Boost 1.74 awaitable.hpp uses std::exchange unincluded

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "core/result.hpp"
#include "core/serve/server.hpp"
#include "handler/metrics.hpp"
#include "launcher_com/protocol.hpp"

namespace kv::handler {

struct StreamServerOptions {
  std::string address = "0.0.0.0";
  int port = 8186;                  // 0: any free port (see StreamServer::port())
  std::string cert_file, key_file;  // the server's certificate chain and key (PEM)
  std::string client_ca_file;       // CA bundle that client certificates must chain to
  // The same as PEM text, used when the corresponding *_file is empty (certificates read from a
  // Secret need not touch the disk).
  std::string cert_pem, key_pem, client_ca_pem;
  size_t max_buffered_bytes = 1 << 20;
};

// What the server needs from the rest of the handler. Both are called on the io thread.
struct StreamBackend {
  // The launcher's socket directory for a VMI on this node (holds virt-serial0, virt-vnc).
  // Errc::not_found -> 404, Errc::unavailable -> 503.
  std::function<core::Result<std::string>(const std::string& ns, const std::string& name)>
      socket_dir;
  // Sends a command to the VMI's launcher; `done` is called once (on the io thread).
  std::function<void(const std::string& ns, const std::string& name,
                     launcher_com::proto::Command command, std::function<void(core::Status)> done)>
      command;
  // The IP of the VMI's launcher pod (portforward dials it). Errc::not_found -> 404,
  // Errc::unavailable -> 503. Unset: portforward answers 501.
  std::function<core::Result<std::string>(const std::string& ns, const std::string& name)> pod_ip;
};

class StreamServer {
 public:
  // Listens on `io` (core/serve). Errors name the option: "--tls-cert: required ...",
  // "--tls-key: cannot load ...", "--listen-address: ...".
  static core::Result<std::unique_ptr<StreamServer>> start(boost::asio::io_context& io,
                                                           StreamServerOptions opts,
                                                           StreamBackend backend, Metrics& metrics);
  ~StreamServer();
  // Stops accepting and closes every session. Thread-safe; the server must then outlive the
  // io_context's pending work (the handler stops the io_context before destroying it).
  void stop();
  int port() const;
  // A new certificate, key and client CA (PEM) for the connections accepted from now on; on an
  // error (naming the option as start() does) the previous ones stay. Thread-safe.
  core::Status set_certificate(const std::string& cert_pem, const std::string& key_pem,
                               const std::string& client_ca_pem);

  class Session;

 private:
  StreamServer(boost::asio::io_context& io, StreamServerOptions opts, StreamBackend backend,
               Metrics& metrics);
  core::Status set_certificate_from(const std::string& cert_file, const std::string& cert_pem,
                                    const std::string& key_file, const std::string& key_pem,
                                    const std::string& client_ca_file,
                                    const std::string& client_ca_pem);

  boost::asio::io_context& io_;
  StreamServerOptions opts_;
  StreamBackend backend_;
  Metrics& metrics_;
  std::shared_ptr<core::serve::TlsContext> tls_;
  std::unique_ptr<core::serve::Server> server_;
  // Console sessions by "ns/name" (io thread only).
  std::map<std::string, std::weak_ptr<Session>> consoles_;
  std::map<Session*, std::weak_ptr<Session>> sessions_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);

 public:
  // For the session and request implementations (io thread only).
  std::map<std::string, std::weak_ptr<Session>>& consoles() { return consoles_; }
  std::map<Session*, std::weak_ptr<Session>>& sessions() { return sessions_; }
  const StreamServerOptions& options() const { return opts_; }
  StreamBackend& backend() { return backend_; }
  Metrics& metrics() { return metrics_; }
};

// Splits "/v1/namespaces/{ns}/virtualmachineinstances/{name}/{action}"; nullopt when the path
// is not of that form.
struct StreamTarget {
  std::string ns, name, action;
};
std::optional<StreamTarget> parse_stream_target(std::string_view path);

// The WebSocket subprotocol KubeVirt's clients offer for raw bytes (console, VNC, port-forward).
inline constexpr const char* kPlainSubprotocol = "plain.kubevirt.io";

// Whether the comma-separated Sec-WebSocket-Protocol header(s) of `req` list `proto`.
bool offers_subprotocol(const core::serve::Request& req, std::string_view proto);

}  // namespace kv::handler
