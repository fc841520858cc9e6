#pragma once
// Who is calling: Kubernetes' aggregated-API authentication ("request header" / front proxy).
// kube-apiserver authenticates the user, then calls us over TLS with its front-proxy client
// certificate and the user in X-Remote-User, X-Remote-Group and X-Remote-Extra-<key> headers.
// We believe those headers only when the certificate chains to the requestheader CA and its CN is
// one of requestheader-allowed-names (any CN when that list is empty), as kube-apiserver's own
// request-header authenticator does. The settings come from the ConfigMap
// kube-system/extension-apiserver-authentication (kube-apiserver keeps it current).

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "api/server/status.hpp"
#include "core/json.hpp"
#include "core/result.hpp"

namespace kv::apiserver {

inline constexpr const char* kAuthConfigMapNamespace = "kube-system";
inline constexpr const char* kAuthConfigMapName = "extension-apiserver-authentication";

struct RequestHeaderConfig {
  std::string client_ca_pem;               // requestheader-client-ca-file
  std::vector<std::string> allowed_names;  // requestheader-allowed-names; empty: any CN
  std::vector<std::string> username_headers{"X-Remote-User"};
  std::vector<std::string> group_headers{"X-Remote-Group"};
  std::vector<std::string> extra_prefixes{"X-Remote-Extra-"};
  bool operator==(const RequestHeaderConfig&) const = default;
};

// Reads the ConfigMap's data (the list keys hold JSON arrays, as kube-apiserver writes them).
// Errc::not_found when it has no requestheader-client-ca-file (front proxy not configured);
// Errc::invalid naming the key when a value is malformed.
core::Result<RequestHeaderConfig> request_header_config_from(const core::json::Value& configmap);

// The TLS peer, as checked against the requestheader CA.
struct Peer {
  bool verified = false;    // presented a certificate that chains to the requestheader CA
  std::string common_name;  // its subject CN (when verified)
  std::string error;        // why not verified ("no client certificate", ...)
};

// Verifies a client certificate (PEM) and its intermediates against ca_pem; returns the CN.
core::Result<std::string> verify_client_certificate(const std::string& ca_pem,
                                                    const std::string& cert_pem,
                                                    const std::vector<std::string>& chain_pem);

struct UserInfo {
  std::string name;
  std::vector<std::string> groups;
  std::map<std::string, std::vector<std::string>> extra;
  bool operator==(const UserInfo&) const = default;
};

using Headers = std::vector<std::pair<std::string, std::string>>;

// The user of an aggregated-API request, or 401 saying why not. require_user: an empty user
// header is an error (actions); discovery and health checks pass with the certificate alone.
std::variant<UserInfo, ApiError> authenticate(const RequestHeaderConfig& config, const Peer& peer,
                                              const Headers& headers, bool require_user);

}  // namespace kv::apiserver
