#include "api/server/run.hpp"

#include <signal.h>

#include <cstdio>

#include <fstream>
#include <mutex>
#include <sstream>

#include "addon/cert_secrets.hpp"
#include "addon/cert_watch.hpp"
#include "core/kube/kubeconfig.hpp"
#include "core/log.hpp"

namespace kv::apiserver {
using core::Errc;
using core::Error;

namespace {

// `file` when set, else `pem`.
core::Result<std::string> pem_from(const char* flag, const std::string& file,
                                   const std::string& pem) {
  if (file.empty())
    return pem;
  std::ifstream in(file);
  if (!in)
    return Error(Errc::invalid, std::string(flag) + ": cannot read \"" + file + "\"");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

core::Result<ServerConfig> server_config_from(const Options& o, bool certs_to_come) {
  ServerConfig c;
  c.address = o.listen_address;
  c.port = o.port;
  c.handler_port = o.handler_port;
  c.handler_namespace = o.handler_namespace;
  c.handler_server_name = o.handler_server_name;
  c.admission.privileged_user_prefixes = {"system:serviceaccount:" + o.handler_namespace + ":"};
  struct Pem {
    const char* flag;
    const std::string& file;
    const std::string& pem;
    std::string& out;
  };
  for (const Pem& p :
       {Pem{"--tls-cert", o.tls_cert_file, o.cert_pem, c.cert_pem},
        Pem{"--tls-key", o.tls_key_file, o.key_pem, c.key_pem},
        Pem{"--client-cert", o.client_cert_file, o.client_cert_pem, c.client_cert_pem},
        Pem{"--client-key", o.client_key_file, o.client_key_pem, c.client_key_pem},
        Pem{"--ca", o.ca_file, o.ca_pem, c.ca_pem}}) {
    auto v = pem_from(p.flag, p.file, p.pem);
    KV_CHECK(v);
    p.out = std::move(*v);
  }
  if (!certs_to_come && (c.cert_pem.empty() || c.key_pem.empty()))
    return Error(
        Errc::invalid,
        std::string(c.cert_pem.empty() ? "--tls-cert" : "--tls-key") +
            ": required (the serving certificate and key, PEM files), or --certs-namespace");
  if (c.client_cert_pem.empty() != c.client_key_pem.empty())
    return Error(Errc::invalid, "--client-cert and --client-key: give both or neither");
  return c;
}

core::Result<Options> with_cluster_certificates(core::kube::KubeClient& client, Options o) {
  if (o.certs_namespace.empty() || !o.tls_cert_file.empty() || !o.cert_pem.empty())
    return o;
  auto certs = addon::ensure_certificates(client, o.certs_namespace);
  if (!certs.ok())
    return Error(certs.error().code, "the certificates in namespace " + o.certs_namespace + ": " +
                                         certs.error().message);
  // One certificate serves kube-apiserver and authenticates virt-api to the handlers.
  o.cert_pem = o.client_cert_pem = certs->cert_pem;
  o.key_pem = o.client_key_pem = certs->key_pem;
  o.ca_pem = certs->ca_pem;
  o.client_cert_file.clear();
  o.client_key_file.clear();
  o.ca_file.clear();
  return o;
}

core::Status keep_ca_bundles(core::kube::KubeClient& client, const Options& o) {
  if (o.certs_namespace.empty() || o.ca_pem.empty())
    return {};
  auto report = addon::inject_ca_bundle(client, o.ca_pem, o.apiservice_name,
                                        o.validating_webhook_configs, o.mutating_webhook_configs);
  if (!report.ok())
    return std::move(report).error();
  for (const auto& name : report->patched)
    core::log::info("virt-api: CA bundle set", {{"object", name}});
  for (const auto& name : report->missing)
    core::log::warn("virt-api: cannot set the CA bundle: the object does not exist (yet)",
                    {{"object", name}});
  return {};
}

core::Status refresh_request_header_config(core::kube::KubeClient& client, Server& server) {
  auto cm =
      client.get(core::kube::resources::config_maps(), kAuthConfigMapNamespace, kAuthConfigMapName);
  if (!cm.ok())
    return std::move(cm).error();
  auto cfg = request_header_config_from(*cm);
  if (!cfg.ok())
    return std::move(cfg).error();
  server.set_request_header_config(std::move(*cfg));
  return {};
}

int run(const Options& opts) {
  if (auto lvl = core::log::parse_level(opts.log_level); lvl.ok()) {
    core::log::init("virt-api", *lvl);
  } else {
    std::fprintf(stderr, "virt-api: --log-level: %s\n", lvl.error().message.c_str());
    return 64;
  }
  // Flag errors first, before any API call. With --certs-namespace the serving certificate comes
  // from the cluster, so only the files given are checked here.
  bool from_cluster =
      !opts.certs_namespace.empty() && opts.tls_cert_file.empty() && opts.cert_pem.empty();
  if (auto config = server_config_from(opts, from_cluster); !config.ok()) {
    std::fprintf(stderr, "virt-api: %s\n", config.error().message.c_str());
    return 64;
  }
  core::kube::KubeconfigOptions ko;
  ko.path = opts.kubeconfig;
  auto rest = core::kube::load_default(ko);
  if (!rest.ok()) {
    core::log::error("virt-api: no usable Kubernetes config", {{"error", rest.error().message}});
    return 1;
  }
  rest->user_agent = "virt-api";
  auto client = core::kube::make_client(*rest);
  if (!client.ok()) {
    core::log::error("virt-api: cannot build the Kubernetes client",
                     {{"error", client.error().message}});
    return 1;
  }

  auto effective = with_cluster_certificates(**client, opts);
  if (!effective.ok()) {
    core::log::error("virt-api: no certificates", {{"error", effective.error().message}});
    return 1;
  }
  auto config = server_config_from(*effective);
  if (!config.ok()) {
    core::log::error("virt-api: unusable certificates", {{"error", config.error().message}});
    return 1;
  }
  config->admission.instancetypes = make_instancetype_lookup(**client);
  config->admission.migrations = make_migration_lookup(**client);

  // SIGTERM/SIGINT are taken with sigtimedwait below; block them before any thread starts.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

  auto server = Server::start(std::move(*config), **client);
  if (!server.ok()) {
    core::log::error("virt-api: cannot start", {{"error", server.error().message}});
    return server.error().code == Errc::invalid ? 64 : 1;
  }
  core::log::info("virt-api: serving",
                  {{"address", opts.listen_address}, {"port", std::to_string((*server)->port())}});

  // Certificates from the cluster are followed: a rotated virt-api-certs (or a new CA in it) is
  // served from the next connection on, without a restart.
  std::mutex ca_mu;
  Options current = *effective;
  std::unique_ptr<addon::SecretWatch> cert_watch;
  if (from_cluster)
    cert_watch = std::make_unique<addon::SecretWatch>(
        **client, opts.certs_namespace, addon::kApiCertsSecretName,
        std::vector<std::string>{"tls.crt", "tls.key", "ca.crt"},
        [&](const addon::SecretWatch::Data& d) -> core::Status {
          const auto &crt = d.at("tls.crt"), &key = d.at("tls.key"), &ca = d.at("ca.crt");
          KV_CHECK((*server)->set_certificates(crt, key, crt, key, ca));
          core::log::info("virt-api: new connections get the certificate now in its Secret",
                          {{"secret", opts.certs_namespace + "/" + addon::kApiCertsSecretName}});
          std::lock_guard lock(ca_mu);
          current.ca_pem = ca;
          return {};
        });
  bool had_config = false;
  for (;;) {
    auto st = refresh_request_header_config(**client, **server);
    if (!st.ok())
      core::log::warn(had_config ? "virt-api: cannot refresh the front-proxy settings; keeping "
                                   "the previous ones"
                                 : "virt-api: cannot read the front-proxy settings; aggregated "
                                   "requests get 401 until it works",
                      {{"error", st.error().message}});
    had_config = had_config || st.ok();
    // Again on every round: the APIService or a webhook configuration applied after virt-api
    // started (or re-created without its caBundle) gets the CA within one period.
    Options now;
    {
      std::lock_guard lock(ca_mu);
      now = current;
    }
    if (auto ca = keep_ca_bundles(**client, now); !ca.ok())
      core::log::warn("virt-api: cannot set the CA bundles", {{"error", ca.error().message}});
    timespec wait{had_config ? opts.auth_refresh_seconds : 5, 0};
    int sig = sigtimedwait(&sigs, nullptr, &wait);
    if (sig == SIGTERM || sig == SIGINT) {
      core::log::info("virt-api: stopping", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
      break;
    }
  }
  cert_watch.reset();
  (*server)->stop();
  return 0;
}

}  // namespace kv::apiserver
