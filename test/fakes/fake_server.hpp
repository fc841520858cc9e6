#pragma once
// An in-process HTTP/1.1 server on 127.0.0.1:<ephemeral> for transport-level unit tests. The test
// supplies a handler that writes each response by hand, so it can send canned JSON, chunked
// watch streams split at odd byte boundaries, wrong statuses, or close the connection abruptly.
// One thread per connection; the destructor closes every socket and joins every thread.

#include <sys/socket.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace kv::test {

class FakeServer {
 public:
  struct Request {
    std::string method, target, body;
    std::map<std::string, std::string> headers;  // lower-case names
    std::string path() const { return target.substr(0, target.find('?')); }
    // The value of a query parameter, "" when absent (values compared unescaped are plain here).
    std::string query(const std::string& key) const {
      auto q = target.find('?');
      if (q == std::string::npos)
        return "";
      std::string rest = target.substr(q + 1);
      size_t pos = 0;
      while (pos <= rest.size()) {
        auto amp = rest.find('&', pos);
        std::string kv = rest.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
        auto eq = kv.find('=');
        if (kv.substr(0, eq) == key)
          return eq == std::string::npos ? "" : kv.substr(eq + 1);
        if (amp == std::string::npos)
          break;
        pos = amp + 1;
      }
      return "";
    }
  };

  class Conn {
   public:
    explicit Conn(boost::asio::ip::tcp::socket& s) : s_(s) {}
    void write_raw(std::string_view bytes) {
      boost::system::error_code ec;
      boost::asio::write(s_, boost::asio::buffer(bytes.data(), bytes.size()), ec);
    }
    void respond(int status, const std::string& body,
                 const std::string& content_type = "application/json",
                 const std::string& extra_headers = "") {
      write_raw("HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Type: " + content_type +
                "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" + extra_headers +
                "\r\n" + body);
    }
    void start_chunked(int status = 200) {
      write_raw("HTTP/1.1 " + std::to_string(status) +
                " OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
    }
    void chunk(std::string_view data) {
      char hex[32];
      std::snprintf(hex, sizeof hex, "%zx\r\n", data.size());
      write_raw(std::string(hex) + std::string(data) + "\r\n");
    }
    void end_chunked() { write_raw("0\r\n\r\n"); }
    // Close without finishing the response (a dropped connection).
    void close() { closed_ = true; }
    bool closed() const { return closed_; }

   private:
    boost::asio::ip::tcp::socket& s_;
    bool closed_ = false;
  };

  using Handler = std::function<void(const Request&, Conn&)>;

  explicit FakeServer(Handler h) : handler_(std::move(h)), acceptor_(ioc_) {
    using boost::asio::ip::tcp;
    tcp::endpoint ep(boost::asio::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(ep.protocol());
    acceptor_.set_option(boost::asio::socket_base::reuse_address(true));
    acceptor_.bind(ep);
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    accept_thread_ = std::thread([this] { accept_loop(); });
  }

  ~FakeServer() {
    stopping_ = true;
    ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
    accept_thread_.join();
    std::vector<std::thread> threads;
    {
      std::lock_guard lock(mu_);
      for (auto& s : sockets_)
        ::shutdown(s->native_handle(), SHUT_RDWR);
      threads.swap(threads_);
    }
    for (auto& t : threads)
      t.join();
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int connections() const { return connections_.load(); }
  std::vector<Request> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }
  // Closes every open connection now (as a crashing server would).
  void drop_all() {
    std::lock_guard lock(mu_);
    for (auto& s : sockets_)
      ::shutdown(s->native_handle(), SHUT_RDWR);
  }

 private:
  void accept_loop() {
    while (!stopping_) {
      auto sock = std::make_shared<boost::asio::ip::tcp::socket>(ioc_);
      boost::system::error_code ec;
      acceptor_.accept(*sock, ec);
      if (ec || stopping_)
        return;
      ++connections_;
      std::lock_guard lock(mu_);
      sockets_.push_back(sock);
      threads_.emplace_back([this, sock] { serve(*sock); });
    }
  }

  void serve(boost::asio::ip::tcp::socket& s) {
    namespace http = boost::beast::http;
    boost::beast::flat_buffer buf;
    while (!stopping_) {
      http::request<http::string_body> req;
      boost::system::error_code ec;
      http::read(s, buf, req, ec);
      if (ec)
        break;
      Request r;
      r.method = std::string(req.method_string());
      r.target = std::string(req.target());
      r.body = req.body();
      for (const auto& f : req) {
        std::string name(f.name_string());
        for (auto& c : name)
          c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        r.headers[name] = std::string(f.value());
      }
      {
        std::lock_guard lock(mu_);
        requests_.push_back(r);
      }
      Conn c(s);
      handler_(r, c);
      if (c.closed() || !req.keep_alive())
        break;
    }
    ::shutdown(s.native_handle(), SHUT_RDWR);
  }

  Handler handler_;
  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::acceptor acceptor_;
  unsigned short port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_{0};
  mutable std::mutex mu_;
  std::vector<std::shared_ptr<boost::asio::ip::tcp::socket>> sockets_;
  std::vector<std::thread> threads_;
  std::vector<Request> requests_;
  std::thread accept_thread_;
};

}  // namespace kv::test
