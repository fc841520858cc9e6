#pragma once
// The codec's machinery, for every type with a Describe<T> table (fields.hpp and the other API
// groups' tables): decode_into (strict: unknown fields, types, enums and quantities reported with
// their JSON path), encode_value (only what is set) and decode_object (a whole object with its
// apiVersion and kind). codec.hpp is the kubevirt.io/v1 surface built on it.

#include <limits>
#include <string>
#include <string_view>
#include <type_traits>

#include "api/v1/codec.hpp"
#include "api/v1/describe.hpp"

namespace kv::api::v1::codec {

using core::json::Allocator;
using core::json::Value;

template <class>
inline constexpr bool kAlwaysFalse = false;

inline std::string member_path(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

inline std::string quoted(std::string_view s) {
  return "\"" + std::string(s) + "\"";
}

inline void type_error(FieldErrors& errors, const std::string& path, std::string_view expected,
                       const Value& v) {
  errors.push_back({path, "expected " + std::string(expected) + ", got " +
                              std::string(core::json::type_name(v))});
}

template <class T>
void decode_into(const Value& v, T& out, const std::string& path, FieldErrors& errors);

template <class I>
void decode_integer(const Value& v, I& out, const std::string& path, FieldErrors& errors) {
  if (!v.IsNumber()) {
    type_error(errors, path, "integer", v);
    return;
  }
  if (!v.IsInt64() && !v.IsUint64()) {
    errors.push_back({path, core::json::to_string(v) + " is not an integer"});
    return;
  }
  constexpr auto lo = std::numeric_limits<I>::min();
  constexpr auto hi = std::numeric_limits<I>::max();
  bool in_range =
      v.IsInt64()
          ? (v.GetInt64() >= static_cast<int64_t>(lo) &&
             (v.GetInt64() < 0 || static_cast<uint64_t>(v.GetInt64()) <= static_cast<uint64_t>(hi)))
          : v.GetUint64() <= static_cast<uint64_t>(hi);
  if (!in_range) {
    errors.push_back({path, core::json::to_string(v) + " is out of range; allowed: " +
                                std::to_string(lo) + " to " + std::to_string(hi)});
    return;
  }
  out = v.IsInt64() ? static_cast<I>(v.GetInt64()) : static_cast<I>(v.GetUint64());
}

template <Described T>
void decode_struct(const Value& v, T& out, const std::string& path, FieldErrors& errors) {
  if (!v.IsObject()) {
    type_error(errors, path, "object", v);
    return;
  }
  for (const auto& m : v.GetObject()) {
    std::string_view key(m.name.GetString(), m.name.GetStringLength());
    bool known = false;
    for_each_field<T>([&](const auto& f) {
      if (known || f.name != key) {
        return;
      }
      known = true;
      // null reads as absent, as Go's encoding/json does.
      if (!m.value.IsNull()) {
        decode_into(m.value, out.*(f.member), member_path(path, key), errors);
      }
    });
    if (!known) {
      errors.push_back({member_path(path, key), "unknown field; allowed: " + field_names<T>()});
    }
  }
  for_each_field<T>([&](const auto& f) {
    using M = typename std::decay_t<decltype(f)>::Member;
    if constexpr (is_required_member<M>()) {
      const Value* m = core::json::find(v, f.name);
      if (m == nullptr || m->IsNull()) {
        errors.push_back({member_path(path, f.name), "required field is missing"});
      }
    }
  });
}

template <class T>
void decode_into(const Value& v, T& out, const std::string& path, FieldErrors& errors) {
  if constexpr (std::is_same_v<T, std::string>) {
    if (!v.IsString()) {
      type_error(errors, path, "string", v);
      return;
    }
    out.assign(v.GetString(), v.GetStringLength());
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!v.IsBool()) {
      type_error(errors, path, "boolean", v);
      return;
    }
    out = v.GetBool();
  } else if constexpr (std::is_integral_v<T>) {
    decode_integer(v, out, path, errors);
  } else if constexpr (std::is_same_v<T, Quantity>) {
    // Like resource.Quantity's UnmarshalJSON: a string, or a bare number read by its text.
    std::string text;
    if (v.IsString()) {
      text.assign(v.GetString(), v.GetStringLength());
    } else if (v.IsNumber()) {
      text = core::json::to_string(v);
    } else {
      type_error(errors, path, "quantity (string or number)", v);
      return;
    }
    auto q = parse_quantity(text);
    if (!q.ok()) {
      errors.push_back({path, q.error().message});
      return;
    }
    out = std::move(q).value();
  } else if constexpr (std::is_same_v<T, IntOrString>) {
    if (v.IsString()) {
      out = IntOrString{std::nullopt, std::string(v.GetString(), v.GetStringLength())};
    } else if (v.IsNumber()) {
      int32_t n = 0;
      const size_t before = errors.size();
      decode_integer(v, n, path, errors);
      if (errors.size() == before) {
        out = IntOrString{n, {}};
      }
    } else {
      type_error(errors, path, "integer or string", v);
    }
  } else if constexpr (std::is_same_v<T, RawJson>) {
    if (!v.IsObject()) {
      type_error(errors, path, "object", v);
      return;
    }
    out.text = core::json::to_string(v);
  } else if constexpr (NamedEnum<T>) {
    if (!v.IsString()) {
      type_error(errors, path, "string", v);
      return;
    }
    std::string_view s(v.GetString(), v.GetStringLength());
    auto e = enum_from_name<T>(s);
    if (!e) {
      errors.push_back({path, quoted(s) + " is not supported; allowed: " + enum_names<T>()});
      return;
    }
    out = *e;
  } else if constexpr (is_optional<T>::value) {
    typename T::value_type inner{};
    const size_t before = errors.size();
    decode_into(v, inner, path, errors);
    // A struct with a bad member is still kept (its other members are checked); a bad scalar
    // leaves the field absent.
    if (errors.size() == before || Described<typename T::value_type>) {
      out = std::move(inner);
    }
  } else if constexpr (is_vector<T>::value) {
    if (!v.IsArray()) {
      type_error(errors, path, "array", v);
      return;
    }
    out.clear();
    out.reserve(v.Size());
    for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
      typename T::value_type item{};
      decode_into(v[i], item, path + "[" + std::to_string(i) + "]", errors);
      out.push_back(std::move(item));
    }
  } else if constexpr (is_string_map<T>::value) {
    if (!v.IsObject()) {
      type_error(errors, path, "object", v);
      return;
    }
    out.clear();
    for (const auto& m : v.GetObject()) {
      std::string key(m.name.GetString(), m.name.GetStringLength());
      typename T::mapped_type item{};
      decode_into(m.value, item, path + "[" + key + "]", errors);
      out.emplace(std::move(key), std::move(item));
    }
  } else if constexpr (Described<T>) {
    decode_struct(v, out, path, errors);
  } else {
    static_assert(kAlwaysFalse<T>, "no JSON mapping for this type");
  }
}

template <class T>
Value encode_value(const T& x, Allocator& a);

template <Described T>
Value encode_struct(const T& x, Allocator& a) {
  Value obj(rapidjson::kObjectType);
  for_each_field<T>([&](const auto& f) {
    using M = typename std::decay_t<decltype(f)>::Member;
    const M& m = x.*(f.member);
    Value v;
    if constexpr (is_optional<M>::value) {
      if (!m) {
        return;
      }
      v = encode_value(*m, a);
    } else if constexpr (is_vector<M>::value || is_string_map<M>::value) {
      if (m.empty()) {
        return;
      }
      v = encode_value(m, a);
    } else {
      v = encode_value(m, a);
    }
    obj.AddMember(core::json::string_value(f.name, a), v, a);
  });
  return obj;
}

template <class T>
Value encode_value(const T& x, Allocator& a) {
  if constexpr (std::is_same_v<T, std::string>) {
    return core::json::string_value(x, a);
  } else if constexpr (std::is_same_v<T, bool>) {
    return Value(x);
  } else if constexpr (std::is_integral_v<T> && std::is_signed_v<T>) {
    return Value(static_cast<int64_t>(x));
  } else if constexpr (std::is_integral_v<T>) {
    return Value(static_cast<uint64_t>(x));
  } else if constexpr (std::is_same_v<T, Quantity>) {
    return core::json::string_value(x.to_string(), a);
  } else if constexpr (std::is_same_v<T, IntOrString>) {
    return x.number ? Value(static_cast<int64_t>(*x.number)) : core::json::string_value(x.name, a);
  } else if constexpr (std::is_same_v<T, RawJson>) {
    auto doc = core::json::parse(x.text);
    if (!doc.ok()) {
      return Value(rapidjson::kObjectType);  // only decode fills RawJson, always with valid JSON
    }
    return core::json::clone(doc.value(), a);
  } else if constexpr (NamedEnum<T>) {
    return core::json::string_value(enum_name(x), a);
  } else if constexpr (is_vector<T>::value) {
    Value arr(rapidjson::kArrayType);
    for (const auto& item : x) {
      arr.PushBack(encode_value(item, a), a);
    }
    return arr;
  } else if constexpr (is_string_map<T>::value) {
    Value obj(rapidjson::kObjectType);
    for (const auto& [k, item] : x) {
      obj.AddMember(core::json::string_value(k, a), encode_value(item, a), a);
    }
    return obj;
  } else if constexpr (Described<T>) {
    return encode_struct(x, a);
  } else {
    static_assert(kAlwaysFalse<T>, "no JSON mapping for this type");
  }
}

// A whole object: its fields, then apiVersion and kind checked against what is served.
template <class Obj>
Obj decode_object(const Value& v, std::string_view api_version, std::string_view kind,
                  FieldErrors& errors) {
  Obj obj;
  obj.api_version.clear();
  obj.kind.clear();
  decode_into(v, obj, "", errors);
  if (!obj.api_version.empty() && obj.api_version != api_version) {
    errors.push_back({"apiVersion", quoted(obj.api_version) +
                                        " is not served; allowed: " + std::string(api_version)});
  }
  if (!obj.kind.empty() && obj.kind != kind) {
    errors.push_back(
        {"kind", quoted(obj.kind) + " is not allowed here; allowed: " + std::string(kind)});
  }
  return obj;
}

// Convenience for a whole object of any served kind.
template <class Obj>
core::Result<Obj> decode_object(const Value& v, std::string_view api_version,
                                std::string_view kind) {
  FieldErrors errors;
  Obj obj = decode_object<Obj>(v, api_version, kind, errors);
  if (!errors.empty()) {
    return to_error(errors);
  }
  return obj;
}

}  // namespace kv::api::v1::codec
