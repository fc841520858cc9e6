#include "core/kube/http.hpp"

#include "core/kube/http_connection.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>

#include <limits>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "core/http_read.hpp"

namespace kv::core::kube {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using Clk = std::chrono::steady_clock;

namespace {

std::string openssl_error_string() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0)
    return "";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

Result<std::shared_ptr<ssl::context>> make_ssl_context(const RestConfig& c,
                                                       const std::string& cert_pem,
                                                       const std::string& key_pem) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  beast::error_code ec;
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1,
                   ec);
  if (c.insecure_skip_tls_verify) {
    ctx->set_verify_mode(ssl::verify_none);
  } else {
    ctx->set_verify_mode(ssl::verify_peer);
    if (!c.ca_pem.empty()) {
      ctx->add_certificate_authority(asio::buffer(c.ca_pem), ec);
      if (ec)
        return Error(Errc::invalid,
                     "certificate-authority: cannot load the CA certificate: " + ec.message());
    } else {
      ctx->set_default_verify_paths(ec);
    }
  }
  if (!cert_pem.empty()) {
    ctx->use_certificate_chain(asio::buffer(cert_pem), ec);
    if (ec)
      return Error(Errc::invalid, "client-certificate: cannot load: " + ec.message());
    ctx->use_private_key(asio::buffer(key_pem), ssl::context::pem, ec);
    if (ec)
      return Error(Errc::invalid,
                   "client-key: cannot load (does it match the certificate?): " + ec.message());
  }
  return ctx;
}

bool is_ip_literal(const std::string& host) {
  beast::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

// True when the peer has closed an idle pooled connection (or sent something unexpected).
bool idle_connection_dead(HttpTransport::Connection& c) {
  char byte;
  int fd = c.lowest().socket().native_handle();
  ssize_t n = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n == 0)
    return true;
  if (n > 0)
    return true;  // unsolicited bytes (e.g. TLS close_notify): not safe to reuse
  return !(errno == EAGAIN || errno == EWOULDBLOCK);
}

Error transport_error(const beast::error_code& ec, std::string_view what, const std::string& url) {
  Errc code = Errc::unavailable;
  if (ec == beast::error::timeout)
    code = Errc::timeout;
  return Error(code, std::string(what) + " " + url + ": " + ec.message())
      .with("url", url)
      .with("error", ec.message());
}

}  // namespace

HttpTransport::~HttpTransport() = default;

Result<std::unique_ptr<HttpTransport>> HttpTransport::create(const RestConfig& config) {
  std::unique_ptr<HttpTransport> t(new HttpTransport());
  t->config_ = config;
  std::string rest;
  if (config.server.rfind("https://", 0) == 0) {
    rest = config.server.substr(8);
  } else if (config.server.rfind("http://", 0) == 0) {
    t->tls_ = false;
    rest = config.server.substr(7);
  } else {
    return Error(Errc::invalid,
                 "server: \"" + config.server + "\" must start with https:// or http://");
  }
  auto slash = rest.find('/');
  std::string hostport = rest.substr(0, slash);
  if (slash != std::string::npos)
    t->prefix_ = rest.substr(slash);
  while (!t->prefix_.empty() && t->prefix_.back() == '/')
    t->prefix_.pop_back();
  if (!hostport.empty() && hostport[0] == '[') {
    auto close = hostport.find(']');
    if (close == std::string::npos)
      return Error(Errc::invalid, "server: \"" + config.server + "\": unterminated [IPv6]");
    t->host_ = hostport.substr(1, close - 1);
    if (close + 1 < hostport.size() && hostport[close + 1] == ':')
      t->port_ = hostport.substr(close + 2);
  } else {
    auto colon = hostport.rfind(':');
    t->host_ = hostport.substr(0, colon);
    if (colon != std::string::npos)
      t->port_ = hostport.substr(colon + 1);
  }
  if (t->host_.empty())
    return Error(Errc::invalid, "server: \"" + config.server + "\" has no host");
  if (t->port_.empty())
    t->port_ = t->tls_ ? "443" : "80";
  if (t->tls_) {
    auto ctx = make_ssl_context(config, config.client_cert_pem, config.client_key_pem);
    if (!ctx.ok())
      return ctx.error();
    t->ssl_ctx_ = *ctx;
  }
  return t;
}

Status HttpTransport::set_client_certificate(const std::string& cert_pem,
                                             const std::string& key_pem) {
  if (!tls_)
    return {};
  auto ctx = make_ssl_context(config_, cert_pem, key_pem);
  if (!ctx.ok())
    return ctx.error();
  std::lock_guard lock(mu_);
  ssl_ctx_ = *ctx;
  idle_.clear();
  return {};
}

Result<std::unique_ptr<HttpTransport::Connection>> HttpTransport::connect(
    Clk::time_point deadline) {
  auto c = std::make_unique<Connection>();
  std::string url = config_.server;
  tcp::resolver resolver(c->ioc);
  beast::error_code ec;
  auto endpoints = resolver.resolve(host_, port_, ec);
  if (ec)
    return Error(Errc::unavailable, "cannot resolve " + host_ + ": " + ec.message())
        .with("url", url);
  std::shared_ptr<void> ctx_holder;
  {
    std::lock_guard lock(mu_);
    ctx_holder = ssl_ctx_;
  }
  if (tls_) {
    c->ctx = ctx_holder;
    auto* ctx = static_cast<ssl::context*>(ctx_holder.get());
    c->tls = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(c->ioc, *ctx);
  } else {
    c->plain = std::make_unique<beast::tcp_stream>(c->ioc);
  }
  auto& low = c->lowest();
  low.expires_at(deadline);
  ec = c->run([&](auto h) { low.async_connect(endpoints, std::move(h)); });
  if (ec)
    return transport_error(ec, "cannot connect to", url);
  connections_opened_.fetch_add(1);
  low.socket().set_option(tcp::no_delay(true), ec);
  low.socket().set_option(asio::socket_base::keep_alive(true), ec);
  if (tls_) {
    std::string name = config_.server_name.empty() ? host_ : config_.server_name;
    SSL* native = c->tls->native_handle();
    if (!is_ip_literal(name))
      SSL_set_tlsext_host_name(native, name.c_str());
    if (!config_.insecure_skip_tls_verify)
      c->tls->set_verify_callback(ssl::host_name_verification(name));
    low.expires_at(deadline);
    ec = c->run([&](auto h) { c->tls->async_handshake(ssl::stream_base::client, std::move(h)); });
    if (ec) {
      std::string detail = ec.message();
      long verify = SSL_get_verify_result(native);
      if (verify != X509_V_OK) {
        detail = std::string("the server's certificate is not trusted: ") +
                 X509_verify_cert_error_string(verify) +
                 " (check certificate-authority / certificate-authority-data, or the server "
                 "name " +
                 name + ")";
      }
      openssl_error_string();  // clear the thread's queue
      return Error(Errc::unavailable, "TLS handshake with " + url + " failed: " + detail)
          .with("url", url)
          .with("tls_verify_result", std::to_string(verify));
    }
  }
  return c;
}

Result<std::unique_ptr<HttpTransport::Connection>> HttpTransport::open(Clk::time_point deadline) {
  return connect(deadline);
}

std::string HttpTransport::host_header() const {
  return host_.find(':') != std::string::npos ? "[" + host_ + "]:" + port_ : host_ + ":" + port_;
}

std::unique_ptr<HttpTransport::Connection> HttpTransport::take_idle() {
  std::lock_guard lock(mu_);
  while (!idle_.empty()) {
    auto c = std::move(idle_.back());
    idle_.pop_back();
    if (!idle_connection_dead(*c)) {
      c->reused = true;
      return c;
    }
  }
  return nullptr;
}

void HttpTransport::put_idle(std::unique_ptr<Connection> c) {
  std::lock_guard lock(mu_);
  // A connection made with a replaced TLS context is dropped.
  if (tls_ && c->ctx != ssl_ctx_)
    return;
  if (idle_.size() < kMaxIdle)
    idle_.push_back(std::move(c));
}

namespace {
template <class Body>
void fill_request(http::request<Body>& r, const HttpRequest& req, const std::string& host,
                  const std::string& port, const std::string& prefix,
                  const std::string& user_agent) {
  r.method(http::string_to_verb(req.method));
  r.method_string(req.method);
  r.target(prefix + req.target);
  r.version(11);
  r.set(http::field::host,
        host.find(':') != std::string::npos ? "[" + host + "]:" + port : host + ":" + port);
  r.set(http::field::user_agent, user_agent);
  if (!req.accept.empty())
    r.set(http::field::accept, req.accept);
  if (!req.authorization.empty())
    r.set(http::field::authorization, req.authorization);
  if (!req.content_type.empty() && !req.body.empty())
    r.set(http::field::content_type, req.content_type);
  r.keep_alive(true);
}
}  // namespace

Result<HttpResponse> HttpTransport::send_on(Connection& c, const HttpRequest& req,
                                            bool& any_response_bytes) {
  auto deadline = Clk::now() + req.timeout;
  http::request<http::string_body> r;
  fill_request(r, req, host_, port_, prefix_, config_.user_agent);
  r.body() = req.body;
  r.prepare_payload();
  std::string url = config_.server + req.target;
  auto& low = c.lowest();
  low.expires_at(deadline);
  beast::error_code ec = c.run(
      [&](auto h) { c.with_stream([&](auto& s) { http::async_write(s, r, std::move(h)); }); });
  if (ec)
    return transport_error(ec, req.method + " request to", url);
  http::response_parser<http::string_body> p;
  p.body_limit(std::uint64_t{1} << 31);
  p.header_limit(1 << 20);
  low.expires_at(deadline);
  ec = c.run([&](auto h) {
    c.with_stream([&](auto& s) { core::async_read_response(s, c.buffer, p, std::move(h)); });
  });
  any_response_bytes = p.got_some() || c.buffer.size() > 0;
  if (ec)
    return transport_error(ec, "reading the response of " + req.method, url);
  auto& res = p.get();
  HttpResponse out;
  out.status = static_cast<int>(res.result_int());
  out.body = std::move(res.body());
  out.content_type = std::string(res[http::field::content_type]);
  out.retry_after = std::string(res[http::field::retry_after]);
  c.reusable = res.keep_alive() && !p.need_eof();
  return out;
}

Result<HttpResponse> HttpTransport::send(const HttpRequest& req) {
  for (int attempt = 0;; ++attempt) {
    std::unique_ptr<Connection> c = attempt == 0 ? take_idle() : nullptr;
    if (!c) {
      auto fresh = connect(Clk::now() + req.timeout);
      if (!fresh.ok())
        return fresh.error();
      c = std::move(*fresh);
    }
    bool got_bytes = false;
    auto res = send_on(*c, req, got_bytes);
    if (!res.ok()) {
      // The server closed a kept-alive connection as we reused it: nothing was processed.
      if (c->reused && !got_bytes && attempt == 0 && res.error().code != Errc::timeout)
        continue;
      return res;
    }
    // Pool only connections the server keeps open and that have no stray bytes left.
    if (c->reusable && c->buffer.size() == 0) {
      c->lowest().expires_never();
      put_idle(std::move(c));
    }
    return res;
  }
}

Result<int> HttpTransport::stream(const HttpRequest& req,
                                  const std::function<bool(std::string_view)>& on_data,
                                  std::string* error_body, std::chrono::milliseconds idle_timeout,
                                  Cancel* cancel) {
  if (cancel && cancel->cancelled())
    return 0;
  auto deadline = Clk::now() + req.timeout;
  auto conn = connect(deadline);
  if (!conn.ok())
    return conn.error();
  std::shared_ptr<Connection> c = std::move(*conn);
  std::string url = config_.server + req.target;
  if (cancel) {
    Connection* raw = c.get();
    cancel->set_hook([raw] { asio::post(raw->ioc, [raw] { raw->lowest().cancel(); }); });
  }
  struct Unhook {
    Cancel* c;
    ~Unhook() {
      if (c)
        c->clear_hook();
    }
  } unhook{cancel};

  http::request<http::string_body> r;
  fill_request(r, req, host_, port_, prefix_, config_.user_agent);
  r.body() = req.body;
  r.prepare_payload();
  auto& low = c->lowest();
  low.expires_at(deadline);
  beast::error_code ec = c->run(
      [&](auto h) { c->with_stream([&](auto& s) { http::async_write(s, r, std::move(h)); }); });
  if (cancel && cancel->cancelled())
    return 0;
  if (ec)
    return transport_error(ec, req.method + " request to", url);
  http::response_parser<http::buffer_body> p;
  p.body_limit(std::numeric_limits<std::uint64_t>::max());  // a watch never ends by size
  low.expires_at(deadline);
  ec = c->run([&](auto h) {
    c->with_stream([&](auto& s) { http::async_read_header(s, c->buffer, p, std::move(h)); });
  });
  if (cancel && cancel->cancelled())
    return 0;
  if (ec)
    return transport_error(ec, "reading the response of " + req.method, url);
  int status = static_cast<int>(p.get().result_int());
  bool ok_status = status >= 200 && status < 300;
  std::vector<char> buf(64 * 1024);
  while (!p.is_done()) {
    if (cancel && cancel->cancelled())
      return status;
    p.get().body().data = buf.data();
    p.get().body().size = buf.size();
    if (ok_status && idle_timeout.count() > 0)
      low.expires_after(idle_timeout);
    else if (ok_status)
      low.expires_never();
    else
      low.expires_at(deadline);
    ec = c->run([&](auto h) {
      c->with_stream([&](auto& s) { http::async_read_some(s, c->buffer, p, std::move(h)); });
    });
    if (ec == http::error::need_buffer)
      ec = {};
    size_t n = buf.size() - p.get().body().size;
    if (n > 0) {
      if (ok_status) {
        if (!on_data(std::string_view(buf.data(), n)))
          return status;
      } else if (error_body) {
        error_body->append(buf.data(), n);
      }
    }
    if (cancel && cancel->cancelled())
      return status;
    if (ec) {
      if (ec == beast::error::timeout)
        return Error(Errc::timeout, "watch " + url + ": no data for " +
                                        std::to_string(idle_timeout.count()) + "ms")
            .with("url", url);
      return transport_error(ec, "stream from", url);
    }
  }
  return status;
}

}  // namespace kv::core::kube
