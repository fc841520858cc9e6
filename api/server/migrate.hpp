#pragma once
// PUT .../virtualmachines/{name}/migrate as a pure decision, upstream virt-api's
// MigrateVMRequestHandler (pkg/virt-api/rest/lifecycle.go): (the VM, its VMI, the request's
// MigrateOptions) -> the VirtualMachineInstanceMigration to create, or the error the user gets.
//
//   no VM                  404  virtualmachine.kubevirt.io "<name>" not found
//   no VMI                 404  virtualmachineinstance.kubevirt.io "<name>" not found
//   VMI not Running        409  Operation cannot be fulfilled on virtualmachine.kubevirt.io
//                               "<name>": VM is not running
//   else                   a migration {generateName: kubevirt-migrate-vm-, spec: {vmiName:
//                          <name>, addedNodeSelector}} in the VM's namespace, created with the
//                          request's dryRun; 202. The webhooks judge it as any other
//                          (migration_admission.hpp): a VMI that is not LiveMigratable or
//                          already migrating is refused there, and that refusal is the answer.

#include <map>
#include <string>
#include <string_view>
#include <variant>

#include "api/server/status.hpp"
#include "core/json.hpp"

namespace kv::apiserver {

// The body: MigrateOptions {"dryRun":["All"], "addedNodeSelector":{"k":"v"}} (apiVersion and kind
// allowed). Empty: all defaults. Anything else is 400 naming the field.
struct MigrateOptions {
  bool dry_run = false;
  std::map<std::string, std::string> added_node_selector;
  bool operator==(const MigrateOptions&) const = default;
};
std::variant<MigrateOptions, ApiError> parse_migrate_options(std::string_view body);

// name: the VM's; vmi: the VMI named like it, or null when there is none (the VM is known to
// exist). Returns the migration object to create.
std::variant<core::json::Document, ApiError> plan_migration(const std::string& name,
                                                            const core::json::Value* vmi,
                                                            const MigrateOptions& opts);

}  // namespace kv::apiserver
