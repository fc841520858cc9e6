#include "controller/metrics.hpp"

#include <cmath>
#include <cstdio>
#include <set>
#include <sstream>

namespace kv::controller {
namespace {

std::string escape(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"')
      out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::string number(double v) {
  if (std::isinf(v))
    return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  if (v == std::floor(v) && std::fabs(v) < 1e15)
    std::snprintf(buf, sizeof buf, "%.0f", v);
  else
    std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

// "{a="x",b="y"}" from the key form, with an extra label appended.
std::string with_label(const std::string& key, const std::string& extra) {
  if (key.empty())
    return "{" + extra + "}";
  return key.substr(0, key.size() - 1) + "," + extra + "}";
}

}  // namespace

std::string Metrics::key(const Labels& labels) {
  if (labels.empty())
    return {};
  std::string k = "{";
  for (size_t i = 0; i < labels.size(); ++i)
    k += (i ? "," : "") + labels[i].first + "=\"" + escape(labels[i].second) + "\"";
  return k + "}";
}

void Metrics::inc(const std::string& name, const Labels& labels, double v) {
  std::lock_guard lock(mu_);
  values_[name][key(labels)] += v;
}

void Metrics::set(const std::string& name, const Labels& labels, double v) {
  std::lock_guard lock(mu_);
  values_[name][key(labels)] = v;
}

void Metrics::observe(const std::string& name, const Labels& labels, double v,
                      const std::vector<double>& buckets) {
  std::lock_guard lock(mu_);
  auto& h = histograms_[name][key(labels)];
  if (h.buckets.empty()) {
    h.buckets = buckets;
    h.counts.assign(buckets.size(), 0);
  }
  for (size_t i = 0; i < h.buckets.size(); ++i) {
    if (v <= h.buckets[i]) {
      ++h.counts[i];
      break;
    }
  }
  ++h.count;
  h.sum += v;
}

void Metrics::gauge_func(const std::string& name, std::function<double()> fn) {
  std::lock_guard lock(mu_);
  funcs_[name] = std::move(fn);
}

void Metrics::help(const std::string& name, const std::string& type, const std::string& text) {
  std::lock_guard lock(mu_);
  help_[name] = {type, text};
}

double Metrics::value(const std::string& name, const Labels& labels) const {
  std::lock_guard lock(mu_);
  auto it = values_.find(name);
  if (it == values_.end())
    return 0;
  auto v = it->second.find(key(labels));
  return v == it->second.end() ? 0 : v->second;
}

std::string Metrics::render() const {
  std::map<std::string, std::function<double()>> funcs;
  {
    std::lock_guard lock(mu_);
    funcs = funcs_;
  }
  // Gauge functions run without the lock: they may read other components' state.
  std::map<std::string, double> computed;
  for (const auto& [name, fn] : funcs)
    computed[name] = fn();

  std::lock_guard lock(mu_);
  std::ostringstream out;
  std::set<std::string> names;
  for (const auto& [n, _] : values_)
    names.insert(n);
  for (const auto& [n, _] : histograms_)
    names.insert(n);
  for (const auto& [n, _] : computed)
    names.insert(n);
  for (const auto& name : names) {
    if (auto h = help_.find(name); h != help_.end()) {
      out << "# HELP " << name << " " << h->second.second << "\n";
      out << "# TYPE " << name << " " << h->second.first << "\n";
    }
    if (auto it = values_.find(name); it != values_.end())
      for (const auto& [labels, v] : it->second)
        out << name << labels << " " << number(v) << "\n";
    if (auto it = computed.find(name); it != computed.end())
      out << name << " " << number(it->second) << "\n";
    if (auto it = histograms_.find(name); it != histograms_.end()) {
      for (const auto& [labels, h] : it->second) {
        uint64_t cumulative = 0;
        for (size_t i = 0; i < h.buckets.size(); ++i) {
          cumulative += h.counts[i];
          out << name << "_bucket" << with_label(labels, "le=\"" + number(h.buckets[i]) + "\"")
              << " " << cumulative << "\n";
        }
        out << name << "_bucket" << with_label(labels, "le=\"+Inf\"") << " " << h.count << "\n";
        out << name << "_sum" << labels << " " << number(h.sum) << "\n";
        out << name << "_count" << labels << " " << h.count << "\n";
      }
    }
  }
  return out.str();
}

// --- CountingClient

void CountingClient::count(const char* verb, const core::kube::Resource& r,
                           const core::Error* err) {
  metrics_.inc("kv_controller_api_requests_total", {{"verb", verb}, {"resource", r.resource}});
  if (err)
    metrics_.inc("kv_controller_api_errors_total",
                 {{"verb", verb},
                  {"resource", r.resource},
                  {"code", std::string(core::errc_name(err->code))}});
}

core::Result<core::json::Document> CountingClient::get(const core::kube::Resource& r,
                                                       std::string_view ns, std::string_view name,
                                                       const core::kube::GetOptions& opts) {
  auto res = inner_.get(r, ns, name, opts);
  count("get", r, res.ok() ? nullptr : &res.error());
  return res;
}

core::Result<core::kube::ListResult> CountingClient::list(const core::kube::Resource& r,
                                                          std::string_view ns,
                                                          const core::kube::ListOptions& opts) {
  auto res = inner_.list(r, ns, opts);
  count("list", r, res.ok() ? nullptr : &res.error());
  return res;
}

core::Result<core::json::Document> CountingClient::create(const core::kube::Resource& r,
                                                          std::string_view ns,
                                                          const core::json::Value& obj,
                                                          const core::kube::WriteOptions& opts) {
  auto res = inner_.create(r, ns, obj, opts);
  count("create", r, res.ok() ? nullptr : &res.error());
  return res;
}

core::Result<core::json::Document> CountingClient::update(const core::kube::Resource& r,
                                                          std::string_view ns,
                                                          const core::json::Value& obj,
                                                          const core::kube::WriteOptions& opts) {
  auto res = inner_.update(r, ns, obj, opts);
  count("update", r, res.ok() ? nullptr : &res.error());
  return res;
}

core::Result<core::json::Document> CountingClient::patch(const core::kube::Resource& r,
                                                         std::string_view ns, std::string_view name,
                                                         core::kube::PatchType type,
                                                         std::string_view body,
                                                         const core::kube::PatchOptions& opts) {
  auto res = inner_.patch(r, ns, name, type, body, opts);
  count("patch", r, res.ok() ? nullptr : &res.error());
  return res;
}

core::Status CountingClient::remove(const core::kube::Resource& r, std::string_view ns,
                                    std::string_view name, const core::kube::DeleteOptions& opts) {
  auto res = inner_.remove(r, ns, name, opts);
  count("delete", r, res.ok() ? nullptr : &res.error());
  return res;
}

core::Status CountingClient::watch(const core::kube::Resource& r, std::string_view ns,
                                   const core::kube::ListOptions& opts,
                                   const core::kube::WatchHandler& handler,
                                   core::kube::Cancel* cancel) {
  metrics_.inc("kv_controller_api_requests_total", {{"verb", "watch"}, {"resource", r.resource}});
  return inner_.watch(r, ns, opts, handler, cancel);
}

core::Result<core::kube::RawResponse> CountingClient::raw(const core::kube::RawRequest& req) {
  metrics_.inc("kv_controller_api_requests_total", {{"verb", "raw"}, {"resource", ""}});
  return inner_.raw(req);
}

core::Result<core::kube::Resource> CountingClient::resolve(std::string_view api_version,
                                                           std::string_view kind) {
  return inner_.resolve(api_version, kind);
}

}  // namespace kv::controller
