// core/yaml: YAML -> JSON as kubectl reads it, then JSON -> YAML -> JSON for every document, which
// yaml.hpp promises gives the same value (to_json(to_yaml(v)) == v).

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/json.hpp"
#include "core/yaml.hpp"
#include "test/fuzz/check.hpp"

using namespace kv;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto docs = core::yaml::to_json(text);
  if (!docs.ok())
    return 0;
  for (const auto& doc : *docs) {
    auto yaml = core::yaml::to_yaml(doc);
    auto back = core::yaml::to_json(yaml);
    fuzz::check(back.ok(), "to_yaml output does not parse", yaml);
    fuzz::check(back->size() == 1, "to_yaml output is not one document", yaml);
    fuzz::check(core::json::equal(doc, back->front()), "to_yaml round trip changed the value",
                core::json::to_string(doc) + "\n" + yaml);
  }
  return 0;
}
