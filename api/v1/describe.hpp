#pragma once
// The machinery behind "one description per type": every API struct gets a Describe<T>
// specialization (in fields.hpp) listing its JSON fields as (JSON name, member pointer, doc); every
// closed enum gets EnumNames<E>. The codec (decode with unknown-field detection, encode) and the
// OpenAPI schema generator walk these tables, so a field exists in all three or in none.
//
// Whether a field is required follows from its C++ type: a member that is not std::optional, not a
// std::vector and not a std::map is required.

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace kv::api::v1 {

template <class T>
struct Describe;  // static constexpr std::string_view doc; static constexpr auto fields = tuple
template <class E>
struct EnumNames;  // static constexpr std::array<std::pair<E, std::string_view>, N> values

template <class S, class M>
struct Field {
  using Struct = S;
  using Member = M;
  std::string_view name;
  M S::*member;
  std::string_view doc;
};

template <class S, class M>
constexpr Field<S, M> field(std::string_view name, M S::*member, std::string_view doc) {
  return Field<S, M>{name, member, doc};
}

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};
template <class T>
struct is_vector : std::false_type {};
template <class T>
struct is_vector<std::vector<T>> : std::true_type {};
template <class T>
struct is_string_map : std::false_type {};
template <class T>
struct is_string_map<std::map<std::string, T>> : std::true_type {};

template <class T>
concept Described = requires {
  Describe<T>::fields;
};
template <class T>
concept NamedEnum = std::is_enum_v<T> && requires {
  EnumNames<T>::values;
};

template <class M>
constexpr bool is_required_member() {
  return !is_optional<M>::value && !is_vector<M>::value && !is_string_map<M>::value;
}

// Calls f(field) for every field of T, in declaration order.
template <Described T, class F>
constexpr void for_each_field(F&& f) {
  std::apply([&](const auto&... fs) { (f(fs), ...); }, Describe<T>::fields);
}

template <NamedEnum E>
constexpr std::string_view enum_name(E v) {
  for (const auto& [value, name] : EnumNames<E>::values) {
    if (value == v) {
      return name;
    }
  }
  return {};
}

template <NamedEnum E>
constexpr std::optional<E> enum_from_name(std::string_view s) {
  for (const auto& [value, name] : EnumNames<E>::values) {
    if (name == s) {
      return value;
    }
  }
  return std::nullopt;
}

// "a, b, c" of the JSON names of T's fields (for "unknown field; allowed: ..." messages).
template <Described T>
std::string field_names() {
  std::string out;
  for_each_field<T>([&](const auto& f) {
    if (!out.empty()) {
      out += ", ";
    }
    out += f.name;
  });
  return out;
}

template <NamedEnum E>
std::string enum_names() {
  std::string out;
  for (const auto& [value, name] : EnumNames<E>::values) {
    (void)value;
    if (!out.empty()) {
      out += ", ";
    }
    out += name;
  }
  return out;
}

}  // namespace kv::api::v1
