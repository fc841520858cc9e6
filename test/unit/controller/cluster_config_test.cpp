// The kubevirt-config ConfigMap: every key, and errors that name the key and what is allowed.
#include "controller/cluster_config.hpp"

#include <catch2/catch.hpp>

using namespace kv::controller;

TEST_CASE("config_from_data: defaults when empty") {
  auto c = config_from_data({});
  REQUIRE(c.ok());
  CHECK(*c == Config{});
  CHECK(c->launcher_image == "localhost/kubevirt-cpp/virt-launcher:0.1.0");
  CHECK_FALSE(c->use_emulation);
}

TEST_CASE("config_from_data: every key") {
  auto c = config_from_data({{"useEmulation", "true"},
                             {"launcherImage", "reg/x:1"},
                             {"launcherImagePullPolicy", "Never"},
                             {"memoryOverheadBase", "100Mi"},
                             {"memoryOverheadPerVcpu", "4Mi"},
                             {"memoryOverheadEmulation", "1Gi"},
                             {"memoryOverheadGraphics", "0"},
                             {"cpuRequestPerVcpu", "1"},
                             {"terminationGraceMarginSeconds", "0"},
                             {"handlerHeartbeatTimeoutSeconds", "60"},
                             {"nodeSelector", R"({"a": "b"})"}});
  REQUIRE(c.ok());
  CHECK(c->use_emulation);
  CHECK(c->launcher_image == "reg/x:1");
  CHECK(c->launcher_image_pull_policy == "Never");
  CHECK(c->overhead_base_bytes == 100 << 20);
  CHECK(c->overhead_per_vcpu_bytes == 4 << 20);
  CHECK(c->overhead_emulation_bytes == 1 << 30);
  CHECK(c->overhead_graphics_bytes == 0);
  CHECK(c->cpu_request_per_vcpu_milli == 1000);
  CHECK(c->termination_grace_margin_seconds == 0);
  CHECK(c->handler_heartbeat_timeout_seconds == 60);
  CHECK(c->node_selector == std::map<std::string, std::string>{{"a", "b"}});
}

TEST_CASE("config_from_data: bad values name the key and what is allowed") {
  struct Case {
    const char* key;
    const char* value;
    const char* want;
  };
  for (auto c :
       {Case{"useEmulation", "yes", "data.useEmulation: \"yes\" is not true or false"},
        Case{"launcherImagePullPolicy", "Sometimes", "not one of Always, IfNotPresent, Never"},
        Case{"memoryOverheadBase", "lots",
             "data.memoryOverheadBase: \"lots\" is not a non-negative quantity"},
        Case{"cpuRequestPerVcpu", "0", "data.cpuRequestPerVcpu: \"0\" is not a positive quantity"},
        Case{"terminationGraceMarginSeconds", "-1", "is not an integer >= 0"},
        Case{"nodeSelector", "[1]", "data.nodeSelector: is not a JSON object"},
        Case{"launcherImage", "", "data.launcherImage: \"\" is not an image reference"},
        Case{"useEmulaton", "true", "data.useEmulaton: unknown key; allowed: "}}) {
    INFO(c.key);
    auto r = config_from_data({{c.key, c.value}});
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find(c.want) != std::string::npos);
    CHECK(r.error().message.find("kubevirt-config") == 0);
  }
}

TEST_CASE("config_from_data: evictionStrategy and migrations, upstream's KubeVirt CR settings") {
  using kv::api::v1::EvictionStrategy;
  auto d = config_from_data({});
  REQUIRE(d.ok());
  CHECK(d->eviction_strategy == EvictionStrategy::none);
  // Every migration setting holds upstream's default.
  CHECK(d->migrations.parallel_migrations_per_cluster == 5u);
  CHECK(d->migrations.parallel_outbound_migrations_per_node == 2u);
  CHECK(d->migrations.completion_timeout_per_gib == 150);
  CHECK(d->migrations.progress_timeout == 150);
  CHECK(d->migrations.bandwidth_per_migration->is_zero());
  CHECK(d->migrations.node_drain_taint_key == "kubevirt.io/drain");
  CHECK(d->migrations.allow_post_copy == false);

  auto c = config_from_data(
      {{"evictionStrategy", "LiveMigrateIfPossible"},
       {"migrations", R"({"parallelMigrationsPerCluster": 2, "bandwidthPerMigration": "64Mi",
                          "allowPostCopy": true, "maxDowntimeMs": 300})"}});
  REQUIRE(c.ok());
  CHECK(c->eviction_strategy == EvictionStrategy::live_migrate_if_possible);
  CHECK(c->migrations.parallel_migrations_per_cluster == 2u);
  CHECK(c->migrations.bandwidth_per_migration->value() == 64 << 20);
  CHECK(c->migrations.max_downtime_ms == 300u);
  // Unset ones keep their defaults; allowWorkloadDisruption follows allowPostCopy, as upstream.
  CHECK(c->migrations.parallel_outbound_migrations_per_node == 2u);
  CHECK(c->migrations.allow_workload_disruption == true);
  CHECK_FALSE(*c == *d);

  struct Case {
    const char* key;
    const char* value;
    const char* want;
  };
  for (auto b : {
           Case{"evictionStrategy", "Sometimes",
                "kubevirt-config data.evictionStrategy: \"Sometimes\" is not one of None, "
                "LiveMigrate, LiveMigrateIfPossible, External"},
           Case{"evictionStrategy", "LiveMigrate",
                "kubevirt-config data.evictionStrategy: \"LiveMigrate\" is not supported yet (no "
                "live migration on eviction); allowed: None, LiveMigrateIfPossible"},
           Case{"migrations", "[]",
                "kubevirt-config data.migrations: is not a JSON object of upstream's migration "
                "settings (MigrationConfiguration)"},
           Case{"migrations", R"({"parallelMigrationsPerCluster": -1, "allowPostcopy": true})",
                "kubevirt-config data.migrations.parallelMigrationsPerCluster: -1 is out of "
                "range; allowed: 0 to 4294967295\nkubevirt-config data.migrations.allowPostcopy: "
                "unknown field; allowed: nodeDrainTaintKey, "},
           Case{"migrations", R"({"maxDowntimeMs": 0})",
                "kubevirt-config data.migrations.maxDowntimeMs: 0 is out of range; allowed: 1 to "
                "2000000"},
           Case{"migrations", R"({"network": "migration-net"})",
                "kubevirt-config data.migrations.network: not supported: no Multus"},
           Case{"migrations", R"({"bandwidthPerMigration": "-1Mi"})",
                "kubevirt-config data.migrations.bandwidthPerMigration: -1Mi is negative"},
       }) {
    INFO(b.key << " " << b.value);
    auto r = config_from_data({{b.key, b.value}});
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find(b.want) == 0);
  }
}

TEST_CASE("ConfigStore: swaps snapshots; readers keep theirs") {
  ConfigStore store;
  auto before = store.get();
  Config c;
  c.use_emulation = true;
  CHECK(store.set(c));
  CHECK_FALSE(store.set(c));
  CHECK(store.get()->use_emulation);
  CHECK_FALSE(before->use_emulation);
}

TEST_CASE("config_from_data: imageVolume forces image volumes either way, auto leaves it open") {
  CHECK(config_from_data({})->image_volume == ImageVolumeMode::automatic);
  auto on = config_from_data({{"imageVolume", "true"}});
  REQUIRE(on.ok());
  CHECK(on->image_volume == ImageVolumeMode::enabled);
  CHECK(on->image_volumes);
  auto off = config_from_data({{"imageVolume", "false"}});
  REQUIRE(off.ok());
  CHECK(off->image_volume == ImageVolumeMode::disabled);
  CHECK_FALSE(off->image_volumes);
  CHECK(config_from_data({{"imageVolume", "auto"}})->image_volume == ImageVolumeMode::automatic);
  auto bad = config_from_data({{"imageVolume", "yes"}});
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message ==
        "kubevirt-config data.imageVolume: \"yes\" is not auto, true or false");
}

TEST_CASE("runtime_supports_image_volumes: containerd >= 2.1, CRI-O >= 1.31") {
  CHECK(runtime_supports_image_volumes("containerd://2.1.0"));
  CHECK(runtime_supports_image_volumes("containerd://2.4.2"));
  CHECK(runtime_supports_image_volumes("containerd://v2.2.0-rc.1"));
  CHECK(runtime_supports_image_volumes("containerd://3.0.0"));
  CHECK(runtime_supports_image_volumes("cri-o://1.31.0"));
  CHECK(runtime_supports_image_volumes("cri-o://1.34.2"));
  CHECK_FALSE(runtime_supports_image_volumes("containerd://2.0.5"));
  CHECK_FALSE(runtime_supports_image_volumes("containerd://1.6.20~ds1"));
  CHECK_FALSE(runtime_supports_image_volumes("containerd://1.7.27"));
  CHECK_FALSE(runtime_supports_image_volumes("cri-o://1.30.4"));
  CHECK_FALSE(runtime_supports_image_volumes("docker://28.0.1"));
  CHECK_FALSE(runtime_supports_image_volumes("containerd://"));
  CHECK_FALSE(runtime_supports_image_volumes("containerd://two"));
  CHECK_FALSE(runtime_supports_image_volumes(""));
}

namespace {

kv::core::kube::ObjectPtr node(const std::string& runtime, bool unschedulable = false,
                               const std::string& labels = "{}") {
  auto doc = kv::core::json::parse(
      R"({"metadata": {"name": "n", "labels": )" + labels + R"(}, "spec": {"unschedulable": )" +
      (unschedulable ? "true" : "false") +
      R"(}, "status": {"nodeInfo": {"containerRuntimeVersion": ")" + runtime + R"("}}})");
  REQUIRE(doc.ok());
  return std::make_shared<const kv::core::json::Document>(std::move(*doc));
}

}  // namespace

TEST_CASE("with_image_volumes: auto needs every node that could run the pod to serve them") {
  Config cfg;
  const auto new_rt = node("containerd://2.4.2");
  const auto old_rt = node("containerd://1.6.20~ds1");
  CHECK(with_image_volumes(cfg, {new_rt}).image_volumes);
  CHECK(with_image_volumes(cfg, {new_rt, node("cri-o://1.32.0")}).image_volumes);
  // One node that would fail the pod is enough to keep the copy.
  CHECK_FALSE(with_image_volumes(cfg, {new_rt, old_rt}).image_volumes);
  // No node at all: nothing says image volumes work.
  CHECK_FALSE(with_image_volumes(cfg, {}).image_volumes);
  // A cordoned node, or one outside the config's nodeSelector, takes no launcher pod.
  CHECK(with_image_volumes(cfg, {new_rt, node("containerd://1.6.20", true)}).image_volumes);
  cfg.node_selector = {{"vms", "yes"}};
  CHECK(with_image_volumes(cfg, {node("containerd://2.1.0", false, R"({"vms": "yes"})"), old_rt})
            .image_volumes);
  CHECK_FALSE(with_image_volumes(cfg, {old_rt}).image_volumes);

  // Forced either way, the nodes do not matter.
  cfg.image_volume = ImageVolumeMode::enabled;
  CHECK(with_image_volumes(cfg, {old_rt}).image_volumes);
  cfg.image_volume = ImageVolumeMode::disabled;
  CHECK_FALSE(with_image_volumes(cfg, {new_rt}).image_volumes);
}
