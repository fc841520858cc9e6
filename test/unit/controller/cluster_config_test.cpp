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
