#pragma once
// virt-api's paths, as a pure function from (method, target) to what to do.
//
//   GET  /healthz, /metrics
//   GET  /apis, /apis/subresources.kubevirt.io, /apis/subresources.kubevirt.io/v1   discovery
//   GET  /apis/subresources.kubevirt.io/v1/{version,healthz}
//   PUT
//   /apis/subresources.kubevirt.io/v1/namespaces/{ns}/virtualmachines/{name}/{start,stop,restart}
//   PUT  .../namespaces/{ns}/virtualmachines/{name}/migrate
//   PUT  .../namespaces/{ns}/virtualmachineinstances/{name}/{pause,unpause,softreboot}
//   GET  .../namespaces/{ns}/virtualmachineinstances/{name}/{console,vnc}          WebSocket
//   GET  .../{virtualmachineinstances,virtualmachines}/{name}/portforward/{port}[/{proto}] WS
//   POST /virtualmachines-validate, /virtualmachineinstances-validate, /virtualmachines-mutate
//   POST /virtualmachinereplicaset-validate, /virtualmachinepool-validate
//   POST /migration-mutate-create, /migration-validate-create, /migration-validate-update

#include <string>
#include <string_view>
#include <vector>

namespace kv::apiserver {

inline constexpr const char* kGroup = "subresources.kubevirt.io";
inline constexpr const char* kVersion = "v1";
inline constexpr const char* kGroupVersion = "subresources.kubevirt.io/v1";

enum class RouteKind {
  healthz,
  metrics,
  group_list,     // /apis
  group,          // /apis/subresources.kubevirt.io
  resource_list,  // /apis/subresources.kubevirt.io/v1
  version,
  vm_action,     // start, stop, restart
  vm_migrate,    // migrate: creates a VirtualMachineInstanceMigration (migrate.hpp)
  vmi_action,    // pause, unpause, softreboot
  vmi_stream,    // console, vnc
  port_forward,  // portforward/{port}[/{tcp|udp}] of a VMI or VM (portforward.hpp)
  validate_vm,
  validate_vmi,
  mutate_vm,
  mutate_vmi,
  validate_vmirs,   // VirtualMachineInstanceReplicaSet
  validate_vmpool,  // VirtualMachinePool
  mutate_vmim,      // VirtualMachineInstanceMigration, CREATE
  validate_vmim_create,
  validate_vmim_update,
  not_found,  // `error` says what is served
  method_not_allowed,
};

struct Route {
  RouteKind kind = RouteKind::not_found;
  std::string ns, name, action;
  std::string error;  // for not_found / method_not_allowed: a message for the user
  // The resource the action is on ("virtualmachines", "virtualmachineinstances"), for authz.
  std::string resource;
  // Whether the caller must be an authenticated front-proxy user (aggregated API) and be
  // authorized by a SubjectAccessReview (only the actions).
  bool needs_front_proxy() const {
    return kind == RouteKind::group_list || kind == RouteKind::group ||
           kind == RouteKind::resource_list || kind == RouteKind::version ||
           kind == RouteKind::vm_action || kind == RouteKind::vm_migrate ||
           kind == RouteKind::vmi_action || kind == RouteKind::vmi_stream ||
           kind == RouteKind::port_forward;
  }
  bool needs_authorization() const {
    return kind == RouteKind::vm_action || kind == RouteKind::vm_migrate ||
           kind == RouteKind::vmi_action || kind == RouteKind::vmi_stream ||
           kind == RouteKind::port_forward;
  }
  // The Kubernetes verb of this request for a SubjectAccessReview ("get", "update", ...).
  std::string verb;
  // port_forward: the guest's port and "tcp" or "udp".
  int port = 0;
  std::string protocol;
};

// `method` as Beast spells it ("GET", "PUT", ...); `target` may carry a query string.
// The non-empty segments of a URL path ("/a//b/" -> a, b).
std::vector<std::string_view> split_path(std::string_view path);

Route route(std::string_view method, std::string_view target);

}  // namespace kv::apiserver
