#pragma once
// The node devices virt-handler offers to the kubelet as extended resources, and the pure
// decisions about them: where a device is looked for, what the kubelet is told to put into a
// container (Allocate), and when a plugin registers (again). docs/handler.md "Device plugins".
//
// As upstream KubeVirt (pkg/virt-handler/device-manager, generic_device.go):
//   devices.kubevirt.io/kvm        /dev/kvm
//   devices.kubevirt.io/tun        /dev/net/tun    (opened once at start: loads the module)
//   devices.kubevirt.io/vhost-net  /dev/vhost-net  (opened once at start: loads the module)
// Each plugin advertises `max_devices` (1000) devices named <name><i>, all Healthy while the
// device node exists and all Unhealthy while it does not: node capacity stays 1000 and
// allocatable drops to 0. Any number of pods share the one device node.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "core/result.hpp"

namespace kv::handler::deviceplugin {

inline constexpr std::string_view kResourceNamespace = "devices.kubevirt.io";
// The API version this plugin speaks (RegisterRequest.version).
inline constexpr std::string_view kApiVersion = "v1beta1";
// The kubelet's registration socket, in the device-plugin directory.
inline constexpr std::string_view kKubeletSocket = "kubelet.sock";
inline constexpr std::string_view kHealthy = "Healthy";
inline constexpr std::string_view kUnhealthy = "Unhealthy";

struct DeviceKind {
  std::string name;  // "kvm": resource devices.kubevirt.io/kvm, socket kubevirt-kvm.sock
  std::string path;  // the device node on a node and in the container: "/dev/kvm"
  bool pre_open;     // open once at start so the kernel loads the module behind it
};

// kvm, tun, vhost-net, in that order.
const std::vector<DeviceKind>& permanent_devices();

struct Options {
  // The kubelet's device-plugin directory as this process sees it (kubelet.sock and the
  // plugins' sockets). Empty: no device plugins.
  std::string plugin_dir;
  // Test hook: the node directory under which dev/kvm, dev/net/tun, dev/vhost-net are looked
  // for; Allocate gives the kubelet <device_root>/dev/kvm as the host path (the container path
  // stays /dev/kvm). "/" on a real node.
  std::string device_root = "/";
  // Where this process sees the node's "/" (the manifest mounts the node's /dev at
  // <node_root>/dev). "/" when it runs in the node's mount namespace.
  std::string node_root = "/";
  int max_devices = 1000;  // devices per resource (upstream's --max-devices)
  // A file that, while it exists, says the node's KVM cannot run guests (written by the
  // node-labeller init container after a real KVM boot failed): kvm then counts as absent, so
  // no pod is given a /dev/kvm it cannot use. Empty: not checked.
  std::string kvm_unusable_file;
};

// An Error naming the flag and what is allowed.
core::Status validate(const Options& o);

// "<a>/<b>" with exactly one slash between them; "/" + "/dev/kvm" is "/dev/kvm".
std::string join_path(const std::string& a, const std::string& b);

// Where the node's device node of `kind` is: into Allocate's DeviceSpec.host_path.
std::string host_path(const Options& o, const DeviceKind& kind);
// Where this process finds it to see whether it exists.
std::string visible_path(const Options& o, const DeviceKind& kind);
// Whether the node offers kind: its device node exists (and, for kvm, KVM is not known unusable).
bool device_offered(const Options& o, const DeviceKind& kind);
// "devices.kubevirt.io/kvm"
std::string resource_name(const DeviceKind& kind);
// "kubevirt-kvm.sock", relative to the plugin directory (RegisterRequest.endpoint).
std::string socket_name(const DeviceKind& kind);

// The device cgroup permissions of DeviceSpec: "rwm" on a cgroup v2 node, "rw" on v1 (as
// upstream: with v2, runc's eBPF device filter also checks the mknod bit on access(2)).
std::string device_permissions(bool cgroup_v2);

struct Device {
  std::string id;
  std::string health;
  bool operator==(const Device&) const = default;
};
// The list ListAndWatch sends: `count` devices <name>0..<name><count-1>, each Healthy or not.
std::vector<Device> device_list(const DeviceKind& kind, int count, bool present);

struct DeviceSpec {
  std::string container_path;
  std::string host_path;
  std::string permissions;
  bool operator==(const DeviceSpec&) const = default;
};
// Allocate: one response per container request, each the one device node of `kind`, whatever
// device IDs were asked for (they all stand for the same node). Errc::invalid for an ID that is
// not one of this plugin's.
core::Result<std::vector<DeviceSpec>> allocate(const Options& o, const DeviceKind& kind,
                                               const std::string& permissions,
                                               const std::vector<std::vector<std::string>>& ids);

// GetPreferredAllocation for one container: the IDs that must be included, then the first
// available ones, `size` in all (fewer when there are not enough).
std::vector<std::string> preferred_allocation(const std::vector<std::string>& available,
                                              const std::vector<std::string>& must_include,
                                              int size);

// Registration, one plugin. The kubelet deletes every plugin socket when it starts: a socket
// that is gone means the kubelet restarted and forgot us, so the plugin serves on a new socket
// and registers again as soon as kubelet.sock is there.
//
//   [not serving] --start--> [serving, unregistered] --Register ok--> [registered]
//        ^                         |    ^  Register failed: retry after backoff |
//        +---- socket deleted -----+----+------------ socket deleted -----------+
struct RegistrationView {
  bool serving = false;          // our gRPC server runs
  bool socket_present = false;   // our socket file exists
  bool kubelet_present = false;  // kubelet.sock exists
  bool registered = false;       // the kubelet accepted our Register since the server started
  bool retry_due = true;         // the backoff after the last failed Register has passed
};
struct RegistrationStep {
  bool restart_server = false;  // stop the server (if serving) and serve on a fresh socket
  bool register_now = false;    // then call Register on kubelet.sock
  bool operator==(const RegistrationStep&) const = default;
};
RegistrationStep next_step(const RegistrationView& v);

// Wait after the n-th (1-based) failed Register in a row: 1s, 2s, 5s, then 10s (upstream's).
std::chrono::milliseconds register_backoff(int failures);

}  // namespace kv::handler::deviceplugin
