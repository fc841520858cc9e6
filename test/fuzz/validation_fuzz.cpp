// virt-api's admission webhooks (api/server/admission.hpp), the code every VM and VMI create or
// update runs through. The input is an object (VM, VMI, replica set, pool), wrapped in an
// AdmissionReview for each hook that takes its kind, CREATE and UPDATE; or a whole
// AdmissionReview, given to every hook. Each answer must be a 200 AdmissionReview with the
// request's uid, or a 400; a valid object's mutating patch must give an object the validating
// hook still allows.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "api/server/admission.hpp"
#include "core/encoding.hpp"
#include "core/json.hpp"
#include "test/fuzz/check.hpp"

using namespace kv;
using apiserver::Webhook;
using core::json::Value;

namespace {

const apiserver::AdmissionPolicy kPolicy{{"system:serviceaccount:kubevirt:"}, nullptr};

std::string wrap(const Value& obj, const std::string& op) {
  core::json::Document review;
  review.SetObject();
  auto& a = review.GetAllocator();
  core::json::set(review, "apiVersion", "admission.k8s.io/v1", a);
  core::json::set(review, "kind", "AdmissionReview", a);
  Value req(rapidjson::kObjectType);
  core::json::set(req, "uid", "fuzz-uid", a);
  core::json::set(req, "operation", op, a);
  core::json::set(req, "object", core::json::clone(obj, a), a);
  if (op == "UPDATE")
    core::json::set(req, "oldObject", core::json::clone(obj, a), a);
  Value user(rapidjson::kObjectType);
  core::json::set(user, "username", "fuzzer", a);
  core::json::set(req, "userInfo", std::move(user), a);
  core::json::set(review, "request", std::move(req), a);
  return core::json::to_string(review);
}

// Checks the answer's shape; returns its response object (null for a 400).
const Value* answer(const apiserver::HttpReply& rep, core::json::Document& out) {
  fuzz::check(rep.status == 200 || rep.status == 400, "webhook answered neither 200 nor 400",
              rep.body);
  auto doc = core::json::parse(rep.body);
  fuzz::check(doc.ok(), "webhook answer is not JSON", rep.body);
  out = std::move(*doc);
  if (rep.status != 200)
    return nullptr;
  const Value* res = core::json::find(out, "response");
  fuzz::check(res && res->IsObject(), "webhook answer has no response", rep.body);
  return res;
}

// Applies a mutating hook's JSONPatch ("add"/"replace" of object members, as our hooks write
// them) as the API server would; a patch the API server could not apply fails the check.
void apply(core::json::Document& obj, const Value& patch, const std::string& text) {
  fuzz::check(patch.IsArray(), "patch is not a JSONPatch array", text);
  for (const auto& op : patch.GetArray()) {
    auto kind = core::json::get_string(op, "op");
    auto path = core::json::get_string(op, "path");
    const Value* value = core::json::find(op, "value");
    fuzz::check((kind == "add" || kind == "replace") && path && value && path->starts_with("/"),
                "patch operation is not an add or replace with a path and a value", text);
    Value* at = &obj;
    std::string_view rest = path->substr(1);
    for (;;) {
      auto slash = rest.find('/');
      std::string name(rest.substr(0, slash));
      for (size_t i; (i = name.find("~1")) != std::string::npos;)
        name.replace(i, 2, "/");
      for (size_t i; (i = name.find("~0")) != std::string::npos;)
        name.replace(i, 2, "~");
      fuzz::check(at->IsObject(), "patch path goes through a non-object", text);
      if (slash == std::string_view::npos) {
        core::json::set(*at, name, core::json::clone(*value, obj.GetAllocator()),
                        obj.GetAllocator());
        break;
      }
      at = core::json::find(*at, name);
      fuzz::check(at != nullptr, "patch path does not exist in the object", text);
      rest = rest.substr(slash + 1);
    }
  }
}

// A valid object stays valid through its mutating hook: the object the hook's patch makes must
// pass the validating hook when the original does. (An invalid one may be patched too, as
// upstream sets an instancetype's kind on any VM; the validating hook refuses it afterwards.)
void check_patch(const Value& obj, const Value& res, Webhook validate) {
  auto patch_b64 = core::json::get_string(res, "patch");
  if (!patch_b64)
    return;
  core::json::Document original;
  const Value* verdict =
      answer(apiserver::review(validate, wrap(obj, "CREATE"), kPolicy), original);
  if (!verdict || core::json::get_bool(*verdict, "allowed") != true)
    return;
  auto patch_text = core::base64_decode(*patch_b64);
  fuzz::check(patch_text.ok(), "patch is not base64", *patch_b64);
  auto patch = core::json::parse(*patch_text);
  fuzz::check(patch.ok(), "patch is not JSON", *patch_text);
  core::json::Document patched;
  patched.CopyFrom(obj, patched.GetAllocator());
  apply(patched, *patch, *patch_text);
  core::json::Document out;
  const Value* res2 = answer(apiserver::review(validate, wrap(patched, "CREATE"), kPolicy), out);
  fuzz::check(res2 && core::json::get_bool(*res2, "allowed") == true,
              "the mutating hook's object is denied by the validating hook",
              core::json::to_string(patched) + "\n" + core::json::to_string(out));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  auto doc = core::json::parse(body);
  const auto kind = doc.ok() ? core::json::get_string(*doc, "kind").value_or("") : "";
  core::json::Document out;
  if (!doc.ok() || !doc->IsObject() || kind == "AdmissionReview") {
    for (auto hook : {Webhook::validate_vm, Webhook::validate_vmi, Webhook::mutate_vm,
                      Webhook::mutate_vmi, Webhook::validate_vmirs, Webhook::validate_vmpool})
      (void)answer(apiserver::review(hook, body, kPolicy), out);
    return 0;
  }
  std::vector<std::pair<Webhook, Webhook>> hooks;  // (hook, the validating hook of its kind)
  if (kind == "VirtualMachineInstanceReplicaSet")
    hooks = {{Webhook::validate_vmirs, Webhook::validate_vmirs}};
  else if (kind == "VirtualMachinePool")
    hooks = {{Webhook::validate_vmpool, Webhook::validate_vmpool}};
  else if (kind == "VirtualMachineInstance")
    hooks = {{Webhook::validate_vmi, Webhook::validate_vmi},
             {Webhook::mutate_vmi, Webhook::validate_vmi}};
  else
    hooks = {{Webhook::validate_vm, Webhook::validate_vm},
             {Webhook::mutate_vm, Webhook::validate_vm}};
  for (const auto& [hook, validate] : hooks) {
    for (const std::string op : {"CREATE", "UPDATE"}) {
      const Value* res = answer(apiserver::review(hook, wrap(*doc, op), kPolicy), out);
      fuzz::check(res != nullptr, "a well-formed AdmissionReview got a 400",
                  core::json::to_string(out));
      fuzz::check(core::json::get_string(*res, "uid") == "fuzz-uid", "response uid differs",
                  core::json::to_string(out));
      if (hook != validate)
        check_patch(*doc, *res, validate);
    }
  }
  return 0;
}
