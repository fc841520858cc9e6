#pragma once
// The node labeller (upstream's pkg/virt-handler/node-labeller, x86 part): labels the Node with
// the CPU models and features this node's QEMU can give a guest, so virt-controller's node
// selectors (controller/pod_render.hpp required_node_labels) put a VMI that names a CPU model or
// feature only where it can run.
//
// Where the data comes from: upstream asks libvirt (`virsh domcapabilities`) in an init container.
// virt-handler's image has neither libvirt nor QEMU, so its init container `node-labeller` (from
// the launcher image, manifests/virt-handler.yaml) asks QEMU itself over QMP, as libvirt does to
// fill domcapabilities:
//   qemu-system-x86_64 -machine none,accel=kvm:tcg -qmp stdio  <<<  qmp_capabilities,
//   query-kvm, query-cpu-definitions, query-cpu-model-expansion(full, "max"), quit
// and writes QEMU's answers (one JSON object a line) to <dir>/qmp.jsonl, with libvirt's feature
// names (/usr/share/libvirt/cpu_map/x86_features.xml) as <dir>/x86_features.xml.
//
// Labels (all "true"):
//   cpu-model.node.kubevirt.io/<model>    each CPU model QEMU reports usable on this accelerator
//                                         (no unavailable features), except max/host/base and
//                                         upstream's obsolete models (486, pentium*, qemu64, ...)
//   cpu-feature.node.kubevirt.io/<name>   each feature of the "max" CPU (= the host's under KVM,
//                                         what TCG emulates under TCG), by its libvirt name, when
//                                         libvirt knows the feature
// The accelerator is KVM when QEMU could use /dev/kvm (query-kvm enabled), else TCG: the labels
// then say what a launcher running under TCG can give. Not labelled (docs/handler.md says why):
// host-model-cpu.node.kubevirt.io/*, host-model-required-features.node.kubevirt.io/* and
// cpu-vendor.node.kubevirt.io/* (libvirt's host-model CPU decoding), hyperv, TSC, SEV, machine
// types. KVM availability has no upstream label: the devices.kubevirt.io/kvm resource is it.
//
// Ownership: labels under the prefixes above are the labeller's (as upstream); one of them that no
// longer holds is removed, and every other label of the Node is left alone.

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/json.hpp"
#include "core/kube/client.hpp"
#include "core/result.hpp"

namespace kv::handler {

inline constexpr const char* kCpuModelLabelPrefix = "cpu-model.node.kubevirt.io/";
inline constexpr const char* kCpuFeatureLabelPrefix = "cpu-feature.node.kubevirt.io/";
inline constexpr const char* kHostModelCpuLabelPrefix = "host-model-cpu.node.kubevirt.io/";
inline constexpr const char* kHostModelRequiredFeaturesLabelPrefix =
    "host-model-required-features.node.kubevirt.io/";
// The files the init container writes into the labeller's directory.
inline constexpr const char* kQmpCapabilitiesFile = "qmp.jsonl";
inline constexpr const char* kLibvirtFeaturesFile = "x86_features.xml";
// Written by the init container when /dev/kvm exists but a real KVM boot of the firmware ended
// in "KVM internal error" (seen on nested hosts without the CPU features KVM needs): the QMP
// query then ran under TCG, and the kvm device plugin offers nothing (deviceplugin::Options).
inline constexpr const char* kKvmUnusableFile = "kvm-unusable";

// What QEMU said about this host.
struct HostCpu {
  std::string accelerator;                 // "kvm" or "tcg"
  std::vector<std::string> usable_models;  // in QEMU's order, max/host/base left out
  std::set<std::string> features;          // QEMU property names of "max" that are on
};

// Parses the QMP transcript (one JSON object a line: greeting, returns, events). Errc::parse
// when a line is not JSON or the CPU definitions or the expansion are missing.
core::Result<HostCpu> parse_qmp_transcript(std::string_view text);

// The feature names of libvirt's cpu_map/x86_features.xml (<feature name='...'>).
std::set<std::string> parse_libvirt_feature_names(std::string_view xml);

// QEMU's name of a CPU feature as libvirt spells it (libvirt's translation table: "lahf-lm" ->
// "lahf_lm", "pclmulqdq" -> "pclmuldq", ...); other names unchanged.
std::string libvirt_feature_name(std::string_view qemu_name);

// Upstream's default obsoleteCPUModels (kubevirt pkg/virt-handler/node-labeller/util).
const std::set<std::string>& default_obsolete_cpu_models();

// The labels for `cpu` (features only those libvirt knows, when `libvirt_features` is not empty).
std::map<std::string, std::string> cpu_labels(const HostCpu& cpu,
                                              const std::set<std::string>& libvirt_features,
                                              const std::set<std::string>& obsolete);

// True for a label under the labeller's prefixes.
bool labeller_owns(std::string_view label);

// The merge patch taking `node`'s labels to `want` for the labeller's labels: sets what is
// missing or different, removes (null) owned labels not in `want`; nullopt when nothing changes.
std::optional<std::string> node_label_patch(const core::json::Value& node,
                                            const std::map<std::string, std::string>& want);

// Reads <dir>/qmp.jsonl and <dir>/x86_features.xml (optional) into labels. Errc::not_found when
// the transcript is missing (the init container did not run), Errc::parse when it is unreadable.
core::Result<std::map<std::string, std::string>> labels_from_dir(const std::string& dir);

// GETs the Node and patches its labels to `want` when they differ. Returns whether it patched.
core::Result<bool> apply_node_labels(core::kube::KubeClient& client, const std::string& node,
                                     const std::map<std::string, std::string>& want);

}  // namespace kv::handler
