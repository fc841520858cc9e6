#include "tools/virtctl/commands.hpp"

#include <ostream>

#include "addon/resources.hpp"
#include "api/v1/migration.hpp"
#include "core/json.hpp"
#include "core/kube/resource.hpp"
#include "core/version.hpp"

namespace kv::virtctl {

namespace {

// Builds {"k":v,...} from already-encoded JSON values (numbers, booleans, arrays of fixed
// strings): no user text ends up in these bodies, so no escaping is needed.
class Body {
 public:
  void add(const std::string& key, const std::string& json_value) {
    s_ += (s_.empty() ? "{" : ",") + std::string("\"") + key + "\":" + json_value;
  }
  std::string str() const { return s_.empty() ? "{}" : s_ + "}"; }

 private:
  std::string s_;
};

std::string object_path(const std::string& ns, const std::string& plural, const std::string& name,
                        const std::string& action) {
  return std::string(kSubresourcesPrefix) + "/namespaces/" + core::kube::url_escape(ns) + "/" +
         plural + "/" + core::kube::url_escape(name) + "/" + action;
}

}  // namespace

std::string stream_path(const std::string& ns, const std::string& name, const std::string& what) {
  return object_path(ns, "virtualmachineinstances", name, what);
}

SubresourceCall lifecycle_call(const Invocation& inv, const std::string& ns) {
  SubresourceCall c;
  Body body;
  if (inv.dry_run)
    body.add("dryRun", "[\"All\"]");
  const std::string& n = inv.name;
  switch (inv.command) {
    case Command::start:
      c.path = object_path(ns, "virtualmachines", n, "start");
      if (inv.paused)
        body.add("paused", "true");
      c.success = "VM " + n + " was scheduled to start";
      c.error_prefix = "Error starting VirtualMachine";
      break;
    case Command::stop:
      c.path = object_path(ns, "virtualmachines", n, "stop");
      // StopOptions.gracePeriod: only with --force, as upstream.
      if (inv.force && inv.grace_period)
        body.add("gracePeriod", std::to_string(*inv.grace_period));
      c.success = "VM " + n + " was scheduled to stop";
      c.error_prefix =
          inv.force ? "Error force stopping VirtualMachine" : "Error stopping VirtualMachine";
      break;
    case Command::restart:
      c.path = object_path(ns, "virtualmachines", n, "restart");
      if (inv.force && inv.grace_period)
        body.add("gracePeriodSeconds", std::to_string(*inv.grace_period));
      c.success = "VM " + n + " was scheduled to restart";
      c.error_prefix =
          inv.force ? "Error force restarting VirtualMachine" : "Error restarting VirtualMachine";
      break;
    case Command::pause:
    case Command::unpause: {
      // Pausing a VM pauses its VMI (same name), as upstream does.
      std::string action = inv.command == Command::pause ? "pause" : "unpause";
      c.path = object_path(ns, "virtualmachineinstances", n, action);
      c.success = std::string(inv.vmi ? "VMI " : "VM ") + n + " was scheduled to " + action;
      c.error_prefix =
          std::string(inv.command == Command::pause ? "Error pausing" : "Error unpausing") +
          " VirtualMachineInstance " + n;
      break;
    }
    case Command::migrate: {
      // MigrateOptions: the node selector is user text, so this body is built as JSON.
      core::json::Document d;
      d.SetObject();
      auto& a = d.GetAllocator();
      if (inv.dry_run) {
        core::json::Value all(rapidjson::kArrayType);
        all.PushBack(core::json::string_value("All", a), a);
        core::json::set(d, "dryRun", std::move(all), a);
      }
      if (!inv.added_node_selector.empty()) {
        core::json::Value sel(rapidjson::kObjectType);
        for (const auto& [k, v] : inv.added_node_selector)
          core::json::set(sel, k, v, a);
        core::json::set(d, "addedNodeSelector", std::move(sel), a);
      }
      c.path = object_path(ns, "virtualmachines", n, "migrate");
      c.body = core::json::to_string(d);
      c.success = "VM " + n + " was scheduled to migrate";
      c.error_prefix = "Error migrating VirtualMachine";
      return c;
    }
    case Command::soft_reboot:
      c.path = object_path(ns, "virtualmachineinstances", n, "softreboot");
      c.success = "VMI " + n + " was scheduled to soft-reboot";
      c.error_prefix = "Error soft rebooting VirtualMachineInstance " + n;
      c.body = "";  // upstream sends no options
      return c;
    default:
      break;
  }
  c.body = body.str();
  return c;
}

int run_lifecycle(core::kube::KubeClient& client, const SubresourceCall& call, std::ostream& out,
                  std::ostream& err) {
  core::kube::RawRequest req;
  req.method = call.method;
  req.path = call.path;
  req.body = call.body;
  auto res = client.raw(req);
  if (!res.ok()) {
    err << call.error_prefix << ": " << res.error().message << "\n";
    return 1;
  }
  if (res->status < 200 || res->status >= 300) {
    err << call.error_prefix << ": "
        << core::kube::http_error(res->status, res->body, "", "").message << "\n";
    return 1;
  }
  out << call.success << "\n";
  return 0;
}

int run_migrate_cancel(core::kube::KubeClient& client, const Invocation& inv, const std::string& ns,
                       std::ostream& out, std::ostream& err) {
  const auto res = addon::resources::virtual_machine_instance_migrations();
  core::kube::ListOptions lo;
  lo.label_selector = std::string(api::v1::kMigrationSelectorLabel) + "=" + inv.name;
  auto list = client.list(res, ns, lo);
  if (!list.ok()) {
    err << "Error fetching virtual machine instance migration list: " << list.error().message
        << "\n";
    return 1;
  }
  // Several final migrations may be listed; at most one is in flight.
  for (const auto& m : list->items) {
    const core::json::Value* phase = core::json::find_path(m, {"status", "phase"});
    const std::string_view p = phase && phase->IsString() ? phase->GetString() : "";
    if (p == "Succeeded" || p == "Failed")
      continue;
    const std::string name(core::kube::meta::name(m));
    core::kube::DeleteOptions d;
    d.dry_run = inv.dry_run;
    auto st = client.remove(res, ns, name, d);
    if (!st.ok()) {
      err << "Error canceling migration " << name << " of a VirtualMachine " << inv.name << ": "
          << st.error().message << "\n";
      return 1;
    }
    out << "VM " << inv.name << " was scheduled to migrate-cancel\n";
    return 0;
  }
  err << "Found no migration to cancel for " << inv.name << "\n";
  return 1;
}

namespace {

// `version.Info{GitVersion:"v0.1.0", GitCommit:"...", ...}` from a version.Info JSON object, in
// upstream's field order; absent fields are left out.
std::string version_info_text(const core::json::Value& doc) {
  static const std::pair<const char*, const char*> fields[] = {
      {"gitVersion", "GitVersion"}, {"gitCommit", "GitCommit"}, {"gitTreeState", "GitTreeState"},
      {"buildDate", "BuildDate"},   {"goVersion", "GoVersion"}, {"compiler", "Compiler"},
      {"platform", "Platform"}};
  std::string info;
  for (const auto& [key, label] : fields) {
    auto v = core::json::get_string(doc, key);
    if (!v)
      continue;
    info += (info.empty() ? "" : ", ") + std::string(label) + ":\"" + std::string(*v) + "\"";
  }
  return "version.Info{" + info + "}";
}

}  // namespace

std::string client_version_line() {
  auto doc = core::json::parse(core::version_json());
  return "Client Version: " + version_info_text(*doc);
}

int run_version(core::kube::KubeClient* client, const std::string& config_error, std::ostream& out,
                std::ostream& err) {
  out << client_version_line() << "\n";
  out.flush();
  if (!client) {
    err << "error: cannot get the server version: " << config_error << "\n";
    return 1;
  }
  core::kube::RawRequest req;
  req.path = std::string(kSubresourcesPrefix) + "/version";
  auto res = client->raw(req);
  if (!res.ok()) {
    err << "error: cannot get the server version: " << res.error().message << "\n";
    return 1;
  }
  if (res->status < 200 || res->status >= 300) {
    err << "error: cannot get the server version: "
        << core::kube::http_error(res->status, res->body, "GET", req.path).message << "\n";
    return 1;
  }
  auto doc = core::json::parse(res->body);
  if (!doc.ok() || !doc->IsObject()) {
    err << "error: cannot get the server version: the answer is not JSON: "
        << res->body.substr(0, 200) << "\n";
    return 1;
  }
  out << "Server Version: " << version_info_text(*doc) << "\n";
  return 0;
}

}  // namespace kv::virtctl
