#pragma once
// What a VMI's probes turn into, shared by validation (which refuses what cannot be resolved) and
// the launcher pod render (controller/pod_render: the compute container's probes).

#include <cstdint>
#include <optional>

#include "api/v1/types.hpp"

namespace kv::api::v1 {

// The interface the probes reach the guest through: the one on the pod network; nullptr if none.
const Interface* probed_interface(const VirtualMachineInstanceSpec& spec);

// A probe's port as a number: the number itself, or the port of the interface's ports[] entry of
// that name (TCP). nullopt when the name matches no TCP port.
std::optional<int32_t> resolve_probe_port(const IntOrString& port, const Interface& iface);

}  // namespace kv::api::v1
