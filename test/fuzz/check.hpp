#pragma once
// What a fuzz target asserts beyond "no sanitizer report": a property of the code under test
// (a round trip, an invariant). A failed check prints what was wrong and aborts, which libFuzzer
// reports as a crash and saves the input.

#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace kv::fuzz {

inline void check(bool ok, std::string_view what, std::string_view detail = {}) {
  if (ok)
    return;
  std::fprintf(stderr, "fuzz check failed: %.*s\n%.*s\n", static_cast<int>(what.size()),
               what.data(), static_cast<int>(detail.size()), detail.data());
  std::abort();
}

}  // namespace kv::fuzz
