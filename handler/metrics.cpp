#include "handler/metrics.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace kv::handler {
namespace {

std::string number(double v) {
  if (std::isinf(v))
    return v > 0 ? "+Inf" : "-Inf";
  // The shortest text that reads back as the same double ("0.1", not "0.10000000000000001").
  char buf[64];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v)
      break;
  }
  return buf;
}

std::string with_label(const std::string& rendered, const std::string& key,
                       const std::string& value) {
  std::string extra = key + "=\"" + value + "\"";
  if (rendered.empty())
    return "{" + extra + "}";
  return rendered.substr(0, rendered.size() - 1) + "," + extra + "}";
}

}  // namespace

std::string render_labels(const Labels& labels) {
  if (labels.empty())
    return "";
  std::string out = "{";
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i)
      out += ",";
    out += labels[i].first + "=\"";
    for (char c : labels[i].second) {
      if (c == '\\' || c == '"')
        out += '\\';
      if (c == '\n') {
        out += "\\n";
        continue;
      }
      out += c;
    }
    out += "\"";
  }
  return out + "}";
}

Metrics::Family& Metrics::family_locked(const std::string& name) {
  auto it = families_.find(name);
  if (it == families_.end()) {
    std::fprintf(stderr, "virt-handler: metric %s used before it was declared\n", name.c_str());
    std::abort();
  }
  return it->second;
}

void Metrics::declare(const std::string& name, Type type, std::string help,
                      std::vector<double> buckets) {
  std::lock_guard lock(mu_);
  Family& f = families_[name];
  f.type = type;
  f.help = std::move(help);
  f.bounds = std::move(buckets);
}

void Metrics::inc(const std::string& name, const Labels& labels, double by) {
  std::lock_guard lock(mu_);
  family_locked(name).series[render_labels(labels)].value += by;
}

void Metrics::set(const std::string& name, const Labels& labels, double value) {
  std::lock_guard lock(mu_);
  family_locked(name).series[render_labels(labels)].value = value;
}

void Metrics::observe(const std::string& name, const Labels& labels, double value) {
  std::lock_guard lock(mu_);
  Family& f = family_locked(name);
  Series& s = f.series[render_labels(labels)];
  if (s.buckets.size() != f.bounds.size())
    s.buckets.assign(f.bounds.size(), 0);
  for (size_t i = 0; i < f.bounds.size(); ++i)
    if (value <= f.bounds[i])
      s.buckets[i] += 1;
  s.sum += value;
  s.count += 1;
}

void Metrics::add_collector(std::function<void(Metrics&)> fn) {
  std::lock_guard lock(mu_);
  collectors_.push_back(std::move(fn));
}

void Metrics::reset(const std::string& name) {
  std::lock_guard lock(mu_);
  family_locked(name).series.clear();
}

double Metrics::value(const std::string& name, const Labels& labels) const {
  std::lock_guard lock(mu_);
  auto f = families_.find(name);
  if (f == families_.end())
    return 0;
  auto s = f->second.series.find(render_labels(labels));
  return s == f->second.series.end() ? 0 : s->second.value;
}

std::string Metrics::render() {
  std::vector<std::function<void(Metrics&)>> collectors;
  {
    std::lock_guard lock(mu_);
    collectors = collectors_;
  }
  for (auto& c : collectors)
    c(*this);
  std::lock_guard lock(mu_);
  std::string out;
  for (const auto& [name, f] : families_) {
    const char* type = f.type == Type::counter ? "counter"
                       : f.type == Type::gauge ? "gauge"
                                               : "histogram";
    out += "# HELP " + name + " " + f.help + "\n# TYPE " + name + " " + type + "\n";
    for (const auto& [labels, s] : f.series) {
      if (f.type != Type::histogram) {
        out += name + labels + " " + number(s.value) + "\n";
        continue;
      }
      for (size_t i = 0; i < f.bounds.size(); ++i)
        out += name + "_bucket" + with_label(labels, "le", number(f.bounds[i])) + " " +
               number(i < s.buckets.size() ? s.buckets[i] : 0) + "\n";
      out += name + "_bucket" + with_label(labels, "le", "+Inf") + " " + number(s.count) + "\n";
      out += name + "_sum" + labels + " " + number(s.sum) + "\n";
      out += name + "_count" + labels + " " + number(s.count) + "\n";
    }
  }
  return out;
}

}  // namespace kv::handler
