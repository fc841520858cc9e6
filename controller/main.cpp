// virt-controller: flags -> Options -> run().
#include "controller/run.hpp"
#include "core/flags.hpp"

int main(int argc, char** argv) {
  kv::controller::Options o;
  kv::core::Flags flags("virt-controller");
  flags.text({.name = "--kubeconfig",
              .value = "PATH",
              .help = "kubeconfig",
              .shown_default = "$KUBECONFIG, in-cluster, ~/.kube/config"},
             &o.kubeconfig);
  flags.text({.name = "--install-namespace",
              .value = "NS",
              .help = "where kubevirt-config and the leader Lease live"},
             &o.install_namespace);
  flags.text({.name = "--http-address",
              .value = "ADDR",
              .help = "address of /metrics, /healthz, /readyz, /leader"},
             &o.http_address);
  flags.integer({.name = "--http-port", .value = "PORT", .help = "their port; 0 picks a free one"},
                &o.http_port, 0, 65535);
  flags.boolean(
      {.name = "--leader-elect", .value = "BOOL", .help = "elect a leader through a Lease"},
      &o.leader_elect);
  flags.text({.name = "--lease-name", .value = "NAME", .help = "the Lease's name"}, &o.lease_name);
  flags.text({.name = "--identity",
              .value = "ID",
              .help = "this replica's name in the Lease",
              .shown_default = "hostname_random"},
             &o.identity);
  flags.integer({.name = "--vm-workers", .value = "N", .help = "VirtualMachine workers"},
                &o.vm_workers, 1, 256);
  flags.integer({.name = "--vmi-workers", .value = "N", .help = "VirtualMachineInstance workers"},
                &o.vmi_workers, 1, 256);
  flags.integer(
      {.name = "--resync", .value = "SECONDS", .help = "re-reconcile everything this often"},
      &o.resync, 0, 86400);
  flags.integer(
      {.name = "--qps", .value = "N", .help = "client-side API rate limit: requests per second"},
      &o.qps, 0, 100000);
  flags.integer({.name = "--burst", .value = "N", .help = "client-side API rate limit: burst"},
                &o.burst, 1, 100000);
  flags.text({.name = "--log-level", .value = "LEVEL", .help = "debug, info, warn, error"},
             &o.log_level);
  flags.parse_or_exit(argc, argv);
  return kv::controller::run(o);
}
