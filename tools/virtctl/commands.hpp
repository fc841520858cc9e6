#pragma once
// The REST side of virtctl: the subresource requests of start/stop/restart/pause/unpause/
// soft-reboot/migrate (built by a pure function, sent through KubeClient::raw), migrate-cancel
// (through the KubeClient) and `version`.

#include <iosfwd>
#include <string>

#include "core/kube/client.hpp"
#include "core/result.hpp"
#include "tools/virtctl/args.hpp"

namespace kv::virtctl {

inline constexpr const char* kSubresourcesPrefix = "/apis/subresources.kubevirt.io/v1";

// One PUT on a subresource, and what to tell the user about it.
struct SubresourceCall {
  std::string method = "PUT";
  std::string path;  // "/apis/subresources.kubevirt.io/v1/namespaces/ns/virtualmachines/vm/start"
  std::string body;  // StartOptions, StopOptions, RestartOptions, PauseOptions, UnpauseOptions
  std::string success;       // "VM vm1 was scheduled to start"
  std::string error_prefix;  // "Error starting VirtualMachine"
};

// Pure. inv.command must be start, stop, restart, pause, unpause, soft_reboot or migrate.
SubresourceCall lifecycle_call(const Invocation& inv, const std::string& ns);

// "/apis/subresources.kubevirt.io/v1/namespaces/ns/virtualmachineinstances/name/{console,vnc}"
std::string stream_path(const std::string& ns, const std::string& name, const std::string& what);

// Sends the call; prints the success line on out, or "<error_prefix>: <Status message>" on err.
// Returns the exit status (0 or 1).
int run_lifecycle(core::kube::KubeClient& client, const SubresourceCall& call, std::ostream& out,
                  std::ostream& err);

// virtctl migrate-cancel VM, as upstream: lists the VM's migrations by their label
// kubevirt.io/vmi-name, deletes the first that is neither Succeeded nor Failed (with --dry-run as
// a dry run) and prints "VM <name> was scheduled to migrate-cancel"; with none in flight, prints
// "Found no migration to cancel for <name>" on err. Returns the exit status.
int run_migrate_cancel(core::kube::KubeClient& client, const Invocation& inv, const std::string& ns,
                       std::ostream& out, std::ostream& err);

// "Client Version: ..." then "Server Version: ..." from GET .../version; when the server cannot
// be asked (client == nullptr: no usable kubeconfig, config_error says why) or answers with an
// error, prints the client line and the error, and returns 1.
int run_version(core::kube::KubeClient* client, const std::string& config_error, std::ostream& out,
                std::ostream& err);

// The "Client Version: version.Info{...}" line (the meson project version).
std::string client_version_line();

}  // namespace kv::virtctl
