#include "handler/stream_server.hpp"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <deque>

#include "core/json.hpp"
#include "core/log.hpp"
#include "handler/unix_path.hpp"

namespace kv::handler {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
namespace proto = launcher_com::proto;
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

constexpr const char* kPlainSubprotocol = "plain.kubevirt.io";

// Whether the comma-separated Sec-WebSocket-Protocol header(s) of `req` list `proto`.
bool offers_subprotocol(const http::request<http::string_body>& req, std::string_view proto) {
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
          bool console)
      : srv_(srv),
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

// One TLS connection: handshake, one HTTP request, then a response or a WebSocket session.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(StreamServer& srv, std::shared_ptr<bool> alive, tcp::socket sock, ssl::context& ctx)
      : srv_(srv), alive_(std::move(alive)), stream_(std::move(sock), ctx) {}

  void run() {
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(30));
    stream_.async_handshake(
        ssl::stream_base::server, [self = shared_from_this()](beast::error_code ec) {
          if (ec) {
            if (*self->alive_)
              self->srv_.metrics().inc("kubevirt_handler_stream_errors_total", {{"kind", "tls"}});
            core::log::debug("stream server: TLS handshake failed", {{"error", ec.message()}});
            return;
          }
          self->read_request();
        });
  }

 private:
  void read_request() {
    http::async_read(stream_, buf_, req_,
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       if (ec || !*self->alive_)
                         return;
                       self->route();
                     });
  }

  void respond(http::status status, const std::string& body) {
    auto res = std::make_shared<http::response<http::string_body>>(status, req_.version());
    res->set(http::field::content_type, "application/json");
    res->keep_alive(false);
    res->body() = body;
    res->prepare_payload();
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res](beast::error_code ec, size_t) {
                        if (ec)
                          return;
                        self->stream_.async_shutdown([self](beast::error_code) {});
                      });
  }

  void route() {
    std::string target(req_.target());
    if (req_.method() == http::verb::get && target == "/healthz") {
      respond(http::status::ok, "{}\n");
      return;
    }
    auto t = parse_stream_target(target);
    if (!t) {
      respond(http::status::not_found,
              message_body("no such path: " + target +
                           " (served: /v1/namespaces/{ns}/virtualmachineinstances/{name}/"
                           "{console,vnc,pause,unpause,softreboot}, /healthz)"));
      return;
    }
    if (t->action == "console" || t->action == "vnc") {
      if (req_.method() != http::verb::get || !websocket::is_upgrade(req_)) {
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
    if (req_.method() != http::verb::put) {
      respond(http::status::method_not_allowed, message_body(t->action + ": use PUT"));
      return;
    }
    srv_.backend().command(t->ns, t->name, *cmd, [self = shared_from_this()](core::Status st) {
      if (!*self->alive_)
        return;
      if (st.ok())
        self->respond(http::status::ok, "{}\n");
      else
        self->respond(http_status_of(st.error().code), message_body(st.error().message));
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
    asio::local::stream_protocol::socket unix_sock(stream_.get_executor());
    boost::system::error_code ec;
    auto short_path = UnixPath::make(path);
    if (short_path.ok())
      unix_sock.connect(asio::local::stream_protocol::endpoint(short_path->path()), ec);
    else
      ec = boost::system::errc::make_error_code(boost::system::errc::no_such_file_or_directory);
    if (ec) {
      srv_.metrics().inc("kubevirt_handler_stream_errors_total", {{"kind", "socket"}});
      respond(http::status::service_unavailable, message_body("cannot reach the VM's " + t.action +
                                                              " (" + path + "): " + ec.message()));
      return;
    }
    auto s = std::make_shared<StreamServer::Session>(srv_, Ws(std::move(stream_)),
                                                     std::move(unix_sock), key, console);
    srv_.sessions()[s.get()] = s;
    if (console) {
      srv_.consoles()[key] = s;
      srv_.metrics().set("kubevirt_handler_console_sessions", {},
                         ++StreamServer::Session::live_consoles());
    }
    srv_.metrics().inc("kubevirt_handler_stream_sessions_total", {{"kind", t.action}});
    core::log::info("stream session", {{"vmi", key}, {"kind", t.action}});
    s->start(std::move(req_));
  }

  StreamServer& srv_;
  std::shared_ptr<bool> alive_;
  TlsStream stream_;
  beast::flat_buffer buf_;
  http::request<http::string_body> req_;
};

StreamServer::StreamServer(asio::io_context& io, StreamServerOptions opts, StreamBackend backend,
                           Metrics& metrics)
    : io_(io),
      opts_(std::move(opts)),
      backend_(std::move(backend)),
      metrics_(metrics),
      ssl_(ssl::context::tls_server),
      acceptor_(io) {
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

core::Result<std::unique_ptr<StreamServer>> StreamServer::start(asio::io_context& io,
                                                                StreamServerOptions opts,
                                                                StreamBackend backend,
                                                                Metrics& metrics) {
  std::unique_ptr<StreamServer> s(
      new StreamServer(io, std::move(opts), std::move(backend), metrics));
  const auto& o = s->opts_;
  boost::system::error_code ec;
  s->ssl_.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                      ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  // Each of the three comes from its file, or else from its PEM text.
  auto load = [&](const char* flag, const std::string& file, const std::string& pem, auto from_file,
                  auto from_pem) -> core::Status {
    if (file.empty() && pem.empty())
      return Error(Errc::invalid, std::string(flag) + ": required (a PEM file, or PEM text)");
    if (!file.empty())
      from_file(ec);
    else
      from_pem(asio::buffer(pem), ec);
    if (ec)
      return Error(Errc::invalid,
                   std::string(flag) + ": cannot load " +
                       (file.empty() ? std::string("the PEM text") : "\"" + file + "\"") + ": " +
                       ec.message());
    return {};
  };
  auto& c = s->ssl_;
  KV_CHECK(load(
      "--tls-cert", o.cert_file, o.cert_pem,
      [&](auto& e) { c.use_certificate_chain_file(o.cert_file, e); },
      [&](auto b, auto& e) { c.use_certificate_chain(b, e); }));
  KV_CHECK(load(
      "--tls-key", o.key_file, o.key_pem,
      [&](auto& e) { c.use_private_key_file(o.key_file, ssl::context::pem, e); },
      [&](auto b, auto& e) { c.use_private_key(b, ssl::context::pem, e); }));
  KV_CHECK(load(
      "--client-ca", o.client_ca_file, o.client_ca_pem,
      [&](auto& e) { c.load_verify_file(o.client_ca_file, e); },
      [&](auto b, auto& e) { c.add_certificate_authority(b, e); }));
  s->ssl_.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);

  auto addr = asio::ip::make_address(o.address, ec);
  if (ec)
    return Error(Errc::invalid, "--listen-address: \"" + o.address + "\" is not an IP address");
  tcp::endpoint ep(addr, static_cast<unsigned short>(o.port));
  s->acceptor_.open(ep.protocol(), ec);
  if (!ec)
    s->acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec)
    s->acceptor_.bind(ep, ec);
  if (!ec)
    s->acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return Error(Errc::io, "stream server: cannot listen on " + o.address + ":" +
                               std::to_string(o.port) + ": " + ec.message());
  s->port_ = s->acceptor_.local_endpoint().port();
  asio::post(io, [p = s.get(), alive = s->alive_] {
    if (*alive)
      p->accept();
  });
  return s;
}

void StreamServer::accept() {
  acceptor_.async_accept([this, alive = alive_](boost::system::error_code ec, tcp::socket sock) {
    if (!*alive || ec == asio::error::operation_aborted || !acceptor_.is_open())
      return;
    if (!ec)
      std::make_shared<Connection>(*this, alive_, std::move(sock), ssl_)->run();
    accept();
  });
}

void StreamServer::stop() {
  asio::post(io_, [this, alive = alive_] {
    if (!*alive)
      return;
    boost::system::error_code ec;
    acceptor_.close(ec);
    std::vector<std::shared_ptr<Session>> live;
    for (auto& [_, w] : sessions_)
      if (auto s = w.lock())
        live.push_back(std::move(s));
    for (auto& s : live)
      s->close(websocket::close_code::going_away, "virt-handler is stopping");
  });
}

}  // namespace kv::handler
