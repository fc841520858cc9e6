// virtctl's REST commands: the subresource request each command sends (path, body), and the
// whole tool run in-process against an HTTP server standing in for the API server.
#include "tools/virtctl/commands.hpp"

#include <catch2/catch.hpp>
#include <sstream>

#include "addon/resources.hpp"
#include "core/version.hpp"
#include "test/fakes/fake_kube_client.hpp"
#include "test/fakes/fake_server.hpp"
#include "test/support/kube_test_util.hpp"
#include "tools/virtctl/virtctl.hpp"

using namespace kv::virtctl;

namespace {

Invocation parsed(std::vector<std::string> args) {
  auto r = parse_args(args);
  REQUIRE(r.ok());
  return *r;
}

const std::string kSub = "/apis/subresources.kubevirt.io/v1/namespaces/ns1/";

}  // namespace

TEST_CASE("virtctl requests: path and body per command") {
  auto start = lifecycle_call(parsed({"start", "vm1"}), "ns1");
  CHECK(start.method == "PUT");
  CHECK(start.path == kSub + "virtualmachines/vm1/start");
  CHECK(start.body == "{}");
  CHECK(start.success == "VM vm1 was scheduled to start");

  CHECK(lifecycle_call(parsed({"start", "vm1", "--paused", "--dry-run"}), "ns1").body ==
        R"({"dryRun":["All"],"paused":true})");

  auto stop = lifecycle_call(parsed({"stop", "vm1"}), "ns1");
  CHECK(stop.path == kSub + "virtualmachines/vm1/stop");
  CHECK(stop.body == "{}");
  auto force = lifecycle_call(parsed({"stop", "vm1", "--force", "--grace-period=0"}), "ns1");
  CHECK(force.body == R"({"gracePeriod":0})");
  CHECK(force.error_prefix == "Error force stopping VirtualMachine");

  auto restart =
      lifecycle_call(parsed({"restart", "vm1", "--force", "--grace-period=7", "--dry-run"}), "ns1");
  CHECK(restart.path == kSub + "virtualmachines/vm1/restart");
  CHECK(restart.body == R"({"dryRun":["All"],"gracePeriodSeconds":7})");
  CHECK(restart.success == "VM vm1 was scheduled to restart");

  auto pause_vm = lifecycle_call(parsed({"pause", "vm", "vm1"}), "ns1");
  CHECK(pause_vm.path == kSub + "virtualmachineinstances/vm1/pause");
  CHECK(pause_vm.success == "VM vm1 was scheduled to pause");
  auto unpause = lifecycle_call(parsed({"unpause", "vmi", "vm1", "--dry-run"}), "ns1");
  CHECK(unpause.path == kSub + "virtualmachineinstances/vm1/unpause");
  CHECK(unpause.body == R"({"dryRun":["All"]})");
  CHECK(unpause.success == "VMI vm1 was scheduled to unpause");

  auto reboot = lifecycle_call(parsed({"soft-reboot", "vm1"}), "ns1");
  CHECK(reboot.path == kSub + "virtualmachineinstances/vm1/softreboot");
  CHECK(reboot.body.empty());

  CHECK(stream_path("ns1", "vm1", "console") == kSub + "virtualmachineinstances/vm1/console");

  auto migrate = lifecycle_call(parsed({"migrate", "vm1"}), "ns1");
  CHECK(migrate.method == "PUT");
  CHECK(migrate.path == kSub + "virtualmachines/vm1/migrate");
  CHECK(migrate.body == "{}");
  CHECK(migrate.success == "VM vm1 was scheduled to migrate");
  CHECK(migrate.error_prefix == "Error migrating VirtualMachine");
  // MigrateOptions as upstream's client sends them; label text is escaped as JSON.
  CHECK(lifecycle_call(
            parsed({"migrate", "vm1", "--dry-run", "--addedNodeSelector=zone=b,note=say \"hi\""}),
            "ns1")
            .body == R"({"dryRun":["All"],"addedNodeSelector":{"note":"say \"hi\"","zone":"b"}})");
}

TEST_CASE("virtctl migrate-cancel deletes the VM's migration in flight, as upstream") {
  kv::test::FakeKubeClient client;
  const auto res = kv::addon::resources::virtual_machine_instance_migrations();
  auto add = [&](const std::string& name, const std::string& vmi, const std::string& phase) {
    auto d = kv::core::json::parse(
        R"({"apiVersion":"kubevirt.io/v1","kind":"VirtualMachineInstanceMigration",
            "metadata":{"name":")" +
        name + R"(","labels":{"kubevirt.io/vmi-name":")" + vmi + R"("}},
            "spec":{"vmiName":")" +
        vmi + R"("},"status":{"phase":")" + phase + R"("}})");
    REQUIRE(d.ok());
    REQUIRE(client.create(res, "ns1", *d).ok());
  };
  add("m-a", "vm1", "Succeeded");
  add("m-b", "vm1", "Running");
  add("m-c", "vm2", "Running");

  std::ostringstream out, err;
  CHECK(run_migrate_cancel(client, parsed({"migrate-cancel", "vm1"}), "ns1", out, err) == 0);
  CHECK(out.str() == "VM vm1 was scheduled to migrate-cancel\n");
  CHECK(err.str().empty());
  CHECK(client.last_selectors("list", res)->first == "kubevirt.io/vmi-name=vm1");
  CHECK(client.get(res, "ns1", "m-a").ok());
  CHECK_FALSE(client.get(res, "ns1", "m-b").ok());
  CHECK(client.get(res, "ns1", "m-c").ok());

  // Nothing left in flight: upstream's message, exit 1.
  std::ostringstream out2, err2;
  CHECK(run_migrate_cancel(client, parsed({"migrate-cancel", "vm1"}), "ns1", out2, err2) == 1);
  CHECK(out2.str().empty());
  CHECK(err2.str() == "Found no migration to cancel for vm1\n");

  // A failed delete names the migration and the VM.
  client.fail_next("remove", 1,
                   kv::core::Error(kv::core::Errc::unauthorized,
                                   "virtualmachineinstancemigrations.kubevirt.io \"m-c\" is "
                                   "forbidden"));
  std::ostringstream out3, err3;
  CHECK(run_migrate_cancel(client, parsed({"migrate-cancel", "vm2"}), "ns1", out3, err3) == 1);
  CHECK(err3.str() ==
        "Error canceling migration m-c of a VirtualMachine vm2: "
        "virtualmachineinstancemigrations.kubevirt.io \"m-c\" is forbidden\n");
}

namespace {

// A kubeconfig whose context points at the fake server with a token and namespace team-a.
struct Cluster {
  kv::test::TempDir dir;
  std::string kubeconfig;
  explicit Cluster(const std::string& url) {
    kubeconfig = dir.file("config");
    kv::test::write_file(kubeconfig,
                         "apiVersion: v1\nkind: Config\ncurrent-context: main\n"
                         "clusters:\n- name: c\n  cluster:\n    server: " +
                             url +
                             "\n"
                             "users:\n- name: u\n  user:\n    token: tok123\n"
                             "contexts:\n- name: main\n  context: {cluster: c, user: u, "
                             "namespace: team-a}\n");
  }
};

struct Run {
  int rc;
  std::string out, err;
};

Run virtctl(std::vector<std::string> args) {
  std::ostringstream out, err;
  int rc = run(args, out, err);
  return {rc, out.str(), err.str()};
}

}  // namespace

TEST_CASE("virtctl start/stop: through the API server with the kubeconfig's token and namespace") {
  kv::test::FakeServer server([](const kv::test::FakeServer::Request& r,
                                 kv::test::FakeServer::Conn& c) {
    if (r.path().find("/virtualmachines/missing/") != std::string::npos) {
      c.respond(
          404,
          R"({"kind":"Status","apiVersion":"v1","status":"Failure","message":"virtualmachine.kubevirt.io \"missing\" not found","reason":"NotFound","code":404})");
      return;
    }
    c.respond(202, "");
  });
  Cluster cluster(server.url());

  auto started = virtctl({"--kubeconfig", cluster.kubeconfig, "start", "vm-cirros"});
  CHECK(started.rc == 0);
  CHECK(started.out == "VM vm-cirros was scheduled to start\n");
  auto reqs = server.requests();
  REQUIRE(reqs.size() == 1);
  CHECK(reqs[0].method == "PUT");
  CHECK(reqs[0].target ==
        "/apis/subresources.kubevirt.io/v1/namespaces/team-a/virtualmachines/vm-cirros/start");
  CHECK(reqs[0].headers["authorization"] == "Bearer tok123");
  CHECK(reqs[0].body == "{}");

  auto stopped = virtctl({"stop", "vm1", "-n", "other", "--kubeconfig", cluster.kubeconfig});
  CHECK(stopped.rc == 0);
  CHECK(stopped.out == "VM vm1 was scheduled to stop\n");
  CHECK(server.requests().back().target ==
        "/apis/subresources.kubevirt.io/v1/namespaces/other/virtualmachines/vm1/stop");

  auto missing = virtctl({"--kubeconfig", cluster.kubeconfig, "start", "missing"});
  CHECK(missing.rc == 1);
  CHECK(missing.out.empty());
  CHECK(missing.err ==
        "Error starting VirtualMachine: virtualmachine.kubevirt.io \"missing\" not found\n");
}

TEST_CASE("virtctl migrate: the subresource through the API server, its refusal printed") {
  kv::test::FakeServer server([](const kv::test::FakeServer::Request& r,
                                 kv::test::FakeServer::Conn& c) {
    if (r.path().find("/virtualmachines/stopped/") != std::string::npos) {
      c.respond(
          409,
          R"({"kind":"Status","apiVersion":"v1","status":"Failure","message":"Operation cannot be fulfilled on virtualmachine.kubevirt.io \"stopped\": VM is not running","reason":"Conflict","code":409})");
      return;
    }
    c.respond(202, "");
  });
  Cluster cluster(server.url());
  auto ok =
      virtctl({"--kubeconfig", cluster.kubeconfig, "migrate", "vm1", "--addedNodeSelector=zone=b"});
  CHECK(ok.rc == 0);
  CHECK(ok.out == "VM vm1 was scheduled to migrate\n");
  REQUIRE(server.requests().size() == 1);
  CHECK(server.requests()[0].method == "PUT");
  CHECK(server.requests()[0].target ==
        "/apis/subresources.kubevirt.io/v1/namespaces/team-a/virtualmachines/vm1/migrate");
  CHECK(server.requests()[0].body == R"({"addedNodeSelector":{"zone":"b"}})");

  auto refused = virtctl({"--kubeconfig", cluster.kubeconfig, "migrate", "stopped"});
  CHECK(refused.rc == 1);
  CHECK(refused.err ==
        "Error migrating VirtualMachine: Operation cannot be fulfilled on "
        "virtualmachine.kubevirt.io \"stopped\": VM is not running\n");
}

TEST_CASE("virtctl version: client version always, server version from virt-api") {
  kv::test::FakeServer server(
      [](const kv::test::FakeServer::Request& r, kv::test::FakeServer::Conn& c) {
        if (r.path() == "/apis/subresources.kubevirt.io/v1/version")
          c.respond(200, R"({"gitVersion":"v0.1.0","gitCommit":"abc","platform":"linux/amd64"})");
        else
          c.respond(404, "{}");
      });
  Cluster cluster(server.url());
  auto v = virtctl({"version", "--kubeconfig", cluster.kubeconfig});
  CHECK(v.rc == 0);
  CHECK(v.out == client_version_line() +
                     "\nServer Version: version.Info{GitVersion:\"v0.1.0\", GitCommit:\"abc\", "
                     "Platform:\"linux/amd64\"}\n");
  CHECK(client_version_line().find("GitVersion:\"v0.1.0\"") != std::string::npos);
  // The client's commit and date are the build's (core/version), as virt-api's are.
  CHECK(client_version_line().find("GitCommit:\"" + kv::core::version().git_commit + "\"") !=
        std::string::npos);
  CHECK(client_version_line().find("BuildDate:\"" + kv::core::version().build_date + "\"") !=
        std::string::npos);

  // A server nobody listens on: the client version, then a clear error.
  Cluster gone("http://127.0.0.1:1");
  auto down = virtctl({"version", "--kubeconfig", gone.kubeconfig});
  CHECK(down.rc == 1);
  CHECK(down.out == client_version_line() + "\n");
  CHECK(down.err.find("error: cannot get the server version: cannot connect to") == 0);
}

TEST_CASE("virtctl: usage errors exit 1 with the reason, help exits 0") {
  auto bad = virtctl({"stop", "vm1", "--force"});
  CHECK(bad.rc == 1);
  CHECK(bad.err.find("error: Must both use --force=true and set --grace-period.") == 0);
  auto help = virtctl({"help"});
  CHECK(help.rc == 0);
  CHECK(help.out.find("Usage: virtctl COMMAND") != std::string::npos);
  auto no_config = virtctl({"start", "vm1", "--kubeconfig", "/nonexistent/kubeconfig"});
  CHECK(no_config.rc == 1);
  CHECK(no_config.err.find("/nonexistent/kubeconfig") != std::string::npos);
}
