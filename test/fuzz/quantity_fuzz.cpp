// api/v1 quantities: whatever parses must print (to_string and canonical) as text that parses
// back to the same amount with a stable canonical form, and value()/milli_value() must not
// overflow.

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
    // A binary amount that is not a multiple of 1024 prints without a suffix (as Kubernetes
    // does) and reads back as decimal, whose canonical spelling differs ("2886896198464000" ->
    // "2886896198464k"): the spelling is stable within a format, and after one round in any case.
    if (back->format() == q->format())
      fuzz::check(back->canonical() == q->canonical(), "canonical form is not stable",
                  std::string(text) + " -> " + printed);
    auto again = api::v1::parse_quantity(back->canonical());
    fuzz::check(again.ok() && again->canonical() == back->canonical(),
                "canonical form is not stable after a round", std::string(text) + " -> " + printed);
  }
  return 0;
}
