// virt-api: flags -> Options -> run().
#include "api/server/run.hpp"
#include "core/flags.hpp"

int main(int argc, char** argv) {
  kv::apiserver::Options o;
  kv::core::Flags flags("virt-api");
  flags.text({.name = "--kubeconfig",
              .value = "PATH",
              .help = "kubeconfig",
              .shown_default = "$KUBECONFIG, in-cluster, ~/.kube/config"},
             &o.kubeconfig);
  flags.text({.name = "--listen-address", .value = "ADDR", .help = "address to serve on"},
             &o.listen_address);
  flags.integer({.name = "--port",
                 .value = "PORT",
                 .help = "HTTPS port of the API, webhooks and /metrics; 0: any"},
                &o.port, 0, 65535);
  flags.text({.name = "--tls-cert", .value = "FILE", .help = "serving certificate chain (PEM)"},
             &o.tls_cert_file);
  flags.text({.name = "--tls-key", .value = "FILE", .help = "its key (PEM)"}, &o.tls_key_file);
  flags.text({.name = "--client-cert",
              .value = "FILE",
              .help = "certificate for dialing virt-handler (PEM)"},
             &o.client_cert_file);
  flags.text({.name = "--client-key", .value = "FILE", .help = "its key (PEM)"},
             &o.client_key_file);
  flags.text(
      {.name = "--ca", .value = "FILE", .help = "CA that signed virt-handler's certificate (PEM)"},
      &o.ca_file);
  flags.integer(
      {.name = "--handler-port", .value = "PORT", .help = "virt-handler's stream server port"},
      &o.handler_port, 1, 65535);
  flags.text(
      {.name = "--handler-namespace", .value = "NS", .help = "where the virt-handler pods run"},
      &o.handler_namespace);
  flags.text({.name = "--handler-server-name",
              .value = "NAME",
              .help = "name in virt-handler's certificate"},
             &o.handler_server_name);
  flags.text(
      {.name = "--certs-namespace",
       .value = "NS",
       .help = "make or load the add-on's certificates in the Secrets of NS and keep their CA "
               "in the APIService and webhook config (when no --tls-cert is given)"},
      &o.certs_namespace);
  flags.text({.name = "--log-level", .value = "LEVEL", .help = "debug, info, warn, error"},
             &o.log_level);
  flags.parse_or_exit(argc, argv);
  return kv::apiserver::run(o);
}
