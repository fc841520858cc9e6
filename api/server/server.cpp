#include "api/server/server.hpp"

#include <utility>  // before Asio: Boost 1.74 awaitable.hpp uses std::exchange unincluded

#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include <map>
#include <mutex>
#include <thread>

#include "api/server/actions.hpp"
#include "api/server/portforward.hpp"
#include "api/server/routes.hpp"
#include "api/server/status.hpp"
#include "core/json.hpp"
#include "core/log.hpp"
#include "core/metrics/registry.hpp"
#include "core/serve/server.hpp"
#include "core/version.hpp"

namespace kv::apiserver {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
namespace json = core::json;
namespace kube = core::kube;
namespace serve = core::serve;
using core::Errc;
using core::Error;
using tcp = asio::ip::tcp;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;
using Request = http::request<http::string_body>;

namespace {

constexpr size_t kMaxBody = 8 << 20;
constexpr const char* kRequestsTotal = "kubevirt_virt_api_requests_total";
constexpr auto kIdle = std::chrono::seconds(120);
constexpr auto kDialTimeout = std::chrono::seconds(15);

std::string sv(beast::string_view s) {
  return std::string(s.data(), s.size());
}

const char* route_name(RouteKind k) {
  switch (k) {
    case RouteKind::healthz:
      return "healthz";
    case RouteKind::metrics:
      return "metrics";
    case RouteKind::group_list:
    case RouteKind::group:
    case RouteKind::resource_list:
      return "discovery";
    case RouteKind::version:
      return "version";
    case RouteKind::vm_action:
      return "vm_action";
    case RouteKind::vm_migrate:
      return "vm_migrate";
    case RouteKind::vmi_action:
      return "vmi_action";
    case RouteKind::vmi_stream:
      return "vmi_stream";
    case RouteKind::port_forward:
      return "port_forward";
    case RouteKind::validate_vm:
      return "validate_vm";
    case RouteKind::validate_vmi:
      return "validate_vmi";
    case RouteKind::mutate_vm:
      return "mutate_vm";
    case RouteKind::mutate_vmi:
      return "mutate_vmi";
    case RouteKind::validate_vmirs:
      return "validate_vmirs";
    case RouteKind::validate_vmpool:
      return "validate_vmpool";
    case RouteKind::mutate_vmim:
      return "mutate_vmim";
    case RouteKind::validate_vmim_create:
      return "validate_vmim_create";
    case RouteKind::validate_vmim_update:
      return "validate_vmim_update";
    case RouteKind::not_found:
      return "not_found";
    case RouteKind::method_not_allowed:
      return "method_not_allowed";
  }
  return "unknown";
}

// --- discovery documents (what upstream virt-api serves for the group) ---

std::string group_json(json::Allocator& a, json::Value& g) {
  g.SetObject();
  json::set(g, "name", kGroup, a);
  json::Value versions(rapidjson::kArrayType);
  json::Value v(rapidjson::kObjectType);
  json::set(v, "groupVersion", kGroupVersion, a);
  json::set(v, "version", kVersion, a);
  versions.PushBack(json::Value(v, a), a);
  json::set(g, "versions", std::move(versions), a);
  json::set(g, "preferredVersion", std::move(v), a);
  return {};
}

std::string group_list_body() {
  json::Document d;
  d.SetObject();
  auto& a = d.GetAllocator();
  json::set(d, "kind", "APIGroupList", a);
  json::set(d, "apiVersion", "v1", a);
  json::Value g;
  group_json(a, g);
  json::Value groups(rapidjson::kArrayType);
  groups.PushBack(std::move(g), a);
  json::set(d, "groups", std::move(groups), a);
  return json::to_string(d);
}

std::string group_body() {
  json::Document d;
  group_json(d.GetAllocator(), d);
  json::set(d, "kind", "APIGroup", d.GetAllocator());
  json::set(d, "apiVersion", "v1", d.GetAllocator());
  return json::to_string(d);
}

std::string resource_list_body() {
  json::Document d;
  d.SetObject();
  auto& a = d.GetAllocator();
  json::set(d, "kind", "APIResourceList", a);
  json::set(d, "apiVersion", "v1", a);
  json::set(d, "groupVersion", kGroupVersion, a);
  struct Sub {
    const char* name;
    const char* kind;
    const char* verb;
  };
  static const Sub subs[] = {
      {"virtualmachineinstances/vnc", "VirtualMachineInstance", "get"},
      {"virtualmachineinstances/console", "VirtualMachineInstance", "get"},
      {"virtualmachineinstances/portforward", "VirtualMachineInstance", "get"},
      {"virtualmachines/portforward", "VirtualMachine", "get"},
      {"virtualmachineinstances/pause", "VirtualMachineInstance", "update"},
      {"virtualmachineinstances/unpause", "VirtualMachineInstance", "update"},
      {"virtualmachineinstances/softreboot", "VirtualMachineInstance", "update"},
      {"virtualmachines/start", "VirtualMachine", "update"},
      {"virtualmachines/stop", "VirtualMachine", "update"},
      {"virtualmachines/restart", "VirtualMachine", "update"},
      {"virtualmachines/migrate", "VirtualMachine", "update"},
  };
  json::Value list(rapidjson::kArrayType);
  for (const auto& s : subs) {
    json::Value r(rapidjson::kObjectType);
    json::set(r, "name", s.name, a);
    json::set(r, "singularName", "", a);
    r.AddMember("namespaced", true, a);
    json::set(r, "kind", s.kind, a);
    json::Value verbs(rapidjson::kArrayType);
    verbs.PushBack(json::string_value(s.verb, a), a);
    json::set(r, "verbs", std::move(verbs), a);
    list.PushBack(std::move(r), a);
  }
  json::set(d, "resources", std::move(list), a);
  return json::to_string(d);
}

struct Reply {
  int code = 200;
  std::string body;
  std::string content_type = "application/json";
};

Reply error_reply(const ApiError& e) {
  return {e.code, status_body(e)};
}

serve::Response to_response(Reply r) {
  serve::Response res(r.code, std::move(r.body), std::move(r.content_type));
  res.headers.emplace_back("Cache-Control", "no-cache, private");
  return res;
}

// virt-api's client side for the handlers: our certificate (optional) and the CA that signed
// theirs. Errors name the option.
core::Result<std::shared_ptr<ssl::context>> handler_context(const std::string& cert_pem,
                                                            const std::string& key_pem,
                                                            const std::string& ca_pem) {
  auto h = std::make_shared<ssl::context>(ssl::context::tls_client);
  boost::system::error_code ec;
  h->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                 ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                 ssl::context::single_dh_use);
  if (!cert_pem.empty()) {
    h->use_certificate_chain(asio::buffer(cert_pem), ec);
    if (ec)
      return Error(Errc::invalid, "--client-cert: cannot load the certificate: " + ec.message());
    h->use_private_key(asio::buffer(key_pem), ssl::context::pem, ec);
    if (ec)
      return Error(Errc::invalid, "--client-key: cannot load the key: " + ec.message());
  }
  if (!ca_pem.empty()) {
    h->add_certificate_authority(asio::buffer(ca_pem), ec);
    if (ec)
      return Error(Errc::invalid, "--ca: cannot load the CA bundle: " + ec.message());
  }
  h->set_verify_mode(ssl::verify_peer);
  return h;
}

// The serving certificate into `tls`; errors name the option.
core::Status set_serving(serve::TlsContext& tls, const std::string& cert_pem,
                         const std::string& key_pem) {
  if (cert_pem.empty())
    return Error(Errc::invalid, "--tls-cert: required (the serving certificate, PEM)");
  if (key_pem.empty())
    return Error(Errc::invalid, "--tls-key: required (the serving key, PEM)");
  auto st = tls.set_certificate(cert_pem, key_pem);
  if (st.ok())
    return st;
  if (st.error().get("pem") == serve::kPemKey)
    return Error(Errc::invalid, "--tls-key: cannot load the key: " + st.error().message);
  return Error(Errc::invalid, "--tls-cert: cannot load the certificate: " + st.error().message);
}

}  // namespace

// -------------------------------------------------------------------------------------------
class Splice;

struct Server::Impl {
  ServerConfig config;
  kube::KubeClient& client;
  // The serving certificate (replaceable while serving: set_certificates).
  std::shared_ptr<serve::TlsContext> server_tls =
      std::make_shared<serve::TlsContext>(serve::ClientAuth::request);
  asio::thread_pool workers;
  std::unique_ptr<serve::Server> http;
  std::once_flag stopped;

  mutable std::mutex mu;
  std::shared_ptr<const RequestHeaderConfig> request_header;
  // For dialing virt-handlers; a link keeps the one it started with.
  std::shared_ptr<ssl::context> handler_tls;

  core::metrics::Registry metrics;

  // The relays after an upgrade, which core/serve no longer tracks: stop() ends those still open.
  std::mutex relays_mu;
  std::vector<std::weak_ptr<Splice>> relays;
  void track(const std::shared_ptr<Splice>& s) {
    std::lock_guard lock(relays_mu);
    std::erase_if(relays, [](const std::weak_ptr<Splice>& w) { return w.expired(); });
    relays.push_back(s);
  }

  Impl(ServerConfig c, kube::KubeClient& k)
      : config(std::move(c)), client(k), workers(static_cast<size_t>(std::max(1, config.workers))) {
    metrics.declare(kRequestsTotal, core::metrics::Type::counter,
                    "Requests served, by route and HTTP code.");
  }

  std::shared_ptr<ssl::context> handler_context() const {
    std::lock_guard lock(mu);
    return handler_tls;
  }
  std::shared_ptr<const RequestHeaderConfig> auth_config() const {
    std::lock_guard lock(mu);
    return request_header;
  }
  void count(const std::string& route, int code) {
    metrics.inc(kRequestsTotal, {{"route", route}, {"code", std::to_string(code)}});
  }
  std::string metrics_text() { return metrics.render(); }

  // The handler endpoint for a VMI action or stream (actions.hpp; blocking).
  std::variant<tcp::endpoint, ApiError> handler_endpoint(const Route& r) {
    auto where = r.kind == RouteKind::port_forward
                     ? locate_port_forward(client, r, config.handler_namespace, config.handler_port)
                     : locate_handler(client, r, config.handler_namespace, config.handler_port);
    if (auto* e = std::get_if<ApiError>(&where))
      return *e;
    const auto& h = std::get<HandlerAddress>(where);
    boost::system::error_code ec;
    auto addr = asio::ip::make_address(h.ip, ec);
    if (ec)
      return ApiError{
          503, "ServiceUnavailable",
          "virt-handler on node " + h.node + " has no usable pod IP (\"" + h.ip + "\")"};
    return tcp::endpoint(addr, static_cast<unsigned short>(h.port));
  }
};

// One virt-handler exchange: TCP, TLS (our client certificate; the handler's certificate must
// carry handler_server_name), the request, and the response header. Then either the body is read
// (commands) or both connections are spliced (console, vnc).
class HandlerLink : public std::enable_shared_from_this<HandlerLink> {
 public:
  using Done = std::function<void(beast::error_code, std::shared_ptr<HandlerLink>)>;
  HandlerLink(Server::Impl& srv, asio::any_io_executor ex)
      : tls_(srv.handler_context()),
        stream_(ex, *tls_),
        server_name_(srv.config.handler_server_name) {}

  void start(tcp::endpoint ep, Request req, Done done) {
    req_ = std::move(req);
    done_ = std::move(done);
    auto& tcp_layer = beast::get_lowest_layer(stream_);
    tcp_layer.expires_after(kDialTimeout);
    SSL_set_tlsext_host_name(stream_.native_handle(), server_name_.c_str());
    stream_.set_verify_callback(ssl::host_name_verification(server_name_));
    tcp_layer.async_connect(ep, [self = shared_from_this()](beast::error_code ec) {
      if (ec)
        return self->finish(ec);
      self->stream_.async_handshake(ssl::stream_base::client, [self](beast::error_code ec2) {
        if (ec2)
          return self->finish(ec2);
        http::async_write(self->stream_, self->req_, [self](beast::error_code ec3, size_t) {
          if (ec3)
            return self->finish(ec3);
          self->parser_.body_limit(kMaxBody);
          http::async_read_header(self->stream_, self->buf_, self->parser_,
                                  [self](beast::error_code ec4, size_t) { self->finish(ec4); });
        });
      });
    });
  }

  // After a non-101 header: the rest of the body.
  void read_body(std::function<void(beast::error_code)> done) {
    beast::get_lowest_layer(stream_).expires_after(kDialTimeout);
    http::async_read(stream_, buf_, parser_,
                     [self = shared_from_this(), done = std::move(done)](beast::error_code ec,
                                                                         size_t) { done(ec); });
  }

  http::response_parser<http::string_body>& parser() { return parser_; }
  TlsStream& stream() { return stream_; }
  beast::flat_buffer& buffer() { return buf_; }

 private:
  void finish(beast::error_code ec) {
    auto d = std::move(done_);
    done_ = nullptr;
    if (d)
      d(ec, shared_from_this());
  }
  std::shared_ptr<ssl::context> tls_;  // before stream_: the stream uses it
  TlsStream stream_;
  std::string server_name_;
  Request req_;
  beast::flat_buffer buf_;
  http::response_parser<http::string_body> parser_;
  Done done_;
};

// Bytes both ways between the client's connection and the handler's, after the 101. One buffer
// per direction and no read before the previous write finished: a slow reader slows the writer
// (TCP back-pressure) and nothing is buffered beyond 2 x 16 KiB.
class Splice : public std::enable_shared_from_this<Splice> {
 public:
  Splice(serve::Upgraded client, TlsStream& handler, std::shared_ptr<HandlerLink> keep)
      : client_tls_(std::move(client.tls_context)),
        client_(std::get<TlsStream>(std::move(client.stream))),
        handler_(handler),
        keep_(std::move(keep)) {}

  // Writes the handler's 101 to the client, then relays.
  void start(std::shared_ptr<http::response<http::string_body>> res, std::string to_handler,
             std::string to_client) {
    http::async_write(client_, *res,
                      [self = shared_from_this(), res, to_handler = std::move(to_handler),
                       to_client = std::move(to_client)](beast::error_code ec, size_t) mutable {
                        if (ec)
                          return self->end();
                        self->relay(std::move(to_handler), std::move(to_client));
                      });
  }

  // Either side ended (or the server stops): everything it sent was already written to the
  // other, so close both. Only on an io thread, or once they are all joined.
  void end() {
    if (ended_)
      return;
    ended_ = true;
    beast::error_code ec;
    beast::get_lowest_layer(client_).socket().shutdown(tcp::socket::shutdown_both, ec);
    beast::get_lowest_layer(client_).close();
    beast::get_lowest_layer(handler_).socket().shutdown(tcp::socket::shutdown_both, ec);
    beast::get_lowest_layer(handler_).close();
  }

 private:
  void relay(std::string to_handler, std::string to_client) {
    beast::get_lowest_layer(client_).expires_never();
    beast::get_lowest_layer(handler_).expires_never();
    // Bytes already read past the HTTP headers go first.
    write_then_pump(client_, handler_, a_, std::move(to_handler));
    write_then_pump(handler_, client_, b_, std::move(to_client));
  }

  using Buf = std::array<char, 16384>;
  void write_then_pump(TlsStream& from, TlsStream& to, Buf& buf, std::string pending) {
    if (pending.empty())
      return pump(from, to, buf);
    auto data = std::make_shared<std::string>(std::move(pending));
    asio::async_write(
        to, asio::buffer(*data),
        [self = shared_from_this(), &from, &to, &buf, data](beast::error_code ec, size_t) {
          if (ec)
            return self->end();
          self->pump(from, to, buf);
        });
  }
  void pump(TlsStream& from, TlsStream& to, Buf& buf) {
    from.async_read_some(asio::buffer(buf), [self = shared_from_this(), &from, &to, &buf](
                                                beast::error_code ec, size_t n) {
      if (ec)
        return self->end();
      asio::async_write(to, asio::buffer(buf.data(), n),
                        [self, &from, &to, &buf](beast::error_code ec2, size_t) {
                          if (ec2)
                            return self->end();
                          self->pump(from, to, buf);
                        });
    });
  }

  std::shared_ptr<ssl::context> client_tls_;  // before client_: the stream uses it
  TlsStream client_;
  TlsStream& handler_;
  std::shared_ptr<HandlerLink> keep_;
  Buf a_{}, b_{};
  bool ended_ = false;
};

// One request, from the shared server (core/serve): answered here, on the worker pool, by a
// virt-handler, or relayed to a virt-handler after an upgrade.
class Call : public std::enable_shared_from_this<Call> {
 public:
  Call(Server::Impl& srv, std::shared_ptr<serve::Exchange> ex) : srv_(srv), ex_(std::move(ex)) {}

 private:
  Peer peer(const RequestHeaderConfig& c) const {
    Peer p;
    const auto& certs = ex_->peer();
    if (certs.leaf_pem.empty()) {
      p.error = "no client certificate";
      return p;
    }
    auto cn = verify_client_certificate(c.client_ca_pem, certs.leaf_pem, certs.chain_pem);
    if (!cn.ok()) {
      p.error = cn.error().message;
      return p;
    }
    p.verified = true;
    p.common_name = *cn;
    return p;
  }

  void respond(Reply r, const std::string& route) {
    srv_.count(route, r.code);
    ex_->respond(to_response(std::move(r)));
  }

  // Runs `work` on the worker pool; the reply goes out from this connection's strand.
  void offload(const std::string& route, std::function<Reply()> work) {
    asio::post(srv_.workers, [self = shared_from_this(), route, work = std::move(work)] {
      self->respond(work(), route);
    });
  }

 public:
  void handle() {
    const Request& req = ex_->request();
    Route r = route(sv(req.method_string()), sv(req.target()));
    const std::string name = route_name(r.kind);
    if (r.kind == RouteKind::not_found)
      return respond(error_reply({404, "NotFound", r.error}), name);
    if (r.kind == RouteKind::method_not_allowed)
      return respond(error_reply({405, "MethodNotAllowed", r.error}), name);
    if (r.kind == RouteKind::healthz)
      return respond({200, "ok", "text/plain"}, name);
    if (r.kind == RouteKind::metrics)
      return respond({200, srv_.metrics_text(), "text/plain; version=0.0.4"}, name);
    if (r.kind == RouteKind::validate_vmirs || r.kind == RouteKind::validate_vmpool ||
        r.kind == RouteKind::mutate_vmim || r.kind == RouteKind::validate_vmim_create ||
        r.kind == RouteKind::validate_vmim_update) {
      const Webhook hook = r.kind == RouteKind::validate_vmirs    ? Webhook::validate_vmirs
                           : r.kind == RouteKind::validate_vmpool ? Webhook::validate_vmpool
                           : r.kind == RouteKind::mutate_vmim     ? Webhook::mutate_vmim
                           : r.kind == RouteKind::validate_vmim_create
                               ? Webhook::validate_vmim_create
                               : Webhook::validate_vmim_update;
      return offload(name, [this, hook, body = req.body()] {
        auto rep = review(hook, body, srv_.config.admission);
        return Reply{rep.status, std::move(rep.body)};
      });
    }
    if (r.kind == RouteKind::validate_vm || r.kind == RouteKind::validate_vmi ||
        r.kind == RouteKind::mutate_vm || r.kind == RouteKind::mutate_vmi) {
      const Webhook hook = r.kind == RouteKind::validate_vm    ? Webhook::validate_vm
                           : r.kind == RouteKind::validate_vmi ? Webhook::validate_vmi
                           : r.kind == RouteKind::mutate_vm    ? Webhook::mutate_vm
                                                               : Webhook::mutate_vmi;
      return offload(name, [this, hook, body = req.body()] {
        auto rep = review(hook, body, srv_.config.admission);
        return Reply{rep.status, std::move(rep.body)};
      });
    }

    // The aggregated API: the front proxy's certificate, then the user.
    auto cfg = srv_.auth_config();
    if (!cfg)
      return respond(error_reply(unauthorized(
                         "Unauthorized: virt-api has not read kube-system/"
                         "extension-apiserver-authentication yet, so it cannot authenticate the "
                         "front proxy")),
                     name);
    Headers headers;
    for (const auto& f : req)
      headers.emplace_back(sv(f.name_string()), sv(f.value()));
    auto who = authenticate(*cfg, peer(*cfg), headers, r.needs_authorization());
    if (auto* e = std::get_if<ApiError>(&who))
      return respond(error_reply(*e), name);
    UserInfo user = std::get<UserInfo>(std::move(who));

    switch (r.kind) {
      case RouteKind::group_list:
        return respond({200, group_list_body()}, name);
      case RouteKind::group:
        return respond({200, group_body()}, name);
      case RouteKind::resource_list:
        return respond({200, resource_list_body()}, name);
      case RouteKind::version:
        return respond({200, core::version_json()}, name);
      case RouteKind::vm_action:
        return offload(name, [this, r, user, body = req.body()]() -> Reply {
          if (auto denied = authorize(srv_.client, user, r))
            return error_reply(*denied);
          auto rep = vm_action(srv_.client, r, body);
          return Reply{rep.status, std::move(rep.body)};
        });
      case RouteKind::vm_migrate:
        return offload(name, [this, r, user, body = req.body()]() -> Reply {
          if (auto denied = authorize(srv_.client, user, r))
            return error_reply(*denied);
          auto rep = vm_migrate(srv_.client, r, body);
          return Reply{rep.status, std::move(rep.body)};
        });
      case RouteKind::vmi_action:
      case RouteKind::vmi_stream:
      case RouteKind::port_forward:
        return to_handler(r, name, std::move(user));
      default:
        return respond(error_reply(internal_error("unrouted request")), name);
    }
  }

 private:
  // pause/unpause/softreboot, console/vnc: authorize and locate the handler on a worker, then
  // dial it from this strand.
  void to_handler(const Route& r, const std::string& name, UserInfo user) {
    const Request& req = ex_->request();
    if (r.kind != RouteKind::vmi_action && !beast::websocket::is_upgrade(req))
      return respond(
          error_reply(bad_request(r.action + ": needs a WebSocket upgrade (GET with "
                                             "Connection: Upgrade, Upgrade: websocket)")),
          name);
    bool dry_run = false;
    if (r.kind == RouteKind::vmi_action) {
      auto d = parse_vmi_action_dry_run(r.action, req.body());
      if (auto* e = std::get_if<ApiError>(&d))
        return respond(error_reply(*e), name);
      dry_run = std::get<bool>(d);
    }
    asio::post(srv_.workers, [self = shared_from_this(), r, name, user, dry_run] {
      std::variant<tcp::endpoint, ApiError> where = ApiError{};
      if (auto denied = authorize(self->srv_.client, user, r))
        where = *denied;
      else
        where = self->srv_.handler_endpoint(r);
      asio::post(self->ex_->executor(), [self, r, name, where, dry_run] {
        if (auto* e = std::get_if<ApiError>(&where))
          return self->respond(error_reply(*e), name);
        if (dry_run)  // checked as far as it goes without acting
          return self->respond({200, ""}, name);
        self->dial(r, name, std::get<tcp::endpoint>(where));
      });
    });
  }

  void dial(const Route& r, const std::string& name, tcp::endpoint ep) {
    const bool stream = r.kind != RouteKind::vmi_action;
    Request out;
    if (stream) {
      out = ex_->request();  // Sec-WebSocket-Key/-Version/-Protocol, Upgrade and Connection stay
      for (auto it = out.begin(); it != out.end();) {
        auto n = sv(it->name_string());
        std::string lower(n);
        for (auto& c : lower)
          c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (lower.rfind("x-remote-", 0) == 0 || lower == "authorization" ||
            lower.rfind("impersonate-", 0) == 0 || lower.rfind("x-forwarded-", 0) == 0)
          it = out.erase(it);
        else
          ++it;
      }
    } else {
      out.method(http::verb::put);
      out.version(11);
      out.set(http::field::content_type, "application/json");
      out.body() = "{}";
      out.prepare_payload();
    }
    out.target(r.kind == RouteKind::port_forward
                   ? handler_port_forward_path(r)
                   : "/v1/namespaces/" + r.ns + "/virtualmachineinstances/" + r.name + "/" +
                         r.action);
    out.set(http::field::host, srv_.config.handler_server_name);
    auto link = std::make_shared<HandlerLink>(srv_, ex_->executor());
    link->start(
        ep, std::move(out),
        [self = shared_from_this(), r, name, stream](beast::error_code ec,
                                                     std::shared_ptr<HandlerLink> l) {
          if (ec)
            return self->respond(
                error_reply({503, "ServiceUnavailable",
                             "cannot reach virt-handler for VirtualMachineInstance " + r.ns + "/" +
                                 r.name + ": " + ec.message()}),
                name);
          auto& res = l->parser().get();
          if (stream && res.result() == http::status::switching_protocols)
            return self->splice(name, std::move(l));
          l->read_body([self, l, r, name](beast::error_code ec2) {
            auto& full = l->parser().get();
            const int code = full.result_int();
            if (ec2)
              return self->respond(error_reply({502, "BadGateway",
                                                "virt-handler answered " + std::to_string(code) +
                                                    " and then failed: " + ec2.message()}),
                                   name);
            if (code / 100 == 2)
              return self->respond({200, ""}, name);
            // The handler's {"message": ...}, as a Status with its code.
            std::string msg = full.body();
            if (auto doc = json::parse(full.body()); doc.ok() && doc->IsObject())
              if (auto m = json::get_string(*doc, "message"))
                msg = std::string(*m);
            auto e =
                from_error(Error(Errc::internal, msg).with("http_status", std::to_string(code)));
            self->respond(error_reply(e), name);
          });
        });
  }

  void splice(const std::string& name, std::shared_ptr<HandlerLink> l) {
    srv_.count(name, 101);
    auto res = std::make_shared<http::response<http::string_body>>(std::move(l->parser().get()));
    std::string to_client = beast::buffers_to_string(l->buffer().data());
    ex_->upgrade([srv = &srv_, res, l, to_client](serve::Upgraded u) mutable {
      std::string to_handler = beast::buffers_to_string(u.buffer.data());
      auto s = std::make_shared<Splice>(std::move(u), l->stream(), l);
      srv->track(s);
      s->start(std::move(res), std::move(to_handler), std::move(to_client));
    });
  }

  Server::Impl& srv_;
  std::shared_ptr<serve::Exchange> ex_;
};

// -------------------------------------------------------------------------------------------
Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() {
  stop();
}

core::Result<std::unique_ptr<Server>> Server::start(ServerConfig config, kube::KubeClient& client) {
  auto impl = std::make_unique<Impl>(std::move(config), client);
  auto& c = impl->config;
  // Ask for a client certificate but accept any (or none): it is checked per request against the
  // requestheader CA, which can change while we run.
  KV_CHECK(set_serving(*impl->server_tls, c.cert_pem, c.key_pem));
  auto h = handler_context(c.client_cert_pem, c.client_key_pem, c.ca_pem);
  KV_CHECK(h);
  impl->handler_tls = std::move(*h);

  serve::ServerOptions so;
  so.address = c.address;
  so.port = c.port;
  so.name = "virt-api";
  so.tls = impl->server_tls;
  so.idle_timeout = kIdle;
  so.body_limit = kMaxBody;
  so.threads = std::max(1, c.io_threads);
  Impl* p = impl.get();
  so.body_too_large = [p] {
    p->count("body_limit", 413);
    return to_response(
        {413, status_body({413, "RequestEntityTooLarge", "the request body exceeds 8 MiB"})});
  };
  serve::Router routes;
  // routes.hpp knows virt-api's paths (and its 404/405 answers): every request goes there.
  routes.add("*", "/*", [p](const std::shared_ptr<serve::Exchange>& ex) {
    std::make_shared<Call>(*p, ex)->handle();
  });
  auto http = serve::Server::start(std::move(so), std::move(routes));
  if (!http.ok())
    return std::move(http).error();
  impl->http = std::move(*http);
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

void Server::stop() {
  std::call_once(impl_->stopped, [this] {
    impl_->http->stop();
    impl_->workers.join();
    // No io thread runs now: end the relays from here.
    std::vector<std::weak_ptr<Splice>> relays;
    {
      std::lock_guard lock(impl_->relays_mu);
      relays.swap(impl_->relays);
    }
    for (const auto& w : relays)
      if (auto s = w.lock())
        s->end();
  });
}

int Server::port() const {
  return impl_->http->port();
}

core::Status Server::set_certificates(const std::string& cert_pem, const std::string& key_pem,
                                      const std::string& client_cert_pem,
                                      const std::string& client_key_pem,
                                      const std::string& ca_pem) {
  std::shared_ptr<ssl::context> h;
  if (!client_cert_pem.empty() || !ca_pem.empty()) {
    auto made = handler_context(client_cert_pem, client_key_pem, ca_pem);
    KV_CHECK(made);
    h = std::move(*made);
  }
  KV_CHECK(set_serving(*impl_->server_tls, cert_pem, key_pem));
  if (h) {
    std::lock_guard lock(impl_->mu);
    impl_->handler_tls = std::move(h);
  }
  return {};
}

void Server::set_request_header_config(std::optional<RequestHeaderConfig> config) {
  std::lock_guard lock(impl_->mu);
  impl_->request_header =
      config ? std::make_shared<const RequestHeaderConfig>(std::move(*config)) : nullptr;
}

int64_t Server::requests(const std::string& route, int code) const {
  return static_cast<int64_t>(
      impl_->metrics.value(kRequestsTotal, {{"route", route}, {"code", std::to_string(code)}}));
}

}  // namespace kv::apiserver
