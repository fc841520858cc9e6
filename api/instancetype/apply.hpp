#pragma once
// How a VM's instancetype and preference shape the VMI, as upstream applies them
// (pkg/instancetype/apply, pkg/instancetype/preference/apply), as pure functions shared by
// virt-controller (expanding the VMI it creates) and virt-api (refusing conflicts).
//
// The instancetype wins: it sets CPU (guest vCPUs laid out by the preference's
// preferredCPUTopology, model), memory (guest, and the pod's request under overcommitPercent),
// nodeSelector, schedulerName and annotations; a VM that sets any of these itself conflicts, and
// nothing is applied then. The preference only fills what the VM leaves unset (disk and CD-ROM
// bus, interface model and masquerade binding, autoattach flags, firmware, machine type,
// subdomain, termination grace period, annotations).

#include <string>

#include "api/instancetype/types.hpp"
#include "api/v1/codec.hpp"
#include "api/v1/types.hpp"

namespace kv::api::instancetype {

// Upstream's annotations on the VMI naming what it was made with.
inline constexpr std::string_view kInstancetypeAnnotation = "kubevirt.io/instancetype-name";
inline constexpr std::string_view kClusterInstancetypeAnnotation =
    "kubevirt.io/cluster-instancetype-name";
inline constexpr std::string_view kPreferenceAnnotation = "kubevirt.io/preference-name";
inline constexpr std::string_view kClusterPreferenceAnnotation =
    "kubevirt.io/cluster-preference-name";

// Applies both to spec and annotations (the VMI's, or the VM template's). path is where spec
// lives ("spec.template.spec" for a VM, "spec" for a VMI). Returns the conflicts, one per field,
// worded as upstream: "VM field(s) <path> conflicts with selected instance type"; with any
// conflict spec and annotations are left as they were. Either pointer may be null.
v1::FieldErrors apply_to_vmi(const VirtualMachineInstancetypeSpec* instancetype,
                             const VirtualMachinePreferenceSpec* preference,
                             v1::VirtualMachineInstanceSpec& spec, v1::StringMap& annotations,
                             const std::string& path);

// The preference's requirements against what the VM (after apply_to_vmi) provides; upstream's
// wording: "failure checking preference requirements: insufficient CPU resources of 1 vCPU
// provided by instance type, preference requires 2 vCPU" at spec.instancetype (or the VM's
// cpu/memory field when there is no instancetype).
v1::FieldErrors check_requirements(const VirtualMachineInstancetypeSpec* instancetype,
                                   const VirtualMachinePreferenceSpec& preference,
                                   const v1::VirtualMachineInstanceSpec& spec);

// The annotations upstream puts on the VMI: kubevirt.io/[cluster-]instancetype-name and
// kubevirt.io/[cluster-]preference-name, by the matchers' kinds.
void annotate(const v1::VirtualMachineSpec& vm, v1::StringMap& annotations);

}  // namespace kv::api::instancetype
