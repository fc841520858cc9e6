#include "api/server/status.hpp"

#include "core/json.hpp"

namespace kv::apiserver {

ApiError conflict(std::string_view resource, std::string_view name, std::string_view why) {
  return {409, "Conflict",
          "Operation cannot be fulfilled on " + std::string(resource) + ".kubevirt.io \"" +
              std::string(name) + "\": " + std::string(why)};
}

ApiError bad_request(std::string message) {
  return {400, "BadRequest", std::move(message)};
}

ApiError not_found(std::string_view resource, std::string_view name) {
  return {404, "NotFound",
          std::string(resource) + ".kubevirt.io \"" + std::string(name) + "\" not found"};
}

ApiError internal_error(std::string_view why) {
  return {500, "InternalError", "Internal error occurred: " + std::string(why)};
}

ApiError unauthorized(std::string message) {
  return {401, "Unauthorized", std::move(message)};
}

ApiError forbidden(std::string message) {
  return {403, "Forbidden", std::move(message)};
}

ApiError from_error(const core::Error& e) {
  int code = 0;
  if (auto s = e.get("http_status"); !s.empty())
    code = std::atoi(std::string(s).c_str());
  if (code == 0) {
    switch (e.code) {
      case core::Errc::not_found:
        code = 404;
        break;
      case core::Errc::conflict:
      case core::Errc::exists:
        code = 409;
        break;
      case core::Errc::invalid:
      case core::Errc::parse:
        code = 400;
        break;
      case core::Errc::unauthorized:
        code = 403;
        break;
      case core::Errc::unavailable:
        code = 503;
        break;
      case core::Errc::timeout:
        code = 504;
        break;
      default:
        code = 500;
    }
  }
  std::string reason(e.get("reason"));
  if (reason.empty()) {
    switch (code) {
      case 400:
        reason = "BadRequest";
        break;
      case 401:
        reason = "Unauthorized";
        break;
      case 403:
        reason = "Forbidden";
        break;
      case 404:
        reason = "NotFound";
        break;
      case 409:
        reason = "Conflict";
        break;
      case 422:
        reason = "Invalid";
        break;
      case 503:
        reason = "ServiceUnavailable";
        break;
      case 504:
        reason = "Timeout";
        break;
      default:
        reason = "InternalError";
    }
  }
  return {code, reason, e.message};
}

namespace {
std::string body(std::string_view status, int code, std::string_view reason,
                 std::string_view message) {
  core::json::Document d;
  d.SetObject();
  auto& a = d.GetAllocator();
  core::json::set(d, "kind", "Status", a);
  core::json::set(d, "apiVersion", "v1", a);
  d.AddMember("metadata", core::json::Value(rapidjson::kObjectType), a);
  core::json::set(d, "status", status, a);
  if (!message.empty())
    core::json::set(d, "message", message, a);
  if (!reason.empty())
    core::json::set(d, "reason", reason, a);
  d.AddMember("code", code, a);
  return core::json::to_string(d);
}
}  // namespace

std::string status_body(const ApiError& e) {
  return body("Failure", e.code, e.reason, e.message);
}

std::string success_body(int code) {
  return body("Success", code, "", "");
}

}  // namespace kv::apiserver
