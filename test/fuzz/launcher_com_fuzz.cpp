// The handler <-> launcher command socket (launcher_com/protocol.hpp): the input is a byte stream
// as read from the socket, fed to the FrameReader in two pieces (so frames split across reads are
// exercised), and every body is decoded. A decoded message must encode to a body that decodes
// to the same message, and frame() must give back that body through a FrameReader. The whole
// input is also decoded as one body, so message decoding is fuzzed without the framing.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "launcher_com/protocol.hpp"
#include "test/fuzz/check.hpp"

using namespace kv::launcher_com;
namespace fuzz = kv::fuzz;

namespace {

void round_trip(std::string_view body) {
  auto m = proto::decode(body);
  if (!m.ok())
    return;
  auto encoded = proto::encode(*m);
  auto again = proto::decode(encoded);
  fuzz::check(again.ok(), "encoded message does not decode",
              encoded + "\n" + (again.ok() ? "" : again.error().message));
  fuzz::check(proto::encode(*again) == encoded, "decode(encode(m)) differs from m", encoded);
  proto::FrameReader reader;
  reader.feed(proto::frame(*m));
  auto body_back = reader.next();
  fuzz::check(body_back.ok() && body_back->has_value() && **body_back == encoded,
              "frame() does not read back as the body", encoded);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  round_trip(bytes);
  proto::FrameReader reader;
  const size_t half = size / 2;
  for (auto piece : {bytes.substr(0, half), bytes.substr(half)}) {
    reader.feed(piece);
    for (;;) {
      auto body = reader.next();
      if (!body.ok())
        return 0;  // garbage: the connection is dropped
      if (!body->has_value())
        break;
      fuzz::check(!(*body)->empty() && (*body)->size() <= proto::kMaxFrameBytes,
                  "FrameReader gave a body outside 1..kMaxFrameBytes");
      round_trip(**body);
    }
  }
  return 0;
}
