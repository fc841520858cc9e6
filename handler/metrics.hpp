#pragma once
// A small Prometheus registry for virt-handler's /metrics (text exposition format 0.0.4):
// counters, gauges and histograms with labels, plus collectors run at scrape time (gauges computed
// from the informer cache). Thread-safe. core/ has no metrics library yet; this one is small
// enough to move there when a second component needs it.

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace kv::handler {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Metrics {
 public:
  enum class Type { counter, gauge, histogram };

  // Declares a metric family (its HELP and TYPE lines). Using an undeclared name is a bug.
  void declare(const std::string& name, Type type, std::string help,
               std::vector<double> buckets = {});
  void inc(const std::string& name, const Labels& labels = {}, double by = 1);
  void set(const std::string& name, const Labels& labels, double value);
  // Histograms: one observation (seconds, bytes, ...).
  void observe(const std::string& name, const Labels& labels, double value);
  // Runs at every render(), before the text is produced (e.g. to set gauges).
  void add_collector(std::function<void(Metrics&)> fn);
  // Drops every series of a gauge family (a collector resets before setting).
  void reset(const std::string& name);

  // The exposition text.
  std::string render();
  // The value of one counter or gauge series (tests); 0 when absent.
  double value(const std::string& name, const Labels& labels = {}) const;

 private:
  struct Series {
    double value = 0;             // counter / gauge
    std::vector<double> buckets;  // histogram: cumulative counts per bucket bound
    double sum = 0;
    double count = 0;
  };
  struct Family {
    Type type = Type::counter;
    std::string help;
    std::vector<double> bounds;
    std::map<std::string, Series> series;  // rendered label set -> series
  };
  Family& family_locked(const std::string& name);

  mutable std::mutex mu_;
  std::map<std::string, Family> families_;
  std::vector<std::function<void(Metrics&)>> collectors_;
};

// "{a=\"x\",b=\"y\"}" with values escaped; "" for no labels.
std::string render_labels(const Labels& labels);

}  // namespace kv::handler
