// virt-handler: the node agent. Flags -> Options -> run().
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/flags.hpp"
#include "core/log.hpp"
#include "handler/handler.hpp"

namespace {

const char* kUsage =
    "usage: virt-handler --node-name NAME [flags]\n"
    "  --node-name NAME           this node (required)\n"
    "  --kubeconfig PATH          kubeconfig (default: $KUBECONFIG, in-cluster, ~/.kube/config)\n"
    "  --kubelet-root DIR         the kubelet's root dir (/var/lib/kubelet)\n"
    "  --socket-subpath PATH      launcher sockets under <kubelet-root>/pods/<uid>/\n"
    "                             (volumes/kubernetes.io~empty-dir/sockets)\n"
    "  --listen-address ADDR      stream server address (0.0.0.0)\n"
    "  --stream-port PORT         stream server port for virt-api, 0 disables (8186)\n"
    "  --tls-cert FILE            stream server certificate chain (PEM)\n"
    "  --tls-key FILE             its key (PEM)\n"
    "  --client-ca FILE           CA that virt-api's client certificate must chain to\n"
    "                             (all three or none: none reads them from --certs-secret)\n"
    "  --certs-secret NAME        Secret with tls.crt, tls.key, ca.crt made by virt-api\n"
    "                             (virt-handler-certs)\n"
    "  --certs-namespace NS       its namespace (kubevirt)\n"
    "  --metrics-address ADDR     /metrics and /healthz address (0.0.0.0)\n"
    "  --metrics-port PORT        plain HTTP, 0 disables (8185)\n"
    "  --heartbeat-interval SECS  node heartbeat period (60)\n"
    "  --resync-period SECS       informer resync (300)\n"
    "  --workers N                reconcile threads (2)\n"
    "  --log-level LEVEL          debug, info, warn, error (info)\n";

}  // namespace

int main(int argc, char** argv) {
  kv::handler::Options o;
  kv::core::Flags flags("virt-handler", kUsage);
  flags.text("--node-name", &o.node_name);
  flags.text("--kubeconfig", &o.kubeconfig);
  flags.text("--kubelet-root", &o.kubelet_root);
  flags.text("--socket-subpath", &o.socket_subpath);
  flags.text("--listen-address", &o.listen_address);
  flags.text("--tls-cert", &o.tls_cert_file);
  flags.text("--tls-key", &o.tls_key_file);
  flags.text("--client-ca", &o.client_ca_file);
  flags.text("--certs-secret", &o.certs_secret);
  flags.text("--certs-namespace", &o.certs_namespace);
  flags.text("--metrics-address", &o.metrics_address);
  flags.text("--log-level", &o.log_level);
  flags.integer("--stream-port", 0, 65535,
                [&](long long n) { o.stream_port = static_cast<int>(n); });
  flags.integer("--metrics-port", 0, 65535,
                [&](long long n) { o.metrics_port = static_cast<int>(n); });
  flags.integer("--heartbeat-interval", 1, 86400,
                [&](long long n) { o.heartbeat_interval = std::chrono::seconds(n); });
  flags.integer("--resync-period", 0, 86400,
                [&](long long n) { o.resync_period = std::chrono::seconds(n); });
  flags.integer("--workers", 1, 64, [&](long long n) { o.workers = static_cast<int>(n); });
  flags.parse_or_exit(argc, argv);

  auto level = kv::core::log::parse_level(o.log_level);
  if (!level.ok())
    flags.exit_with_usage_error("--log-level: \"" + o.log_level +
                                "\" is not debug, info, warn or error");
  kv::core::log::init("virt-handler", *level);
  if (auto st = kv::handler::validate(o); !st.ok())
    flags.exit_with_usage_error(st.error().message);
  return kv::handler::run(o);
}
