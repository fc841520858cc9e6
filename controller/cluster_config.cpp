#include "controller/cluster_config.hpp"

#include <cerrno>
#include <cstdlib>
#include <functional>
#include <vector>

#include "core/json.hpp"

namespace kv::controller {
namespace {

using core::Errc;
using core::Error;
using core::Result;

std::string field(const std::string& key) {
  return std::string(kConfigMapName) + " data." + key;
}

Result<bool> parse_bool(const std::string& key, const std::string& v) {
  if (v == "true")
    return true;
  if (v == "false")
    return false;
  return Error(Errc::invalid, field(key) + ": \"" + v + "\" is not true or false");
}

Result<int64_t> parse_int(const std::string& key, const std::string& v, int64_t min) {
  errno = 0;
  char* end = nullptr;
  long long n = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || errno != 0 || n < min)
    return Error(Errc::invalid,
                 field(key) + ": \"" + v + "\" is not an integer >= " + std::to_string(min));
  return static_cast<int64_t>(n);
}

Result<int64_t> parse_bytes(const std::string& key, const std::string& v) {
  auto q = api::v1::parse_quantity(v);
  if (!q.ok() || q->sign() < 0)
    return Error(Errc::invalid,
                 field(key) + ": \"" + v + "\" is not a non-negative quantity such as 64Mi");
  return q->value();
}

Result<int64_t> parse_milli(const std::string& key, const std::string& v) {
  auto q = api::v1::parse_quantity(v);
  if (!q.ok() || q->sign() <= 0)
    return Error(Errc::invalid,
                 field(key) + ": \"" + v + "\" is not a positive quantity such as 100m");
  return q->milli_value();
}

}  // namespace

Result<Config> config_from_data(const std::map<std::string, std::string>& data) {
  Config c;
  using Setter = std::function<core::Status(const std::string& key, const std::string& v)>;
  auto set_bytes = [&c](int64_t Config::*m) -> Setter {
    return [&c, m](const std::string& k, const std::string& v) -> core::Status {
      auto r = parse_bytes(k, v);
      if (!r.ok())
        return std::move(r).error();
      c.*m = *r;
      return {};
    };
  };
  auto set_int = [&c](int64_t Config::*m, int64_t min) -> Setter {
    return [&c, m, min](const std::string& k, const std::string& v) -> core::Status {
      auto r = parse_int(k, v, min);
      if (!r.ok())
        return std::move(r).error();
      c.*m = *r;
      return {};
    };
  };
  const std::map<std::string, Setter> setters{
      {"useEmulation",
       [&c](const std::string& k, const std::string& v) -> core::Status {
         auto r = parse_bool(k, v);
         if (!r.ok())
           return std::move(r).error();
         c.use_emulation = *r;
         return {};
       }},
      {"launcherImage",
       [&c](const std::string& k, const std::string& v) -> core::Status {
         if (v.empty() || v.find_first_of(" \t\n") != std::string::npos)
           return Error(Errc::invalid, field(k) + ": \"" + v + "\" is not an image reference");
         c.launcher_image = v;
         return {};
       }},
      {"launcherImagePullPolicy",
       [&c](const std::string& k, const std::string& v) -> core::Status {
         if (v != "Always" && v != "IfNotPresent" && v != "Never")
           return Error(Errc::invalid,
                        field(k) + ": \"" + v + "\" is not one of Always, IfNotPresent, Never");
         c.launcher_image_pull_policy = v;
         return {};
       }},
      {"memoryOverheadBase", set_bytes(&Config::overhead_base_bytes)},
      {"memoryOverheadPerVcpu", set_bytes(&Config::overhead_per_vcpu_bytes)},
      {"memoryOverheadEmulation", set_bytes(&Config::overhead_emulation_bytes)},
      {"memoryOverheadGraphics", set_bytes(&Config::overhead_graphics_bytes)},
      {"cpuRequestPerVcpu",
       [&c](const std::string& k, const std::string& v) -> core::Status {
         auto r = parse_milli(k, v);
         if (!r.ok())
           return std::move(r).error();
         c.cpu_request_per_vcpu_milli = *r;
         return {};
       }},
      {"terminationGraceMarginSeconds", set_int(&Config::termination_grace_margin_seconds, 0)},
      {"handlerHeartbeatTimeoutSeconds", set_int(&Config::handler_heartbeat_timeout_seconds, 1)},
      {"nodeSelector",
       [&c](const std::string& k, const std::string& v) -> core::Status {
         auto doc = core::json::parse(v);
         if (!doc.ok() || !doc->IsObject())
           return Error(Errc::invalid,
                        field(k) + ": is not a JSON object of label -> value strings");
         std::map<std::string, std::string> sel;
         for (auto& m : doc->GetObject()) {
           if (!m.value.IsString())
             return Error(Errc::invalid,
                          field(k) + ": value of \"" + m.name.GetString() + "\" is not a string");
           sel[m.name.GetString()] = m.value.GetString();
         }
         c.node_selector = std::move(sel);
         return {};
       }},
  };

  std::vector<std::string> problems;
  for (const auto& [key, value] : data) {
    auto it = setters.find(key);
    if (it == setters.end()) {
      std::string allowed;
      for (const auto& [k, _] : setters)
        allowed += (allowed.empty() ? "" : ", ") + k;
      problems.push_back(field(key) + ": unknown key; allowed: " + allowed);
      continue;
    }
    auto st = it->second(key, value);
    if (!st.ok())
      problems.push_back(st.error().message);
  }
  if (!problems.empty()) {
    std::string msg;
    for (const auto& p : problems)
      msg += (msg.empty() ? "" : "\n") + p;
    return Error(Errc::invalid, msg);
  }
  return c;
}

std::shared_ptr<const Config> ConfigStore::get() const {
  std::lock_guard lock(mu_);
  return current_;
}

bool ConfigStore::set(Config c) {
  std::lock_guard lock(mu_);
  if (*current_ == c)
    return false;
  current_ = std::make_shared<const Config>(std::move(c));
  return true;
}

}  // namespace kv::controller
