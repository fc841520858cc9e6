#include "api/server/actions.hpp"

#include "addon/resources.hpp"
#include "api/server/lifecycle.hpp"
#include "api/server/migrate.hpp"
#include "core/json.hpp"
#include "core/log.hpp"

namespace kv::apiserver {
namespace json = core::json;
namespace kube = core::kube;
using core::Errc;
using core::Error;

namespace {

kube::Resource sar_resource() {
  return {"authorization.k8s.io", "v1", "subjectaccessreviews", "SubjectAccessReview", false};
}

// Whether a patch of ours failed because the object changed under it: a 409, or the `test` of
// metadata.resourceVersion failing, which kube-apiserver reports as a bare 422 "the server
// rejected our request due to an error in our request" (checked against kube-apiserver 1.3x).
bool is_patch_conflict(const Error& e) {
  if (e.code == Errc::conflict)
    return true;
  const auto& m = e.message;
  return m.find("the server rejected our request due to an error in our request") !=
             std::string::npos ||
         m.find("test operation") != std::string::npos ||
         m.find("testing value") != std::string::npos || m.find("test failed") != std::string::npos;
}

std::string str_at(const json::Value& v, std::initializer_list<std::string_view> path) {
  const json::Value* p = json::find_path(v, path);
  return p && p->IsString() ? std::string(p->GetString(), p->GetStringLength()) : "";
}

HttpReply error_reply(const ApiError& e) {
  return {e.code, status_body(e)};
}

}  // namespace

std::optional<ApiError> authorize(kube::KubeClient& client, const UserInfo& user, const Route& r) {
  json::Document sar;
  sar.SetObject();
  auto& a = sar.GetAllocator();
  json::set(sar, "apiVersion", "authorization.k8s.io/v1", a);
  json::set(sar, "kind", "SubjectAccessReview", a);
  json::Value spec(rapidjson::kObjectType);
  json::set(spec, "user", user.name, a);
  json::Value groups(rapidjson::kArrayType);
  for (const auto& g : user.groups)
    groups.PushBack(json::string_value(g, a), a);
  json::set(spec, "groups", std::move(groups), a);
  if (!user.extra.empty()) {
    json::Value extra(rapidjson::kObjectType);
    for (const auto& [k, vs] : user.extra) {
      json::Value list(rapidjson::kArrayType);
      for (const auto& v : vs)
        list.PushBack(json::string_value(v, a), a);
      json::set(extra, k, std::move(list), a);
    }
    json::set(spec, "extra", std::move(extra), a);
  }
  json::Value attrs(rapidjson::kObjectType);
  json::set(attrs, "namespace", r.ns, a);
  json::set(attrs, "verb", r.verb, a);
  json::set(attrs, "group", kGroup, a);
  json::set(attrs, "version", kVersion, a);
  json::set(attrs, "resource", r.resource, a);
  json::set(attrs, "subresource", r.action, a);
  json::set(attrs, "name", r.name, a);
  json::set(spec, "resourceAttributes", std::move(attrs), a);
  json::set(sar, "spec", std::move(spec), a);
  auto res = client.create(sar_resource(), "", sar);
  if (!res.ok()) {
    core::log::warn("virt-api: SubjectAccessReview failed", {{"error", res.error().message}});
    return internal_error("cannot check authorization: " + res.error().message);
  }
  const json::Value* allowed = json::find_path(*res, {"status", "allowed"});
  if (allowed && allowed->IsBool() && allowed->GetBool())
    return std::nullopt;
  std::string msg = r.resource + "." + kGroup + " \"" + r.name + "\" is forbidden: User \"" +
                    user.name + "\" cannot " + r.verb + " resource \"" + r.resource + "/" +
                    r.action + "\" in API group \"" + kGroup + "\" in the namespace \"" + r.ns +
                    "\"";
  if (auto reason = str_at(*res, {"status", "reason"}); !reason.empty())
    msg += ": " + reason;
  return forbidden(msg);
}

std::variant<bool, ApiError> parse_vmi_action_dry_run(const std::string& action,
                                                      std::string_view body) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos)
    return false;
  const std::string kind = action == "pause"     ? "PauseOptions"
                           : action == "unpause" ? "UnpauseOptions"
                                                 : "SoftRebootOptions";
  auto doc = json::parse(body);
  if (!doc.ok() || !doc->IsObject())
    return bad_request("the request body must be a " + kind + " JSON object");
  bool dry_run = false;
  for (auto it = doc->MemberBegin(); it != doc->MemberEnd(); ++it) {
    std::string_view k(it->name.GetString(), it->name.GetStringLength());
    if (k == "apiVersion" || k == "kind")
      continue;
    if (k != "dryRun")
      return bad_request(kind + "." + std::string(k) + ": unknown field; allowed: dryRun");
    if (!it->value.IsArray())
      return bad_request(kind + ".dryRun: must be a list of strings ([\"All\"])");
    for (const auto& v : it->value.GetArray()) {
      if (!v.IsString() || std::string_view(v.GetString()) != "All")
        return bad_request(kind + ".dryRun: the only allowed value is \"All\"");
      dry_run = true;
    }
  }
  return dry_run;
}

HttpReply vm_action(kube::KubeClient& client, const Route& r, const std::string& body) {
  const auto action = *vm_action_from(r.action);
  auto parsed = parse_lifecycle_options(action, body);
  if (auto* e = std::get_if<ApiError>(&parsed))
    return error_reply(*e);
  const auto opts = std::get<LifecycleOptions>(parsed);
  for (int attempt = 0;; ++attempt) {
    auto vm = client.get(addon::resources::virtual_machines(), r.ns, r.name);
    if (!vm.ok()) {
      if (vm.error().code == Errc::not_found)
        return error_reply(not_found("virtualmachine", r.name));
      return error_reply(internal_error(vm.error().message));
    }
    auto vmi = client.get(addon::resources::virtual_machine_instances(), r.ns, r.name);
    if (!vmi.ok() && vmi.error().code != Errc::not_found)
      return error_reply(internal_error(vmi.error().message));
    auto plan = plan_vm_action(action, *vm, vmi.ok() ? &*vmi : nullptr, opts);
    if (auto* e = std::get_if<ApiError>(&plan))
      return error_reply(*e);
    bool retry = false;
    for (const auto& p : std::get<LifecyclePlan>(plan).patches) {
      kube::PatchOptions po;
      po.subresource = p.subresource;
      po.dry_run = opts.dry_run;
      const auto res = p.resource == "virtualmachines"
                           ? addon::resources::virtual_machines()
                           : addon::resources::virtual_machine_instances();
      auto out = client.patch(res, r.ns, r.name, kube::PatchType::json, p.body, po);
      if (out.ok())
        continue;
      if (is_patch_conflict(out.error()) && attempt < 5) {
        retry = true;
        break;
      }
      if (is_patch_conflict(out.error()))
        return error_reply(conflict("virtualmachine", r.name, out.error().message));
      return error_reply(internal_error(out.error().message));
    }
    if (retry)
      continue;
    if (auto uid = std::get<LifecyclePlan>(plan).delete_launcher_pod_of; uid && !opts.dry_run) {
      kube::ListOptions lo;
      lo.label_selector = "kubevirt.io=virt-launcher,kubevirt.io/created-by=" + *uid;
      auto pods = client.list(kube::resources::pods(), r.ns, lo);
      if (!pods.ok())
        return error_reply(internal_error(pods.error().message));
      for (const auto& pod : pods->items) {
        kube::DeleteOptions d;
        d.grace_period_seconds = 1;
        auto st =
            client.remove(kube::resources::pods(), r.ns, str_at(pod, {"metadata", "name"}), d);
        if (!st.ok() && st.error().code != Errc::not_found)
          return error_reply(internal_error(st.error().message));
      }
    }
    core::log::info(
        "virt-api: " + r.action,
        {{"namespace", r.ns}, {"name", r.name}, {"dryRun", opts.dry_run ? "true" : "false"}});
    return {202, ""};
  }
}

HttpReply vm_migrate(kube::KubeClient& client, const Route& r, const std::string& body) {
  auto parsed = parse_migrate_options(body);
  if (auto* e = std::get_if<ApiError>(&parsed))
    return error_reply(*e);
  const auto opts = std::get<MigrateOptions>(parsed);
  auto vm = client.get(addon::resources::virtual_machines(), r.ns, r.name);
  if (!vm.ok()) {
    if (vm.error().code == Errc::not_found)
      return error_reply(not_found("virtualmachine", r.name));
    return error_reply(internal_error(vm.error().message));
  }
  auto vmi = client.get(addon::resources::virtual_machine_instances(), r.ns, r.name);
  if (!vmi.ok() && vmi.error().code != Errc::not_found)
    return error_reply(internal_error(vmi.error().message));
  auto plan = plan_migration(r.name, vmi.ok() ? &*vmi : nullptr, opts);
  if (auto* e = std::get_if<ApiError>(&plan))
    return error_reply(*e);
  kube::WriteOptions wo;
  wo.dry_run = opts.dry_run;
  auto created = client.create(addon::resources::virtual_machine_instance_migrations(), r.ns,
                               std::get<json::Document>(plan), wo);
  // Upstream wraps every failure here in a 500; the API server's own answer (a webhook's
  // refusal, a quota, RBAC) says more and keeps its code.
  if (!created.ok())
    return error_reply(from_error(created.error()));
  core::log::info("virt-api: migrate", {{"namespace", r.ns},
                                        {"name", r.name},
                                        {"migration", str_at(*created, {"metadata", "name"})},
                                        {"dryRun", opts.dry_run ? "true" : "false"}});
  return {202, ""};
}

std::variant<HandlerAddress, ApiError> locate_handler(kube::KubeClient& client, const Route& r,
                                                      const std::string& handler_namespace,
                                                      int handler_port) {
  auto vmi = client.get(addon::resources::virtual_machine_instances(), r.ns, r.name);
  if (!vmi.ok()) {
    if (vmi.error().code == Errc::not_found)
      return not_found("virtualmachineinstance", r.name);
    return internal_error(vmi.error().message);
  }
  const bool running = str_at(*vmi, {"status", "phase"}) == "Running";
  const std::string node = str_at(*vmi, {"status", "nodeName"});
  if (r.kind == RouteKind::vmi_stream) {
    if (!running || node.empty())
      return bad_request("VMI is not running");
  } else {
    if (!running || node.empty())
      return conflict("virtualmachineinstance", r.name, "VMI is not running");
    const bool paused = has_true_condition(*vmi, "Paused");
    if (r.action == "pause" && paused)
      return conflict("virtualmachineinstance", r.name, "VMI is already paused");
    if (r.action == "unpause" && !paused)
      return conflict("virtualmachineinstance", r.name, "VMI is not paused");
    if (r.action == "softreboot" && paused)
      return conflict("virtualmachineinstance", r.name, "VMI is paused");
  }
  kube::ListOptions lo;
  lo.label_selector = "kubevirt.io=virt-handler";
  lo.field_selector = "spec.nodeName=" + node;
  auto pods = client.list(kube::resources::pods(), handler_namespace, lo);
  if (!pods.ok())
    return internal_error("cannot list virt-handler pods: " + pods.error().message);
  for (const auto& pod : pods->items) {
    // The field selector already picks the node; checked again so a pod elsewhere is never used.
    if (str_at(pod, {"status", "phase"}) != "Running" || str_at(pod, {"spec", "nodeName"}) != node)
      continue;
    const std::string ip = str_at(pod, {"status", "podIP"});
    if (ip.empty())
      continue;
    return HandlerAddress{ip, handler_port, node};
  }
  return ApiError{503, "ServiceUnavailable",
                  "no running virt-handler pod on node " + node + " (namespace " +
                      handler_namespace + ", label kubevirt.io=virt-handler)"};
}

bool has_true_condition(const core::json::Value& obj, std::string_view type) {
  const json::Value* conds = json::find_path(obj, {"status", "conditions"});
  if (!conds || !conds->IsArray())
    return false;
  for (const auto& c : conds->GetArray())
    if (json::get_string(c, "type").value_or("") == type &&
        json::get_string(c, "status").value_or("") == "True")
      return true;
  return false;
}

}  // namespace kv::apiserver
