#pragma once
// The CustomResourceDefinitions of instancetype.kubevirt.io/v1beta1, generated from fields.hpp
// like kubevirt.io/v1's (api/v1/crd_generic.hpp), with upstream's names, short names, scopes and
// categories. validation.hpp's rules become x-kubernetes-validations on the schema, so a member
// we cannot honour is refused by the API server for every client, with its path and the reason.
// api/v1/crd.cpp lists them in generate_crds(), so kv-crdgen writes them to manifests/crds/.

#include "core/json.hpp"

namespace kv::api::instancetype {

core::json::Document instancetype_crd();          // VirtualMachineInstancetype
core::json::Document cluster_instancetype_crd();  // VirtualMachineClusterInstancetype
core::json::Document preference_crd();            // VirtualMachinePreference
core::json::Document cluster_preference_crd();    // VirtualMachineClusterPreference

}  // namespace kv::api::instancetype
