// A small virt-api stand-in for the handler integration test: opens a VMI's console WebSocket on
// virt-handler's stream server with a client certificate, types a line, and waits until the
// console prints an expected text.
//
//   ws_console HOST:PORT PATH CA CERT KEY SEND EXPECT TIMEOUT_SECONDS
//
// Exit 0 when EXPECT was seen, 1 otherwise (the reason on stderr).
#include <sys/socket.h>

#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <chrono>
#include <cstdio>
#include <string>

#include "test/support/timeout_scale.hpp"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
using asio::ip::tcp;

int main(int argc, char** argv) {
  if (argc != 9) {
    std::fprintf(stderr, "usage: ws_console HOST:PORT PATH CA CERT KEY SEND EXPECT TIMEOUT\n");
    return 2;
  }
  std::string hostport = argv[1], path = argv[2], send = argv[6], expect = argv[7];
  auto colon = hostport.rfind(':');
  std::string host = hostport.substr(0, colon), port = hostport.substr(colon + 1);
  long timeout = std::strtol(argv[8], nullptr, 10);
  std::string seen;
  try {
    asio::io_context io;
    ssl::context ctx(ssl::context::tls_client);
    ctx.load_verify_file(argv[3]);
    ctx.set_verify_mode(ssl::verify_peer);
    ctx.use_certificate_file(argv[4], ssl::context::pem);
    ctx.use_private_key_file(argv[5], ssl::context::pem);
    websocket::stream<beast::ssl_stream<tcp::socket>> ws(io, ctx);
    auto& sock = beast::get_lowest_layer(ws);
    sock.connect(
        tcp::endpoint(asio::ip::make_address(host), static_cast<unsigned short>(std::stoi(port))));
    // Every read gives up after the timeout instead of hanging the test.
    timeval tv{timeout, 0};
    ::setsockopt(sock.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ws.next_layer().handshake(ssl::stream_base::client);
    ws.handshake(hostport, path);
    ws.binary(true);
    for (auto& c : send)
      if (c == '|')
        c = '\n';
    ws.write(asio::buffer(send));
    auto deadline =
        std::chrono::steady_clock::now() + kv::test::scaled(std::chrono::seconds(timeout));
    while (seen.find(expect) == std::string::npos) {
      if (std::chrono::steady_clock::now() > deadline) {
        std::fprintf(stderr, "ws_console: \"%s\" not seen within %ld s; got: %s\n", expect.c_str(),
                     timeout, seen.c_str());
        return 1;
      }
      beast::flat_buffer b;
      ws.read(b);
      seen += beast::buffers_to_string(b.data());
    }
    std::printf("%s\n", seen.c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ws_console: %s; got: %s\n", e.what(), seen.c_str());
    return 1;
  }
}
