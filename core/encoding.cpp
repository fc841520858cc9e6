#include "core/encoding.hpp"

#include <openssl/evp.h>

#include <cstdio>
#include <ctime>

namespace kv::core {

Result<std::string> base64_decode(std::string_view in) {
  std::string clean;
  clean.reserve(in.size());
  size_t pad = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    char ch = in[i];
    if (ch == ' ' || ch == '\n' || ch == '\r' || ch == '\t')
      continue;
    bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              ch == '+' || ch == '/';
    if (ch == '=') {
      ++pad;
    } else if (!ok || pad > 0) {
      return Error(Errc::invalid,
                   "invalid base64: unexpected character " +
                       (ok ? std::string("after padding") : "'" + std::string(1, ch) + "'") +
                       " at offset " + std::to_string(i));
    }
    clean += ch;
  }
  if (pad > 2 || (clean.size() - pad) % 4 == 1)
    return Error(Errc::invalid, "invalid base64: wrong length " + std::to_string(clean.size()));
  while (clean.size() % 4 != 0)
    clean += '=';
  size_t total_pad = 0;
  for (size_t i = clean.size(); i > 0 && clean[i - 1] == '='; --i)
    ++total_pad;
  std::string out(clean.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(clean.data()),
                          static_cast<int>(clean.size()));
  if (n < 0)
    return Error(Errc::invalid, "invalid base64");
  out.resize(static_cast<size_t>(n) - total_pad);
  return out;
}

std::string base64_encode(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

Result<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view s) {
  auto bad = [&] {
    return Error(Errc::invalid,
                 "\"" + std::string(s) + "\" is not an RFC 3339 time (like 2024-01-02T03:04:05Z)");
  };
  auto num = [&](size_t pos, size_t len, int& out) {
    if (pos + len > s.size())
      return false;
    out = 0;
    for (size_t i = pos; i < pos + len; ++i) {
      if (s[i] < '0' || s[i] > '9')
        return false;
      out = out * 10 + (s[i] - '0');
    }
    return true;
  };
  std::tm tm{};
  int y, mo, d, h, mi, sec;
  if (!num(0, 4, y) || s.size() < 20 || s[4] != '-' || !num(5, 2, mo) || s[7] != '-' ||
      !num(8, 2, d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !num(11, 2, h) ||
      s[13] != ':' || !num(14, 2, mi) || s[16] != ':' || !num(17, 2, sec))
    return bad();
  size_t pos = 19;
  long long frac_ns = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    long long scale = 100000000;
    size_t start = pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      frac_ns += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start)
      return bad();
  }
  long offset_s = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh, om;
    if (!num(pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' || !num(pos + 4, 2, om))
      return bad();
    offset_s = (oh * 3600 + om * 60) * (s[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return bad();
  }
  if (pos != s.size())
    return bad();
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  time_t t = ::timegm(&tm);
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::seconds(t - offset_s) + std::chrono::nanoseconds(frac_ns)));
}

namespace {
std::string format_time(std::chrono::system_clock::time_point t, bool micro) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  time_t secs = static_cast<time_t>(us / 1000000);
  long frac = static_cast<long>(us % 1000000);
  if (frac < 0) {
    frac += 1000000;
    --secs;
  }
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[64];
  size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out(buf, n);
  if (micro) {
    char f[16];
    std::snprintf(f, sizeof f, ".%06ld", frac);
    out += f;
  }
  return out + "Z";
}
}  // namespace

std::string format_rfc3339_micro(std::chrono::system_clock::time_point t) {
  return format_time(t, true);
}
std::string format_rfc3339(std::chrono::system_clock::time_point t) {
  return format_time(t, false);
}

}  // namespace kv::core
