#pragma once
// kubevirt.io/v1 VirtualMachineInstanceReplicaSet (`vmirs`, `vmirss`): N interchangeable VMIs from
// one template, with upstream KubeVirt's names and meaning (docs/replicas.md). Also the
// metav1.LabelSelector both it and pool.kubevirt.io's VirtualMachinePool (api/pool/) select with.
//
// The types, their Describe tables (the codec and the CRD generator walk them, as fields.hpp's),
// the selector's matching and canonical text, validation and the CRD.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "api/v1/codec.hpp"
#include "api/v1/describe.hpp"
#include "api/v1/types.hpp"
#include "api/v1/validation.hpp"
#include "core/json.hpp"

namespace kv::api::v1 {

inline constexpr std::string_view kVirtualMachineInstanceReplicaSetKind =
    "VirtualMachineInstanceReplicaSet";

// ---------------------------------------------------------------------------------------------
// metav1.LabelSelector
enum class LabelSelectorOperator { in, not_in, exists, does_not_exist };

struct LabelSelectorRequirement {
  std::string key;
  LabelSelectorOperator operator_ = LabelSelectorOperator::in;  // JSON "operator"
  std::vector<std::string> values;
  bool operator==(const LabelSelectorRequirement&) const = default;
};

// Empty (no labels, no expressions) selects everything, as Kubernetes' LabelSelectorAsSelector.
struct LabelSelector {
  StringMap match_labels;
  std::vector<LabelSelectorRequirement> match_expressions;
  bool operator==(const LabelSelector&) const = default;
};

// Whether labels satisfy every matchLabels entry and every expression.
bool selector_matches(const LabelSelector& s, const StringMap& labels);
// Kubernetes' canonical text (status.labelSelector, what `kubectl scale` and the HPA read):
// requirements sorted by key, "k=v", "k in (a,b)", "k notin (a,b)", "k", "!k", joined by ",".
std::string selector_string(const LabelSelector& s);
// Operators' value rules (In/NotIn need values, Exists/DoesNotExist take none) and key syntax.
FieldErrors validate_selector(const LabelSelector& s, const std::string& path);

// ---------------------------------------------------------------------------------------------
// VirtualMachineInstanceReplicaSet
struct VirtualMachineInstanceReplicaSetSpec {
  std::optional<int32_t> replicas;               // default 1
  LabelSelector selector;                        // required
  VirtualMachineInstanceTemplateSpec template_;  // JSON "template"
  std::optional<bool> paused;
  bool operator==(const VirtualMachineInstanceReplicaSetSpec&) const = default;
};

struct VirtualMachineInstanceReplicaSetStatus {
  std::optional<int32_t> replicas;
  std::optional<int32_t> ready_replicas;
  std::vector<Condition> conditions;  // ReplicaFailure, ReplicaPaused
  std::optional<std::string> label_selector;
  bool operator==(const VirtualMachineInstanceReplicaSetStatus&) const = default;
};

struct VirtualMachineInstanceReplicaSet {
  std::string api_version{kApiVersion};
  std::string kind{kVirtualMachineInstanceReplicaSetKind};
  ObjectMeta metadata;
  VirtualMachineInstanceReplicaSetSpec spec;
  std::optional<VirtualMachineInstanceReplicaSetStatus> status;
  bool operator==(const VirtualMachineInstanceReplicaSet&) const = default;
};

// ---------------------------------------------------------------------------------------------
// Descriptions
using namespace std::string_view_literals;

template <>
struct EnumNames<LabelSelectorOperator> {
  static constexpr std::array values = {
      std::pair{LabelSelectorOperator::in, "In"sv},
      std::pair{LabelSelectorOperator::not_in, "NotIn"sv},
      std::pair{LabelSelectorOperator::exists, "Exists"sv},
      std::pair{LabelSelectorOperator::does_not_exist, "DoesNotExist"sv},
  };
};

template <>
struct Describe<LabelSelectorRequirement> {
  static constexpr std::string_view doc = "A label key, an operator and values.";
  static constexpr auto fields = std::make_tuple(
      field("key", &LabelSelectorRequirement::key, "The label key."),
      field("operator", &LabelSelectorRequirement::operator_, "In, NotIn, Exists or DoesNotExist."),
      field("values", &LabelSelectorRequirement::values,
            "Values for In and NotIn (not empty); empty for Exists and DoesNotExist."));
};

template <>
struct Describe<LabelSelector> {
  static constexpr std::string_view doc =
      "A label query; all of matchLabels and matchExpressions must hold. Empty selects all.";
  static constexpr auto fields = std::make_tuple(
      field("matchLabels", &LabelSelector::match_labels, "Labels that must be present as given."),
      field("matchExpressions", &LabelSelector::match_expressions, "Label requirements."));
};

template <>
struct Describe<VirtualMachineInstanceReplicaSetSpec> {
  static constexpr std::string_view doc = "The desired replica set.";
  static constexpr auto fields = std::make_tuple(
      field("replicas", &VirtualMachineInstanceReplicaSetSpec::replicas,
            "Number of desired VMIs (default 1)."),
      field("selector", &VirtualMachineInstanceReplicaSetSpec::selector,
            "Selects the VMIs of this replica set; must match the template's labels."),
      field("template", &VirtualMachineInstanceReplicaSetSpec::template_, "The VMIs to create."),
      field("paused", &VirtualMachineInstanceReplicaSetSpec::paused,
            "Stop creating and deleting VMIs while true."));
};

template <>
struct Describe<VirtualMachineInstanceReplicaSetStatus> {
  static constexpr std::string_view doc = "Observed state of the replica set.";
  static constexpr auto fields = std::make_tuple(
      field("replicas", &VirtualMachineInstanceReplicaSetStatus::replicas,
            "VMIs selected that are neither final nor being deleted."),
      field("readyReplicas", &VirtualMachineInstanceReplicaSetStatus::ready_replicas,
            "Those of them that are Ready."),
      field("conditions", &VirtualMachineInstanceReplicaSetStatus::conditions,
            "ReplicaFailure, ReplicaPaused."),
      field("labelSelector", &VirtualMachineInstanceReplicaSetStatus::label_selector,
            "The selector in canonical form, for the scale subresource."));
};

template <>
struct Describe<VirtualMachineInstanceReplicaSet> {
  static constexpr std::string_view doc = "A set of identical VMIs kept at a given number.";
  static constexpr auto fields = std::make_tuple(
      field("apiVersion", &VirtualMachineInstanceReplicaSet::api_version, "kubevirt.io/v1"),
      field("kind", &VirtualMachineInstanceReplicaSet::kind, "VirtualMachineInstanceReplicaSet"),
      field("metadata", &VirtualMachineInstanceReplicaSet::metadata, "Standard object metadata."),
      field("spec", &VirtualMachineInstanceReplicaSet::spec, "The desired replica set."),
      field("status", &VirtualMachineInstanceReplicaSet::status, "Observed state."));
};

// ---------------------------------------------------------------------------------------------
// Codec, validation, admission, CRD.
core::Result<VirtualMachineInstanceReplicaSet> decode_replica_set(const core::json::Value& v);
VirtualMachineInstanceReplicaSet decode_replica_set(const core::json::Value& v,
                                                    FieldErrors& errors);
core::json::Value encode(const VirtualMachineInstanceReplicaSet& rs, core::json::Allocator& a);
core::json::Value encode(const VirtualMachineInstanceReplicaSetStatus& s, core::json::Allocator& a);
core::json::Value encode(const LabelSelector& s, core::json::Allocator& a);

// Upstream's rules: spec.replicas >= 0, a valid selector that matches
// spec.template.metadata.labels ("selector does not match labels."), the template's spec by the
// VMI rules (validate_spec, paths under spec.template.spec), after the VMI defaults.
FieldErrors validate(const VirtualMachineInstanceReplicaSet& rs);
// decode + validate; `defaulted` holds the object as given (VMIRS has no defaulting webhook).
Admission admit_replica_set(const core::json::Value& manifest);

core::json::Document virtual_machine_instance_replica_set_crd();

}  // namespace kv::api::v1
