// WebSocket client against a local Beast TLS WebSocket server on 127.0.0.1:<ephemeral> with a
// self-signed certificate made by the openssl CLI in a temp dir: what virtctl relies on (TLS with
// the kubeconfig's CA and server name, client certificates, bearer tokens, the plain.kubevirt.io
// subprotocol, binary messages both ways, close codes, and readable upgrade errors).
#include "core/kube/websocket.hpp"

#include <sys/socket.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <catch2/catch.hpp>
#include <map>
#include <mutex>
#include <thread>

#include "test/support/kube_test_util.hpp"

using namespace kv::core;
using namespace kv::core::kube;

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

struct Certs {
  kv::test::TempDir dir;
  std::string cert, key;
  Certs() {
    kv::test::make_cert(dir.path());
    cert = kv::test::read_text(dir.file("cert.pem"));
    key = kv::test::read_text(dir.file("key.pem"));
  }
};

const Certs& certs() {
  static Certs c;
  return c;
}

// Serves one connection at a time: paths starting with /missing get a 404 Status, /forbidden a
// 403; anything else is upgraded (echoing the offered subprotocol), greeted with "hello", and
// echoed until the client closes; a message "bye" makes the server close with 1008.
class EchoServer {
 public:
  explicit EchoServer(bool require_client_cert = false) : ctx_(ssl::context::tls_server) {
    ctx_.use_certificate_chain(asio::buffer(certs().cert));
    ctx_.use_private_key(asio::buffer(certs().key), ssl::context::pem);
    if (require_client_cert) {
      ctx_.add_certificate_authority(asio::buffer(certs().cert));
      ctx_.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
    }
    acceptor_.open(tcp::v4());
    acceptor_.bind(tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this] { serve(); });
  }
  ~EchoServer() {
    stopping_ = true;
    ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
    {
      std::lock_guard lock(mu_);
      if (active_fd_ >= 0)
        ::shutdown(active_fd_, SHUT_RDWR);
    }
    thread_.join();
  }
  int port() const { return port_; }

  struct Seen {
    std::string target, authorization, protocol;
    int close_code = -1;
  };
  Seen seen() {
    std::lock_guard lock(mu_);
    return seen_;
  }
  bool closed() {
    std::lock_guard lock(mu_);
    return seen_.close_code >= 0;
  }

 private:
  void serve() {
    while (!stopping_) {
      tcp::socket sock(io_);
      beast::error_code ec;
      acceptor_.accept(sock, ec);
      if (ec)
        return;
      {
        std::lock_guard lock(mu_);
        active_fd_ = sock.native_handle();
      }
      handle(std::move(sock));
      std::lock_guard lock(mu_);
      active_fd_ = -1;
    }
  }

  void handle(tcp::socket sock) {
    beast::error_code ec;
    websocket::stream<beast::ssl_stream<tcp::socket>> ws(std::move(sock), ctx_);
    ws.next_layer().handshake(ssl::stream_base::server, ec);
    if (ec)
      return;
    beast::flat_buffer buf;
    http::request<http::string_body> req;
    http::read(ws.next_layer(), buf, req, ec);
    if (ec)
      return;
    {
      std::lock_guard lock(mu_);
      seen_.target = std::string(req.target());
      seen_.authorization = std::string(req[http::field::authorization]);
      seen_.protocol = std::string(req[http::field::sec_websocket_protocol]);
    }
    std::string target(req.target());
    if (target.rfind("/missing", 0) == 0 || target.rfind("/forbidden", 0) == 0) {
      bool missing = target.rfind("/missing", 0) == 0;
      http::response<http::string_body> res{
          missing ? http::status::not_found : http::status::forbidden, 11};
      res.set(http::field::content_type, "application/json");
      res.body() =
          missing
              ? R"({"kind":"Status","apiVersion":"v1","status":"Failure","message":"virtualmachineinstance \"nope\" not found","reason":"NotFound","code":404})"
              : R"({"kind":"Status","apiVersion":"v1","status":"Failure","message":"virtualmachineinstances.subresources.kubevirt.io \"vm1\" is forbidden: User \"bob\" cannot get resource","reason":"Forbidden","code":403})";
      res.prepare_payload();
      http::write(ws.next_layer(), res, ec);
      return;
    }
    std::string protocol(req[http::field::sec_websocket_protocol]);
    ws.set_option(websocket::stream_base::decorator([protocol](websocket::response_type& r) {
      if (!protocol.empty())
        r.set(http::field::sec_websocket_protocol, protocol);
    }));
    ws.accept(req, ec);
    if (ec)
      return;
    ws.binary(true);
    ws.write(asio::buffer(std::string("hello")), ec);
    for (;;) {
      beast::flat_buffer msg;
      ws.read(msg, ec);
      if (ec == websocket::error::closed) {
        std::lock_guard lock(mu_);
        seen_.close_code = ws.reason().code;
        return;
      }
      if (ec)
        return;
      std::string text = beast::buffers_to_string(msg.data());
      if (text == "bye") {
        ws.close(websocket::close_reason(websocket::close_code::policy_error), ec);
        return;
      }
      ws.binary(true);
      ws.write(msg.data(), ec);
      if (ec)
        return;
    }
  }

  asio::io_context io_;
  ssl::context ctx_;
  tcp::acceptor acceptor_{io_};
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  std::mutex mu_;
  int active_fd_ = -1;
  Seen seen_;
};

RestConfig config_for(const EchoServer& s) {
  RestConfig c;
  c.server = "https://127.0.0.1:" + std::to_string(s.port());
  c.ca_pem = certs().cert;
  c.server_name = "test";  // the certificate's CN: tls-server-name is honoured
  return c;
}

WebSocketRequest console_request(const std::string& path =
                                     "/apis/subresources.kubevirt.io/v1/namespaces/default/"
                                     "virtualmachineinstances/vm1/console") {
  WebSocketRequest r;
  r.path = path;
  r.handshake_timeout = std::chrono::seconds(10);
  return r;
}

std::string must_read(WebSocket& ws) {
  auto m = ws.read();
  REQUIRE(m.ok());
  REQUIRE(m->has_value());
  return **m;
}

}  // namespace

TEST_CASE("websocket: negotiates plain.kubevirt.io, sends the bearer token, echoes binary") {
  EchoServer server;
  RestConfig c = config_for(server);
  c.bearer_token = "sekret";
  WebSocketRequest req = console_request();
  req.query = {{"container", "a b"}};
  auto ws = WebSocket::dial(c, req);
  REQUIRE(ws.ok());
  CHECK((*ws)->subprotocol() == "plain.kubevirt.io");
  auto seen = server.seen();
  CHECK(seen.authorization == "Bearer sekret");
  CHECK(seen.protocol == "plain.kubevirt.io");
  CHECK(seen.target ==
        "/apis/subresources.kubevirt.io/v1/namespaces/default/virtualmachineinstances/vm1/"
        "console?container=a%20b");

  CHECK(must_read(**ws) == "hello");
  std::string binary("\x00\x01\xff\x1d login: \r\n", 13);
  REQUIRE((*ws)->write(binary).ok());
  CHECK(must_read(**ws) == binary);

  REQUIRE((*ws)->close(1000).ok());
  CHECK(kv::test::wait_for([&] { return server.closed(); }));
  CHECK(server.seen().close_code == 1000);
  // After close() the stream reports the end, not an error.
  auto after = (*ws)->read();
  REQUIRE(after.ok());
  CHECK(!after->has_value());
}

TEST_CASE("websocket: reads and writes from two threads at once") {
  EchoServer server;
  auto ws = WebSocket::dial(config_for(server), console_request());
  REQUIRE(ws.ok());
  CHECK(must_read(**ws) == "hello");
  constexpr int kMessages = 200;
  std::string got;
  std::thread reader([&] {
    for (int i = 0; i < kMessages; ++i) {
      auto m = (*ws)->read();
      if (!m.ok() || !m->has_value())
        return;
      got += **m;
    }
  });
  std::string sent;
  for (int i = 0; i < kMessages; ++i) {
    std::string m = std::to_string(i) + ",";
    sent += m;
    REQUIRE((*ws)->write(m).ok());
  }
  reader.join();
  CHECK(got == sent);
  CHECK((*ws)->close(1000).ok());
}

TEST_CASE("websocket: the server's close code reaches the reader") {
  EchoServer server;
  auto ws = WebSocket::dial(config_for(server), console_request());
  REQUIRE(ws.ok());
  CHECK(must_read(**ws) == "hello");
  REQUIRE((*ws)->write("bye").ok());
  auto m = (*ws)->read();
  REQUIRE(m.ok());
  CHECK(!m->has_value());
  CHECK((*ws)->close_code() == 1008);
  CHECK((*ws)->close(1000).ok());  // nothing left to close: still fine
  CHECK(!(*ws)->write("more").ok());
}

TEST_CASE("websocket: a declined upgrade returns the Status message and HTTP status") {
  EchoServer server;
  auto ws = WebSocket::dial(config_for(server), console_request("/missing/console"));
  REQUIRE(!ws.ok());
  CHECK(ws.error().code == Errc::not_found);
  CHECK(ws.error().message == "virtualmachineinstance \"nope\" not found");
  CHECK(ws.error().get("http_status") == "404");

  auto denied = WebSocket::dial(config_for(server), console_request("/forbidden/vnc"));
  REQUIRE(!denied.ok());
  CHECK(denied.error().code == Errc::unauthorized);
  CHECK(denied.error().get("http_status") == "403");
  CHECK(denied.error().message.find("is forbidden") != std::string::npos);
}

TEST_CASE("websocket: presents the kubeconfig's client certificate") {
  EchoServer server(/*require_client_cert=*/true);
  RestConfig c = config_for(server);
  auto without = WebSocket::dial(c, console_request());
  CHECK(!without.ok());

  c.client_cert_pem = certs().cert;
  c.client_key_pem = certs().key;
  auto with = WebSocket::dial(c, console_request());
  REQUIRE(with.ok());
  CHECK(must_read(**with) == "hello");
  CHECK((*with)->close(1000).ok());
}

TEST_CASE("websocket: an untrusted server certificate is refused unless verification is off") {
  EchoServer server;
  RestConfig c = config_for(server);
  c.ca_pem.clear();  // system store: does not know the self-signed certificate
  auto ws = WebSocket::dial(c, console_request());
  REQUIRE(!ws.ok());
  CHECK(ws.error().message.find("not trusted") != std::string::npos);

  c.insecure_skip_tls_verify = true;
  auto insecure = WebSocket::dial(c, console_request());
  REQUIRE(insecure.ok());
  CHECK(must_read(**insecure) == "hello");
  CHECK((*insecure)->close(1000).ok());
}

TEST_CASE("websocket: query values are escaped into the target") {
  WebSocketRequest r;
  r.path = "/p";
  CHECK(websocket_target(r) == "/p");
  r.query = {{"a", "1"}, {"b", "x&y"}};
  CHECK(websocket_target(r) == "/p?a=1&b=x%26y");
}
