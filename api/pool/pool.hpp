#pragma once
// VirtualMachinePool's codec, validation, admission and CRD (types in types.hpp).

#include <string>

#include "api/pool/types.hpp"
#include "api/v1/codec.hpp"
#include "api/v1/validation.hpp"
#include "core/json.hpp"
#include "core/result.hpp"

namespace kv::api::pool {

core::Result<VirtualMachinePool> decode_pool(const core::json::Value& v);
VirtualMachinePool decode_pool(const core::json::Value& v, v1::FieldErrors& errors);
core::json::Value encode(const VirtualMachinePool& p, core::json::Allocator& a);
core::json::Value encode(const VirtualMachinePoolStatus& s, core::json::Allocator& a);

// Upstream's rules: a valid selector that matches spec.virtualMachineTemplate.metadata.labels
// ("selector does not match labels."), the template by the VirtualMachine rules (paths under
// spec.virtualMachineTemplate.spec), spec.replicas >= 0; and the fields not served refused by
// name.
v1::FieldErrors validate(const VirtualMachinePool& p);
// An update must keep spec.selector (immutable, as upstream) and spec.virtualMachineTemplate (the
// VMs of a pool are not updated to a new template yet, so a change would be accepted and ignored).
v1::FieldErrors validate_update(const VirtualMachinePool& p, const VirtualMachinePool& old);
// decode + validate (+ validate_update when old is given and decodes).
v1::Admission admit(const core::json::Value& manifest, const core::json::Value* old = nullptr);

core::json::Document virtual_machine_pool_crd();

}  // namespace kv::api::pool
