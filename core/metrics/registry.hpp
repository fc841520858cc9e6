#pragma once
// The one Prometheus metrics registry of the project (docs/metrics.md): counters, gauges and
// histograms with labels, values computed at scrape time, and the text exposition format 0.0.4
// that /metrics serves.
//
//   Registry r;
//   r.declare("kubevirt_virt_api_requests_total", Type::counter, "Requests served.");
//   r.inc("kubevirt_virt_api_requests_total", {{"route", "version"}, {"code", "200"}});
//   r.value("kubevirt_virt_api_requests_total", {{"route", "version"}, {"code", "200"}});  // 1
//   r.render();  // "# HELP ...\n# TYPE ... counter\nkubevirt_virt_api_requests_total{...} 1\n"
//
// Families are rendered sorted by name, each with its # HELP and # TYPE once (a declared family
// is listed even before it has a series); series within a family sorted by their label text.
//
// Thread-safe: every method may be called from any thread. Cheap enough to bump from every
// request: one lock and two map lookups. Names are code, not input: an invalid metric or label
// name, a histogram call on a counter (or the reverse) or bucket bounds that are not ascending are
// bugs, and abort the process with a message naming the metric.

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/metrics/exposition.hpp"

namespace kv::core::metrics {

enum class Type { counter, gauge, histogram, untyped };

// "counter", "gauge", "histogram", "untyped": the word on a # TYPE line.
std::string_view to_string(Type type);
std::optional<Type> parse_type(std::string_view word);

// One histogram series as a scraper reads it.
struct HistogramValue {
  std::vector<double> bounds;        // upper bounds, ascending, without the implicit +Inf
  std::vector<uint64_t> cumulative;  // observations <= bounds[i]
  uint64_t count = 0;                // observations in all (the +Inf bucket)
  double sum = 0;
};

class Registry {
 public:
  using Type = metrics::Type;
  // What using a family that was never declared does.
  enum class Undeclared {
    abort,  // a bug: abort (the name was mistyped, or declare() forgotten)
    allow,  // create it untyped; rendered without # HELP / # TYPE until it is declared
  };

  explicit Registry(Undeclared undeclared = Undeclared::abort) : undeclared_(undeclared) {}
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Declares a family: its # HELP text, # TYPE and, for a histogram, its bucket upper bounds
  // (ascending; +Inf is implicit). Declaring again updates help and type and keeps the series;
  // empty buckets keep the bounds already set, and new bounds once a series exists are a bug.
  void declare(const std::string& name, Type type, std::string help,
               std::vector<double> buckets = {});

  // Counters and gauges. A series starts at 0 on first use.
  void inc(const std::string& name, const Labels& labels = {}, double by = 1);
  void set(const std::string& name, const Labels& labels, double value);
  // A series whose value is fn(), called at every render() and value() without the registry's
  // lock held (fn may read other components' state, or this registry). Replaces an earlier fn of
  // the same series. fn must stay callable while the registry renders: replace it before what it
  // reads goes away.
  void set_func(const std::string& name, const Labels& labels, std::function<double()> fn);

  // Histograms: one observation, counted in every bucket whose bound is >= value.
  void observe(const std::string& name, const Labels& labels, double value);
  // The same, with the bounds to use if the family has none yet (declared without buckets, or
  // undeclared under Undeclared::allow).
  void observe(const std::string& name, const Labels& labels, double value,
               const std::vector<double>& buckets);

  // Runs at the start of every render(), without the lock held, to update series from state
  // kept elsewhere (typically reset() then set()). Renders are serialised, so collectors never
  // run concurrently with each other; a collector must not call render().
  void add_collector(std::function<void(Registry&)> fn);
  // Drops every series of a family (its declaration stays).
  void reset(const std::string& name);

  // The value of a counter or gauge series; 0 when absent. For tests and benchmarks.
  double value(const std::string& name, const Labels& labels = {}) const;
  // A histogram series; nullopt when absent.
  std::optional<HistogramValue> histogram(const std::string& name, const Labels& labels = {}) const;

  // The text exposition (format 0.0.4) of every family.
  std::string render();

 private:
  enum class Kind { unknown, scalar, histogram };
  struct Series {
    double value = 0;
    std::function<double()> fn;    // when set, the value is fn()
    std::vector<uint64_t> counts;  // histogram: observations per bound (not cumulative)
    uint64_t count = 0;
    double sum = 0;
  };
  struct Family {
    bool declared = false;
    Type type = Type::untyped;
    Kind kind = Kind::unknown;
    std::string help;
    std::vector<double> bounds;
    std::map<std::string, Series> series;  // render_labels() text -> series
  };

  Family& family_locked(const std::string& name, Kind kind);
  Series& series_locked(const std::string& name, Family& f, const Labels& labels);
  void observe_locked(const std::string& name, const Labels& labels, double value,
                      const std::vector<double>* buckets);
  void render_family(std::string& out, const std::string& name, const Family& f,
                     const std::map<std::pair<std::string, std::string>, double>& computed) const;

  const Undeclared undeclared_;
  std::mutex render_mu_;  // serialises renders (collectors)
  mutable std::mutex mu_;
  std::map<std::string, Family> families_;
  std::vector<std::function<void(Registry&)>> collectors_;
};

}  // namespace kv::core::metrics
