#include "api/server/migration_admission.hpp"

#include <algorithm>

#include "addon/resources.hpp"
#include "api/v1/migration.hpp"

namespace kv::apiserver {
namespace json = core::json;
namespace kube = core::kube;
using core::Errc;

namespace {

class ApiLookup final : public MigrationLookup {
 public:
  explicit ApiLookup(kube::KubeClient& client) : client_(client) {}

  core::Result<json::Document> vmi(std::string_view ns, std::string_view name) const override {
    return client_.get(addon::resources::virtual_machine_instances(), ns, name);
  }

  core::Result<std::vector<json::Document>> migrations_of(
      std::string_view ns, std::string_view vmi_name) const override {
    kube::ListOptions lo;
    lo.label_selector = std::string(api::v1::kMigrationSelectorLabel) + "=" + std::string(vmi_name);
    auto list = client_.list(addon::resources::virtual_machine_instance_migrations(), ns, lo);
    if (!list.ok())
      return list.error();
    return std::move(list->items);
  }

 private:
  kube::KubeClient& client_;
};

std::string str_at(const json::Value& v, std::initializer_list<std::string_view> path) {
  const json::Value* p = json::find_path(v, path);
  return p && p->IsString() ? std::string(p->GetString(), p->GetStringLength()) : "";
}

bool final_phase(const std::string& phase) {
  return phase == "Succeeded" || phase == "Failed";
}

// A JSON pointer token: '~' -> "~0", '/' -> "~1" (RFC 6901).
std::string pointer_token(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '~')
      out += "~0";
    else if (c == '/')
      out += "~1";
    else
      out += c;
  }
  return out;
}

}  // namespace

std::shared_ptr<const MigrationLookup> make_migration_lookup(kube::KubeClient& client) {
  return std::make_shared<ApiLookup>(client);
}

api::v1::FieldErrors check_migration_target(const MigrationLookup& lookup, const std::string& ns,
                                            const std::string& vmi_name) {
  const std::string field = "spec.vmiName";
  auto vmi = lookup.vmi(ns, vmi_name);
  if (!vmi.ok()) {
    if (vmi.error().code == Errc::not_found)
      return {{field, "the VMI \"" + ns + "/" + vmi_name + "\" does not exist"}};
    return {{field, "cannot read the VMI \"" + ns + "/" + vmi_name + "\": " + vmi.error().message}};
  }
  if (final_phase(str_at(*vmi, {"status", "phase"})))
    return {{field, "Cannot migrate VMI in finalized state."}};
  if (const json::Value* conds = json::find_path(*vmi, {"status", "conditions"});
      conds && conds->IsArray()) {
    for (const auto& c : conds->GetArray()) {
      if (str_at(c, {"type"}) == "LiveMigratable" && str_at(c, {"status"}) == "False")
        return {{field, "Cannot migrate VMI, Reason: " + str_at(c, {"reason"}) +
                            ", Message: " + str_at(c, {"message"})}};
    }
  }
  auto migrations = lookup.migrations_of(ns, vmi_name);
  if (!migrations.ok())
    return {{field, "cannot list the migrations of the VMI \"" + ns + "/" + vmi_name +
                        "\": " + migrations.error().message}};
  for (const auto& m : *migrations) {
    if (final_phase(str_at(m, {"status", "phase"})))
      continue;
    return {{field, "in-flight migration detected. Active migration job (" +
                        str_at(m, {"metadata", "uid"}) +
                        ") is currently already in progress for VMI " +
                        str_at(m, {"spec", "vmiName"}) + "."}};
  }
  return {};
}

std::string migration_create_patch(const json::Value& obj, const std::string& vmi_name) {
  json::Document patch(rapidjson::kArrayType);
  auto& a = patch.GetAllocator();
  auto op = [&](std::string_view path, json::Value value) {
    json::Value o(rapidjson::kObjectType);
    json::set(o, "op", "add", a);
    json::set(o, "path", path, a);
    json::set(o, "value", std::move(value), a);
    patch.PushBack(std::move(o), a);
  };
  const std::string label = api::v1::kMigrationSelectorLabel;
  const std::string finalizer = api::v1::kMigrationFinalizer;
  const json::Value* meta = json::find(obj, "metadata");
  if (!meta || !meta->IsObject()) {
    json::Value m(rapidjson::kObjectType);
    json::Value labels(rapidjson::kObjectType);
    json::set(labels, label, vmi_name, a);
    json::set(m, "labels", std::move(labels), a);
    json::Value finalizers(rapidjson::kArrayType);
    finalizers.PushBack(json::string_value(finalizer, a), a);
    json::set(m, "finalizers", std::move(finalizers), a);
    op("/metadata", std::move(m));
    return json::to_string(patch);
  }
  const json::Value* labels = json::find(*meta, "labels");
  if (!labels || !labels->IsObject()) {
    json::Value l(rapidjson::kObjectType);
    json::set(l, label, vmi_name, a);
    op("/metadata/labels", std::move(l));
  } else if (json::get_string(*labels, label) != std::optional<std::string_view>(vmi_name)) {
    // `add` on an existing member replaces it (RFC 6902).
    op("/metadata/labels/" + pointer_token(label), json::string_value(vmi_name, a));
  }
  const json::Value* finalizers = json::find(*meta, "finalizers");
  if (!finalizers || !finalizers->IsArray()) {
    json::Value f(rapidjson::kArrayType);
    f.PushBack(json::string_value(finalizer, a), a);
    op("/metadata/finalizers", std::move(f));
  } else {
    const auto& arr = finalizers->GetArray();
    const bool has = std::any_of(arr.begin(), arr.end(), [&](const json::Value& v) {
      return v.IsString() && finalizer == v.GetString();
    });
    if (!has)
      op("/metadata/finalizers/-", json::string_value(finalizer, a));
  }
  return patch.Empty() ? "" : json::to_string(patch);
}

}  // namespace kv::apiserver
