#pragma once
// virt-api's HTTPS server: the subresources.kubevirt.io/v1 aggregated API and the admission
// webhooks on one port (routes.hpp), on the shared server core (core/serve/server.hpp).
//
// Threads: one io_context run by `io_threads` threads (each connection on its own strand) for
// TLS, HTTP and the WebSocket relays; blocking Kubernetes API calls (SubjectAccessReviews, VM
// patches, look-ups) run on a small worker pool and post their answer back to the connection.
//
// TLS 1.2+. Client certificates are requested but optional (kube-apiserver calls webhooks without
// one); a certificate is checked against the requestheader CA after the handshake (authn.hpp),
// so a rotated CA takes effect without restarting.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "api/server/admission.hpp"
#include "api/server/authn.hpp"
#include "core/kube/client.hpp"
#include "core/result.hpp"

namespace kv::apiserver {

struct ServerConfig {
  std::string address = "0.0.0.0";
  int port = 8443;  // 0: any free port (Server::port())
  // The serving certificate chain and key, PEM text.
  std::string cert_pem, key_pem;
  // For dialing virt-handlers: our client certificate and key, and the CA that signed the
  // handlers' serving certificates, PEM text.
  std::string client_cert_pem, client_key_pem, ca_pem;
  int handler_port = 8186;
  std::string handler_namespace = "kubevirt";
  std::string handler_server_name = "virt-handler.kubevirt.svc";
  AdmissionPolicy admission;
  int io_threads = 2;
  int workers = 4;
};

class Server {
 public:
  // Listens at once; serving starts on return. Fails with Errc::invalid naming the option when a
  // certificate or key does not load, Errc::io when the port is taken.
  static core::Result<std::unique_ptr<Server>> start(ServerConfig config,
                                                     core::kube::KubeClient& client);
  ~Server();  // stops (see stop())
  // Stops accepting, ends every connection and relay, joins the threads. Idempotent; not from a
  // server thread.
  void stop();
  int port() const;
  // New certificates for the connections made from now on (hot reload): the serving chain and
  // key, and, when client_cert_pem or ca_pem is given, the client certificate and key and the CA
  // for dialing virt-handlers. On an error (naming the option as start() does) nothing changes.
  // Thread-safe.
  core::Status set_certificates(const std::string& cert_pem, const std::string& key_pem,
                                const std::string& client_cert_pem = "",
                                const std::string& client_key_pem = "",
                                const std::string& ca_pem = "");
  // The front-proxy settings (nullopt: unknown, aggregated requests get 401). Thread-safe.
  void set_request_header_config(std::optional<RequestHeaderConfig> config);
  // Requests served so far with this route name ("vm_action", ...) and HTTP code (tests, metrics).
  int64_t requests(const std::string& route, int code) const;

  struct Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace kv::apiserver
