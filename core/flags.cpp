#include "core/flags.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <optional>
#include <utility>

namespace kv::core {

namespace {

constexpr size_t kMaxLeftColumn = 30;  // longer flag names put their help on the next line
constexpr size_t kWidth = 100;

bool is_flag(const std::string& arg) {
  return arg.size() >= 2 && arg[0] == '-';
}

// "--name=value" -> name, value.
struct Token {
  std::string name, value;
  bool has_value = false;
};
Token split(const std::string& arg) {
  if (auto eq = arg.find('='); eq != std::string::npos)
    return {arg.substr(0, eq), arg.substr(eq + 1), true};
  return {arg, "", false};
}

std::optional<bool> bool_word(Flags::Style style, const std::string& v) {
  if (style == Flags::Style::plain) {
    if (v == "true" || v == "1" || v == "yes")
      return true;
    if (v == "false" || v == "0" || v == "no")
      return false;
    return std::nullopt;
  }
  // Go's strconv.ParseBool, as pflag.
  if (v == "true" || v == "1" || v == "t" || v == "T" || v == "TRUE" || v == "True")
    return true;
  if (v == "false" || v == "0" || v == "f" || v == "F" || v == "FALSE" || v == "False")
    return false;
  return std::nullopt;
}

// `--flag: "value" is not <what>` (plain) or `... is not allowed: <what>` (cobra).
Error rejected(Flags::Style style, const std::string& flag, const std::string& value,
               const std::string& what) {
  return Error(Errc::invalid, flag + ": \"" + value + "\" is not " +
                                  (style == Flags::Style::plain ? "" : "allowed: ") + what);
}

Error bad_bool(Flags::Style style, const std::string& flag, const std::string& value) {
  return rejected(style, flag, value,
                  style == Flags::Style::plain ? "true or false" : "use true or false");
}

std::string unknown_flag(Flags::Style style, const std::string& name) {
  return (style == Flags::Style::plain ? "unknown flag " : "unknown flag: ") + name;
}

std::string count_word(size_t n) {
  static const char* words[] = {"no", "one", "two", "three", "four", "five"};
  return n < std::size(words) ? words[n] : std::to_string(n);
}

std::string join(const std::vector<std::string>& items, const std::string& sep,
                 const std::string& last_sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i)
    out += (i == 0 ? "" : i + 1 == items.size() ? last_sep : sep) + items[i];
  return out;
}

// text's words in lines of at most kWidth columns (a longer word gets a line of its own), every
// line but the first indented by `column`, each ending in "\n".
std::string wrap(const std::string& text, size_t column) {
  const size_t room = kWidth > column + 20 ? kWidth - column : 20;
  std::string out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.size();
    if (end - pos > room) {
      end = text.rfind(' ', pos + room);
      if (end == std::string::npos || end <= pos)
        end = text.find(' ', pos + room);
      if (end == std::string::npos)
        end = text.size();
    }
    out += (out.empty() ? "" : std::string(column, ' ')) + text.substr(pos, end - pos) + "\n";
    pos = end < text.size() ? end + 1 : end;
  }
  return out.empty() ? "\n" : out;
}

// Two aligned columns; a left cell wider than kMaxLeftColumn puts its right one on the next line.
std::string table(const std::vector<std::pair<std::string, std::string>>& rows) {
  size_t left = 0;
  for (const auto& [l, r] : rows)
    if (l.size() <= kMaxLeftColumn)
      left = std::max(left, l.size());
  const size_t column = 2 + left + 2;
  std::string out;
  for (const auto& [l, r] : rows) {
    std::string line = "  " + l;
    if (line.size() + 2 > column && !r.empty())
      line += "\n" + std::string(column, ' ');
    else if (!r.empty())
      line.resize(column, ' ');
    out += line + wrap(r, column);
  }
  return out;
}

}  // namespace

Flags::Flags(std::string program, std::string summary, Style style)
    : program_(std::move(program)), summary_(std::move(summary)), style_(style) {}
Flags::Flags(Flags&&) noexcept = default;
Flags& Flags::operator=(Flags&&) noexcept = default;
Flags::~Flags() = default;

void Flags::add(FlagSpec spec, bool boolean, const std::string& default_value,
                std::function<Status(const std::string& value)> set) {
  if (spec.shown_default.empty())
    spec.shown_default = default_value;
  flags_.push_back(Flag{std::move(spec), boolean, std::move(set)});
}

void Flags::text(FlagSpec spec, std::string* out) {
  add(std::move(spec), false, *out, [out](const std::string& v) -> Status {
    *out = v;
    return {};
  });
}

void Flags::boolean(FlagSpec spec, bool* out) {
  add(spec, true, *out ? "true" : "",
      [out, style = style_, name = spec.name](const std::string& v) -> Status {
        auto b = bool_word(style, v);
        if (!b)
          return bad_bool(style, name, v);
        *out = *b;
        return {};
      });
}

void Flags::integer(FlagSpec spec, long long min, long long max,
                    std::function<void(long long)> set) {
  const std::string what = (spec.allowed.empty() ? "an integer" : spec.allowed) + " from " +
                           std::to_string(min) + " to " + std::to_string(max);
  add(spec, false, "",
      [min, max, what, style = style_, name = spec.name,
       set = std::move(set)](const std::string& v) -> Status {
        char* end = nullptr;
        long long n = std::strtoll(v.c_str(), &end, 10);
        if (v.empty() || *end != '\0' || n < min || n > max)
          return rejected(style, name, v, what);
        set(n);
        return {};
      });
}

void Flags::value(FlagSpec spec, std::function<Status(const std::string& value)> set) {
  add(std::move(spec), false, "", std::move(set));
}

void Flags::argument(ArgSpec spec) {
  args_.push_back(std::move(spec));
}

void Flags::arguments(ArgSpec spec) {
  args_.push_back(std::move(spec));
  repeated_ = true;
}

Flags& Flags::command(const std::string& name, const std::string& summary,
                      const std::string& description) {
  auto& c = commands_[name];
  c = std::make_unique<Flags>(name, summary, style_);
  c->description_ = description;
  c->is_command_ = true;
  return *c;
}

const Flags::Flag* Flags::find(const std::string& name) const {
  for (const auto& f : flags_)
    if (f.spec.name == name || (!f.spec.short_name.empty() && f.spec.short_name == name))
      return &f;
  return nullptr;
}

const Flags::Flag* Flags::find_anywhere(const std::string& name) const {
  if (const Flag* f = find(name))
    return f;
  for (const auto& [_, c] : commands_)
    if (const Flag* f = c->find(name))
      return f;
  return nullptr;
}

bool Flags::takes_words() const {
  return !args_.empty() || !commands_.empty();
}

Result<Flags::Parsed> Flags::parse(int argc, const char* const* argv) const {
  return parse(std::vector<std::string>(argv + (argc > 0 ? 1 : 0), argv + argc));
}

Result<Flags::Parsed> Flags::parse(const std::vector<std::string>& args) const {
  return commands_.empty() ? parse_flat(args) : parse_commands(args);
}

// Flags, and positional arguments when the program declares some; values as they come.
Result<Flags::Parsed> Flags::parse_flat(const std::vector<std::string>& args) const {
  Parsed parsed;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "-h" || arg == "--help") {
      parsed.outcome = Outcome::help;
      return parsed;
    }
    if (arg == "--" || !is_flag(arg)) {
      // Words: positional arguments, all of them after "--".
      auto first = args.begin() + static_cast<long>(arg == "--" ? i + 1 : i);
      auto last = arg == "--" ? args.end() : first + 1;
      if (first != last && !takes_words())
        return Error(Errc::invalid, "unexpected argument \"" + *first + "\" (flags only)");
      parsed.args.insert(parsed.args.end(), first, last);
      if (arg == "--")
        break;
      continue;
    }
    Token t = split(arg);
    const Flag* f = find(t.name);
    if (f == nullptr)
      return Error(Errc::invalid, unknown_flag(style_, t.name));
    if (!t.has_value) {
      if (f->boolean) {
        t.value = "true";
        // A program without positional arguments reads `--flag false` too, and a word after a
        // boolean flag is its (wrong) value rather than a stray argument.
        const std::string next = i + 1 < args.size() ? args[i + 1] : "";
        if (!takes_words() && !next.empty() && next[0] != '-') {
          if (!bool_word(style_, next))
            return bad_bool(style_, f->spec.name, next);
          t.value = args[++i];
        }
      } else if (i + 1 >= args.size()) {
        return Error(Errc::invalid, f->spec.name + ": needs a value");
      } else {
        t.value = args[++i];
      }
    }
    KV_CHECK(f->set(t.value));
  }
  KV_CHECK(check_arity(parsed.args));
  return parsed;
}

// `PROGRAM [global flags] COMMAND [flags] ARGS`, flags of either kind anywhere.
Result<Flags::Parsed> Flags::parse_commands(const std::vector<std::string>& args) const {
  Parsed parsed;
  // First find the command word, skipping every known flag and its value (global
  // and command flags may come anywhere, as with cobra), and look for -h/--help.
  bool help = false;
  std::vector<std::string> words;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      words.insert(words.end(), args.begin() + static_cast<long>(i) + 1, args.end());
      break;
    }
    if (arg == "-h" || arg == "--help") {
      help = true;
      continue;
    }
    if (!is_flag(arg)) {
      words.push_back(arg);
      continue;
    }
    Token t = split(arg);
    const Flag* f = find_anywhere(t.name);
    if (f == nullptr)
      return Error(Errc::invalid, unknown_flag(style_, t.name));
    if (!t.has_value && !f->boolean) {
      if (i + 1 >= args.size())
        return Error(Errc::invalid, f->spec.name + ": needs a value");
      ++i;
    }
  }
  std::vector<std::string> names;
  for (const auto& [name, _] : commands_)
    names.push_back(name);
  if (words.empty() || words[0] == "help") {
    parsed.outcome = Outcome::help;
    parsed.command = words.size() > 1 ? words[1] : "";
    if (!parsed.command.empty() && !commands_.count(parsed.command))
      return Error(Errc::invalid, "unknown help topic \"" + parsed.command +
                                      "\"; commands: " + join(names, ", ", ", "));
    return parsed;
  }
  auto it = commands_.find(words[0]);
  if (it == commands_.end())
    return Error(Errc::invalid, "unknown command \"" + words[0] + "\" for \"" + program_ +
                                    "\"; commands: " + join(names, ", ", ", "));
  parsed.command = it->first;
  if (help) {
    parsed.outcome = Outcome::help;
    return parsed;
  }
  const Flags& command = *it->second;

  // Then the values, in order, with the command's flags and the global ones.
  std::vector<std::string> rest;  // the words: the command, then its arguments
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      rest.insert(rest.end(), args.begin() + static_cast<long>(i) + 1, args.end());
      break;
    }
    if (!is_flag(arg)) {
      rest.push_back(arg);
      continue;
    }
    Token t = split(arg);
    const Flag* f = command.find(t.name);
    if (f == nullptr)
      f = find(t.name);
    if (f == nullptr) {
      std::vector<std::string> allowed, global;
      for (const auto& c : command.flags_)
        allowed.push_back(c.spec.name);
      std::sort(allowed.begin(), allowed.end());
      for (const auto& g : flags_)
        global.push_back(g.spec.short_name.empty() ? g.spec.name : g.spec.short_name);
      return Error(Errc::invalid,
                   unknown_flag(style_, find_anywhere(t.name)->spec.name) + " for \"" +
                       parsed.command + "\"" +
                       (allowed.empty()
                            ? " (it takes none besides the global " + join(global, ", ", ", ") + ")"
                            : "; allowed: " + join(allowed, ", ", ", ")));
    }
    if (!t.has_value)
      t.value = f->boolean ? "true" : args[++i];
    KV_CHECK(f->set(t.value));
  }
  parsed.args.assign(rest.begin() + 1, rest.end());
  KV_CHECK(command.check_arity(parsed.args));
  return parsed;
}

Status Flags::check_arity(const std::vector<std::string>& args) const {
  const std::string who = is_command_ ? program_ + ": " : "";
  if (args_.empty()) {
    if (!args.empty())
      return Error(Errc::invalid, who + "takes no arguments, got \"" + args[0] + "\"");
    return {};
  }
  if (args.size() == args_.size() || (repeated_ && args.size() > args_.size()))
    return {};
  std::string needs = repeated_ ? "at least " : args_.size() == 1 ? "exactly " : "";
  needs += count_word(args_.size()) + (args_.size() == 1 ? " argument, " : " arguments, ");
  if (args_.size() == 1) {
    needs += args_[0].help.empty() ? args_[0].name : args_[0].help;
  } else {
    std::vector<std::string> names;
    for (const auto& a : args_)
      names.push_back(a.name);
    needs += join(names, ", ", " and ");
  }
  return Error(Errc::invalid,
               who + "needs " + needs + " (got " + std::to_string(args.size()) + ")");
}

std::string Flags::flag_table(const std::string& title) const {
  std::vector<std::pair<std::string, std::string>> rows;
  for (const auto& f : flags_) {
    std::string left =
        f.spec.short_name.empty() ? f.spec.name : f.spec.short_name + ", " + f.spec.name;
    if (!f.spec.value.empty())
      left += " " + f.spec.value;
    std::string right = f.spec.help;
    if (!f.spec.shown_default.empty())
      right += (right.empty() ? "(default: " : " (default: ") + f.spec.shown_default + ")";
    rows.emplace_back(left, right);
  }
  if (!is_command_)
    rows.emplace_back("-h, --help", "print this help");
  return title + ":\n" + table(rows);
}

std::string Flags::synopsis() const {
  std::string out = program_;
  for (const auto& a : args_)
    out += " " + a.name;
  if (!flags_.empty())
    out += " [flags]";
  return out;
}

std::string Flags::usage(const std::string& command) const {
  const std::string usage_word = style_ == Style::plain ? "usage: " : "Usage: ";
  std::string out;
  if (auto it = commands_.find(command); !command.empty() && it != commands_.end()) {
    const Flags& c = *it->second;
    const std::string& text = c.description_.empty() ? c.summary_ : c.description_;
    if (!text.empty())
      out += wrap(text, 0) + "\n";
    out += usage_word + program_ + " " + c.synopsis() + "\n";
    if (!c.args_.empty()) {
      std::vector<std::pair<std::string, std::string>> rows;
      for (const auto& a : c.args_)
        rows.emplace_back(a.name, a.help);
      out += "\nArguments:\n" + table(rows);
    }
    if (!c.flags_.empty())
      out += "\n" + c.flag_table("Flags");
    out += "\n" + flag_table("Global flags");
    return out;
  }
  if (!summary_.empty())
    out += wrap(summary_, 0) + "\n";
  if (commands_.empty()) {
    out += usage_word + synopsis() + "\n";
    if (!args_.empty()) {
      std::vector<std::pair<std::string, std::string>> rows;
      for (const auto& a : args_)
        rows.emplace_back(a.name, a.help);
      out += "\nArguments:\n" + table(rows);
    }
    out += "\n" + flag_table("Flags");
    return out;
  }
  out += usage_word + program_ + " COMMAND [flags]\n\nCommands:\n";
  std::vector<std::pair<std::string, std::string>> rows;
  for (const auto& [name, c] : commands_) {
    std::string left = name;
    for (const auto& a : c->args_)
      left += " " + a.name;
    rows.emplace_back(left, c->summary_);
  }
  out += table(rows) + "\n" + flag_table("Global flags") + "\nUse \"" + program_ +
         " help COMMAND\" for more about a command.\n";
  return out;
}

void Flags::exit_with_usage_error(const std::string& message, int status) const {
  std::fprintf(stderr, "%s: %s\n%s", program_.c_str(), message.c_str(), usage().c_str());
  std::exit(status);
}

Flags::Parsed Flags::parse_or_exit(int argc, const char* const* argv,
                                   int usage_error_status) const {
  auto r = parse(argc, argv);
  if (!r.ok())
    exit_with_usage_error(r.error().message, usage_error_status);
  if (r->outcome == Outcome::help) {
    std::fputs(usage(r->command).c_str(), stdout);
    std::exit(0);
  }
  return std::move(*r);
}

}  // namespace kv::core
