#include "controller/http_server.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "core/log.hpp"

namespace kv::controller {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct HttpServer::Impl {
  asio::io_context ioc{1};
  tcp::acceptor acceptor{ioc};
};

namespace {

// One connection: read a request, answer, repeat while keep-alive.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket s, const std::map<std::string, HttpServer::Handler>& routes)
      : stream_(std::move(s)), routes_(routes) {}
  void start() { read(); }

 private:
  void read() {
    req_ = {};
    stream_.expires_after(std::chrono::seconds(30));
    http::async_read(stream_, buf_, req_,
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       if (!ec)
                         self->answer();
                     });
  }
  void answer() {
    auto res = std::make_shared<http::response<http::string_body>>();
    res->version(req_.version());
    res->keep_alive(req_.keep_alive());
    std::string target(req_.target());
    if (auto q = target.find('?'); q != std::string::npos)
      target.resize(q);
    auto it = routes_.find(target);
    HttpAnswer a;
    if (req_.method() != http::verb::get && req_.method() != http::verb::head)
      a = {405, "only GET\n"};
    else if (it == routes_.end())
      a = {404, "not found\n"};
    else
      a = it->second();
    res->result(static_cast<http::status>(a.status));
    res->set(http::field::content_type, a.content_type);
    res->body() = std::move(a.body);
    res->prepare_payload();
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res](beast::error_code ec, size_t) {
                        if (ec || !res->keep_alive()) {
                          beast::error_code ignored;
                          self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
                          return;
                        }
                        self->read();
                      });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buf_;
  http::request<http::string_body> req_;
  const std::map<std::string, HttpServer::Handler>& routes_;
};

void accept_loop(tcp::acceptor& acc, const std::map<std::string, HttpServer::Handler>& routes) {
  acc.async_accept([&acc, &routes](beast::error_code ec, tcp::socket s) {
    if (ec == asio::error::operation_aborted || !acc.is_open())
      return;
    if (!ec)
      std::make_shared<Session>(std::move(s), routes)->start();
    accept_loop(acc, routes);
  });
}

}  // namespace

HttpServer::HttpServer(std::map<std::string, Handler> routes)
    : impl_(std::make_unique<Impl>()), routes_(std::move(routes)) {}

HttpServer::~HttpServer() {
  stop();
}

core::Status HttpServer::start(const std::string& host, unsigned short port) {
  beast::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec)
    return core::Error(core::Errc::invalid, "--http-address: \"" + host + "\" is not an IP address")
        .with("address", host);
  tcp::endpoint ep(addr, port);
  impl_->acceptor.open(ep.protocol(), ec);
  if (!ec)
    impl_->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec)
    impl_->acceptor.bind(ep, ec);
  if (!ec)
    impl_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return core::Error(core::Errc::io, "cannot listen on " + host + ":" + std::to_string(port) +
                                           ": " + ec.message());
  port_ = impl_->acceptor.local_endpoint().port();
  accept_loop(impl_->acceptor, routes_);
  thread_ = std::thread([this] { impl_->ioc.run(); });
  return {};
}

void HttpServer::stop() {
  if (!thread_.joinable())
    return;
  asio::post(impl_->ioc, [this] {
    beast::error_code ignored;
    impl_->acceptor.close(ignored);
  });
  impl_->ioc.stop();
  thread_.join();
}

}  // namespace kv::controller
