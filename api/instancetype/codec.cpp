#include "api/instancetype/codec.hpp"

#include "api/instancetype/fields.hpp"
#include "api/v1/codec_generic.hpp"

namespace kv::api::instancetype {
namespace {

using core::json::Allocator;
using core::json::Value;
using v1::codec::decode_object;

template <class Obj>
auto spec_of(const Value& obj, std::string_view kind, FieldErrors& errors) {
  return decode_object<Obj>(obj, kApiVersion, kind, errors).spec;
}

}  // namespace

core::Result<VirtualMachineInstancetype> decode_instancetype(const Value& v) {
  return decode_object<VirtualMachineInstancetype>(v, kApiVersion, kInstancetypeKind);
}
core::Result<VirtualMachineClusterInstancetype> decode_cluster_instancetype(const Value& v) {
  return decode_object<VirtualMachineClusterInstancetype>(v, kApiVersion, kClusterInstancetypeKind);
}
core::Result<VirtualMachinePreference> decode_preference(const Value& v) {
  return decode_object<VirtualMachinePreference>(v, kApiVersion, kPreferenceKind);
}
core::Result<VirtualMachineClusterPreference> decode_cluster_preference(const Value& v) {
  return decode_object<VirtualMachineClusterPreference>(v, kApiVersion, kClusterPreferenceKind);
}

VirtualMachineInstancetypeSpec decode_instancetype_spec_of(const Value& obj, FieldErrors& errors) {
  if (core::json::get_string(obj, "kind").value_or("") == kInstancetypeKind) {
    return spec_of<VirtualMachineInstancetype>(obj, kInstancetypeKind, errors);
  }
  return spec_of<VirtualMachineClusterInstancetype>(obj, kClusterInstancetypeKind, errors);
}

VirtualMachinePreferenceSpec decode_preference_spec_of(const Value& obj, FieldErrors& errors) {
  if (core::json::get_string(obj, "kind").value_or("") == kPreferenceKind) {
    return spec_of<VirtualMachinePreference>(obj, kPreferenceKind, errors);
  }
  return spec_of<VirtualMachineClusterPreference>(obj, kClusterPreferenceKind, errors);
}

Value encode(const VirtualMachineInstancetypeSpec& spec, Allocator& a) {
  return v1::codec::encode_value(spec, a);
}
Value encode(const VirtualMachinePreferenceSpec& spec, Allocator& a) {
  return v1::codec::encode_value(spec, a);
}
Value encode(const VirtualMachineClusterInstancetype& obj, Allocator& a) {
  return v1::codec::encode_value(obj, a);
}
Value encode(const VirtualMachineInstancetype& obj, Allocator& a) {
  return v1::codec::encode_value(obj, a);
}
Value encode(const VirtualMachineClusterPreference& obj, Allocator& a) {
  return v1::codec::encode_value(obj, a);
}
Value encode(const VirtualMachinePreference& obj, Allocator& a) {
  return v1::codec::encode_value(obj, a);
}

}  // namespace kv::api::instancetype
