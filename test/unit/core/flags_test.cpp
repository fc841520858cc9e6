#include "core/flags.hpp"

#include <catch2/catch.hpp>
#include <vector>

using kv::core::Flags;

namespace {
struct Opts {
  std::string dir = "/default";
  long long port = 8080;
  bool emulate = false;
};

Flags flags_for(Opts* o) {
  Flags f("prog");
  f.text({.name = "--dir", .value = "DIR", .help = "where things go"}, &o->dir);
  f.integer({.name = "--port", .value = "PORT", .help = "the port"}, &o->port, 0, 65535);
  f.boolean({.name = "--emulate", .help = "emulate"}, &o->emulate);
  return f;
}

kv::core::Result<Flags::Parsed> parse(const Flags& f, std::vector<const char*> args) {
  args.insert(args.begin(), "prog");
  return f.parse(static_cast<int>(args.size()), args.data());
}
}  // namespace

TEST_CASE("flags take `--name value` and `--name=value`; unset flags keep their defaults") {
  Opts o;
  auto f = flags_for(&o);
  auto r = parse(f, {"--dir", "/x", "--port=9"});
  REQUIRE(r.ok());
  CHECK(r->outcome == Flags::Outcome::run);
  CHECK(o.dir == "/x");
  CHECK(o.port == 9);
  CHECK_FALSE(o.emulate);
}

TEST_CASE("a bare boolean means true; an explicit value is read") {
  Opts o;
  auto f = flags_for(&o);
  REQUIRE(parse(f, {"--emulate"}).ok());
  CHECK(o.emulate);
  REQUIRE(parse(f, {"--emulate=false"}).ok());
  CHECK_FALSE(o.emulate);
  REQUIRE(parse(f, {"--emulate", "true", "--dir", "/y"}).ok());
  CHECK(o.emulate);
  REQUIRE(parse(f, {"--emulate", "no"}).ok());
  CHECK_FALSE(o.emulate);
  CHECK(o.dir == "/y");
}

TEST_CASE("help is reported, not parsed as a flag") {
  Opts o;
  auto f = flags_for(&o);
  auto r = parse(f, {"--dir", "/x", "--help"});
  REQUIRE(r.ok());
  CHECK(r->outcome == Flags::Outcome::help);
}

TEST_CASE("bad flags are errors that name the flag and what is allowed") {
  Opts o;
  auto f = flags_for(&o);
  auto message = [&](std::vector<const char*> args) {
    auto r = parse(f, std::move(args));
    REQUIRE_FALSE(r.ok());
    return r.error().message;
  };
  CHECK(message({"--colour", "red"}) == "unknown flag --colour");
  CHECK(message({"--dir"}) == "--dir: needs a value");
  CHECK(message({"--port", "70000"}) == "--port: \"70000\" is not an integer from 0 to 65535");
  CHECK(message({"--port", "8o"}) == "--port: \"8o\" is not an integer from 0 to 65535");
  CHECK(message({"--emulate=maybe"}) == "--emulate: \"maybe\" is not true or false");
  // The same mistake written with a space, and a stray word.
  CHECK(message({"--emulate", "maybe"}) == "--emulate: \"maybe\" is not true or false");
  CHECK(message({"--dir", "/x", "extra"}) == "unexpected argument \"extra\" (flags only)");
}

TEST_CASE("the usage is generated from the registrations: aligned, with defaults") {
  Opts o;
  auto f = flags_for(&o);
  CHECK(f.usage() ==
        "usage: prog [flags]\n"
        "\n"
        "Flags:\n"
        "  --dir DIR    where things go (default: /default)\n"
        "  --port PORT  the port (default: 8080)\n"
        "  --emulate    emulate\n"
        "  -h, --help   print this help\n");
  Flags g("tool", "Does one thing.");
  std::string name = "x";
  g.text({.name = "--name",
          .short_name = "-n",
          .value = "NAME",
          .help = "a name",
          .shown_default = "the context's"},
         &name);
  g.arguments({.name = "FILE...", .help = "the files to read"});
  CHECK(g.usage() ==
        "Does one thing.\n"
        "\n"
        "usage: tool FILE... [flags]\n"
        "\n"
        "Arguments:\n"
        "  FILE...  the files to read\n"
        "\n"
        "Flags:\n"
        "  -n, --name NAME  a name (default: the context's)\n"
        "  -h, --help       print this help\n");
}

TEST_CASE("a long help line wraps under its column") {
  Flags f("prog");
  std::string s;
  f.text({.name = "--x", .help = std::string(70, 'a') + " " + std::string(40, 'b')}, &s);
  CHECK(f.usage().find("  --x" + std::string(9, ' ') + std::string(70, 'a') + "\n" +
                       std::string(14, ' ') + std::string(40, 'b') + "\n") != std::string::npos);
}

TEST_CASE("positional arguments: words are kept, a boolean never takes one, arity is checked") {
  Flags f("prog");
  bool check = false;
  f.boolean({.name = "--check"}, &check);
  f.argument({.name = "DIR", .help = "the directory to write into"});
  auto r = parse(f, {"--check", "out"});
  REQUIRE(r.ok());
  CHECK(check);
  CHECK(r->args == std::vector<std::string>{"out"});
  auto none = parse(f, {"--check"});
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().message == "needs exactly one argument, the directory to write into (got 0)");
  auto two = parse(f, {"a", "--", "-b"});
  REQUIRE_FALSE(two.ok());
  CHECK(two.error().message == "needs exactly one argument, the directory to write into (got 2)");
}

namespace {
struct Cli {
  std::string ns, kubeconfig;
  bool force = false;
  long long grace = -1;
};
Flags cli_for(Cli* c) {
  Flags f("cli", "A tool with commands.", Flags::Style::cobra);
  f.text({.name = "--kubeconfig", .value = "FILE", .help = "kubeconfig"}, &c->kubeconfig);
  f.text({.name = "--namespace", .short_name = "-n", .value = "NS", .help = "namespace"}, &c->ns);
  auto& stop = f.command("stop", "Stop a thing.");
  stop.argument({.name = "NAME", .help = "the thing's name"});
  stop.boolean({.name = "--force", .help = "now"}, &c->force);
  stop.integer({.name = "--grace", .value = "SECONDS", .allowed = "a number of seconds"}, &c->grace,
               0, 100);
  auto& pause = f.command("pause", "Pause a thing.", "Pause a thing: longer text.");
  pause.argument({.name = "vm|vmi"});
  pause.argument({.name = "NAME"});
  f.command("version", "Print the version.");
  return f;
}
}  // namespace

TEST_CASE("subcommands: global flags anywhere, the command's own flags, its arguments") {
  Cli c;
  auto f = cli_for(&c);
  auto r = f.parse({"-n", "a", "stop", "--force", "--grace=5", "x", "--kubeconfig", "/k"});
  REQUIRE(r.ok());
  CHECK(r->outcome == Flags::Outcome::run);
  CHECK(r->command == "stop");
  CHECK(r->args == std::vector<std::string>{"x"});
  CHECK(c.ns == "a");
  CHECK(c.kubeconfig == "/k");
  CHECK(c.force);
  CHECK(c.grace == 5);
  CHECK(f.parse({"pause", "vm", "n=1"})->args == std::vector<std::string>{"vm", "n=1"});
  CHECK(f.parse({"-n=b", "version"})->command == "version");
  CHECK(c.ns == "b");
}

TEST_CASE("subcommands: help for the tool and for each command") {
  Cli c;
  auto f = cli_for(&c);
  for (auto args : std::vector<std::vector<std::string>>{{}, {"help"}, {"-h"}}) {
    auto r = f.parse(args);
    REQUIRE(r.ok());
    CHECK(r->outcome == Flags::Outcome::help);
    CHECK(r->command.empty());
  }
  for (auto args : std::vector<std::vector<std::string>>{
           {"help", "stop"}, {"stop", "--help"}, {"-h", "stop", "--grace=x"}}) {
    auto r = f.parse(args);
    REQUIRE(r.ok());
    CHECK(r->outcome == Flags::Outcome::help);
    CHECK(r->command == "stop");
  }
  CHECK(f.usage() ==
        "A tool with commands.\n"
        "\n"
        "Usage: cli COMMAND [flags]\n"
        "\n"
        "Commands:\n"
        "  pause vm|vmi NAME  Pause a thing.\n"
        "  stop NAME          Stop a thing.\n"
        "  version            Print the version.\n"
        "\n"
        "Global flags:\n"
        "  --kubeconfig FILE   kubeconfig\n"
        "  -n, --namespace NS  namespace\n"
        "  -h, --help          print this help\n"
        "\n"
        "Use \"cli help COMMAND\" for more about a command.\n");
  CHECK(f.usage("stop") ==
        "Stop a thing.\n"
        "\n"
        "Usage: cli stop NAME [flags]\n"
        "\n"
        "Arguments:\n"
        "  NAME  the thing's name\n"
        "\n"
        "Flags:\n"
        "  --force          now\n"
        "  --grace SECONDS  (default: -1)\n"
        "\n"
        "Global flags:\n"
        "  --kubeconfig FILE   kubeconfig\n"
        "  -n, --namespace NS  namespace\n"
        "  -h, --help          print this help\n");
  CHECK(f.usage("pause").find("Pause a thing: longer text.\n\nUsage: cli pause vm|vmi NAME\n") ==
        0);
}

TEST_CASE("subcommands: errors name the command, flag or argument and what is allowed") {
  Cli c;
  auto f = cli_for(&c);
  auto message = [&](std::vector<std::string> args) {
    auto r = f.parse(args);
    REQUIRE_FALSE(r.ok());
    return r.error().message;
  };
  CHECK(message({"frob"}) ==
        "unknown command \"frob\" for \"cli\"; commands: pause, stop, version");
  CHECK(message({"help", "frob"}) == "unknown help topic \"frob\"; commands: pause, stop, version");
  CHECK(message({"stop", "x", "--bogus"}) == "unknown flag: --bogus");
  CHECK(message({"pause", "vm", "x", "--force"}) ==
        "unknown flag: --force for \"pause\" (it takes none besides the global --kubeconfig, -n)");
  CHECK(message({"stop", "x", "-n"}) == "--namespace: needs a value");
  CHECK(message({"stop", "x", "--force=maybe"}) ==
        "--force: \"maybe\" is not allowed: use true or false");
  CHECK(message({"stop", "x", "--grace", "101"}) ==
        "--grace: \"101\" is not allowed: a number of seconds from 0 to 100");
  CHECK(message({"stop"}) == "stop: needs exactly one argument, the thing's name (got 0)");
  CHECK(message({"stop", "x", "--force", "true"}) ==
        "stop: needs exactly one argument, the thing's name (got 2)");
  CHECK(message({"pause", "x"}) == "pause: needs two arguments, vm|vmi and NAME (got 1)");
  CHECK(message({"version", "x"}) == "version: takes no arguments, got \"x\"");
}
