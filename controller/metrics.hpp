#pragma once
// Prometheus text metrics for virt-controller (docs/controller.md "Metrics"). A tiny registry:
// counters and gauges keyed by name + labels, histograms with fixed buckets, and gauges computed
// when scraped. Thread-safe; cheap enough to bump from every reconcile.
//
// Also CountingClient: a KubeClient decorator that counts every API request by verb and
// resource (kv_controller_api_requests_total), which is how the benchmark measures requests
// per VM.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/kube/client.hpp"

namespace kv::controller {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Metrics {
 public:
  // Adds v to the counter (created at 0 on first use).
  void inc(const std::string& name, const Labels& labels = {}, double v = 1);
  void set(const std::string& name, const Labels& labels, double v);
  // Records one observation in a histogram with the buckets given at first use.
  void observe(const std::string& name, const Labels& labels, double v,
               const std::vector<double>& buckets);
  // A gauge read at scrape time.
  void gauge_func(const std::string& name, std::function<double()> fn);
  void help(const std::string& name, const std::string& type, const std::string& text);

  // The value of a counter or gauge (0 when absent): for tests and the benchmark.
  double value(const std::string& name, const Labels& labels = {}) const;
  // Prometheus text exposition format 0.0.4.
  std::string render() const;

 private:
  struct Histogram {
    std::vector<double> buckets;
    std::vector<uint64_t> counts;  // per bucket (not cumulative)
    uint64_t count = 0;
    double sum = 0;
  };
  static std::string key(const Labels& labels);
  mutable std::mutex mu_;
  std::map<std::string, std::map<std::string, double>> values_;  // name -> labels -> value
  std::map<std::string, std::map<std::string, Histogram>> histograms_;
  std::map<std::string, std::function<double()>> funcs_;
  std::map<std::string, std::pair<std::string, std::string>> help_;  // name -> (type, text)
};

// Counts requests, then forwards them to the wrapped client.
class CountingClient final : public core::kube::KubeClient {
 public:
  CountingClient(core::kube::KubeClient& inner, Metrics& metrics)
      : inner_(inner), metrics_(metrics) {}

  core::Result<core::json::Document> get(const core::kube::Resource& r, std::string_view ns,
                                         std::string_view name,
                                         const core::kube::GetOptions& opts) override;
  core::Result<core::kube::ListResult> list(const core::kube::Resource& r, std::string_view ns,
                                            const core::kube::ListOptions& opts) override;
  core::Result<core::json::Document> create(const core::kube::Resource& r, std::string_view ns,
                                            const core::json::Value& obj,
                                            const core::kube::WriteOptions& opts) override;
  core::Result<core::json::Document> update(const core::kube::Resource& r, std::string_view ns,
                                            const core::json::Value& obj,
                                            const core::kube::WriteOptions& opts) override;
  core::Result<core::json::Document> patch(const core::kube::Resource& r, std::string_view ns,
                                           std::string_view name, core::kube::PatchType type,
                                           std::string_view body,
                                           const core::kube::PatchOptions& opts) override;
  core::Status remove(const core::kube::Resource& r, std::string_view ns, std::string_view name,
                      const core::kube::DeleteOptions& opts) override;
  core::Status watch(const core::kube::Resource& r, std::string_view ns,
                     const core::kube::ListOptions& opts, const core::kube::WatchHandler& handler,
                     core::kube::Cancel* cancel) override;
  core::Result<core::kube::RawResponse> raw(const core::kube::RawRequest& req) override;
  core::Result<core::kube::Resource> resolve(std::string_view api_version,
                                             std::string_view kind) override;
  std::string default_namespace() const override { return inner_.default_namespace(); }

 private:
  void count(const char* verb, const core::kube::Resource& r, const core::Error* err);
  core::kube::KubeClient& inner_;
  Metrics& metrics_;
};

}  // namespace kv::controller
