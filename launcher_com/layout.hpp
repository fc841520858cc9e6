#pragma once
// Where virt-launcher and virt-handler meet on the node: names inside the launcher pod's
// directories that both sides use.

namespace kv::launcher_com {

// The launcher's command socket, inside its --socket-dir.
inline constexpr const char* kCommandSocketName = "launcher.sock";
// libvirt's QEMU capabilities cache below its XDG_CACHE_HOME. The launcher makes it at start;
// virt-handler copies the node's file into it before the first sync.
inline constexpr const char* kLibvirtCapabilitiesSubdir = "libvirt/qemu/cache/capabilities";

}  // namespace kv::launcher_com
