#pragma once
// core/serve: the one HTTP/1.1 server every component uses (docs/serve.md), on Boost.Beast/Asio
// and OpenSSL.
//
//   accept -> [TLS handshake] -> read request -> Router -> handler -> Exchange::respond
//                                      ^                                   |  keep-alive
//                                      +-----------------------------------+
//                                                          or Exchange::upgrade (hand-off)
//
// - Plain HTTP, or TLS from a TlsContext whose certificate can be swapped while serving
//   (tls.hpp): every new connection gets the context current at its accept.
// - A handler gets the request as an Exchange and answers it once with respond(), at once or
//   later from any thread (work offloaded to a pool), or takes the connection over with
//   upgrade() (WebSocket sessions, byte relays): the server then writes nothing more on it.
// - Threads: either the caller's io_context (the server runs on whichever threads run it), or an
//   io_context of its own run by `threads` threads. Each connection runs on its own strand;
//   handlers are called on it.
// - stop() closes the listener and every connection not handed over; idempotent.
//
// Nothing here opens a listener of its own elsewhere in the tree: components build a Router and
// call Server::start (the launcher's unix command socket, a framed protocol, is not HTTP).

#include <utility>  // before Asio: Boost 1.74 awaitable.hpp uses std::exchange unincluded

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "core/result.hpp"
#include "core/serve/tls.hpp"

namespace kv::core::serve {

using Request = boost::beast::http::request<boost::beast::http::string_body>;
using TcpStream = boost::beast::tcp_stream;
using TlsStream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

struct Response {
  Response() = default;
  Response(int status_code, std::string text, std::string type = "text/plain")
      : status(status_code), body(std::move(text)), content_type(std::move(type)) {}
  int status = 200;
  std::string body;
  std::string content_type = "text/plain";
  std::vector<std::pair<std::string, std::string>> headers;  // more header fields
  // End the connection after this response; otherwise it stays open when the client asks for
  // keep-alive.
  bool close = false;
};

// A connection handed over by Exchange::upgrade.
struct Upgraded {
  Request request;
  std::variant<TcpStream, TlsStream> stream;
  boost::beast::flat_buffer buffer;  // bytes read past the request (the client may have sent on)
  // Keeps the TLS context of `stream` alive: hold it as long as the stream.
  std::shared_ptr<boost::asio::ssl::context> tls_context;
};

// The client's certificate (leaf) and the chain it sent, PEM; empty without TLS or when the
// client sent none.
struct PeerCertificates {
  std::string leaf_pem;
  std::vector<std::string> chain_pem;
};

// One request on a connection, as a handler sees it.
class Exchange {
 public:
  virtual ~Exchange() = default;
  virtual const Request& request() const = 0;
  virtual const PeerCertificates& peer() const = 0;
  // Pattern parameters of the route that matched ("{name}" -> value).
  const std::map<std::string, std::string>& params() const { return params_; }
  // The path of the request target without its query.
  std::string path() const;
  // Answers the request. Call once per request (or upgrade instead), from any thread.
  virtual void respond(Response r) = 0;
  // Hands the connection over: `take` is called on the connection's strand with the stream. No
  // response is written by the server. From any thread.
  virtual void upgrade(std::function<void(Upgraded)> take) = 0;
  // The connection's strand (handlers run on it).
  virtual boost::asio::any_io_executor executor() = 0;

 private:
  friend class Router;
  std::map<std::string, std::string> params_;
};

using Handler = std::function<void(const std::shared_ptr<Exchange>&)>;

// method + path pattern -> handler. A pattern is a path whose segments are literal, "{name}" (one
// non-empty segment, available in Exchange::params), or, as the last segment, "*" (the rest of
// the path, possibly empty). The query is ignored. Routes are tried in the order added.
class Router {
 public:
  // `method`: "GET", "PUT", ... or "*" for any method.
  Router& add(std::string method, std::string pattern, Handler handler);
  // No pattern matched the path. Default: 404 "not found".
  Router& on_not_found(Handler handler);
  // A pattern matched the path but not for this method. Default: 405 with an Allow header.
  Router& on_method_not_allowed(Handler handler);
  // Calls the handler for the exchange's request.
  void dispatch(const std::shared_ptr<Exchange>& ex) const;

 private:
  struct Route {
    std::string method;
    std::vector<std::string> segments;
    Handler handler;
  };
  std::vector<Route> routes_;
  Handler not_found_, method_not_allowed_;
};

struct ServerOptions {
  std::string address = "0.0.0.0";
  int port = 0;  // 0: any free port (Server::port())
  // Named in errors about the address ("--listen-address").
  std::string address_flag = "--listen-address";
  // Named in logs and in the listen error ("virt-api", ...).
  std::string name;
  // Null: plain HTTP. Else TLS with its current context (must be set before start()).
  std::shared_ptr<TlsContext> tls;
  std::chrono::seconds handshake_timeout{30};
  // How long a connection may take to send a request (and stay idle between requests).
  std::chrono::seconds idle_timeout{30};
  size_t body_limit = 1 << 20;
  // The answer to a body over body_limit (the connection then closes). Default: 413.
  std::function<Response()> body_too_large;
  // Called (on the connection's strand) when a TLS handshake fails.
  std::function<void(const boost::system::error_code&)> on_tls_error;
  int threads = 1;  // for start() without an io_context
};

class Server {
 public:
  // Listens on the caller's io_context; serving starts once the io_context runs. Errors:
  // Errc::invalid naming options.address_flag for an address that is not an IP address or a TLS
  // context without a certificate, Errc::io when the address cannot be bound.
  static Result<std::unique_ptr<Server>> start(boost::asio::io_context& io, ServerOptions options,
                                               Router router);
  // The same on an io_context of its own run by options.threads threads.
  static Result<std::unique_ptr<Server>> start(ServerOptions options, Router router);
  ~Server();  // stop()
  // Stops accepting and closes every connection not handed over; with its own io_context also
  // stops it and joins the threads (then not from a handler). Idempotent, any thread.
  void stop();
  int port() const;

  struct Impl;

 private:
  explicit Server(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace kv::core::serve
