#include "handler/metrics_server.hpp"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace kv::handler {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using core::Errc;
using core::Error;

namespace {

struct Conn : std::enable_shared_from_this<Conn> {
  Conn(asio::ip::tcp::socket s, Metrics& m) : stream(std::move(s)), metrics(m) {}
  beast::tcp_stream stream;
  Metrics& metrics;
  beast::flat_buffer buf;
  http::request<http::string_body> req;
  http::response<http::string_body> res;

  void run() {
    stream.expires_after(std::chrono::seconds(30));
    http::async_read(stream, buf, req, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec)
        return;
      self->respond();
    });
  }
  void respond() {
    res.version(req.version());
    res.keep_alive(false);
    std::string target(req.target());
    if (req.method() == http::verb::get && target == "/metrics") {
      res.result(http::status::ok);
      res.set(http::field::content_type, "text/plain; version=0.0.4");
      res.body() = metrics.render();
    } else if (req.method() == http::verb::get && target == "/healthz") {
      res.result(http::status::ok);
      res.set(http::field::content_type, "text/plain");
      res.body() = "ok\n";
    } else {
      res.result(http::status::not_found);
      res.set(http::field::content_type, "text/plain");
      res.body() = "not found: " + target + " (served: /metrics, /healthz)\n";
    }
    res.prepare_payload();
    http::async_write(stream, res, [self = shared_from_this()](beast::error_code, size_t) {
      beast::error_code ec;
      self->stream.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ec);
    });
  }
};

}  // namespace

core::Result<std::unique_ptr<MetricsServer>> MetricsServer::start(asio::io_context& io,
                                                                  const std::string& address,
                                                                  int port, Metrics& metrics) {
  std::unique_ptr<MetricsServer> s(new MetricsServer(io, metrics));
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(address, ec);
  if (ec)
    return Error(Errc::invalid, "--metrics-address: \"" + address + "\" is not an IP address");
  asio::ip::tcp::endpoint ep(addr, static_cast<unsigned short>(port));
  s->acceptor_.open(ep.protocol(), ec);
  if (!ec)
    s->acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec)
    s->acceptor_.bind(ep, ec);
  if (!ec)
    s->acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return Error(Errc::io, "metrics server: cannot listen on " + address + ":" +
                               std::to_string(port) + ": " + ec.message());
  s->port_ = s->acceptor_.local_endpoint().port();
  asio::post(io, [p = s.get()] { p->accept(); });
  return s;
}

void MetricsServer::accept() {
  acceptor_.async_accept([this](boost::system::error_code ec, asio::ip::tcp::socket sock) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open())
      return;
    if (!ec)
      std::make_shared<Conn>(std::move(sock), metrics_)->run();
    accept();
  });
}

void MetricsServer::stop() {
  asio::post(io_, [this] {
    boost::system::error_code ec;
    acceptor_.close(ec);
  });
}

}  // namespace kv::handler
