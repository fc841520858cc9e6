#include "core/serve/server.hpp"

#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "core/log.hpp"

namespace kv::core::serve {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

namespace {

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> out;
  while (!path.empty()) {
    if (path.front() == '/')
      path.remove_prefix(1);
    auto slash = path.find('/');
    out.emplace_back(path.substr(0, slash));
    path = slash == std::string_view::npos ? std::string_view{} : path.substr(slash);
  }
  return out;
}

std::string_view strip_query(std::string_view target) {
  return target.substr(0, target.find('?'));
}

// Whether `path` matches `pattern`; fills `params`.
bool match(const std::vector<std::string>& pattern, const std::vector<std::string>& path,
           std::map<std::string, std::string>& params) {
  params.clear();
  for (size_t i = 0; i < pattern.size(); ++i) {
    const auto& p = pattern[i];
    if (p == "*" && i + 1 == pattern.size())
      return true;
    if (i >= path.size())
      return false;
    if (p.size() > 2 && p.front() == '{' && p.back() == '}') {
      if (path[i].empty())
        return false;
      params[p.substr(1, p.size() - 2)] = path[i];
    } else if (p != path[i]) {
      return false;
    }
  }
  return pattern.size() == path.size();
}

std::string to_pem(X509* x) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, x);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(n));
  BIO_free(bio);
  return out;
}

}  // namespace

std::string Exchange::path() const {
  auto t = request().target();
  return std::string(strip_query(std::string_view(t.data(), t.size())));
}

Router& Router::add(std::string method, std::string pattern, Handler handler) {
  routes_.push_back({std::move(method), split_path(pattern), std::move(handler)});
  return *this;
}

Router& Router::on_not_found(Handler handler) {
  not_found_ = std::move(handler);
  return *this;
}

Router& Router::on_method_not_allowed(Handler handler) {
  method_not_allowed_ = std::move(handler);
  return *this;
}

void Router::dispatch(const std::shared_ptr<Exchange>& ex) const {
  const auto path = split_path(ex->path());
  const auto method = ex->request().method_string();
  std::string allowed;
  std::map<std::string, std::string> params;
  for (const auto& r : routes_) {
    if (!match(r.segments, path, params))
      continue;
    if (r.method == "*" || r.method == std::string_view(method.data(), method.size())) {
      ex->params_ = std::move(params);
      return r.handler(ex);
    }
    allowed += (allowed.empty() ? "" : ", ") + r.method;
  }
  ex->params_.clear();
  if (allowed.empty()) {
    if (not_found_)
      return not_found_(ex);
    return ex->respond({404, "not found\n"});
  }
  if (method_not_allowed_)
    return method_not_allowed_(ex);
  Response r(405, "method not allowed\n");
  r.headers.emplace_back("Allow", allowed);
  ex->respond(std::move(r));
}

// -------------------------------------------------------------------------------------------
// The server's shared state. Connections hold it (shared_ptr), so it lives while any of them does.
struct Server::Impl {
  ServerOptions options;
  Router router;
  std::unique_ptr<asio::io_context> own_io;  // only with start(options, router)
  asio::io_context& io;
  tcp::acceptor acceptor;
  std::vector<std::thread> threads;
  int port = 0;
  std::once_flag stopped;

  std::mutex mu;
  bool stopping = false;
  // Open connections not handed over, to close them on stop().
  std::map<void*, std::function<void(bool on_strand)>> closers;

  Impl(ServerOptions o, Router r, std::unique_ptr<asio::io_context> own, asio::io_context& i)
      : options(std::move(o)),
        router(std::move(r)),
        own_io(std::move(own)),
        io(i),
        acceptor(asio::make_strand(io)) {}

  void accept(std::shared_ptr<Impl> self);
  bool track(void* key, std::function<void(bool)> closer) {
    std::lock_guard lock(mu);
    if (stopping)
      return false;
    closers[key] = std::move(closer);
    return true;
  }
  void untrack(void* key) {
    std::lock_guard lock(mu);
    closers.erase(key);
  }
};

namespace {

template <class Stream>
constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

// One connection: [TLS handshake], then requests until the client or a response closes it, or
// until a handler takes the connection over.
template <class Stream>
class Connection : public Exchange, public std::enable_shared_from_this<Connection<Stream>> {
 public:
  Connection(std::shared_ptr<Server::Impl> srv, tcp::socket sock, std::shared_ptr<ssl::context> ctx)
      : srv_(std::move(srv)), ctx_(std::move(ctx)), stream_(make_stream(std::move(sock), ctx_)) {}

  void run() {
    auto self = this->shared_from_this();
    std::weak_ptr<Connection> weak = self;
    if (!srv_->track(this, [weak](bool on_strand) {
          auto c = weak.lock();
          if (!c)
            return;
          if (on_strand)
            asio::post(c->executor(), [c] { c->close(); });
          else
            c->close();
        }))
      return;
    if constexpr (kTls<Stream>) {
      beast::get_lowest_layer(stream_).expires_after(srv_->options.handshake_timeout);
      stream_.async_handshake(ssl::stream_base::server, [self](beast::error_code ec) {
        if (ec) {
          if (self->srv_->options.on_tls_error)
            self->srv_->options.on_tls_error(ec);
          log::debug("TLS handshake failed",
                     {{"server", self->srv_->options.name}, {"error", ec.message()}});
          return;
        }
        self->read_peer_certificates();
        self->read_request();
      });
    } else {
      read_request();
    }
  }

  ~Connection() override { srv_->untrack(this); }

  const Request& request() const override { return req_; }
  const PeerCertificates& peer() const override { return peer_; }
  asio::any_io_executor executor() override { return stream_.get_executor(); }

  void respond(Response r) override {
    asio::post(executor(), [self = this->shared_from_this(), r = std::move(r)]() mutable {
      self->write(std::move(r));
    });
  }

  void upgrade(std::function<void(Upgraded)> take) override {
    asio::post(executor(), [self = this->shared_from_this(), take = std::move(take)] {
      self->srv_->untrack(self.get());
      take(Upgraded{std::move(self->req_),
                    std::variant<TcpStream, TlsStream>(std::move(self->stream_)),
                    std::move(self->buf_), self->ctx_});
    });
  }

 private:
  static Stream make_stream(tcp::socket sock, const std::shared_ptr<ssl::context>& ctx) {
    if constexpr (kTls<Stream>)
      return Stream(std::move(sock), *ctx);
    else
      return Stream(std::move(sock));
  }

  void read_peer_certificates() {
    if constexpr (kTls<Stream>) {
      SSL* ssl = stream_.native_handle();
      if (X509* leaf = SSL_get1_peer_certificate(ssl)) {
        peer_.leaf_pem = to_pem(leaf);
        X509_free(leaf);
      }
      if (STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl))
        for (int i = 0; i < sk_X509_num(chain); ++i)
          peer_.chain_pem.push_back(to_pem(sk_X509_value(chain, i)));
    }
  }

  void read_request() {
    parser_.emplace();
    parser_->body_limit(srv_->options.body_limit);
    beast::get_lowest_layer(stream_).expires_after(srv_->options.idle_timeout);
    http::async_read(stream_, buf_, *parser_,
                     [self = this->shared_from_this()](beast::error_code ec, size_t) {
                       if (ec) {
                         if (ec == http::error::body_limit) {
                           self->req_ = {};
                           Response r = self->srv_->options.body_too_large
                                            ? self->srv_->options.body_too_large()
                                            : Response{413, "request body too large\n"};
                           r.close = true;
                           self->write(std::move(r));
                         }
                         return;
                       }
                       self->req_ = self->parser_->release();
                       self->srv_->router.dispatch(self);
                     });
  }

  void write(Response r) {
    auto res = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(r.status), req_.version() ? req_.version() : 11);
    res->set(http::field::content_type, r.content_type);
    for (auto& [k, v] : r.headers)
      res->set(k, v);
    res->body() = std::move(r.body);
    res->keep_alive(!r.close && req_.keep_alive());
    res->prepare_payload();
    http::async_write(stream_, *res,
                      [self = this->shared_from_this(), res](beast::error_code ec, size_t) {
                        if (ec)
                          return;
                        if (res->keep_alive())
                          return self->read_request();
                        self->shut_down();
                      });
  }

  void shut_down() {
    if constexpr (kTls<Stream>) {
      stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {});
    } else {
      beast::error_code ec;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    }
  }

  void close() {
    beast::error_code ec;
    beast::get_lowest_layer(stream_).socket().shutdown(tcp::socket::shutdown_both, ec);
    beast::get_lowest_layer(stream_).close();
  }

  std::shared_ptr<Server::Impl> srv_;
  std::shared_ptr<ssl::context> ctx_;  // before stream_: the stream uses it
  Stream stream_;
  beast::flat_buffer buf_;
  std::optional<http::request_parser<http::string_body>> parser_;
  Request req_;
  PeerCertificates peer_;
};

}  // namespace

void Server::Impl::accept(std::shared_ptr<Impl> self) {
  acceptor.async_accept(asio::make_strand(io), [self](beast::error_code ec, tcp::socket sock) {
    if (ec == asio::error::operation_aborted || !self->acceptor.is_open())
      return;
    if (!ec) {
      if (self->options.tls) {
        // The context current now: a certificate set later is for later connections.
        std::make_shared<Connection<TlsStream>>(self, std::move(sock), self->options.tls->current())
            ->run();
      } else {
        std::make_shared<Connection<TcpStream>>(self, std::move(sock), nullptr)->run();
      }
    }
    self->accept(self);
  });
}

namespace {

Result<std::shared_ptr<Server::Impl>> listen(std::shared_ptr<Server::Impl> impl) {
  const auto& o = impl->options;
  if (o.tls && !o.tls->current())
    return Error(Errc::invalid, "TLS without a certificate");
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(o.address, ec);
  if (ec)
    return Error(Errc::invalid, o.address_flag + ": \"" + o.address + "\" is not an IP address");
  tcp::endpoint ep(addr, static_cast<unsigned short>(o.port));
  auto& acc = impl->acceptor;
  acc.open(ep.protocol(), ec);
  if (!ec)
    acc.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec)
    acc.bind(ep, ec);
  if (!ec)
    acc.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return Error(Errc::io, (o.name.empty() ? "" : o.name + ": ") + "cannot listen on " + o.address +
                               ":" + std::to_string(o.port) + ": " + ec.message())
        .with("address", o.address);
  impl->port = acc.local_endpoint().port();
  asio::post(acc.get_executor(), [impl] { impl->accept(impl); });
  return impl;
}

}  // namespace

Server::Server(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() {
  stop();
  // Pending handlers of our own io_context hold the state: let them go first, with the
  // io_context still there for the sockets they own, then the io_context.
  auto own = std::move(impl_->own_io);
  impl_.reset();
  own.reset();
}

Result<std::unique_ptr<Server>> Server::start(asio::io_context& io, ServerOptions options,
                                              Router router) {
  auto impl = listen(std::make_shared<Impl>(std::move(options), std::move(router), nullptr, io));
  if (!impl.ok())
    return std::move(impl).error();
  return std::unique_ptr<Server>(new Server(std::move(*impl)));
}

Result<std::unique_ptr<Server>> Server::start(ServerOptions options, Router router) {
  auto own = std::make_unique<asio::io_context>();
  auto& io = *own;
  const int threads = std::max(1, options.threads);
  auto impl =
      listen(std::make_shared<Impl>(std::move(options), std::move(router), std::move(own), io));
  if (!impl.ok())
    return std::move(impl).error();
  for (int i = 0; i < threads; ++i)
    (*impl)->threads.emplace_back([&io] { io.run(); });
  return std::unique_ptr<Server>(new Server(std::move(*impl)));
}

void Server::stop() {
  std::call_once(impl_->stopped, [this] {
    std::map<void*, std::function<void(bool)>> closers;
    {
      std::lock_guard lock(impl_->mu);
      impl_->stopping = true;
      closers.swap(impl_->closers);
    }
    if (impl_->own_io) {
      // No handler runs once the threads are joined: close everything from here.
      impl_->own_io->stop();
      for (auto& t : impl_->threads)
        t.join();
      boost::system::error_code ec;
      impl_->acceptor.close(ec);
      for (auto& [_, close] : closers)
        close(false);
      return;
    }
    asio::post(impl_->acceptor.get_executor(), [impl = impl_] {
      boost::system::error_code ec;
      impl->acceptor.close(ec);
    });
    for (auto& [_, close] : closers)
      close(true);
  });
}

int Server::port() const {
  return impl_->port;
}

}  // namespace kv::core::serve
