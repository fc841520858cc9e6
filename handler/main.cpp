// virt-handler: the node agent. Flags -> Options -> run().
#include "core/flags.hpp"
#include "core/log.hpp"
#include "handler/handler.hpp"

int main(int argc, char** argv) {
  kv::handler::Options o;
  kv::core::Flags flags("virt-handler");
  flags.text({.name = "--node-name", .value = "NAME", .help = "this node (required)"},
             &o.node_name);
  flags.text({.name = "--kubeconfig",
              .value = "PATH",
              .help = "kubeconfig",
              .shown_default = "$KUBECONFIG, in-cluster, ~/.kube/config"},
             &o.kubeconfig);
  flags.text({.name = "--kubelet-root", .value = "DIR", .help = "the kubelet's root dir"},
             &o.kubelet_root);
  flags.text({.name = "--socket-subpath",
              .value = "PATH",
              .help = "launcher sockets under <kubelet-root>/pods/<uid>/"},
             &o.socket_subpath);
  flags.text({.name = "--ephemeral-subpath",
              .value = "PATH",
              .help = "the launcher's ephemeral dir under <kubelet-root>/pods/<uid>/ (QEMU "
                      "capabilities are put there)"},
             &o.ephemeral_subpath);
  flags.text({.name = "--seccomp-dir",
              .value = "DIR",
              .help = "the kubelet's seccomp dir: kubevirt/kubevirt.json is installed there",
              .shown_default = "<kubelet-root>/seccomp"},
             &o.seccomp_dir);
  flags.text({.name = "--listen-address", .value = "ADDR", .help = "stream server address"},
             &o.listen_address);
  flags.integer({.name = "--stream-port",
                 .value = "PORT",
                 .help = "stream server port for virt-api, 0 disables"},
                &o.stream_port, 0, 65535);
  flags.text(
      {.name = "--tls-cert", .value = "FILE", .help = "stream server certificate chain (PEM)"},
      &o.tls_cert_file);
  flags.text({.name = "--tls-key", .value = "FILE", .help = "its key (PEM)"}, &o.tls_key_file);
  flags.text({.name = "--client-ca",
              .value = "FILE",
              .help = "CA that virt-api's client certificate must chain to (all three or none: "
                      "none reads them from --certs-secret)"},
             &o.client_ca_file);
  flags.text({.name = "--certs-secret",
              .value = "NAME",
              .help = "Secret with tls.crt, tls.key, ca.crt made by virt-api"},
             &o.certs_secret);
  flags.text({.name = "--certs-namespace", .value = "NS", .help = "its namespace"},
             &o.certs_namespace);
  flags.text(
      {.name = "--metrics-address", .value = "ADDR", .help = "/metrics and /healthz address"},
      &o.metrics_address);
  flags.integer({.name = "--metrics-port", .value = "PORT", .help = "plain HTTP, 0 disables"},
                &o.metrics_port, 0, 65535);
  flags.integer({.name = "--heartbeat-interval", .value = "SECS", .help = "node heartbeat period"},
                &o.heartbeat_interval, 1, 86400);
  flags.text({.name = "--node-labeller-dir",
              .value = "DIR",
              .help = "CPU capabilities from the node-labeller init container; empty: no labels"},
             &o.node_labeller_dir);
  flags.integer({.name = "--resync-period", .value = "SECS", .help = "informer resync"},
                &o.resync_period, 0, 86400);
  flags.integer({.name = "--workers", .value = "N", .help = "reconcile threads"}, &o.workers, 1,
                64);
  flags.text({.name = "--device-plugin-dir",
              .value = "DIR",
              .help = "the kubelet's device-plugins dir (kubelet.sock); empty: no device plugins"},
             &o.device_plugins.plugin_dir);
  flags.text({.name = "--device-root",
              .value = "DIR",
              .help = "test hook: node dir holding dev/kvm, dev/net/tun, dev/vhost-net"},
             &o.device_plugins.device_root);
  flags.text({.name = "--node-root",
              .value = "DIR",
              .help = "where this process sees the node's / (device nodes are looked for there)"},
             &o.device_plugins.node_root);
  flags.integer({.name = "--max-devices", .value = "N", .help = "devices per device plugin"},
                &o.device_plugins.max_devices, 1, 100000);
  flags.text({.name = "--log-level", .value = "LEVEL", .help = "debug, info, warn, error"},
             &o.log_level);
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
