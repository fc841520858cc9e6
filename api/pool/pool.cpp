#include "api/pool/pool.hpp"

#include "api/v1/codec_generic.hpp"
#include "api/v1/crd_generic.hpp"
#include "api/v1/defaults.hpp"
#include "api/v1/fields.hpp"
#include "api/v1/validation_checks.hpp"

namespace kv::api::pool {
namespace {

using core::json::Allocator;
using core::json::Value;
using v1::FieldErrors;

constexpr std::string_view kTemplateSpecPath = "spec.virtualMachineTemplate.spec";

void not_served(const std::optional<v1::RawJson>& field, std::string_view name, std::string why,
                FieldErrors& errors) {
  if (field)
    v1::check::add(errors, "spec." + std::string(name), "not supported yet: " + std::move(why));
}

}  // namespace

VirtualMachinePool decode_pool(const Value& v, FieldErrors& errors) {
  return v1::codec::decode_object<VirtualMachinePool>(v, kApiVersion, kVirtualMachinePoolKind,
                                                      errors);
}

core::Result<VirtualMachinePool> decode_pool(const Value& v) {
  return v1::codec::decode_object<VirtualMachinePool>(v, kApiVersion, kVirtualMachinePoolKind);
}

Value encode(const VirtualMachinePool& p, Allocator& a) {
  return v1::codec::encode_value(p, a);
}
Value encode(const VirtualMachinePoolStatus& s, Allocator& a) {
  return v1::codec::encode_value(s, a);
}

FieldErrors validate(const VirtualMachinePool& p) {
  FieldErrors errors;
  v1::check::metadata(p.metadata, errors);
  const auto& spec = p.spec;
  if (spec.replicas && *spec.replicas < 0)
    v1::check::add(errors, "spec.replicas",
                   std::to_string(*spec.replicas) + " is negative; allowed: 0 or more");

  // The template is judged as the VirtualMachine it becomes (with the VM defaults its own webhook
  // applies); the VM rules' paths "spec..." move under spec.virtualMachineTemplate.
  v1::VirtualMachine vm;
  vm.metadata.name = p.metadata.name.value_or("pool") + "-0";
  vm.spec = spec.virtual_machine_template.spec;
  for (auto& e : v1::validate(v1::with_defaults(vm))) {
    if (e.path.rfind("spec", 0) != 0)
      continue;  // the VM's metadata is ours, not the user's
    e.path = std::string(kTemplateSpecPath) + e.path.substr(4);
    errors.push_back(std::move(e));
  }

  auto sel = v1::validate_selector(spec.selector, "spec.selector");
  if (!sel.empty()) {
    errors.insert(errors.end(), sel.begin(), sel.end());
  } else {
    const v1::StringMap none;
    const auto& meta = spec.virtual_machine_template.metadata;
    if (!v1::selector_matches(spec.selector, meta ? meta->labels : none))
      v1::check::add(errors, "spec.selector", "selector does not match labels.");
  }

  not_served(spec.name_generation, "nameGeneration",
             "the VMs of a pool share the template's ConfigMaps and Secrets", errors);
  not_served(spec.scale_in_strategy, "scaleInStrategy",
             "scale-in always removes the VMs with the highest ordinals first", errors);
  not_served(spec.update_strategy, "updateStrategy",
             "VMs are not updated to a changed template (the template cannot change)", errors);
  not_served(spec.autohealing, "autohealing", "failing VMs are not replaced", errors);
  return errors;
}

FieldErrors validate_update(const VirtualMachinePool& p, const VirtualMachinePool& old) {
  FieldErrors errors;
  if (!(p.spec.selector == old.spec.selector))
    v1::check::add(errors, "spec.selector", "selector is immutable after creation.");
  if (!(p.spec.virtual_machine_template == old.spec.virtual_machine_template))
    v1::check::add(errors, "spec.virtualMachineTemplate",
                   "cannot be changed yet: the pool does not update its VMs to a new template; "
                   "delete and re-create the pool");
  return errors;
}

v1::Admission admit(const Value& manifest, const Value* old) {
  v1::Admission out;
  out.kind = std::string(core::json::get_string(manifest, "kind").value_or(""));
  if (const auto* meta = core::json::find(manifest, "metadata"))
    out.name =
        std::string(core::json::get_string(*meta, "name")
                        .value_or(core::json::get_string(*meta, "generateName").value_or("")));
  auto p = decode_pool(manifest, out.errors);
  if (!out.errors.empty())
    return out;
  out.errors = validate(p);
  if (old && old->IsObject()) {
    FieldErrors old_errors;
    auto before = decode_pool(*old, old_errors);
    if (old_errors.empty())
      for (auto& e : validate_update(p, before))
        out.errors.push_back(std::move(e));
  }
  auto& a = out.defaulted.GetAllocator();
  out.defaulted.CopyFrom(encode(p, a), a);
  return out;
}

core::json::Document virtual_machine_pool_crd() {
  return v1::crd::crd_for<VirtualMachinePool>({
      .group = kGroup,
      .version = kVersion,
      .kind = kVirtualMachinePoolKind,
      .plural = "virtualmachinepools",
      .singular = "virtualmachinepool",
      .short_names = {"vmpool", "vmpools"},
      .scale = v1::crd::Scale{".spec.replicas", ".status.replicas", ".status.labelSelector"},
      .columns =
          {
              {"Desired", "integer", ".spec.replicas", "Number of desired VirtualMachines"},
              {"Current", "integer", ".status.replicas",
               "Number of managed and not final or deleted VirtualMachines"},
              {"Ready", "integer", ".status.readyReplicas",
               "Number of managed VirtualMachines which are ready to receive traffic"},
              {"Age", "date", ".metadata.creationTimestamp", ""},
          },
  });
}

}  // namespace kv::api::pool
