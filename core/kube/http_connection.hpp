#pragma once
// The definition of HttpTransport::Connection, for code that takes a connection over after
// HttpTransport::open() (core/kube/websocket.cpp). Brings in Beast; include only from .cpp files.

#include <memory>

#include <boost/asio/io_context.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>

#include "core/kube/http.hpp"

namespace kv::core::kube {

struct HttpTransport::Connection {
  boost::asio::io_context ioc;
  std::shared_ptr<void> ctx;  // keeps the ssl::context alive as long as the stream
  std::unique_ptr<boost::beast::tcp_stream> plain;
  std::unique_ptr<boost::beast::ssl_stream<boost::beast::tcp_stream>> tls;
  boost::beast::flat_buffer buffer;
  bool reused = false;    // came from the idle pool
  bool reusable = false;  // the last response allows keep-alive

  boost::beast::tcp_stream& lowest() { return tls ? boost::beast::get_lowest_layer(*tls) : *plain; }

  // Runs one async operation on this connection's io_context until it completes.
  template <class Init>
  boost::beast::error_code run(Init&& init) {
    boost::beast::error_code result = boost::asio::error::would_block;
    init([&result](boost::beast::error_code ec, auto&&...) { result = ec; });
    ioc.restart();
    ioc.run();
    return result;
  }
  template <class F>
  auto with_stream(F&& f) {
    if (tls)
      return f(*tls);
    return f(*plain);
  }
};

}  // namespace kv::core::kube
