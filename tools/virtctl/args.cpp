#include "tools/virtctl/args.hpp"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <optional>

#include "core/flags.hpp"
#include "core/names.hpp"

namespace kv::virtctl {

using core::Errc;
using core::Error;
using core::Result;

namespace {

// DNS-1123 subdomain, as Kubernetes requires of VM names.
bool valid_name(const std::string& s) {
  return core::is_dns_subdomain(s);
}

const std::map<std::string, Command> kCommands = {
    {"start", Command::start},
    {"stop", Command::stop},
    {"restart", Command::restart},
    {"pause", Command::pause},
    {"unpause", Command::unpause},
    {"soft-reboot", Command::soft_reboot},
    {"console", Command::console},
    {"vnc", Command::vnc},
    {"version", Command::version},
    {"expose", Command::expose},
    {"port-forward", Command::port_forward},
    {"ssh", Command::ssh},
    {"scp", Command::scp},
    {"migrate", Command::migrate},
    {"migrate-cancel", Command::migrate_cancel},
};

// The global flags (kubeconfig, context, namespace), accepted anywhere on the line.
void add_global_flags(core::Flags& flags, Invocation* inv) {
  flags.text({.name = "--kubeconfig",
              .value = "FILE",
              .help = "kubeconfig to use",
              .shown_default = "$KUBECONFIG, else ~/.kube/config"},
             &inv->global.kubeconfig);
  flags.text({.name = "--context", .value = "NAME", .help = "kubeconfig context to use"},
             &inv->global.context);
  flags.value({.name = "--namespace",
               .short_name = "-n",
               .value = "NS",
               .help = "namespace",
               .shown_default = "the context's namespace"},
              [inv](const std::string& v) -> core::Status {
                if (!valid_name(v) || v.find('.') != std::string::npos)
                  return Error(Errc::invalid,
                               "--namespace: \"" + v +
                                   "\" is not a namespace name: lowercase letters, digits "
                                   "and '-', starting and ending with a letter or digit");
                inv->global.ns = v;
                return {};
              });
}

// virtctl's command line, bound to *inv; *grace_set tells whether --grace-period was given.
core::Flags virtctl_flags(Invocation* inv, bool* grace_set, const std::string& program) {
  using core::Flags;
  Flags flags(program,
              "virtctl controls virtual machine related operations on your kubernetes cluster.",
              Flags::Style::cobra);
  add_global_flags(flags, inv);

  const core::ArgSpec vm{.name = "VM", .help = "the VirtualMachine name"};
  const core::ArgSpec vmi{.name = "VMI", .help = "the VirtualMachineInstance name"};
  const core::ArgSpec kind{.name = "vm|vmi",
                           .help = "a VirtualMachine or a VirtualMachineInstance"};
  const core::ArgSpec name{.name = "NAME", .help = "its name"};
  const core::FlagSpec dry_run{.name = "--dry-run",
                               .help = "send the request as a dry run: nothing is changed"};
  const core::FlagSpec grace{.name = "--grace-period",
                             .value = "SECONDS",
                             .help = "the guest's shutdown grace period (with --force)",
                             .allowed = "a number of seconds"};
  const core::FlagSpec force{.name = "--force", .help = "use --grace-period (both or neither)"};
  auto grace_period = [inv, grace_set](long long n) {
    inv->grace_period = n;
    *grace_set = true;
  };

  auto& start = flags.command("start", "Start a virtual machine.");
  start.argument(vm);
  start.boolean({.name = "--paused", .help = "start the VM paused"}, &inv->paused);
  start.boolean(dry_run, &inv->dry_run);

  auto& stop = flags.command("stop", "Stop a virtual machine.");
  stop.argument(vm);
  stop.integer(grace, 0, 1LL << 40, grace_period);
  stop.boolean(force, &inv->force);
  stop.boolean(dry_run, &inv->dry_run);

  auto& restart = flags.command("restart", "Restart a virtual machine.");
  restart.argument(vm);
  restart.integer(grace, 0, 1LL << 40, grace_period);
  restart.boolean(force, &inv->force);
  restart.boolean(dry_run, &inv->dry_run);

  for (auto* c : {&flags.command("pause", "Pause a virtual machine."),
                  &flags.command("unpause", "Unpause a virtual machine.")}) {
    c->argument(kind);
    c->argument(name);
    c->boolean(dry_run, &inv->dry_run);
  }

  flags
      .command("soft-reboot", "Soft reboot a virtual machine instance (ACPI request to the guest).")
      .argument(vmi);

  auto& migrate =
      flags.command("migrate", "Migrate a virtual machine.",
                    "Migrate a running virtual machine to another node: creates a "
                    "VirtualMachineInstanceMigration (needs the kubevirt.io:migrate role).");
  migrate.argument(vm);
  migrate.value({.name = "--addedNodeSelector",
                 .value = "KEY=VALUE,...",
                 .help = "labels the target node must also have, for this migration only; they "
                         "can only narrow the VM's own constraints"},
                [inv](const std::string& v) -> core::Status {
                  return parse_string_to_string("--addedNodeSelector", v,
                                                &inv->added_node_selector);
                });
  migrate.boolean(dry_run, &inv->dry_run);

  auto& cancel =
      flags.command("migrate-cancel", "Cancel migration of a virtual machine.",
                    "Cancel the migration of a virtual machine that is in flight: deletes its "
                    "VirtualMachineInstanceMigration.");
  cancel.argument(vm);
  cancel.boolean(dry_run, &inv->dry_run);

  auto& console = flags.command(
      "console", "Connect to the serial console of a virtual machine instance.",
      "Connect to the serial console of a virtual machine instance. The escape sequence is ^].");
  console.argument(vmi);
  console.value({.name = "--timeout",
                 .value = "MINUTES",
                 .help = "how long to wait for the VMI to be Running: minutes (\"5\", upstream's "
                         "unit) or a duration (\"90s\", \"2m\", \"1h\")",
                 .shown_default = "5"},
                [inv](const std::string& v) -> core::Status {
                  auto t = parse_console_timeout(v);
                  if (!t.ok())
                    return t.error();
                  inv->timeout = *t;
                  return {};
                });

  auto& vnc = flags.command(
      "vnc", "Serve the VNC display of a virtual machine instance (--proxy-only).",
      "Serve the VNC display of a virtual machine instance on a local TCP port (printed as "
      "{\"port\":N}) for any VNC viewer, one viewer at a time.");
  vnc.argument(vmi);
  vnc.boolean({.name = "--proxy-only", .help = "only serve the port, launch no viewer (required)"},
              &inv->proxy_only);
  vnc.integer({.name = "--port",
               .value = "PORT",
               .help = "the local port; 0: any free port",
               .allowed = "a TCP port (0: any free port)"},
              &inv->port, 0, 65535);
  vnc.value({.name = "--address",
             .value = "ADDR",
             .help = "the local address to listen on",
             .shown_default = inv->address},
            [inv](const std::string& v) -> core::Status {
              if (v.empty())
                return Error(Errc::invalid, "--address: must not be empty; e.g. 127.0.0.1");
              inv->address = v;
              return {};
            });

  add_expose_command(flags, &inv->expose);
  add_remote_commands(flags, &inv->remote);
  flags.command("version", "Print the client and server version information.");
  // Listed for `help`; parse_args hands `create ...` to create_flags().
  flags.command("create", "Create a manifest for the specified Kind.")
      .argument({.name = "vm|instancetype|preference", .help = "the kind of manifest"});
  return flags;
}

// `virtctl create KIND [flags]`: the create commands under their own Flags (core/flags has one
// level of commands), with the global flags.
core::Flags create_flags(Invocation* inv, const std::string& program) {
  core::Flags flags(program + " create", "Create a manifest for the specified Kind.",
                    core::Flags::Style::cobra);
  add_global_flags(flags, inv);
  add_create_commands(flags, &inv->create);
  return flags;
}

// Where the command word is: the first word that is not a global flag or its value.
size_t command_index(const std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--")
      return i + 1;
    if (a.size() < 2 || a[0] != '-')
      return i;
    if (a.find('=') == std::string::npos &&
        (a == "--kubeconfig" || a == "--context" || a == "--namespace" || a == "-n"))
      ++i;
  }
  return args.size();
}

const std::map<std::string, CreateKind> kCreateKinds = {
    {"vm", CreateKind::vm},
    {"instancetype", CreateKind::instancetype},
    {"preference", CreateKind::preference},
};

// args with the word "create" at create_at taken out: `[global flags] KIND [flags]`, or
// `help [KIND]` for `help create [KIND]`.
Result<Invocation> parse_create(std::vector<std::string> args, size_t create_at,
                                const std::string& program) {
  Invocation inv;
  inv.command = Command::create;
  args.erase(args.begin() + static_cast<long>(create_at));
  auto parsed = create_flags(&inv, program).parse(args);
  if (!parsed.ok())
    return parsed.error();
  if (parsed->outcome == core::Flags::Outcome::help) {
    inv.command = Command::help;
    inv.help_topic = "create" + (parsed->command.empty() ? "" : " " + parsed->command);
    return inv;
  }
  inv.create.kind = kCreateKinds.at(parsed->command);
  KV_CHECK(check_create_flags(inv.create));
  return inv;
}

// The index of the word "create" when the line is `create ...` or `help create ...`; else none.
std::optional<size_t> create_word(const std::vector<std::string>& args) {
  size_t at = command_index(args);
  if (at < args.size() && args[at] == "help") {
    std::vector<std::string> rest(args.begin() + static_cast<long>(at) + 1, args.end());
    at += 1 + command_index(rest);
  }
  if (at < args.size() && args[at] == "create")
    return at;
  return std::nullopt;
}

}  // namespace

core::Status parse_string_to_string(const std::string& flag, const std::string& value,
                                    std::map<std::string, std::string>* out) {
  // cobra's StringToString: comma-separated key=value pairs, split at the first '='.
  size_t pos = 0;
  while (pos < value.size()) {
    size_t comma = value.find(',', pos);
    if (comma == std::string::npos)
      comma = value.size();
    const std::string pair = value.substr(pos, comma - pos);
    const size_t eq = pair.find('=');
    if (eq == std::string::npos || eq == 0)
      return Error(Errc::invalid, flag + ": \"" + pair +
                                      "\" must be formatted as key=value (pairs separated by ',')");
    (*out)[pair.substr(0, eq)] = pair.substr(eq + 1);
    pos = comma + 1;
  }
  return {};
}

Result<std::chrono::seconds> parse_console_timeout(const std::string& value) {
  const std::string meaning =
      "minutes as a whole number (\"5\"), or a duration with a unit (\"90s\", \"2m\", \"1h\")";
  if (value.empty())
    return Error(Errc::invalid, "--timeout: \"\" is not allowed: " + meaning);
  std::string digits = value;
  long long unit = 60;  // upstream counts minutes
  char last = value.back();
  if (last == 's' || last == 'm' || last == 'h') {
    digits.pop_back();
    unit = last == 's' ? 1 : last == 'm' ? 60 : 3600;
  }
  char* end = nullptr;
  long long n = std::strtoll(digits.c_str(), &end, 10);
  if (digits.empty() || *end != '\0' || n < 0 || n > 10'000'000)
    return Error(Errc::invalid, "--timeout: \"" + value + "\" is not allowed: " + meaning);
  return std::chrono::seconds(n * unit);
}

Result<Invocation> parse_args(const std::vector<std::string>& args, const std::string& program) {
  if (auto at = create_word(args))
    return parse_create(args, *at, program);
  Invocation inv;
  bool grace_set = false;
  auto parsed = virtctl_flags(&inv, &grace_set, program).parse(args);
  if (!parsed.ok())
    return parsed.error();
  if (parsed->outcome == core::Flags::Outcome::help) {
    inv.command = Command::help;
    inv.help_topic = parsed->command;
    return inv;
  }
  inv.command = kCommands.at(parsed->command);
  std::vector<std::string> rest = parsed->args;
  if (inv.command == Command::version)
    return inv;
  if (inv.command == Command::expose) {
    KV_CHECK(finish_expose(&inv.expose, rest));
    return inv;
  }
  if (inv.command == Command::port_forward || inv.command == Command::ssh ||
      inv.command == Command::scp) {
    KV_CHECK(finish_remote_args(parsed->command, rest, &inv.remote));
    return inv;
  }
  if (inv.command == Command::pause || inv.command == Command::unpause) {
    if (rest[0] != "vm" && rest[0] != "vmi")
      return Error(Errc::invalid, parsed->command + ": first argument \"" + rest[0] +
                                      "\" is not allowed: use vm or vmi");
    inv.vmi = rest[0] == "vmi";
    rest.erase(rest.begin());
  }
  const bool of_vm = inv.command == Command::start || inv.command == Command::stop ||
                     inv.command == Command::restart || inv.command == Command::migrate ||
                     inv.command == Command::migrate_cancel;
  const std::string what = of_vm ? "VirtualMachine"
                           : inv.command == Command::pause || inv.command == Command::unpause
                               ? "VirtualMachine or VirtualMachineInstance"
                               : "VirtualMachineInstance";
  if (!valid_name(rest[0]))
    return Error(Errc::invalid, "NAME: \"" + rest[0] + "\" is not a valid " + what +
                                    " name: lowercase letters, digits, '-' and '.'");
  inv.name = rest[0];

  if ((inv.command == Command::stop || inv.command == Command::restart) && grace_set != inv.force)
    return Error(Errc::invalid, "Must both use --force=true and set --grace-period.");
  if (inv.command == Command::vnc && !inv.proxy_only)
    return Error(Errc::unsupported,
                 "vnc: only --proxy-only is supported: run `virtctl vnc " + inv.name +
                     " --proxy-only` and point a VNC viewer at the printed port");
  return inv;
}

std::string usage(const std::string& topic, const std::string& program) {
  Invocation inv;
  if (topic == "create" || topic.starts_with("create "))
    return create_flags(&inv, program).usage(topic == "create" ? "" : topic.substr(7));
  bool grace_set = false;
  return virtctl_flags(&inv, &grace_set, program).usage(topic);
}

std::string program_name(const std::string& argv0) {
  const std::string base =
      argv0.substr(argv0.rfind('/') == std::string::npos ? 0 : argv0.rfind('/') + 1);
  const std::string suffix = "-virt";
  if (base.size() > suffix.size() && base.ends_with(suffix))
    return base.substr(0, base.size() - suffix.size()) + " virt";
  return "virtctl";
}

}  // namespace kv::virtctl
