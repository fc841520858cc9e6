#pragma once
// Kubernetes `Status` bodies (meta/v1) for every error virt-api returns, as kube-apiserver and
// upstream virt-api write them, so kubectl and virtctl print the message as-is.

#include <string>
#include <string_view>

#include "core/result.hpp"

namespace kv::apiserver {

// An HTTP error with a Kubernetes reason ("Conflict", "BadRequest", ...).
struct ApiError {
  int code = 500;
  std::string reason;  // metav1.StatusReason
  std::string message;
  bool operator==(const ApiError&) const = default;
};

// upstream errors.NewConflict(resource, name, err): 409, reason Conflict,
// `Operation cannot be fulfilled on <resource>.kubevirt.io "<name>": <why>`.
ApiError conflict(std::string_view resource, std::string_view name, std::string_view why);
ApiError bad_request(std::string message);
ApiError not_found(std::string_view resource, std::string_view name);
ApiError internal_error(std::string_view why);
ApiError unauthorized(std::string message);
ApiError forbidden(std::string message);
// From a client or handler error: its http_status context when present, else by Errc.
ApiError from_error(const core::Error& e);

// The JSON text of a meta/v1 Status with status "Failure".
std::string status_body(const ApiError& e);
// A Status with status "Success" and the given code (200, 202).
std::string success_body(int code);

}  // namespace kv::apiserver
