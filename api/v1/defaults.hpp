#pragma once
// Defaults as KubeVirt's mutating webhook applies them, as pure functions (docs/api.md lists them).
// Defaulting only fills what is absent; it never overrides a value the user set, and applying it
// twice changes nothing.

#include "api/v1/types.hpp"

namespace kv::api::v1 {

// The VMI defaults, written into the spec:
//  - domain.machine.type: q35
//  - domain.cpu.cores/sockets/threads: 1 each
//  - resources: requests.memory/cpu from limits when only the limit is set; then memory.guest from
//    resources.requests.memory, or requests.memory from memory.guest
//  - disks: `disk: {}` when neither disk nor cdrom is given; disk bus virtio; cdrom bus sata,
//    readonly true, tray closed
//  - no interfaces and no networks, and autoattachPodInterface not false: a pod network "default"
//    and a masquerade interface "default"
//  - interfaces: model virtio; masquerade when no binding is given; ports protocol TCP
//  - efi: secureBoot true
//  - autoattachSerialConsole, autoattachGraphicsDevice: true
//  - terminationGracePeriodSeconds: 180
void apply_defaults(VirtualMachineInstanceSpec& spec);

// Pure forms.
VirtualMachineInstance with_defaults(VirtualMachineInstance vmi);
// A VM's template gets the VMI defaults (they are what the VMI created from it will have), and a VM
// with neither running nor runStrategy gets runStrategy Halted.
VirtualMachine with_defaults(VirtualMachine vm);

inline constexpr int64_t kDefaultTerminationGracePeriodSeconds = 180;
inline constexpr std::string_view kDefaultMachineType = "q35";
inline constexpr std::string_view kDefaultNetworkName = "default";

}  // namespace kv::api::v1
