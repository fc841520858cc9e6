#pragma once
// Command-line flags for the components' main(): `--name VALUE` and `--name=VALUE`, -h/--help, and
// errors that name the flag and what is allowed. Each main registers where a flag's value goes,
// then calls parse(); everything else about a component lives in its library.

#include <functional>
#include <map>
#include <string>

#include "core/result.hpp"

namespace kv::core {

class Flags {
 public:
  // usage: the text printed for --help and after an error.
  Flags(std::string program, std::string usage);

  // A flag whose value is stored as given.
  void text(const std::string& name, std::string* out);
  // An integer in [min, max].
  void integer(const std::string& name, long long min, long long max,
               std::function<void(long long)> set);
  // true/false (also 1/0, yes/no), as `--name=false` or `--name false`; a bare `--name` is true.
  void boolean(const std::string& name, bool* out);

  enum class Outcome { run, help };
  // Parses argv[1..]: Outcome::help when -h/--help was given (the caller prints usage() and
  // exits 0); an Errc::invalid error naming the flag on any bad or unknown flag.
  Result<Outcome> parse(int argc, const char* const* argv) const;

  const std::string& usage() const { return usage_; }
  // Prints "<program>: <message>" and the usage on stderr and exits 64 (EX_USAGE).
  [[noreturn]] void exit_with_usage_error(const std::string& message) const;
  // parse() for main(): prints the usage and exits on --help (0) or a bad flag (64).
  void parse_or_exit(int argc, const char* const* argv) const;

 private:
  struct Flag {
    bool bare_allowed = false;  // booleans may stand alone
    std::function<Status(const std::string& name, const std::string& value)> set;
  };
  std::string program_;
  std::string usage_;
  std::map<std::string, Flag> flags_;
};

}  // namespace kv::core
