#include "core/log.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <mutex>

#include "core/encoding.hpp"

namespace kv::core::log {
namespace {

struct State {
  std::mutex mu;
  std::string component = "kubevirt";
  std::atomic<int> level{static_cast<int>(Level::info)};
  std::function<void(std::string_view)> sink;
};

State& state() {
  static State s;
  return s;
}

std::string_view level_name(Level l) {
  switch (l) {
    case Level::debug:
      return "debug";
    case Level::info:
      return "info";
    case Level::warn:
      return "warn";
    case Level::error:
      return "error";
  }
  return "info";
}

std::string timestamp() {
  return format_rfc3339_micro(std::chrono::system_clock::now());
}

}  // namespace

Result<Level> parse_level(std::string_view s) {
  if (s == "debug")
    return Level::debug;
  if (s == "info")
    return Level::info;
  if (s == "warn" || s == "warning")
    return Level::warn;
  if (s == "error")
    return Level::error;
  return Error(Errc::invalid,
               "log level \"" + std::string(s) + "\" is not one of debug, info, warn, error");
}

void init(std::string component, Level level) {
  auto& st = state();
  std::lock_guard lock(st.mu);
  st.component = std::move(component);
  st.level = static_cast<int>(level);
}

void set_sink(std::function<void(std::string_view)> sink) {
  auto& st = state();
  std::lock_guard lock(st.mu);
  st.sink = std::move(sink);
}

void write(Level level, const Subject* subject, std::string_view msg, Fields fields) {
  auto& st = state();
  if (static_cast<int>(level) < st.level.load())
    return;
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  auto kv = [&](std::string_view k, std::string_view v) {
    w.Key(k.data(), static_cast<rapidjson::SizeType>(k.size()));
    w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
  };
  std::lock_guard lock(st.mu);
  w.StartObject();
  kv("ts", timestamp());
  kv("level", level_name(level));
  kv("component", st.component);
  if (subject) {
    if (!subject->ns.empty())
      kv("namespace", subject->ns);
    if (!subject->name.empty())
      kv("name", subject->name);
    if (!subject->uid.empty())
      kv("uid", subject->uid);
  }
  kv("msg", msg);
  for (const auto& [k, v] : fields)
    kv(k, v);
  w.EndObject();
  std::string line(buf.GetString(), buf.GetSize());
  line += '\n';
  if (st.sink) {
    st.sink(line);
    return;
  }
  // One write(2) per line keeps concurrent writers from interleaving.
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n <= 0)
      break;
    p += n;
    left -= static_cast<size_t>(n);
  }
}

}  // namespace kv::core::log
