#pragma once
// Plain-HTTP /metrics (Prometheus text) and /healthz on the handler's io_context. One request per
// connection; nothing secret is served here.

#include <utility>  // before Asio: Boost 1.74 awaitable.hpp uses std::exchange unincluded

#include <boost/asio.hpp>

#include <memory>
#include <string>

#include "core/result.hpp"
#include "handler/metrics.hpp"

namespace kv::handler {

class MetricsServer {
 public:
  // Binds address:port (port 0: any free port, see port()).
  static core::Result<std::unique_ptr<MetricsServer>> start(boost::asio::io_context& io,
                                                            const std::string& address, int port,
                                                            Metrics& metrics);
  // Stops accepting (call from any thread).
  void stop();
  int port() const { return port_; }

 private:
  MetricsServer(boost::asio::io_context& io, Metrics& m) : io_(io), acceptor_(io), metrics_(m) {}
  void accept();

  boost::asio::io_context& io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  Metrics& metrics_;
  int port_ = 0;
};

}  // namespace kv::handler
