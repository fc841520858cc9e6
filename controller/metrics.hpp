#pragma once
// Prometheus text metrics for virt-controller (docs/controller.md "Metrics"): core::metrics'
// Registry under the names the controller uses. Families may be used before they are declared
// (CountingClient counts leader-election requests before the Controller declares its metrics);
// such a family renders untyped until help() declares it.
//
// Also CountingClient: a KubeClient decorator that counts every API request by verb and
// resource (kv_controller_api_requests_total), which is how the benchmark measures requests
// per VM.

#include <functional>
#include <string>

#include "core/kube/client.hpp"
#include "core/metrics/registry.hpp"

namespace kv::controller {

using Labels = core::metrics::Labels;

// Thread-safe. inc, set, observe (buckets given at first use), value and render are the
// Registry's.
class Metrics : public core::metrics::Registry {
 public:
  Metrics() : Registry(Undeclared::allow) {}

  // Declares a family: type is "counter", "gauge" or "histogram" (anything else: untyped).
  void help(const std::string& name, const std::string& type, const std::string& text);
  // A value read at scrape time, replacing an earlier function of the same name. The function
  // must stay callable until it is replaced (Controller::stop() detaches its gauges).
  void gauge_func(const std::string& name, std::function<double()> fn);
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
