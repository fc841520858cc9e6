#include "controller/metrics.hpp"

#include <utility>

namespace kv::controller {

void Metrics::help(const std::string& name, const std::string& type, const std::string& text) {
  declare(name, core::metrics::parse_type(type).value_or(Type::untyped), text);
}

void Metrics::gauge_func(const std::string& name, std::function<double()> fn) {
  set_func(name, {}, std::move(fn));
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
