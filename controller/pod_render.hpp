#pragma once
// The launcher pod of a VirtualMachineInstance, as a pure function (VMI + Config -> Pod JSON),
// golden-tested in test/unit/controller/testdata/pods/. The contract with virt-launcher and
// virt-handler that this pod embodies is written down in docs/controller.md.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "api/v1/types.hpp"
#include "controller/cluster_config.hpp"
#include "core/json.hpp"
#include "core/result.hpp"

namespace kv::controller {

// Labels and annotations the controller and handler rely on.
inline constexpr const char* kAppLabel = "kubevirt.io";  // = virt-launcher
inline constexpr const char* kAppLabelValue = "virt-launcher";
inline constexpr const char* kCreatedByLabel = "kubevirt.io/created-by";  // = VMI uid
inline constexpr const char* kVmNameLabel = "vm.kubevirt.io/name";        // = VMI name
inline constexpr const char* kDomainAnnotation = "kubevirt.io/domain";
inline constexpr const char* kComputeContainer = "compute";
// Finalizer the controller keeps on a VMI until its launcher pods are gone, so a VM is never
// restarted while the previous guest still runs (upstream's name).
inline constexpr const char* kVmiFinalizer = "foregroundDeleteVirtualMachine";
// Resource the handler's device plugin advertises on nodes with a usable /dev/kvm.
inline constexpr const char* kKvmResource = "devices.kubevirt.io/kvm";
// Node labels (upstream's names): the handler's heartbeat sets the first ("true"; the controller
// sets "false" when the heartbeat stops), its node labeller the others ("true").
inline constexpr const char* kSchedulableLabel = "kubevirt.io/schedulable";
inline constexpr const char* kCpuModelLabelPrefix = "cpu-model.node.kubevirt.io/";
inline constexpr const char* kCpuFeatureLabelPrefix = "cpu-feature.node.kubevirt.io/";

// Paths inside the launcher container (docs/controller.md "Launcher contract").
inline constexpr const char* kSocketDir = "/var/run/kubevirt-cpp/sockets";
inline constexpr const char* kEphemeralDir = "/var/run/kubevirt-cpp/ephemeral";
inline constexpr const char* kContainerDiskDir = "/var/run/kubevirt-cpp/container-disks";
inline constexpr const char* kKernelBootDir = "/var/run/kubevirt-cpp/kernel-boot";
inline constexpr const char* kPvcDir = "/var/run/kubevirt-cpp/vmi-disks";
inline constexpr const char* kConfigMapDir = "/var/run/kubevirt-cpp/config-maps";
inline constexpr const char* kSecretDir = "/var/run/kubevirt-cpp/secrets";
inline constexpr const char* kServiceAccountDir = "/var/run/kubevirt-cpp/service-account";
inline constexpr const char* kDownwardApiDir = "/var/run/kubevirt-cpp/downward-api";
inline constexpr const char* kSysprepDir = "/var/run/kubevirt-cpp/sysprep";
inline constexpr const char* kHelperDir = "/var/run/kubevirt-cpp/helper";
// The static busybox the launcher image ships; copied into the pod to unpack containerDisks.
inline constexpr const char* kImageBusybox = "/usr/libexec/kubevirt-cpp/busybox";
inline constexpr int64_t kLauncherUid = 107;

// Memory the guest sees: domain.memory.guest, else resources.requests.memory, else
// resources.limits.memory. Errc::invalid naming the field when none is set or it is not > 0.
core::Result<int64_t> guest_memory_bytes(const api::v1::VirtualMachineInstanceSpec& spec);

// Why `ref` is not an image reference the kubelet accepts (distribution/reference's grammar, the
// kubelet's InvalidImageName), in distribution's words; nullopt when it is one.
std::optional<std::string> image_reference_problem(std::string_view ref);

// vCPUs: sockets * cores * threads (each 1 when absent).
int64_t vcpu_count(const api::v1::VirtualMachineInstanceSpec& spec);

// The memory a launcher pod needs besides guest RAM (docs/controller.md "Memory overhead"):
//   base + per_vcpu * vCPUs + ceil(guest / 512) [page tables]
//   + emulation (when use_emulation: TCG translation buffers)
//   + graphics (when a graphics device is attached: video RAM)
// rounded up to a whole MiB.
int64_t memory_overhead_bytes(const api::v1::VirtualMachineInstanceSpec& spec, int64_t guest_bytes,
                              const Config& cfg);

// "virt-launcher-<vmi name>-<5 chars derived from the VMI uid>": deterministic, so the API server
// itself refuses a second launcher pod for the same VMI (AlreadyExists), even across a controller
// restart or a stale cache. The VMI name is shortened when the whole would exceed 253 characters.
std::string launcher_pod_name(const api::v1::VirtualMachineInstance& vmi);

// What the controller knows about the cluster's nodes when it renders a pod (its Node informer).
struct NodeFacts {
  // Some node that takes VMs advertises devices.kubevirt.io/kvm (node_offers_kvm).
  bool kvm_available = false;
};

// True when the node takes launcher pods (label kubevirt.io/schedulable=true, not
// spec.unschedulable) and has devices.kubevirt.io/kvm > 0 in status.allocatable.
bool node_offers_kvm(const core::json::Value& node);

// Whether the launcher pod requests devices.kubevirt.io/kvm (docs/controller.md "KVM or
// emulation"): always without emulation, as upstream; with emulation allowed only when some node
// offers KVM, so a VM gets KVM where the cluster has it and still runs (TCG) where it has none.
bool requests_kvm(const Config& cfg, const NodeFacts& nodes);

// The nodeSelector entries a VMI needs beyond its own and the config's (upstream's
// nodeselectorrenderer): kubevirt.io/schedulable=true; for a named spec.domain.cpu.model (not
// host-model or host-passthrough) cpu-model.node.kubevirt.io/<model>=true; for each
// spec.domain.cpu.features[] with policy require (or none)
// cpu-feature.node.kubevirt.io/<name>=true.
std::map<std::string, std::string> required_node_labels(
    const api::v1::VirtualMachineInstanceSpec& spec);

// The pod to create for vmi. vmi must have metadata.name, namespace and uid. Fails
// (Errc::invalid / unsupported, naming the field) when the spec cannot be run: no memory, a
// containerDisk path that is not absolute.
core::Result<core::json::Document> render_launcher_pod(const api::v1::VirtualMachineInstance& vmi,
                                                       const Config& cfg,
                                                       const NodeFacts& nodes = {});

}  // namespace kv::controller
