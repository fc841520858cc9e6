#include "controller/node_health.hpp"

#include "controller/pod_render.hpp"
#include "core/kube/kubeconfig.hpp"
#include "core/kube/resource.hpp"

namespace kv::controller {
namespace json = core::json;
namespace meta = core::kube::meta;

bool heartbeat_stale(const json::Value& node, std::chrono::system_clock::time_point now,
                     std::chrono::seconds timeout) {
  auto hb = meta::annotation(node, kHeartbeatAnnotation);
  if (!hb)
    return false;
  auto t = core::kube::parse_rfc3339(*hb);
  if (!t.ok())
    return false;
  return now - *t > timeout;
}

std::optional<std::string> unresponsive_node_patch(const json::Value& node,
                                                   std::chrono::system_clock::time_point now,
                                                   std::chrono::seconds timeout) {
  if (meta::label(node, kSchedulableLabel).value_or("") != "true" ||
      !heartbeat_stale(node, now, timeout))
    return std::nullopt;
  return std::string(R"({"metadata":{"labels":{")") + kSchedulableLabel + R"(":"false"}}})";
}

}  // namespace kv::controller
