// VirtualMachineInstanceMigration and the migration settings: the codec (every field of the
// migration state, strict as the other kinds), what the create webhook stores, validation of
// create and update with upstream's messages, the defaults of MigrationConfiguration, and the CRD.
#include "api/v1/migration.hpp"

#include <catch2/catch.hpp>

#include "api/v1/crd.hpp"
#include "api/v1/defaults.hpp"
#include "api/v1/validation.hpp"
#include "test_support.hpp"

using namespace kv::api::v1;
using kv::api::v1::test::load;
using kv::api::v1::test::one;
using kv::api::v1::test::testdata;
namespace json = kv::core::json;

namespace {

std::vector<std::string> messages(const FieldErrors& errors) {
  std::vector<std::string> out;
  for (const auto& e : errors)
    out.push_back(e.to_string());
  return out;
}

const char* kMigration = R"(
apiVersion: kubevirt.io/v1
kind: VirtualMachineInstanceMigration
metadata:
  generateName: kubevirt-migrate-vm-
  namespace: default
spec:
  vmiName: vm1
)";

VirtualMachineInstanceMigration migration(const std::string& yaml) {
  auto m = decode_migration(one(yaml));
  REQUIRE(m.ok());
  return *m;
}

}  // namespace

TEST_CASE("a migration with every field, its whole migration state included, round-trips") {
  auto docs = load(testdata("roundtrip/vmim-full.yaml"));
  REQUIRE(docs.size() == 1);
  FieldErrors errors;
  auto m = decode_migration(docs[0], errors);
  CHECK(messages(errors).empty());
  json::Document out;
  static_cast<json::Value&>(out) = encode(m, out.GetAllocator());
  INFO("encoded: " << json::to_pretty_string(out));
  CHECK(json::equal(out, docs[0]));

  // The values land in the C++ types.
  CHECK(m.spec.vmi_name == "full");
  CHECK(m.spec.added_node_selector.at("topology.kubernetes.io/zone") == "zone-b");
  REQUIRE(m.status);
  CHECK(m.status->phase == MigrationPhase::running);
  REQUIRE(m.status->phase_transition_timestamps.size() == 6);
  CHECK(m.status->phase_transition_timestamps[3].phase == MigrationPhase::preparing_target);
  CHECK(m.status->phase_transition_timestamps[4].phase == MigrationPhase::target_ready);
  const auto& st = *m.status->migration_state;
  CHECK(st.target_node == "node-2");
  CHECK(st.target_direct_migration_node_ports.at("49153") == 49153);
  CHECK(st.abort_status == MigrationAbortStatus::aborting);
  CHECK(st.mode == MigrationMode::pre_copy);
  CHECK(st.failure_reason == "");
  CHECK(st.target_cpu_set == std::vector<int32_t>{2, 3});
  CHECK(st.migration_network_type == MigrationNetworkType::pod);
  CHECK(st.target_memory_overhead->value() == 180 * 1024 * 1024);
  const auto& cfg = *st.migration_configuration;
  CHECK(cfg.max_downtime_ms == 900u);
  CHECK(cfg.bandwidth_per_migration->value() == 64 * 1024 * 1024);
  CHECK(cfg.allow_post_copy == true);
  CHECK(cfg.network == "migration-net");
  CHECK(st.source_state->node_selectors.at("kubernetes.io/arch") == "amd64");
  CHECK(st.target_state->direct_migration_node_ports.at("49152") == 0);
  CHECK(st.target_state->cpu_set == std::vector<int32_t>{2, 3});
}

TEST_CASE("a VMI's status carries the migration state, method and transport") {
  auto docs = load(testdata("roundtrip/vmi-full.yaml"));
  auto vmi = decode_vmi(docs[0]);
  REQUIRE(vmi.ok());
  const auto& status = *vmi->status;
  CHECK(status.migration_method == MigrationMethod::live_migration);
  CHECK(status.migration_transport == MigrationTransport::unix_socket);
  REQUIRE(status.migration_state);
  CHECK(status.migration_state->completed == true);
  CHECK(status.migration_state->migration_configuration->parallel_outbound_migrations_per_node ==
        2u);

  auto bad = one(R"(
apiVersion: kubevirt.io/v1
kind: VirtualMachineInstance
metadata: {name: a}
spec: {domain: {devices: {}}}
status:
  migrationMethod: Teleport
  migrationState:
    mode: Sideways
    targetDirectMigrationNodePorts: {"49152": "x"}
    migrationConfiguration: {maxDowntimeMs: -1, bandwidth: 1Mi}
)");
  FieldErrors errors;
  decode_vmi(bad, errors);
  CHECK(messages(errors) ==
        std::vector<std::string>{
            "status.migrationMethod: \"Teleport\" is not supported; allowed: BlockMigration, "
            "LiveMigration",
            "status.migrationState.mode: \"Sideways\" is not supported; allowed: PreCopy, "
            "PostCopy, Paused",
            "status.migrationState.targetDirectMigrationNodePorts[49152]: expected integer, got "
            "string",
            "status.migrationState.migrationConfiguration.maxDowntimeMs: -1 is out of range; "
            "allowed: 0 to 18446744073709551615",
            "status.migrationState.migrationConfiguration.bandwidth: unknown field; allowed: "
            "nodeDrainTaintKey, parallelOutboundMigrationsPerNode, parallelMigrationsPerCluster, "
            "allowAutoConverge, bandwidthPerMigration, completionTimeoutPerGiB, maxDowntimeMs, "
            "progressTimeout, utilityVolumesTimeout, unsafeMigrationOverride, allowPostCopy, "
            "allowWorkloadDisruption, disableTLS, network, matchSELinuxLevelOnMigration",
        });
}

TEST_CASE("a migration decodes strictly, naming each bad field") {
  FieldErrors errors;
  decode_migration(one(R"(
apiVersion: kubevirt.io/v1
kind: VirtualMachineInstanceMigration
metadata: {name: m}
spec:
  sendTo: {migrationID: x, connectURL: y}
  addedNodeSelector: {zone: 3}
status: {phase: WaitingForSync}
)"),
                   errors);
  CHECK(messages(errors) ==
        std::vector<std::string>{
            "spec.sendTo: unknown field; allowed: vmiName, addedNodeSelector",
            "spec.addedNodeSelector[zone]: expected string, got integer",
            "spec.vmiName: required field is missing",
            "status.phase: \"WaitingForSync\" is not supported; allowed: Pending, Scheduling, "
            "Scheduled, PreparingTarget, TargetReady, Running, Succeeded, Failed",
        });

  errors.clear();
  decode_migration(one("{apiVersion: kubevirt.io/v1, kind: VirtualMachine, spec: {vmiName: a}}"),
                   errors);
  CHECK(messages(errors) == std::vector<std::string>{
                                "metadata: required field is missing",
                                "kind: \"VirtualMachine\" is not allowed here; allowed: "
                                "VirtualMachineInstanceMigration",
                            });
}

TEST_CASE("creating a migration: vmiName is required, and the webhook adds label and finalizer") {
  auto m = migration(kMigration);
  CHECK(validate(m).empty());

  m.spec.vmi_name = "";
  CHECK(messages(validate(m)) == std::vector<std::string>{"spec.vmiName: vmiName is missing"});
  m.metadata.generate_name.reset();
  CHECK(messages(validate(m)) ==
        std::vector<std::string>{
            "metadata.name: required field is missing (or set metadata.generateName)",
            "spec.vmiName: vmiName is missing"});

  // The selector label names the VMI (a label the user set is overwritten); one finalizer.
  auto stored = with_defaults(migration(R"(
apiVersion: kubevirt.io/v1
kind: VirtualMachineInstanceMigration
metadata:
  name: m1
  labels: {kubevirt.io/vmi-name: other, team: a}
  finalizers: [example.com/keep]
spec: {vmiName: vm1}
)"));
  CHECK(stored.metadata.labels == StringMap{{"kubevirt.io/vmi-name", "vm1"}, {"team", "a"}});
  CHECK(stored.metadata.finalizers ==
        std::vector<std::string>{"example.com/keep", "kubevirt.io/migrationJobFinalize"});
  CHECK(with_defaults(stored) == stored);

  // admit() takes the kind, as kv-validate does.
  auto admitted = admit(one(kMigration));
  CHECK(admitted.kind == "VirtualMachineInstanceMigration");
  CHECK(admitted.name == "kubevirt-migrate-vm-");
  CHECK(messages(admitted.errors).empty());
  CHECK(json::find_path(admitted.defaulted, {"metadata", "labels", "kubevirt.io/vmi-name"})
            ->GetString() == std::string("vm1"));
  auto empty =
      admit(one("{apiVersion: kubevirt.io/v1, kind: VirtualMachineInstanceMigration, "
                "metadata: {name: m}, spec: {vmiName: ''}}"));
  CHECK(messages(empty.errors) == std::vector<std::string>{"spec.vmiName: vmiName is missing"});
}

TEST_CASE("updating a migration: the spec is fixed, the selector label stays while it runs") {
  auto old = with_defaults(migration(kMigration));
  old.status = VirtualMachineInstanceMigrationStatus{.phase = MigrationPhase::running};

  auto same = old;
  same.status->phase = MigrationPhase::succeeded;
  same.metadata.finalizers.clear();
  CHECK(validate_update(same, old).empty());

  auto moved = old;
  moved.spec.added_node_selector["zone"] = "b";
  CHECK(messages(validate_update(moved, old)) ==
        std::vector<std::string>{"spec: update of Migration object's spec is restricted"});

  auto unlabelled = old;
  unlabelled.metadata.labels.clear();
  CHECK(messages(validate_update(unlabelled, old)) ==
        std::vector<std::string>{"metadata.labels[kubevirt.io/vmi-name]: selector label can't be "
                                 "removed from an in-flight migration"});
  auto relabelled = old;
  relabelled.metadata.labels["kubevirt.io/vmi-name"] = "vm2";
  CHECK(messages(validate_update(relabelled, old)) ==
        std::vector<std::string>{"metadata.labels[kubevirt.io/vmi-name]: selector label can't be "
                                 "modified on an in-flight migration"});
  // Once final, the label may go.
  unlabelled.status->phase = MigrationPhase::failed;
  CHECK(validate_update(unlabelled, old).empty());

  // Through admit_migration with the old object, as the update webhook calls it.
  json::Document before, after;
  static_cast<json::Value&>(before) = encode(old, before.GetAllocator());
  static_cast<json::Value&>(after) = encode(moved, after.GetAllocator());
  CHECK(messages(admit_migration(after, &before).errors) ==
        std::vector<std::string>{"spec: update of Migration object's spec is restricted"});
  CHECK(admit_migration(before, &before).errors.empty());
}

TEST_CASE("migration settings take upstream's defaults where unset") {
  auto d = with_defaults(MigrationConfiguration{});
  CHECK(d.node_drain_taint_key == "kubevirt.io/drain");
  CHECK(d.parallel_outbound_migrations_per_node == 2u);
  CHECK(d.parallel_migrations_per_cluster == 5u);
  CHECK(d.allow_auto_converge == false);
  CHECK(d.bandwidth_per_migration->is_zero());
  CHECK(d.completion_timeout_per_gib == 150);
  CHECK(d.max_downtime_ms == 900u);
  CHECK(d.progress_timeout == 150);
  CHECK(d.utility_volumes_timeout == 150);
  CHECK(d.unsafe_migration_override == false);
  CHECK(d.allow_post_copy == false);
  CHECK(d.allow_workload_disruption == false);
  CHECK(d.disable_tls == false);
  CHECK(d.match_selinux_level_on_migration == false);
  CHECK(!d.network);
  CHECK(with_defaults(d) == d);

  // What is set stays; allowWorkloadDisruption follows allowPostCopy unless set itself.
  MigrationConfiguration c;
  c.allow_post_copy = true;
  c.progress_timeout = 30;
  auto e = with_defaults(c);
  CHECK(e.progress_timeout == 30);
  CHECK(e.allow_workload_disruption == true);
  c.allow_workload_disruption = false;
  CHECK(with_defaults(c).allow_workload_disruption == false);
  CHECK(kDefaultEvictionStrategy == EvictionStrategy::none);
}

TEST_CASE("the migration CRD: upstream's names, printer columns and a strict spec") {
  auto crd = virtual_machine_instance_migration_crd();
  CHECK(std::string(crd["metadata"]["name"].GetString()) ==
        "virtualmachineinstancemigrations.kubevirt.io");
  const auto& spec = crd["spec"];
  CHECK(std::string(spec["scope"].GetString()) == "Namespaced");
  CHECK(std::string(spec["names"]["kind"].GetString()) == "VirtualMachineInstanceMigration");
  CHECK(std::string(spec["names"]["plural"].GetString()) == "virtualmachineinstancemigrations");
  CHECK(std::string(spec["names"]["singular"].GetString()) == "virtualmachineinstancemigration");
  CHECK(json::to_string(spec["names"]["shortNames"]) == R"(["vmim","vmims"])");
  CHECK(json::to_string(spec["names"]["categories"]) == R"(["all"])");
  const auto& v = spec["versions"][0];
  CHECK(std::string(v["name"].GetString()) == "v1");
  CHECK(json::to_string(v["subresources"]) == R"({"status":{}})");
  CHECK(json::to_string(v["additionalPrinterColumns"]) ==
        R"([{"name":"Phase","type":"string","jsonPath":".status.phase",)"
        R"("description":"The current phase of VM instance migration"},)"
        R"({"name":"VMI","type":"string","jsonPath":".spec.vmiName",)"
        R"("description":"The name of the VMI to perform the migration on"},)"
        R"({"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}])");
  const auto& schema = v["schema"]["openAPIV3Schema"];
  const auto& mspec = schema["properties"]["spec"];
  CHECK(json::to_string(mspec["required"]) == R"(["vmiName"])");
  // Unknown spec fields reach the webhook, which names them; status prunes.
  CHECK(json::get_bool(mspec, "x-kubernetes-preserve-unknown-fields") == true);
  CHECK(!json::find(schema["properties"]["status"], "x-kubernetes-preserve-unknown-fields"));
  const auto& phase = schema["properties"]["status"]["properties"]["phase"];
  CHECK(json::to_string(phase["enum"]) ==
        R"(["Pending","Scheduling","Scheduled","PreparingTarget","TargetReady","Running",)"
        R"("Succeeded","Failed"])");
  const auto& state = schema["properties"]["status"]["properties"]["migrationState"]["properties"];
  CHECK(json::to_string(state["targetDirectMigrationNodePorts"]["additionalProperties"]) ==
        R"({"type":"integer","format":"int32"})");
  CHECK(json::to_string(state["migrationConfiguration"]["properties"]["maxDowntimeMs"]) ==
        R"({"description":"Longest pause of the guest at switchover, in ms (default 900; 1 to )"
        R"(2000000).","type":"integer","format":"int64","minimum":0})");

  // It is one of the CRDs tools/crdgen writes.
  bool listed = false;
  for (const auto& f : generate_crds())
    listed = listed || f.file_name == "kubevirt.io_virtualmachineinstancemigrations.yaml";
  CHECK(listed);
}
