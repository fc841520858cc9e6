// virt-handler's certificate from a Secret: the Handler against the fake KubeClient (the seam),
// its real stream server on loopback, and a TLS client playing virt-api with the certificates
// that virt-api's bootstrap (addon/cert_secrets) makes.
#include <utility>  // before Asio: Boost 1.74 awaitable.hpp uses std::exchange unincluded

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>

#include <catch2/catch.hpp>
#include <thread>

#include "addon/cert_secrets.hpp"
#include "handler/handler.hpp"
#include "test/fakes/fake_kube_client.hpp"

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace ssl = asio::ssl;
namespace kube = kv::core::kube;
using kv::test::FakeKubeClient;

namespace {

// A port nobody listens on right now (the handler's Options use 0 for "disabled").
int free_port() {
  asio::io_context io;
  asio::ip::tcp::acceptor a(io, {asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

// GET /healthz over TLS as virt-api would: verifies the server as `host` against `ca_pem` and
// presents `client` when given. Returns the status line, or the error.
std::string get_healthz(int port, const std::string& ca_pem, const std::string& host,
                        const kv::core::pki::KeyPair* client) {
  asio::io_context io;
  ssl::context ctx(ssl::context::tls_client);
  ctx.add_certificate_authority(asio::buffer(ca_pem));
  ctx.set_verify_mode(ssl::verify_peer);
  ctx.set_verify_callback(ssl::host_name_verification(host));
  if (client) {
    ctx.use_certificate_chain(asio::buffer(client->cert_pem));
    ctx.use_private_key(asio::buffer(client->key_pem), ssl::context::pem);
  }
  ssl::stream<asio::ip::tcp::socket> s(io, ctx);
  boost::system::error_code ec;
  s.next_layer().connect({asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port)}, ec);
  if (!ec)
    s.handshake(ssl::stream_base::client, ec);
  if (!ec)
    asio::write(s, asio::buffer(std::string("GET /healthz HTTP/1.1\r\nHost: h\r\n\r\n")), ec);
  std::string line;
  if (!ec)
    asio::read_until(s, asio::dynamic_buffer(line), "\r\n", ec);
  if (ec)
    return "error: " + ec.message();
  return line.substr(0, line.find("\r\n"));
}

bool wait_for(const std::function<bool()>& cond, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!cond()) {
    if (std::chrono::steady_clock::now() >= deadline)
      return cond();
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

kv::handler::Options options() {
  kv::handler::Options o;
  o.node_name = "node1";
  o.listen_address = "127.0.0.1";
  o.stream_port = free_port();
  o.metrics_port = 0;
  o.workers = 1;
  return o;
}

}  // namespace

TEST_CASE("handler: without certificate files the stream server starts once the Secret exists") {
  FakeKubeClient client;
  auto opts = options();
  kv::handler::Handler h(client, opts);
  REQUIRE(h.start(10s).ok());
  // Up without its certificate: everything else runs, the stream server waits.
  CHECK(h.stream_server_port() == 0);
  CHECK(h.metrics().render().find("kubevirt_handler_stream_server_ready 0") != std::string::npos);

  // virt-api starts and makes the certificates.
  auto api = kv::addon::ensure_certificates(client, "kubevirt");
  REQUIRE(api.ok());
  REQUIRE(wait_for([&] { return h.stream_server_port() != 0; }, 10s));
  CHECK(h.stream_server_port() == opts.stream_port);
  CHECK(h.metrics().render().find("kubevirt_handler_stream_server_ready 1") != std::string::npos);

  // virt-api's client certificate is accepted and the handler's verifies under its name.
  const kv::core::pki::KeyPair api_pair{api->cert_pem, api->key_pem};
  CHECK(get_healthz(opts.stream_port, api->ca_pem, "virt-handler.kubevirt.svc", &api_pair) ==
        "HTTP/1.1 200 OK");
  // No client certificate, or one from another CA: refused.
  CHECK(get_healthz(opts.stream_port, api->ca_pem, "virt-handler.kubevirt.svc", nullptr)
            .rfind("error:", 0) == 0);
  auto other_ca = kv::core::pki::make_ca("other");
  REQUIRE(other_ca.ok());
  auto stranger = kv::core::pki::issue(*other_ca, kv::addon::api_leaf_spec("kubevirt"));
  REQUIRE(stranger.ok());
  CHECK(get_healthz(opts.stream_port, api->ca_pem, "virt-handler.kubevirt.svc", &*stranger)
            .rfind("error:", 0) == 0);
  h.stop();
}

TEST_CASE("handler: stop() while waiting for the certificate Secret returns promptly") {
  FakeKubeClient client;
  kv::handler::Handler h(client, options());
  REQUIRE(h.start(10s).ok());
  REQUIRE(wait_for([&] { return client.open_watches() >= 3; }, 10s));  // VMIs, pods, the Secret
  const auto t0 = std::chrono::steady_clock::now();
  h.stop();
  CHECK(std::chrono::steady_clock::now() - t0 < 5s);
  CHECK(h.stream_server_port() == 0);
}

TEST_CASE("handler: validate names the certificate flags") {
  auto o = options();
  o.tls_cert_file = "/etc/cert.pem";
  auto st = kv::handler::validate(o);
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().message ==
        "--tls-cert, --tls-key and --client-ca: give all three, or none to read the certificate "
        "from Secret kubevirt/virt-handler-certs (--certs-namespace, --certs-secret)");
  o = options();
  o.certs_namespace = "Kube_Virt";
  CHECK(kv::handler::validate(o).error().message.rfind(
            "--certs-namespace: \"Kube_Virt\" is not a namespace name", 0) == 0);
  o = options();
  o.certs_secret = "";
  CHECK(kv::handler::validate(o).error().message.rfind("--certs-secret: \"\" is not a Secret name",
                                                       0) == 0);
  // Files given, or the stream server off: the Secret flags do not matter.
  o.stream_port = 0;
  CHECK(kv::handler::validate(o).ok());
  o = options();
  o.tls_cert_file = "/c";
  o.tls_key_file = "/k";
  o.client_ca_file = "/ca";
  o.certs_secret = "";
  CHECK(kv::handler::validate(o).ok());
}
