#pragma once
// The cluster's TLS without an operator (docs/handler.md "Certificates"). Upstream KubeVirt's
// virt-operator keeps a CA and per-component certificates in Secrets and injects the CA into the
// APIService and webhook configurations; here virt-api does that at startup
// (ensure_certificates + inject_ca_bundle); virt-api and virt-handler follow their certificate
// Secrets with a SecretWatch (cert_watch.hpp).
//
// Secrets, all in the install namespace and labelled app.kubernetes.io/part-of=kubevirt-cpp:
//   kubevirt-ca         Opaque             ca.crt, ca.key
//   virt-api-certs      kubernetes.io/tls  tls.crt, tls.key, ca.crt   CN virt-api
//   virt-handler-certs  kubernetes.io/tls  tls.crt, tls.key, ca.crt   CN virt-handler
// Both leaves carry serverAuth and clientAuth: virt-api is a server to the API server and a
// client of the handlers; the handler's stream server requires a client certificate from the CA.
//
// Concurrency: several virt-api replicas may run this at once. Creates that lose (AlreadyExists)
// adopt the winner's object; updates carry the resourceVersion read and retry on conflict.
//
// Every call is blocking and may be made from any thread.

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/kube/client.hpp"
#include "core/pki.hpp"
#include "core/result.hpp"

namespace kv::addon {
namespace pki = core::pki;
using core::Result;
using core::Status;
using core::kube::KubeClient;
using core::kube::Resource;

inline constexpr const char* kCaSecretName = "kubevirt-ca";
inline constexpr const char* kApiCertsSecretName = "virt-api-certs";
inline constexpr const char* kHandlerCertsSecretName = "virt-handler-certs";
inline constexpr const char* kPartOfLabel = "app.kubernetes.io/part-of";
inline constexpr const char* kPartOfValue = "kubevirt-cpp";

struct CertificateOptions {
  // Leaves are re-issued when they end within this (and when not signed by the current CA).
  std::chrono::seconds renew_before = pki::Days(30);
  pki::Days leaf_validity = pki::Days(365);
  pki::Days ca_validity = pki::Days(3653);
  pki::Clock::time_point now = pki::Clock::now();
};

// What virt-api serves with and trusts.
struct ApiCertificates {
  std::string cert_pem;  // virt-api's certificate (serverAuth + clientAuth)
  std::string key_pem;
  std::string ca_pem;  // the CA: for the caBundles and to verify virt-handler
};

// The leaf specs for the two components in namespace `ns` (pure; exposed for tests and docs).
pki::LeafSpec api_leaf_spec(std::string_view ns, pki::Days validity = pki::Days(365));
pki::LeafSpec handler_leaf_spec(std::string_view ns, pki::Days validity = pki::Days(365));

// Why an existing leaf Secret must be re-issued, or nullopt when it is good: it lacks a key,
// does not parse, is not signed by `ca_pem`, carries another CA in ca.crt, has a key that does
// not match, names other SANs than `spec`, or ends within `renew_before` of `now`.
// `data` is the Secret's data, already base64-decoded.
std::optional<std::string> leaf_needs_reissue(const std::map<std::string, std::string>& data,
                                              const std::string& ca_pem, const pki::LeafSpec& spec,
                                              pki::Clock::time_point now,
                                              std::chrono::seconds renew_before);

// Makes sure the three Secrets exist and are current (see the top of this file), creating the
// CA on first run and re-issuing leaves as leaf_needs_reissue says. A CA Secret that is unusable
// (a missing key, bad PEM, a key of another certificate) or ends within renew_before is replaced,
// which re-issues both leaves. Errors: the API's (Errc::unauthorized without RBAC on Secrets),
// Errc::conflict after repeated lost races.
Result<ApiCertificates> ensure_certificates(KubeClient& client, std::string_view ns,
                                            const CertificateOptions& opts = {});

// The objects that carry a caBundle.
Resource api_service_resource();
Resource validating_webhook_configuration_resource();
Resource mutating_webhook_configuration_resource();

struct CaBundleReport {
  std::vector<std::string> patched;    // "APIService/v1.subresources.kubevirt.io", ...
  std::vector<std::string> unchanged;  // already carried the CA
  std::vector<std::string> missing;    // not found: not fatal (a manifest not applied yet)
};

// Sets spec.caBundle of the APIService `apiservice_name` (skipped when empty) and
// webhooks[*].clientConfig.caBundle of each named Validating/MutatingWebhookConfiguration to
// base64(ca_pem), writing only objects that differ. Errors: anything but not_found from the API
// (a missing object lands in the report), and Errc::conflict after repeated lost races.
Result<CaBundleReport> inject_ca_bundle(
    KubeClient& client, std::string_view ca_pem, std::string_view apiservice_name,
    const std::vector<std::string>& validating_webhook_config_names,
    const std::vector<std::string>& mutating_webhook_config_names);

// A Secret's data, base64-decoded. Errc::parse names the key whose value is not base64.
Result<std::map<std::string, std::string>> decode_secret_data(const core::json::Value& secret);

}  // namespace kv::addon
