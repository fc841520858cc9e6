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
#include "api/server/routes.hpp"
#include "api/server/status.hpp"
#include "core/json.hpp"
#include "core/log.hpp"

namespace kv::apiserver {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
namespace json = core::json;
namespace kube = core::kube;
using core::Errc;
using core::Error;
using tcp = asio::ip::tcp;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;
using Request = http::request<http::string_body>;

namespace {

constexpr size_t kMaxBody = 8 << 20;
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
    case RouteKind::vmi_action:
      return "vmi_action";
    case RouteKind::vmi_stream:
      return "vmi_stream";
    case RouteKind::validate_vm:
      return "validate_vm";
    case RouteKind::validate_vmi:
      return "validate_vmi";
    case RouteKind::mutate_vm:
      return "mutate_vm";
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
      {"virtualmachineinstances/pause", "VirtualMachineInstance", "update"},
      {"virtualmachineinstances/unpause", "VirtualMachineInstance", "update"},
      {"virtualmachineinstances/softreboot", "VirtualMachineInstance", "update"},
      {"virtualmachines/start", "VirtualMachine", "update"},
      {"virtualmachines/stop", "VirtualMachine", "update"},
      {"virtualmachines/restart", "VirtualMachine", "update"},
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

std::string version_body(const std::string& version) {
  json::Document d;
  d.SetObject();
  auto& a = d.GetAllocator();
  json::set(d, "gitVersion", version, a);
  json::set(d, "gitCommit", "", a);
  json::set(d, "gitTreeState", "", a);
  json::set(d, "buildDate", "", a);
  json::set(d, "goVersion", "", a);
  json::set(d, "compiler", "gcc", a);
  json::set(d, "platform", "linux/amd64", a);
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

}  // namespace

// -------------------------------------------------------------------------------------------
struct Server::Impl {
  ServerConfig config;
  kube::KubeClient& client;
  // TLS contexts outlive the io_context (declared first, destroyed last).
  ssl::context server_tls{ssl::context::tls_server};
  ssl::context handler_tls{ssl::context::tls_client};
  asio::io_context io;
  tcp::acceptor acceptor{io};
  asio::thread_pool workers;
  std::vector<std::thread> threads;
  std::once_flag stopped;
  int port = 0;

  mutable std::mutex mu;
  std::shared_ptr<const RequestHeaderConfig> request_header;
  std::map<std::pair<std::string, int>, int64_t> counts;

  Impl(ServerConfig c, kube::KubeClient& k)
      : config(std::move(c)),
        client(k),
        workers(static_cast<size_t>(std::max(1, config.workers))) {}

  std::shared_ptr<const RequestHeaderConfig> auth_config() const {
    std::lock_guard lock(mu);
    return request_header;
  }
  void count(const std::string& route, int code) {
    std::lock_guard lock(mu);
    ++counts[{route, code}];
  }
  std::string metrics_text() const {
    std::lock_guard lock(mu);
    std::string out =
        "# HELP kubevirt_virt_api_requests_total Requests served, by route and HTTP code.\n"
        "# TYPE kubevirt_virt_api_requests_total counter\n";
    for (const auto& [k, n] : counts)
      out += "kubevirt_virt_api_requests_total{route=\"" + k.first + "\",code=\"" +
             std::to_string(k.second) + "\"} " + std::to_string(n) + "\n";
    return out;
  }

  void accept();

  // The handler endpoint for a VMI action or stream (actions.hpp; blocking).
  std::variant<tcp::endpoint, ApiError> handler_endpoint(const Route& r) {
    auto where = locate_handler(client, r, config.handler_namespace, config.handler_port);
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
      : stream_(ex, srv.handler_tls), server_name_(srv.config.handler_server_name) {}

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
  Splice(TlsStream client, TlsStream& handler, std::shared_ptr<HandlerLink> keep)
      : client_(std::move(client)), handler_(handler), keep_(std::move(keep)) {}

  void start(std::string to_handler, std::string to_client) {
    beast::get_lowest_layer(client_).expires_never();
    beast::get_lowest_layer(handler_).expires_never();
    // Bytes already read past the HTTP headers go first.
    write_then_pump(client_, handler_, a_, std::move(to_handler));
    write_then_pump(handler_, client_, b_, std::move(to_client));
  }

 private:
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
  // Either side ended: everything it sent was already written to the other, so close both.
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

  TlsStream client_;
  TlsStream& handler_;
  std::shared_ptr<HandlerLink> keep_;
  Buf a_{}, b_{};
  bool ended_ = false;
};

// One client connection: TLS, then HTTP/1.1 requests (keep-alive), or a relay after an upgrade.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(Server::Impl& srv, tcp::socket sock)
      : srv_(srv), stream_(std::move(sock), srv.server_tls) {}

  void run() {
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(30));
    stream_.async_handshake(
        ssl::stream_base::server, [self = shared_from_this()](beast::error_code ec) {
          if (ec) {
            core::log::debug("virt-api: TLS handshake failed", {{"error", ec.message()}});
            return;
          }
          self->peer_pem();
          self->read_request();
        });
  }

 private:
  // The client's certificate and chain as PEM (checked per request against the current CA).
  void peer_pem() {
    SSL* ssl = stream_.native_handle();
    auto to_pem = [](X509* x) {
      BIO* bio = BIO_new(BIO_s_mem());
      PEM_write_bio_X509(bio, x);
      char* data = nullptr;
      long n = BIO_get_mem_data(bio, &data);
      std::string out(data, static_cast<size_t>(n));
      BIO_free(bio);
      return out;
    };
    if (X509* leaf = SSL_get1_peer_certificate(ssl)) {
      cert_pem_ = to_pem(leaf);
      X509_free(leaf);
    }
    if (STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl))
      for (int i = 0; i < sk_X509_num(chain); ++i)
        chain_pem_.push_back(to_pem(sk_X509_value(chain, i)));
  }

  Peer peer(const RequestHeaderConfig& c) const {
    Peer p;
    if (cert_pem_.empty()) {
      p.error = "no client certificate";
      return p;
    }
    auto cn = verify_client_certificate(c.client_ca_pem, cert_pem_, chain_pem_);
    if (!cn.ok()) {
      p.error = cn.error().message;
      return p;
    }
    p.verified = true;
    p.common_name = *cn;
    return p;
  }

  void read_request() {
    parser_.emplace();
    parser_->body_limit(kMaxBody);
    beast::get_lowest_layer(stream_).expires_after(kIdle);
    http::async_read(stream_, buf_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       if (ec) {
                         if (ec == http::error::body_limit) {
                           self->req_ = {};
                           self->respond({413, status_body({413, "RequestEntityTooLarge",
                                                            "the request body exceeds 8 MiB"})},
                                         "body_limit", false);
                         }
                         return;
                       }
                       self->req_ = self->parser_->release();
                       self->handle();
                     });
  }

  void respond(Reply r, const std::string& route, bool keep_alive = true) {
    srv_.count(route, r.code);
    auto res = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(r.code), req_.version() ? req_.version() : 11);
    res->set(http::field::content_type, r.content_type);
    res->set(http::field::cache_control, "no-cache, private");
    res->body() = std::move(r.body);
    res->keep_alive(keep_alive && req_.keep_alive());
    res->prepare_payload();
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res](beast::error_code ec, size_t) {
                        if (ec)
                          return;
                        if (res->keep_alive())
                          self->read_request();
                        else
                          self->stream_.async_shutdown([self](beast::error_code) {});
                      });
  }

  // Runs `work` on the worker pool and writes its reply from this connection's strand.
  void offload(const std::string& route, std::function<Reply()> work) {
    asio::post(srv_.workers, [self = shared_from_this(), route, work = std::move(work)] {
      Reply r = work();
      asio::post(self->stream_.get_executor(),
                 [self, route, r = std::move(r)]() mutable { self->respond(std::move(r), route); });
    });
  }

  void handle() {
    Route r = route(sv(req_.method_string()), sv(req_.target()));
    const std::string name = route_name(r.kind);
    if (r.kind == RouteKind::not_found)
      return respond(error_reply({404, "NotFound", r.error}), name);
    if (r.kind == RouteKind::method_not_allowed)
      return respond(error_reply({405, "MethodNotAllowed", r.error}), name);
    if (r.kind == RouteKind::healthz)
      return respond({200, "ok", "text/plain"}, name);
    if (r.kind == RouteKind::metrics)
      return respond({200, srv_.metrics_text(), "text/plain; version=0.0.4"}, name);
    if (r.kind == RouteKind::validate_vm || r.kind == RouteKind::validate_vmi ||
        r.kind == RouteKind::mutate_vm) {
      const Webhook hook = r.kind == RouteKind::validate_vm    ? Webhook::validate_vm
                           : r.kind == RouteKind::validate_vmi ? Webhook::validate_vmi
                                                               : Webhook::mutate_vm;
      return offload(name, [this, hook, body = req_.body()] {
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
    for (const auto& f : req_)
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
        return respond({200, version_body(srv_.config.version)}, name);
      case RouteKind::vm_action:
        return offload(name, [this, r, user, body = req_.body()]() -> Reply {
          if (auto denied = authorize(srv_.client, user, r))
            return error_reply(*denied);
          auto rep = vm_action(srv_.client, r, body);
          return Reply{rep.status, std::move(rep.body)};
        });
      case RouteKind::vmi_action:
      case RouteKind::vmi_stream:
        return to_handler(r, name, std::move(user));
      default:
        return respond(error_reply(internal_error("unrouted request")), name);
    }
  }

  // pause/unpause/softreboot, console/vnc: authorize and locate the handler on a worker, then
  // dial it from this strand.
  void to_handler(const Route& r, const std::string& name, UserInfo user) {
    if (r.kind == RouteKind::vmi_stream && !beast::websocket::is_upgrade(req_))
      return respond(
          error_reply(bad_request(r.action + ": needs a WebSocket upgrade (GET with "
                                             "Connection: Upgrade, Upgrade: websocket)")),
          name);
    bool dry_run = false;
    if (r.kind == RouteKind::vmi_action) {
      auto d = parse_vmi_action_dry_run(r.action, req_.body());
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
      asio::post(self->stream_.get_executor(), [self, r, name, where, dry_run] {
        if (auto* e = std::get_if<ApiError>(&where))
          return self->respond(error_reply(*e), name);
        if (dry_run)  // checked as far as it goes without acting
          return self->respond({200, ""}, name);
        self->dial(r, name, std::get<tcp::endpoint>(where));
      });
    });
  }

  void dial(const Route& r, const std::string& name, tcp::endpoint ep) {
    const bool stream = r.kind == RouteKind::vmi_stream;
    Request out;
    if (stream) {
      out = req_;  // Sec-WebSocket-Key/-Version/-Protocol, Upgrade and Connection stay
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
    out.target("/v1/namespaces/" + r.ns + "/virtualmachineinstances/" + r.name + "/" + r.action);
    out.set(http::field::host, srv_.config.handler_server_name);
    auto link = std::make_shared<HandlerLink>(srv_, stream_.get_executor());
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
    std::string to_handler = beast::buffers_to_string(buf_.data());
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res, l, to_client, to_handler](
                          beast::error_code ec, size_t) mutable {
                        if (ec)
                          return;
                        auto s = std::make_shared<Splice>(std::move(self->stream_), l->stream(), l);
                        s->start(std::move(to_handler), std::move(to_client));
                      });
  }

  Server::Impl& srv_;
  TlsStream stream_;
  beast::flat_buffer buf_;
  std::optional<http::request_parser<http::string_body>> parser_;
  Request req_;
  std::string cert_pem_;
  std::vector<std::string> chain_pem_;
};

void Server::Impl::accept() {
  acceptor.async_accept(asio::make_strand(io), [this](beast::error_code ec, tcp::socket sock) {
    if (ec == asio::error::operation_aborted || !acceptor.is_open())
      return;
    if (!ec)
      std::make_shared<Connection>(*this, std::move(sock))->run();
    accept();
  });
}

// -------------------------------------------------------------------------------------------
Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() {
  stop();
}

core::Result<std::unique_ptr<Server>> Server::start(ServerConfig config, kube::KubeClient& client) {
  auto impl = std::make_unique<Impl>(std::move(config), client);
  auto& c = impl->config;
  boost::system::error_code ec;
  const auto tls_options = ssl::context::default_workarounds | ssl::context::no_sslv2 |
                           ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                           ssl::context::no_tlsv1_1 | ssl::context::single_dh_use;
  auto fail = [](const char* flag, const std::string& what) {
    return Error(Errc::invalid, std::string(flag) + ": " + what);
  };

  auto& s = impl->server_tls;
  s.set_options(tls_options);
  if (c.cert_pem.empty())
    return fail("--tls-cert", "required (the serving certificate, PEM)");
  if (c.key_pem.empty())
    return fail("--tls-key", "required (the serving key, PEM)");
  s.use_certificate_chain(asio::buffer(c.cert_pem), ec);
  if (ec)
    return fail("--tls-cert", "cannot load the certificate: " + ec.message());
  s.use_private_key(asio::buffer(c.key_pem), ssl::context::pem, ec);
  if (ec)
    return fail("--tls-key", "cannot load the key: " + ec.message());
  // Ask for a client certificate but accept any (or none): it is checked per request against the
  // requestheader CA, which can change while we run.
  s.set_verify_mode(ssl::verify_peer);
  s.set_verify_callback([](bool, ssl::verify_context&) { return true; });

  auto& h = impl->handler_tls;
  h.set_options(tls_options);
  if (!c.client_cert_pem.empty()) {
    h.use_certificate_chain(asio::buffer(c.client_cert_pem), ec);
    if (ec)
      return fail("--client-cert", "cannot load the certificate: " + ec.message());
    h.use_private_key(asio::buffer(c.client_key_pem), ssl::context::pem, ec);
    if (ec)
      return fail("--client-key", "cannot load the key: " + ec.message());
  }
  if (!c.ca_pem.empty()) {
    h.add_certificate_authority(asio::buffer(c.ca_pem), ec);
    if (ec)
      return fail("--ca", "cannot load the CA bundle: " + ec.message());
  }
  h.set_verify_mode(ssl::verify_peer);

  auto addr = asio::ip::make_address(c.address, ec);
  if (ec)
    return fail("--listen-address", "\"" + c.address + "\" is not an IP address");
  tcp::endpoint ep(addr, static_cast<unsigned short>(c.port));
  auto& acc = impl->acceptor;
  acc.open(ep.protocol(), ec);
  if (!ec)
    acc.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec)
    acc.bind(ep, ec);
  if (!ec)
    acc.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return Error(Errc::io, "virt-api: cannot listen on " + c.address + ":" +
                               std::to_string(c.port) + ": " + ec.message());
  impl->port = acc.local_endpoint().port();
  impl->accept();
  for (int i = 0; i < std::max(1, c.io_threads); ++i)
    impl->threads.emplace_back([p = impl.get()] { p->io.run(); });
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

void Server::stop() {
  std::call_once(impl_->stopped, [this] {
    asio::post(impl_->io, [p = impl_.get()] {
      boost::system::error_code ec;
      p->acceptor.close(ec);
    });
    impl_->io.stop();
    for (auto& t : impl_->threads)
      t.join();
    impl_->workers.join();
  });
}

int Server::port() const {
  return impl_->port;
}

void Server::set_request_header_config(std::optional<RequestHeaderConfig> config) {
  std::lock_guard lock(impl_->mu);
  impl_->request_header =
      config ? std::make_shared<const RequestHeaderConfig>(std::move(*config)) : nullptr;
}

int64_t Server::requests(const std::string& route, int code) const {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->counts.find({route, code});
  return it == impl_->counts.end() ? 0 : it->second;
}

}  // namespace kv::apiserver
