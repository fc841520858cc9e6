// virt-probe: the compute container's exec probe for a VMI's tcpSocket probe (tcp_probe.hpp says
// why the kubelet's own TCP probe cannot be used). Exit 0: the guest accepted; 1: it did not.
#include <cstdio>
#include <cstdlib>

#include "core/flags.hpp"
#include "launcher/probe/tcp_probe.hpp"

int main(int argc, char** argv) {
  kv::launcher::probe::TcpProbe p;
  long long timeout_seconds = 1;
  const char* pod_ip = std::getenv("POD_IP");
  p.host = pod_ip ? pod_ip : "";
  kv::core::Flags flags("virt-probe");
  flags.integer(
      {.name = "--tcp", .value = "PORT", .help = "the guest's TCP port", .allowed = "a TCP port"},
      &p.port, 1, 65535);
  flags.text({.name = "--host",
              .value = "ADDR",
              .help = "the address to connect to",
              .shown_default = "$POD_IP"},
             &p.host);
  flags.integer({.name = "--timeout-seconds", .value = "SECONDS", .help = "the probe's timeout"},
                &timeout_seconds, 1, 3600);
  flags.parse_or_exit(argc, argv);
  if (p.port == 0 || p.host.empty()) {
    std::fprintf(stderr,
                 "virt-probe: --tcp PORT is required, and --host ADDR unless $POD_IP is set\n");
    return 2;
  }
  p.timeout = std::chrono::seconds(timeout_seconds);
  auto r = kv::launcher::probe::run_tcp_probe(p);
  if (!r.ok()) {
    std::fprintf(stderr, "virt-probe: %s\n", r.error().message.c_str());
    return 1;
  }
  return 0;
}
