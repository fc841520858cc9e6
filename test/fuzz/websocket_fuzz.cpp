// WebSocket sessions as our servers and clients run them. The framing is Beast's (no frame code of
// our own exists in the tree); this target drives it the way the tree does, over an in-memory
// stream that replays the input as what the peer sent:
//  - server (input starting with a method): core/serve reads the upgrade request with Beast's
//    request parser and hands the connection over with the bytes read past it (Upgraded.buffer);
//    the handler's and virt-api's sessions check websocket::is_upgrade, accept with the
//    plain.kubevirt.io subprotocol and read messages (masked client frames, fragments, control
//    frames, close);
//  - client (input whose first byte has the high bit set, as a final frame's has): after a real
//    handshake, core/kube/websocket's side: unmasked server frames, as virtctl console/vnc read.

#include <boost/beast/_experimental/test/stream.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "test/fuzz/check.hpp"

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace asio = boost::asio;

namespace {

// Reads messages until the stream ends or breaks; every message is whole (not a fragment).
template <typename Ws>
void read_messages(Ws& ws) {
  for (;;) {
    beast::flat_buffer buf;
    beast::error_code ec;
    ws.read(buf, ec);
    if (ec)
      return;
    kv::fuzz::check(ws.is_message_done(), "a read returned part of a message");
  }
}

void server(std::string_view bytes) {
  http::request_parser<http::string_body> p;
  p.body_limit(1 << 20);
  beast::error_code ec;
  auto used = p.put(asio::buffer(bytes.data(), bytes.size()), ec);
  if (ec || !p.is_done() || !websocket::is_upgrade(p.get()))
    return;
  bytes.remove_prefix(used);
  asio::io_context io;
  websocket::stream<beast::test::stream> ws(io, beast::string_view(bytes.data(), bytes.size()));
  ws.set_option(websocket::stream_base::decorator([](websocket::response_type& res) {
    res.set(http::field::sec_websocket_protocol, "plain.kubevirt.io");
  }));
  ws.binary(true);
  ws.accept(p.release(), ec);
  if (ec)
    return;
  read_messages(ws);
}

void client(std::string_view bytes) {
  // A real handshake first (Beast's server on the other end computes the accept key the client
  // checks), then the input arrives as what the server sent after it, and the server hangs up.
  asio::io_context io;
  beast::test::stream to_server(io), to_client(io);
  to_server.connect(to_client);
  websocket::stream<beast::test::stream&> ws(to_server);
  ws.set_option(websocket::stream_base::decorator([](websocket::request_type& req) {
    req.set(http::field::sec_websocket_protocol, "plain.kubevirt.io");
  }));
  beast::error_code handshake_ec = asio::error::in_progress;
  ws.async_handshake(
      "apiserver",
      "/apis/subresources.kubevirt.io/v1/namespaces/ns/virtualmachineinstances/vm1/console",
      [&](beast::error_code ec) { handshake_ec = ec; });
  io.poll();
  websocket::stream<beast::test::stream&> peer(to_client);
  beast::error_code ec;
  peer.accept(ec);
  kv::fuzz::check(!ec, "the in-memory server did not accept the handshake");
  io.restart();
  io.poll();
  kv::fuzz::check(!handshake_ec, "the client's handshake did not complete");
  to_server.append(beast::string_view(bytes.data(), bytes.size()));
  to_server.close_remote();
  read_messages(ws);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  // An upgrade request starts with a method; anything else is taken as a server's frames (a
  // frame's first byte is FIN/RSV/opcode, 0x81 or 0x82 for whole text or binary messages).
  if (!bytes.empty() && static_cast<unsigned char>(bytes[0]) >= 0x80)
    client(bytes);
  else
    server(bytes);
  return 0;
}
