#include "api/server/admission.hpp"

#include "api/pool/pool.hpp"
#include "api/server/status.hpp"
#include "api/v1/codec.hpp"
#include "api/v1/defaults.hpp"
#include "api/v1/migration.hpp"
#include "api/v1/replicaset.hpp"
#include "api/v1/validation.hpp"
#include "core/json.hpp"
#include "core/kube/kubeconfig.hpp"

namespace kv::apiserver {
namespace json = core::json;
using json::Value;

namespace {

std::string str(const Value& obj, std::string_view key) {
  return std::string(json::get_string(obj, key).value_or(""));
}

struct Verdict {
  bool allowed = true;
  std::string message;
  api::v1::FieldErrors causes;
  std::string patch;  // JSONPatch text, for the mutating hook
};

Verdict deny(const api::v1::FieldErrors& errors) {
  Verdict v;
  v.allowed = false;
  v.causes = errors;
  for (size_t i = 0; i < errors.size(); ++i)
    v.message += (i ? ", " : "") + errors[i].to_string();
  return v;
}

const char* expected_kind(Webhook hook) {
  if (hook == Webhook::validate_vmirs)
    return "VirtualMachineInstanceReplicaSet";
  if (hook == Webhook::validate_vmpool)
    return "VirtualMachinePool";
  if (hook == Webhook::mutate_vmim || hook == Webhook::validate_vmim_create ||
      hook == Webhook::validate_vmim_update)
    return "VirtualMachineInstanceMigration";
  return hook == Webhook::validate_vmi || hook == Webhook::mutate_vmi ? "VirtualMachineInstance"
                                                                      : "VirtualMachine";
}

// `replace /spec` (or `add` when the object had none) by `spec`, unless it is unchanged.
std::string spec_patch(const Value* orig, const Value* spec) {
  if (!spec || (orig && json::equal(*orig, *spec)))
    return {};
  json::Document patch;
  patch.SetArray();
  auto& a = patch.GetAllocator();
  Value o(rapidjson::kObjectType);
  json::set(o, "op", orig ? "replace" : "add", a);
  json::set(o, "path", "/spec", a);
  json::set(o, "value", json::clone(*spec, a), a);
  patch.PushBack(std::move(o), a);
  return json::to_string(patch);
}

// The VM as upstream's VM mutator stores it (api/v1 with_stored_defaults), as JSON.
json::Document stored_vm(const Value& obj) {
  api::v1::FieldErrors errors;
  auto vm = api::v1::with_stored_defaults(api::v1::decode_vm(obj, errors));
  json::Document out;
  out.CopyFrom(api::v1::encode(vm, out.GetAllocator()), out.GetAllocator());
  return out;
}

// VirtualMachineInstanceMigration: each hook has one operation (as upstream's three hooks).
Verdict decide_migration(Webhook hook, const std::string& op, const Value& req, const Value& obj,
                         const AdmissionPolicy& policy) {
  if (hook == Webhook::validate_vmim_update) {
    if (op != "UPDATE")
      return {};
    // The status is read too: the selector label may go once the migration is final.
    auto admission = api::v1::admit_migration(obj, json::find(req, "oldObject"));
    return admission.errors.empty() ? Verdict{} : deny(admission.errors);
  }
  if (op != "CREATE")
    return {};
  json::Document user_part;
  user_part.CopyFrom(obj, user_part.GetAllocator());
  json::erase(user_part, "status");
  auto admission = api::v1::admit_migration(user_part);
  if (!admission.errors.empty()) {
    // As for the other mutators: an invalid object gets no patch and is refused by the
    // validating hook.
    if (hook == Webhook::mutate_vmim)
      return {};
    return deny(admission.errors);
  }
  const Value* spec = json::find(admission.defaulted, "spec");
  const std::string vmi_name = spec ? str(*spec, "vmiName") : "";
  if (hook == Webhook::mutate_vmim) {
    Verdict v;
    v.patch = migration_create_patch(obj, vmi_name);
    return v;
  }
  if (!policy.migrations)
    return {};
  // The namespace is the request's: a new object need not carry metadata.namespace.
  std::string ns = str(req, "namespace");
  if (ns.empty())
    if (const Value* meta = json::find(obj, "metadata"))
      ns = str(*meta, "namespace");
  auto errors = check_migration_target(*policy.migrations, ns, vmi_name);
  return errors.empty() ? Verdict{} : deny(errors);
}

Verdict decide(Webhook hook, const Value& req, const AdmissionPolicy& policy) {
  const std::string op = str(req, "operation");
  if (op != "CREATE" && op != "UPDATE")
    return {};  // DELETE, CONNECT: nothing to check
  const Value* obj = json::find(req, "object");
  if (!obj || !obj->IsObject())
    return deny({{"request.object", "missing; the object to admit is required"}});
  auto kind = json::get_string(*obj, "kind").value_or("");
  if (kind != expected_kind(hook))
    return deny({{"kind", "\"" + std::string(kind) +
                              "\" is not handled here; allowed: " + expected_kind(hook)}});

  if (hook == Webhook::mutate_vmi && op == "UPDATE")
    return {};  // upstream defaults a VMI once, when it is created
  if (hook == Webhook::mutate_vmim || hook == Webhook::validate_vmim_create ||
      hook == Webhook::validate_vmim_update)
    return decide_migration(hook, op, req, *obj, policy);
  // A VM on its way out is not judged again (as upstream's VM mutator): its finalizers must come
  // off even when it would not pass today's rules. (A VMI's UPDATE only checks its spec, below.)
  const Value* meta = json::find(*obj, "metadata");
  const bool deleting = meta && json::find(*meta, "deletionTimestamp");
  if (hook != Webhook::validate_vmi && op == "UPDATE" && deleting)
    return {};
  if (hook == Webhook::validate_vmi && op == "UPDATE") {
    // A VMI's spec is fixed once created; only our components adjust it (for example virt-api
    // lowering terminationGracePeriodSeconds on a forced stop).
    const Value* old = json::find(req, "oldObject");
    const Value* new_spec = json::find(*obj, "spec");
    const Value* old_spec = old ? json::find(*old, "spec") : nullptr;
    const bool same =
        (!new_spec && !old_spec) || (new_spec && old_spec && json::equal(*new_spec, *old_spec));
    if (same)
      return {};
    const Value* user = json::find(req, "userInfo");
    const std::string username = user ? str(*user, "username") : "";
    for (const auto& p : policy.privileged_user_prefixes)
      if (!p.empty() && username.rfind(p, 0) == 0)
        return {};
    return deny({{"spec", "update of VMI object is restricted"}});
  }

  // Status belongs to our controllers (written through the status subresource, which these
  // hooks do not see); only what the user wrote is judged.
  json::Document user_part;
  user_part.CopyFrom(*obj, user_part.GetAllocator());
  json::erase(user_part, "status");
  auto instancetype =
      admit_instancetype(hook == Webhook::mutate_vm, *obj, user_part, policy.instancetypes.get());
  if (!instancetype.errors.empty())
    return deny(instancetype.errors);
  if (instancetype.patch) {
    Verdict v;
    v.patch = *instancetype.patch;
    return v;
  }
  auto admission =
      hook == Webhook::validate_vmirs ? api::v1::admit_replica_set(user_part)
      : hook == Webhook::validate_vmpool
          ? api::pool::admit(user_part, op == "UPDATE" ? json::find(req, "oldObject") : nullptr)
          : api::v1::admit(user_part);
  if (!admission.errors.empty()) {
    // The mutating hooks run before the API server's schema check and the validating hooks, and
    // leave the judging to them (as upstream's): an invalid object gets no patch here, and its
    // refusal comes from the check that owns the rule (an enum from the schema, the rest from
    // the validating hook), with that check's message.
    if (hook == Webhook::mutate_vm || hook == Webhook::mutate_vmi)
      return {};
    return deny(admission.errors);
  }
  Verdict v;
  if (hook == Webhook::mutate_vmi)
    v.patch = spec_patch(json::find(*obj, "spec"), json::find(admission.defaulted, "spec"));
  if (hook == Webhook::mutate_vm) {
    // Only what upstream stores; the template's other defaults reach the VMI through its own hook.
    auto stored = stored_vm(user_part);
    v.patch = spec_patch(json::find(*obj, "spec"), json::find(stored, "spec"));
  }
  return v;
}

HttpReply malformed(const std::string& why) {
  return {400, status_body(bad_request("malformed AdmissionReview: " + why))};
}

}  // namespace

HttpReply review(Webhook hook, std::string_view body, const AdmissionPolicy& policy) {
  auto doc = json::parse(body);
  if (!doc.ok())
    return malformed(doc.error().message);
  if (!doc->IsObject())
    return malformed("expected a JSON object, got " + std::string(json::type_name(*doc)));
  const std::string api_version = str(*doc, "apiVersion");
  if (api_version != "admission.k8s.io/v1" && api_version != "admission.k8s.io/v1beta1")
    return malformed("apiVersion: \"" + api_version +
                     "\" is not supported; allowed: admission.k8s.io/v1, admission.k8s.io/v1beta1");
  if (str(*doc, "kind") != "AdmissionReview")
    return malformed("kind: \"" + str(*doc, "kind") + "\" must be AdmissionReview");
  const Value* req = json::find(*doc, "request");
  if (!req || !req->IsObject())
    return malformed("request: missing");
  const std::string uid = str(*req, "uid");
  if (uid.empty())
    return malformed("request.uid: missing");

  Verdict v = decide(hook, *req, policy);

  json::Document out;
  out.SetObject();
  auto& a = out.GetAllocator();
  json::set(out, "apiVersion", api_version, a);
  json::set(out, "kind", "AdmissionReview", a);
  Value res(rapidjson::kObjectType);
  json::set(res, "uid", uid, a);
  res.AddMember("allowed", v.allowed, a);
  if (!v.allowed) {
    Value st(rapidjson::kObjectType);
    json::set(st, "status", "Failure", a);
    json::set(st, "message", v.message, a);
    json::set(st, "reason", "Invalid", a);
    st.AddMember("code", 422, a);
    Value causes(rapidjson::kArrayType);
    for (const auto& c : v.causes) {
      Value cause(rapidjson::kObjectType);
      json::set(cause, "type", "FieldValueInvalid", a);
      json::set(cause, "message", c.message, a);
      json::set(cause, "field", c.path, a);
      causes.PushBack(std::move(cause), a);
    }
    // With the object's kind and name kubectl says `The VirtualMachine "x" is invalid:` and
    // lists the causes, the way it shows the CRD schema's own rejections.
    Value details(rapidjson::kObjectType);
    if (std::string name = str(*req, "name"); !name.empty())
      json::set(details, "name", name, a);
    if (const Value* kind = json::find(*req, "kind"); kind && kind->IsObject()) {
      json::set(details, "group", str(*kind, "group"), a);
      json::set(details, "kind", str(*kind, "kind"), a);
    }
    json::set(details, "causes", std::move(causes), a);
    json::set(st, "details", std::move(details), a);
    json::set(res, "status", std::move(st), a);
  }
  if (!v.patch.empty()) {
    json::set(res, "patchType", "JSONPatch", a);
    json::set(res, "patch", core::kube::base64_encode(v.patch), a);
  }
  json::set(out, "response", std::move(res), a);
  return {200, json::to_string(out)};
}

}  // namespace kv::apiserver
