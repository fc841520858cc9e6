#include "handler/heartbeat.hpp"

#include "core/json.hpp"
#include "core/kube/kubeconfig.hpp"

namespace kv::handler {
namespace json = core::json;

std::string heartbeat_patch(std::chrono::system_clock::time_point now) {
  json::Document doc;
  auto& a = doc.GetAllocator();
  doc.SetObject();
  json::Value& meta = json::ensure_object(doc, "metadata", a);
  json::set(json::ensure_object(meta, "annotations", a), kHeartbeatAnnotation,
            core::kube::format_rfc3339(now), a);
  json::set(json::ensure_object(meta, "labels", a), kSchedulableLabel, "true", a);
  return json::to_string(doc);
}

core::Status write_heartbeat(core::kube::KubeClient& client, const std::string& node,
                             std::chrono::system_clock::time_point now) {
  core::kube::PatchOptions po;
  po.field_manager = "virt-handler";
  auto r = client.patch(core::kube::resources::nodes(), "", node, core::kube::PatchType::merge,
                        heartbeat_patch(now), po);
  if (!r.ok())
    return std::move(r).error();
  return {};
}

}  // namespace kv::handler
