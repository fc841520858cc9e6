#pragma once
// Structured JSON-lines logging on stderr (STYLE.md "Logs"): one object per line with ts, level,
// component, the object's namespace/name/uid when known, msg, and any extra fields.
// Thread-safe; each line is written with a single write(2) so lines never interleave.

#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include "core/result.hpp"

namespace kv::core::log {

enum class Level { debug = 0, info = 1, warn = 2, error = 3 };

// Parses "debug", "info", "warn"/"warning", "error".
Result<Level> parse_level(std::string_view s);

// Sets the component name and minimum level for the process; call once from main().
void init(std::string component, Level level);

// Replaces the output (default: stderr). For tests; pass nullptr to restore stderr.
void set_sink(std::function<void(std::string_view line)> sink);

using Field = std::pair<std::string_view, std::string_view>;
using Fields = std::initializer_list<Field>;

// The object a log line is about: every reconcile and VM operation carries one.
struct Subject {
  std::string ns;
  std::string name;
  std::string uid;
};

void write(Level level, const Subject* subject, std::string_view msg, Fields fields);

inline void debug(std::string_view msg, Fields f = {}) {
  write(Level::debug, nullptr, msg, f);
}
inline void info(std::string_view msg, Fields f = {}) {
  write(Level::info, nullptr, msg, f);
}
inline void warn(std::string_view msg, Fields f = {}) {
  write(Level::warn, nullptr, msg, f);
}
inline void error(std::string_view msg, Fields f = {}) {
  write(Level::error, nullptr, msg, f);
}

// A logger bound to one object: `log::Logger l{{ns, name, uid}}; l.info("started");`
class Logger {
 public:
  explicit Logger(Subject s) : subject_(std::move(s)) {}
  void debug(std::string_view msg, Fields f = {}) const { write(Level::debug, &subject_, msg, f); }
  void info(std::string_view msg, Fields f = {}) const { write(Level::info, &subject_, msg, f); }
  void warn(std::string_view msg, Fields f = {}) const { write(Level::warn, &subject_, msg, f); }
  void error(std::string_view msg, Fields f = {}) const { write(Level::error, &subject_, msg, f); }
  const Subject& subject() const { return subject_; }

 private:
  Subject subject_;
};

}  // namespace kv::core::log
