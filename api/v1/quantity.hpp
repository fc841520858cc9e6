#pragma once
// Kubernetes resource quantities ("1Gi", "512M", "100m", "1e3") with the semantics of
// k8s.io/apimachinery/pkg/api/resource.Quantity (checked against v0.34): the same grammar, the same
// rejections, the same rounding (values finer than 1n round up to 1n), the same canonical form on
// output, and the same cache of the user's spelling when it already is canonical.

#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace kv::api::v1 {

class Quantity {
 public:
  // How the quantity is written back: the format of the suffix it was parsed with.
  enum class Format {
    decimal_exponent,  // 1e3, 12E-3
    binary_si,         // Ki Mi Gi Ti Pi Ei
    decimal_si,        // n u m "" k M G T P E
  };

  // Zero ("0").
  Quantity() = default;
  // An integer amount written in the given format, like resource.NewQuantity(v, format).
  static Quantity from_int(int64_t v, Format format = Format::decimal_si);
  // v / 1000, like resource.NewMilliQuantity(v, DecimalSI).
  static Quantity from_milli(int64_t v);

  // ceil(q) as Kubernetes' Value() rounds (away from zero); saturates at the int64 limits where
  // Kubernetes would overflow.
  int64_t value() const;
  // ceil(q * 1000), as MilliValue(); saturates likewise.
  int64_t milli_value() const;

  Format format() const { return format_; }
  bool is_zero() const { return mantissa_ == 0; }
  // -1, 0 or 1.
  int sign() const;
  // Numeric comparison: -1, 0, 1 (format and spelling do not matter).
  int compare(const Quantity& other) const;
  bool operator==(const Quantity& other) const { return compare(other) == 0; }

  // The serialized form Kubernetes writes: the original spelling when it was canonical, else the
  // canonical form ("1024Mi" -> "1Gi", "0.5" -> "500m", "1000" -> "1k").
  std::string to_string() const;
  // Always the canonical form.
  std::string canonical() const;

 private:
  friend core::Result<Quantity> parse_quantity(std::string_view text);
  __extension__ typedef __int128 Int128;

  // The amount is mantissa_ * 10^exponent_.
  Int128 mantissa_ = 0;
  int32_t exponent_ = 0;
  Format format_ = Format::decimal_si;
  std::string cached_;  // the user's spelling when it was canonical; else empty
};

// Parses like resource.ParseQuantity: optional sign, digits with an optional fraction, then a
// suffix. Errors (Errc::invalid) say what is allowed; surrounding spaces are rejected.
core::Result<Quantity> parse_quantity(std::string_view text);

}  // namespace kv::api::v1
