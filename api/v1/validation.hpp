#pragma once
// Validation of kubevirt.io/v1 objects as pure functions: every rule KubeVirt's validating webhook
// applies to the fields we support, plus the rejections of what we do not support yet. Each
// problem is a FieldError naming the JSON path and what is allowed, e.g.
//   spec.template.spec.domain.devices.disks[1].name: "data" has no matching volume
// Validation expects a decoded object (codec.hpp) and is meant to run after defaulting, as
// admission does; it is total (never crashes on an undefaulted spec).

#include <string>

#include "api/v1/codec.hpp"
#include "api/v1/types.hpp"

namespace kv::api::v1 {

FieldErrors validate(const VirtualMachineInstance& vmi);
FieldErrors validate(const VirtualMachine& vm);
// The spec alone; paths start with `path` ("spec" for a VMI, "spec.template.spec" for a VM).
FieldErrors validate_spec(const VirtualMachineInstanceSpec& spec, const std::string& path);

// What an admission pass over one manifest gives: decode, default, validate.
struct Admission {
  std::string kind;  // "VirtualMachine", "VirtualMachineInstance", or what the document said
  std::string name;  // metadata.name (or generateName), "" when absent
  FieldErrors errors;
  core::json::Document defaulted;  // the defaulted object when errors is empty
};

// Accepts a VirtualMachine, VirtualMachineInstance, VirtualMachineInstanceReplicaSet,
// VirtualMachineInstanceMigration (as CREATE) or VirtualMachinePool document; any other kind is an
// error.
Admission admit(const core::json::Value& manifest);

}  // namespace kv::api::v1
