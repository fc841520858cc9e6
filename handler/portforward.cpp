#include "handler/portforward.hpp"

#include <utility>  // before Asio: Boost 1.74 awaitable.hpp uses std::exchange unincluded

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <array>
#include <charconv>
#include <vector>

#include "core/json.hpp"
#include "core/log.hpp"
#include "handler/stream_server.hpp"

namespace kv::handler {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace serve = core::serve;
using core::Errc;
using core::Error;
using Ws = websocket::stream<serve::TlsStream>;

namespace {

constexpr auto kDialTimeout = std::chrono::seconds(10);

void reply(serve::Exchange& ex, int status, const std::string& message) {
  core::json::Document d;
  d.SetObject();
  core::json::set(d, "message", message, d.GetAllocator());
  serve::Response r(status, core::json::to_string(d) + "\n", "application/json");
  r.close = true;
  ex.respond(std::move(r));
}

// One forwarded connection: a WebSocket on one side, the guest's TCP connection or UDP socket on
// the other. Each direction is a loop of one read and one write, so a slow reader slows the
// writer and nothing grows.
template <class Socket>
class ForwardSession : public std::enable_shared_from_this<ForwardSession<Socket>> {
 public:
  ForwardSession(serve::Upgraded u, Socket sock, std::string what)
      : tls_(std::move(u.tls_context)),
        upgrade_(std::move(u.request)),
        ws_(std::move(std::get<serve::TlsStream>(u.stream))),
        sock_(std::move(sock)),
        what_(std::move(what)) {}

  void start() {
    beast::get_lowest_layer(ws_).expires_never();
    websocket::stream_base::timeout t{};
    t.handshake_timeout = std::chrono::seconds(30);
    t.idle_timeout = std::chrono::seconds(60);  // pings at half of it keep a quiet session open
    t.keep_alive_pings = true;
    ws_.set_option(t);
    ws_.binary(true);
    if (offers_subprotocol(upgrade_, kPlainSubprotocol))
      ws_.set_option(websocket::stream_base::decorator([](websocket::response_type& res) {
        res.set(http::field::sec_websocket_protocol, kPlainSubprotocol);
      }));
    ws_.async_accept(upgrade_, [self = this->shared_from_this()](beast::error_code ec) {
      if (ec)
        return self->close_socket();
      self->read_socket();
      self->read_ws();
    });
  }

 private:
  static constexpr bool kUdp = std::is_same_v<Socket, asio::ip::udp::socket>;

  void read_socket() {
    auto done = [self = this->shared_from_this()](boost::system::error_code ec, size_t n) {
      if (ec)
        return self->guest_ended();
      self->ws_.async_write(asio::buffer(self->sbuf_.data(), n),
                            [self](beast::error_code ec2, size_t) {
                              if (ec2)
                                return self->close_socket();
                              self->read_socket();
                            });
    };
    if constexpr (kUdp)
      sock_.async_receive(asio::buffer(sbuf_), std::move(done));
    else
      sock_.async_read_some(asio::buffer(sbuf_), std::move(done));
  }

  void read_ws() {
    ws_.async_read(wbuf_, [self = this->shared_from_this()](beast::error_code ec, size_t) {
      if (ec)  // the client closed (or went away): the guest's side goes too
        return self->close_socket();
      auto done = [self](boost::system::error_code ec2, size_t) {
        self->wbuf_.consume(self->wbuf_.size());
        if (ec2)
          return self->guest_ended();
        self->read_ws();
      };
      if constexpr (kUdp)
        self->sock_.async_send(self->wbuf_.data(), std::move(done));
      else
        asio::async_write(self->sock_, self->wbuf_.data(), std::move(done));
    });
  }

  // The guest closed its side (or the socket failed): close the WebSocket normally; the client's
  // close answer or a read error then ends the other loop.
  void guest_ended() {
    close_socket();
    if (ws_closing_)
      return;
    ws_closing_ = true;
    ws_.async_close(websocket::close_code::normal,
                    [self = this->shared_from_this()](beast::error_code) {});
  }

  void close_socket() {
    boost::system::error_code ignored;
    if constexpr (!kUdp)
      sock_.shutdown(asio::socket_base::shutdown_both, ignored);
    sock_.close(ignored);
  }

  std::shared_ptr<asio::ssl::context> tls_;  // the context ws_ was accepted with
  serve::Request upgrade_;
  Ws ws_;
  Socket sock_;
  std::string what_;
  std::array<char, 65536> sbuf_{};  // a UDP datagram fits whole
  beast::flat_buffer wbuf_;
  bool ws_closing_ = false;
};

template <class Socket>
void upgrade(const std::shared_ptr<serve::Exchange>& ex, std::shared_ptr<Socket> sock,
             std::string what, std::function<void()> opened) {
  ex->upgrade([sock, what, opened = std::move(opened)](serve::Upgraded u) {
    if (!std::holds_alternative<serve::TlsStream>(u.stream))
      return;  // the stream server only serves TLS
    auto s = std::make_shared<ForwardSession<Socket>>(std::move(u), std::move(*sock), what);
    core::log::info("port-forward session", {{"target", what}});
    if (opened)
      opened();
    s->start();
  });
}

}  // namespace

std::optional<core::Result<PortForwardTarget>> parse_port_forward_target(std::string_view path) {
  if (auto q = path.find('?'); q != std::string_view::npos)
    path = path.substr(0, q);
  std::vector<std::string_view> p;
  while (!path.empty()) {
    if (path.front() != '/')
      return std::nullopt;
    path.remove_prefix(1);
    auto slash = path.find('/');
    p.push_back(path.substr(0, slash));
    path = slash == std::string_view::npos ? std::string_view{} : path.substr(slash);
  }
  if ((p.size() != 7 && p.size() != 8) || p[0] != "v1" || p[1] != "namespaces" ||
      p[3] != "virtualmachineinstances" || p[5] != "portforward" || p[2].empty() || p[4].empty())
    return std::nullopt;
  PortForwardTarget t{std::string(p[2]), std::string(p[4]), 0, "tcp"};
  int n = 0;
  auto [end, ec] = std::from_chars(p[6].data(), p[6].data() + p[6].size(), n);
  if (ec != std::errc() || end != p[6].data() + p[6].size() || n < 1 || n > 65535)
    return core::Result<PortForwardTarget>(
        Error(Errc::invalid,
              "port \"" + std::string(p[6]) + "\" is not allowed: a number from 1 to 65535"));
  t.port = n;
  if (p.size() == 8)
    t.protocol = std::string(p[7]);
  if (t.protocol != "tcp" && t.protocol != "udp")
    return core::Result<PortForwardTarget>(
        Error(Errc::invalid, "protocol \"" + t.protocol + "\" is not allowed: tcp or udp"));
  return core::Result<PortForwardTarget>(std::move(t));
}

void open_port_forward(const std::shared_ptr<serve::Exchange>& ex, const PortForwardTarget& target,
                       const std::string& ip, std::function<void()> opened) {
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(ip, ec);
  if (ec)
    return reply(*ex, 400,
                 "the launcher pod of " + target.ns + "/" + target.name + " has no usable IP (\"" +
                     ip + "\")");
  const unsigned short port = static_cast<unsigned short>(target.port);
  const std::string where =
      target.protocol + " " + (addr.is_v6() ? "[" + ip + "]" : ip) + ":" + std::to_string(port);
  const std::string what = target.ns + "/" + target.name + " " + where;
  if (target.protocol == "udp") {
    auto sock = std::make_shared<asio::ip::udp::socket>(ex->executor());
    sock->open(addr.is_v6() ? asio::ip::udp::v6() : asio::ip::udp::v4(), ec);
    if (!ec)
      sock->connect(asio::ip::udp::endpoint(addr, port), ec);
    if (ec)
      return reply(*ex, 500, "dialing VM: dial " + where + ": " + ec.message());
    return upgrade(ex, std::move(sock), what, std::move(opened));
  }
  auto sock = std::make_shared<asio::ip::tcp::socket>(ex->executor());
  auto timer = std::make_shared<asio::steady_timer>(ex->executor());
  timer->expires_after(kDialTimeout);
  timer->async_wait([sock](boost::system::error_code e) {
    if (!e) {
      boost::system::error_code ignored;
      sock->close(ignored);  // the connect below fails with operation_aborted
    }
  });
  sock->async_connect(
      asio::ip::tcp::endpoint(addr, port),
      [ex, sock, timer, where, what, opened = std::move(opened)](boost::system::error_code e) {
        const bool timed_out = timer->expiry() <= asio::steady_timer::clock_type::now();
        timer->cancel();
        if (e)
          return reply(*ex, 500,
                       "dialing VM: dial " + where + ": " +
                           (timed_out ? std::string("i/o timeout") : e.message()));
        upgrade(ex, sock, what, opened);
      });
}

}  // namespace kv::handler
