// virt-api: flags -> Options -> run().
#include "api/server/run.hpp"
#include "core/flags.hpp"

namespace {

const char* kUsage =
    "usage: virt-api [flags]\n"
    "  --kubeconfig PATH            kubeconfig (default: $KUBECONFIG, in-cluster, ~/.kube/config)\n"
    "  --listen-address ADDR        address to serve on (0.0.0.0)\n"
    "  --port PORT                  HTTPS port of the API, webhooks and /metrics; 0: any (8443)\n"
    "  --tls-cert FILE --tls-key FILE      serving certificate chain and key (PEM)\n"
    "  --client-cert FILE --client-key FILE  certificate for dialing virt-handler (PEM)\n"
    "  --ca FILE                    CA that signed virt-handler's certificate (PEM)\n"
    "  --handler-port PORT          virt-handler's stream server port (8186)\n"
    "  --handler-namespace NS       where the virt-handler pods run (kubevirt)\n"
    "  --handler-server-name NAME   name in virt-handler's certificate "
    "(virt-handler.kubevirt.svc)\n"
    "  --certs-namespace NS         make or load the add-on's certificates in the Secrets of NS\n"
    "                               and keep their CA in the APIService and webhook config\n"
    "                               (when no --tls-cert is given)\n"
    "  --log-level LEVEL            debug, info, warn, error (info)\n";

}  // namespace

int main(int argc, char** argv) {
  kv::apiserver::Options o;
  kv::core::Flags flags("virt-api", kUsage);
  flags.text("--kubeconfig", &o.kubeconfig);
  flags.text("--listen-address", &o.listen_address);
  flags.integer("--port", 0, 65535, [&](long long n) { o.port = static_cast<int>(n); });
  flags.text("--tls-cert", &o.tls_cert_file);
  flags.text("--tls-key", &o.tls_key_file);
  flags.text("--client-cert", &o.client_cert_file);
  flags.text("--client-key", &o.client_key_file);
  flags.text("--ca", &o.ca_file);
  flags.integer("--handler-port", 1, 65535,
                [&](long long n) { o.handler_port = static_cast<int>(n); });
  flags.text("--handler-namespace", &o.handler_namespace);
  flags.text("--handler-server-name", &o.handler_server_name);
  flags.text("--certs-namespace", &o.certs_namespace);
  flags.text("--log-level", &o.log_level);
  flags.parse_or_exit(argc, argv);
  return kv::apiserver::run(o);
}
