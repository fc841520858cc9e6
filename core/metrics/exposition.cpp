#include "core/metrics/exposition.hpp"

#include <charconv>
#include <cmath>

namespace kv::core::metrics {
namespace {

bool is_letter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

}  // namespace

bool valid_metric_name(std::string_view name) {
  if (name.empty() || is_digit(name[0]))
    return false;
  for (char c : name)
    if (!is_letter(c) && !is_digit(c) && c != '_' && c != ':')
      return false;
  return true;
}

bool valid_label_name(std::string_view name) {
  if (name.empty() || is_digit(name[0]) || name.starts_with("__"))
    return false;
  for (char c : name)
    if (!is_letter(c) && !is_digit(c) && c != '_')
      return false;
  return true;
}

std::string escape_help(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string format_value(double v) {
  if (std::isnan(v))
    return "NaN";
  if (std::isinf(v))
    return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  // Counters read better as "1000000" than as "1e+06"; doubles hold these integers exactly.
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed, 0);
    return std::string(buf, end);
  }
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);  // shortest round-trip
  return std::string(buf, end);
}

std::string render_labels(const Labels& labels) {
  if (labels.empty())
    return {};
  std::string out = "{";
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i)
      out += ',';
    out += labels[i].first;
    out += "=\"";
    out += escape_label_value(labels[i].second);
    out += '"';
  }
  out += '}';
  return out;
}

}  // namespace kv::core::metrics
