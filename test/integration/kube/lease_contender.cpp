// A process that contends for a Lease, for the leader-election integration test:
//   kube_lease_contender IDENTITY STATE_FILE
// Writes "leading" / "stopped" to STATE_FILE (atomically) as its leadership changes; on SIGTERM
// it stops and releases the lease. Kubeconfig from $KUBECONFIG.
#include <signal.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <thread>

#include "core/kube/client.hpp"
#include "core/kube/leader_election.hpp"

using namespace kv::core::kube;

namespace {
void write_state(const std::string& path, const std::string& s) {
  {
    std::ofstream out(path + ".tmp", std::ios::trunc);
    out << s << "\n";
  }
  std::rename((path + ".tmp").c_str(), path.c_str());
}
}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s IDENTITY STATE_FILE\n", argv[0]);
    return 2;
  }
  std::string identity = argv[1], state = argv[2];
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

  auto config = load_kubeconfig();
  if (!config.ok()) {
    std::fprintf(stderr, "%s\n", config.error().to_string().c_str());
    return 1;
  }
  auto client = make_client(*config);
  if (!client.ok()) {
    std::fprintf(stderr, "%s\n", client.error().to_string().c_str());
    return 1;
  }
  LeaderElectionConfig c;
  c.lease_namespace = "default";
  c.lease_name = "kube-it-contenders";
  c.identity = identity;
  c.lease_duration = std::chrono::seconds(6);
  c.renew_deadline = std::chrono::seconds(4);
  c.retry_period = std::chrono::milliseconds(500);
  c.on_started_leading = [&] { write_state(state, "leading"); };
  c.on_stopped_leading = [&] { write_state(state, "stopped"); };
  write_state(state, "following");
  LeaderElector elector(**client, c);
  std::thread t([&] { elector.run(); });
  int sig = 0;
  sigwait(&sigs, &sig);
  elector.stop();
  t.join();
  return 0;
}
