// `virtctl scp`: upstream's local-ssh mode with the system's scp.
#include "tools/virtctl/portforward.hpp"

namespace kv::virtctl {

using core::Errc;
using core::Error;
using core::Result;

Result<ScpArgs> parse_scp_args(std::string_view source, std::string_view destination) {
  const bool src_remote = source.find(':') != std::string_view::npos;
  const bool dst_remote = destination.find(':') != std::string_view::npos;
  const std::string quoted =
      "\"" + std::string(source) + "\" to \"" + std::string(destination) + "\"";
  if (src_remote && dst_remote)
    return Error(
        Errc::invalid,
        "copying from a remote location to another remote location is not supported: " + quoted);
  if (!src_remote && !dst_remote)
    return Error(Errc::invalid,
                 "none of the two provided locations seems to be a remote location: " + quoted);
  ScpArgs a;
  a.to_remote = dst_remote;
  std::string_view remote = a.to_remote ? destination : source;
  a.local_path = std::string(a.to_remote ? source : destination);
  const auto colon = remote.find(':');
  a.remote_path = std::string(remote.substr(colon + 1));
  auto t = parse_ssh_target(remote.substr(0, colon));
  if (!t.ok())
    return t.error();
  a.remote = std::move(*t);
  return a;
}

std::vector<std::string> scp_command(const std::string& ns, const RemoteOptions& opts,
                                     const LocalClient& self) {
  std::vector<std::string> argv = {"scp"};
  for (auto& a : local_client_options(ns, opts, self))
    argv.push_back(std::move(a));
  if (opts.recursive)
    argv.push_back("-r");
  if (opts.preserve)
    argv.push_back("-p");
  const std::string remote = ssh_host(ns, opts) + ":" + opts.scp.remote_path;
  if (opts.scp.to_remote) {
    argv.push_back(opts.scp.local_path);
    argv.push_back(remote);
  } else {
    argv.push_back(remote);
    argv.push_back(opts.scp.local_path);
  }
  return argv;
}

}  // namespace kv::virtctl
