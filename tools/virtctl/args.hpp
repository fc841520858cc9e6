#pragma once
// virtctl's command line, parsed into an Invocation by a pure function over core/flags (which
// also generates the usage). Names, flags and arity follow upstream virtctl (cobra): global flags
// anywhere, `--flag value`, `--flag=value`, `-n value`; boolean flags bare or `--flag=true|false`.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "tools/virtctl/create.hpp"
#include "tools/virtctl/expose.hpp"
#include "tools/virtctl/portforward.hpp"

namespace kv::virtctl {

enum class Command {
  help,
  version,
  start,
  stop,
  restart,
  pause,
  unpause,
  soft_reboot,
  console,
  vnc,
  create,  // create vm|instancetype|preference: Invocation::create says which
  expose,
  port_forward,
  ssh,
  scp,
  migrate,         // PUT .../virtualmachines/VM/migrate
  migrate_cancel,  // deletes the VM's migration in flight
};

struct GlobalOptions {
  std::string kubeconfig;  // --kubeconfig: this file alone, as kubectl
  std::string context;     // --context
  std::string ns;          // -n/--namespace; empty: the context's namespace
};

struct Invocation {
  Command command = Command::help;
  GlobalOptions global;
  std::string help_topic;  // `virtctl help stop`, `virtctl stop --help`: "stop"
  std::string name;        // the VM or VMI
  bool vmi = false;        // pause/unpause: `vmi NAME` (true) or `vm NAME`
  // start
  bool paused = false;
  // start, stop, restart, pause, unpause, migrate, migrate-cancel
  bool dry_run = false;
  // migrate --addedNodeSelector k=v,k2=v2 (repeatable; later keys win)
  std::map<std::string, std::string> added_node_selector;
  // stop, restart: both or neither, as upstream
  bool force = false;
  std::optional<int64_t> grace_period;
  // console: how long to wait for the VMI to be Running (upstream: minutes, default 5)
  std::chrono::seconds timeout{300};
  // vnc
  bool proxy_only = false;
  int port = 0;
  std::string address = "127.0.0.1";
  // create
  CreateOptions create;
  ExposeOptions expose;
  // port-forward, ssh, scp
  RemoteOptions remote;
};

// Parses argv[1..] (without the program name). Errc::invalid with a message naming the argument
// or flag and what is allowed; Errc::unsupported for a flag of a field this add-on does not serve.
// program: how the user called us ("virtctl", or "kubectl virt" as a kubectl plugin), for errors.
core::Result<Invocation> parse_args(const std::vector<std::string>& args,
                                    const std::string& program = "virtctl");

// A `k=v,k2=v2` flag value (cobra's StringToString) merged into *out; an item without '=' is
// Errc::invalid naming the flag.
core::Status parse_string_to_string(const std::string& flag, const std::string& value,
                                    std::map<std::string, std::string>* out);

// Upstream's --timeout is whole minutes ("5"); we also take "90s", "2m", "1h" for scripts.
core::Result<std::chrono::seconds> parse_console_timeout(const std::string& value);

// The usage text for the whole tool (topic "") or one command ("stop", "create", "create vm").
std::string usage(const std::string& topic, const std::string& program = "virtctl");

// The name to show in usage texts for argv[0]'s base name: "kubectl virt" for the kubectl
// plugin "kubectl-virt" (any "X-virt": "X virt", as upstream), else "virtctl".
std::string program_name(const std::string& argv0);

}  // namespace kv::virtctl
