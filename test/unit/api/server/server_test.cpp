// virt-api's server (api/server/server.cpp) over real TLS on 127.0.0.1 port 0, with the in-memory
// API server at the KubeClient seam and Beast clients: what a caller (kube-apiserver calling a
// webhook or the aggregated API, an operator rotating certificates) sees.
#include <catch2/catch.hpp>

#include <poll.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <array>
#include <functional>
#include <future>
#include <map>
#include <mutex>

#include "addon/resources.hpp"
#include "api/server/routes.hpp"
#include "api/server/server.hpp"
#include "core/json.hpp"
#include "core/kube/resource.hpp"
#include "core/serve/server.hpp"
#include "test/fakes/fake_kube_client.hpp"
#include "test/support/test_certs.hpp"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
namespace json = kv::core::json;
namespace kube = kv::core::kube;
namespace serve = kv::core::serve;
using namespace kv::apiserver;
using kv::core::Errc;
using kv::core::Result;
using kv::core::Status;
using kv::test::FakeKubeClient;
using kv::test::KeyPair;
using tcp = asio::ip::tcp;
using Response = http::response<http::string_body>;

namespace {

struct Pki {
  KeyPair ca = kv::test::make_ca("virt-api-test-ca");
  KeyPair first =
      kv::test::server_cert(ca, "virt-api-first", {"virt-api.kubevirt.svc"}, {"127.0.0.1"});
  KeyPair second =
      kv::test::server_cert(ca, "virt-api-second", {"virt-api.kubevirt.svc"}, {"127.0.0.1"});
  // kube-apiserver's front-proxy client certificate, from the requestheader CA.
  KeyPair front_proxy_ca = kv::test::make_ca("front-proxy-ca");
  KeyPair front_proxy = kv::test::client_cert(front_proxy_ca, "front-proxy-client");
};

const Pki& pki() {
  static const Pki p;
  return p;
}

ServerConfig loopback() {
  ServerConfig c;
  c.address = "127.0.0.1";
  c.port = 0;
  c.cert_pem = pki().first.cert_pem;
  c.key_pem = pki().first.key_pem;
  c.io_threads = 2;
  c.workers = 2;
  return c;
}

std::unique_ptr<Server> start(FakeKubeClient& api, ServerConfig c = loopback()) {
  auto s = Server::start(std::move(c), api);
  REQUIRE(s.ok());
  return std::move(*s);
}

// One TLS connection to the server, as kube-apiserver makes it (optionally with the front-proxy
// client certificate). The server's certificate is read, not verified: the cases compare it.
// Reads block; a server that never answers is caught by the test's meson timeout.
struct Connection {
  asio::io_context io;
  ssl::context ctx{ssl::context::tls_client};
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> stream;
  beast::flat_buffer buf;

  explicit Connection(int port, const KeyPair* client_cert = nullptr) {
    ctx.set_verify_mode(ssl::verify_none);
    if (client_cert) {
      ctx.use_certificate_chain(asio::buffer(client_cert->cert_pem));
      ctx.use_private_key(asio::buffer(client_cert->key_pem), ssl::context::pem);
    }
    stream = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(io, ctx);
    beast::get_lowest_layer(*stream).connect(
        tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
    stream->handshake(ssl::stream_base::client);
  }

  // The subject CN of the certificate the server presented on this connection.
  std::string served_common_name() {
    X509* x = SSL_get1_peer_certificate(stream->native_handle());
    REQUIRE(x != nullptr);
    char cn[256] = {};
    X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof cn);
    X509_free(x);
    return cn;
  }

  Response send(http::verb method, const std::string& target, std::string body = "",
                const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    http::request<http::string_body> req(method, target, 11);
    req.set(http::field::host, "virt-api.kubevirt.svc");
    for (const auto& [k, v] : headers)
      req.set(k, v);
    if (!body.empty())
      req.set(http::field::content_type, "application/json");
    req.body() = std::move(body);
    req.prepare_payload();
    http::write(*stream, req);
    Response res;
    http::read(*stream, buf, res);
    return res;
  }
};

const std::string kVersionPath = std::string("/apis/") + kGroupVersion + "/version";
const std::string kStartPath =
    std::string("/apis/") + kGroupVersion + "/namespaces/default/virtualmachines/vm1/start";

std::string review_of_vm(const std::string& run_strategy) {
  return R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{
    "uid":"review-1","operation":"CREATE","userInfo":{"username":"alice"},"object":{
    "apiVersion":"kubevirt.io/v1","kind":"VirtualMachine",
    "metadata":{"name":"vm1","namespace":"default"},"spec":{"runStrategy":")" +
         run_strategy +
         R"(","template":{"spec":{"domain":{"devices":{},
    "resources":{"requests":{"memory":"128Mi"}}}}}}}}})";
}

// The fake API server, plus SubjectAccessReviews (which it does not know) answered "allowed" and
// kept, so a case can see whom virt-api asked about.
class AllowingReviews final : public kube::KubeClient {
 public:
  explicit AllowingReviews(FakeKubeClient& fake) : fake_(fake) {}

  Result<json::Document> create(const kube::Resource& r, std::string_view ns,
                                const json::Value& obj, const kube::WriteOptions& o = {}) override {
    if (r.resource != "subjectaccessreviews")
      return fake_.create(r, ns, obj, o);
    json::Document d;
    d.CopyFrom(obj, d.GetAllocator());
    json::ensure_object(d, "status", d.GetAllocator()).AddMember("allowed", true, d.GetAllocator());
    std::lock_guard lock(mu_);
    reviews_.push_back(json::to_string(obj));
    return d;
  }
  std::vector<std::string> reviews() const {
    std::lock_guard lock(mu_);
    return reviews_;
  }

  Result<json::Document> get(const kube::Resource& r, std::string_view ns, std::string_view name,
                             const kube::GetOptions& o = {}) override {
    return fake_.get(r, ns, name, o);
  }
  Result<kube::ListResult> list(const kube::Resource& r, std::string_view ns,
                                const kube::ListOptions& o = {}) override {
    return fake_.list(r, ns, o);
  }
  Result<json::Document> update(const kube::Resource& r, std::string_view ns,
                                const json::Value& obj, const kube::WriteOptions& o = {}) override {
    return fake_.update(r, ns, obj, o);
  }
  Result<json::Document> patch(const kube::Resource& r, std::string_view ns, std::string_view name,
                               kube::PatchType type, std::string_view body,
                               const kube::PatchOptions& o = {}) override {
    return fake_.patch(r, ns, name, type, body, o);
  }
  Status remove(const kube::Resource& r, std::string_view ns, std::string_view name,
                const kube::DeleteOptions& o = {}) override {
    return fake_.remove(r, ns, name, o);
  }
  Status watch(const kube::Resource& r, std::string_view ns, const kube::ListOptions& o,
               const kube::WatchHandler& h, kube::Cancel* c = nullptr) override {
    return fake_.watch(r, ns, o, h, c);
  }
  Result<kube::RawResponse> raw(const kube::RawRequest& req) override { return fake_.raw(req); }
  Result<kube::Resource> resolve(std::string_view api_version, std::string_view kind) override {
    return fake_.resolve(api_version, kind);
  }
  std::string default_namespace() const override { return fake_.default_namespace(); }

 private:
  FakeKubeClient& fake_;
  mutable std::mutex mu_;
  std::vector<std::string> reviews_;
};

// A virt-handler for one VMI's console: TLS with a certificate for virt-api's
// handler_server_name, a 101 to the console request, then every byte echoed back. The request's
// header fields (lower-case names) are kept for the case to read.
class FakeHandler {
 public:
  static constexpr const char* kConsole =
      "/v1/namespaces/default/virtualmachineinstances/vm1/console";

  FakeHandler() {
    const auto cert =
        kv::test::server_cert(pki().ca, "virt-handler", {"virt-handler.kubevirt.svc"}, {});
    auto tls = std::make_shared<serve::TlsContext>();
    REQUIRE(tls->set_certificate(cert.cert_pem, cert.key_pem).ok());
    serve::Router r;
    r.add("GET", kConsole, [this](const std::shared_ptr<serve::Exchange>& ex) {
      std::map<std::string, std::string> fields;
      for (const auto& f : ex->request()) {
        std::string name(f.name_string());
        for (auto& ch : name)
          ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        fields[name] = std::string(f.value());
      }
      request_.set_value(std::move(fields));
      ex->upgrade([](serve::Upgraded u) { std::make_shared<Echo>(std::move(u))->start(); });
    });
    serve::ServerOptions o;
    o.address = "127.0.0.1";
    o.port = 0;
    o.tls = tls;
    auto s = serve::Server::start(o, std::move(r));
    REQUIRE(s.ok());
    server_ = std::move(*s);
  }
  int port() const { return server_->port(); }
  // The console request's header fields, once it arrived.
  std::map<std::string, std::string> request() {
    auto f = request_.get_future();
    REQUIRE(f.wait_for(std::chrono::seconds(30)) == std::future_status::ready);
    return f.get();
  }

 private:
  struct Echo : std::enable_shared_from_this<Echo> {
    explicit Echo(serve::Upgraded u)
        : tls(std::move(u.tls_context)), stream(std::get<serve::TlsStream>(std::move(u.stream))) {}
    void start() {
      beast::get_lowest_layer(stream).expires_never();
      asio::async_write(stream, asio::buffer(kSwitching),
                        [self = shared_from_this()](beast::error_code ec, size_t) {
                          if (!ec)
                            self->echo();
                        });
    }
    void echo() {
      stream.async_read_some(asio::buffer(buf),
                             [self = shared_from_this()](beast::error_code ec, size_t n) {
                               if (ec)
                                 return;
                               asio::async_write(self->stream, asio::buffer(self->buf.data(), n),
                                                 [self](beast::error_code ec2, size_t) {
                                                   if (!ec2)
                                                     self->echo();
                                                 });
                             });
    }
    static constexpr std::string_view kSwitching =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
    std::shared_ptr<ssl::context> tls;  // before stream: the stream uses it
    serve::TlsStream stream;
    std::array<char, 1024> buf{};
  };

  std::promise<std::map<std::string, std::string>> request_;
  std::unique_ptr<serve::Server> server_;
};

// virt-api in front of a fake handler: the VMI vm1 Running on node n1, whose virt-handler pod
// runs at 127.0.0.1; the front-proxy settings known.
struct WithHandler {
  FakeKubeClient fake;
  AllowingReviews api{fake};
  FakeHandler handler;
  std::unique_ptr<Server> server;

  WithHandler() {
    auto vmi = json::parse(R"({"apiVersion":"kubevirt.io/v1","kind":"VirtualMachineInstance",
        "metadata":{"name":"vm1","namespace":"default"},
        "status":{"phase":"Running","nodeName":"n1"}})");
    REQUIRE(vmi.ok());
    REQUIRE(fake.create(kv::addon::resources::virtual_machine_instances(), "default", *vmi).ok());
    auto pod = json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"virt-handler-x",
        "namespace":"kubevirt","labels":{"kubevirt.io":"virt-handler"}},"spec":{"nodeName":"n1"},
        "status":{"phase":"Running","podIP":"127.0.0.1"}})");
    REQUIRE(pod.ok());
    REQUIRE(fake.create(kube::resources::pods(), "kubevirt", *pod).ok());
    auto c = loopback();
    c.ca_pem = pki().ca.cert_pem;  // the CA of the handlers' serving certificates
    c.handler_port = handler.port();
    auto s = Server::start(c, api);
    REQUIRE(s.ok());
    server = std::move(*s);
    RequestHeaderConfig front_proxy;
    front_proxy.client_ca_pem = pki().front_proxy_ca.cert_pem;
    server->set_request_header_config(front_proxy);
  }

  // Opens the VMI's console through virt-api as kube-apiserver does for `virtctl console`:
  // the front-proxy certificate, the user in X-Remote-User. Returns the response head.
  std::string open_console(Connection& conn) {
    http::request<http::empty_body> req(
        http::verb::get,
        std::string("/apis/") + kGroupVersion +
            "/namespaces/default/virtualmachineinstances/vm1/console",
        11);
    req.set(http::field::host, "virt-api.kubevirt.svc");
    req.set(http::field::connection, "Upgrade");
    req.set(http::field::upgrade, "websocket");
    req.set(http::field::sec_websocket_key, "dGhlIHNhbXBsZSBub25jZQ==");
    req.set(http::field::sec_websocket_version, "13");
    req.set("X-Remote-User", "alice");
    req.set(http::field::authorization, "Bearer the-users-token");
    http::write(*conn.stream, req);
    std::string head;
    auto n = asio::read_until(*conn.stream, asio::dynamic_buffer(head), "\r\n\r\n");
    REQUIRE(n == head.size());  // the handler sends nothing before it is sent something
    return head;
  }
};

// Bytes written on the connection come back (the handler echoes them).
std::string round_trip(Connection& conn, const std::string& bytes) {
  asio::write(*conn.stream, asio::buffer(bytes));
  std::string back(bytes.size(), '\0');
  asio::read(*conn.stream, asio::buffer(back));
  return back;
}

}  // namespace

TEST_CASE("start refuses a certificate, key or CA that does not load, naming the option") {
  FakeKubeClient api;
  struct Bad {
    const char* what;
    std::function<void(ServerConfig&)> set;
    std::string option;
  };
  const Bad cases[] = {
      {"no certificate", [](ServerConfig& c) { c.cert_pem.clear(); }, "--tls-cert: required"},
      {"no key", [](ServerConfig& c) { c.key_pem.clear(); }, "--tls-key: required"},
      {"not a certificate", [](ServerConfig& c) { c.cert_pem = "not a certificate"; },
       "--tls-cert: cannot load"},
      {"another certificate's key", [](ServerConfig& c) { c.key_pem = pki().second.key_pem; },
       "--tls-key: cannot load"},
      {"a client certificate that does not load",
       [](ServerConfig& c) {
         c.client_cert_pem = "garbage";
         c.client_key_pem = pki().first.key_pem;
       },
       "--client-cert: cannot load"},
      {"a handler CA that does not load", [](ServerConfig& c) { c.ca_pem = "garbage"; },
       "--ca: cannot load"},
  };
  for (const auto& bad : cases) {
    INFO(bad.what);
    auto c = loopback();
    bad.set(c);
    auto s = Server::start(c, api);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code == Errc::invalid);
    CHECK(s.error().message.rfind(bad.option, 0) == 0);
  }
}

TEST_CASE("a port already in use is an io error naming the address") {
  FakeKubeClient api;
  auto first = start(api);
  auto c = loopback();
  c.port = first->port();
  auto second = Server::start(c, api);
  REQUIRE_FALSE(second.ok());
  CHECK(second.error().code == Errc::io);
  CHECK(second.error().message.find("127.0.0.1:" + std::to_string(c.port)) != std::string::npos);
  // The first one is undisturbed.
  Connection conn(first->port());
  CHECK(conn.send(http::verb::get, "/healthz").result_int() == 200);
}

TEST_CASE("requests are answered over TLS and counted by route and code") {
  FakeKubeClient api;
  auto server = start(api);
  REQUIRE(server->port() > 0);
  Connection conn(server->port());
  CHECK(conn.served_common_name() == "virt-api-first");

  auto health = conn.send(http::verb::get, "/healthz");
  CHECK(health.result_int() == 200);
  CHECK(health.body() == "ok");
  CHECK(server->requests("healthz", 200) == 1);

  // An admission review, answered from the worker pool on the same kept-alive connection.
  auto allowed = conn.send(http::verb::post, "/virtualmachines-validate", review_of_vm("Always"));
  REQUIRE(allowed.result_int() == 200);
  auto d = json::parse(allowed.body());
  REQUIRE(d.ok());
  CHECK(json::get_string(*json::find(*d, "response"), "uid") == "review-1");
  CHECK(json::find_path(*d, {"response", "allowed"})->GetBool());
  auto denied = conn.send(http::verb::post, "/virtualmachines-validate", review_of_vm("Sometimes"));
  REQUIRE(denied.result_int() == 200);
  d = json::parse(denied.body());
  REQUIRE(d.ok());
  CHECK_FALSE(json::find_path(*d, {"response", "allowed"})->GetBool());
  CHECK(server->requests("validate_vm", 200) == 2);

  auto nowhere = conn.send(http::verb::get, "/nowhere");
  CHECK(nowhere.result_int() == 404);
  CHECK(server->requests("not_found", 404) == 1);
  CHECK(server->requests("healthz", 200) == 1);  // each request counted once, under its route

  // The same counts on /metrics, as Prometheus reads them.
  auto metrics = conn.send(http::verb::get, "/metrics");
  CHECK(metrics.result_int() == 200);
  CHECK(metrics.body().find(
            R"(kubevirt_virt_api_requests_total{route="validate_vm",code="200"} 2)") !=
        std::string::npos);
}

TEST_CASE("new certificates are served to new connections; open ones keep working") {
  FakeKubeClient api;
  auto server = start(api);
  Connection before(server->port());
  CHECK(before.served_common_name() == "virt-api-first");

  REQUIRE(server->set_certificates(pki().second.cert_pem, pki().second.key_pem).ok());
  Connection after(server->port());
  CHECK(after.served_common_name() == "virt-api-second");
  CHECK(after.send(http::verb::get, "/healthz").result_int() == 200);
  CHECK(before.send(http::verb::get, "/healthz").result_int() == 200);
  CHECK(server->requests("healthz", 200) == 2);
}

TEST_CASE("certificates that do not load change nothing and the error names the option") {
  FakeKubeClient api;
  auto server = start(api);

  auto st = server->set_certificates("not a certificate", pki().second.key_pem);
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().code == Errc::invalid);
  CHECK(st.error().message.rfind("--tls-cert:", 0) == 0);

  st = server->set_certificates(pki().second.cert_pem, pki().first.key_pem);
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().message.rfind("--tls-key:", 0) == 0);

  // A good serving pair with a handler CA that does not load: all or nothing.
  st = server->set_certificates(pki().second.cert_pem, pki().second.key_pem, "", "", "garbage");
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().message.rfind("--ca:", 0) == 0);

  Connection conn(server->port());
  CHECK(conn.served_common_name() == "virt-api-first");
  CHECK(conn.send(http::verb::get, "/healthz").result_int() == 200);
}

TEST_CASE("without the front-proxy settings an aggregated API request gets 401") {
  FakeKubeClient api;
  auto server = start(api);
  RequestHeaderConfig front_proxy;
  front_proxy.client_ca_pem = pki().front_proxy_ca.cert_pem;
  server->set_request_header_config(front_proxy);
  {
    Connection conn(server->port(), &pki().front_proxy);
    CHECK(conn.send(http::verb::get, kVersionPath).result_int() == 200);
    CHECK(server->requests("version", 200) == 1);
  }

  // The settings are gone (the ConfigMap was deleted): virt-api cannot tell who is calling.
  server->set_request_header_config(std::nullopt);
  Connection conn(server->port(), &pki().front_proxy);
  auto version = conn.send(http::verb::get, kVersionPath);
  CHECK(version.result_int() == 401);
  auto status = json::parse(version.body());
  REQUIRE(status.ok());
  CHECK(json::get_string(*status, "kind") == "Status");
  CHECK(json::get_string(*status, "message").value_or("").find(kAuthConfigMapName) !=
        std::string::npos);
  CHECK(server->requests("version", 401) == 1);

  auto start_vm = conn.send(http::verb::put, kStartPath, "", {{"X-Remote-User", "alice"}});
  CHECK(start_vm.result_int() == 401);
  CHECK(server->requests("vm_action", 401) == 1);
  // Nothing was asked of the API server on the caller's behalf.
  CHECK(api.calls("create") == 0);
  CHECK(api.calls("get") == 0);
  CHECK(api.calls("patch") == 0);

  // Webhooks are not aggregated API requests: they are still answered.
  CHECK(conn.send(http::verb::post, "/virtualmachines-validate", review_of_vm("Always"))
            .result_int() == 200);
}

TEST_CASE("stop ends open connections, refuses new ones, and may be called again") {
  FakeKubeClient api;
  auto server = start(api);
  const int port = server->port();
  Connection conn(port);
  CHECK(conn.send(http::verb::get, "/healthz").result_int() == 200);

  server->stop();
  // The kept-alive connection is closed, not left hanging.
  Response res;
  beast::error_code ec;
  http::read(*conn.stream, conn.buf, res, ec);
  CHECK(ec);
  CHECK_THROWS(Connection(port));

  server->stop();
  server.reset();  // and the destructor's stop
}

TEST_CASE(
    "a console is relayed both ways to the VMI's handler, without the user's identity or token") {
  WithHandler env;
  Connection conn(env.server->port(), &pki().front_proxy);
  const std::string head = env.open_console(conn);
  CHECK(head.rfind("HTTP/1.1 101", 0) == 0);
  CHECK(round_trip(conn, "hello console\r") == "hello console\r");
  CHECK(env.server->requests("vmi_stream", 101) == 1);

  auto seen = env.handler.request();
  CHECK(seen["upgrade"] == "websocket");
  CHECK(seen.count("x-remote-user") == 0);
  CHECK(seen.count("authorization") == 0);
  // The user was authorized for the console subresource first.
  auto reviews = env.api.reviews();
  REQUIRE(reviews.size() == 1);
  CHECK(reviews[0].find(R"("user":"alice")") != std::string::npos);
  CHECK(reviews[0].find(R"("subresource":"console")") != std::string::npos);
}

// stop() ends a relay too, not only connections core/serve still tracks (it once left the console
// open until the Server was destroyed).
TEST_CASE("stop ends a relayed console connection") {
  WithHandler env;
  Connection conn(env.server->port(), &pki().front_proxy);
  REQUIRE(env.open_console(conn).rfind("HTTP/1.1 101", 0) == 0);
  REQUIRE(round_trip(conn, "x") == "x");

  env.server->stop();
  pollfd p{beast::get_lowest_layer(*conn.stream).socket().native_handle(), POLLIN, 0};
  CHECK(::poll(&p, 1, 10000) == 1);  // readable: closed (EOF), within 10 s
}
