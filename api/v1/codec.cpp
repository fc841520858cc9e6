#include "api/v1/codec.hpp"

#include <string>

#include "api/v1/codec_generic.hpp"
#include "api/v1/fields.hpp"

namespace kv::api::v1 {
namespace {

using codec::decode_into;
using codec::decode_object;
using codec::encode_value;
using core::json::Allocator;
using core::json::Value;

std::string joined(const FieldErrors& errors) {
  std::string out;
  for (const auto& e : errors) {
    if (!out.empty()) {
      out += "\n";
    }
    out += e.to_string();
  }
  return out;
}

}  // namespace

core::Error to_error(const FieldErrors& errors) {
  core::Error err{core::Errc::invalid, joined(errors)};
  for (const auto& e : errors) {
    err.with("field_error", e.to_string());
  }
  return err;
}

VirtualMachineInstance decode_vmi(const Value& v, FieldErrors& errors) {
  return decode_object<VirtualMachineInstance>(v, kApiVersion, kVirtualMachineInstanceKind, errors);
}

VirtualMachine decode_vm(const Value& v, FieldErrors& errors) {
  return decode_object<VirtualMachine>(v, kApiVersion, kVirtualMachineKind, errors);
}

VirtualMachineInstanceSpec decode_vmi_spec(const Value& v, const std::string& path,
                                           FieldErrors& errors) {
  VirtualMachineInstanceSpec spec;
  decode_into(v, spec, path, errors);
  return spec;
}

core::Result<VirtualMachineInstance> decode_vmi(const Value& v) {
  FieldErrors errors;
  auto vmi = decode_vmi(v, errors);
  if (!errors.empty()) {
    return to_error(errors);
  }
  return vmi;
}

core::Result<VirtualMachine> decode_vm(const Value& v) {
  FieldErrors errors;
  auto vm = decode_vm(v, errors);
  if (!errors.empty()) {
    return to_error(errors);
  }
  return vm;
}

Value encode(const VirtualMachineInstance& vmi, Allocator& a) {
  return encode_value(vmi, a);
}
Value encode(const VirtualMachine& vm, Allocator& a) {
  return encode_value(vm, a);
}
Value encode(const VirtualMachineInstanceSpec& spec, Allocator& a) {
  return encode_value(spec, a);
}
Value encode(const VirtualMachineInstanceStatus& status, Allocator& a) {
  return encode_value(status, a);
}
Value encode(const VirtualMachineStatus& status, Allocator& a) {
  return encode_value(status, a);
}
Value encode(const ObjectMeta& meta, Allocator& a) {
  return encode_value(meta, a);
}

std::string to_json_string(const VirtualMachineInstance& vmi) {
  core::json::Document doc;
  return core::json::to_string(encode(vmi, doc.GetAllocator()));
}

std::string to_json_string(const VirtualMachine& vm) {
  core::json::Document doc;
  return core::json::to_string(encode(vm, doc.GetAllocator()));
}

std::string_view to_string(RunStrategy v) {
  return enum_name(v);
}
std::string_view to_string(DiskBus v) {
  return enum_name(v);
}
std::string_view to_string(EvictionStrategy v) {
  return enum_name(v);
}
std::string_view to_string(StartStrategy v) {
  return enum_name(v);
}
std::string_view to_string(PullPolicy v) {
  return enum_name(v);
}
std::string_view to_string(Protocol v) {
  return enum_name(v);
}
std::string_view to_string(VmiPhase v) {
  return enum_name(v);
}
std::string_view to_string(PrintableStatus v) {
  return enum_name(v);
}
std::string_view to_string(StateChangeAction v) {
  return enum_name(v);
}

}  // namespace kv::api::v1
