#pragma once
// Labels on launcher pods that clients outside this add-on select by, with upstream KubeVirt's
// names and values, so that Services made by any virtctl (ours or upstream's `expose`) select a
// VM's launcher pod.

#include <string>
#include <string_view>

namespace kv::addon {

// On every launcher pod: vmi_id(VMI name). Upstream's v1.VirtualMachineInstanceIDLabel, meant for
// Service selectors.
inline constexpr const char* kVmiIdLabel = "vmi.kubevirt.io/id";

// Upstream's apimachinery.CalculateVirtualMachineInstanceID: the name itself when it fits a label
// value (at most 63 characters), else its first 54 characters, '-', and the first 8 hex digits
// of the SHA-1 of the whole name. A VM's VMI has the VM's name, so vmi_id(VM name) selects it.
std::string vmi_id(std::string_view vmi_name);

}  // namespace kv::addon
