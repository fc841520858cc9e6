#include "core/flags.hpp"

#include <cstdio>
#include <cstdlib>
#include <utility>

namespace kv::core {

Flags::Flags(std::string program, std::string usage)
    : program_(std::move(program)), usage_(std::move(usage)) {}

void Flags::text(const std::string& name, std::string* out) {
  flags_[name] = Flag{false, [out](const std::string&, const std::string& v) -> Status {
                        *out = v;
                        return {};
                      }};
}

void Flags::integer(const std::string& name, long long min, long long max,
                    std::function<void(long long)> set) {
  flags_[name] = Flag{
      false,
      [min, max, set = std::move(set)](const std::string& flag, const std::string& v) -> Status {
        char* end = nullptr;
        long long n = std::strtoll(v.c_str(), &end, 10);
        if (v.empty() || *end != '\0' || n < min || n > max) {
          return Error(Errc::invalid, flag + ": \"" + v + "\" is not an integer from " +
                                          std::to_string(min) + " to " + std::to_string(max));
        }
        set(n);
        return {};
      }};
}

void Flags::boolean(const std::string& name, bool* out) {
  flags_[name] =
      Flag{true, [out](const std::string& flag, const std::string& v) -> Status {
             if (v == "true" || v == "1" || v == "yes") {
               *out = true;
             } else if (v == "false" || v == "0" || v == "no") {
               *out = false;
             } else {
               return Error(Errc::invalid, flag + ": \"" + v + "\" is not true or false");
             }
             return {};
           }};
}

Result<Flags::Outcome> Flags::parse(int argc, const char* const* argv) const {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help")
      return Outcome::help;
    std::string value;
    bool has_value = false;
    if (auto eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      has_value = true;
    }
    auto it = flags_.find(arg);
    if (it == flags_.end() && arg.rfind("-", 0) != 0)
      return Error(Errc::invalid, "unexpected argument \"" + arg + "\" (flags only)");
    if (it == flags_.end())
      return Error(Errc::invalid, "unknown flag " + arg);
    if (!has_value) {
      if (it->second.bare_allowed) {
        // `--flag false` as well as a bare `--flag`: a following true/false word is its value.
        std::string next = i + 1 < argc ? argv[i + 1] : "";
        bool word = next == "true" || next == "false" || next == "1" || next == "0" ||
                    next == "yes" || next == "no";
        // None of our programs takes positional arguments: a word after a boolean flag is its
        // (wrong) value, and the message should say so rather than call it an unknown flag.
        if (!word && !next.empty() && next[0] != '-')
          return Error(Errc::invalid, arg + ": \"" + next + "\" is not true or false");
        value = word ? argv[++i] : "true";
      } else if (i + 1 >= argc) {
        return Error(Errc::invalid, arg + ": needs a value");
      } else {
        value = argv[++i];
      }
    }
    KV_CHECK(it->second.set(arg, value));
  }
  return Outcome::run;
}

void Flags::exit_with_usage_error(const std::string& message) const {
  std::fprintf(stderr, "%s: %s\n%s", program_.c_str(), message.c_str(), usage_.c_str());
  std::exit(64);
}

void Flags::parse_or_exit(int argc, const char* const* argv) const {
  auto r = parse(argc, argv);
  if (!r.ok())
    exit_with_usage_error(r.error().message);
  if (*r == Outcome::help) {
    std::fputs(usage_.c_str(), stdout);
    std::exit(0);
  }
}

}  // namespace kv::core
