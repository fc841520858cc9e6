// api/v1 quantities: whatever parses must print (to_string and canonical) as text that parses
// back to the same amount, and value()/milli_value() must not overflow.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "api/v1/quantity.hpp"
#include "test/fuzz/check.hpp"

using namespace kv;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto q = api::v1::parse_quantity(text);
  if (!q.ok())
    return 0;
  (void)q->value();
  (void)q->milli_value();
  for (const auto& printed : {q->to_string(), q->canonical()}) {
    auto back = api::v1::parse_quantity(printed);
    fuzz::check(back.ok(), "printed quantity does not parse", std::string(text) + " -> " + printed);
    fuzz::check(*back == *q, "printed quantity is another amount",
                std::string(text) + " -> " + printed);
    fuzz::check(back->canonical() == q->canonical(), "canonical form is not stable",
                std::string(text) + " -> " + printed);
  }
  return 0;
}
