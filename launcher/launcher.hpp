#pragma once
// virt-launcher's entry point: everything main() does after parsing flags.

#include <cstdint>
#include <string>

#include "launcher_com/layout.hpp"

namespace kv::launcher {

struct Options {
  std::string vmi_file;  // sync this VMI at start (standalone and tests); empty = wait
  std::string socket_dir = "/var/run/kubevirt/sockets";     // command, console and VNC sockets
  std::string ephemeral_dir = "/var/run/kubevirt-private";  // overlays, ISO, libvirt state
  std::string container_disk_dir = "/var/run/kubevirt/container-disks";
  std::string kernel_boot_dir = "/var/run/kubevirt/kernel-boot";
  std::string pvc_dir = "/var/run/kubevirt-private/vmi-disks";
  // The kubelet's mounts of configMap, secret (and cloud-init secretRef), serviceAccount,
  // downwardAPI and sysprep volumes (PodEnvironment says what is under each).
  std::string config_map_dir = "/var/run/kubevirt-private/config-map";
  std::string secret_dir = "/var/run/kubevirt-private/secret";
  std::string service_account_dir = "/var/run/secrets/kubernetes.io/serviceaccount";
  std::string downward_api_dir = "/var/run/kubevirt-private/downwardapi";
  std::string sysprep_dir = "/var/run/kubevirt-private/sysprep";
  std::string libvirt_cache_dir;  // empty = inside ephemeral_dir (cold capabilities probe)
  // Only fill libvirt's QEMU capabilities cache in libvirt_cache_dir, then exit (virt-handler's
  // init container: the cache it hands to every launcher on the node, docs/launcher.md).
  bool probe_capabilities = false;
  std::string pod_ip;  // the pod IP: a passt-bound guest's address (status)
  bool allow_emulation = false;
  std::int64_t grace_period_seconds = 30;  // when the VMI does not say
  std::string log_level = "info";
  bool console_to_stdout = true;
};

// Runs until the VM has ended (or a SIGTERM before any VM); returns the process exit status:
// 0 guest shut down (or no VM), 1 launcher failure, 2 crashed, 3 killed (see lifecycle.hpp).
int run(const Options& opts);

// The name of the command socket inside socket_dir.
using launcher_com::kCommandSocketName;

}  // namespace kv::launcher
