#pragma once
// kubevirt.io/v1 VirtualMachineInstanceMigration (`vmim`, `vmims`): a request to move one running
// VMI to another node, with upstream KubeVirt's names and meaning. The VMI's own view of a
// migration (status.migrationState, MigrationState) and the cluster's migration settings
// (MigrationConfiguration) are in types.hpp, as the VMI carries them too.
//
// The object's life, as upstream's migration controller drives it (the phases, in order):
//
//   Pending -> Scheduling -> Scheduled -> PreparingTarget -> TargetReady -> Running -> Succeeded
//      \___________\______________\______________\______________\____________\-----> Failed
//
//   Pending          accepted; waiting for its turn (parallel limits) and its target pod
//   Scheduling       the target launcher pod exists and waits for a node
//   Scheduled        the target pod runs on its node
//   PreparingTarget  the target node's virt-handler prepares the domain to receive
//   TargetReady      the target listens; the source may start sending
//   Running          memory is being copied
//   Succeeded/Failed final. Deleting a migration that is not final cancels it.
//
// Here: the types, their Describe tables, codec, what the create webhook stores (a selector label
// and a finalizer), validation of create and update with upstream's rules and messages, and the
// CRD.

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "api/v1/codec.hpp"
#include "api/v1/describe.hpp"
#include "api/v1/types.hpp"
#include "api/v1/validation.hpp"
#include "core/json.hpp"

namespace kv::api::v1 {

inline constexpr std::string_view kVirtualMachineInstanceMigrationKind =
    "VirtualMachineInstanceMigration";
// The label the create webhook puts on every migration: the VMI's name (upstream's
// MigrationSelectorLabel); how `virtctl migrate-cancel` and the in-flight check find them.
inline constexpr const char* kMigrationSelectorLabel = "kubevirt.io/vmi-name";
// The finalizer the create webhook adds; virt-controller removes it once the migration is done
// with (upstream's VirtualMachineInstanceMigrationFinalizer).
inline constexpr const char* kMigrationFinalizer = "kubevirt.io/migrationJobFinalize";
// metadata.generateName of the migrations virt-api's `migrate` subresource creates.
inline constexpr const char* kMigrateGenerateName = "kubevirt-migrate-vm-";

enum class MigrationPhase {
  pending,
  scheduling,
  scheduled,
  preparing_target,
  target_ready,
  running,
  succeeded,
  failed,
};

// Succeeded or Failed.
bool is_final(MigrationPhase p);

struct VirtualMachineInstanceMigrationSpec {
  std::string vmi_name;             // required, not empty; the VMI in the migration's namespace
  StringMap added_node_selector{};  // narrows the target nodes; the VMI's own selector wins
  bool operator==(const VirtualMachineInstanceMigrationSpec&) const = default;
};

struct MigrationPhaseTransitionTimestamp {
  MigrationPhase phase = MigrationPhase::pending;
  std::string phase_transition_timestamp;
  bool operator==(const MigrationPhaseTransitionTimestamp&) const = default;
};

struct VirtualMachineInstanceMigrationStatus {
  std::optional<MigrationPhase> phase;
  std::vector<Condition> conditions{};  // migrationAbortRequested, ...
  std::vector<MigrationPhaseTransitionTimestamp> phase_transition_timestamps{};
  std::optional<MigrationState> migration_state{};
  bool operator==(const VirtualMachineInstanceMigrationStatus&) const = default;
};

struct VirtualMachineInstanceMigration {
  std::string api_version{kApiVersion};
  std::string kind{kVirtualMachineInstanceMigrationKind};
  ObjectMeta metadata;
  VirtualMachineInstanceMigrationSpec spec;
  std::optional<VirtualMachineInstanceMigrationStatus> status;
  bool operator==(const VirtualMachineInstanceMigration&) const = default;
};

// ---------------------------------------------------------------------------------------------
// Descriptions
using namespace std::string_view_literals;

template <>
struct EnumNames<MigrationPhase> {
  static constexpr std::array values = {
      std::pair{MigrationPhase::pending, "Pending"sv},
      std::pair{MigrationPhase::scheduling, "Scheduling"sv},
      std::pair{MigrationPhase::scheduled, "Scheduled"sv},
      std::pair{MigrationPhase::preparing_target, "PreparingTarget"sv},
      std::pair{MigrationPhase::target_ready, "TargetReady"sv},
      std::pair{MigrationPhase::running, "Running"sv},
      std::pair{MigrationPhase::succeeded, "Succeeded"sv},
      std::pair{MigrationPhase::failed, "Failed"sv},
  };
};

template <>
struct Describe<VirtualMachineInstanceMigrationSpec> {
  static constexpr std::string_view doc = "The migration to perform.";
  static constexpr auto fields = std::make_tuple(
      field("vmiName", &VirtualMachineInstanceMigrationSpec::vmi_name,
            "The VMI to migrate, in the migration's namespace."),
      field("addedNodeSelector", &VirtualMachineInstanceMigrationSpec::added_node_selector,
            "Labels the target node must also have, for this migration only; where a key is "
            "also in the VMI's own node selector, the VMI's value is kept."));
};

template <>
struct Describe<MigrationPhaseTransitionTimestamp> {
  static constexpr std::string_view doc = "When the migration entered a phase.";
  static constexpr auto fields =
      std::make_tuple(field("phase", &MigrationPhaseTransitionTimestamp::phase, "The phase."),
                      field("phaseTransitionTimestamp",
                            &MigrationPhaseTransitionTimestamp::phase_transition_timestamp,
                            "When it was entered (RFC 3339)."));
};

template <>
struct Describe<VirtualMachineInstanceMigrationStatus> {
  static constexpr std::string_view doc = "Observed state of the migration.";
  static constexpr auto fields = std::make_tuple(
      field("phase", &VirtualMachineInstanceMigrationStatus::phase,
            "Pending, Scheduling, Scheduled, PreparingTarget, TargetReady, Running, Succeeded "
            "or Failed."),
      field("conditions", &VirtualMachineInstanceMigrationStatus::conditions,
            "Conditions: migrationAbortRequested, ..."),
      field("phaseTransitionTimestamps",
            &VirtualMachineInstanceMigrationStatus::phase_transition_timestamps,
            "When each phase was entered."),
      field("migrationState", &VirtualMachineInstanceMigrationStatus::migration_state,
            "The state of the live migration."));
};

template <>
struct Describe<VirtualMachineInstanceMigration> {
  static constexpr std::string_view doc = "A live migration of a VMI to another node.";
  static constexpr auto fields = std::make_tuple(
      field("apiVersion", &VirtualMachineInstanceMigration::api_version, "kubevirt.io/v1"),
      field("kind", &VirtualMachineInstanceMigration::kind, "VirtualMachineInstanceMigration"),
      field("metadata", &VirtualMachineInstanceMigration::metadata, "Standard object metadata."),
      field("spec", &VirtualMachineInstanceMigration::spec, "The migration to perform."),
      field("status", &VirtualMachineInstanceMigration::status, "Observed state."));
};

// ---------------------------------------------------------------------------------------------
// Codec, defaults, validation, admission, CRD.
core::Result<VirtualMachineInstanceMigration> decode_migration(const core::json::Value& v);
VirtualMachineInstanceMigration decode_migration(const core::json::Value& v, FieldErrors& errors);
core::json::Value encode(const VirtualMachineInstanceMigration& m, core::json::Allocator& a);
core::json::Value encode(const VirtualMachineInstanceMigrationStatus& s, core::json::Allocator& a);
core::json::Value encode(const MigrationState& s, core::json::Allocator& a);

// What upstream's migration mutating webhook stores on CREATE: the label
// kMigrationSelectorLabel = spec.vmiName (replacing one the user set) and the finalizer
// kMigrationFinalizer (once).
VirtualMachineInstanceMigration with_defaults(VirtualMachineInstanceMigration m);

// The create rules that need no other object: metadata.name (or generateName) and
// spec.vmiName not empty ("vmiName is missing", upstream's words). The rules that read the
// cluster (the VMI exists, is not final, is LiveMigratable, has no other migration in flight)
// are virt-api's (api/server/migration_admission.hpp).
FieldErrors validate(const VirtualMachineInstanceMigration& m);

// Upstream's update rules: the spec never changes ("update of Migration object's spec is
// restricted"), and while the migration is not final its selector label may be neither
// removed nor changed.
FieldErrors validate_update(const VirtualMachineInstanceMigration& updated,
                            const VirtualMachineInstanceMigration& old);

// Without old (CREATE): decode + with_defaults + validate; `defaulted` is the object as the create
// webhook stores it. With old (UPDATE): decode both + validate_update; `defaulted` is the object
// as given.
Admission admit_migration(const core::json::Value& manifest,
                          const core::json::Value* old = nullptr);

// The cluster's migration settings (the kubevirt-config ConfigMap's `migrations` key, upstream's
// spec.configuration.migrations): decoded strictly, paths prefixed with `path`.
MigrationConfiguration decode_migration_configuration(const core::json::Value& v,
                                                      const std::string& path, FieldErrors& errors);
// What can be served of them: maxDowntimeMs 1 to 2000000 (upstream's schema bounds),
// bandwidthPerMigration not negative, network refused (no Multus: migrations go over the pod
// network).
FieldErrors validate(const MigrationConfiguration& c, const std::string& path);

core::json::Document virtual_machine_instance_migration_crd();

}  // namespace kv::api::v1
