#include "core/kube/websocket.hpp"

#include <atomic>
#include <future>
#include <mutex>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include "core/kube/client.hpp"
#include "core/kube/http.hpp"
#include "core/kube/http_connection.hpp"
#include "core/kube/resource.hpp"

namespace kv::core::kube {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using Clk = std::chrono::steady_clock;

// How long close() waits for the peer's close frame before dropping the connection: a user who
// pressed ^] should not wait on a stuck server.
constexpr std::chrono::seconds kCloseTimeout{5};

class WebSocket::Session {
 public:
  virtual ~Session() = default;
  // Upgrades on the calling thread (before start()). Fills *res with the server's response.
  virtual beast::error_code handshake(const std::string& host, const std::string& target,
                                      const std::string& authorization,
                                      const std::string& subprotocol, const std::string& user_agent,
                                      std::chrono::milliseconds timeout,
                                      websocket::response_type* res) = 0;
  // Starts the I/O thread; read/write/close may be used afterwards.
  virtual void start() = 0;
  virtual Result<std::optional<std::string>> read() = 0;
  virtual Status write(std::string_view bytes) = 0;
  virtual Status close(uint16_t code, std::string_view reason) = 0;
  virtual uint16_t close_code() const = 0;
  virtual std::string close_reason() const = 0;
};

namespace {

// One WebSocket over Next (a TLS or plain TCP stream) taken over from an HttpTransport
// connection. Every operation on ws_ runs on io_thread_; callers wait on a promise.
template <class Next>
class SessionImpl final : public WebSocket::Session {
 public:
  SessionImpl(std::unique_ptr<HttpTransport::Connection> conn, Next&& next)
      : conn_(std::move(conn)), ws_(std::move(next)) {
    beast::get_lowest_layer(ws_).expires_never();  // websocket's own timeouts apply
  }

  ~SessionImpl() override {
    if (io_thread_.joinable()) {
      asio::post(conn_->ioc, [this] {
        beast::error_code ec;
        beast::get_lowest_layer(ws_).socket().close(ec);
      });
      guard_.reset();
      io_thread_.join();
    }
  }

  beast::error_code handshake(const std::string& host, const std::string& target,
                              const std::string& authorization, const std::string& subprotocol,
                              const std::string& user_agent, std::chrono::milliseconds timeout,
                              websocket::response_type* res) override {
    ws_.set_option(websocket::stream_base::timeout{timeout, websocket::stream_base::none(), false});
    ws_.set_option(websocket::stream_base::decorator([=](websocket::request_type& r) {
      r.set(http::field::user_agent, user_agent);
      if (!authorization.empty())
        r.set(http::field::authorization, authorization);
      if (!subprotocol.empty())
        r.set(http::field::sec_websocket_protocol, subprotocol);
    }));
    // Run only until the handshake completes: after a declined upgrade Beast leaves its
    // timeout timer pending, and running the io_context dry would wait for it to expire.
    beast::error_code result = asio::error::would_block;
    bool done = false;
    ws_.async_handshake(*res, host, target, [&](beast::error_code ec) {
      result = ec;
      done = true;
    });
    conn_->ioc.restart();
    while (!done && conn_->ioc.run_one() > 0) {
    }
    return result;
  }

  void start() override {
    ws_.binary(true);
    ws_.set_option(
        websocket::stream_base::timeout{kCloseTimeout, websocket::stream_base::none(), false});
    guard_.emplace(conn_->ioc.get_executor());
    io_thread_ = std::thread([this] {
      conn_->ioc.restart();
      conn_->ioc.run();
    });
  }

  Result<std::optional<std::string>> read() override {
    std::promise<std::pair<beast::error_code, std::string>> done;
    auto f = done.get_future();
    asio::post(conn_->ioc, [&] {
      ws_.async_read(rbuf_, [&](beast::error_code ec, size_t) {
        std::string bytes = beast::buffers_to_string(rbuf_.data());
        rbuf_.consume(rbuf_.size());
        if (ec == websocket::error::closed) {
          std::lock_guard lock(mu_);
          peer_close_ = ws_.reason();
        }
        done.set_value({ec, std::move(bytes)});
      });
    });
    auto [ec, bytes] = f.get();
    if (!ec)
      return std::optional<std::string>(std::move(bytes));
    if (ec == websocket::error::closed || closing_.load())
      return std::optional<std::string>();
    return Error(Errc::unavailable, "websocket read: " + ec.message()).with("error", ec.message());
  }

  Status write(std::string_view bytes) override {
    std::lock_guard wlock(write_mu_);
    if (closing_.load())
      return Error(Errc::unavailable, "websocket write: the connection is closed");
    std::promise<beast::error_code> done;
    auto f = done.get_future();
    asio::post(conn_->ioc, [&] {
      ws_.async_write(asio::buffer(bytes.data(), bytes.size()),
                      [&](beast::error_code ec, size_t) { done.set_value(ec); });
    });
    beast::error_code ec = f.get();
    if (ec)
      return Error(Errc::unavailable, "websocket write: " + ec.message())
          .with("error", ec.message());
    return {};
  }

  Status close(uint16_t code, std::string_view reason) override {
    std::lock_guard wlock(write_mu_);
    if (closing_.exchange(true))
      return {};
    std::promise<beast::error_code> done;
    auto f = done.get_future();
    std::string_view short_reason = reason.substr(0, 120);  // a close frame holds 123 bytes
    websocket::close_reason cr;
    cr.code = code;
    cr.reason.assign(short_reason.data(), short_reason.size());
    asio::post(conn_->ioc, [&] {
      if (!ws_.is_open()) {
        done.set_value({});  // the peer closed first; nothing left to say
        return;
      }
      ws_.async_close(cr, [&](beast::error_code ec) {
        if (ec) {  // no close frame back in time: drop the connection so reads end
          beast::error_code ignored;
          beast::get_lowest_layer(ws_).socket().close(ignored);
        }
        done.set_value(ec);
      });
    });
    beast::error_code ec = f.get();
    if (ec && ec != websocket::error::closed && ec != asio::error::operation_aborted)
      return Error(Errc::unavailable, "websocket close: " + ec.message());
    return {};
  }

  uint16_t close_code() const override {
    std::lock_guard lock(mu_);
    return peer_close_.code;
  }
  std::string close_reason() const override {
    std::lock_guard lock(mu_);
    return std::string(peer_close_.reason.data(), peer_close_.reason.size());
  }

 private:
  std::unique_ptr<HttpTransport::Connection> conn_;  // owns the io_context and TLS context
  websocket::stream<Next> ws_;
  beast::flat_buffer rbuf_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard_;
  std::thread io_thread_;
  std::mutex write_mu_;  // one write or close at a time, as Beast requires
  std::atomic<bool> closing_{false};
  mutable std::mutex mu_;  // guards peer_close_
  websocket::close_reason peer_close_;
};

Error handshake_error(const beast::error_code& ec, const websocket::response_type& res,
                      const std::string& url) {
  if (ec == websocket::error::upgrade_declined && res.result_int() != 0) {
    int status = static_cast<int>(res.result_int());
    std::string body = res.body();
    if (status == 101)  // upgraded, but not the way we asked (bad accept key)
      return Error(Errc::parse, "WebSocket upgrade of " + url + " failed: " + ec.message());
    return http_error(status, body, "", "").with("url", url);
  }
  Errc code = ec == beast::error::timeout ? Errc::timeout : Errc::unavailable;
  return Error(code, "WebSocket upgrade of " + url + " failed: " + ec.message())
      .with("url", url)
      .with("error", ec.message());
}

}  // namespace

std::string websocket_target(const WebSocketRequest& req) {
  std::string t = req.path;
  char sep = '?';
  for (const auto& [k, v] : req.query) {
    t += sep;
    t += url_escape(k);
    t += '=';
    t += url_escape(v);
    sep = '&';
  }
  return t;
}

WebSocket::WebSocket(std::unique_ptr<Session> s, std::string subprotocol)
    : session_(std::move(s)), subprotocol_(std::move(subprotocol)) {}

WebSocket::~WebSocket() = default;

Result<std::unique_ptr<WebSocket>> WebSocket::dial(const RestConfig& config,
                                                   const WebSocketRequest& req) {
  auto transport = HttpTransport::create(config);
  if (!transport.ok())
    return transport.error();
  HttpTransport& t = **transport;
  CredentialSource creds(config);
  std::string current_cert = config.client_cert_pem;
  std::string target = t.path_prefix() + websocket_target(req);
  std::string url = config.server + websocket_target(req);
  for (int attempt = 0;; ++attempt) {
    auto cr = creds.get();
    if (!cr.ok())
      return cr.error();
    if (cr->client_cert_pem != current_cert) {  // an exec plugin handed out a certificate
      KV_CHECK(t.set_client_certificate(cr->client_cert_pem, cr->client_key_pem));
      current_cert = cr->client_cert_pem;
    }
    std::string authorization;
    if (!cr->bearer_token.empty())
      authorization = "Bearer " + cr->bearer_token;
    else if (!cr->basic_auth.empty())
      authorization = "Basic " + base64_encode(cr->basic_auth);

    auto conn = t.open(Clk::now() + req.handshake_timeout);
    if (!conn.ok())
      return conn.error();
    std::unique_ptr<HttpTransport::Connection> c = std::move(*conn);
    std::unique_ptr<Session> s;
    if (c->tls) {
      auto next = std::move(*c->tls);
      s = std::make_unique<SessionImpl<beast::ssl_stream<beast::tcp_stream>>>(std::move(c),
                                                                              std::move(next));
    } else {
      auto next = std::move(*c->plain);
      s = std::make_unique<SessionImpl<beast::tcp_stream>>(std::move(c), std::move(next));
    }
    websocket::response_type res;
    beast::error_code ec = s->handshake(t.host_header(), target, authorization, req.subprotocol,
                                        config.user_agent, req.handshake_timeout, &res);
    if (ec) {
      if (res.result_int() == 401 && attempt == 0 && (config.exec || !config.token_file.empty())) {
        creds.invalidate();
        continue;
      }
      return handshake_error(ec, res, url);
    }
    std::string accepted(res[http::field::sec_websocket_protocol]);
    if (!req.subprotocol.empty() && !accepted.empty() && accepted != req.subprotocol)
      return Error(Errc::parse, "WebSocket upgrade of " + url +
                                    ": the server chose subprotocol \"" + accepted + "\", not \"" +
                                    req.subprotocol + "\"");
    s->start();
    return std::unique_ptr<WebSocket>(new WebSocket(std::move(s), std::move(accepted)));
  }
}

Result<std::optional<std::string>> WebSocket::read() {
  return session_->read();
}
Status WebSocket::write(std::string_view bytes) {
  return session_->write(bytes);
}
Status WebSocket::close(uint16_t code, std::string_view reason) {
  return session_->close(code, reason);
}
uint16_t WebSocket::close_code() const {
  return session_->close_code();
}
std::string WebSocket::close_reason() const {
  return session_->close_reason();
}

}  // namespace kv::core::kube
