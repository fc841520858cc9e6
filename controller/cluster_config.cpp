#include "controller/cluster_config.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <functional>
#include <vector>

#include "api/v1/defaults.hpp"
#include "api/v1/fields.hpp"
#include "api/v1/migration.hpp"
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

api::v1::MigrationConfiguration Config::default_migrations() {
  return api::v1::with_defaults(api::v1::MigrationConfiguration{});
}

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
      {"imageVolume",
       [&c](const std::string& k, const std::string& v) -> core::Status {
         if (v == "auto")
           c.image_volume = ImageVolumeMode::automatic;
         else if (v == "true")
           c.image_volume = ImageVolumeMode::enabled;
         else if (v == "false")
           c.image_volume = ImageVolumeMode::disabled;
         else
           return Error(Errc::invalid, field(k) + ": \"" + v + "\" is not auto, true or false");
         c.image_volumes = c.image_volume == ImageVolumeMode::enabled;
         return {};
       }},
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
      {"evictionStrategy",
       [&c](const std::string& k, const std::string& v) -> core::Status {
         using api::v1::EvictionStrategy;
         auto e = api::v1::enum_from_name<EvictionStrategy>(v);
         if (!e)
           return Error(Errc::invalid, field(k) + ": \"" + v + "\" is not one of " +
                                           api::v1::enum_names<EvictionStrategy>());
         // As in a VMI's spec (api/v1 validation): nothing carries these out yet.
         if (*e == EvictionStrategy::live_migrate || *e == EvictionStrategy::external)
           return Error(Errc::invalid, field(k) + ": \"" + v +
                                           "\" is not supported yet (no live migration on "
                                           "eviction); allowed: None, LiveMigrateIfPossible");
         c.eviction_strategy = *e;
         return {};
       }},
      {"migrations",
       [&c](const std::string& k, const std::string& v) -> core::Status {
         auto doc = core::json::parse(v);
         if (!doc.ok() || !doc->IsObject())
           return Error(Errc::invalid,
                        field(k) +
                            ": is not a JSON object of upstream's migration settings "
                            "(MigrationConfiguration)");
         api::v1::FieldErrors errors;
         auto m = api::v1::decode_migration_configuration(*doc, "", errors);
         if (errors.empty())
           errors = api::v1::validate(m, "");
         if (!errors.empty()) {
           std::string msg;
           for (const auto& e : errors)
             msg += (msg.empty() ? "" : "\n") + field(k) + "." + e.to_string();
           return Error(Errc::invalid, msg);
         }
         c.migrations = api::v1::with_defaults(std::move(m));
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

namespace {

// "2.1.4", "v2.1.4", "1.6.20~ds1", "2.2.0-rc.1" -> {major, minor}; nullopt when it does not start
// with two dot-separated numbers.
std::optional<std::pair<int, int>> major_minor(std::string_view v) {
  if (!v.empty() && v[0] == 'v')
    v.remove_prefix(1);
  int parts[2] = {0, 0};
  for (int i = 0; i < 2; ++i) {
    size_t n = 0;
    while (n < v.size() && v[n] >= '0' && v[n] <= '9' && n < 6)
      ++n;
    if (n == 0)
      return std::nullopt;
    parts[i] = std::stoi(std::string(v.substr(0, n)));
    v.remove_prefix(n);
    if (i == 0) {
      if (v.empty() || v[0] != '.')
        return std::nullopt;
      v.remove_prefix(1);
    }
  }
  return std::pair{parts[0], parts[1]};
}

}  // namespace

bool runtime_supports_image_volumes(std::string_view runtime_version) {
  auto sep = runtime_version.find("://");
  if (sep == std::string_view::npos)
    return false;
  std::string_view name = runtime_version.substr(0, sep);
  auto v = major_minor(runtime_version.substr(sep + 3));
  if (!v)
    return false;
  if (name == "containerd")
    return *v >= std::pair{2, 1};
  if (name == "cri-o")
    return *v >= std::pair{1, 31};
  return false;
}

bool nodes_support_image_volumes(const std::vector<core::kube::ObjectPtr>& nodes,
                                 const std::map<std::string, std::string>& node_selector) {
  namespace json = core::json;
  bool any = false;
  for (const auto& n : nodes) {
    if (!n)
      continue;
    if (const json::Value* spec = json::find(*n, "spec");
        spec && json::get_bool(*spec, "unschedulable").value_or(false))
      continue;
    const json::Value* labels = json::find_path(*n, {"metadata", "labels"});
    bool selected = std::all_of(node_selector.begin(), node_selector.end(), [&](const auto& kv) {
      return labels && json::get_string(*labels, kv.first).value_or("") == kv.second;
    });
    if (!selected)
      continue;
    const json::Value* info = json::find_path(*n, {"status", "nodeInfo"});
    std::string_view runtime =
        info ? json::get_string(*info, "containerRuntimeVersion").value_or("") : "";
    if (!runtime_supports_image_volumes(runtime))
      return false;
    any = true;
  }
  return any;
}

Config with_image_volumes(Config cfg, const std::vector<core::kube::ObjectPtr>& nodes) {
  switch (cfg.image_volume) {
    case ImageVolumeMode::enabled:
      cfg.image_volumes = true;
      break;
    case ImageVolumeMode::disabled:
      cfg.image_volumes = false;
      break;
    case ImageVolumeMode::automatic:
      cfg.image_volumes = nodes_support_image_volumes(nodes, cfg.node_selector);
      break;
  }
  return cfg;
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
