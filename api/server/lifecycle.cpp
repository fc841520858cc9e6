#include "api/server/lifecycle.hpp"

#include <algorithm>

#include "api/v1/types.hpp"

namespace kv::apiserver {
namespace json = core::json;
using json::Value;

namespace {

constexpr std::string_view kVmNotRunning = "VM is not running";

std::string_view str_or(const Value& obj, std::initializer_list<std::string_view> path,
                        std::string_view fallback = "") {
  const Value* v = json::find_path(obj, path);
  return v && v->IsString() ? std::string_view(v->GetString(), v->GetStringLength()) : fallback;
}

bool vmi_final(const Value& vmi) {
  auto phase = str_or(vmi, {"status", "phase"});
  return phase == "Succeeded" || phase == "Failed";
}

// A JSON patch under construction; always begins with the resourceVersion guard.
class JsonPatch {
 public:
  explicit JsonPatch(const Value& obj) {
    doc_.SetArray();
    Value rv = json::string_value(str_or(obj, {"metadata", "resourceVersion"}), a());
    op("test", "/metadata/resourceVersion", std::move(rv));
  }
  json::Allocator& a() { return doc_.GetAllocator(); }
  JsonPatch& op(std::string_view name, std::string_view path, Value value) {
    Value o(rapidjson::kObjectType);
    json::set(o, "op", name, a());
    json::set(o, "path", path, a());
    json::set(o, "value", std::move(value), a());
    doc_.PushBack(std::move(o), a());
    return *this;
  }
  std::string str() const { return json::to_string(doc_); }

 private:
  json::Document doc_;
};

struct Request {
  std::string action;  // "Start" | "Stop"
  std::string uid;     // Stop: the VMI it is for
  bool paused = false;
};

// Adds `requests` to status.stateChangeRequests (see the header for when that is allowed).
std::variant<PatchStep, ApiError> change_request_patch(const Value& vm,
                                                       const std::vector<Request>& requests) {
  const std::string name(str_or(vm, {"metadata", "name"}));
  JsonPatch p(vm);
  Value list(rapidjson::kArrayType);
  for (const auto& r : requests) {
    Value o(rapidjson::kObjectType);
    json::set(o, "action", r.action, p.a());
    if (!r.uid.empty())
      json::set(o, "uid", r.uid, p.a());
    if (r.paused) {
      Value data(rapidjson::kObjectType);
      json::set(data, "paused", "true", p.a());
      json::set(o, "data", std::move(data), p.a());
    }
    list.PushBack(std::move(o), p.a());
  }
  const Value* status = json::find(vm, "status");
  const Value* queue = status ? json::find(*status, "stateChangeRequests") : nullptr;
  if (!status || !status->IsObject()) {
    Value st(rapidjson::kObjectType);
    json::set(st, "stateChangeRequests", std::move(list), p.a());
    p.op("add", "/status", std::move(st));
  } else if (!queue || !queue->IsArray() || queue->Empty()) {
    p.op("add", "/status/stateChangeRequests", std::move(list));
  } else if (requests.size() == 1 && requests[0].action == "Stop") {
    p.op("replace", "/status/stateChangeRequests", std::move(list));
  } else {
    return conflict("virtualmachine", name,
                    "unable to complete request: stop/start already underway");
  }
  return PatchStep{"virtualmachines", "status", p.str()};
}

// spec.runStrategy := Always/Halted, or spec.running := true/false on VMs that use it.
PatchStep running_patch(const Value& vm, bool running) {
  JsonPatch p(vm);
  const Value* spec = json::find(vm, "spec");
  const Value* rs = spec ? json::find(*spec, "runStrategy") : nullptr;
  const Value* legacy = spec ? json::find(*spec, "running") : nullptr;
  if (rs && rs->IsString()) {
    p.op("test", "/spec/runStrategy", json::clone(*rs, p.a()));
    p.op("replace", "/spec/runStrategy", json::string_value(running ? "Always" : "Halted", p.a()));
  } else if (legacy && legacy->IsBool()) {
    p.op("test", "/spec/running", json::clone(*legacy, p.a()));
    p.op("replace", "/spec/running", Value(running));
  } else {
    p.op("add", "/spec/runStrategy", json::string_value(running ? "Always" : "Halted", p.a()));
  }
  return PatchStep{"virtualmachines", "", p.str()};
}

// A JSON pointer segment (RFC 6901): "~" -> "~0", "/" -> "~1".
std::string pointer_segment(std::string_view key) {
  std::string out;
  for (char c : key)
    out += c == '~' ? "~0" : c == '/' ? "~1" : std::string(1, c);
  return out;
}

// Removes the VM's crash-loop record (api::v1::kStartFailureAnnotation), as upstream's
// getChangeRequestJson removes status.startFailure with every change request. Guarded by the
// record's value rather than the resourceVersion: it follows the status patch of the same plan.
std::optional<PatchStep> clear_start_failure(const Value& vm) {
  const Value* ann = json::find_path(vm, {"metadata", "annotations"});
  const Value* record =
      ann && ann->IsObject() ? json::find(*ann, api::v1::kStartFailureAnnotation) : nullptr;
  if (!record || !record->IsString())
    return std::nullopt;
  const std::string path =
      "/metadata/annotations/" + pointer_segment(api::v1::kStartFailureAnnotation);
  json::Document d;
  d.SetArray();
  auto& a = d.GetAllocator();
  Value test(rapidjson::kObjectType);
  json::set(test, "op", "test", a);
  json::set(test, "path", path, a);
  json::set(test, "value", json::clone(*record, a), a);
  d.PushBack(std::move(test), a);
  Value remove(rapidjson::kObjectType);
  json::set(remove, "op", "remove", a);
  json::set(remove, "path", path, a);
  d.PushBack(std::move(remove), a);
  return PatchStep{"virtualmachines", "", json::to_string(d)};
}

}  // namespace

std::optional<VmAction> vm_action_from(std::string_view name) {
  if (name == "start")
    return VmAction::start;
  if (name == "stop")
    return VmAction::stop;
  if (name == "restart")
    return VmAction::restart;
  return std::nullopt;
}

std::variant<LifecycleOptions, ApiError> parse_lifecycle_options(VmAction action,
                                                                 std::string_view body) {
  LifecycleOptions o;
  bool blank = true;
  for (char c : body)
    if (!std::isspace(static_cast<unsigned char>(c)))
      blank = false;
  if (blank)
    return o;
  const char* kind = action == VmAction::start  ? "StartOptions"
                     : action == VmAction::stop ? "StopOptions"
                                                : "RestartOptions";
  auto doc = json::parse(body);
  if (!doc.ok())
    return bad_request(std::string("the request body is not a valid ") + kind +
                       " JSON object: " + doc.error().message);
  if (!doc->IsObject())
    return bad_request(std::string("the request body must be a ") + kind + " JSON object, not " +
                       std::string(json::type_name(*doc)));
  const std::string grace_field = action == VmAction::stop ? "gracePeriod" : "gracePeriodSeconds";
  for (auto it = doc->MemberBegin(); it != doc->MemberEnd(); ++it) {
    std::string_view k(it->name.GetString(), it->name.GetStringLength());
    const Value& v = it->value;
    if (k == "apiVersion" || k == "kind") {
      continue;
    } else if (k == "dryRun") {
      if (!v.IsArray())
        return bad_request(std::string(kind) + ".dryRun: must be a list of strings ([\"All\"])");
      for (const auto& e : v.GetArray()) {
        if (!e.IsString() || std::string_view(e.GetString()) != "All")
          return bad_request(std::string(kind) + ".dryRun: the only allowed value is \"All\"");
        o.dry_run = true;
      }
    } else if (k == "paused" && action == VmAction::start) {
      if (!v.IsBool())
        return bad_request("StartOptions.paused: must be true or false");
      o.paused = v.GetBool();
    } else if (k == grace_field && action != VmAction::start) {
      if (v.IsNull())
        continue;
      if (!v.IsInt64())
        return bad_request(std::string(kind) + "." + grace_field + ": must be an integer");
      o.grace_period = v.GetInt64();
    } else {
      std::string allowed = action == VmAction::start ? "paused, dryRun" : grace_field + ", dryRun";
      return bad_request(std::string(kind) + "." + std::string(k) +
                         ": unknown field; allowed: " + allowed);
    }
  }
  return o;
}

std::string effective_run_strategy(const Value& vm) {
  auto rs = str_or(vm, {"spec", "runStrategy"});
  if (!rs.empty())
    return std::string(rs);
  const Value* running = json::find_path(vm, {"spec", "running"});
  if (running && running->IsBool())
    return running->GetBool() ? "Always" : "Halted";
  return "Halted";
}

namespace {

std::variant<LifecyclePlan, ApiError> plan_change(VmAction action, const Value& vm,
                                                  const Value* vmi, const LifecycleOptions& opts) {
  const std::string name(str_or(vm, {"metadata", "name"}));
  const std::string rs = effective_run_strategy(vm);
  const bool live = vmi && !vmi_final(*vmi);
  const std::string uid = vmi ? std::string(str_or(*vmi, {"metadata", "uid"})) : "";
  LifecyclePlan plan;
  auto add = [&](std::variant<PatchStep, ApiError> step) -> std::optional<ApiError> {
    if (auto* e = std::get_if<ApiError>(&step))
      return *e;
    plan.patches.push_back(std::get<PatchStep>(std::move(step)));
    return std::nullopt;
  };

  switch (action) {
    case VmAction::start: {
      if (live) {
        auto phase = str_or(*vmi, {"status", "phase"});
        if (!phase.empty() && phase != "Unknown")
          return conflict("virtualmachine", name, "VM is already running");
      }
      if (rs == "Halted") {
        if (opts.paused) {
          if (auto e = add(change_request_patch(vm, {{"Start", "", true}})))
            return *e;
        } else {
          plan.patches.push_back(running_patch(vm, true));
        }
      } else if (rs == "Manual" || rs == "RerunOnFailure") {
        auto phase = vmi ? str_or(*vmi, {"status", "phase"}) : "";
        if (rs == "RerunOnFailure" && phase == "Failed")
          return conflict("virtualmachine", name,
                          "RerunOnFailure does not support starting VM from failed state");
        const bool restart = vmi && ((rs == "RerunOnFailure" && phase == "Succeeded") ||
                                     (rs == "Manual" && vmi_final(*vmi)));
        std::vector<Request> reqs;
        if (restart)
          reqs.push_back({"Stop", uid, false});
        reqs.push_back({"Start", "", opts.paused});
        if (auto e = add(change_request_patch(vm, reqs)))
          return *e;
      } else {
        return conflict("virtualmachine", name, rs + " does not support manual start requests");
      }
      return plan;
    }
    case VmAction::stop: {
      std::optional<int64_t> old_grace;
      if (live && opts.grace_period) {
        // Lower the grace period of the VMI that is going, so the stop takes effect sooner.
        const Value* g = json::find_path(*vmi, {"spec", "terminationGracePeriodSeconds"});
        JsonPatch p(*vmi);
        if (g && g->IsInt64()) {
          old_grace = g->GetInt64();
          p.op("test", "/spec/terminationGracePeriodSeconds", Value(*old_grace));
          p.op("replace", "/spec/terminationGracePeriodSeconds", Value(*opts.grace_period));
        } else {
          p.op("add", "/spec/terminationGracePeriodSeconds", Value(*opts.grace_period));
        }
        plan.patches.push_back({"virtualmachineinstances", "", p.str()});
      }
      if (rs == "Halted") {
        if (!live)
          return conflict("virtualmachine", name, kVmNotRunning);
        if (!opts.grace_period || (old_grace && *opts.grace_period >= *old_grace))
          return conflict("virtualmachine", name,
                          "Halted only supports manual stop requests with a shorter graceperiod");
        if (auto e = add(change_request_patch(vm, {{"Stop", uid, false}})))
          return *e;
      } else if (rs == "Manual" || rs == "RerunOnFailure") {
        if (!live)
          return conflict("virtualmachine", name, kVmNotRunning);
        if (auto e = add(change_request_patch(vm, {{"Stop", uid, false}})))
          return *e;
      } else {
        plan.patches.push_back(running_patch(vm, false));
      }
      return plan;
    }
    case VmAction::restart: {
      if (opts.grace_period && *opts.grace_period > 0)
        return bad_request("For force restart, only gracePeriod=0 is supported for now");
      if (opts.grace_period && *opts.grace_period < 0)
        return bad_request("gracePeriod has to be greater or equal to 0");
      if (rs == "Halted" || rs == "Once")
        return conflict("virtualmachine", name,
                        "RunStrategy " + rs + " does not support manual restart requests");
      if (!vmi)
        return conflict("virtualmachine", name, kVmNotRunning);
      if (auto e = add(change_request_patch(vm, {{"Stop", uid, false}, {"Start", "", false}})))
        return *e;
      if (opts.grace_period && *opts.grace_period == 0)
        plan.delete_launcher_pod_of = uid;
      return plan;
    }
  }
  return internal_error("unknown action");
}

}  // namespace

std::variant<LifecyclePlan, ApiError> plan_vm_action(VmAction action, const Value& vm,
                                                     const Value* vmi,
                                                     const LifecycleOptions& opts) {
  auto planned = plan_change(action, vm, vmi, opts);
  auto* plan = std::get_if<LifecyclePlan>(&planned);
  if (!plan)
    return planned;
  const bool change_request =
      std::any_of(plan->patches.begin(), plan->patches.end(), [](const PatchStep& p) {
        return p.resource == "virtualmachines" && p.subresource == "status";
      });
  if (change_request)
    if (auto clear = clear_start_failure(vm))
      plan->patches.push_back(std::move(*clear));
  return planned;
}

}  // namespace kv::apiserver
