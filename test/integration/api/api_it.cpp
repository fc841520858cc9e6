// virt-api against a real kube-apiserver (test/integration/with_control_plane.sh --crds): an
// in-process Server registered as the subresources.kubevirt.io/v1 APIService and as the
// validating webhooks, and an in-process handler StreamServer with a unix socket standing in for
// QEMU's serial console. Everything a user does goes through kube-apiserver with the admin (or an
// unprivileged) kubeconfig.
#include <catch2/catch.hpp>

#include <ifaddrs.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "addon/resources.hpp"
#include "api/server/run.hpp"
#include "api/server/server.hpp"
#include "core/json.hpp"
#include "core/kube/client.hpp"
#include "core/kube/kubeconfig.hpp"
#include "handler/stream_server.hpp"
#include "test/support/temp_dir.hpp"
#include "test/support/test_certs.hpp"
#include "test/support/timeout_scale.hpp"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
namespace json = kv::core::json;
namespace kube = kv::core::kube;
using asio::ip::tcp;
using namespace std::chrono_literals;

namespace {

json::Document parse(const std::string& text) {
  auto d = json::parse(text);
  if (!d.ok())
    throw std::runtime_error("bad JSON in test: " + d.error().message + ": " + text);
  return std::move(*d);
}

// The first non-loopback IPv4 address of this machine.
std::string host_ip() {
  ifaddrs* list = nullptr;
  std::string out;
  if (getifaddrs(&list) != 0)
    return out;
  for (auto* a = list; a; a = a->ifa_next) {
    if (!a->ifa_addr || a->ifa_addr->sa_family != AF_INET)
      continue;
    auto ip =
        asio::ip::address_v4(ntohl(reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr.s_addr));
    if (!ip.is_loopback()) {
      out = ip.to_string();
      break;
    }
  }
  freeifaddrs(list);
  return out;
}

// Stands in for QEMU's serial socket: echoes "echo:" + what it gets, one client at a time.
class EchoSerial {
 public:
  explicit EchoSerial(std::string path) : path_(std::move(path)) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path_.c_str());
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 4) != 0)
      throw std::runtime_error("cannot listen on " + path_);
    thread_ = std::thread([this] {
      for (;;) {
        int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0)
          return;
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
    });
  }
  ~EchoSerial() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
    ::unlink(path_.c_str());
  }

 private:
  std::string path_;
  int fd_ = -1;
  std::thread thread_;
};

// A TLS client identity and trust for one-off requests.
struct Tls {
  std::string ca_pem, cert_pem, key_pem;
  ssl::context context() const {
    ssl::context ctx(ssl::context::tls_client);
    ctx.add_certificate_authority(asio::buffer(ca_pem));
    ctx.set_verify_mode(ssl::verify_peer);
    if (!cert_pem.empty()) {
      ctx.use_certificate_chain(asio::buffer(cert_pem));
      ctx.use_private_key(asio::buffer(key_pem), ssl::context::pem);
    }
    return ctx;
  }
};

struct HttpResult {
  int status = 0;
  std::string body;
};

// One HTTPS request with arbitrary headers (the KubeClient cannot send X-Remote-*).
HttpResult https(const std::string& host, int port, const Tls& tls, http::verb verb,
                 const std::string& target,
                 const std::vector<std::pair<std::string, std::string>>& headers = {},
                 const std::string& body = "") {
  asio::io_context ioc;
  auto ctx = tls.context();
  beast::ssl_stream<beast::tcp_stream> s(ioc, ctx);
  beast::get_lowest_layer(s).expires_after(30s);
  beast::get_lowest_layer(s).connect(
      tcp::endpoint(asio::ip::make_address(host), static_cast<unsigned short>(port)));
  s.handshake(ssl::stream_base::client);
  http::request<http::string_body> req(verb, target, 11);
  req.set(http::field::host, host);
  for (const auto& [k, v] : headers)
    req.insert(k, v);
  req.body() = body;
  req.prepare_payload();
  http::write(s, req);
  beast::flat_buffer b;
  http::response<http::string_body> res;
  http::read(s, b, res);
  return {static_cast<int>(res.result_int()), res.body()};
}

kube::Resource apiservices() {
  return {"apiregistration.k8s.io", "v1", "apiservices", "APIService", false};
}
kube::Resource webhooks() {
  return {"admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations",
          "ValidatingWebhookConfiguration", false};
}
kube::Resource endpoints() {
  return {"", "v1", "endpoints", "Endpoints", true};
}

template <class F>
bool eventually(F cond, std::chrono::seconds limit) {
  auto deadline = std::chrono::steady_clock::now() + kv::test::scaled(limit);
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond())
      return true;
    std::this_thread::sleep_for(200ms);
  }
  return cond();
}

const char* kVmiSpec =
    R"({"domain":{"devices":{"disks":[{"name":"root"}]},"resources":{"requests":{"memory":"128Mi"}}},
        "volumes":[{"name":"root","containerDisk":{"image":"example/guest"}}]})";

std::string vm_manifest(const std::string& name, const std::string& run_strategy) {
  return R"({"apiVersion":"kubevirt.io/v1","kind":"VirtualMachine","metadata":{"name":")" + name +
         R"(","namespace":"default"},"spec":{"runStrategy":")" + run_strategy +
         R"(","template":{"spec":)" + kVmiSpec + "}}}";
}

// Everything the tests share: the control plane's clients and PKI, our certificates, virt-api
// and a handler stream server, registered with kube-apiserver. Built once; torn down at exit.
struct Env {
  kv::test::TempDir dir{"kv-api-it"};
  std::string cluster_pki;
  kube::RestConfig admin_config;
  std::unique_ptr<kube::KubeClient> admin;
  Tls ours;  // CA of virt-api and the handler; virt-api's client certificate
  std::string api_cert, api_key, handler_cert, handler_key;
  kv::test::KeyPair bob_pair;  // a client certificate from the cluster's CA

  // The handler side.
  kv::test::TempDir sockets{"kv-api-it"};
  kv::handler::Metrics handler_metrics;
  asio::io_context handler_io;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work{
      handler_io.get_executor()};
  std::thread handler_thread;
  std::unique_ptr<kv::handler::StreamServer> handler;
  std::mutex mu;
  std::vector<std::string> commands;
  std::unique_ptr<EchoSerial> serial;

  std::unique_ptr<kv::apiserver::Server> api;

  Env() {
    const char* state = std::getenv("KV_CLUSTER_STATE");
    if (!state)
      throw std::runtime_error("run me through test/integration/with_control_plane.sh");
    cluster_pki = std::string(state) + "/pki";
    auto rest = kube::load_default();
    if (!rest.ok())
      throw std::runtime_error(rest.error().message);
    admin_config = *rest;
    auto c = kube::make_client(admin_config);
    if (!c.ok())
      throw std::runtime_error(c.error().message);
    admin = std::move(*c);
    make_pki();
    start_handler();
    start_api();
    register_api();
  }

  ~Env() {
    if (api)
      api->stop();
    serial.reset();
    if (handler)
      handler->stop();
    work.reset();
    asio::post(handler_io, [this] { handler_io.stop(); });
    if (handler_thread.joinable())
      handler_thread.join();
  }

  std::string p(const std::string& f) const { return (dir.path / f).string(); }

  // Our CA and the certificates virt-api and the handler serve and present, as PEM and (for the
  // virt-api binary's flags) as files <name>.pem / <name>.key in `dir`; and bob, whom the
  // cluster's CA vouches for but RBAC grants nothing.
  void make_pki() {
    const auto ca = kv::test::make_ca("kv-ca");
    std::vector<std::string> api_ips = {"127.0.0.1"};
    if (auto ip = host_ip(); !ip.empty())
      api_ips.push_back(ip);
    const auto api_pair =
        kv::test::server_cert(ca, "virt-api.kubevirt.svc", {"virt-api.kubevirt.svc"}, api_ips);
    const auto client = kv::test::client_cert(ca, "virt-api");
    const auto handler_pair =
        kv::test::server_cert(ca, "virt-handler", {"virt-handler.kubevirt.svc"}, {});
    const auto cluster_ca =
        kv::test::read_key_pair(cluster_pki + "/ca.crt", cluster_pki + "/ca.key");
    bob_pair = kv::test::client_cert(cluster_ca, "bob");
    kv::test::write_key_pair(dir.path, "ca", ca);
    kv::test::write_key_pair(dir.path, "api", api_pair);
    kv::test::write_key_pair(dir.path, "client", client);
    ours = {ca.cert_pem, client.cert_pem, client.key_pem};
    api_cert = api_pair.cert_pem;
    api_key = api_pair.key_pem;
    handler_cert = handler_pair.cert_pem;
    handler_key = handler_pair.key_pem;
  }

  void start_handler() {
    serial = std::make_unique<EchoSerial>((sockets.path / "virt-serial0").string());
    kv::handler::StreamServerOptions o;
    o.address = "127.0.0.1";
    o.port = 0;
    o.cert_pem = handler_cert;
    o.key_pem = handler_key;
    o.client_ca_pem = ours.ca_pem;
    kv::handler::StreamBackend b;
    b.socket_dir = [this](const std::string& ns,
                          const std::string& name) -> kv::core::Result<std::string> {
      if (ns == "default" && name == "vmi-console")
        return sockets.path.string();
      return kv::core::Error(kv::core::Errc::not_found, ns + "/" + name + " is not on node1");
    };
    b.command = [this](const std::string&, const std::string& name,
                       kv::launcher_com::proto::Command cmd,
                       std::function<void(kv::core::Status)> done) {
      std::lock_guard lock(mu);
      commands.push_back(name + ":" + std::string(kv::launcher_com::proto::command_name(cmd)));
      done({});
    };
    auto s = kv::handler::StreamServer::start(handler_io, o, std::move(b), handler_metrics);
    if (!s.ok())
      throw std::runtime_error(s.error().message);
    handler = std::move(*s);
    handler_thread = std::thread([this] { handler_io.run(); });
  }

  void start_api() {
    kv::apiserver::ServerConfig c;
    c.address = "0.0.0.0";
    c.port = 0;
    c.cert_pem = api_cert;
    c.key_pem = api_key;
    c.client_cert_pem = ours.cert_pem;
    c.client_key_pem = ours.key_pem;
    c.ca_pem = ours.ca_pem;
    c.handler_port = handler->port();
    c.admission.privileged_user_prefixes = {"system:serviceaccount:kubevirt:"};
    auto s = kv::apiserver::Server::start(c, *admin);
    if (!s.ok())
      throw std::runtime_error(s.error().message);
    api = std::move(*s);
    auto st = kv::apiserver::refresh_request_header_config(*admin, *api);
    if (!st.ok())
      throw std::runtime_error("front-proxy settings: " + st.error().message);
  }

  void create(const kube::Resource& r, const std::string& ns, const std::string& manifest) {
    auto res = admin->create(r, ns, parse(manifest));
    if (!res.ok())
      throw std::runtime_error("create " + r.id() + ": " + res.error().message);
  }

  void register_api() {
    const int port = api->port();
    const std::string ca_b64 = kube::base64_encode(ours.ca_pem);
    create(
        kube::resources::services(), "kubevirt",
        R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"virt-api","namespace":"kubevirt"},
               "spec":{"ports":[{"port":443,"targetPort":)" +
            std::to_string(port) + "}]}}");
    // The aggregator routes to the Endpoints (--enable-aggregator-routing). Endpoints refuse
    // loopback addresses ("may not be in the loopback range"), so this machine's own address;
    // virt-api listens on 0.0.0.0.
    const std::string ip = host_ip();
    if (ip.empty())
      throw std::runtime_error("this machine has no non-loopback IPv4 address for the Endpoints");
    create(
        endpoints(), "kubevirt",
        R"({"apiVersion":"v1","kind":"Endpoints","metadata":{"name":"virt-api","namespace":"kubevirt"},
               "subsets":[{"addresses":[{"ip":")" +
            ip + R"("}],"ports":[{"port":)" + std::to_string(port) + "}]}]}");
    create(apiservices(), "",
           R"({"apiVersion":"apiregistration.k8s.io/v1","kind":"APIService",
               "metadata":{"name":"v1.subresources.kubevirt.io"},
               "spec":{"group":"subresources.kubevirt.io","version":"v1","groupPriorityMinimum":1000,
                       "versionPriority":15,"caBundle":")" +
               ca_b64 + R"(","service":{"namespace":"kubevirt","name":"virt-api","port":443}}})");
    auto hook = [&](const std::string& name, const std::string& resource, const std::string& path) {
      return R"({"name":")" + name +
             R"(","admissionReviewVersions":["v1"],"sideEffects":"None","failurePolicy":"Fail",
                 "clientConfig":{"url":"https://127.0.0.1:)" +
             std::to_string(port) + path + R"(","caBundle":")" + ca_b64 + R"("},
                 "rules":[{"apiGroups":["kubevirt.io"],"apiVersions":["v1"],
                           "operations":["CREATE","UPDATE"],"resources":[")" +
             resource + R"("]}]})";
    };
    create(
        webhooks(), "",
        R"({"apiVersion":"admissionregistration.k8s.io/v1","kind":"ValidatingWebhookConfiguration",
               "metadata":{"name":"virt-api-validator"},"webhooks":[)" +
            hook("virtualmachine-validator.kubevirt.io", "virtualmachines",
                 "/virtualmachines-validate") +
            "," +
            hook("virtualmachineinstances-validator.kubevirt.io", "virtualmachineinstances",
                 "/virtualmachineinstances-validate") +
            "]}");
    create(kube::Resource{"admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations",
                          "MutatingWebhookConfiguration", false},
           "",
           R"({"apiVersion":"admissionregistration.k8s.io/v1","kind":"MutatingWebhookConfiguration",
               "metadata":{"name":"virt-api-mutator"},"webhooks":[)" +
               hook("virtualmachines-mutator.kubevirt.io", "virtualmachines",
                    "/virtualmachines-mutate") +
               "]}");
    // Available once kube-apiserver reached our discovery document through the front proxy.
    std::string last;
    bool ok = eventually(
        [&] {
          auto a = admin->get(apiservices(), "", "v1.subresources.kubevirt.io");
          if (!a.ok())
            return false;
          last = json::to_string(*a);
          const auto* conds = json::find_path(*a, {"status", "conditions"});
          if (!conds || !conds->IsArray())
            return false;
          for (const auto& c : conds->GetArray())
            if (json::get_string(c, "type") == "Available" &&
                json::get_string(c, "status") == "True")
              return true;
          return false;
        },
        120s);
    if (!ok)
      throw std::runtime_error("the APIService never became Available: " + last);
  }

  // A kube client as `bob` (authenticated, no RBAC).
  std::unique_ptr<kube::KubeClient> bob() {
    auto cfg = admin_config;
    cfg.client_cert_pem = bob_pair.cert_pem;
    cfg.client_key_pem = bob_pair.key_pem;
    cfg.bearer_token.clear();
    auto c = kube::make_client(cfg);
    if (!c.ok())
      throw std::runtime_error(c.error().message);
    return std::move(*c);
  }
};

Env& env() {
  static Env e;
  return e;
}

kube::RawResponse put(kube::KubeClient& c, const std::string& path, const std::string& body = "") {
  kube::RawRequest r;
  r.method = "PUT";
  r.path = path;
  r.body = body;
  auto res = c.raw(r);
  if (!res.ok())
    throw std::runtime_error("PUT " + path + ": " + res.error().message);
  return *res;
}

const std::string kVms = "/apis/subresources.kubevirt.io/v1/namespaces/default/virtualmachines/";
const std::string kVmis =
    "/apis/subresources.kubevirt.io/v1/namespaces/default/virtualmachineinstances/";

std::string status_message(const std::string& body) {
  auto d = json::parse(body);
  if (!d.ok() || !d->IsObject())
    return body;
  return std::string(json::get_string(*d, "message").value_or(body));
}

}  // namespace

TEST_CASE("discovery through kube-apiserver lists the subresources") {
  auto& e = env();
  kube::RawRequest r;
  r.path = "/apis/subresources.kubevirt.io/v1";
  auto res = e.admin->raw(r);
  REQUIRE(res.ok());
  INFO(res->body);
  CHECK(res->status == 200);
  CHECK(res->body.find("\"virtualmachines/stop\"") != std::string::npos);
  CHECK(res->body.find("\"virtualmachineinstances/console\"") != std::string::npos);
  r.path = "/apis";
  auto groups = e.admin->raw(r);
  REQUIRE(groups.ok());
  CHECK(groups->body.find("subresources.kubevirt.io") != std::string::npos);
  r.path = "/apis/subresources.kubevirt.io/v1/version";
  auto v = e.admin->raw(r);
  REQUIRE(v.ok());
  CHECK(v->status == 200);
  CHECK(v->body.find("gitVersion") != std::string::npos);
}

TEST_CASE("stop and start change the VM the way the controller reads it") {
  auto& e = env();
  e.create(kv::addon::resources::virtual_machines(), "default", vm_manifest("vm-always", "Always"));
  auto stop = put(*e.admin, kVms + "vm-always/stop");
  CHECK(stop.status == 202);
  auto vm = e.admin->get(kv::addon::resources::virtual_machines(), "default", "vm-always");
  REQUIRE(vm.ok());
  CHECK(json::find_path(*vm, {"spec", "runStrategy"})->GetString() == std::string("Halted"));

  // Stopping a Halted VM without a VMI: 409 the user can read.
  auto again = put(*e.admin, kVms + "vm-always/stop");
  CHECK(again.status == 409);
  CHECK(status_message(again.body) ==
        "Operation cannot be fulfilled on virtualmachine.kubevirt.io \"vm-always\": VM is not "
        "running");

  auto start = put(*e.admin, kVms + "vm-always/start");
  CHECK(start.status == 202);
  vm = e.admin->get(kv::addon::resources::virtual_machines(), "default", "vm-always");
  REQUIRE(vm.ok());
  CHECK(json::find_path(*vm, {"spec", "runStrategy"})->GetString() == std::string("Always"));

  // Manual: a Start request in status.stateChangeRequests, for the controller.
  e.create(kv::addon::resources::virtual_machines(), "default", vm_manifest("vm-manual", "Manual"));
  CHECK(put(*e.admin, kVms + "vm-manual/start").status == 202);
  auto manual = e.admin->get(kv::addon::resources::virtual_machines(), "default", "vm-manual");
  REQUIRE(manual.ok());
  const auto* reqs = json::find_path(*manual, {"status", "stateChangeRequests"});
  REQUIRE(reqs);
  REQUIRE(reqs->IsArray());
  REQUIRE(reqs->Size() == 1);
  CHECK(json::get_string((*reqs)[0], "action") == "Start");
  // A second start while the first is queued: 409.
  auto busy = put(*e.admin, kVms + "vm-manual/start");
  CHECK(busy.status == 409);
  CHECK(status_message(busy.body).find("stop/start already underway") != std::string::npos);

  // Bad bodies and missing VMs.
  auto bad = put(*e.admin, kVms + "vm-manual/stop", R"({"gracePeriod":"soon"})");
  CHECK(bad.status == 400);
  CHECK(status_message(bad.body) == "StopOptions.gracePeriod: must be an integer");
  auto missing = put(*e.admin, kVms + "nope/start");
  CHECK(missing.status == 404);
  CHECK(status_message(missing.body) == "virtualmachine.kubevirt.io \"nope\" not found");
}

TEST_CASE("an invalid VM is rejected by the webhook with the field's message") {
  auto& e = env();
  std::string bad = vm_manifest("vm-bad", "Halted");
  bad.replace(bad.find(R"("volumes":[{"name":"root")"), 25, R"("volumes":[{"name":"other")");
  auto res = e.admin->create(kv::addon::resources::virtual_machines(), "default", parse(bad));
  REQUIRE_FALSE(res.ok());
  INFO(res.error().message);
  CHECK(res.error().message.find("denied the request") != std::string::npos);
  CHECK(res.error().message.find("spec.template.spec.domain.devices.disks[0].name") !=
        std::string::npos);
  CHECK_FALSE(e.admin->get(kv::addon::resources::virtual_machines(), "default", "vm-bad").ok());
}

TEST_CASE("users without RBAC are refused; virt-api checks again behind the front proxy") {
  auto& e = env();
  e.create(kv::addon::resources::virtual_machines(), "default", vm_manifest("vm-rbac", "Always"));
  auto bob = e.bob();
  auto res = put(*bob, kVms + "vm-rbac/stop");
  CHECK(res.status == 403);
  auto vm = e.admin->get(kv::addon::resources::virtual_machines(), "default", "vm-rbac");
  REQUIRE(vm.ok());
  CHECK(json::find_path(*vm, {"spec", "runStrategy"})->GetString() == std::string("Always"));

  // Straight to virt-api with the front proxy's certificate claiming bob: our own
  // SubjectAccessReview says no.
  Tls front{e.ours.ca_pem, kv::test::read_text(e.cluster_pki + "/front-proxy-client.crt"),
            kv::test::read_text(e.cluster_pki + "/front-proxy-client.key")};
  auto direct = https("127.0.0.1", e.api->port(), front, http::verb::put, kVms + "vm-rbac/stop",
                      {{"X-Remote-User", "bob"}, {"X-Remote-Group", "system:authenticated"}});
  CHECK(direct.status == 403);
  CHECK(status_message(direct.body)
            .find("User \"bob\" cannot update resource \"virtualmachines/stop\" in API group "
                  "\"subresources.kubevirt.io\" in the namespace \"default\"") !=
        std::string::npos);

  // Without the front proxy's certificate the headers are not believed at all.
  Tls anonymous{e.ours.ca_pem, "", ""};
  auto spoofed = https("127.0.0.1", e.api->port(), anonymous, http::verb::put,
                       kVms + "vm-rbac/stop", {{"X-Remote-User", "kubernetes-admin"}});
  CHECK(spoofed.status == 401);
  Tls wrong_ca{e.ours.ca_pem, e.ours.cert_pem, e.ours.key_pem};  // our CA, not the front proxy's
  CHECK(https("127.0.0.1", e.api->port(), wrong_ca, http::verb::put, kVms + "vm-rbac/stop",
              {{"X-Remote-User", "kubernetes-admin"}})
            .status == 401);
}

TEST_CASE("console through kube-apiserver reaches the handler; pause is forwarded") {
  auto& e = env();
  // A node, a Running virt-handler pod on it (no kubelet here: its status is written by hand),
  // and a Running VMI on that node.
  e.create(kube::resources::nodes(), "",
           R"({"apiVersion":"v1","kind":"Node","metadata":{"name":"node1"}})");
  e.create(
      kube::resources::pods(), "kubevirt",
      R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"virt-handler-node1","namespace":"kubevirt",
               "labels":{"kubevirt.io":"virt-handler"}},
               "spec":{"nodeName":"node1","containers":[{"name":"h","image":"example/handler"}]}})");
  kube::PatchOptions status;
  status.subresource = "status";
  auto pod = e.admin->patch(
      kube::resources::pods(), "kubevirt", "virt-handler-node1", kube::PatchType::merge,
      R"({"status":{"phase":"Running","podIP":"127.0.0.1","podIPs":[{"ip":"127.0.0.1"}]}})",
      status);
  REQUIRE(pod.ok());
  e.create(kv::addon::resources::virtual_machine_instances(), "default",
           R"({"apiVersion":"kubevirt.io/v1","kind":"VirtualMachineInstance",
               "metadata":{"name":"vmi-console","namespace":"default"},"spec":)" +
               std::string(kVmiSpec) + "}");

  // Not running yet: a clear 400 / 409.
  auto early = put(*e.admin, kVmis + "vmi-console/pause");
  CHECK(early.status == 409);
  CHECK(status_message(early.body).find("VMI is not running") != std::string::npos);

  auto vmi = e.admin->patch(kv::addon::resources::virtual_machine_instances(), "default",
                            "vmi-console", kube::PatchType::merge,
                            R"({"status":{"phase":"Running","nodeName":"node1"}})", status);
  REQUIRE(vmi.ok());

  // The console, as virtctl opens it: WebSocket through kube-apiserver, plain.kubevirt.io.
  const auto& cfg = e.admin_config;
  const std::string hostport = cfg.server.substr(cfg.server.find("://") + 3);
  const std::string host = hostport.substr(0, hostport.rfind(':'));
  const int port = std::stoi(hostport.substr(hostport.rfind(':') + 1));
  asio::io_context ioc;
  Tls admin_tls{cfg.ca_pem, cfg.client_cert_pem, cfg.client_key_pem};
  auto ctx = admin_tls.context();
  websocket::stream<beast::ssl_stream<tcp::socket>> ws(ioc, ctx);
  auto& sock = beast::get_lowest_layer(ws);
  sock.connect(tcp::endpoint(asio::ip::make_address(host), static_cast<unsigned short>(port)));
  timeval tv{20, 0};
  ::setsockopt(sock.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ws.next_layer().handshake(ssl::stream_base::client);
  ws.set_option(websocket::stream_base::decorator([&](websocket::request_type& r) {
    r.set(http::field::sec_websocket_protocol, "plain.kubevirt.io");
    if (!cfg.bearer_token.empty())
      r.set(http::field::authorization, "Bearer " + cfg.bearer_token);
  }));
  websocket::response_type upgrade;
  beast::error_code ec;
  ws.handshake(upgrade, hostport, kVmis + "vmi-console/console", ec);
  INFO(upgrade);
  REQUIRE_FALSE(ec);
  CHECK(upgrade[http::field::sec_websocket_protocol] == "plain.kubevirt.io");
  ws.binary(true);
  ws.write(asio::buffer(std::string("hello\n")));
  std::string got;
  while (got.find("echo:hello\n") == std::string::npos) {
    beast::flat_buffer b;
    ws.read(b, ec);
    REQUIRE_FALSE(ec);
    got += beast::buffers_to_string(b.data());
  }
  CHECK(got == "echo:hello\n");
  ws.write(asio::buffer(std::string("again")));
  got.clear();
  while (got.find("echo:again") == std::string::npos) {
    beast::flat_buffer b;
    ws.read(b, ec);
    REQUIRE_FALSE(ec);
    got += beast::buffers_to_string(b.data());
  }
  // A bigger burst both ways: the relay's partial reads and writes lose and reorder nothing.
  const size_t burst = 256 * 1024;
  ws.write(asio::buffer(std::string(burst, 'x')));
  size_t xs = 0;
  while (xs < burst) {
    beast::flat_buffer b;
    ws.read(b, ec);
    REQUIRE_FALSE(ec);
    auto chunk = beast::buffers_to_string(b.data());
    xs += static_cast<size_t>(std::count(chunk.begin(), chunk.end(), 'x'));
  }
  CHECK(xs == burst);
  ws.close(websocket::close_code::normal, ec);

  // A dry run is checked but never reaches the handler.
  CHECK(put(*e.admin, kVmis + "vmi-console/pause", R"({"dryRun":["All"]})").status == 200);
  {
    std::lock_guard lock(e.mu);
    CHECK(e.commands.empty());
  }
  // pause goes to the handler of the VMI's node.
  auto pause = put(*e.admin, kVmis + "vmi-console/pause");
  CHECK(pause.status == 200);
  {
    std::lock_guard lock(e.mu);
    CHECK(e.commands == std::vector<std::string>{"vmi-console:pause"});
  }
  // A VMI the handler does not have: its 404 comes back as a Status.
  e.create(kv::addon::resources::virtual_machine_instances(), "default",
           R"({"apiVersion":"kubevirt.io/v1","kind":"VirtualMachineInstance",
               "metadata":{"name":"vmi-elsewhere","namespace":"default"},"spec":)" +
               std::string(kVmiSpec) + "}");
  REQUIRE(e.admin
              ->patch(kv::addon::resources::virtual_machine_instances(), "default", "vmi-elsewhere",
                      kube::PatchType::merge,
                      R"({"status":{"phase":"Running","nodeName":"node1"}})", status)
              .ok());
  kube::RawRequest r;
  r.path = kVmis + "vmi-elsewhere/console";
  auto plain = e.admin->raw(r);
  REQUIRE(plain.ok());
  CHECK(plain->status == 400);  // not a WebSocket upgrade
  CHECK(e.api->requests("vmi_stream", 101) == 1);
}

TEST_CASE("a VMI's spec cannot be changed by a user") {
  auto& e = env();
  e.create(kv::addon::resources::virtual_machine_instances(), "default",
           R"({"apiVersion":"kubevirt.io/v1","kind":"VirtualMachineInstance",
               "metadata":{"name":"vmi-fixed","namespace":"default"},"spec":)" +
               std::string(kVmiSpec) + "}");
  auto res =
      e.admin->patch(kv::addon::resources::virtual_machine_instances(), "default", "vmi-fixed",
                     kube::PatchType::merge, R"({"spec":{"terminationGracePeriodSeconds":5}})");
  REQUIRE_FALSE(res.ok());
  CHECK(res.error().message.find("update of VMI object is restricted") != std::string::npos);
}

TEST_CASE("the mutating webhook fills in the defaults") {
  auto& e = env();
  std::string m = vm_manifest("vm-defaults", "Halted");
  m.erase(m.find(R"("runStrategy":"Halted",)"), 23);
  e.create(kv::addon::resources::virtual_machines(), "default", m);
  auto vm = e.admin->get(kv::addon::resources::virtual_machines(), "default", "vm-defaults");
  REQUIRE(vm.ok());
  INFO(json::to_string(*vm));
  CHECK(json::find_path(*vm, {"spec", "runStrategy"})->GetString() == std::string("Halted"));
  // As upstream's VM mutator: the template's machine type; the VMI gets the other defaults.
  const auto* machine =
      json::find_path(*vm, {"spec", "template", "spec", "domain", "machine", "type"});
  REQUIRE(machine);
  CHECK(machine->GetString() == std::string("q35"));
}

namespace {

// The virt-api binary as a child process; killed (SIGKILL) if a test leaves it running.
struct Child {
  pid_t pid = -1;
  explicit Child(const std::vector<std::string>& argv) {
    std::vector<char*> args;
    for (const auto& a : argv)
      args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    if (posix_spawn(&pid, args[0], nullptr, nullptr, args.data(), environ) != 0)
      pid = -1;
  }
  // Exit status after SIGTERM, or -1 when it did not exit within the deadline.
  int terminate(std::chrono::seconds limit) {
    ::kill(pid, SIGTERM);
    auto deadline = std::chrono::steady_clock::now() + kv::test::scaled(limit);
    int status = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        pid = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(50ms);
    }
    return -1;
  }
  ~Child() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }
};

int free_port() {
  asio::io_context ioc;
  tcp::acceptor a(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return a.local_endpoint().port();
}

}  // namespace

TEST_CASE("the virt-api binary serves with its flags, reads the front-proxy settings, and stops") {
  auto& e = env();
  const char* bin = std::getenv("KV_VIRT_API");
  REQUIRE(bin);
  const int port = free_port();
  Child child({bin, "--kubeconfig", std::getenv("KUBECONFIG"), "--listen-address", "127.0.0.1",
               "--port", std::to_string(port), "--tls-cert", e.p("api.pem"), "--tls-key",
               e.p("api.key"), "--client-cert", e.p("client.pem"), "--client-key",
               e.p("client.key"), "--ca", e.p("ca.pem"), "--log-level", "warn"});
  REQUIRE(child.pid > 0);
  Tls front{e.ours.ca_pem, kv::test::read_text(e.cluster_pki + "/front-proxy-client.crt"),
            kv::test::read_text(e.cluster_pki + "/front-proxy-client.key")};
  HttpResult discovery;
  CHECK(eventually(
      [&] {
        try {
          discovery =
              https("127.0.0.1", port, front, http::verb::get, "/apis/subresources.kubevirt.io/v1");
        } catch (const std::exception&) {
          return false;  // not listening yet
        }
        return discovery.status == 200;
      },
      30s));
  CHECK(discovery.body.find("virtualmachines/start") != std::string::npos);
  Tls anonymous{e.ours.ca_pem, "", ""};
  CHECK(https("127.0.0.1", port, anonymous, http::verb::get, "/healthz").status == 200);
  auto metrics = https("127.0.0.1", port, anonymous, http::verb::get, "/metrics");
  CHECK(metrics.body.find(R"(kubevirt_virt_api_requests_total{route="discovery",code="200"})") !=
        std::string::npos);
  CHECK(child.terminate(20s) == 0);
}
