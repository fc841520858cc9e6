#include "core/metrics/registry.hpp"

#include <cmath>
#include <cstdlib>
#include <set>
#include <utility>

#include "core/log.hpp"

namespace kv::core::metrics {
namespace {

// A metric used the way the code never meant it to be: crash loudly, naming it.
[[noreturn]] void bug(std::string_view name, std::string_view what) {
  log::error("metrics: broken invariant", {{"metric", name}, {"error", what}});
  std::abort();
}

// Bounds for a histogram: finite and strictly ascending; a trailing +Inf is implicit anyway.
std::vector<double> checked_bounds(std::string_view name, std::vector<double> bounds) {
  if (!bounds.empty() && std::isinf(bounds.back()) && bounds.back() > 0)
    bounds.pop_back();
  for (size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i]))
      bug(name, "a bucket bound is not finite");
    if (i && !(bounds[i - 1] < bounds[i]))
      bug(name, "bucket bounds are not strictly ascending");
  }
  return bounds;
}

// "{a="x"}" + le -> "{a="x",le="0.5"}".
std::string with_le(const std::string& labels, const std::string& le) {
  std::string extra = "le=\"" + le + "\"";
  if (labels.empty())
    return "{" + extra + "}";
  return labels.substr(0, labels.size() - 1) + "," + extra + "}";
}

}  // namespace

std::string_view to_string(Type type) {
  switch (type) {
    case Type::counter:
      return "counter";
    case Type::gauge:
      return "gauge";
    case Type::histogram:
      return "histogram";
    case Type::untyped:
      break;
  }
  return "untyped";
}

std::optional<Type> parse_type(std::string_view word) {
  for (Type t : {Type::counter, Type::gauge, Type::histogram, Type::untyped})
    if (word == to_string(t))
      return t;
  return std::nullopt;
}

void Registry::declare(const std::string& name, Type type, std::string help,
                       std::vector<double> buckets) {
  if (!valid_metric_name(name))
    bug(name, "invalid metric name (allowed: [a-zA-Z_:][a-zA-Z0-9_:]*)");
  buckets = checked_bounds(name, std::move(buckets));
  std::lock_guard lock(mu_);
  Family& f = families_[name];
  const Kind kind = type == Type::histogram ? Kind::histogram
                    : type == Type::untyped ? f.kind
                                            : Kind::scalar;
  if (f.kind != Kind::unknown && kind != f.kind)
    bug(name, "declared as " + std::string(to_string(type)) + " but used as another kind");
  if (!buckets.empty() && kind != Kind::histogram)
    bug(name, "buckets given for a metric that is not a histogram");
  if (!buckets.empty() && buckets != f.bounds) {
    if (!f.series.empty())
      bug(name, "bucket bounds changed after observations");
    f.bounds = std::move(buckets);
  }
  f.declared = true;
  f.type = type;
  f.kind = kind;
  f.help = std::move(help);
}

Registry::Family& Registry::family_locked(const std::string& name, Kind kind) {
  auto it = families_.find(name);
  if (it == families_.end()) {
    if (undeclared_ == Undeclared::abort)
      bug(name, "used before it was declared");
    if (!valid_metric_name(name))
      bug(name, "invalid metric name (allowed: [a-zA-Z_:][a-zA-Z0-9_:]*)");
    it = families_.emplace(name, Family{}).first;
  }
  Family& f = it->second;
  if (f.kind == Kind::unknown)
    f.kind = kind;
  else if (f.kind != kind)
    bug(name, kind == Kind::histogram ? "observe() on a metric that is not a histogram"
                                      : "inc()/set() on a histogram");
  return f;
}

Registry::Series& Registry::series_locked(const std::string& name, Family& f,
                                          const Labels& labels) {
  std::string key = render_labels(labels);
  auto it = f.series.find(key);
  if (it != f.series.end())
    return it->second;
  // A new series: check its label names once.
  std::set<std::string_view> seen;
  for (const auto& [label, _] : labels) {
    if (!valid_label_name(label))
      bug(name, "invalid label name \"" + label + "\" (allowed: [a-zA-Z_][a-zA-Z0-9_]*, no __)");
    if (!seen.insert(label).second)
      bug(name, "label \"" + label + "\" given twice");
    if (f.kind == Kind::histogram && label == "le")
      bug(name, "a histogram cannot have a label named le");
  }
  return f.series.emplace(std::move(key), Series{}).first->second;
}

void Registry::inc(const std::string& name, const Labels& labels, double by) {
  std::lock_guard lock(mu_);
  Family& f = family_locked(name, Kind::scalar);
  series_locked(name, f, labels).value += by;
}

void Registry::set(const std::string& name, const Labels& labels, double value) {
  std::lock_guard lock(mu_);
  Family& f = family_locked(name, Kind::scalar);
  series_locked(name, f, labels).value = value;
}

void Registry::set_func(const std::string& name, const Labels& labels, std::function<double()> fn) {
  std::lock_guard lock(mu_);
  Family& f = family_locked(name, Kind::scalar);
  series_locked(name, f, labels).fn = std::move(fn);
}

void Registry::observe(const std::string& name, const Labels& labels, double value) {
  observe_locked(name, labels, value, nullptr);
}

void Registry::observe(const std::string& name, const Labels& labels, double value,
                       const std::vector<double>& buckets) {
  observe_locked(name, labels, value, &buckets);
}

void Registry::observe_locked(const std::string& name, const Labels& labels, double value,
                              const std::vector<double>* buckets) {
  std::lock_guard lock(mu_);
  Family& f = family_locked(name, Kind::histogram);
  if (buckets && f.bounds.empty() && f.series.empty())
    f.bounds = checked_bounds(name, *buckets);
  Series& s = series_locked(name, f, labels);
  if (s.counts.size() != f.bounds.size())
    s.counts.assign(f.bounds.size(), 0);
  for (size_t i = 0; i < f.bounds.size(); ++i) {
    if (value <= f.bounds[i]) {
      ++s.counts[i];
      break;
    }
  }
  ++s.count;
  s.sum += value;
}

void Registry::add_collector(std::function<void(Registry&)> fn) {
  std::lock_guard lock(mu_);
  collectors_.push_back(std::move(fn));
}

void Registry::reset(const std::string& name) {
  std::lock_guard lock(mu_);
  auto it = families_.find(name);
  if (it == families_.end()) {
    if (undeclared_ == Undeclared::abort)
      bug(name, "reset before it was declared");
    return;
  }
  it->second.series.clear();
}

double Registry::value(const std::string& name, const Labels& labels) const {
  std::function<double()> fn;
  {
    std::lock_guard lock(mu_);
    auto f = families_.find(name);
    if (f == families_.end())
      return 0;
    auto s = f->second.series.find(render_labels(labels));
    if (s == f->second.series.end())
      return 0;
    if (!s->second.fn)
      return s->second.value;
    fn = s->second.fn;
  }
  return fn();
}

std::optional<HistogramValue> Registry::histogram(const std::string& name,
                                                  const Labels& labels) const {
  std::lock_guard lock(mu_);
  auto f = families_.find(name);
  if (f == families_.end() || f->second.kind != Kind::histogram)
    return std::nullopt;
  auto s = f->second.series.find(render_labels(labels));
  if (s == f->second.series.end())
    return std::nullopt;
  HistogramValue h;
  h.bounds = f->second.bounds;
  uint64_t cumulative = 0;
  for (size_t i = 0; i < h.bounds.size(); ++i) {
    cumulative += i < s->second.counts.size() ? s->second.counts[i] : 0;
    h.cumulative.push_back(cumulative);
  }
  h.count = s->second.count;
  h.sum = s->second.sum;
  return h;
}

std::string Registry::render() {
  std::lock_guard render_lock(render_mu_);
  std::vector<std::function<void(Registry&)>> collectors;
  {
    std::lock_guard lock(mu_);
    collectors = collectors_;
  }
  for (auto& c : collectors)
    c(*this);

  // Computed series run without the lock: they may read other components' state.
  std::vector<std::pair<std::pair<std::string, std::string>, std::function<double()>>> funcs;
  {
    std::lock_guard lock(mu_);
    for (const auto& [name, f] : families_)
      for (const auto& [labels, s] : f.series)
        if (s.fn)
          funcs.push_back({{name, labels}, s.fn});
  }
  std::map<std::pair<std::string, std::string>, double> computed;
  for (auto& [key, fn] : funcs)
    computed[key] = fn();

  std::lock_guard lock(mu_);
  std::string out;
  for (const auto& [name, f] : families_)
    render_family(out, name, f, computed);
  return out;
}

void Registry::render_family(
    std::string& out, const std::string& name, const Family& f,
    const std::map<std::pair<std::string, std::string>, double>& computed) const {
  if (f.declared) {
    out += "# HELP " + name + " " + escape_help(f.help) + "\n";
    out += "# TYPE " + name + " " + std::string(to_string(f.type)) + "\n";
  }
  for (const auto& [labels, s] : f.series) {
    if (f.kind != Kind::histogram) {
      double v = s.value;
      if (s.fn) {
        // A series whose fn was set after the values were computed shows at the next scrape.
        auto c = computed.find({name, labels});
        if (c == computed.end())
          continue;
        v = c->second;
      }
      out += name + labels + " " + format_value(v) + "\n";
      continue;
    }
    uint64_t cumulative = 0;
    for (size_t i = 0; i < f.bounds.size(); ++i) {
      cumulative += i < s.counts.size() ? s.counts[i] : 0;
      out += name + "_bucket" + with_le(labels, format_value(f.bounds[i])) + " " +
             std::to_string(cumulative) + "\n";
    }
    out += name + "_bucket" + with_le(labels, "+Inf") + " " + std::to_string(s.count) + "\n";
    out += name + "_sum" + labels + " " + format_value(s.sum) + "\n";
    out += name + "_count" + labels + " " + std::to_string(s.count) + "\n";
  }
}

}  // namespace kv::core::metrics
