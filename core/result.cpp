#include "core/result.hpp"

#include <cstring>

namespace kv::core {

std::string_view errc_name(Errc code) {
  switch (code) {
    case Errc::invalid:
      return "invalid";
    case Errc::not_found:
      return "not_found";
    case Errc::conflict:
      return "conflict";
    case Errc::exists:
      return "exists";
    case Errc::gone:
      return "gone";
    case Errc::unauthorized:
      return "unauthorized";
    case Errc::unavailable:
      return "unavailable";
    case Errc::timeout:
      return "timeout";
    case Errc::io:
      return "io";
    case Errc::parse:
      return "parse";
    case Errc::unsupported:
      return "unsupported";
    case Errc::internal:
      return "internal";
  }
  return "unknown";
}

std::string_view Error::get(std::string_view key) const {
  for (const auto& [k, v] : context) {
    if (k == key)
      return v;
  }
  return {};
}

std::string Error::to_string() const {
  std::string out = message;
  if (!context.empty()) {
    out += " (";
    for (size_t i = 0; i < context.size(); ++i) {
      if (i)
        out += ", ";
      out += context[i].first + "=" + context[i].second;
    }
    out += ")";
  }
  return out;
}

Error errno_error(std::string what, int err) {
  Error e(Errc::io, what + ": " + std::strerror(err));
  e.with("errno", std::to_string(err));
  return e;
}

}  // namespace kv::core
