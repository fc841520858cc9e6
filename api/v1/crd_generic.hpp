#pragma once
// The CRD generator's machinery, for every type with a Describe<T> table: schema_of<T> (a
// structural OpenAPI v3 schema with descriptions, enums, required members, quantities as
// int-or-string), root_schema<Obj> and make_crd (names, scope, printer columns, the status and
// optional scale subresources). crd.cpp builds kubevirt.io/v1's CRDs with it; other API groups
// build theirs the same way and add them to generate_crds().

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "api/v1/describe.hpp"
#include "api/v1/types.hpp"
#include "core/json.hpp"

namespace kv::api::v1::crd {

using core::json::Allocator;
using core::json::Value;

template <class>
inline constexpr bool kAlwaysFalse = false;

// The pattern Kubernetes' OpenAPI generator gives resource.Quantity.
inline constexpr std::string_view kQuantityPattern =
    R"(^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$)";

inline Value str(std::string_view s, Allocator& a) {
  return core::json::string_value(s, a);
}

inline void add(Value& obj, std::string_view key, Value v, Allocator& a) {
  obj.AddMember(str(key, a), v, a);
}

inline Value typed(std::string_view type, Allocator& a) {
  Value v(rapidjson::kObjectType);
  add(v, "type", str(type, a), a);
  return v;
}

template <class T>
Value schema_of(Allocator& a);

template <Described T>
Value struct_schema(Allocator& a) {
  Value v = typed("object", a);
  Value props(rapidjson::kObjectType);
  Value required(rapidjson::kArrayType);
  for_each_field<T>([&](const auto& f) {
    using M = typename std::decay_t<decltype(f)>::Member;
    Value p(rapidjson::kObjectType);
    add(p, "description", str(f.doc, a), a);
    Value s = schema_of<M>(a);
    for (auto& m : s.GetObject()) {
      if (m.name != "description") {
        p.AddMember(m.name, m.value, a);
      }
    }
    props.AddMember(str(f.name, a), p, a);
    if constexpr (is_required_member<M>()) {
      required.PushBack(str(f.name, a), a);
    }
  });
  if (props.MemberCount() > 0) {
    add(v, "properties", std::move(props), a);
  }
  if (required.Size() > 0) {
    add(v, "required", std::move(required), a);
  }
  return v;
}

template <class T>
Value schema_of(Allocator& a) {
  if constexpr (is_optional<T>::value) {
    return schema_of<typename T::value_type>(a);
  } else if constexpr (std::is_same_v<T, std::string>) {
    return typed("string", a);
  } else if constexpr (std::is_same_v<T, bool>) {
    return typed("boolean", a);
  } else if constexpr (std::is_same_v<T, int32_t>) {
    Value v = typed("integer", a);
    add(v, "format", str("int32", a), a);
    return v;
  } else if constexpr (std::is_same_v<T, int64_t>) {
    Value v = typed("integer", a);
    add(v, "format", str("int64", a), a);
    return v;
  } else if constexpr (std::is_same_v<T, uint32_t>) {
    Value v = typed("integer", a);
    add(v, "format", str("int64", a), a);
    add(v, "minimum", Value(0), a);
    add(v, "maximum", Value(int64_t{std::numeric_limits<uint32_t>::max()}), a);
    return v;
  } else if constexpr (std::is_same_v<T, uint64_t>) {
    // As Kubernetes' OpenAPI generator writes a Go uint64: int64, not negative.
    Value v = typed("integer", a);
    add(v, "format", str("int64", a), a);
    add(v, "minimum", Value(0), a);
    return v;
  } else if constexpr (std::is_same_v<T, Quantity>) {
    Value v(rapidjson::kObjectType);
    Value any(rapidjson::kArrayType);
    any.PushBack(typed("integer", a), a);
    any.PushBack(typed("string", a), a);
    add(v, "anyOf", std::move(any), a);
    add(v, "pattern", str(kQuantityPattern, a), a);
    add(v, "x-kubernetes-int-or-string", Value(true), a);
    return v;
  } else if constexpr (std::is_same_v<T, IntOrString>) {
    Value v(rapidjson::kObjectType);
    Value any(rapidjson::kArrayType);
    any.PushBack(typed("integer", a), a);
    any.PushBack(typed("string", a), a);
    add(v, "anyOf", std::move(any), a);
    add(v, "x-kubernetes-int-or-string", Value(true), a);
    return v;
  } else if constexpr (std::is_same_v<T, RawJson>) {
    // Carried opaquely: only this node keeps unknown fields.
    Value v = typed("object", a);
    add(v, "x-kubernetes-preserve-unknown-fields", Value(true), a);
    return v;
  } else if constexpr (NamedEnum<T>) {
    Value v = typed("string", a);
    Value values(rapidjson::kArrayType);
    for (const auto& [value, name] : EnumNames<T>::values) {
      (void)value;
      values.PushBack(str(name, a), a);
    }
    add(v, "enum", std::move(values), a);
    return v;
  } else if constexpr (is_vector<T>::value) {
    Value v = typed("array", a);
    add(v, "items", schema_of<typename T::value_type>(a), a);
    return v;
  } else if constexpr (is_string_map<T>::value) {
    Value v = typed("object", a);
    add(v, "additionalProperties", schema_of<typename T::mapped_type>(a), a);
    return v;
  } else if constexpr (Described<T>) {
    Value v = struct_schema<T>(a);
    // Items of arrays and map values carry the type's own description.
    Value out(rapidjson::kObjectType);
    add(out, "description", str(Describe<T>::doc, a), a);
    for (auto& m : v.GetObject()) {
      out.AddMember(m.name, m.value, a);
    }
    return out;
  } else {
    static_assert(kAlwaysFalse<T>, "no schema for this type");
  }
}

// The top level of a CRD schema: apiVersion, kind, metadata are the API server's; metadata must
// stay a bare object there.
template <class Obj>
Value root_schema(std::string_view api_version, Allocator& a) {
  Value v = schema_of<Obj>(a);
  Value& props = v["properties"];
  props["apiVersion"]["description"] =
      str("Versioned schema of this object: " + std::string(api_version) + ".", a);
  props["kind"]["description"] = str("The REST resource this object represents.", a);
  Value meta = typed("object", a);
  props["metadata"] = meta;
  core::json::erase(v, "required");
  Value required(rapidjson::kArrayType);
  required.PushBack(str("spec", a), a);
  add(v, "required", std::move(required), a);
  return v;
}

// Marks every struct node (the root, spec and everything under it, empty markers such as
// `masquerade: {}` included) with x-kubernetes-preserve-unknown-fields, so the API server keeps a
// field it does not know instead of pruning it, for every client, and the validating webhook's
// strict decode refuses it by name. metadata stays the API server's (it handles ObjectMeta itself)
// and status keeps pruning (our components write it). Map nodes (additionalProperties) are left as
// they are; opaque nodes already keep everything.
inline void keep_unknown_fields_for_webhook(Value& schema, Allocator& a, bool root = true) {
  if (!schema.IsObject()) {
    return;
  }
  const bool object = core::json::get_string(schema, "type") == "object";
  if (object && !core::json::find(schema, "additionalProperties") &&
      !core::json::find(schema, "x-kubernetes-preserve-unknown-fields")) {
    add(schema, "x-kubernetes-preserve-unknown-fields", Value(true), a);
  }
  if (Value* props = core::json::find(schema, "properties"); props && props->IsObject()) {
    for (auto& m : props->GetObject()) {
      std::string_view name(m.name.GetString(), m.name.GetStringLength());
      if (root && (name == "metadata" || name == "status")) {
        continue;
      }
      keep_unknown_fields_for_webhook(m.value, a, false);
    }
  }
  if (Value* items = core::json::find(schema, "items")) {
    keep_unknown_fields_for_webhook(*items, a, false);
  }
}

struct Column {
  std::string_view name;
  std::string_view type;
  std::string_view json_path;
  std::string_view description;
};

// The scale subresource (kubectl scale): JSON paths of the replica counts and the selector.
struct Scale {
  std::string_view spec_replicas_path;    // ".spec.replicas"
  std::string_view status_replicas_path;  // ".status.replicas"
  std::string_view label_selector_path;   // ".status.labelSelector"
};

struct Spec {
  std::string_view group{};    // "kubevirt.io"
  std::string_view version{};  // "v1"
  std::string_view kind{};
  std::string_view plural{};
  std::string_view singular{};
  std::vector<std::string_view> short_names{};
  std::vector<std::string_view> categories{"all"};
  bool cluster_scoped = false;
  bool status_subresource = true;
  std::optional<Scale> scale = std::nullopt;
  std::vector<Column> columns{};
  // keep_unknown_fields_for_webhook() on the schema: only for kinds whose validating webhook
  // decodes strictly (else an unknown field would be kept and ignored instead of pruned).
  bool unknown_fields_to_webhook = false;
};

inline core::json::Document make_crd(const Spec& s, Value schema, core::json::Document doc) {
  auto& a = doc.GetAllocator();
  doc.SetObject();
  add(doc, "apiVersion", str("apiextensions.k8s.io/v1", a), a);
  add(doc, "kind", str("CustomResourceDefinition", a), a);
  Value meta(rapidjson::kObjectType);
  add(meta, "name", str(std::string(s.plural) + "." + std::string(s.group), a), a);
  add(doc, "metadata", std::move(meta), a);

  Value spec(rapidjson::kObjectType);
  add(spec, "group", str(s.group, a), a);
  Value n(rapidjson::kObjectType);
  add(n, "kind", str(s.kind, a), a);
  add(n, "listKind", str(std::string(s.kind) + "List", a), a);
  add(n, "plural", str(s.plural, a), a);
  add(n, "singular", str(s.singular, a), a);
  if (!s.short_names.empty()) {
    Value shorts(rapidjson::kArrayType);
    for (auto name : s.short_names) {
      shorts.PushBack(str(name, a), a);
    }
    add(n, "shortNames", std::move(shorts), a);
  }
  if (!s.categories.empty()) {
    Value categories(rapidjson::kArrayType);
    for (auto c : s.categories) {
      categories.PushBack(str(c, a), a);
    }
    add(n, "categories", std::move(categories), a);
  }
  add(spec, "names", std::move(n), a);
  add(spec, "scope", str(s.cluster_scoped ? "Cluster" : "Namespaced", a), a);

  Value version(rapidjson::kObjectType);
  add(version, "name", str(s.version, a), a);
  add(version, "served", Value(true), a);
  add(version, "storage", Value(true), a);
  if (!s.columns.empty()) {
    Value cols(rapidjson::kArrayType);
    for (const auto& c : s.columns) {
      Value col(rapidjson::kObjectType);
      add(col, "name", str(c.name, a), a);
      add(col, "type", str(c.type, a), a);
      add(col, "jsonPath", str(c.json_path, a), a);
      if (!c.description.empty()) {
        add(col, "description", str(c.description, a), a);
      }
      cols.PushBack(col, a);
    }
    add(version, "additionalPrinterColumns", std::move(cols), a);
  }
  Value sch(rapidjson::kObjectType);
  add(sch, "openAPIV3Schema", std::move(schema), a);
  add(version, "schema", std::move(sch), a);
  Value sub(rapidjson::kObjectType);
  if (s.status_subresource) {
    add(sub, "status", Value(rapidjson::kObjectType), a);
  }
  if (s.scale) {
    Value scale(rapidjson::kObjectType);
    add(scale, "specReplicasPath", str(s.scale->spec_replicas_path, a), a);
    add(scale, "statusReplicasPath", str(s.scale->status_replicas_path, a), a);
    add(scale, "labelSelectorPath", str(s.scale->label_selector_path, a), a);
    add(sub, "scale", std::move(scale), a);
  }
  if (sub.MemberCount() > 0) {
    add(version, "subresources", std::move(sub), a);
  }
  Value versions(rapidjson::kArrayType);
  versions.PushBack(version, a);
  add(spec, "versions", std::move(versions), a);
  add(doc, "spec", std::move(spec), a);
  return doc;
}

// The CRD of Obj (a type with apiVersion, kind, metadata, spec and maybe status).
template <class Obj>
core::json::Document crd_for(const Spec& s) {
  core::json::Document doc;
  Value schema =
      root_schema<Obj>(std::string(s.group) + "/" + std::string(s.version), doc.GetAllocator());
  if (s.unknown_fields_to_webhook) {
    keep_unknown_fields_for_webhook(schema, doc.GetAllocator());
  }
  return make_crd(s, std::move(schema), std::move(doc));
}

}  // namespace kv::api::v1::crd
