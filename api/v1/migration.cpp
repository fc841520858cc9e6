#include "api/v1/migration.hpp"

#include <algorithm>

#include "api/v1/codec_generic.hpp"
#include "api/v1/crd_generic.hpp"
#include "api/v1/fields.hpp"
#include "api/v1/validation_checks.hpp"

namespace kv::api::v1 {
namespace {

using core::json::Allocator;
using core::json::Value;

// The selector label's path as the other label errors write it.
std::string selector_label_path() {
  return std::string("metadata.labels[") + kMigrationSelectorLabel + "]";
}

}  // namespace

bool is_final(MigrationPhase p) {
  return p == MigrationPhase::succeeded || p == MigrationPhase::failed;
}

VirtualMachineInstanceMigration decode_migration(const Value& v, FieldErrors& errors) {
  return codec::decode_object<VirtualMachineInstanceMigration>(
      v, kApiVersion, kVirtualMachineInstanceMigrationKind, errors);
}

core::Result<VirtualMachineInstanceMigration> decode_migration(const Value& v) {
  return codec::decode_object<VirtualMachineInstanceMigration>(
      v, kApiVersion, kVirtualMachineInstanceMigrationKind);
}

Value encode(const VirtualMachineInstanceMigration& m, Allocator& a) {
  return codec::encode_value(m, a);
}
Value encode(const VirtualMachineInstanceMigrationStatus& s, Allocator& a) {
  return codec::encode_value(s, a);
}
Value encode(const MigrationState& s, Allocator& a) {
  return codec::encode_value(s, a);
}

VirtualMachineInstanceMigration with_defaults(VirtualMachineInstanceMigration m) {
  m.metadata.labels[kMigrationSelectorLabel] = m.spec.vmi_name;
  auto& f = m.metadata.finalizers;
  if (std::find(f.begin(), f.end(), kMigrationFinalizer) == f.end())
    f.push_back(kMigrationFinalizer);
  return m;
}

FieldErrors validate(const VirtualMachineInstanceMigration& m) {
  FieldErrors errors;
  check::metadata(m.metadata, errors);
  if (m.spec.vmi_name.empty())
    check::add(errors, "spec.vmiName", "vmiName is missing");
  return errors;
}

FieldErrors validate_update(const VirtualMachineInstanceMigration& updated,
                            const VirtualMachineInstanceMigration& old) {
  FieldErrors errors;
  if (!(updated.spec == old.spec))
    check::add(errors, "spec", "update of Migration object's spec is restricted");
  // The label is how the in-flight check and migrate-cancel find a migration: it stays while
  // the migration runs.
  const bool final = updated.status && updated.status->phase && is_final(*updated.status->phase);
  auto was = old.metadata.labels.find(kMigrationSelectorLabel);
  if (!final && was != old.metadata.labels.end()) {
    auto now = updated.metadata.labels.find(kMigrationSelectorLabel);
    if (now == updated.metadata.labels.end())
      check::add(errors, selector_label_path(),
                 "selector label can't be removed from an in-flight migration");
    else if (now->second != was->second)
      check::add(errors, selector_label_path(),
                 "selector label can't be modified on an in-flight migration");
  }
  return errors;
}

Admission admit_migration(const Value& manifest, const Value* old) {
  Admission out;
  out.kind = std::string(core::json::get_string(manifest, "kind").value_or(""));
  if (const auto* meta = core::json::find(manifest, "metadata"))
    out.name =
        std::string(core::json::get_string(*meta, "name")
                        .value_or(core::json::get_string(*meta, "generateName").value_or("")));
  auto m = decode_migration(manifest, out.errors);
  if (!out.errors.empty())
    return out;
  if (old && old->IsObject()) {
    FieldErrors old_errors;
    auto before = decode_migration(*old, old_errors);
    // An old object that no longer decodes is not the user's doing: judge only what we can.
    if (old_errors.empty())
      out.errors = validate_update(m, before);
  } else {
    m = with_defaults(std::move(m));
    out.errors = validate(m);
  }
  auto& a = out.defaulted.GetAllocator();
  out.defaulted.CopyFrom(encode(m, a), a);
  return out;
}

MigrationConfiguration decode_migration_configuration(const Value& v, const std::string& path,
                                                      FieldErrors& errors) {
  MigrationConfiguration c;
  codec::decode_into(v, c, path, errors);
  return c;
}

FieldErrors validate(const MigrationConfiguration& c, const std::string& path) {
  FieldErrors errors;
  constexpr uint64_t kMaxDowntimeMs = 2000000;
  if (c.max_downtime_ms && (*c.max_downtime_ms < 1 || *c.max_downtime_ms > kMaxDowntimeMs))
    check::add(errors, check::at(path, "maxDowntimeMs"),
               std::to_string(*c.max_downtime_ms) + " is out of range; allowed: 1 to " +
                   std::to_string(kMaxDowntimeMs));
  if (c.bandwidth_per_migration && c.bandwidth_per_migration->sign() < 0)
    check::add(errors, check::at(path, "bandwidthPerMigration"),
               c.bandwidth_per_migration->to_string() +
                   " is negative; allowed: a quantity per second, 0 for no limit");
  if (c.network)
    check::add(errors, check::at(path, "network"),
               "not supported: no Multus (NetworkAttachmentDefinitions); migrations go over the "
               "pod network");
  return errors;
}

core::json::Document virtual_machine_instance_migration_crd() {
  return crd::crd_for<VirtualMachineInstanceMigration>({
      .group = kGroup,
      .version = "v1",
      .kind = kVirtualMachineInstanceMigrationKind,
      .plural = "virtualmachineinstancemigrations",
      .singular = "virtualmachineinstancemigration",
      .short_names = {"vmim", "vmims"},
      .columns =
          {
              {"Phase", "string", ".status.phase", "The current phase of VM instance migration"},
              {"VMI", "string", ".spec.vmiName", "The name of the VMI to perform the migration on"},
              {"Age", "date", ".metadata.creationTimestamp", ""},
          },
      .unknown_fields_to_webhook = true,
  });
}

}  // namespace kv::api::v1
