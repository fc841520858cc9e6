#pragma once
// Validation of instancetypes, preferences and a VM's matchers, as pure functions.
//
// The members we cannot honour yet (types.hpp says which) are refused with the reason, never
// accepted and ignored. One table (rules()) drives both the pure checks below and the CRDs'
// x-kubernetes-validations (crd.cpp), so the API server refuses them for every client, e.g.
//   spec.cpu.dedicatedCPUPlacement: Invalid value: "boolean": not supported: ...

#include <string>
#include <string_view>
#include <vector>

#include "api/instancetype/types.hpp"
#include "api/v1/codec.hpp"
#include "api/v1/types.hpp"

namespace kv::api::instancetype {

using v1::FieldErrors;

// A value rule on one member, relative to spec: `parent` is the JSON path of the object that
// holds it ("" for spec itself, "cpu", "devices", ...).
struct Rule {
  enum class When {
    present,   // refused when set at all
    is_true,   // refused when true (false is what we do anyway)
    nonempty,  // a list refused when it has items
  };
  std::string_view parent;
  std::string_view field;
  When when;
  std::string_view message;  // "not supported: <why>"
};

const std::vector<Rule>& instancetype_rules();
const std::vector<Rule>& preference_rules();

// Every problem with its path (`path` is "spec" for an object's spec).
FieldErrors validate(const VirtualMachineInstancetypeSpec& spec, const std::string& path);
FieldErrors validate(const VirtualMachinePreferenceSpec& spec, const std::string& path);

// spec.instancetype and spec.preference of a VM: a name, a kind we serve, no inferFromVolume.
FieldErrors validate_matchers(const v1::VirtualMachineSpec& spec);

// The kinds a matcher names, as upstream accepts them: the kind, or its resource names in any
// case. Empty for the default (the cluster kind).
bool is_namespaced_instancetype_kind(std::string_view kind);
bool is_cluster_instancetype_kind(std::string_view kind);  // "" included
bool is_namespaced_preference_kind(std::string_view kind);
bool is_cluster_preference_kind(std::string_view kind);  // "" included

}  // namespace kv::api::instancetype
