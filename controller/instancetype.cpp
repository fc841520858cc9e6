#include "controller/instancetype.hpp"

#include <algorithm>

#include "api/instancetype/apply.hpp"
#include "api/instancetype/codec.hpp"
#include "api/instancetype/revision.hpp"
#include "api/instancetype/validation.hpp"
#include "core/kube/kubeconfig.hpp"
#include "core/kube/resource.hpp"

namespace kv::controller {
namespace {

namespace it = api::instancetype;
namespace json = core::json;
namespace kube = core::kube;
using core::Errc;
using core::Error;
using core::Result;

const kube::Resource& controller_revisions() {
  static const kube::Resource r{"apps", "v1", "controllerrevisions", "ControllerRevision", true};
  return r;
}

kube::Resource instancetype_resource(bool namespaced) {
  return namespaced
             ? kube::Resource{"instancetype.kubevirt.io", "v1beta1", "virtualmachineinstancetypes",
                              std::string(it::kInstancetypeKind), true}
             : kube::Resource{"instancetype.kubevirt.io", "v1beta1",
                              "virtualmachineclusterinstancetypes",
                              std::string(it::kClusterInstancetypeKind), false};
}

kube::Resource preference_resource(bool namespaced) {
  return namespaced
             ? kube::Resource{"instancetype.kubevirt.io", "v1beta1", "virtualmachinepreferences",
                              std::string(it::kPreferenceKind), true}
             : kube::Resource{"instancetype.kubevirt.io", "v1beta1",
                              "virtualmachineclusterpreferences",
                              std::string(it::kClusterPreferenceKind), false};
}

// One of the two matchers, with what differs between them.
struct Side {
  it::MatcherView matcher;
  kube::Resource resource;
  const char* find_reason;  // FailedFindInstancetype | FailedFindPreference
};

std::optional<Side> instancetype_side(const api::v1::VirtualMachine& vm) {
  if (!vm.spec.instancetype)
    return std::nullopt;
  auto m = it::view(*vm.spec.instancetype);
  return Side{m, instancetype_resource(it::is_namespaced_instancetype_kind(m.kind)),
              "FailedFindInstancetype"};
}

std::optional<Side> preference_side(const api::v1::VirtualMachine& vm) {
  if (!vm.spec.preference)
    return std::nullopt;
  auto m = it::view(*vm.spec.preference);
  return Side{m, preference_resource(it::is_namespaced_preference_kind(m.kind)),
              "FailedFindPreference"};
}

std::string ns_of(const api::v1::VirtualMachine& vm) {
  return vm.metadata.namespace_.value_or("");
}

// The API server's own words, as upstream shows them: our client prefixes "GET <path>: ".
Error api_error(Error e) {
  if (e.message.starts_with("GET /")) {
    if (auto colon = e.message.find(": "); colon != std::string::npos)
      e.message.erase(0, colon + 2);
  }
  return e;
}

Result<json::Document> get_object(kube::KubeClient& client, const Side& s,
                                  const api::v1::VirtualMachine& vm) {
  return client.get(s.resource, s.resource.namespaced ? ns_of(vm) : "", s.matcher.name);
}

// Creates the revision; an existing one with the same name must hold the same object.
Result<std::string> store_revision(kube::KubeClient& client, const api::v1::VirtualMachine& vm,
                                   const json::Value& object) {
  json::Document rev = it::controller_revision(vm, object);
  const std::string name(json::get_string(rev["metadata"], "name").value_or(""));
  auto created = client.create(controller_revisions(), ns_of(vm), rev);
  if (created.ok())
    return name;
  if (created.error().code != Errc::exists)
    return Error(created.error().code,
                 "failed to create ControllerRevision: " + created.error().message);
  auto existing = client.get(controller_revisions(), ns_of(vm), name);
  if (!existing.ok())
    return Error(existing.error().code,
                 "failed to get ControllerRevision: " + existing.error().message);
  const json::Value* have = it::revision_data(*existing);
  const json::Value* want = it::revision_data(rev);
  const json::Value* have_spec = have ? json::find(*have, "spec") : nullptr;
  const json::Value* want_spec = want ? json::find(*want, "spec") : nullptr;
  if (!have_spec || !want_spec || !json::equal(*have_spec, *want_spec))
    return Error(Errc::conflict, "found existing ControllerRevision with unexpected data: " + name);
  return name;
}

// The ref for one side, its revision stored when missing.
Result<api::v1::InstancetypeStatusRef> sync_side(
    kube::KubeClient& client, const Side& s, const api::v1::VirtualMachine& vm,
    const std::optional<api::v1::InstancetypeStatusRef>& current, std::string& reason) {
  api::v1::InstancetypeStatusRef ref = current.value_or(api::v1::InstancetypeStatusRef{});
  if (!it::sync_status_ref(s.matcher, ref))
    return ref;
  auto object = get_object(client, s, vm);
  if (!object.ok()) {
    reason = s.find_reason;
    return api_error(std::move(object).error());
  }
  auto name = store_revision(client, vm, *object);
  if (!name.ok()) {
    reason = "FailedCreate";
    return Error(name.error().code,
                 "error encountered while storing instancetype.kubevirt.io controllerRevisions: " +
                     name.error().message);
  }
  ref.controller_revision_ref = api::v1::ControllerRevisionRef{*name};
  return ref;
}

// The object a side uses now: from its revision when there is one, else as it stands.
Result<json::Document> object_of(kube::KubeClient& client, const Side& s,
                                 const api::v1::VirtualMachine& vm,
                                 const std::optional<api::v1::InstancetypeStatusRef>& ref) {
  if (auto name = it::revision_to_read(s.matcher, ref)) {
    auto rev = client.get(controller_revisions(), ns_of(vm), *name);
    if (!rev.ok())
      return std::move(rev).error();
    const json::Value* data = it::revision_data(*rev);
    if (!data)
      return Error(Errc::invalid, "ControllerRevision " + *name + " holds no object");
    json::Document d;
    d.CopyFrom(*data, d.GetAllocator());
    return d;
  }
  return get_object(client, s, vm);
}

template <class Spec>
Result<Spec> decoded(Result<json::Document> obj,
                     Spec (*decode)(const json::Value&, api::v1::FieldErrors&)) {
  if (!obj.ok())
    return std::move(obj).error();
  api::v1::FieldErrors errors;
  Spec spec = decode(*obj, errors);
  if (!errors.empty())
    return api::v1::to_error(errors);
  return spec;
}

void fail(const api::v1::VirtualMachine& vm, VmActions& a, const std::string& reason,
          const std::string& message, Clock::time_point now) {
  if (a.create_vmi) {
    a.create_vmi.reset();
    a.events.erase(
        std::remove_if(a.events.begin(), a.events.end(),
                       [](const ObjectEvent& e) { return e.reason == "SuccessfulCreate"; }),
        a.events.end());
    a.status.created = false;
    a.status.printable_status = printable_status(
        vm, nullptr, a.start_failure.value_or(start_failure_from(vm)), false, false, now);
  }
  set_condition(a.status.conditions, api::v1::Condition{"Failure", "True", {}, {}, reason, message},
                kube::format_rfc3339(now));
  a.events.push_back({"Warning", reason, message});
}

}  // namespace

VmInstancetypes store_instancetype_revisions(kube::KubeClient& client,
                                             const api::v1::VirtualMachine& vm) {
  VmInstancetypes out;
  const auto status = vm.status.value_or(api::v1::VirtualMachineStatus{});
  out.instancetype_ref = status.instancetype_ref;
  out.preference_ref = status.preference_ref;
  auto it_side = instancetype_side(vm);
  auto pref_side = preference_side(vm);
  out.used = it_side || pref_side;
  if (!out.used)
    return out;
  // virt-api refuses these; a VM stored before its rules existed stops here.
  if (auto errors = it::validate_matchers(vm.spec); !errors.empty()) {
    out.error = api::v1::to_error(errors);
    out.reason = "FailedCreate";
    return out;
  }
  for (auto& [side, ref] :
       {std::pair{&it_side, &out.instancetype_ref}, std::pair{&pref_side, &out.preference_ref}}) {
    if (!*side)
      continue;
    auto synced = sync_side(client, **side, vm, *ref, out.reason);
    if (!synced.ok()) {
      out.error = std::move(synced).error();
      return out;
    }
    *ref = std::move(*synced);
  }
  return out;
}

core::Status expand_instancetypes(kube::KubeClient& client, const VmInstancetypes& its,
                                  const api::v1::VirtualMachine& vm, VmActions& a,
                                  Clock::time_point now) {
  if (!its.used)
    return {};
  if (its.instancetype_ref)
    a.status.instancetype_ref = its.instancetype_ref;
  if (its.preference_ref)
    a.status.preference_ref = its.preference_ref;
  if (its.error) {
    fail(vm, a, its.reason, its.error->message, now);
    return *its.error;
  }
  if (!a.create_vmi)
    return {};
  std::optional<it::VirtualMachineInstancetypeSpec> instancetype;
  std::optional<it::VirtualMachinePreferenceSpec> preference;
  if (auto s = instancetype_side(vm)) {
    auto spec =
        decoded(object_of(client, *s, vm, its.instancetype_ref), &it::decode_instancetype_spec_of);
    if (!spec.ok()) {
      auto e = api_error(std::move(spec).error());
      fail(vm, a, s->find_reason, e.message, now);
      return e;
    }
    instancetype = std::move(*spec);
  }
  if (auto s = preference_side(vm)) {
    auto spec =
        decoded(object_of(client, *s, vm, its.preference_ref), &it::decode_preference_spec_of);
    if (!spec.ok()) {
      auto e = api_error(std::move(spec).error());
      fail(vm, a, s->find_reason, e.message, now);
      return e;
    }
    preference = std::move(*spec);
  }
  auto& vmi = *a.create_vmi;
  // What we cannot honour is refused, not ignored, even in an object stored before the CRD's
  // rules (or in a revision taken then).
  api::v1::FieldErrors refused;
  if (instancetype)
    refused = it::validate(*instancetype, "spec");
  if (preference) {
    auto more = it::validate(*preference, "spec");
    refused.insert(refused.end(), more.begin(), more.end());
  }
  if (!refused.empty()) {
    const std::string msg = "the instancetype or preference uses what is not supported: " +
                            api::v1::to_error(refused).message;
    fail(vm, a, "FailedCreate", msg, now);
    return Error(Errc::invalid, msg);
  }
  it::annotate(vm.spec, vmi.metadata.annotations);
  auto conflicts =
      it::apply_to_vmi(instancetype ? &*instancetype : nullptr, preference ? &*preference : nullptr,
                       vmi.spec, vmi.metadata.annotations, "spec");
  if (!conflicts.empty()) {
    std::string fields;
    for (const auto& c : conflicts)
      fields += (fields.empty() ? "" : ", ") + c.path;
    const std::string msg = "VMI conflicts with instancetype spec in fields: [" + fields + "]";
    fail(vm, a, "FailedCreate", msg, now);
    return Error(Errc::invalid, msg);
  }
  return {};
}

}  // namespace kv::controller
