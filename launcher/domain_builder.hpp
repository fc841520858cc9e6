#pragma once
// VMI spec + pod environment -> libvirt domain XML. Pure: no libvirt, no file system; every
// decision about the domain is made here and golden-tested (test/unit/launcher/testdata/). One
// file per concern under launcher/domain/ (compute, storage, network, devices), composed by
// build_domain_xml().
//
// What a VMI gets:
//  - domain type kvm when /dev/kvm is usable; qemu (TCG) when it is not and emulation is allowed;
//    otherwise an error saying KVM is missing and how to allow emulation.
//  - machine q35 unless spec.domain.machine.type says otherwise; ACPI on (graceful shutdown).
//  - BIOS; EFI (OVMF) when firmware.bootloader.efi is set and OVMF is in the image; direct kernel
//    boot when firmware.kernelBoot is set.
//  - disks in spec order (virtio vdX; sata/scsi/usb sdX), CD-ROMs read-only.
//  - serial console on <socket_dir>/virt-serial0, also logged to <ephemeral_dir>/serial0.log
//    (copied to stdout); VNC on <socket_dir>/virt-vnc when a graphics device is attached.
//  - the pod NIC served by passt (launcher/passt.hpp) over a unix stream socket: masquerade
//    gives the guest KubeVirt's addresses (10.0.2.2/24, gateway 10.0.2.1), passt the pod's own;
//    libvirt 9.0 has no passt backend, so netdev and NIC go in <qemu:commandline>.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "api/v1/types.hpp"
#include "core/result.hpp"

namespace kv::launcher {

// What the launcher found about its pod. Filled by run() from flags and probes.
struct PodEnvironment {
  bool kvm_usable = false;       // /dev/kvm opens and KVM_CREATE_VM works for this process
  bool allow_emulation = false;  // --allow-emulation
  // OVMF firmware files; empty when the package is not installed.
  std::string ovmf_code;           // /usr/share/OVMF/OVMF_CODE_4M.fd
  std::string ovmf_vars;           // /usr/share/OVMF/OVMF_VARS_4M.fd
  std::string ovmf_secboot_code;   // /usr/share/OVMF/OVMF_CODE_4M.secboot.fd
  std::string ovmf_secboot_vars;   // /usr/share/OVMF/OVMF_VARS_4M.ms.fd
  std::string socket_dir;          // console and VNC sockets (shared with virt-handler)
  std::string ephemeral_dir;       // overlays, cloud-init ISO, serial log, NVRAM
  std::string container_disk_dir;  // <dir>/<volume name>/ holds each containerDisk image's files
  std::string kernel_boot_dir;     // root of the kernelBoot container image's files
  std::string pvc_dir;             // <dir>/<volume name>/ is each PVC's mount
  std::string config_map_dir;      // <dir>/<volume name>/: a configMap volume's files
  std::string secret_dir;  // <dir>/<volume name>/: a secret volume's; <volume>-userdata/ and
                           // -networkdata/: a cloud-init secretRef's
  std::string service_account_dir;  // token, ca.crt, namespace of the serviceAccount volume
  std::string downward_api_dir;     // <dir>/<volume name>/: a downwardAPI volume's files
  std::string sysprep_dir;          // <dir>/<volume name>/: a sysprep volume's files
  std::string pod_ip;               // the pod's IP (--pod-ip): what a passt-bound guest gets
  std::string passt_socket;         // passt's unix socket; empty = <ephemeral_dir>/passt.sock
};

enum class DiskKind { container_disk, empty_disk, pvc, cloud_init, config_iso };

// One disk of the VMI and the file behind it. plan_disks() fills it (pure); prepare_disks()
// (disks.hpp) creates the files.
struct DiskPlan {
  std::string name;  // disks[].name == volumes[].name
  DiskKind kind = DiskKind::empty_disk;
  std::string path;    // the file QEMU opens
  std::string format;  // "qcow2" or "raw"
  bool read_only = false;
  // container_disk: the image's disk: a file, or a directory holding exactly one disk file.
  std::string base;
  // container_disk: the image reference and containerDisk.path, for messages that name them.
  std::string image, image_path;
  // empty_disk: the size; pvc: 0 = the file system's capacity.
  std::int64_t capacity_bytes = 0;
  // cloud_init: file contents of the NoCloud ISO (the ConfigDrive one when config_drive), and
  // the Secret mounts that hold user / network data instead (read when the disk is made).
  std::string meta_data, user_data, network_config;
  bool config_drive = false;
  std::string user_data_dir, network_data_dir;
  // config_iso: an ISO of the files in source_dir (configMap, secret, serviceAccount,
  // downwardAPI, sysprep), labelled volume_label; when required_files is not empty, one of them
  // (case-insensitive) must be there.
  std::string source_dir, volume_label;
  std::vector<std::string> required_files;
};

struct PortForward {
  std::string protocol;  // "tcp" | "udp"
  int port = 0;
};

// The pod NIC, as the guest sees it. Both bindings are served by passt; they differ in the
// addresses passt hands out by DHCP.
struct NetworkPlan {
  std::string interface_name;  // interfaces[].name
  std::string network_name;    // networks[].name
  std::string binding;         // masquerade | passt
  std::string model;           // QEMU device: virtio-net-pci, e1000, ...
  std::string mac;
  // masquerade: KubeVirt's layout from pod.vmNetworkCIDR. passt: all empty until the launcher
  // fills guest_ip with the pod's IP (the guest gets the pod's address, prefix and gateway).
  std::string cidr;      // 10.0.2.0/24
  std::string gateway;   // 10.0.2.1
  std::string guest_ip;  // 10.0.2.2
  // interfaces[].ports; empty: every port (upstream's masquerade semantics, see passt.hpp).
  std::vector<PortForward> ports;
  std::string pci_addr = "0x10";  // QEMU addr= on the root bus (interfaces[].pciAddress)
};

// libvirt's domain name for a VMI: <namespace>_<name>, as upstream.
std::string domain_name(const api::v1::VirtualMachineInstance& vmi);

// Resolves volumes to files. Errors name the field: "spec.volumes[2]: configMap volumes are not
// supported by this launcher". A disk without a matching volume is an error.
core::Result<std::vector<DiskPlan>> plan_disks(const api::v1::VirtualMachineInstance& vmi,
                                               const PodEnvironment& env);

// The pod NIC, or nullopt when the VMI has none. Only one pod network is supported; binding
// masquerade (the default) or passt.
core::Result<std::optional<NetworkPlan>> plan_network(const api::v1::VirtualMachineInstance& vmi);

// The domain XML: compute, storage, devices and network (launcher/domain/), in that order of
// checks. `disks` comes from plan_disks(vmi, env) and `network` from plan_network(vmi), computed
// once per sync by the caller, which also reports the NIC in the domain status.
core::Result<std::string> build_domain_xml(const api::v1::VirtualMachineInstance& vmi,
                                           const PodEnvironment& env,
                                           const std::vector<DiskPlan>& disks,
                                           const std::optional<NetworkPlan>& network);

// Graceful-shutdown budget: spec.terminationGracePeriodSeconds, default 30 (upstream).
std::int64_t grace_period_seconds(const api::v1::VirtualMachineInstance& vmi);

// spec.startStrategy Paused: the domain is started with its CPUs stopped (VIR_DOMAIN_START_PAUSED).
bool starts_paused(const api::v1::VirtualMachineInstance& vmi);

// Paths derived from the environment, used by run() and tests.
std::string serial_socket_path(const PodEnvironment& env);
std::string serial_log_path(const PodEnvironment& env);
std::string vnc_socket_path(const PodEnvironment& env);

// XML-escapes text for element content and attribute values.
std::string xml_escape(std::string_view s);

}  // namespace kv::launcher
