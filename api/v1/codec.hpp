#pragma once
// JSON codec for kubevirt.io/v1 objects (RapidJSON).
//
// Decoding is strict, as the API promises: an unknown field, a wrong JSON type, a bad enum value
// or quantity is reported with its JSON path and what is allowed, e.g.
//   spec.template.spec.domain.devices.disks[0].bsu: unknown field; allowed: name, disk, cdrom,
//   bootOrder, serial
// JSON null is read as "absent" (as Go's encoding/json does for pointers). Decoding checks types
// only; semantic rules (names match, one volume source, ...) are in validation.hpp.
// Encoding writes only what is set, with quantities in Kubernetes' canonical form, so for any
// object that decodes, json::equal(encode(decode(x)), x) holds when x uses canonical quantities.

#include <string>
#include <vector>

#include "api/v1/types.hpp"
#include "core/json.hpp"
#include "core/result.hpp"

namespace kv::api::v1 {

// One problem in a user's object: a JSON path ("spec.domain.devices.disks[1].name") and what is
// wrong with it, including what is allowed.
struct FieldError {
  std::string path;
  std::string message;
  std::string to_string() const { return path.empty() ? message : path + ": " + message; }
  bool operator==(const FieldError&) const = default;
};
using FieldErrors = std::vector<FieldError>;

// Folds field errors into one Error (Errc::invalid): the message lists every error, one per line,
// and each travels in the context as ("field_error", "path: message").
core::Error to_error(const FieldErrors& errors);

// Full objects (apiVersion, kind, metadata, spec, status). apiVersion must be kubevirt.io/v1 and
// kind must match. On failure the error is to_error() of every problem found.
core::Result<VirtualMachineInstance> decode_vmi(const core::json::Value& v);
core::Result<VirtualMachine> decode_vm(const core::json::Value& v);

// Collecting forms: decode as much as possible, append every problem to `errors` (paths are
// prefixed with `path`, empty for a whole object).
VirtualMachineInstance decode_vmi(const core::json::Value& v, FieldErrors& errors);
VirtualMachine decode_vm(const core::json::Value& v, FieldErrors& errors);
VirtualMachineInstanceSpec decode_vmi_spec(const core::json::Value& v, const std::string& path,
                                           FieldErrors& errors);

core::json::Value encode(const VirtualMachineInstance& vmi, core::json::Allocator& a);
core::json::Value encode(const VirtualMachine& vm, core::json::Allocator& a);
core::json::Value encode(const VirtualMachineInstanceSpec& spec, core::json::Allocator& a);
core::json::Value encode(const VirtualMachineInstanceStatus& status, core::json::Allocator& a);
core::json::Value encode(const VirtualMachineStatus& status, core::json::Allocator& a);
core::json::Value encode(const ObjectMeta& meta, core::json::Allocator& a);

// Convenience: compact JSON text of an object.
std::string to_json_string(const VirtualMachineInstance& vmi);
std::string to_json_string(const VirtualMachine& vm);

// JSON spellings of enum values ("RerunOnFailure", "virtio", "Running", ...).
std::string_view to_string(RunStrategy v);
std::string_view to_string(DiskBus v);
std::string_view to_string(EvictionStrategy v);
std::string_view to_string(StartStrategy v);
std::string_view to_string(PullPolicy v);
std::string_view to_string(Protocol v);
std::string_view to_string(VmiPhase v);
std::string_view to_string(PrintableStatus v);
std::string_view to_string(StateChangeAction v);

}  // namespace kv::api::v1
