#include "tools/virtctl/virtctl.hpp"

#include <ostream>

#include "core/kube/client.hpp"
#include "core/kube/kubeconfig.hpp"
#include "core/kube/websocket.hpp"
#include "tools/virtctl/args.hpp"
#include "tools/virtctl/commands.hpp"
#include "tools/virtctl/portforward.hpp"
#include "tools/virtctl/stream.hpp"

namespace kv::virtctl {

namespace {

core::Result<core::kube::RestConfig> load_config(const GlobalOptions& g) {
  core::kube::KubeconfigOptions o;
  o.path = g.kubeconfig;
  o.context = g.context;
  auto c = core::kube::load_default(o);
  if (!c.ok())
    return c;
  c->user_agent = "virtctl";
  if (!g.ns.empty())
    c->ns = g.ns;
  return c;
}

Dialer websocket_dialer(const core::kube::RestConfig& config) {
  return [config](
             const std::string& path) -> core::Result<std::unique_ptr<core::kube::MessageStream>> {
    core::kube::WebSocketRequest req;
    req.path = path;
    auto ws = core::kube::WebSocket::dial(config, req);
    if (!ws.ok())
      return ws.error();
    return std::unique_ptr<core::kube::MessageStream>(std::move(*ws));
  };
}

}  // namespace

int run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
        const std::string& program) {
  auto inv = parse_args(args, program);
  if (!inv.ok()) {
    err << "error: " << inv.error().message << "\n";
    if (inv.error().code == core::Errc::invalid)
      err << "See '" << program << " help' for usage.\n";
    return 1;
  }
  if (inv->command == Command::help) {
    out << usage(inv->help_topic, program);
    return 0;
  }
  // Prints a manifest; needs no cluster (-n only sets metadata.namespace, as upstream).
  if (inv->command == Command::create)
    return run_create(inv->create, inv->global.ns, out, err);

  auto config = load_config(inv->global);
  if (inv->command == Command::version) {
    if (!config.ok())
      return run_version(nullptr, config.error().message, out, err);
    auto client = core::kube::make_client(*config);
    if (!client.ok())
      return run_version(nullptr, client.error().message, out, err);
    return run_version(client->get(), "", out, err);
  }
  if (!config.ok()) {
    err << "error: " << config.error().message << "\n";
    return 1;
  }
  const std::string ns = config->ns.empty() ? "default" : config->ns;

  switch (inv->command) {
    case Command::console: {
      auto client = core::kube::make_client(*config);
      if (!client.ok()) {
        err << "error: " << client.error().message << "\n";
        return 1;
      }
      SignalPipe signals;
      ConsoleOptions opts;
      opts.ns = ns;
      opts.name = inv->name;
      opts.timeout = inv->timeout;
      out.flush();
      return run_console(**client, websocket_dialer(*config), opts, signals, err);
    }
    case Command::vnc: {
      SignalPipe signals;
      VncOptions opts;
      opts.ns = ns;
      opts.name = inv->name;
      opts.address = inv->address;
      opts.port = inv->port;
      opts.on_listening = [&out](int port) {
        out << "{\"port\":" << port << "}" << std::endl;  // viewers wait for this line
      };
      return run_vnc(websocket_dialer(*config), opts, signals, err);
    }
    case Command::port_forward: {
      SignalPipe signals;
      return run_port_forward(websocket_dialer(*config),
                              inv->remote.target.ns.empty() ? ns : inv->remote.target.ns,
                              inv->remote, signals, {}, err);
    }
    case Command::ssh:
    case Command::scp: {
      LocalClient lc{virtctl_path(), inv->global.kubeconfig, inv->global.context};
      return run_local_client(inv->command == Command::ssh ? ssh_command(ns, inv->remote, lc)
                                                           : scp_command(ns, inv->remote, lc),
                              err);
    }
    default: {
      auto client = core::kube::make_client(*config);
      if (!client.ok()) {
        err << "error: " << client.error().message << "\n";
        return 1;
      }
      if (inv->command == Command::expose)
        return run_expose(**client, inv->expose, ns, out, err);
      if (inv->command == Command::migrate_cancel)
        return run_migrate_cancel(**client, *inv, ns, out, err);
      return run_lifecycle(**client, lifecycle_call(*inv, ns), out, err);
    }
  }
}

}  // namespace kv::virtctl
