#pragma once
// The seccomp profile of launcher pods, which virt-handler installs on its node (as upstream:
// <kubelet root>/seccomp/kubevirt/kubevirt.json) and launcher pods reference as
// `seccompProfile: {type: Localhost, localhostProfile: kubevirt/kubevirt.json}`.
//
// Least privilege: containerd 1.6's RuntimeDefault allowlist (for a container without
// CAP_SYS_ADMIN; what libvirtd and QEMU already run under), plus exactly what passt needs to
// sandbox itself in a user namespace: unshare (CLONE_NEWUSER, then NEWNS|NEWIPC|NEWUTS|NEWPID),
// mount (/ unbindable, an empty tmpfs), pivot_root into it and umount2 of the old root. Those
// calls only have power inside the namespaces the process creates for itself; the pod keeps no
// capabilities and no_new_privs.
//
// Order: the kubelet reads the file when it creates the launcher's containers. A launcher pod
// that lands on the node before the file exists fails container creation (CreateContainerError,
// retried by the kubelet with back-off) until it appears; virt-handler writes it first thing at
// start, before it serves launchers or marks the node schedulable.

#include <string>

#include "core/result.hpp"

namespace kv::handler {

// Relative to the kubelet's seccomp directory; what launcher pods name as localhostProfile.
inline constexpr const char* kLauncherSeccompProfile = "kubevirt/kubevirt.json";

// The profile's JSON (deterministic: the same bytes for the same build).
std::string launcher_seccomp_profile();

// Writes <seccomp_dir>/kubevirt/kubevirt.json when it is missing or differs, atomically (a
// temporary file in the same directory, then rename), mode 0644. Returns whether it wrote.
core::Result<bool> install_seccomp_profile(const std::string& seccomp_dir);

}  // namespace kv::handler
