#pragma once
// The node's QEMU capabilities, handed to each launcher before its first sync, so the launcher's
// libvirtd does not probe QEMU itself (about 0.7 s of every start under TCG, more when several
// start at once; docs/performance.md).
//
// virt-handler's init container `libvirt-capabilities` runs the launcher image as a launcher runs
// (uid 107, no capabilities, no devices) with `virt-launcher --probe-capabilities`, which leaves
// libvirt's cache file under <node-labeller-dir>/libvirt-cache/. Before the first sync to a
// launcher, virt-handler copies that file into the launcher pod's libvirt cache (its `ephemeral`
// emptyDir, as the launcher lays it out). libvirt trusts the file only while it matches: the QEMU
// and libvirtd binaries' ctimes (the same image unpacked once on this node), their versions and
// /dev/kvm's accessibility; otherwise it probes as before. The file comes from the handler's own
// init container, never from another launcher pod, so one VM cannot influence another's libvirt.

#include <string>

#include "core/result.hpp"

namespace kv::handler {

// The launcher's XDG_CACHE_HOME below its --ephemeral-dir (launcher/libvirtd.cpp cache_dir_of).
inline constexpr const char* kLauncherLibvirtCacheSubdir = "libvirt/cache";
// The init container's cache below --node-labeller-dir.
inline constexpr const char* kNodeLibvirtCacheSubdir = "libvirt-cache";

// Copies every *.xml of `from_dir` into `<pod_ephemeral_dir>/libvirt/cache/` +
// launcher_com::kLibvirtCapabilitiesSubdir, mode 0644, unless a file of that name is there already
// (the launcher's own, or an earlier copy). The launcher makes that directory at start (owned by
// its uid, so its libvirt may still replace the file after a probe of its own); when it is missing
// nothing is copied. The directories are the pod's: none may be a symbolic link (the walk refuses
// one instead of following it), and files are created, never opened, so nothing outside the pod is
// written. Returns how many were copied; a missing from_dir copies nothing.
core::Result<int> seed_capabilities(const std::string& from_dir,
                                    const std::string& pod_ephemeral_dir);

}  // namespace kv::handler
