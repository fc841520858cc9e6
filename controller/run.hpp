#pragma once
// virt-controller's entry point after flag parsing: connect, serve /metrics and probes, elect a
// leader, and run the controllers while leading.

#include <chrono>
#include <string>

namespace kv::controller {

struct Options {
  std::string kubeconfig;  // empty: $KUBECONFIG, in-cluster, then ~/.kube/config
  std::string install_namespace = "kubevirt";  // kubevirt-config and the leader Lease live here
  std::string http_address = "0.0.0.0";
  unsigned short http_port = 8443;
  bool leader_elect = true;
  std::string lease_name = "virt-controller";
  std::string identity;  // empty: hostname + "_" + random
  int vm_workers = 4;
  int vmi_workers = 4;
  std::chrono::seconds resync{300};
  std::string log_level = "info";
  double qps = 50;
  int burst = 100;
};

// Runs until SIGTERM/SIGINT (returns 0) or until leadership is lost or the start fails
// (returns 1: the process should restart; that is what makes a standby take over cleanly).
int run(const Options& opts);

}  // namespace kv::controller
