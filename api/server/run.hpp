#pragma once
// virt-api's process: Options (from flags, or from the lead's wiring with PEMs read from
// Secrets) -> a running Server until SIGTERM/SIGINT.

#include <string>
#include <vector>

#include "api/server/server.hpp"
#include "core/result.hpp"

namespace kv::apiserver {

struct Options {
  std::string kubeconfig;  // empty: $KUBECONFIG, in-cluster, ~/.kube/config
  std::string listen_address = "0.0.0.0";
  int port = 8443;
  // Files win; the PEM strings are used when the corresponding file is empty.
  std::string tls_cert_file, tls_key_file;
  std::string client_cert_file, client_key_file, ca_file;
  std::string cert_pem, key_pem, client_cert_pem, client_key_pem, ca_pem;
  int handler_port = 8186;
  std::string handler_namespace = "kubevirt";
  std::string handler_server_name = "virt-handler.kubevirt.svc";
  std::string log_level = "info";
  int auth_refresh_seconds = 30;  // re-read extension-apiserver-authentication this often
  // Where the add-on's certificates live (addon/cert_secrets.hpp). When set and no serving
  // certificate is given, virt-api makes or loads them there at start and keeps the CA in the
  // APIService and the webhook configurations below. Empty: certificates come from the flags.
  std::string certs_namespace;
  std::string apiservice_name = "v1.subresources.kubevirt.io";
  std::vector<std::string> validating_webhook_configs = {"virt-api-validator"};
  std::vector<std::string> mutating_webhook_configs = {"virt-api-mutator"};
};

// Reads the file flags into PEM strings (files win over the PEM fields); errors name the flag.
// certs_to_come: the serving certificate is not required yet (it will come from the cluster).
core::Result<ServerConfig> server_config_from(const Options& opts, bool certs_to_come = false);

// Re-reads kube-system/extension-apiserver-authentication into the server. Logs and keeps the
// previous settings when the read fails.
core::Status refresh_request_header_config(core::kube::KubeClient& client, Server& server);

// With opts.certs_namespace set and no serving certificate given: the certificates from that
// namespace's Secrets (made when missing), filled into `opts`. Otherwise `opts` unchanged.
core::Result<Options> with_cluster_certificates(core::kube::KubeClient& client, Options opts);

// Puts the CA into the APIService and webhook configurations of `opts` where it is missing
// (cheap when it is there: reads only). Logs what it patched or could not find.
core::Status keep_ca_bundles(core::kube::KubeClient& client, const Options& opts);

// Runs until SIGTERM or SIGINT; returns the process exit code.
int run(const Options& opts);

}  // namespace kv::apiserver
