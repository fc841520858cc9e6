#include "core/utf8.hpp"

#include <catch2/catch.hpp>

using kv::core::invalid_utf8_offset;

TEST_CASE("invalid_utf8_offset: where well-formed UTF-8 ends") {
  CHECK(invalid_utf8_offset("") == std::nullopt);
  CHECK(invalid_utf8_offset("plain ascii") == std::nullopt);
  CHECK(invalid_utf8_offset("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80") == std::nullopt);
  CHECK(invalid_utf8_offset("ab\xcf(") == 2u);           // a lead byte without its continuation
  CHECK(invalid_utf8_offset("ab\xc3") == 2u);            // cut short
  CHECK(invalid_utf8_offset("\xc0\xaf") == 0u);          // overlong '/'
  CHECK(invalid_utf8_offset("x\xed\xa0\x80") == 1u);     // a UTF-16 surrogate
  CHECK(invalid_utf8_offset("\xf4\x90\x80\x80") == 0u);  // above U+10FFFF
  CHECK(invalid_utf8_offset("\x80") == 0u);              // a lone continuation byte
}
