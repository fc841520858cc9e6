#include "handler/stream_server.hpp"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <deque>
#include <fstream>
#include <iterator>

#include "core/json.hpp"
#include "core/log.hpp"
#include "handler/portforward.hpp"
#include "handler/unix_path.hpp"

namespace kv::handler {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
namespace proto = launcher_com::proto;
namespace serve = core::serve;
using core::Errc;
using core::Error;
using tcp = asio::ip::tcp;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;
using Ws = websocket::stream<TlsStream>;

std::optional<StreamTarget> parse_stream_target(std::string_view path) {
  if (auto q = path.find('?'); q != std::string_view::npos)
    path = path.substr(0, q);
  std::vector<std::string_view> parts;
  while (!path.empty()) {
    if (path.front() != '/')
      return std::nullopt;
    path.remove_prefix(1);
    auto slash = path.find('/');
    parts.push_back(path.substr(0, slash));
    path = slash == std::string_view::npos ? std::string_view{} : path.substr(slash);
  }
  if (parts.size() != 6 || parts[0] != "v1" || parts[1] != "namespaces" ||
      parts[3] != "virtualmachineinstances")
    return std::nullopt;
  for (auto p : parts)
    if (p.empty())
      return std::nullopt;
  return StreamTarget{std::string(parts[2]), std::string(parts[4]), std::string(parts[5])};
}

namespace {

http::status http_status_of(Errc c) {
  switch (c) {
    case Errc::not_found:
      return http::status::not_found;
    case Errc::unavailable:
      return http::status::service_unavailable;
    case Errc::invalid:
      return http::status::bad_request;
    case Errc::conflict:
      return http::status::conflict;
    case Errc::timeout:
      return http::status::gateway_timeout;
    default:
      return http::status::internal_server_error;
  }
}

std::string message_body(const std::string& msg) {
  core::json::Document d;
  d.SetObject();
  core::json::set(d, "message", msg, d.GetAllocator());
  return core::json::to_string(d) + "\n";
}

}  // namespace

// One WebSocket stream between a client and a unix socket of the launcher.
class StreamServer::Session : public std::enable_shared_from_this<StreamServer::Session> {
 public:
  Session(StreamServer& srv, Ws ws, asio::local::stream_protocol::socket unix_sock, std::string key,
          bool console, std::shared_ptr<ssl::context> tls)
      : tls_(std::move(tls)),
        srv_(srv),
        alive_(srv.alive_),
        ws_(std::move(ws)),
        unix_(std::move(unix_sock)),
        key_(std::move(key)),
        console_(console),
        max_(srv.options().max_buffered_bytes) {}

  void start(http::request<http::string_body> req) {
    upgrade_ = std::move(req);
    beast::get_lowest_layer(ws_).expires_never();
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws_.binary(true);
    // Upstream virtctl (and tools built on its client) offer `plain.kubevirt.io` and insist on
    // the server choosing it.
    if (offers_subprotocol(upgrade_, kPlainSubprotocol))
      ws_.set_option(websocket::stream_base::decorator([](websocket::response_type& res) {
        res.set(http::field::sec_websocket_protocol, kPlainSubprotocol);
      }));
    ws_.async_accept(upgrade_, [self = shared_from_this()](beast::error_code ec) {
      if (ec) {
        self->close_unix();
        return;
      }
      self->read_unix();
      self->read_ws();
    });
  }

  // Ends the session: the unix socket at once (QEMU's serial accepts one client at a time), the
  // WebSocket with a close frame.
  void close(websocket::close_code code, const std::string& reason) {
    if (closed_)
      return;
    closed_ = true;
    close_unix();
    ws_.async_close(websocket::close_reason(code, reason),
                    [self = shared_from_this()](beast::error_code) {});
  }

  ~Session() {
    if (*alive_) {
      if (console_)
        srv_.metrics().set("kubevirt_handler_console_sessions", {}, --live_consoles());
      srv_.sessions().erase(this);
    }
  }

  static double& live_consoles() {
    static double n = 0;
    return n;
  }

 private:
  void close_unix() {
    boost::system::error_code ec;
    unix_.close(ec);
  }

  void read_unix() {
    if (closed_)
      return;
    unix_.async_read_some(
        asio::buffer(ubuf_), [self = shared_from_this()](boost::system::error_code ec, size_t n) {
          if (ec) {
            // QEMU went away (guest powered off, ...): what it printed last still goes out.
            self->draining_ = true;
            if (!self->writing_ && self->out_.empty())
              self->close(websocket::close_code::going_away, "the VM's socket closed");
            return;
          }
          self->queued_ += n;
          self->out_.emplace_back(self->ubuf_.data(), n);
          if (self->console_) {
            // Never stop reading the guest's console: drop the oldest unsent bytes instead.
            size_t first = self->writing_ ? 1 : 0;
            while (self->queued_ > self->max_ && self->out_.size() > first + 1) {
              auto it = self->out_.begin() + static_cast<std::ptrdiff_t>(first);
              self->queued_ -= it->size();
              self->srv_dropped(it->size());
              self->out_.erase(it);
            }
            self->read_unix();
          } else if (self->queued_ <= self->max_) {
            self->read_unix();
          } else {
            self->unix_paused_ = true;
          }
          self->write_ws();
        });
  }

  void srv_dropped(size_t n) {
    if (*alive_)
      srv_.metrics().inc("kubevirt_handler_console_dropped_bytes_total", {},
                         static_cast<double>(n));
  }

  void write_ws() {
    if (writing_ || out_.empty() || closed_)
      return;
    writing_ = true;
    ws_.async_write(asio::buffer(out_.front()),
                    [self = shared_from_this()](beast::error_code ec, size_t) {
                      self->writing_ = false;
                      if (ec) {
                        self->closed_ = true;
                        self->close_unix();
                        return;
                      }
                      self->queued_ -= self->out_.front().size();
                      self->out_.pop_front();
                      if (self->draining_ && self->out_.empty()) {
                        self->close(websocket::close_code::going_away, "the VM's socket closed");
                        return;
                      }
                      if (self->unix_paused_ && self->queued_ <= self->max_ / 2) {
                        self->unix_paused_ = false;
                        self->read_unix();
                      }
                      self->write_ws();
                    });
  }

  void read_ws() {
    ws_.async_read(wbuf_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) {
        // Client went away (or we closed): the unix side goes too.
        self->closed_ = true;
        self->close_unix();
        return;
      }
      auto data = std::make_shared<std::string>(beast::buffers_to_string(self->wbuf_.data()));
      self->wbuf_.consume(self->wbuf_.size());
      asio::async_write(
          self->unix_, asio::buffer(*data), [self, data](boost::system::error_code ec2, size_t) {
            if (ec2) {
              self->close(websocket::close_code::going_away, "the VM's socket closed");
              return;
            }
            self->read_ws();
          });
    });
  }

  std::shared_ptr<ssl::context> tls_;  // the context ws_ was accepted with
  StreamServer& srv_;
  std::shared_ptr<bool> alive_;
  http::request<http::string_body> upgrade_;
  Ws ws_;
  asio::local::stream_protocol::socket unix_;
  std::string key_;
  bool console_;
  size_t max_;
  std::array<char, 16384> ubuf_{};
  beast::flat_buffer wbuf_;
  std::deque<std::string> out_;
  size_t queued_ = 0;
  bool writing_ = false;
  bool unix_paused_ = false;
  bool draining_ = false;  // the unix side ended: close once out_ is sent
  bool closed_ = false;
};

// One request on a TLS connection of the shared server: a response (the connection then closes),
// or a WebSocket session that takes the connection over.
class StreamRequest {
 public:
  StreamRequest(StreamServer& srv, std::shared_ptr<bool> alive, std::shared_ptr<serve::Exchange> ex)
      : srv_(srv), alive_(std::move(alive)), ex_(std::move(ex)) {}

  void route() {
    const auto& req = ex_->request();
    std::string target(req.target());
    if (auto pf = parse_port_forward_target(target))
      return port_forward(*pf);
    auto t = parse_stream_target(target);
    if (!t) {
      respond(http::status::not_found,
              message_body("no such path: " + target +
                           " (served: /v1/namespaces/{ns}/virtualmachineinstances/{name}/"
                           "{console,vnc,pause,unpause,softreboot,portforward/{port}}, /healthz)"));
      return;
    }
    if (t->action == "console" || t->action == "vnc") {
      if (req.method() != http::verb::get || !websocket::is_upgrade(req)) {
        respond(http::status::bad_request,
                message_body(t->action + ": needs a WebSocket upgrade (GET with Upgrade)"));
        return;
      }
      open_stream(*t);
      return;
    }
    std::optional<proto::Command> cmd;
    if (t->action == "pause")
      cmd = proto::Command::pause;
    else if (t->action == "unpause")
      cmd = proto::Command::unpause;
    else if (t->action == "softreboot")
      cmd = proto::Command::soft_reboot;
    if (!cmd) {
      respond(http::status::not_found,
              message_body("unknown action \"" + t->action +
                           "\" (allowed: console, vnc, pause, unpause, softreboot)"));
      return;
    }
    if (req.method() != http::verb::put) {
      respond(http::status::method_not_allowed, message_body(t->action + ": use PUT"));
      return;
    }
    srv_.backend().command(t->ns, t->name, *cmd, [ex = ex_, alive = alive_](core::Status st) {
      if (!*alive)
        return;
      if (st.ok())
        reply(*ex, http::status::ok, "{}\n");
      else
        reply(*ex, http_status_of(st.error().code), message_body(st.error().message));
    });
  }

  // Every answer ends the connection.
  static void reply(serve::Exchange& ex, http::status status, std::string body) {
    serve::Response r(static_cast<int>(status), std::move(body), "application/json");
    r.close = true;
    ex.respond(std::move(r));
  }

 private:
  void respond(http::status status, std::string body) { reply(*ex_, status, std::move(body)); }

  void port_forward(const core::Result<PortForwardTarget>& t) {
    const auto& req = ex_->request();
    if (!t.ok())
      return respond(http::status::bad_request, message_body("portforward: " + t.error().message));
    if (req.method() != http::verb::get || !websocket::is_upgrade(req))
      return respond(http::status::bad_request,
                     message_body("portforward: needs a WebSocket upgrade (GET with Upgrade)"));
    if (!srv_.backend().pod_ip)
      return respond(http::status::not_implemented,
                     message_body("portforward: not served by this handler"));
    auto ip = srv_.backend().pod_ip(t->ns, t->name);
    if (!ip.ok())
      return respond(http_status_of(ip.error().code), message_body(ip.error().message));
    open_port_forward(ex_, *t, *ip, [srv = &srv_, alive = alive_] {
      if (*alive)
        srv->metrics().inc("kubevirt_handler_stream_sessions_total", {{"kind", "portforward"}});
    });
  }

  void open_stream(const StreamTarget& t) {
    const bool console = t.action == "console";
    auto dir = srv_.backend().socket_dir(t.ns, t.name);
    if (!dir.ok()) {
      respond(http_status_of(dir.error().code), message_body(dir.error().message));
      return;
    }
    const std::string key = t.ns + "/" + t.name;
    if (console) {
      // One console per VMI: the newcomer wins, as upstream.
      auto it = srv_.consoles().find(key);
      if (it != srv_.consoles().end())
        if (auto old = it->second.lock())
          old->close(websocket::close_code::policy_error, "another console session took over");
    }
    const std::string path = *dir + (console ? "/virt-serial0" : "/virt-vnc");
    auto unix_sock = std::make_shared<asio::local::stream_protocol::socket>(ex_->executor());
    boost::system::error_code ec;
    auto short_path = UnixPath::make(path);
    if (short_path.ok())
      unix_sock->connect(asio::local::stream_protocol::endpoint(short_path->path()), ec);
    else
      ec = boost::system::errc::make_error_code(boost::system::errc::no_such_file_or_directory);
    if (ec) {
      srv_.metrics().inc("kubevirt_handler_stream_errors_total", {{"kind", "socket"}});
      respond(http::status::service_unavailable, message_body("cannot reach the VM's " + t.action +
                                                              " (" + path + "): " + ec.message()));
      return;
    }
    ex_->upgrade(
        [srv = &srv_, alive = alive_, unix_sock, key, console, kind = t.action](serve::Upgraded u) {
          if (!*alive)
            return;
          auto s = std::make_shared<StreamServer::Session>(
              *srv, Ws(std::move(std::get<serve::TlsStream>(u.stream))), std::move(*unix_sock), key,
              console, std::move(u.tls_context));
          srv->sessions()[s.get()] = s;
          if (console) {
            srv->consoles()[key] = s;
            srv->metrics().set("kubevirt_handler_console_sessions", {},
                               ++StreamServer::Session::live_consoles());
          }
          srv->metrics().inc("kubevirt_handler_stream_sessions_total", {{"kind", kind}});
          core::log::info("stream session", {{"vmi", key}, {"kind", kind}});
          s->start(std::move(u.request));
        });
  }

  StreamServer& srv_;
  std::shared_ptr<bool> alive_;
  std::shared_ptr<serve::Exchange> ex_;
};

StreamServer::StreamServer(asio::io_context& io, StreamServerOptions opts, StreamBackend backend,
                           Metrics& metrics)
    : io_(io),
      opts_(std::move(opts)),
      backend_(std::move(backend)),
      metrics_(metrics),
      tls_(std::make_shared<serve::TlsContext>(serve::ClientAuth::require)) {
  metrics_.declare("kubevirt_handler_console_sessions", Metrics::Type::gauge,
                   "Open console sessions.");
  metrics_.declare("kubevirt_handler_console_dropped_bytes_total", Metrics::Type::counter,
                   "Console bytes dropped because the client read too slowly.");
  metrics_.declare("kubevirt_handler_stream_sessions_total", Metrics::Type::counter,
                   "Console and VNC sessions opened, by kind.");
  metrics_.declare("kubevirt_handler_stream_errors_total", Metrics::Type::counter,
                   "Stream server failures, by kind (tls, socket).");
}

StreamServer::~StreamServer() {
  *alive_ = false;
}

core::Status StreamServer::set_certificate(const std::string& cert_pem, const std::string& key_pem,
                                           const std::string& client_ca_pem) {
  return set_certificate_from({}, cert_pem, {}, key_pem, {}, client_ca_pem);
}

core::Status StreamServer::set_certificate_from(const std::string& cert_file,
                                                const std::string& cert_pem,
                                                const std::string& key_file,
                                                const std::string& key_pem,
                                                const std::string& client_ca_file,
                                                const std::string& client_ca_pem) {
  // Each of the three comes from its file, or else from its PEM text.
  struct Part {
    const char* flag;
    const char* pem_part;
    const std::string& file;
    const std::string& pem;
    std::string text;
  };
  Part parts[] = {{"--tls-cert", serve::kPemCertificate, cert_file, cert_pem, {}},
                  {"--tls-key", serve::kPemKey, key_file, key_pem, {}},
                  {"--client-ca", serve::kPemClientCa, client_ca_file, client_ca_pem, {}}};
  auto source = [](const Part& p) {
    return p.file.empty() ? std::string("the PEM text") : "\"" + p.file + "\"";
  };
  for (auto& p : parts) {
    if (p.file.empty()) {
      p.text = p.pem;
      continue;
    }
    std::ifstream in(p.file);
    if (!in)
      return Error(Errc::invalid,
                   std::string(p.flag) + ": cannot load " + source(p) + ": cannot read the file");
    p.text.assign(std::istreambuf_iterator<char>(in), {});
  }
  auto st = tls_->set_certificate(parts[0].text, parts[1].text, parts[2].text);
  if (st.ok())
    return st;
  for (const auto& p : parts)
    if (st.error().get("pem") == p.pem_part) {
      if (p.text.empty())
        return Error(Errc::invalid, std::string(p.flag) + ": required (a PEM file, or PEM text)");
      return Error(Errc::invalid,
                   std::string(p.flag) + ": cannot load " + source(p) + ": " + st.error().message);
    }
  return st;
}

core::Result<std::unique_ptr<StreamServer>> StreamServer::start(asio::io_context& io,
                                                                StreamServerOptions opts,
                                                                StreamBackend backend,
                                                                Metrics& metrics) {
  std::unique_ptr<StreamServer> s(
      new StreamServer(io, std::move(opts), std::move(backend), metrics));
  const auto& o = s->opts_;
  KV_CHECK(s->set_certificate_from(o.cert_file, o.cert_pem, o.key_file, o.key_pem, o.client_ca_file,
                                   o.client_ca_pem));

  serve::ServerOptions so;
  so.address = o.address;
  so.port = o.port;
  so.name = "stream server";
  so.tls = s->tls_;
  so.on_tls_error = [p = s.get(), alive = s->alive_](const boost::system::error_code&) {
    if (*alive)
      p->metrics_.inc("kubevirt_handler_stream_errors_total", {{"kind", "tls"}});
  };
  serve::Router routes;
  routes.add("GET", "/healthz", [](const std::shared_ptr<serve::Exchange>& ex) {
    StreamRequest::reply(*ex, http::status::ok, "{}\n");
  });
  // Everything else (a POST to /healthz too) goes through the VMI paths' own checks.
  routes.add("*", "/*",
             [p = s.get(), alive = s->alive_](const std::shared_ptr<serve::Exchange>& ex) {
               if (!*alive)
                 return;
               StreamRequest(*p, alive, ex).route();
             });
  auto server = serve::Server::start(io, std::move(so), std::move(routes));
  if (!server.ok())
    return std::move(server).error();
  s->server_ = std::move(*server);
  return s;
}

int StreamServer::port() const {
  return server_->port();
}

void StreamServer::stop() {
  server_->stop();
  asio::post(io_, [this, alive = alive_] {
    if (!*alive)
      return;
    std::vector<std::shared_ptr<Session>> live;
    for (auto& [_, w] : sessions_)
      if (auto s = w.lock())
        live.push_back(std::move(s));
    for (auto& s : live)
      s->close(websocket::close_code::going_away, "virt-handler is stopping");
  });
}

// Whether the comma-separated Sec-WebSocket-Protocol header(s) of `req` list `proto`.
bool offers_subprotocol(const serve::Request& req, std::string_view proto) {
  auto range = req.equal_range(http::field::sec_websocket_protocol);
  for (auto it = range.first; it != range.second; ++it) {
    std::string_view v(it->value().data(), it->value().size());
    while (!v.empty()) {
      auto comma = v.find(',');
      auto item = v.substr(0, comma);
      while (!item.empty() && (item.front() == ' ' || item.front() == '\t'))
        item.remove_prefix(1);
      while (!item.empty() && (item.back() == ' ' || item.back() == '\t'))
        item.remove_suffix(1);
      if (item == proto)
        return true;
      v = comma == std::string_view::npos ? std::string_view{} : v.substr(comma + 1);
    }
  }
  return false;
}

}  // namespace kv::handler
