#pragma once
// What a launcher pod looks like from inside, for tests of the domain builder (unit tests, the
// field walk, the domain fuzz target): the directories the launcher image mounts, Debian's OVMF
// files as the image ships them, and a pod IP. No file is touched: the builder only writes paths.

#include "launcher/domain_builder.hpp"

namespace kv::test {

// kvm: whether /dev/kvm is usable (else the domain is TCG, which emulation allows).
inline launcher::PodEnvironment pod_environment(bool kvm = false) {
  launcher::PodEnvironment e;
  e.kvm_usable = kvm;
  e.allow_emulation = true;
  e.ovmf_code = "/usr/share/OVMF/OVMF_CODE_4M.fd";
  e.ovmf_vars = "/usr/share/OVMF/OVMF_VARS_4M.fd";
  e.ovmf_secboot_code = "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd";
  e.ovmf_secboot_vars = "/usr/share/OVMF/OVMF_VARS_4M.ms.fd";
  e.socket_dir = "/var/run/kubevirt/sockets";
  e.ephemeral_dir = "/var/run/kubevirt-private";
  e.container_disk_dir = "/var/run/kubevirt/container-disks";
  e.kernel_boot_dir = "/var/run/kubevirt/kernel-boot";
  e.pvc_dir = "/var/run/kubevirt-private/vmi-disks";
  e.config_map_dir = "/var/run/kubevirt-private/config-map";
  e.secret_dir = "/var/run/kubevirt-private/secret";
  e.service_account_dir = "/var/run/kubevirt-private/service-account";
  e.downward_api_dir = "/var/run/kubevirt-private/downwardapi";
  e.sysprep_dir = "/var/run/kubevirt-private/sysprep";
  e.pod_ip = "10.244.0.17";
  return e;
}

}  // namespace kv::test
