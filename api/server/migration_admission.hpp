#pragma once
// virt-api's checks of a new VirtualMachineInstanceMigration that read the cluster, as upstream's
// migration create admitter (pkg/virt-api/webhooks/validating-webhook/admitters/
// migration-create-admitter.go) does them, after the object's own rules (api/v1/migration.hpp):
//
//   the VMI does not exist          the VMI "<ns>/<name>" does not exist
//   the VMI is Succeeded or Failed  Cannot migrate VMI in finalized state.
//   LiveMigratable is False         Cannot migrate VMI, Reason: <reason>, Message: <message>
//   another migration of the VMI    in-flight migration detected. Active migration job (<uid>) is
//   is neither Succeeded nor Failed currently already in progress for VMI <name>.
//
// And the JSON patch the create mutator answers with (api::v1::with_defaults: the selector label
// and the finalizer).

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "api/v1/codec.hpp"
#include "core/json.hpp"
#include "core/kube/client.hpp"
#include "core/result.hpp"

namespace kv::apiserver {

// Reads what the create checks need (the seam; over the API in virt-api, a fake in tests).
class MigrationLookup {
 public:
  virtual ~MigrationLookup() = default;
  // The VMI; Errc::not_found when absent.
  virtual core::Result<core::json::Document> vmi(std::string_view ns,
                                                 std::string_view name) const = 0;
  // The migrations labelled kubevirt.io/vmi-name=<vmi_name> in ns.
  virtual core::Result<std::vector<core::json::Document>> migrations_of(
      std::string_view ns, std::string_view vmi_name) const = 0;
};

// The lookup over the API (virt-api's client; it needs get on virtualmachineinstances and list
// on virtualmachineinstancemigrations, manifests/rbac/virt-api.yaml).
std::shared_ptr<const MigrationLookup> make_migration_lookup(core::kube::KubeClient& client);

// The checks above for a migration of `vmi_name` in ns; empty when it may be created. A lookup
// that fails for another reason than not_found is one error saying so (the webhook then denies:
// failing closed, as upstream).
api::v1::FieldErrors check_migration_target(const MigrationLookup& lookup, const std::string& ns,
                                            const std::string& vmi_name);

// The JSONPatch (text) that makes `obj` (the migration as submitted) what with_defaults() stores:
// the selector label added or replaced, the finalizer appended; "" when there is nothing to do.
std::string migration_create_patch(const core::json::Value& obj, const std::string& vmi_name);

}  // namespace kv::apiserver
