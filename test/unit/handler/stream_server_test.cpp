// The handler's console/VNC/command server for virt-api (handler/stream_server): a real TLS
// server on loopback, a Beast WebSocket client with client certificates from core/pki
// (test/support/test_certs.hpp), and a unix socket standing in for QEMU's serial console.
#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <atomic>
#include <mutex>
#include <thread>

#include "handler/portforward.hpp"
#include "handler/stream_server.hpp"
#include "test/support/temp_dir.hpp"
#include "test/support/test_certs.hpp"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
using asio::ip::tcp;
using kv::handler::Metrics;
using kv::handler::StreamServer;
using namespace std::chrono_literals;

namespace {

// A CA, a server certificate for 127.0.0.1, a client certificate from the CA, and a client
// certificate from another CA; as PEM text and as files <name>.pem / <name>.key in `dir`.
struct Pki {
  kv::test::TempDir dir{"kv-handler-stream"};
  kv::test::KeyPair ca = kv::test::make_ca("test-ca");
  kv::test::KeyPair server = kv::test::server_cert(ca, "virt-handler", {}, {"127.0.0.1"});
  kv::test::KeyPair client = kv::test::client_cert(ca, "virt-api");
  kv::test::KeyPair rogue = kv::test::client_cert(kv::test::make_ca("other-ca"), "rogue");
  Pki() {
    kv::test::write_key_pair(dir.path, "ca", ca);
    kv::test::write_key_pair(dir.path, "server", server);
    kv::test::write_key_pair(dir.path, "client", client);
    kv::test::write_key_pair(dir.path, "rogue", rogue);
  }
  std::string p(const std::string& f) const { return (dir.path / f).string(); }
};

// Stands in for QEMU's `<serial type='unix'>` server socket: one client at a time. In echo mode
// it answers every chunk with "echo:" + chunk; in flood mode it writes `flood_bytes` at once and
// records whether every write completed.
class FakeSerial {
 public:
  explicit FakeSerial(std::string path) : path_(std::move(path)) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path_.c_str());
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(fd_, 4) == 0);
    thread_ = std::thread([this] { loop(); });
  }
  ~FakeSerial() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
    ::unlink(path_.c_str());
  }
  size_t flood_bytes = 0;
  std::string say_and_close;  // written to each client, which is then disconnected
  std::atomic<bool> flood_done{false};
  std::atomic<int> accepted{0};

 private:
  void loop() {
    while (!stop_) {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0)
        return;
      ++accepted;
      if (!say_and_close.empty()) {
        ::send(c, say_and_close.data(), say_and_close.size(), MSG_NOSIGNAL);
        ::close(c);
        continue;
      }
      if (flood_bytes) {
        std::string chunk(64 * 1024, 'x');
        size_t sent = 0;
        while (sent < flood_bytes) {
          ssize_t n = ::send(c, chunk.data(), chunk.size(), MSG_NOSIGNAL);
          if (n <= 0)
            break;
          sent += static_cast<size_t>(n);
        }
        flood_done = sent >= flood_bytes;
      }
      // Serve this client until it goes (QEMU serves one client at a time).
      char buf[4096];
      for (;;) {
        ssize_t n = ::read(c, buf, sizeof buf);
        if (n <= 0)
          break;
        std::string reply = "echo:" + std::string(buf, static_cast<size_t>(n));
        ::send(c, reply.data(), reply.size(), MSG_NOSIGNAL);
      }
      ::close(c);
    }
  }
  std::string path_;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

struct Fixture {
  Pki pki;
  kv::test::TempDir sockets{"kv-handler-stream"};
  Metrics metrics;
  asio::io_context io;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work{io.get_executor()};
  std::thread io_thread;
  std::unique_ptr<StreamServer> server;
  std::mutex mu;
  std::vector<std::string> commands;

  // `pem`: hand the certificates over as PEM text instead of file names.
  explicit Fixture(size_t max_buffered = 1 << 20, bool pem = false) {
    kv::handler::StreamServerOptions o;
    o.address = "127.0.0.1";
    o.port = 0;
    if (pem) {
      o.cert_pem = pki.server.cert_pem;
      o.key_pem = pki.server.key_pem;
      o.client_ca_pem = pki.ca.cert_pem;
    } else {
      o.cert_file = pki.p("server.pem");
      o.key_file = pki.p("server.key");
      o.client_ca_file = pki.p("ca.pem");
    }
    o.max_buffered_bytes = max_buffered;
    kv::handler::StreamBackend b;
    b.socket_dir = [this](const std::string& ns,
                          const std::string& name) -> kv::core::Result<std::string> {
      if (ns == "default" && name == "vm1")
        return sockets.path.string();
      return kv::core::Error(kv::core::Errc::not_found,
                             "VirtualMachineInstance " + ns + "/" + name + " is not on node n1");
    };
    b.command = [this](const std::string&, const std::string& name,
                       kv::launcher_com::proto::Command c,
                       std::function<void(kv::core::Status)> done) {
      {
        std::lock_guard lock(mu);
        commands.emplace_back(kv::launcher_com::proto::command_name(c));
      }
      if (name == "stopped")
        done(kv::core::Error(kv::core::Errc::invalid, "pause: no running VM"));
      else
        done(kv::core::Status{});
    };
    b.pod_ip = [](const std::string& ns, const std::string& name) -> kv::core::Result<std::string> {
      if (ns == "default" && name == "vm1")
        return std::string("127.0.0.1");  // the "guest" listens on loopback in these tests
      return kv::core::Error(kv::core::Errc::not_found,
                             "VirtualMachineInstance " + ns + "/" + name + " is not on node n1");
    };
    auto s = StreamServer::start(io, o, std::move(b), metrics);
    REQUIRE(s.ok());
    server = std::move(*s);
    io_thread = std::thread([this] { io.run(); });
  }
  ~Fixture() {
    server->stop();
    work.reset();
    asio::post(io, [this] { io.stop(); });
    io_thread.join();
  }
  std::string serial_path() const { return (sockets.path / "virt-serial0").string(); }
};

using WsClient = websocket::stream<beast::ssl_stream<tcp::socket>>;

struct Client {
  asio::io_context ioc;
  ssl::context ctx{ssl::context::tls_client};
  std::unique_ptr<WsClient> ws;
  websocket::response_type response;  // the server's answer to the upgrade

  Client(const Pki& pki, const std::string& cert = "client") {
    ctx.load_verify_file(pki.p("ca.pem"));
    ctx.set_verify_mode(ssl::verify_peer);
    if (!cert.empty()) {
      ctx.use_certificate_file(pki.p(cert + ".pem"), ssl::context::pem);
      ctx.use_private_key_file(pki.p(cert + ".key"), ssl::context::pem);
    }
    ws = std::make_unique<WsClient>(ioc, ctx);
  }
  // TCP + TLS; reads give up after 10 s instead of hanging the test.
  beast::error_code connect_tls(int port) {
    beast::error_code ec;
    auto& sock = beast::get_lowest_layer(*ws);
    sock.connect(
        tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)), ec);
    if (ec)
      return ec;
    timeval tv{10, 0};
    ::setsockopt(sock.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ws->next_layer().handshake(ssl::stream_base::client, ec);
    return ec;
  }
  beast::error_code open(int port, const std::string& target,
                         const std::string& subprotocols = "") {
    auto ec = connect_tls(port);
    if (ec)
      return ec;
    if (!subprotocols.empty())
      ws->set_option(websocket::stream_base::decorator([subprotocols](websocket::request_type& r) {
        r.set(http::field::sec_websocket_protocol, subprotocols);
      }));
    ws->handshake(response, "127.0.0.1:" + std::to_string(port), target, ec);
    ws->binary(true);
    return ec;
  }
  std::string read_until(const std::string& needle) {
    std::string got;
    while (got.find(needle) == std::string::npos) {
      beast::flat_buffer b;
      beast::error_code ec;
      ws->read(b, ec);
      if (ec)
        return got + "<error: " + ec.message() + ">";
      got += beast::buffers_to_string(b.data());
    }
    return got;
  }
};

// One HTTP request over TLS with the client certificate; returns (status, body).
std::pair<int, std::string> request(const Pki& pki, int port, http::verb verb,
                                    const std::string& target) {
  Client c(pki);
  REQUIRE_FALSE(c.connect_tls(port));
  auto& stream = c.ws->next_layer();
  http::request<http::string_body> req(verb, target, 11);
  req.set(http::field::host, "127.0.0.1");
  req.prepare_payload();
  http::write(stream, req);
  beast::flat_buffer b;
  http::response<http::string_body> res;
  beast::error_code ec;
  http::read(stream, b, res, ec);
  REQUIRE_FALSE(ec);
  return {res.result_int(), res.body()};
}

const std::string kConsole = "/v1/namespaces/default/virtualmachineinstances/vm1/console";

}  // namespace

TEST_CASE("parse_stream_target splits virt-api's paths") {
  auto t = kv::handler::parse_stream_target(kConsole + "?x=1");
  REQUIRE(t);
  CHECK(t->ns == "default");
  CHECK(t->name == "vm1");
  CHECK(t->action == "console");
  CHECK_FALSE(kv::handler::parse_stream_target("/v1/namespaces/default/pods/vm1/console"));
  CHECK_FALSE(kv::handler::parse_stream_target("/v1/namespaces//virtualmachineinstances/a/b"));
  CHECK_FALSE(kv::handler::parse_stream_target("/v1/namespaces/a/virtualmachineinstances/b"));
}

TEST_CASE("a console session carries bytes both ways over TLS") {
  Fixture f;
  FakeSerial serial(f.serial_path());
  Client c(f.pki);
  REQUIRE_FALSE(c.open(f.server->port(), kConsole));
  c.ws->write(asio::buffer(std::string("hello\n")));
  CHECK(c.read_until("echo:hello\n") == "echo:hello\n");
  CHECK(f.metrics.value("kubevirt_handler_stream_sessions_total", {{"kind", "console"}}) == 1);
}

TEST_CASE("a new console session closes the old one") {
  Fixture f;
  FakeSerial serial(f.serial_path());
  Client first(f.pki);
  REQUIRE_FALSE(first.open(f.server->port(), kConsole));
  first.ws->write(asio::buffer(std::string("one")));
  REQUIRE(first.read_until("echo:one") == "echo:one");

  Client second(f.pki);
  REQUIRE_FALSE(second.open(f.server->port(), kConsole));
  // The first is told why it was closed.
  beast::flat_buffer b;
  beast::error_code ec;
  first.ws->read(b, ec);
  CHECK(ec == websocket::error::closed);
  CHECK(first.ws->reason().code == websocket::close_code::policy_error);
  CHECK(std::string(first.ws->reason().reason.c_str()) == "another console session took over");
  // The second reaches the console.
  second.ws->write(asio::buffer(std::string("two")));
  CHECK(second.read_until("echo:two") == "echo:two");
  CHECK(serial.accepted == 2);
}

TEST_CASE("the guest's last words reach the client before the session closes") {
  Fixture f;
  FakeSerial serial(f.serial_path());
  serial.say_and_close = "reboot: Power down\r\n";
  Client c(f.pki);
  REQUIRE_FALSE(c.open(f.server->port(), kConsole));
  std::string got = c.read_until("<error");
  CHECK(got.find("reboot: Power down\r\n") == 0);
  CHECK(c.ws->reason().code == websocket::close_code::going_away);
}

TEST_CASE("clients without a certificate from the client CA are refused") {
  Fixture f;
  FakeSerial serial(f.serial_path());
  SECTION("no certificate") {
    Client c(f.pki, "");
    CHECK(c.open(f.server->port(), kConsole));
  }
  SECTION("a certificate from another CA") {
    Client c(f.pki, "rogue");
    CHECK(c.open(f.server->port(), kConsole));
  }
  CHECK(serial.accepted == 0);
}

TEST_CASE("a slow console client never blocks the guest: old bytes are dropped") {
  Fixture f(64 * 1024);
  FakeSerial serial(f.serial_path());
  serial.flood_bytes = 32 * 1024 * 1024;  // far beyond every socket buffer on the way
  Client c(f.pki);
  REQUIRE_FALSE(c.open(f.server->port(), kConsole));
  // The client reads nothing; the "guest" must still get all its output written.
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (!serial.flood_done && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(20ms);
  REQUIRE(serial.flood_done);
  CHECK(f.metrics.value("kubevirt_handler_console_dropped_bytes_total") > 0);
  // The session still works afterwards.
  c.ws->write(asio::buffer(std::string("after")));
  CHECK(c.read_until("echo:after").find("echo:after") != std::string::npos);
}

TEST_CASE("commands and errors over HTTPS") {
  Fixture f;
  auto [st, body] = request(f.pki, f.server->port(), http::verb::put,
                            "/v1/namespaces/default/virtualmachineinstances/vm1/pause");
  CHECK(st == 200);
  {
    std::lock_guard lock(f.mu);
    CHECK(f.commands == std::vector<std::string>{"pause"});
  }
  auto [st2, body2] = request(f.pki, f.server->port(), http::verb::put,
                              "/v1/namespaces/default/virtualmachineinstances/stopped/unpause");
  CHECK(st2 == 400);
  CHECK(body2.find("no running VM") != std::string::npos);
  auto [st3, body3] = request(f.pki, f.server->port(), http::verb::get,
                              "/v1/namespaces/default/virtualmachineinstances/other/console");
  CHECK(st3 == 400);  // not an upgrade
  auto [st4, body4] = request(f.pki, f.server->port(), http::verb::put,
                              "/v1/namespaces/default/virtualmachineinstances/vm1/explode");
  CHECK(st4 == 404);
  CHECK(body4.find("allowed: console, vnc, pause, unpause, softreboot") != std::string::npos);

  Client c(f.pki);
  auto ec =
      c.open(f.server->port(), "/v1/namespaces/default/virtualmachineinstances/other/console");
  CHECK(ec);  // 404: not on this node; the handshake fails
  Client v(f.pki);
  CHECK(v.open(f.server->port(), "/v1/namespaces/default/virtualmachineinstances/vm1/vnc"));
  CHECK(f.metrics.value("kubevirt_handler_stream_errors_total", {{"kind", "socket"}}) == 1);
}

TEST_CASE("the server echoes the plain.kubevirt.io subprotocol that virtctl asks for") {
  Fixture f;
  FakeSerial serial(f.serial_path());
  SECTION("offered among others") {
    Client c(f.pki);
    REQUIRE_FALSE(c.open(f.server->port(), kConsole, "base64.kubevirt.io, plain.kubevirt.io"));
    CHECK(c.response[http::field::sec_websocket_protocol] == "plain.kubevirt.io");
    c.ws->write(asio::buffer(std::string("hi")));
    CHECK(c.read_until("echo:hi") == "echo:hi");
  }
  SECTION("not offered: none chosen") {
    Client c(f.pki);
    REQUIRE_FALSE(c.open(f.server->port(), kConsole));
    CHECK(c.response.count(http::field::sec_websocket_protocol) == 0);
  }
}

TEST_CASE("certificates can be given as PEM text instead of files") {
  Fixture f(1 << 20, /*pem=*/true);
  FakeSerial serial(f.serial_path());
  Client c(f.pki);
  REQUIRE_FALSE(c.open(f.server->port(), kConsole));
  c.ws->write(asio::buffer(std::string("pem")));
  CHECK(c.read_until("echo:pem") == "echo:pem");
  Client rogue(f.pki, "rogue");
  CHECK(rogue.open(f.server->port(), kConsole));  // the client CA from PEM is enforced too
}

TEST_CASE("missing or broken certificates name the option") {
  kv::handler::Metrics metrics;
  asio::io_context io;
  kv::handler::StreamServerOptions o;
  o.address = "127.0.0.1";
  o.port = 0;
  auto s = StreamServer::start(io, o, {}, metrics);
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().message.find("--tls-cert: required") != std::string::npos);
  o.cert_pem = "not a certificate";
  s = StreamServer::start(io, o, {}, metrics);
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().message.find("--tls-cert: cannot load the PEM text") != std::string::npos);
}

// --- port forwarding (handler/portforward.hpp) ---

namespace {

// A guest port on loopback: TCP answers every chunk with "echo:" + chunk and closes after
// "bye"; UDP answers every datagram with "echo:" + datagram.
class FakeGuestPort {
 public:
  explicit FakeGuestPort(bool udp) : udp_(udp) {
    fd_ = ::socket(AF_INET, udp ? SOCK_DGRAM : SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
    if (!udp)
      REQUIRE(::listen(fd_, 4) == 0);
    thread_ = std::thread([this] { udp_ ? serve_udp() : serve_tcp(); });
  }
  ~FakeGuestPort() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  int port = 0;

 private:
  void serve_tcp() {
    for (;;) {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0)
        return;
      char buf[4096];
      for (;;) {
        ssize_t n = ::read(c, buf, sizeof buf);
        if (n <= 0)
          break;
        std::string got(buf, static_cast<size_t>(n));
        std::string reply = "echo:" + got;
        ::send(c, reply.data(), reply.size(), MSG_NOSIGNAL);
        if (got == "bye")
          break;
      }
      ::close(c);
    }
  }
  void serve_udp() {
    char buf[65536];
    for (;;) {
      sockaddr_storage from{};
      socklen_t len = sizeof from;
      ssize_t n = ::recvfrom(fd_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
      if (n < 0)
        return;
      std::string reply = "echo:" + std::string(buf, static_cast<size_t>(n));
      ::sendto(fd_, reply.data(), reply.size(), 0, reinterpret_cast<sockaddr*>(&from), len);
    }
  }
  bool udp_;
  int fd_ = -1;
  std::thread thread_;
};

std::string forward_path(int port, const std::string& proto = "") {
  return "/v1/namespaces/default/virtualmachineinstances/vm1/portforward/" + std::to_string(port) +
         (proto.empty() ? "" : "/" + proto);
}

// A port nothing listens on (bound, then closed).
int closed_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

}  // namespace

TEST_CASE("parse_port_forward_target reads port and protocol") {
  using kv::handler::parse_port_forward_target;
  using kv::handler::PortForwardTarget;
  auto t =
      parse_port_forward_target("/v1/namespaces/ns/virtualmachineinstances/vm1/portforward/22");
  REQUIRE(t);
  REQUIRE(t->ok());
  CHECK(**t == PortForwardTarget{"ns", "vm1", 22, "tcp"});
  t = parse_port_forward_target("/v1/namespaces/ns/virtualmachineinstances/vm1/portforward/53/udp");
  REQUIRE((t && t->ok()));
  CHECK(**t == PortForwardTarget{"ns", "vm1", 53, "udp"});
  CHECK_FALSE(parse_port_forward_target(kConsole));
  CHECK_FALSE(parse_port_forward_target("/v1/namespaces/ns/virtualmachineinstances/vm1/x/22"));
  for (std::string bad : {"0", "65536", "ssh", "22x"}) {
    t = parse_port_forward_target("/v1/namespaces/ns/virtualmachineinstances/vm1/portforward/" +
                                  bad);
    REQUIRE(t);
    REQUIRE_FALSE(t->ok());
    CHECK(t->error().message == "port \"" + bad + "\" is not allowed: a number from 1 to 65535");
  }
  t = parse_port_forward_target(
      "/v1/namespaces/ns/virtualmachineinstances/vm1/portforward/22/sctp");
  REQUIRE((t && !t->ok()));
  CHECK(t->error().message == "protocol \"sctp\" is not allowed: tcp or udp");
}

TEST_CASE("a TCP port-forward carries bytes both ways and ends when the guest closes") {
  Fixture f;
  FakeGuestPort guest(/*udp=*/false);
  Client c(f.pki);
  REQUIRE_FALSE(c.open(f.server->port(), forward_path(guest.port, "tcp"), "plain.kubevirt.io"));
  CHECK(c.response[http::field::sec_websocket_protocol] == "plain.kubevirt.io");
  c.ws->write(asio::buffer(std::string("hello")));
  CHECK(c.read_until("echo:hello") == "echo:hello");
  c.ws->write(asio::buffer(std::string("bye")));
  CHECK(c.read_until("echo:bye") == "echo:bye");
  // The guest closed its side: the WebSocket closes normally.
  beast::flat_buffer b;
  beast::error_code ec;
  c.ws->read(b, ec);
  CHECK(ec == websocket::error::closed);
  CHECK(c.ws->reason().code == websocket::close_code::normal);
  // A second connection over a new stream (the default protocol is tcp).
  Client c2(f.pki);
  REQUIRE_FALSE(c2.open(f.server->port(), forward_path(guest.port)));
  c2.ws->write(asio::buffer(std::string("again")));
  CHECK(c2.read_until("echo:again") == "echo:again");
  CHECK(f.metrics.value("kubevirt_handler_stream_sessions_total", {{"kind", "portforward"}}) == 2);
}

TEST_CASE("a UDP port-forward carries one datagram per message") {
  Fixture f;
  FakeGuestPort guest(/*udp=*/true);
  Client c(f.pki);
  REQUIRE_FALSE(c.open(f.server->port(), forward_path(guest.port, "udp")));
  for (std::string d : {"one", "two"}) {
    c.ws->write(asio::buffer(d));
    beast::flat_buffer b;
    c.ws->read(b);
    CHECK(beast::buffers_to_string(b.data()) == "echo:" + d);
  }
}

// A WebSocket upgrade request by hand: the server's (status, body) when it declines.
std::pair<int, std::string> upgrade_request(const Pki& pki, int port, const std::string& target) {
  Client c(pki);
  REQUIRE_FALSE(c.connect_tls(port));
  auto& stream = c.ws->next_layer();
  http::request<http::string_body> req(http::verb::get, target, 11);
  req.set(http::field::host, "127.0.0.1");
  req.set(http::field::connection, "Upgrade");
  req.set(http::field::upgrade, "websocket");
  req.set(http::field::sec_websocket_version, "13");
  req.set(http::field::sec_websocket_key, "dGhlIHNhbXBsZSBub25jZQ==");
  http::write(stream, req);
  beast::flat_buffer b;
  http::response<http::string_body> res;
  beast::error_code ec;
  http::read(stream, b, res, ec);
  REQUIRE_FALSE(ec);
  return {res.result_int(), res.body()};
}

TEST_CASE("port-forward errors are HTTP answers before the upgrade") {
  Fixture f;
  auto [code, body] =
      request(f.pki, f.server->port(), http::verb::get, forward_path(closed_port()));
  CHECK(code == 400);  // not an upgrade
  CHECK(body.find("needs a WebSocket upgrade") != std::string::npos);
  auto [refused, why] = upgrade_request(f.pki, f.server->port(), forward_path(closed_port()));
  CHECK(refused == 500);
  CHECK(why.find("dialing VM: dial tcp 127.0.0.1:") != std::string::npos);
  CHECK(why.find("refused") != std::string::npos);
  auto [other, other_body] =
      upgrade_request(f.pki, f.server->port(),
                      "/v1/namespaces/default/virtualmachineinstances/elsewhere/portforward/22");
  CHECK(other == 404);
  CHECK(other_body.find("is not on node n1") != std::string::npos);
  auto [bad, bad_body] = upgrade_request(f.pki, f.server->port(), forward_path(70000));
  CHECK(bad == 400);
  CHECK(bad_body.find("is not allowed: a number from 1 to 65535") != std::string::npos);
  CHECK(f.metrics.value("kubevirt_handler_stream_sessions_total", {{"kind", "portforward"}}) == 0);
}
