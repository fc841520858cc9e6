// core/serve: a real server on 127.0.0.1 port 0, Beast clients, certificates made in-process
// (test/support/test_certs.hpp). Each case asserts what a client sees.
#include <catch2/catch.hpp>

#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <boost/beast/websocket.hpp>

#include <future>
#include <thread>

#include "core/serve/server.hpp"
#include "test/support/temp_dir.hpp"
#include "test/support/test_certs.hpp"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
namespace websocket = beast::websocket;
namespace serve = kv::core::serve;
using tcp = asio::ip::tcp;
using Response = http::response<http::string_body>;

namespace {

serve::Router hello_router() {
  serve::Router r;
  r.add("GET", "/hello/{name}",
        [](const std::shared_ptr<serve::Exchange>& ex) {
          ex->respond({200, "hello " + ex->params().at("name")});
        })
      .add("PUT", "/later",
           [](const std::shared_ptr<serve::Exchange>& ex) {
             // Answered from another thread, as work offloaded to a pool is.
             std::thread([ex] { ex->respond({202, "done later"}); }).detach();
           })
      .add("POST", "/echo", [](const std::shared_ptr<serve::Exchange>& ex) {
        ex->respond({200, ex->request().body(), "application/octet-stream"});
      });
  return r;
}

serve::ServerOptions loopback() {
  serve::ServerOptions o;
  o.address = "127.0.0.1";
  o.port = 0;
  return o;
}

// A plain HTTP client on one connection.
struct PlainClient {
  asio::io_context io;
  beast::tcp_stream stream{io};
  beast::flat_buffer buf;
  explicit PlainClient(int port) {
    stream.connect(
        tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
  }
  Response send(http::verb method, const std::string& target, std::string body = "") {
    http::request<http::string_body> req(method, target, 11);
    req.set(http::field::host, "127.0.0.1");
    req.body() = std::move(body);
    req.prepare_payload();
    http::write(stream, req);
    Response res;
    http::read(stream, buf, res);
    return res;
  }
};

std::string der_of(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  REQUIRE(x != nullptr);
  unsigned char* der = nullptr;
  int n = i2d_X509(x, &der);
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(n));
  OPENSSL_free(der);
  X509_free(x);
  return out;
}

// A TLS client: the certificate the server presented (DER), or the handshake error.
struct TlsClient {
  asio::io_context io;
  ssl::context ctx{ssl::context::tls_client};
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> stream;
  beast::flat_buffer buf;

  explicit TlsClient(const kv::test::KeyPair* client_cert = nullptr) {
    ctx.set_verify_mode(ssl::verify_none);
    if (client_cert) {
      ctx.use_certificate_chain(asio::buffer(client_cert->cert_pem));
      ctx.use_private_key(asio::buffer(client_cert->key_pem), ssl::context::pem);
    }
  }
  beast::error_code connect(int port) {
    stream = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(io, ctx);
    beast::get_lowest_layer(*stream).connect(
        tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
    beast::error_code ec;
    stream->handshake(ssl::stream_base::client, ec);
    return ec;
  }
  std::string served_der() {
    X509* x = SSL_get1_peer_certificate(stream->native_handle());
    REQUIRE(x != nullptr);
    unsigned char* der = nullptr;
    int n = i2d_X509(x, &der);
    std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(n));
    OPENSSL_free(der);
    X509_free(x);
    return out;
  }
  Response get(const std::string& target, beast::error_code& ec) {
    http::request<http::string_body> req(http::verb::get, target, 11);
    req.set(http::field::host, "127.0.0.1");
    Response res;
    http::write(*stream, req, ec);
    if (!ec)
      http::read(*stream, buf, res, ec);
    return res;
  }
};

struct Pki {
  kv::test::KeyPair ca = kv::test::make_ca("serve-test-ca");
  kv::test::KeyPair first = kv::test::server_cert(ca, "first", {}, {"127.0.0.1"});
  kv::test::KeyPair second = kv::test::server_cert(ca, "second", {}, {"127.0.0.1"});
  kv::test::KeyPair client = kv::test::client_cert(ca, "a-client");
  kv::test::KeyPair rogue = kv::test::client_cert(kv::test::make_ca("other-ca"), "rogue");
};

const Pki& pki() {
  static const Pki p;
  return p;
}

}  // namespace

TEST_CASE("plain HTTP: routes, parameters, 404, 405 and keep-alive") {
  auto server = serve::Server::start(loopback(), hello_router());
  REQUIRE(server.ok());
  REQUIRE((*server)->port() > 0);

  PlainClient c((*server)->port());
  auto res = c.send(http::verb::get, "/hello/world?x=1");
  CHECK(res.result_int() == 200);
  CHECK(res.body() == "hello world");
  CHECK(res.keep_alive());
  // The same connection serves the next requests.
  res = c.send(http::verb::put, "/later");
  CHECK(res.result_int() == 202);
  CHECK(res.body() == "done later");
  res = c.send(http::verb::post, "/echo", "some bytes");
  CHECK(res.body() == "some bytes");
  CHECK(res[http::field::content_type] == "application/octet-stream");
  res = c.send(http::verb::get, "/nowhere");
  CHECK(res.result_int() == 404);
  res = c.send(http::verb::get, "/hello");  // a segment short
  CHECK(res.result_int() == 404);
  res = c.send(http::verb::delete_, "/hello/world");
  CHECK(res.result_int() == 405);
  CHECK(res[http::field::allow] == "GET");
}

TEST_CASE("custom not-found and method-not-allowed answers; a catch-all pattern") {
  serve::Router r;
  r.add("GET", "/api/*",
        [](const std::shared_ptr<serve::Exchange>& ex) {
          ex->respond({200, ex->path()});
        })
      .on_not_found([](const std::shared_ptr<serve::Exchange>& ex) {
        serve::Response res(404, "nothing at " + ex->path());
        res.close = true;
        ex->respond(std::move(res));
      })
      .on_method_not_allowed([](const std::shared_ptr<serve::Exchange>& ex) {
        ex->respond({405, "only GET"});
      });
  auto server = serve::Server::start(loopback(), std::move(r));
  REQUIRE(server.ok());
  PlainClient c((*server)->port());
  CHECK(c.send(http::verb::get, "/api/a/b/c").body() == "/api/a/b/c");
  CHECK(c.send(http::verb::get, "/api").body() == "/api");
  CHECK(c.send(http::verb::put, "/api/x").body() == "only GET");
  auto res = c.send(http::verb::get, "/other?q");
  CHECK(res.result_int() == 404);
  CHECK(res.body() == "nothing at /other");
  CHECK_FALSE(res.keep_alive());  // the handler asked to close
}

TEST_CASE("a body over the limit gets 413 and the connection closes") {
  auto o = loopback();
  o.body_limit = 16;
  auto server = serve::Server::start(o, hello_router());
  REQUIRE(server.ok());
  PlainClient c((*server)->port());
  auto res = c.send(http::verb::post, "/echo", std::string(100, 'x'));
  CHECK(res.result_int() == 413);
  CHECK_FALSE(res.keep_alive());
}

TEST_CASE("the caller's io_context runs the server") {
  asio::io_context io;
  auto server = serve::Server::start(io, loopback(), hello_router());
  REQUIRE(server.ok());
  std::thread t([&] { io.run_for(std::chrono::seconds(20)); });
  {
    PlainClient c((*server)->port());
    CHECK(c.send(http::verb::get, "/hello/io").body() == "hello io");
  }
  (*server)->stop();
  io.stop();
  t.join();
}

TEST_CASE("a taken port and a bad address are errors that say so") {
  auto first = serve::Server::start(loopback(), hello_router());
  REQUIRE(first.ok());
  auto o = loopback();
  o.port = (*first)->port();
  o.name = "test server";
  auto second = serve::Server::start(o, hello_router());
  REQUIRE_FALSE(second.ok());
  CHECK(second.error().code == kv::core::Errc::io);
  CHECK(second.error().message.find("test server: cannot listen on 127.0.0.1:") == 0);
  o.address = "not-an-ip";
  o.address_flag = "--http-address";
  second = serve::Server::start(o, hello_router());
  REQUIRE_FALSE(second.ok());
  CHECK(second.error().message == "--http-address: \"not-an-ip\" is not an IP address");
}

TEST_CASE("stop ends kept-alive connections") {
  auto server = serve::Server::start(loopback(), hello_router());
  REQUIRE(server.ok());
  PlainClient c((*server)->port());
  CHECK(c.send(http::verb::get, "/hello/a").result_int() == 200);
  (*server)->stop();
  Response res;
  beast::error_code ec;
  http::read(c.stream, c.buf, res, ec);
  CHECK(ec);  // closed, not left hanging
}

TEST_CASE("TLS: a new connection gets the certificate set last; open ones keep theirs") {
  auto tls = std::make_shared<serve::TlsContext>();
  REQUIRE(tls->set_certificate(pki().first.cert_pem, pki().first.key_pem).ok());
  auto o = loopback();
  o.tls = tls;
  auto server = serve::Server::start(o, hello_router());
  REQUIRE(server.ok());

  TlsClient before;
  REQUIRE_FALSE(before.connect((*server)->port()));
  CHECK(before.served_der() == der_of(pki().first.cert_pem));

  REQUIRE(tls->set_certificate(pki().second.cert_pem, pki().second.key_pem).ok());
  CHECK(tls->generation() == 2);
  TlsClient after;
  REQUIRE_FALSE(after.connect((*server)->port()));
  CHECK(after.served_der() == der_of(pki().second.cert_pem));

  // The connection from before still serves requests.
  beast::error_code ec;
  auto res = before.get("/hello/before", ec);
  REQUIRE_FALSE(ec);
  CHECK(res.body() == "hello before");

  // A certificate that does not load changes nothing.
  auto bad = tls->set_certificate("not a certificate", pki().first.key_pem);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().get("pem") == serve::kPemCertificate);
  bad = tls->set_certificate(pki().first.cert_pem, pki().second.key_pem);  // key of another
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().get("pem") == serve::kPemKey);
  TlsClient later;
  REQUIRE_FALSE(later.connect((*server)->port()));
  CHECK(later.served_der() == der_of(pki().second.cert_pem));
}

TEST_CASE("TLS: required client certificates must chain to the client CA") {
  auto tls = std::make_shared<serve::TlsContext>(serve::ClientAuth::require);
  REQUIRE(tls->set_certificate(pki().first.cert_pem, pki().first.key_pem, pki().ca.cert_pem).ok());
  std::promise<std::string> seen;
  serve::Router r;
  r.add("GET", "/who", [&seen](const std::shared_ptr<serve::Exchange>& ex) {
    seen.set_value(ex->peer().leaf_pem);
    ex->respond({200, "ok"});
  });
  std::atomic<int> tls_errors{0};
  auto o = loopback();
  o.tls = tls;
  o.on_tls_error = [&](const boost::system::error_code&) { ++tls_errors; };
  auto server = serve::Server::start(o, std::move(r));
  REQUIRE(server.ok());

  TlsClient good(&pki().client);
  REQUIRE_FALSE(good.connect((*server)->port()));
  beast::error_code ec;
  CHECK(good.get("/who", ec).result_int() == 200);
  CHECK(der_of(seen.get_future().get()) == der_of(pki().client.cert_pem));

  // TLS 1.3 reports a rejected client certificate on the first read, not in the handshake.
  for (const auto* cert : {&pki().rogue, static_cast<const kv::test::KeyPair*>(nullptr)}) {
    TlsClient other(cert);
    auto hs = other.connect((*server)->port());
    if (!hs)
      other.get("/who", hs);
    CHECK(hs);
  }
  CHECK(tls_errors == 2);
}

TEST_CASE("PemFiles sets the certificate when the files change") {
  kv::test::TempDir dir("kv-serve-pem");
  kv::test::write_key_pair(dir.path, "tls", pki().first);
  serve::TlsContext tls;
  serve::PemFiles files(dir.path / "tls.pem", dir.path / "tls.key");
  auto r = files.reload(tls);
  REQUIRE(r.ok());
  CHECK(*r);
  r = files.reload(tls);
  REQUIRE(r.ok());
  CHECK_FALSE(*r);
  CHECK(tls.generation() == 1);
  kv::test::write_key_pair(dir.path, "tls", pki().second);
  r = files.reload(tls);
  REQUIRE(r.ok());
  CHECK(*r);
  CHECK(tls.generation() == 2);
  serve::PemFiles missing(dir.path / "none.pem", dir.path / "tls.key");
  auto m = missing.reload(tls);
  REQUIRE_FALSE(m.ok());
  CHECK(m.error().message.find("none.pem") != std::string::npos);
}

TEST_CASE("WebSocket: the upgrade hook takes the connection over") {
  serve::Router r;
  r.add("GET", "/ws", [](const std::shared_ptr<serve::Exchange>& ex) {
    if (!websocket::is_upgrade(ex->request()))
      return ex->respond({400, "needs an upgrade"});
    ex->upgrade([](serve::Upgraded u) {
      auto ws = std::make_shared<websocket::stream<beast::tcp_stream>>(
          std::move(std::get<serve::TcpStream>(u.stream)));
      beast::get_lowest_layer(*ws).expires_never();
      auto req = std::make_shared<serve::Request>(std::move(u.request));
      ws->async_accept(*req, [ws, req](beast::error_code ec) {
        if (ec)
          return;
        auto buf = std::make_shared<beast::flat_buffer>();
        ws->async_read(*buf, [ws, buf](beast::error_code ec2, size_t) {
          if (ec2)
            return;
          auto text =
              std::make_shared<std::string>("echo:" + beast::buffers_to_string(buf->data()));
          ws->async_write(asio::buffer(*text), [ws, text](beast::error_code, size_t) {});
        });
      });
    });
  });
  auto server = serve::Server::start(loopback(), std::move(r));
  REQUIRE(server.ok());

  PlainClient plain((*server)->port());
  CHECK(plain.send(http::verb::get, "/ws").result_int() == 400);

  asio::io_context io;
  websocket::stream<beast::tcp_stream> ws(io);
  beast::get_lowest_layer(ws).connect(tcp::endpoint(
      asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>((*server)->port())));
  ws.handshake("127.0.0.1", "/ws");
  ws.write(asio::buffer(std::string("hi")));
  beast::flat_buffer buf;
  ws.read(buf);
  CHECK(beast::buffers_to_string(buf.data()) == "echo:hi");
}
