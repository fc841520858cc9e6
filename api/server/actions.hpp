#pragma once
// The blocking parts of virt-api's requests, each a function of the KubeClient seam (run on the
// server's worker pool; unit-tested with a fake client):
//   authorize       a SubjectAccessReview for the user on the subresource
//   vm_action       start/stop/restart: read VM + VMI, decide (lifecycle.hpp), patch, retry
//   vm_migrate      migrate: read VM + VMI, decide (migrate.hpp), create the migration
//   locate_handler  the VMI's state for the action, and the virt-handler pod on its node

#include <optional>
#include <string>
#include <variant>

#include "api/server/admission.hpp"
#include "api/server/authn.hpp"
#include "api/server/routes.hpp"
#include "api/server/status.hpp"
#include "core/kube/client.hpp"

namespace kv::apiserver {

// nullopt: allowed. Otherwise 403 naming user, verb, resource/subresource and namespace (or 500
// when the review itself failed).
std::optional<ApiError> authorize(core::kube::KubeClient& client, const UserInfo& user,
                                  const Route& r);

// The HTTP reply to PUT .../virtualmachines/{name}/{start,stop,restart}: 202 with no body, or a
// Status. Re-reads and decides again when a patch loses a race (5 attempts).
// The HTTP reply to PUT .../virtualmachines/{name}/migrate (migrate.hpp): 202 with no body once
// the VirtualMachineInstanceMigration is created (or passed a dry run), or a Status: 404/409 as
// plan_migration decides, the API server's own refusal (a webhook's message) as it gave it.
HttpReply vm_migrate(core::kube::KubeClient& client, const Route& r, const std::string& body);

// Whether obj.status.conditions has one of `type` with status "True" (a VMI's Paused, ...).
bool has_true_condition(const core::json::Value& obj, std::string_view type);

HttpReply vm_action(core::kube::KubeClient& client, const Route& r, const std::string& body);

// The body of PUT .../{pause,unpause,softreboot}: PauseOptions/UnpauseOptions {"dryRun":["All"]}
// or empty. Returns whether it is a dry run (checked, but not sent to the handler), or 400.
std::variant<bool, ApiError> parse_vmi_action_dry_run(const std::string& action,
                                                      std::string_view body);

struct HandlerAddress {
  std::string ip;
  int port = 0;
  std::string node;
  bool operator==(const HandlerAddress&) const = default;
};

// For pause/unpause/softreboot/console/vnc: checks the VMI (404; "VMI is not running" 409 for
// actions, 400 for streams; Paused condition), then finds a Running virt-handler pod with an IP
// on its node (label kubevirt.io=virt-handler in handler_namespace; 503 when there is none).
std::variant<HandlerAddress, ApiError> locate_handler(core::kube::KubeClient& client,
                                                      const Route& r,
                                                      const std::string& handler_namespace,
                                                      int handler_port);

}  // namespace kv::apiserver
