#pragma once
// JSON codec for instancetype.kubevirt.io/v1beta1 objects: strict decoding with JSON paths, as
// api/v1/codec.hpp does for kubevirt.io/v1 (same machinery, api/v1/codec_generic.hpp).

#include <string>

#include "api/instancetype/types.hpp"
#include "api/v1/codec.hpp"
#include "core/json.hpp"
#include "core/result.hpp"

namespace kv::api::instancetype {

using v1::FieldError;
using v1::FieldErrors;

core::Result<VirtualMachineInstancetype> decode_instancetype(const core::json::Value& v);
core::Result<VirtualMachineClusterInstancetype> decode_cluster_instancetype(
    const core::json::Value& v);
core::Result<VirtualMachinePreference> decode_preference(const core::json::Value& v);
core::Result<VirtualMachineClusterPreference> decode_cluster_preference(const core::json::Value& v);

// The spec of an instancetype object of either kind (VirtualMachineInstancetype or
// VirtualMachineClusterInstancetype, by its "kind"), as the API server or a ControllerRevision's
// data holds it. Collecting form: every problem goes to errors with its path.
VirtualMachineInstancetypeSpec decode_instancetype_spec_of(const core::json::Value& obj,
                                                           FieldErrors& errors);
VirtualMachinePreferenceSpec decode_preference_spec_of(const core::json::Value& obj,
                                                       FieldErrors& errors);

core::json::Value encode(const VirtualMachineInstancetypeSpec& spec, core::json::Allocator& a);
core::json::Value encode(const VirtualMachinePreferenceSpec& spec, core::json::Allocator& a);
core::json::Value encode(const VirtualMachineClusterInstancetype& obj, core::json::Allocator& a);
core::json::Value encode(const VirtualMachineInstancetype& obj, core::json::Allocator& a);
core::json::Value encode(const VirtualMachineClusterPreference& obj, core::json::Allocator& a);
core::json::Value encode(const VirtualMachinePreference& obj, core::json::Allocator& a);

}  // namespace kv::api::instancetype
