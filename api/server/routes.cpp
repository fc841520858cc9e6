#include "api/server/routes.hpp"

#include "api/server/portforward.hpp"

#include <vector>

namespace kv::apiserver {
std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> parts;
  while (!path.empty()) {
    if (path.front() == '/') {
      path.remove_prefix(1);
      continue;
    }
    auto slash = path.find('/');
    parts.push_back(path.substr(0, slash));
    path = slash == std::string_view::npos ? std::string_view{} : path.substr(slash);
  }
  return parts;
}

namespace {

Route fixed(RouteKind k) {
  Route r;
  r.kind = k;
  return r;
}

Route missing(std::string_view path) {
  Route r;
  r.kind = RouteKind::not_found;
  r.error = "the server could not find the requested resource: " + std::string(path) +
            " (served under /apis/subresources.kubevirt.io/v1: "
            "namespaces/{ns}/virtualmachines/{name}/{start,stop,restart,migrate}, "
            "namespaces/{ns}/virtualmachineinstances/{name}/"
            "{console,vnc,pause,unpause,softreboot}, "
            "namespaces/{ns}/{virtualmachines,virtualmachineinstances}/{name}/portforward/{port}, "
            "version, healthz)";
  return r;
}

Route wrong_method(std::string_view method, std::string_view path, std::string_view allowed) {
  Route r;
  r.kind = RouteKind::method_not_allowed;
  r.error = std::string(method) + " is not allowed on " + std::string(path) +
            " (allowed: " + std::string(allowed) + ")";
  return r;
}

}  // namespace

Route route(std::string_view method, std::string_view target) {
  std::string_view path = target.substr(0, target.find('?'));
  const bool get = method == "GET";
  const auto parts = split_path(path);

  // Plain paths first.
  struct Fixed {
    std::string_view path;
    RouteKind kind;
    std::string_view method;
  };
  static const Fixed fixed_routes[] = {
      {"/healthz", RouteKind::healthz, "GET"},
      {"/metrics", RouteKind::metrics, "GET"},
      {"/apis", RouteKind::group_list, "GET"},
      {"/apis/subresources.kubevirt.io", RouteKind::group, "GET"},
      {"/apis/subresources.kubevirt.io/v1", RouteKind::resource_list, "GET"},
      {"/apis/subresources.kubevirt.io/v1/version", RouteKind::version, "GET"},
      {"/apis/subresources.kubevirt.io/v1/healthz", RouteKind::healthz, "GET"},
      {"/virtualmachines-validate", RouteKind::validate_vm, "POST"},
      {"/virtualmachineinstances-validate", RouteKind::validate_vmi, "POST"},
      {"/virtualmachines-mutate", RouteKind::mutate_vm, "POST"},
      {"/virtualmachineinstances-mutate", RouteKind::mutate_vmi, "POST"},
      {"/virtualmachinereplicaset-validate", RouteKind::validate_vmirs, "POST"},
      {"/virtualmachinepool-validate", RouteKind::validate_vmpool, "POST"},
      {"/migration-mutate-create", RouteKind::mutate_vmim, "POST"},
      {"/migration-validate-create", RouteKind::validate_vmim_create, "POST"},
      {"/migration-validate-update", RouteKind::validate_vmim_update, "POST"},
  };
  std::string_view trimmed = path;
  while (trimmed.size() > 1 && trimmed.back() == '/')
    trimmed.remove_suffix(1);
  for (const auto& f : fixed_routes)
    if (trimmed == f.path) {
      if (method != f.method)
        return wrong_method(method, path, f.method);
      return fixed(f.kind);
    }

  if (auto pf = port_forward_route(method, path))
    return *pf;
  // /apis/subresources.kubevirt.io/v1/namespaces/{ns}/{resource}/{name}/{action}
  if (parts.size() != 8 || parts[0] != "apis" || parts[1] != kGroup || parts[2] != kVersion ||
      parts[3] != "namespaces")
    return missing(path);
  Route r;
  r.ns = std::string(parts[4]);
  r.resource = std::string(parts[5]);
  r.name = std::string(parts[6]);
  r.action = std::string(parts[7]);
  const std::string_view a = parts[7];
  if (parts[5] == "virtualmachines") {
    if (a != "start" && a != "stop" && a != "restart" && a != "migrate")
      return missing(path);
    if (method != "PUT")
      return wrong_method(method, path, "PUT");
    r.kind = a == "migrate" ? RouteKind::vm_migrate : RouteKind::vm_action;
    r.verb = "update";
    return r;
  }
  if (parts[5] != "virtualmachineinstances")
    return missing(path);
  if (a == "console" || a == "vnc") {
    if (!get)
      return wrong_method(method, path, "GET with a WebSocket upgrade");
    r.kind = RouteKind::vmi_stream;
    r.verb = "get";
    return r;
  }
  if (a == "pause" || a == "unpause" || a == "softreboot") {
    if (method != "PUT")
      return wrong_method(method, path, "PUT");
    r.kind = RouteKind::vmi_action;
    r.verb = "update";
    return r;
  }
  return missing(path);
}

}  // namespace kv::apiserver
