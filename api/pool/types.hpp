#pragma once
// pool.kubevirt.io/v1beta1 VirtualMachinePool (`vmpool`, `vmpools`): N VirtualMachines named
// <pool>-<ordinal> from one template, with upstream KubeVirt's names and meaning
// (docs/replicas.md). Types and their Describe tables (walked by the codec and the CRD generator
// like api/v1/fields.hpp's); the functions over them are in pool.hpp.
//
// Served: replicas, selector, virtualMachineTemplate, paused. Upstream's nameGeneration,
// scaleInStrategy, updateStrategy and autohealing are decoded so validation can refuse them by
// name and say why (pool.hpp); maxUnavailable is not a field here, so it is refused as unknown.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "api/v1/describe.hpp"
#include "api/v1/replicaset.hpp"
#include "api/v1/types.hpp"

namespace kv::api::pool {

inline constexpr std::string_view kGroup = "pool.kubevirt.io";
inline constexpr std::string_view kVersion = "v1beta1";
inline constexpr std::string_view kApiVersion = "pool.kubevirt.io/v1beta1";
inline constexpr std::string_view kVirtualMachinePoolKind = "VirtualMachinePool";

struct VirtualMachineTemplateSpec {
  std::optional<v1::ObjectMeta> metadata;  // labels and annotations of the VMs
  v1::VirtualMachineSpec spec;
  bool operator==(const VirtualMachineTemplateSpec&) const = default;
};

struct VirtualMachinePoolSpec {
  std::optional<int32_t> replicas;  // default 1
  v1::LabelSelector selector;       // required
  VirtualMachineTemplateSpec virtual_machine_template;
  std::optional<bool> paused;
  // Upstream's, refused by validation (not served yet).
  std::optional<v1::RawJson> name_generation;
  std::optional<v1::RawJson> scale_in_strategy;
  std::optional<v1::RawJson> update_strategy;
  std::optional<v1::RawJson> autohealing;
  bool operator==(const VirtualMachinePoolSpec&) const = default;
};

struct VirtualMachinePoolStatus {
  std::optional<int32_t> replicas;
  std::optional<int32_t> ready_replicas;
  std::vector<v1::Condition> conditions;  // ReplicaFailure, ReplicaPaused
  std::optional<std::string> label_selector;
  bool operator==(const VirtualMachinePoolStatus&) const = default;
};

struct VirtualMachinePool {
  std::string api_version{kApiVersion};
  std::string kind{kVirtualMachinePoolKind};
  v1::ObjectMeta metadata;
  VirtualMachinePoolSpec spec;
  std::optional<VirtualMachinePoolStatus> status;
  bool operator==(const VirtualMachinePool&) const = default;
};

}  // namespace kv::api::pool

namespace kv::api::v1 {

template <>
struct Describe<pool::VirtualMachineTemplateSpec> {
  static constexpr std::string_view doc = "The VirtualMachines to create.";
  static constexpr auto fields =
      std::make_tuple(field("metadata", &pool::VirtualMachineTemplateSpec::metadata,
                            "Labels and annotations of the VMs."),
                      field("spec", &pool::VirtualMachineTemplateSpec::spec, "The VMs' spec."));
};

template <>
struct Describe<pool::VirtualMachinePoolSpec> {
  static constexpr std::string_view doc = "The desired pool.";
  static constexpr auto fields = std::make_tuple(
      field("replicas", &pool::VirtualMachinePoolSpec::replicas,
            "Number of desired VMs (default 1)."),
      field("selector", &pool::VirtualMachinePoolSpec::selector,
            "Selects the VMs of this pool; must match the template's labels."),
      field("virtualMachineTemplate", &pool::VirtualMachinePoolSpec::virtual_machine_template,
            "The VMs to create, named <pool>-<ordinal>."),
      field("paused", &pool::VirtualMachinePoolSpec::paused,
            "Stop creating and deleting VMs while true."),
      field("nameGeneration", &pool::VirtualMachinePoolSpec::name_generation,
            "Not supported yet (refused)."),
      field("scaleInStrategy", &pool::VirtualMachinePoolSpec::scale_in_strategy,
            "Not supported yet (refused): scale-in removes the highest ordinals first."),
      field("updateStrategy", &pool::VirtualMachinePoolSpec::update_strategy,
            "Not supported yet (refused)."),
      field("autohealing", &pool::VirtualMachinePoolSpec::autohealing,
            "Not supported yet (refused)."));
};

template <>
struct Describe<pool::VirtualMachinePoolStatus> {
  static constexpr std::string_view doc = "Observed state of the pool.";
  static constexpr auto fields = std::make_tuple(
      field("replicas", &pool::VirtualMachinePoolStatus::replicas, "VMs of the pool."),
      field("readyReplicas", &pool::VirtualMachinePoolStatus::ready_replicas,
            "Those of them that are Ready."),
      field("conditions", &pool::VirtualMachinePoolStatus::conditions,
            "ReplicaFailure, ReplicaPaused."),
      field("labelSelector", &pool::VirtualMachinePoolStatus::label_selector,
            "The selector in canonical form, for the scale subresource."));
};

template <>
struct Describe<pool::VirtualMachinePool> {
  static constexpr std::string_view doc = "A pool of VirtualMachines named <pool>-<ordinal>.";
  static constexpr auto fields = std::make_tuple(
      field("apiVersion", &pool::VirtualMachinePool::api_version, "pool.kubevirt.io/v1beta1"),
      field("kind", &pool::VirtualMachinePool::kind, "VirtualMachinePool"),
      field("metadata", &pool::VirtualMachinePool::metadata, "Standard object metadata."),
      field("spec", &pool::VirtualMachinePool::spec, "The desired pool."),
      field("status", &pool::VirtualMachinePool::status, "Observed state."));
};

}  // namespace kv::api::v1
