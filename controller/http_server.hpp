#pragma once
// A small HTTP/1.1 server on Boost.Beast for /metrics, /healthz, /readyz and /leader: one
// io_context on its own thread, one request per connection at a time, plain text answers.
// (Plain HTTP: it serves only probes and scrapes inside the cluster network.)

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "core/result.hpp"

namespace kv::controller {

struct HttpAnswer {
  int status = 200;
  std::string body;
  std::string content_type = "text/plain; charset=utf-8";
};

class HttpServer {
 public:
  using Handler = std::function<HttpAnswer()>;
  // path -> handler (GET only); other paths answer 404.
  explicit HttpServer(std::map<std::string, Handler> routes);
  ~HttpServer();
  // Binds host:port (port 0: any free port) and starts serving on a thread.
  core::Status start(const std::string& host, unsigned short port);
  unsigned short port() const { return port_; }
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::map<std::string, Handler> routes_;
  unsigned short port_ = 0;
  std::thread thread_;
};

}  // namespace kv::controller
