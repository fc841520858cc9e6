#pragma once
// Defaults as KubeVirt's mutating webhook applies them, as pure functions (docs/api.md lists them).
// Defaulting only fills what is absent; it never overrides a value the user set, and applying it
// twice changes nothing.

#include "api/v1/types.hpp"

namespace kv::api::v1 {

// The VMI defaults, written into the spec (what upstream's VMI mutating webhook stores on CREATE):
//  - domain.machine.type: q35
//  - resources: requests.memory/cpu from limits when only the limit is set; then memory.guest from
//    resources.requests.memory, or requests.memory from memory.guest
//  - domain.cpu: with no topology at all, sockets = the CPU limit, else the CPU request (rounded
//    up); then cores/sockets/threads 1 each where absent
//  - containerDisk imagePullPolicy: Always for `:latest` or an untagged image, else IfNotPresent
//  - no interfaces and no networks, and autoattachPodInterface not false: a pod network "default"
//    and a masquerade interface "default"
//  - a volume no disk names: a disk of its name
//  - disks: `disk: {}` when neither disk nor cdrom is given; disk and cdrom bus sata (upstream's
//    amd64 default); cdrom readonly true, tray closed
//  - interfaces: model virtio; masquerade when no binding is given; ports protocol TCP
//  - efi: secureBoot true
//  - autoattachSerialConsole, autoattachGraphicsDevice: true
//  - terminationGracePeriodSeconds: 180
void apply_defaults(VirtualMachineInstanceSpec& spec);

// A volume no disk names gets a disk of its name (`disk: {}`, no bus yet), as upstream's
// SetDefaultVolumeDisk: part of apply_defaults, and also what virt-controller does to a VMI it
// builds from a VM before the VM's preference fills the disks' bus (as upstream's VM controller).
void add_volume_disks(VirtualMachineInstanceSpec& spec);

// Pure forms.
VirtualMachineInstance with_defaults(VirtualMachineInstance vmi);
// A VM's template gets the VMI defaults (they are what the VMI created from it will have), and a VM
// with neither running nor runStrategy gets runStrategy Halted. This is the VM that validation
// judges.
VirtualMachine with_defaults(VirtualMachine vm);
// What the VM mutating webhook stores, as upstream's: the template's machine type (and runStrategy
// Halted as above); the rest of the template stays as the user wrote it, and its defaults are
// applied to the VMI when it is created. with_defaults(with_stored_defaults(vm)) ==
// with_defaults(vm).
VirtualMachine with_stored_defaults(VirtualMachine vm);

// Upstream's live migration defaults (pkg/virt-config), filled into what is unset:
//   nodeDrainTaintKey kubevirt.io/drain, parallelOutboundMigrationsPerNode 2,
//   parallelMigrationsPerCluster 5, allowAutoConverge false, bandwidthPerMigration 0Mi (no
//   limit), completionTimeoutPerGiB 150, maxDowntimeMs 900, progressTimeout 150,
//   utilityVolumesTimeout 150, unsafeMigrationOverride false, allowPostCopy false,
//   allowWorkloadDisruption = allowPostCopy (as upstream's GetMigrationConfiguration),
//   disableTLS false, matchSELinuxLevelOnMigration false. network stays unset (the pod network).
MigrationConfiguration with_defaults(MigrationConfiguration c);

// Upstream's cluster default for a VMI without spec.evictionStrategy.
inline constexpr EvictionStrategy kDefaultEvictionStrategy = EvictionStrategy::none;
inline constexpr int64_t kDefaultTerminationGracePeriodSeconds = 180;
inline constexpr std::string_view kDefaultMachineType = "q35";
inline constexpr std::string_view kDefaultNetworkName = "default";
// Upstream's amd64 default for disks and CD-ROMs without a bus.
inline constexpr DiskBus kDefaultDiskBus = DiskBus::sata;

}  // namespace kv::api::v1
