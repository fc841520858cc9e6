#include "api/v1/quantity.hpp"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <regex>
#include <string>
#include <vector>

namespace kv::api::v1 {
namespace {

__extension__ typedef __int128 Int128;
__extension__ typedef unsigned __int128 UInt128;

constexpr std::string_view kGrammar =
    "a number with an optional fraction and sign, then a suffix: Ki Mi Gi Ti Pi Ei (binary), n u "
    "m k M G T P E (decimal) or e<N>/E<N> (exponent), e.g. 1Gi, 512M, 100m, 1.5, 1e3";

core::Error bad(std::string_view text, std::string_view why) {
  return core::Error{core::Errc::invalid, "\"" + std::string(text) + "\": " + std::string(why) +
                                              "; allowed: " + std::string(kGrammar)};
}

// A minimal unsigned big integer (base 2^32 limbs, little-endian) for the inputs Kubernetes sends
// through inf.Dec: more digits than int64 holds, or finer than 1n.
class BigUint {
 public:
  explicit BigUint(std::string_view digits) {
    for (char c : digits) {
      mul_add(10, static_cast<uint32_t>(c - '0'));
    }
  }
  explicit BigUint(UInt128 v) {
    while (v != 0) {
      limbs_.push_back(static_cast<uint32_t>(v));
      v >>= 32;
    }
  }
  bool is_zero() const { return limbs_.empty(); }
  void mul_add(uint32_t m, uint32_t add) {
    uint64_t carry = add;
    for (auto& l : limbs_) {
      uint64_t t = static_cast<uint64_t>(l) * m + carry;
      l = static_cast<uint32_t>(t);
      carry = t >> 32;
    }
    if (carry != 0) {
      limbs_.push_back(static_cast<uint32_t>(carry));
    }
  }
  // Divides in place; returns the remainder.
  uint32_t div(uint32_t d) {
    uint64_t rem = 0;
    for (size_t i = limbs_.size(); i-- > 0;) {
      uint64_t cur = (rem << 32) | limbs_[i];
      limbs_[i] = static_cast<uint32_t>(cur / d);
      rem = cur % d;
    }
    trim();
    return static_cast<uint32_t>(rem);
  }
  int compare(const BigUint& o) const {
    if (limbs_.size() != o.limbs_.size()) {
      return limbs_.size() < o.limbs_.size() ? -1 : 1;
    }
    for (size_t i = limbs_.size(); i-- > 0;) {
      if (limbs_[i] != o.limbs_[i]) {
        return limbs_[i] < o.limbs_[i] ? -1 : 1;
      }
    }
    return 0;
  }
  // Removes factors of ten into `exponent`.
  void strip_tens(int64_t& exponent) {
    while (!is_zero()) {
      BigUint copy = *this;
      if (copy.div(10) != 0) {
        break;
      }
      *this = std::move(copy);
      ++exponent;
    }
  }
  // The value when it fits in 120 bits (headroom for the canonical x100).
  std::optional<Int128> to_int128() const {
    if (limbs_.size() > 4 || (limbs_.size() == 4 && (limbs_[3] >> 24) != 0)) {
      return std::nullopt;
    }
    UInt128 v = 0;
    for (size_t i = limbs_.size(); i-- > 0;) {
      v = (v << 32) | limbs_[i];
    }
    return static_cast<Int128>(v);
  }

 private:
  void trim() {
    while (!limbs_.empty() && limbs_.back() == 0) {
      limbs_.pop_back();
    }
  }
  std::vector<uint32_t> limbs_;
};

struct Scan {
  bool positive = true;
  std::string_view value;  // sign, digits, fraction: what inf.Dec would parse
  std::string_view num;    // integer digits without leading zeros ("0" when none)
  std::string_view denom;  // fraction digits
  std::string_view suffix;
};

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// The scanner of resource.parseQuantityString, step for step (its quirks included: "1.G" is
// accepted, a lone sign reads as zero).
std::optional<Scan> scan(std::string_view s) {
  Scan r;
  size_t pos = 0;
  const size_t end = s.size();
  if (pos < end && (s[0] == '-' || s[0] == '+')) {
    r.positive = s[0] != '-';
    ++pos;
  }
  while (pos < end && s[pos] == '0') {
    ++pos;
  }
  if (pos >= end) {
    r.num = "0";
    r.value = "0";
    return r;
  }
  size_t i = pos;
  while (i < end && is_digit(s[i])) {
    ++i;
  }
  r.num = s.substr(pos, i - pos);
  if (i >= end) {
    r.value = s;
    return r;
  }
  pos = i;
  if (r.num.empty()) {
    r.num = "0";
  }
  if (s[pos] == '.') {
    ++pos;
    i = pos;
    while (i < end && is_digit(s[i])) {
      ++i;
    }
    r.denom = s.substr(pos, i - pos);
    if (i >= end) {
      r.value = s;
      return r;
    }
    pos = i;
  }
  r.value = s.substr(0, pos);
  const size_t suffix_start = pos;
  constexpr std::string_view kSuffixChars = "eEinumkKMGTP";
  while (pos < end && kSuffixChars.find(s[pos]) != std::string_view::npos) {
    ++pos;
  }
  if (pos >= end) {
    r.suffix = s.substr(suffix_start);
    return r;
  }
  if (s[pos] == '-' || s[pos] == '+') {
    ++pos;
  }
  while (pos < end && is_digit(s[pos])) {
    ++pos;
  }
  if (pos < end) {
    return std::nullopt;
  }
  r.suffix = s.substr(suffix_start);
  return r;
}

struct Suffix {
  int base;
  int32_t exponent;
  Quantity::Format format;
};

std::optional<int64_t> parse_go_int64(std::string_view s) {
  // strconv.ParseInt(s, 10, 64): optional sign, at least one digit, no overflow.
  size_t i = 0;
  bool neg = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    neg = s[i] == '-';
    ++i;
  }
  if (i >= s.size()) {
    return std::nullopt;
  }
  UInt128 v = 0;
  for (; i < s.size(); ++i) {
    if (!is_digit(s[i])) {
      return std::nullopt;
    }
    v = v * 10 + static_cast<unsigned>(s[i] - '0');
    if (v > static_cast<UInt128>(std::numeric_limits<int64_t>::max()) + 1) {
      return std::nullopt;
    }
  }
  if (!neg && v > static_cast<UInt128>(std::numeric_limits<int64_t>::max())) {
    return std::nullopt;
  }
  return neg ? -static_cast<int64_t>(v - 1) - 1 : static_cast<int64_t>(v);
}

std::optional<Suffix> interpret(std::string_view s) {
  using F = Quantity::Format;
  static constexpr std::pair<std::string_view, int32_t> kDecimal[] = {
      {"n", -9}, {"u", -6}, {"m", -3}, {"", 0},   {"k", 3},
      {"M", 6},  {"G", 9},  {"T", 12}, {"P", 15}, {"E", 18},
  };
  static constexpr std::pair<std::string_view, int32_t> kBinary[] = {
      {"Ki", 10}, {"Mi", 20}, {"Gi", 30}, {"Ti", 40}, {"Pi", 50}, {"Ei", 60},
  };
  for (const auto& [name, exp] : kDecimal) {
    if (name == s) {
      return Suffix{10, exp, F::decimal_si};
    }
  }
  for (const auto& [name, exp] : kBinary) {
    if (name == s) {
      return Suffix{2, exp, F::binary_si};
    }
  }
  if (s.size() > 1 && (s[0] == 'e' || s[0] == 'E')) {
    auto v = parse_go_int64(s.substr(1));
    if (!v) {
      return std::nullopt;
    }
    return Suffix{10, static_cast<int32_t>(*v), F::decimal_exponent};  // Go truncates to int32
  }
  return std::nullopt;
}

std::string int128_to_string(Int128 v) {
  if (v == 0) {
    return "0";
  }
  bool neg = v < 0;
  UInt128 u = neg ? static_cast<UInt128>(-(v + 1)) + 1 : static_cast<UInt128>(v);
  std::string out;
  while (u != 0) {
    out.push_back(static_cast<char>('0' + static_cast<int>(u % 10)));
    u /= 10;
  }
  if (neg) {
    out.push_back('-');
  }
  std::reverse(out.begin(), out.end());
  return out;
}

Int128 pow10(int n) {
  Int128 r = 1;
  for (int i = 0; i < n; ++i) {
    r *= 10;
  }
  return r;
}

constexpr Int128 kMaxInt64 = std::numeric_limits<int64_t>::max();

int64_t saturate(Int128 v) {
  if (v > kMaxInt64) {
    return std::numeric_limits<int64_t>::max();
  }
  if (v < -kMaxInt64 - 1) {
    return std::numeric_limits<int64_t>::min();
  }
  return static_cast<int64_t>(v);
}

// ceil(|m| * 10^exp / 10^scale) with the sign of m (rounds away from zero like Kubernetes'
// ScaledValue), saturated to int64.
int64_t scaled_value(Int128 m, int64_t exp, int scale) {
  if (m == 0) {
    return 0;
  }
  const bool neg = m < 0;
  Int128 mag = neg ? -m : m;
  int64_t shift = exp - scale;
  Int128 r;
  if (shift >= 0) {
    r = mag;
    for (int64_t i = 0; i < shift; ++i) {
      if (r > kMaxInt64) {
        break;  // saturates below
      }
      r *= 10;
    }
  } else {
    if (-shift > 38) {
      r = 1;  // any non-zero amount rounds up to one unit
    } else {
      Int128 d = pow10(static_cast<int>(-shift));
      r = mag / d + (mag % d != 0 ? 1 : 0);
    }
  }
  return saturate(neg ? -r : r);
}

}  // namespace

Quantity Quantity::from_int(int64_t v, Format format) {
  Quantity q;
  q.mantissa_ = v;
  q.exponent_ = 0;
  q.format_ = format;
  return q;
}

Quantity Quantity::from_milli(int64_t v) {
  Quantity q;
  q.mantissa_ = v;
  q.exponent_ = -3;
  q.format_ = Format::decimal_si;
  return q;
}

int Quantity::sign() const {
  return mantissa_ > 0 ? 1 : (mantissa_ < 0 ? -1 : 0);
}

int64_t Quantity::value() const {
  return scaled_value(mantissa_, exponent_, 0);
}

int64_t Quantity::milli_value() const {
  return scaled_value(mantissa_, exponent_, -3);
}

int Quantity::compare(const Quantity& o) const {
  if (sign() != o.sign()) {
    return sign() < o.sign() ? -1 : 1;
  }
  if (sign() == 0) {
    return 0;
  }
  // Normalize both (strip trailing zeros), then compare magnitudes by decimal length first.
  auto norm = [](Int128 m, int64_t e) {
    Int128 mag = m < 0 ? -m : m;
    while (mag % 10 == 0) {
      mag /= 10;
      ++e;
    }
    std::string digits = int128_to_string(mag);
    return std::pair{digits, e};
  };
  auto [da, ea] = norm(mantissa_, exponent_);
  auto [db, eb] = norm(o.mantissa_, o.exponent_);
  int mag_cmp;
  int64_t top_a = static_cast<int64_t>(da.size()) + ea;
  int64_t top_b = static_cast<int64_t>(db.size()) + eb;
  if (top_a != top_b) {
    mag_cmp = top_a < top_b ? -1 : 1;
  } else {
    // Same magnitude: compare digit strings padded to the same length.
    size_t n = std::max(da.size(), db.size());
    da.resize(n, '0');
    db.resize(n, '0');
    mag_cmp = da == db ? 0 : (da < db ? -1 : 1);
  }
  return sign() > 0 ? mag_cmp : -mag_cmp;
}

std::string Quantity::to_string() const {
  return cached_.empty() ? canonical() : cached_;
}

std::string Quantity::canonical() const {
  if (mantissa_ == 0) {
    return "0";
  }
  Format format = format_;
  if (format == Format::binary_si) {
    // Values in (-1024, 1024) and non-integers are written in decimal, as Kubernetes does.
    if (compare(from_int(-1024)) > 0 && compare(from_int(1024)) < 0) {
      format = Format::decimal_si;
    } else {
      bool integral = exponent_ >= 0;
      if (!integral) {
        Int128 d = exponent_ < -38 ? 0 : pow10(-exponent_);
        integral = d != 0 && mantissa_ % d == 0;
      }
      if (!integral) {
        format = Format::decimal_si;
      }
    }
  }
  if (format == Format::binary_si) {
    // Binary values are capped at int64 on parse, so the integer value fits.
    Int128 v = mantissa_;
    for (int32_t i = 0; i < exponent_; ++i) {
      v *= 10;
    }
    for (int32_t i = 0; i > exponent_; --i) {
      v /= 10;
    }
    int times = 0;
    while ((v >= 1024 || v <= -1024) && v % 1024 == 0) {
      v /= 1024;
      ++times;
    }
    static constexpr std::string_view kBinary[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
    return int128_to_string(v) + std::string(kBinary[times]);
  }
  Int128 m = mantissa_;
  int64_t e = exponent_;
  while ((m >= 10 || m <= -10) && m % 10 == 0) {
    m /= 10;
    ++e;
  }
  switch (e % 3) {
    case 1:
    case -2:
      m *= 10;
      e -= 1;
      break;
    case 2:
    case -1:
      m *= 100;
      e -= 2;
      break;
    default:
      break;
  }
  std::string number = int128_to_string(m);
  if (format == Format::decimal_si) {
    static constexpr std::pair<int64_t, std::string_view> kDecimal[] = {
        {-9, "n"}, {-6, "u"}, {-3, "m"}, {0, ""},   {3, "k"},
        {6, "M"},  {9, "G"},  {12, "T"}, {15, "P"}, {18, "E"},
    };
    for (const auto& [exp, name] : kDecimal) {
      if (exp == e) {
        return number + std::string(name);
      }
    }
  }
  if (e == 0) {
    return number;
  }
  return number + "e" + std::to_string(e);
}

core::Result<Quantity> parse_quantity(std::string_view text) {
  using F = Quantity::Format;
  if (text.empty()) {
    return bad(text, "empty");
  }
  // The API server checks quantity strings against this pattern (the OpenAPI schema Kubernetes
  // generates for resource.Quantity) before ParseQuantity sees them; it is what makes "-" and "+"
  // invalid, which ParseQuantity alone reads as zero.
  static const std::regex kPattern(
      R"(^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$)");
  if (!std::regex_match(text.begin(), text.end(), kPattern)) {
    return bad(text, "not a quantity");
  }
  if (text == "0") {
    Quantity q;
    q.cached_ = "0";
    return q;
  }
  auto sc = scan(text);
  if (!sc) {
    return bad(text, "not a quantity");
  }
  auto suffix = interpret(sc->suffix);
  if (!suffix) {
    return bad(text, "unknown suffix \"" + std::string(sc->suffix) + "\"");
  }

  const int64_t num_len = static_cast<int64_t>(sc->num.size());
  const int64_t denom_len = static_cast<int64_t>(sc->denom.size());
  int64_t precision = 0;
  int64_t scale = 0;
  int64_t multiplier = 1;
  if (suffix->format == F::binary_si) {
    if (suffix->exponent >= 0 && denom_len == 0) {
      multiplier = int64_t{1} << suffix->exponent;
      precision = 15 - num_len - suffix->exponent * 3 / 10 - 1;
    } else {
      precision = -1;
    }
  } else {
    scale = suffix->exponent;
    precision = 18 - (num_len + denom_len);
  }

  // Kubernetes' fast path: the amount fits an int64 mantissa at a scale no finer than 1n. The
  // user's spelling is kept when it already is canonical.
  if (precision >= 0) {
    scale -= denom_len;
    if (scale >= -9) {
      std::string shifted = std::string(sc->num) + std::string(sc->denom);
      auto value = parse_go_int64(shifted);
      if (!value) {
        return bad(text, "numeric part out of range");
      }
      Int128 product = static_cast<Int128>(*value) * multiplier;
      if (product <= kMaxInt64) {
        Quantity q;
        q.mantissa_ = sc->positive ? product : -product;
        q.exponent_ = static_cast<int32_t>(scale);
        q.format_ = suffix->format;
        bool keep = suffix->format == F::binary_si
                        ? (suffix->exponent % 10 == 0 && (*value & 0x07) != 0)
                        : (scale % 3 == 0 && !shifted.ends_with("000") && shifted[0] != '0');
        if (keep) {
          q.cached_ = std::string(text);
        }
        return q;
      }
    }
  }

  // The inf.Dec path: exact arithmetic, then round non-zero amounts up to a multiple of 1n, and
  // cap binary amounts at 2^63-1.
  std::string digits = std::string(sc->num) + std::string(sc->denom);
  BigUint amount(digits);
  int64_t exponent = -denom_len;  // amount * 10^exponent
  if (suffix->base == 10) {
    exponent += suffix->exponent;
  } else {
    for (int32_t i = 0; i < suffix->exponent; ++i) {
      amount.mul_add(2, 0);
    }
  }
  F format = suffix->format;
  if (!amount.is_zero()) {
    if (exponent < -9) {
      // Once every digit is shifted out the amount stays zero (and a remainder was seen), so
      // stop there: the exponent can be near -2^31 ("1e-2000000000"), a loop of billions.
      bool remainder = false;
      for (int64_t i = exponent; i < -9 && !amount.is_zero(); ++i) {
        remainder = amount.div(10) != 0 || remainder;
      }
      if (remainder) {
        amount.mul_add(1, 1);
      }
      exponent = -9;
    }
    if (format == F::binary_si) {
      // Compare amount * 10^exponent (exponent >= -9 here) with 2^63-1, scaled to nanos.
      BigUint nanos = amount;
      for (int64_t i = exponent; i > -9; --i) {
        nanos.mul_add(10, 0);
      }
      BigUint cap(static_cast<UInt128>(kMaxInt64) * 1000000000u);
      if (nanos.compare(cap) > 0) {
        amount = BigUint(static_cast<UInt128>(kMaxInt64));
        exponent = 0;
      }
      // Below one, a binary amount is written in decimal.
      BigUint one(static_cast<UInt128>(1000000000u));
      if (nanos.compare(one) < 0) {
        format = F::decimal_si;
      }
    }
  }
  amount.strip_tens(exponent);
  auto mantissa = amount.to_int128();
  if (!mantissa || exponent > std::numeric_limits<int32_t>::max() ||
      exponent < std::numeric_limits<int32_t>::min()) {
    return bad(text, "too many significant digits (at most 36 are supported)");
  }
  Quantity q;
  q.mantissa_ = sc->positive ? *mantissa : -*mantissa;
  q.exponent_ = static_cast<int32_t>(exponent);
  q.format_ = format;
  return q;
}

}  // namespace kv::api::v1
