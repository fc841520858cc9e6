// virtctl's command line: upstream's command names, flags and arity; errors that name the
// argument and what is allowed.
#include "tools/virtctl/args.hpp"

#include <catch2/catch.hpp>

using namespace kv::virtctl;
using kv::core::Errc;

namespace {
Invocation ok(std::vector<std::string> args) {
  auto r = parse_args(args);
  INFO((r.ok() ? "" : r.error().message));
  REQUIRE(r.ok());
  return *r;
}
std::string fails(std::vector<std::string> args) {
  auto r = parse_args(args);
  REQUIRE(!r.ok());
  return r.error().message;
}
}  // namespace

TEST_CASE("virtctl args: lifecycle commands and their flags") {
  auto s = ok({"start", "vm-cirros", "--paused", "--dry-run"});
  CHECK(s.command == Command::start);
  CHECK(s.name == "vm-cirros");
  CHECK(s.paused);
  CHECK(s.dry_run);

  auto stop = ok({"stop", "--grace-period", "0", "--force", "vm1"});
  CHECK(stop.command == Command::stop);
  CHECK(stop.force);
  REQUIRE(stop.grace_period);
  CHECK(*stop.grace_period == 0);

  auto restart = ok({"restart", "vm1", "--grace-period=30", "--force=true"});
  CHECK(restart.command == Command::restart);
  CHECK(*restart.grace_period == 30);

  auto p = ok({"pause", "vmi", "vm1"});
  CHECK(p.command == Command::pause);
  CHECK(p.vmi);
  CHECK(!ok({"unpause", "vm", "vm1"}).vmi);
  CHECK(ok({"soft-reboot", "vm1"}).command == Command::soft_reboot);
  CHECK(ok({"version"}).command == Command::version);
}

TEST_CASE("virtctl args: global flags anywhere, kubectl style") {
  auto a = ok({"-n", "team-a", "--kubeconfig=/k", "start", "vm1", "--context", "ctx"});
  CHECK(a.global.ns == "team-a");
  CHECK(a.global.kubeconfig == "/k");
  CHECK(a.global.context == "ctx");
  CHECK(ok({"start", "vm1", "--namespace=b"}).global.ns == "b");
  CHECK(ok({"start", "vm1", "-n=c"}).global.ns == "c");
}

TEST_CASE("virtctl args: console timeout is upstream's minutes, or a duration") {
  CHECK(ok({"console", "vm1"}).timeout == std::chrono::minutes(5));
  CHECK(ok({"console", "vm1", "--timeout", "1"}).timeout == std::chrono::minutes(1));
  CHECK(ok({"console", "vm1", "--timeout=90s"}).timeout == std::chrono::seconds(90));
  CHECK(ok({"console", "vm1", "--timeout=2h"}).timeout == std::chrono::hours(2));
  CHECK(fails({"console", "vm1", "--timeout=soon"}).find("--timeout: \"soon\"") !=
        std::string::npos);
  CHECK(fails({"console", "vm1", "--timeout=-1"}).find("minutes") != std::string::npos);
}

TEST_CASE("virtctl args: vnc proxy-only, port and address") {
  auto v = ok({"vnc", "vm1", "--proxy-only", "--port", "5901", "--address", "0.0.0.0"});
  CHECK(v.command == Command::vnc);
  CHECK(v.proxy_only);
  CHECK(v.port == 5901);
  CHECK(v.address == "0.0.0.0");
  CHECK(fails({"vnc", "vm1", "--proxy-only", "--port=70000"}) ==
        "--port: \"70000\" is not allowed: a TCP port (0: any free port) from 0 to 65535");
  auto no_proxy = parse_args({"vnc", "vm1"});
  REQUIRE(!no_proxy.ok());
  CHECK(no_proxy.error().code == Errc::unsupported);
  CHECK(no_proxy.error().message.find("--proxy-only") != std::string::npos);
}

TEST_CASE("virtctl args: usage errors name the argument and what is allowed") {
  CHECK(fails({"frobnicate", "vm1"}).find("unknown command \"frobnicate\" for \"virtctl\"") == 0);
  CHECK(fails({"start"}) == "start: needs exactly one argument, the VirtualMachine name (got 0)");
  CHECK(fails({"start", "a", "b"}).find("(got 2)") != std::string::npos);
  CHECK(fails({"pause", "vm1"}) == "pause: needs two arguments, vm|vmi and NAME (got 1)");
  CHECK(fails({"pause", "pod", "x"}) ==
        "pause: first argument \"pod\" is not allowed: use vm or vmi");
  CHECK(fails({"start", "vm1", "--force"}).find("unknown flag: --force for \"start\"; allowed:") ==
        0);
  CHECK(fails({"start", "vm1", "--bogus"}) == "unknown flag: --bogus");
  CHECK(fails({"stop", "vm1", "--force"}) == "Must both use --force=true and set --grace-period.");
  CHECK(fails({"stop", "vm1", "--grace-period=5"}) ==
        "Must both use --force=true and set --grace-period.");
  CHECK(fails({"stop", "vm1", "--force", "--grace-period=-2"}).find("--grace-period: \"-2\"") == 0);
  CHECK(fails({"start", "vm1", "--paused=maybe"}) ==
        "--paused: \"maybe\" is not allowed: use true or false");
  CHECK(fails({"start", "VM_1"}).find("NAME: \"VM_1\" is not a valid VirtualMachine name") == 0);
  CHECK(fails({"start", "vm1", "-n"}) == "--namespace: needs a value");
  CHECK(fails({"version", "x"}).find("version: takes no arguments") == 0);
}

TEST_CASE("virtctl args: help") {
  CHECK(ok({}).command == Command::help);
  auto h = ok({"stop", "--help"});
  CHECK(h.command == Command::help);
  CHECK(h.help_topic == "stop");
  CHECK(ok({"help", "console"}).help_topic == "console");
  CHECK(usage("console").find("The escape sequence is ^]") != std::string::npos);
  CHECK(usage("").find("soft-reboot") != std::string::npos);
}

TEST_CASE("virtctl args: migrate and migrate-cancel, with upstream's flags") {
  auto m = ok({"migrate", "vm1", "--addedNodeSelector=zone=b,disk=ssd", "--dry-run"});
  CHECK(m.command == Command::migrate);
  CHECK(m.name == "vm1");
  CHECK(m.dry_run);
  CHECK(m.added_node_selector ==
        std::map<std::string, std::string>{{"disk", "ssd"}, {"zone", "b"}});
  // Repeated, merged as cobra's StringToString; a value may hold '='.
  auto merged =
      ok({"migrate", "--addedNodeSelector", "a=1", "vm1", "--addedNodeSelector", "b=x=y,a=2"});
  CHECK(merged.added_node_selector == std::map<std::string, std::string>{{"a", "2"}, {"b", "x=y"}});
  CHECK(ok({"migrate", "vm1"}).added_node_selector.empty());
  CHECK(fails({"migrate", "vm1", "--addedNodeSelector=zone"}) ==
        "--addedNodeSelector: \"zone\" must be formatted as key=value (pairs separated by ',')");
  CHECK(fails({"migrate"}) ==
        "migrate: needs exactly one argument, the VirtualMachine name (got 0)");
  CHECK(fails({"migrate", "VM_1"}).find("NAME: \"VM_1\" is not a valid VirtualMachine name") == 0);

  auto c = ok({"migrate-cancel", "vm1", "--dry-run"});
  CHECK(c.command == Command::migrate_cancel);
  CHECK(c.name == "vm1");
  CHECK(c.dry_run);
  CHECK(fails({"migrate-cancel", "vm1", "--addedNodeSelector=a=b"})
            .find("unknown flag: --addedNodeSelector for \"migrate-cancel\"") == 0);

  // Both are in the usage, each with its own help.
  CHECK(usage("").find("migrate-cancel") != std::string::npos);
  CHECK(usage("").find("Migrate a virtual machine.") != std::string::npos);
  CHECK(usage("migrate").find("--addedNodeSelector") != std::string::npos);
  CHECK(usage("migrate-cancel").find("Cancel the migration of a virtual machine") !=
        std::string::npos);
}
