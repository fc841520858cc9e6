#include "core/http_get.hpp"

#include <utility>  // before Asio: Boost 1.74 awaitable.hpp uses std::exchange unincluded

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "core/http_read.hpp"

namespace kv::core {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

Result<HttpGetResponse> http_get(const std::string& host, unsigned short port,
                                 const std::string& path, std::chrono::milliseconds timeout) {
  asio::io_context io;
  beast::tcp_stream stream(io);
  stream.expires_after(timeout);
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec)
    return Error(Errc::invalid, "http_get: \"" + host + "\" is not an IP address");
  Result<HttpGetResponse> out = Error(Errc::internal, "http_get: no answer");
  auto fail = [&](const char* step, const boost::system::error_code& e) {
    const Errc code = e == beast::error::timeout       ? Errc::timeout
                      : step == std::string("connect") ? Errc::unavailable
                                                       : Errc::io;
    out = Error(code, std::string("GET ") + path + ": " + step + ": " + e.message());
  };
  http::request<http::empty_body> req{http::verb::get, path, 11};
  req.set(http::field::host, host);
  req.set(http::field::connection, "close");
  beast::flat_buffer buf;
  http::response_parser<http::string_body> parser;
  stream.async_connect({addr, port}, [&](const boost::system::error_code& e) {
    if (e)
      return fail("connect", e);
    http::async_write(stream, req, [&](const boost::system::error_code& e, size_t) {
      if (e)
        return fail("write", e);
      async_read_response(stream, buf, parser, [&](const boost::system::error_code& e, size_t) {
        if (e)
          return fail("read", e);
        auto& res = parser.get();
        out = HttpGetResponse{static_cast<int>(res.result_int()), std::move(res.body())};
      });
    });
  });
  io.run();
  return out;
}

}  // namespace kv::core
