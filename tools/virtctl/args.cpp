#include "tools/virtctl/args.hpp"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <set>

namespace kv::virtctl {

using core::Errc;
using core::Error;
using core::Result;

namespace {

struct CommandSpec {
  Command command;
  std::string what;  // what the positional argument names, for messages
  std::set<std::string> flags;
  std::string synopsis;
};

const std::map<std::string, CommandSpec>& commands() {
  static const std::map<std::string, CommandSpec> specs = {
      {"start",
       {Command::start,
        "VirtualMachine",
        {"--paused", "--dry-run"},
        "start (VM) [--paused] [--dry-run]\n  Start a virtual machine."}},
      {"stop",
       {Command::stop,
        "VirtualMachine",
        {"--grace-period", "--force", "--dry-run"},
        "stop (VM) [--grace-period=0 --force] [--dry-run]\n  Stop a virtual machine."}},
      {"restart",
       {Command::restart,
        "VirtualMachine",
        {"--grace-period", "--force", "--dry-run"},
        "restart (VM) [--grace-period=0 --force] [--dry-run]\n  Restart a virtual machine."}},
      {"pause",
       {Command::pause,
        "VirtualMachine or VirtualMachineInstance",
        {"--dry-run"},
        "pause (vm|vmi) (NAME) [--dry-run]\n  Pause a virtual machine."}},
      {"unpause",
       {Command::unpause,
        "VirtualMachine or VirtualMachineInstance",
        {"--dry-run"},
        "unpause (vm|vmi) (NAME) [--dry-run]\n  Unpause a virtual machine."}},
      {"soft-reboot",
       {Command::soft_reboot,
        "VirtualMachineInstance",
        {},
        "soft-reboot (VMI)\n  Soft reboot a virtual machine instance (ACPI request to the "
        "guest)."}},
      {"console",
       {Command::console,
        "VirtualMachineInstance",
        {"--timeout"},
        "console (VMI) [--timeout=5]\n  Connect to the serial console of a virtual machine "
        "instance.\n  --timeout: how long to wait for the VMI to be Running: minutes (\"5\", "
        "upstream's unit)\n  or a duration (\"90s\", \"2m\", \"1h\"). The escape sequence is ^]."}},
      {"vnc",
       {Command::vnc,
        "VirtualMachineInstance",
        {"--proxy-only", "--port", "--address"},
        "vnc (VMI) --proxy-only [--port=0] [--address=127.0.0.1]\n  Serve the VNC display of a "
        "virtual machine instance on a local TCP port\n  (printed as {\"port\":N}) for any VNC "
        "viewer, one viewer at a time."}},
      {"version",
       {Command::version, "", {}, "version\n  Print the client and server version information."}},
  };
  return specs;
}

enum class Kind { value, boolean };
const std::map<std::string, Kind>& flag_kinds() {
  static const std::map<std::string, Kind> kinds = {
      {"--kubeconfig", Kind::value},   {"--context", Kind::value},
      {"--namespace", Kind::value},    {"--paused", Kind::boolean},
      {"--dry-run", Kind::boolean},    {"--force", Kind::boolean},
      {"--grace-period", Kind::value}, {"--timeout", Kind::value},
      {"--proxy-only", Kind::boolean}, {"--port", Kind::value},
      {"--address", Kind::value},
  };
  return kinds;
}

const std::set<std::string> kGlobalFlags = {"--kubeconfig", "--context", "--namespace"};

Result<bool> parse_bool(const std::string& flag, const std::string& v) {
  if (v == "true" || v == "1" || v == "t" || v == "T" || v == "TRUE" || v == "True")
    return true;
  if (v == "false" || v == "0" || v == "f" || v == "F" || v == "FALSE" || v == "False")
    return false;
  return Error(Errc::invalid, flag + ": \"" + v + "\" is not allowed: use true or false");
}

Result<long long> parse_int(const std::string& flag, const std::string& v, long long min,
                            long long max, const std::string& meaning) {
  char* end = nullptr;
  long long n = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || n < min || n > max)
    return Error(Errc::invalid, flag + ": \"" + v + "\" is not allowed: " + meaning + " from " +
                                    std::to_string(min) + " to " + std::to_string(max));
  return n;
}

// DNS-1123 subdomain, as Kubernetes requires of VM names.
bool valid_name(const std::string& s) {
  if (s.empty() || s.size() > 253)
    return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(s.front()) || !alnum(s.back()))
    return false;
  return std::all_of(s.begin(), s.end(), [&](char c) { return alnum(c) || c == '-' || c == '.'; });
}

std::string command_list() {
  std::string out;
  for (const auto& [name, spec] : commands())
    out += (out.empty() ? "" : ", ") + name;
  return out;
}

}  // namespace

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

Result<Invocation> parse_args(const std::vector<std::string>& args) {
  Invocation inv;
  std::vector<std::string> positional;
  std::vector<std::pair<std::string, std::string>> flags;  // in order; booleans as "true"/...
  bool help = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      positional.insert(positional.end(), args.begin() + static_cast<long>(i) + 1, args.end());
      break;
    }
    if (a == "-h" || a == "--help") {
      help = true;
      continue;
    }
    if (a.size() < 2 || a[0] != '-') {
      positional.push_back(a);
      continue;
    }
    std::string name = a, value;
    bool has_value = false;
    if (auto eq = a.find('='); eq != std::string::npos) {
      name = a.substr(0, eq);
      value = a.substr(eq + 1);
      has_value = true;
    }
    if (name == "-n")
      name = "--namespace";
    auto kind = flag_kinds().find(name);
    if (kind == flag_kinds().end())
      return Error(Errc::invalid, "unknown flag: " + name);
    if (!has_value) {
      if (kind->second == Kind::boolean) {
        value = "true";
      } else if (i + 1 >= args.size()) {
        return Error(Errc::invalid, name + ": needs a value");
      } else {
        value = args[++i];
      }
    }
    flags.emplace_back(name, value);
  }

  if (positional.empty() || positional[0] == "help") {
    inv.command = Command::help;
    if (positional.size() > 1)
      inv.help_topic = positional[1];
    if (!inv.help_topic.empty() && !commands().count(inv.help_topic))
      return Error(Errc::invalid,
                   "unknown help topic \"" + inv.help_topic + "\"; commands: " + command_list());
    return inv;
  }
  auto spec_it = commands().find(positional[0]);
  if (spec_it == commands().end())
    return Error(Errc::invalid, "unknown command \"" + positional[0] +
                                    "\" for \"virtctl\"; commands: " + command_list());
  const std::string& cmd_name = spec_it->first;
  const CommandSpec& spec = spec_it->second;
  if (help) {
    inv.command = Command::help;
    inv.help_topic = cmd_name;
    return inv;
  }
  inv.command = spec.command;

  bool grace_set = false;
  for (const auto& [name, value] : flags) {
    if (!kGlobalFlags.count(name) && !spec.flags.count(name)) {
      std::string allowed;
      for (const auto& f : spec.flags)
        allowed += (allowed.empty() ? "" : ", ") + f;
      return Error(Errc::invalid, "unknown flag: " + name + " for \"" + cmd_name + "\"" +
                                      (allowed.empty() ? " (it takes none besides the global "
                                                         "--kubeconfig, --context, -n)"
                                                       : "; allowed: " + allowed));
    }
    if (name == "--kubeconfig") {
      inv.global.kubeconfig = value;
    } else if (name == "--context") {
      inv.global.context = value;
    } else if (name == "--namespace") {
      if (!valid_name(value) || value.find('.') != std::string::npos)
        return Error(Errc::invalid, "--namespace: \"" + value +
                                        "\" is not a namespace name: lowercase letters, digits "
                                        "and '-', starting and ending with a letter or digit");
      inv.global.ns = value;
    } else if (name == "--paused") {
      auto b = parse_bool(name, value);
      if (!b.ok())
        return b.error();
      inv.paused = *b;
    } else if (name == "--dry-run") {
      auto b = parse_bool(name, value);
      if (!b.ok())
        return b.error();
      inv.dry_run = *b;
    } else if (name == "--force") {
      auto b = parse_bool(name, value);
      if (!b.ok())
        return b.error();
      inv.force = *b;
    } else if (name == "--proxy-only") {
      auto b = parse_bool(name, value);
      if (!b.ok())
        return b.error();
      inv.proxy_only = *b;
    } else if (name == "--grace-period") {
      auto n = parse_int(name, value, 0, 1LL << 40, "a number of seconds");
      if (!n.ok())
        return n.error();
      inv.grace_period = *n;
      grace_set = true;
    } else if (name == "--port") {
      auto n = parse_int(name, value, 0, 65535, "a TCP port (0: any free port)");
      if (!n.ok())
        return n.error();
      inv.port = static_cast<int>(*n);
    } else if (name == "--address") {
      if (value.empty())
        return Error(Errc::invalid, "--address: must not be empty; e.g. 127.0.0.1");
      inv.address = value;
    } else if (name == "--timeout") {
      auto t = parse_console_timeout(value);
      if (!t.ok())
        return t.error();
      inv.timeout = *t;
    }
  }

  std::vector<std::string> rest(positional.begin() + 1, positional.end());
  if (inv.command == Command::version) {
    if (!rest.empty())
      return Error(Errc::invalid, "version: takes no arguments, got \"" + rest[0] + "\"");
    return inv;
  }
  if (inv.command == Command::pause || inv.command == Command::unpause) {
    if (rest.size() != 2)
      return Error(Errc::invalid, cmd_name + ": needs two arguments, vm|vmi and NAME (got " +
                                      std::to_string(rest.size()) + ")");
    if (rest[0] != "vm" && rest[0] != "vmi")
      return Error(Errc::invalid,
                   cmd_name + ": first argument \"" + rest[0] + "\" is not allowed: use vm or vmi");
    inv.vmi = rest[0] == "vmi";
    rest.erase(rest.begin());
  }
  if (rest.size() != 1)
    return Error(Errc::invalid, cmd_name + ": needs exactly one argument, the " + spec.what +
                                    " name (got " + std::to_string(rest.size()) + ")");
  if (!valid_name(rest[0]))
    return Error(Errc::invalid, "NAME: \"" + rest[0] + "\" is not a valid " + spec.what +
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

std::string usage(const std::string& topic) {
  const std::string globals =
      "Global flags:\n"
      "  --kubeconfig FILE   kubeconfig to use (default: $KUBECONFIG, else ~/.kube/config)\n"
      "  --context NAME      kubeconfig context to use\n"
      "  -n, --namespace NS  namespace (default: the context's namespace)\n";
  if (!topic.empty()) {
    auto it = commands().find(topic);
    if (it != commands().end())
      return "Usage: virtctl " + it->second.synopsis + "\n\n" + globals;
  }
  std::string out =
      "virtctl controls virtual machine related operations on your kubernetes cluster.\n\n"
      "Usage: virtctl COMMAND [flags]\n\nCommands:\n";
  for (const auto& [name, spec] : commands()) {
    std::string line = spec.synopsis.substr(0, spec.synopsis.find('\n'));
    out += "  " + line + "\n";
  }
  out += "\n" + globals + "\nUse \"virtctl help COMMAND\" for more about a command.\n";
  return out;
}

}  // namespace kv::virtctl
