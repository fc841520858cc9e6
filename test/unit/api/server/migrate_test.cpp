// The migrate subresource's pure decision (api/server/migrate): MigrateOptions parsing, and the
// VirtualMachineInstanceMigration (or the refusal) for a VM's VMI, as upstream's virt-api.
#include "api/server/migrate.hpp"

#include <catch2/catch.hpp>

#include "core/json.hpp"

using namespace kv::apiserver;
namespace json = kv::core::json;

namespace {

json::Document doc(const std::string& text) {
  auto d = json::parse(text);
  REQUIRE(d.ok());
  return std::move(*d);
}

std::string error_of(const std::variant<MigrateOptions, ApiError>& r) {
  const auto* e = std::get_if<ApiError>(&r);
  return e ? std::to_string(e->code) + " " + e->message : "";
}

}  // namespace

TEST_CASE("MigrateOptions: dryRun and addedNodeSelector, as upstream's client sends them") {
  CHECK(std::get<MigrateOptions>(parse_migrate_options("")) == MigrateOptions{});
  CHECK(std::get<MigrateOptions>(parse_migrate_options(" {} ")) == MigrateOptions{});
  auto full = std::get<MigrateOptions>(parse_migrate_options(
      R"({"kind":"MigrateOptions","apiVersion":"kubevirt.io/v1","dryRun":["All"],)"
      R"("addedNodeSelector":{"zone":"b","disk":"ssd"}})"));
  CHECK(full.dry_run);
  CHECK(full.added_node_selector ==
        std::map<std::string, std::string>{{"disk", "ssd"}, {"zone", "b"}});
  CHECK(!std::get<MigrateOptions>(parse_migrate_options(R"({"addedNodeSelector":null})")).dry_run);

  CHECK(error_of(parse_migrate_options("[]")) ==
        "400 the request body must be a MigrateOptions JSON object, not array");
  CHECK(error_of(parse_migrate_options(R"({"dryRun":["Some"]})")) ==
        "400 MigrateOptions.dryRun: the only allowed value is \"All\"");
  CHECK(error_of(parse_migrate_options(R"({"addedNodeSelector":{"zone":1}})")) ==
        "400 MigrateOptions.addedNodeSelector[zone]: must be a string");
  CHECK(error_of(parse_migrate_options(R"({"gracePeriod":3})")) ==
        "400 MigrateOptions.gracePeriod: unknown field; allowed: dryRun, addedNodeSelector");
}

TEST_CASE("a running VMI gets a migration named kubevirt-migrate-vm-...; others are refused") {
  MigrateOptions opts;
  opts.added_node_selector = {{"zone", "b"}};
  auto running = doc(R"({"status":{"phase":"Running"}})");
  auto plan = plan_migration("vm1", &running, opts);
  REQUIRE(std::holds_alternative<json::Document>(plan));
  CHECK(json::to_string(std::get<json::Document>(plan)) ==
        R"({"apiVersion":"kubevirt.io/v1","kind":"VirtualMachineInstanceMigration",)"
        R"("metadata":{"generateName":"kubevirt-migrate-vm-"},)"
        R"("spec":{"vmiName":"vm1","addedNodeSelector":{"zone":"b"}}})");

  auto none = plan_migration("vm1", nullptr, opts);
  CHECK(std::get<ApiError>(none) ==
        ApiError{404, "NotFound", "virtualmachineinstance.kubevirt.io \"vm1\" not found"});
  for (const char* phase : {"Pending", "Scheduling", "Scheduled", "Succeeded", "Failed"}) {
    INFO(phase);
    auto vmi = doc(std::string(R"({"status":{"phase":")") + phase + "\"}}");
    CHECK(std::get<ApiError>(plan_migration("vm1", &vmi, opts)) ==
          ApiError{409, "Conflict",
                   "Operation cannot be fulfilled on virtualmachine.kubevirt.io \"vm1\": VM is "
                   "not running"});
  }
  auto fresh = doc("{}");
  CHECK(std::get<ApiError>(plan_migration("vm1", &fresh, opts)).code == 409);
}
