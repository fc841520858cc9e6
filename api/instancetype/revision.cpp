#include "api/instancetype/revision.hpp"

#include "api/instancetype/types.hpp"

namespace kv::api::instancetype {
namespace json = core::json;

MatcherView view(const v1::InstancetypeMatcher& m) {
  return {m.name.value_or(""), m.kind.value_or(""), m.revision_name.value_or("")};
}

MatcherView view(const v1::PreferenceMatcher& m) {
  return {m.name.value_or(""), m.kind.value_or(""), m.revision_name.value_or("")};
}

bool sync_status_ref(const MatcherView& m, v1::InstancetypeStatusRef& ref) {
  bool clear = false;
  if (!m.name.empty() && m.name != ref.name.value_or("")) {
    ref.name = m.name;
    clear = true;
  }
  if (!m.kind.empty() && m.kind != ref.kind.value_or("")) {
    ref.kind = m.kind;
    clear = true;
  }
  if (clear) {
    ref.controller_revision_ref.reset();
  }
  if (!m.revision_name.empty() &&
      (!ref.controller_revision_ref ||
       ref.controller_revision_ref->name.value_or("") != m.revision_name)) {
    ref.controller_revision_ref = v1::ControllerRevisionRef{m.revision_name};
  }
  return !ref.controller_revision_ref || ref.controller_revision_ref->name.value_or("").empty();
}

std::optional<std::string> revision_to_read(const MatcherView& m,
                                            const std::optional<v1::InstancetypeStatusRef>& ref) {
  if (!m.revision_name.empty()) {
    return m.revision_name;
  }
  if (ref && ref->name.value_or("") == m.name && ref->controller_revision_ref &&
      !ref->controller_revision_ref->name.value_or("").empty()) {
    return ref->controller_revision_ref->name;
  }
  return std::nullopt;
}

std::string revision_name(std::string_view vm_name, std::string_view object_name,
                          std::string_view version, std::string_view uid, int64_t generation) {
  return std::string(vm_name) + "-" + std::string(object_name) + "-" + std::string(version) + "-" +
         std::string(uid) + "-" + std::to_string(generation);
}

json::Document controller_revision(const v1::VirtualMachine& vm, const json::Value& object) {
  json::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  json::Value data;
  data.CopyFrom(object, a);
  const json::Value* meta = json::find(object, "metadata");
  const std::string name(meta ? json::get_string(*meta, "name").value_or("") : "");
  const std::string uid(meta ? json::get_string(*meta, "uid").value_or("") : "");
  int64_t generation = 0;
  if (const json::Value* g = meta ? json::find(*meta, "generation") : nullptr; g && g->IsInt64()) {
    generation = g->GetInt64();
  }
  const std::string kind(json::get_string(object, "kind").value_or(""));
  if (json::Value* m = json::find(data, "metadata"); m && m->IsObject()) {
    for (const char* k :
         {"labels", "annotations", "finalizers", "ownerReferences", "managedFields"}) {
      json::erase(*m, k);
    }
  }
  json::set(d, "apiVersion", "apps/v1", a);
  json::set(d, "kind", "ControllerRevision", a);
  json::Value md(rapidjson::kObjectType);
  json::set(md, "name",
            revision_name(vm.metadata.name.value_or(""), name, kVersion, uid, generation), a);
  json::set(md, "namespace", vm.metadata.namespace_.value_or(""), a);
  json::Value labels(rapidjson::kObjectType);
  json::set(labels, kObjectGenerationLabel, std::to_string(generation), a);
  json::set(labels, kObjectKindLabel, kind, a);
  json::set(labels, kObjectNameLabel, name, a);
  json::set(labels, kObjectUidLabel, uid, a);
  json::set(labels, kObjectVersionLabel, kVersion, a);
  json::set(md, "labels", std::move(labels), a);
  json::Value owner(rapidjson::kObjectType);
  json::set(owner, "apiVersion", v1::kApiVersion, a);
  json::set(owner, "kind", v1::kVirtualMachineKind, a);
  json::set(owner, "name", vm.metadata.name.value_or(""), a);
  json::set(owner, "uid", vm.metadata.uid.value_or(""), a);
  owner.AddMember("controller", true, a);
  owner.AddMember("blockOwnerDeletion", true, a);
  json::Value owners(rapidjson::kArrayType);
  owners.PushBack(std::move(owner), a);
  json::set(md, "ownerReferences", std::move(owners), a);
  json::set(d, "metadata", std::move(md), a);
  json::set(d, "data", std::move(data), a);
  d.AddMember("revision", int64_t{0}, a);
  return d;
}

const json::Value* revision_data(const json::Value& revision) {
  const json::Value* data = json::find(revision, "data");
  return data && data->IsObject() ? data : nullptr;
}

}  // namespace kv::api::instancetype
