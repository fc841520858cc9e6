// api/v1 codec: JSON -> VirtualMachine / VirtualMachineInstance, the decoder every component runs
// on API objects. A decoded object must encode to JSON that decodes to the same object (encode
// is stable after one pass), and defaulting and validation must take whatever decodes.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "api/v1/codec.hpp"
#include "api/v1/defaults.hpp"
#include "api/v1/validation.hpp"
#include "core/json.hpp"
#include "test/fuzz/check.hpp"

using namespace kv;

namespace {

// decode -> encode -> decode -> encode: the two encodings must match.
template <typename T, typename Decode>
void round_trip(const T& decoded, Decode decode) {
  auto first = api::v1::to_json_string(decoded);
  auto doc = core::json::parse(first);
  fuzz::check(doc.ok(), "encoded object does not parse", first);
  auto again = decode(*doc);
  fuzz::check(again.ok(), "encoded object does not decode",
              first + "\n" + (again.ok() ? "" : again.error().message));
  auto second = api::v1::to_json_string(*again);
  fuzz::check(second == first, "decode(encode(x)) differs from x", first + "\n" + second);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto doc = core::json::parse(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!doc.ok())
    return 0;
  auto kind = core::json::get_string(*doc, "kind").value_or("");
  if (kind == "VirtualMachine") {
    auto vm = api::v1::decode_vm(*doc);
    if (!vm.ok())
      return 0;
    round_trip(*vm, [](const core::json::Value& v) { return api::v1::decode_vm(v); });
    auto defaulted = api::v1::with_defaults(*vm);
    (void)api::v1::validate(defaulted);
    (void)api::v1::validate(*vm);  // validation is total even without defaults
  } else {
    auto vmi = api::v1::decode_vmi(*doc);
    if (!vmi.ok())
      return 0;
    round_trip(*vmi, [](const core::json::Value& v) { return api::v1::decode_vmi(v); });
    auto defaulted = api::v1::with_defaults(*vmi);
    (void)api::v1::validate(defaulted);
    (void)api::v1::validate(*vmi);
  }
  return 0;
}
