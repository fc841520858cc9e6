#include "api/server/migrate.hpp"

#include <cctype>

#include "api/v1/migration.hpp"

namespace kv::apiserver {
namespace json = core::json;
using json::Value;

std::variant<MigrateOptions, ApiError> parse_migrate_options(std::string_view body) {
  MigrateOptions o;
  bool blank = true;
  for (char c : body)
    if (!std::isspace(static_cast<unsigned char>(c)))
      blank = false;
  if (blank)
    return o;
  auto doc = json::parse(body);
  if (!doc.ok())
    return bad_request("the request body is not a valid MigrateOptions JSON object: " +
                       doc.error().message);
  if (!doc->IsObject())
    return bad_request("the request body must be a MigrateOptions JSON object, not " +
                       std::string(json::type_name(*doc)));
  for (auto it = doc->MemberBegin(); it != doc->MemberEnd(); ++it) {
    std::string_view k(it->name.GetString(), it->name.GetStringLength());
    const Value& v = it->value;
    if (k == "apiVersion" || k == "kind" || v.IsNull())
      continue;
    if (k == "dryRun") {
      if (!v.IsArray())
        return bad_request("MigrateOptions.dryRun: must be a list of strings ([\"All\"])");
      for (const auto& e : v.GetArray()) {
        if (!e.IsString() || std::string_view(e.GetString()) != "All")
          return bad_request("MigrateOptions.dryRun: the only allowed value is \"All\"");
        o.dry_run = true;
      }
    } else if (k == "addedNodeSelector") {
      if (!v.IsObject())
        return bad_request("MigrateOptions.addedNodeSelector: must be an object of label -> value");
      for (const auto& m : v.GetObject()) {
        if (!m.value.IsString())
          return bad_request("MigrateOptions.addedNodeSelector[" +
                             std::string(m.name.GetString(), m.name.GetStringLength()) +
                             "]: must be a string");
        o.added_node_selector[std::string(m.name.GetString(), m.name.GetStringLength())] =
            std::string(m.value.GetString(), m.value.GetStringLength());
      }
    } else {
      return bad_request("MigrateOptions." + std::string(k) +
                         ": unknown field; allowed: dryRun, addedNodeSelector");
    }
  }
  return o;
}

std::variant<json::Document, ApiError> plan_migration(const std::string& name, const Value* vmi,
                                                      const MigrateOptions& opts) {
  if (!vmi)
    return not_found("virtualmachineinstance", name);
  const Value* phase = json::find_path(*vmi, {"status", "phase"});
  if (!phase || !phase->IsString() || std::string_view(phase->GetString()) != "Running")
    return conflict("virtualmachine", name, "VM is not running");
  api::v1::VirtualMachineInstanceMigration m;
  m.metadata.generate_name = api::v1::kMigrateGenerateName;
  m.spec.vmi_name = name;
  m.spec.added_node_selector = opts.added_node_selector;
  json::Document out;
  static_cast<Value&>(out) = api::v1::encode(m, out.GetAllocator());
  return out;
}

}  // namespace kv::apiserver
