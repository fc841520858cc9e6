#pragma once
// `virtctl port-forward`, `virtctl ssh` and `virtctl scp`, as upstream's pkg/virtctl/portforward,
// ssh and scp (local-ssh mode: the system's OpenSSH client, with this virtctl's
// `port-forward --stdio` as its ProxyCommand). docs/virtctl.md "port-forward, ssh, scp".
//
//   port-forward TYPE/NAME[/NAMESPACE] [PROTOCOL/]LOCAL[:REMOTE]...   [--address A] [--stdio]
//   ssh [USER@]TYPE/NAME[/NAMESPACE] [-l USER] [-i KEY] [-p PORT] [-c COMMAND]
//       [-t|--local-ssh-opts OPT]... [--known-hosts FILE]
//   scp [-r] [--preserve] SRC DST     (one of them [USER@]TYPE/NAME[/NAMESPACE]:PATH)
//
// TYPE: vm, vms, virtualmachine, virtualmachines, vmi, vmis, virtualmachineinstance,
// virtualmachineinstances (any case). PROTOCOL: tcp (default) or udp.

#include <functional>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

#include "core/flags.hpp"
#include "core/kube/websocket.hpp"
#include "core/result.hpp"

namespace kv::virtctl {

// As in stream.hpp (not included: args.hpp includes this header, and stream.hpp args.hpp).
class SignalPipe;
using Dialer = std::function<core::Result<std::unique_ptr<core::kube::MessageStream>>(
    const std::string& path)>;

// What a TYPE/NAME[/NAMESPACE] argument names.
struct RemoteTarget {
  std::string kind;  // "vm" or "vmi"
  std::string ns;    // empty: -n or the context's namespace
  std::string name;
  std::string user;  // ssh/scp: before '@'; empty when not given
  bool operator==(const RemoteTarget&) const = default;
};

// upstream portforward.ParseTarget: TYPE/NAME[/NAMESPACE]. Errors are upstream's words
// ("target must contain type and name separated by '/'", "unsupported resource type 'x'", ...).
core::Result<RemoteTarget> parse_target(std::string_view arg);
// upstream ssh.ParseTarget: [USER@]TYPE/NAME[/NAMESPACE].
core::Result<RemoteTarget> parse_ssh_target(std::string_view arg);

struct ForwardedPort {
  int local = 0;
  int remote = 0;
  std::string protocol = "tcp";
  bool operator==(const ForwardedPort&) const = default;
};

// upstream parsePort: [PROTOCOL/]LOCAL[:REMOTE] (REMOTE defaults to LOCAL). Ports must be numbers;
// LOCAL may be 0 (any free port), REMOTE is 1-65535; PROTOCOL tcp or udp.
core::Result<ForwardedPort> parse_port(std::string_view arg);

struct ScpArgs {
  RemoteTarget remote;
  std::string remote_path, local_path;
  bool to_remote = false;
  bool operator==(const ScpArgs&) const = default;
};
// upstream scp.ParseTarget: exactly one of the two has a ':' (the remote one).
core::Result<ScpArgs> parse_scp_args(std::string_view source, std::string_view destination);

struct RemoteOptions {
  RemoteTarget target;
  // port-forward
  std::vector<ForwardedPort> ports;
  bool stdio = false;
  std::string address = "127.0.0.1";
  // ssh and scp
  int ssh_port = 22;
  std::string username;  // -l; "$USER" (else $USERNAME, $LOGNAME) when not given, as upstream
  std::string identity_file;
  std::string known_hosts;
  std::vector<std::string> local_ssh_opts;
  std::string command;  // ssh -c
  bool recursive = false, preserve = false;
  ScpArgs scp;
};

// Registers the three commands and their flags on virtctl's command line.
void add_remote_commands(core::Flags& flags, RemoteOptions* o);
// Checks the positional arguments of `command` ("port-forward", "ssh", "scp") into *o.
core::Status finish_remote_args(const std::string& command, const std::vector<std::string>& args,
                                RemoteOptions* o);

// ".../namespaces/NS/virtualmachines/NAME/portforward/PORT/PROTOCOL" (virtualmachineinstances for
// kind vmi).
std::string port_forward_path(const std::string& ns, const RemoteTarget& t, int port,
                              const std::string& protocol);

// `virtctl port-forward`: with stdio, one connection on stdin/stdout; else listens on
// opts.address for each port and forwards every connection (TCP) or client (UDP) over its own
// stream until a signal. on_listening(protocol, address, local port, remote port) runs per
// listener once it is bound. Returns the exit status; messages go to err.
struct PortForwardIo {
  int in_fd = 0, out_fd = 1;
  std::function<void(const ForwardedPort& bound)> on_listening;
};
int run_port_forward(const Dialer& dial, const std::string& ns, const RemoteOptions& opts,
                     const SignalPipe& signals, const PortForwardIo& io, std::ostream& err);

// What virtctl runs for `ssh` and `scp`: the program ("ssh" or "scp") and its arguments, built as
// upstream's LocalClientCmd: -o ProxyCommand=<self> port-forward --stdio=true KIND/NAME/NS PORT
// (with this invocation's --kubeconfig/--context), the --local-ssh-opts, -i KEY when given,
// then the target (USER@KIND.NAME.NS, which also names the host key in known_hosts).
struct LocalClient {
  std::string self;  // this virtctl's path, for the ProxyCommand
  std::string kubeconfig, context;
};
// This process's executable (/proc/self/exe), else "virtctl".
std::string virtctl_path();
// `ns` is the namespace when the target names none (-n, the context's).
// The ssh/scp options before the target: -o ProxyCommand=..., -o UserKnownHostsFile=FILE with
// --known-hosts, the --local-ssh-opts ("-o X=Y" split into two words), -i KEY when given.
std::vector<std::string> local_client_options(const std::string& ns, const RemoteOptions& opts,
                                              const LocalClient& self);
// [USER@]KIND.NAME.NAMESPACE: the host ssh sees (never resolved: the ProxyCommand connects).
std::string ssh_host(const std::string& ns, const RemoteOptions& opts);
std::vector<std::string> ssh_command(const std::string& ns, const RemoteOptions& opts,
                                     const LocalClient& self);
std::vector<std::string> scp_command(const std::string& ns, const RemoteOptions& opts,
                                     const LocalClient& self);

// Runs argv (searched on PATH) with our stdin/stdout/stderr and returns its exit status (127 when
// it cannot be started, with a message on err).
int run_local_client(const std::vector<std::string>& argv, std::ostream& err);

}  // namespace kv::virtctl
