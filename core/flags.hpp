#pragma once
// The command line of every program in the tree: the daemons' mains, virtctl and the tools.
// Each flag is registered once with its name, an optional short name, a value placeholder, a
// help line and its default (the bound variable's value at registration); --help is generated
// from the registrations. Flags are `--name VALUE`, `--name=VALUE`, `-n VALUE` or `-n=VALUE`;
// booleans stand alone or take `=true|false`. A program may declare positional arguments, or
// subcommands (`virtctl [global flags] COMMAND [flags] ARGS`) each with its own flags and
// arguments; the root's flags are then global, accepted anywhere on the line. Errors name the
// flag or argument and what is allowed.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "core/result.hpp"

namespace kv::core {

struct FlagSpec {
  std::string name = {};        // "--namespace"
  std::string short_name = {};  // "-n", or empty
  std::string value = {};  // the value's placeholder in the usage ("NS", "PATH"); booleans: none
  std::string help = {};   // one sentence for the usage
  // Shown as "(default: ...)" in the usage. Empty: the bound variable's value at registration
  // (nothing when that is empty, or false for a boolean).
  std::string shown_default = {};
  // Integers: what the number is, in errors ("a TCP port"); empty: "an integer".
  std::string allowed = {};
};

// A positional argument, for the usage and the arity check.
struct ArgSpec {
  std::string name = {};  // "NAME", "vm|vmi", "FILE..."
  std::string help =
      {};  // "the VirtualMachine name"; also the arity error of a one-argument command
};

class Flags {
 public:
  // How errors are worded and which boolean words are read: the tree's own programs (true/1/yes,
  // false/0/no), or upstream virtctl's cobra/pflag (Go's strconv.ParseBool words,
  // "unknown flag: --x", "... is not allowed: ...").
  enum class Style { plain, cobra };

  // summary: the first paragraph of the usage (may be empty).
  explicit Flags(std::string program, std::string summary = "", Style style = Style::plain);
  Flags(Flags&&) noexcept;
  Flags& operator=(Flags&&) noexcept;
  ~Flags();

  // A flag whose value is stored as given.
  void text(FlagSpec spec, std::string* out);
  // true/false; a bare `--name` is true.
  void boolean(FlagSpec spec, bool* out);
  // An integer in [min, max], handed to set.
  void integer(FlagSpec spec, long long min, long long max, std::function<void(long long)> set);
  // An integer in [min, max] stored in *out: any integral type, a double (whole numbers) or a
  // std::chrono::duration (counted in its own unit).
  template <class T>
  void integer(FlagSpec spec, T* out, long long min, long long max);
  // A value checked and stored by set, whose error is reported as it is (it should name the flag).
  void value(FlagSpec spec, std::function<Status(const std::string& value)> set);

  // Positional arguments, in order. With none declared (and no subcommands) a word on the command
  // line is an error; a repeated argument ("FILE...") takes one or more and must come last.
  void argument(ArgSpec spec);
  void arguments(ArgSpec spec);

  // A subcommand with its own flags and arguments (register them on the returned object, which
  // lives as long as this one); this object's flags become global flags. Also adds
  // `help [COMMAND]`. summary: one line for the list of commands; description: the command's
  // usage (defaults to the summary).
  Flags& command(const std::string& name, const std::string& summary,
                 const std::string& description = "");

  enum class Outcome { run, help };
  struct Parsed {
    Outcome outcome = Outcome::run;
    std::string command;            // the subcommand (help: the topic); empty: none
    std::vector<std::string> args;  // the positional arguments (after the command)
  };
  // Parses argv[1..]. Outcome::help when -h/--help (or the help command, or no command at all)
  // was given: the caller prints usage(parsed.command). Errc::invalid naming the flag or
  // argument on anything else that does not fit the registrations.
  Result<Parsed> parse(int argc, const char* const* argv) const;
  Result<Parsed> parse(const std::vector<std::string>& args) const;  // args without argv[0]

  // The usage of the program, or of one of its commands; generated from the registrations.
  std::string usage(const std::string& command = "") const;
  // Prints "<program>: <message>" and the usage on stderr and exits with status (64: EX_USAGE).
  [[noreturn]] void exit_with_usage_error(const std::string& message, int status = 64) const;
  // parse() for main(): prints the usage and exits on --help (0) or a bad flag or argument
  // (usage_error_status).
  Parsed parse_or_exit(int argc, const char* const* argv, int usage_error_status = 64) const;

 private:
  struct Flag {
    FlagSpec spec;
    bool boolean = false;
    std::function<Status(const std::string& value)> set;
  };
  void add(FlagSpec spec, bool boolean, const std::string& default_value,
           std::function<Status(const std::string& value)> set);
  const Flag* find(const std::string& name) const;
  const Flag* find_anywhere(const std::string& name) const;
  bool takes_words() const;
  Result<Parsed> parse_flat(const std::vector<std::string>& args) const;
  Result<Parsed> parse_commands(const std::vector<std::string>& args) const;
  Status check_arity(const std::vector<std::string>& args) const;
  std::string flag_table(const std::string& title) const;
  std::string synopsis() const;

  std::string program_;
  std::string summary_;
  std::string description_;  // a command's usage text (empty: its summary)
  Style style_;
  bool is_command_ = false;
  std::vector<Flag> flags_;  // in registration order, as the usage lists them
  std::vector<ArgSpec> args_;
  bool repeated_ = false;  // the last argument takes one or more
  std::map<std::string, std::unique_ptr<Flags>> commands_;
};

template <class T>
void Flags::integer(FlagSpec spec, T* out, long long min, long long max) {
  std::string current;
  if constexpr (std::is_floating_point_v<T>) {
    current = std::to_string(static_cast<long long>(*out));
  } else if constexpr (std::is_integral_v<T>) {
    current = std::to_string(*out);
  } else {
    current = std::to_string(out->count());
  }
  if (spec.shown_default.empty())
    spec.shown_default = current;
  integer(std::move(spec), min, max, [out](long long n) { *out = static_cast<T>(n); });
}

}  // namespace kv::core
