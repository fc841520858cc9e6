#pragma once
// UTF-8 well-formedness, for the parsers whose libraries pass stray bytes through (yaml-cpp).

#include <cstddef>
#include <optional>
#include <string_view>

namespace kv::core {

// The offset of the first byte that is not part of well-formed UTF-8 (RFC 3629: no overlong
// forms, no surrogates, nothing above U+10FFFF), or nullopt when all of `s` is UTF-8.
std::optional<size_t> invalid_utf8_offset(std::string_view s);

}  // namespace kv::core
