// virt-controller: flags -> Options -> run().
#include <cstdio>
#include <cstdlib>
#include <string>

#include "controller/run.hpp"
#include "core/flags.hpp"

namespace {

const char* kUsage =
    "usage: virt-controller [flags]\n"
    "  --kubeconfig PATH          kubeconfig (default: $KUBECONFIG, in-cluster, ~/.kube/config)\n"
    "  --install-namespace NS     where kubevirt-config and the leader Lease live (kubevirt)\n"
    "  --http-address ADDR        address of /metrics, /healthz, /readyz, /leader (0.0.0.0)\n"
    "  --http-port PORT           their port; 0 picks a free one (8443)\n"
    "  --leader-elect BOOL        elect a leader through a Lease (true)\n"
    "  --lease-name NAME          the Lease's name (virt-controller)\n"
    "  --identity ID              this replica's name in the Lease (hostname_random)\n"
    "  --vm-workers N             VirtualMachine workers (4)\n"
    "  --vmi-workers N            VirtualMachineInstance workers (4)\n"
    "  --resync SECONDS           re-reconcile everything this often (300)\n"
    "  --qps N  --burst N         client-side API rate limit (50, 100)\n"
    "  --log-level LEVEL          debug, info, warn, error (info)\n";

}  // namespace

int main(int argc, char** argv) {
  kv::controller::Options o;
  kv::core::Flags flags("virt-controller", kUsage);
  flags.text("--kubeconfig", &o.kubeconfig);
  flags.text("--install-namespace", &o.install_namespace);
  flags.text("--http-address", &o.http_address);
  flags.text("--lease-name", &o.lease_name);
  flags.text("--identity", &o.identity);
  flags.text("--log-level", &o.log_level);
  flags.integer("--http-port", 0, 65535,
                [&](long long n) { o.http_port = static_cast<unsigned short>(n); });
  flags.boolean("--leader-elect", &o.leader_elect);
  flags.integer("--vm-workers", 1, 256, [&](long long n) { o.vm_workers = static_cast<int>(n); });
  flags.integer("--vmi-workers", 1, 256, [&](long long n) { o.vmi_workers = static_cast<int>(n); });
  flags.integer("--resync", 0, 86400, [&](long long n) { o.resync = std::chrono::seconds(n); });
  flags.integer("--qps", 0, 100000, [&](long long n) { o.qps = static_cast<double>(n); });
  flags.integer("--burst", 1, 100000, [&](long long n) { o.burst = static_cast<int>(n); });
  flags.parse_or_exit(argc, argv);
  return kv::controller::run(o);
}
