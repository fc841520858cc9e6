#pragma once
// Where the API server is and how to authenticate to it: kubeconfig files (merged like kubectl),
// in-cluster service-account config, and exec credential plugins.
//
// Loading is eager and strict: every path is read, every base64 field decoded and every PEM parsed
// at load time, so a broken kubeconfig fails at start-up with a message that names the file and
// the field, never at the first request.

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "core/encoding.hpp"
#include "core/result.hpp"

namespace kv::core::kube {

// users[].user.exec of a kubeconfig: a command that prints an ExecCredential.
struct ExecConfig {
  std::string command;
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;
  // client.authentication.k8s.io/v1 or v1beta1
  std::string api_version = "client.authentication.k8s.io/v1";
  std::string install_hint;
  // Directory of the kubeconfig that named the command: relative commands ("./bin/x") resolve here.
  std::string base_dir;
};

// What one connection needs; the result of loading any kind of config.
struct RestConfig {
  std::string server;       // "https://host:port" (or http:// for tests)
  std::string server_name;  // TLS server name override (tls-server-name); empty: the host
  std::string ca_pem;       // trusted CA certificates, PEM; empty: the system store
  bool insecure_skip_tls_verify = false;
  std::string client_cert_pem;
  std::string client_key_pem;
  std::string bearer_token;
  std::string token_file;  // re-read whenever the file changes (rotated service-account tokens)
  std::string username, password;  // basic auth (rare; kept for kubeconfig parity)
  std::optional<ExecConfig> exec;
  std::string ns = "default";  // the context's namespace, or the pod's namespace in-cluster
  std::string context;         // the context chosen (empty in-cluster)

  // Client-side limits, as client-go's rest.Config.
  double qps = 50;
  int burst = 100;
  std::chrono::milliseconds timeout{30000};  // per request (not watches)
  std::string user_agent = "kubevirt-cpp";
};

struct KubeconfigOptions {
  // Explicit --kubeconfig: used alone (no merging), as kubectl does.
  std::string path;
  // --context: overrides current-context.
  std::string context;
  // Overrides $KUBECONFIG (tests); nullopt: read the environment.
  std::optional<std::string> kubeconfig_env;
  // Overrides $HOME for ~/.kube/config (tests).
  std::optional<std::string> home;
};

// Loads kubeconfig like kubectl: opts.path alone if set; else every file in $KUBECONFIG
// (':'-separated, missing files skipped, at least one must exist), merged so the first file to set
// a cluster/user/context name or current-context wins; else ~/.kube/config.
// Errors: Errc::not_found for missing files/contexts/clusters/users, Errc::invalid for bad base64,
// PEM, or missing fields; messages name the file and field.
Result<RestConfig> load_kubeconfig(const KubeconfigOptions& opts = {});

// Same, from YAML text already in memory (base_dir resolves relative paths).
Result<RestConfig> kubeconfig_from_yaml(std::string_view yaml_text, const std::string& context,
                                        const std::string& source_name,
                                        const std::string& base_dir);

struct InClusterOptions {
  // Root of the service-account files (tests override).
  std::string sa_dir = "/var/run/secrets/kubernetes.io/serviceaccount";
  // Overrides KUBERNETES_SERVICE_HOST/PORT from the environment (tests).
  std::optional<std::string> host, port;
};

// In-cluster config: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT, the service
// account's CA and token (token re-read when it rotates), the pod's namespace.
// Errc::not_found when not running in a pod.
Result<RestConfig> in_cluster_config(const InClusterOptions& opts = {});

// The usual program start-up: explicit path, else $KUBECONFIG, else in-cluster when
// KUBERNETES_SERVICE_HOST is set, else ~/.kube/config.
Result<RestConfig> load_default(const KubeconfigOptions& opts = {});

// Credentials resolved for one request: refreshed tokens, exec-plugin output.
struct Credentials {
  std::string bearer_token;
  std::string client_cert_pem;
  std::string client_key_pem;
  std::string basic_auth;  // "user:pass", already joined; empty: none
};

// Produces current credentials for a RestConfig: caches exec plugin output until its
// expirationTimestamp, re-reads the token file when it changes. Thread-safe.
class CredentialSource {
 public:
  explicit CredentialSource(RestConfig config);
  Result<Credentials> get();
  // After a 401: drop cached exec output / token so the next get() refreshes.
  void invalidate();

 private:
  Status refresh_token_file_locked();
  Status run_exec_locked();

  RestConfig config_;
  std::mutex mu_;
  Credentials cached_;
  // token file identity at the last read: (inode, mtime ns, size)
  std::tuple<unsigned long, long long, long long> token_stamp_{0, 0, -1};
  std::optional<std::chrono::system_clock::time_point> exec_expiry_;
  bool exec_valid_ = false;
};

// --- helpers shared with the transport and tests ---

// base64 and RFC 3339 live in core/encoding.hpp; the client's callers use them by these names.
using core::base64_decode;
using core::base64_encode;
using core::format_rfc3339;
using core::format_rfc3339_micro;
using core::parse_rfc3339;
// Checks that text holds at least one PEM certificate (what) and returns it unchanged.
Result<std::string> check_pem_certs(std::string text, const std::string& what);
Result<std::string> check_pem_key(std::string text, const std::string& what);

}  // namespace kv::core::kube
