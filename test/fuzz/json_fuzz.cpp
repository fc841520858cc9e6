// core/json: parse, then serialize (compact and pretty) and parse again. Whatever parses must
// serialize to text that parses back to an equal value, and compact output must be stable.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/json.hpp"
#include "test/fuzz/check.hpp"

using namespace kv;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto doc = core::json::parse(text);
  if (!doc.ok())
    return 0;
  auto compact = core::json::to_string(*doc);
  auto again = core::json::parse(compact);
  fuzz::check(again.ok(), "compact output does not parse", compact);
  fuzz::check(core::json::equal(*doc, *again), "compact round trip changed the value", compact);
  fuzz::check(core::json::to_string(*again) == compact, "compact output is not stable", compact);
  auto pretty = core::json::to_pretty_string(*doc);
  auto from_pretty = core::json::parse(pretty);
  fuzz::check(from_pretty.ok(), "pretty output does not parse", pretty);
  fuzz::check(core::json::equal(*doc, *from_pretty), "pretty round trip changed the value", pretty);
  return 0;
}
