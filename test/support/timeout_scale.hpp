#pragma once

#include <chrono>
#include <cstdlib>

namespace kv::test {

// KV_E2E_TIMEOUT_SCALE (default 1): the one factor every e2e and integration deadline is
// multiplied by on a slow machine (docs/e2e.md "Time bounds and clean-up").
inline double timeout_scale() {
  const char* s = std::getenv("KV_E2E_TIMEOUT_SCALE");
  double f = s ? std::atof(s) : 1.0;
  return f > 0 ? f : 1.0;
}

// `d` multiplied by timeout_scale().
template <class Rep, class Period>
std::chrono::milliseconds scaled(std::chrono::duration<Rep, Period> d) {
  return std::chrono::milliseconds(static_cast<std::chrono::milliseconds::rep>(
      std::chrono::duration_cast<std::chrono::milliseconds>(d).count() * timeout_scale()));
}

}  // namespace kv::test
