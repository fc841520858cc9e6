#include "core/utf8.hpp"

namespace kv::core {

std::optional<size_t> invalid_utf8_offset(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      ++i;
      continue;
    }
    // The sequence's length and the range its second byte must be in (RFC 3629 section 4).
    size_t n = 0;
    unsigned char lo = 0x80, hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) {
      n = 2;
    } else if (b >= 0xe0 && b <= 0xef) {
      n = 3;
      lo = b == 0xe0 ? 0xa0 : 0x80;  // no overlong forms
      hi = b == 0xed ? 0x9f : 0xbf;  // no surrogates
    } else if (b >= 0xf0 && b <= 0xf4) {
      n = 4;
      lo = b == 0xf0 ? 0x90 : 0x80;  // no overlong forms
      hi = b == 0xf4 ? 0x8f : 0xbf;  // nothing above U+10FFFF
    } else {
      return i;
    }
    if (s.size() - i < n)
      return i;
    for (size_t k = 1; k < n; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      if (k == 1 ? (c < lo || c > hi) : (c < 0x80 || c > 0xbf))
        return i;
    }
    i += n;
  }
  return std::nullopt;
}

}  // namespace kv::core
