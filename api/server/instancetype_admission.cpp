#include "api/server/instancetype_admission.hpp"

#include "api/instancetype/apply.hpp"
#include "api/instancetype/codec.hpp"
#include "api/instancetype/revision.hpp"
#include "api/instancetype/validation.hpp"
#include "api/v1/defaults.hpp"
#include "core/log.hpp"

namespace kv::apiserver {
namespace {

namespace it = api::instancetype;
namespace json = core::json;
using core::Result;

class ApiLookup final : public InstancetypeLookup {
 public:
  explicit ApiLookup(core::kube::KubeClient& client) : client_(client) {}
  Result<json::Document> get(std::string_view resource, std::string_view ns,
                             std::string_view name) const override {
    core::kube::Resource r{"instancetype.kubevirt.io", "v1beta1", std::string(resource), "",
                           !ns.empty()};
    if (resource == "controllerrevisions")
      r = {"apps", "v1", "controllerrevisions", "ControllerRevision", true};
    return client_.get(r, ns, name);
  }

 private:
  core::kube::KubeClient& client_;
};

// The spec a matcher names, from the VM's revision when it records one for it; nullopt when it
// cannot be read (upstream admits the VM then).
template <class Spec>
std::optional<Spec> find(const InstancetypeLookup& lookup, const api::v1::VirtualMachine& vm,
                         const it::MatcherView& m,
                         const std::optional<api::v1::InstancetypeStatusRef>& ref,
                         std::string_view resource, bool namespaced,
                         Spec (*decode)(const json::Value&, api::v1::FieldErrors&)) {
  const std::string ns = vm.metadata.namespace_.value_or("");
  Result<json::Document> obj = core::Error(core::Errc::not_found, "");
  const json::Value* data = nullptr;
  if (auto rev = it::revision_to_read(m, ref)) {
    obj = lookup.get("controllerrevisions", ns, *rev);
    if (obj.ok())
      data = it::revision_data(*obj);
  } else {
    obj = lookup.get(resource, namespaced ? ns : "", m.name);
    if (obj.ok())
      data = &*obj;
  }
  if (!data) {
    core::log::info("ignoring a failed lookup of the VM's instancetype or preference",
                    {{"namespace", ns},
                     {"name", vm.metadata.name.value_or("")},
                     {"object", m.name},
                     {"error", obj.ok() ? "no data" : obj.error().message}});
    return std::nullopt;
  }
  api::v1::FieldErrors errors;
  Spec spec = decode(*data, errors);
  if (!errors.empty())
    return std::nullopt;
  return spec;
}

std::string kind_patch(const api::v1::VirtualMachine& vm) {
  json::Document patch(rapidjson::kArrayType);
  auto& a = patch.GetAllocator();
  auto add = [&](const char* path, std::string_view kind) {
    json::Value op(rapidjson::kObjectType);
    json::set(op, "op", "add", a);
    json::set(op, "path", path, a);
    json::set(op, "value", kind, a);
    patch.PushBack(std::move(op), a);
  };
  if (vm.spec.instancetype && !vm.spec.instancetype->kind)
    add("/spec/instancetype/kind", it::kClusterInstancetypeKind);
  if (vm.spec.preference && !vm.spec.preference->kind)
    add("/spec/preference/kind", it::kClusterPreferenceKind);
  // The VM's own default (as for every VM); the template's defaults wait for the expansion.
  if (!vm.spec.running && !vm.spec.run_strategy)
    add("/spec/runStrategy", "Halted");
  return patch.Empty() ? "" : json::to_string(patch);
}

}  // namespace

std::shared_ptr<const InstancetypeLookup> make_instancetype_lookup(core::kube::KubeClient& client) {
  return std::make_shared<ApiLookup>(client);
}

InstancetypeVerdict admit_instancetype(bool mutate, const json::Value& obj,
                                       json::Document& user_part,
                                       const InstancetypeLookup* lookup) {
  InstancetypeVerdict out;
  if (json::get_string(obj, "kind").value_or("") != api::v1::kVirtualMachineKind)
    return out;
  auto decoded = api::v1::decode_vm(obj);
  if (!decoded.ok())
    return out;  // the VM's own validation names the problem
  api::v1::VirtualMachine vm = std::move(*decoded);
  if (!vm.spec.instancetype && !vm.spec.preference)
    return out;
  out.errors = it::validate_matchers(vm.spec);
  if (!out.errors.empty())
    return out;
  if (mutate) {
    out.patch = kind_patch(vm);
    return out;
  }
  if (!lookup)
    return out;
  const auto status = vm.status.value_or(api::v1::VirtualMachineStatus{});
  std::optional<it::VirtualMachineInstancetypeSpec> instancetype;
  std::optional<it::VirtualMachinePreferenceSpec> preference;
  if (vm.spec.instancetype) {
    auto m = it::view(*vm.spec.instancetype);
    const bool ns = it::is_namespaced_instancetype_kind(m.kind);
    instancetype = find(*lookup, vm, m, status.instancetype_ref,
                        ns ? "virtualmachineinstancetypes" : "virtualmachineclusterinstancetypes",
                        ns, &it::decode_instancetype_spec_of);
  }
  if (vm.spec.preference) {
    auto m = it::view(*vm.spec.preference);
    const bool ns = it::is_namespaced_preference_kind(m.kind);
    preference = find(*lookup, vm, m, status.preference_ref,
                      ns ? "virtualmachinepreferences" : "virtualmachineclusterpreferences", ns,
                      &it::decode_preference_spec_of);
  }
  if (!instancetype && !preference)
    return out;
  auto& tmpl = vm.spec.template_;
  api::v1::StringMap annotations =
      tmpl.metadata ? tmpl.metadata->annotations : api::v1::StringMap{};
  out.errors =
      it::apply_to_vmi(instancetype ? &*instancetype : nullptr, preference ? &*preference : nullptr,
                       tmpl.spec, annotations, "spec.template.spec");
  if (!out.errors.empty())
    return out;
  if (preference) {
    api::v1::VirtualMachineInstanceSpec defaulted = tmpl.spec;
    api::v1::apply_defaults(defaulted);
    out.errors =
        it::check_requirements(instancetype ? &*instancetype : nullptr, *preference, defaulted);
    if (!out.errors.empty())
      return out;
  }
  if (!annotations.empty()) {
    if (!tmpl.metadata)
      tmpl.metadata.emplace();
    tmpl.metadata->annotations = std::move(annotations);
  }
  vm.status.reset();
  json::Document expanded;
  expanded.CopyFrom(api::v1::encode(vm, expanded.GetAllocator()), expanded.GetAllocator());
  user_part.Swap(expanded);
  return out;
}

}  // namespace kv::apiserver
