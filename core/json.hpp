#pragma once
// JSON helpers on RapidJSON: parse with a located error, serialize, typed look-ups, and semantic
// equality. Every API object in the project passes through these.

#include <rapidjson/document.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace kv::core::json {

using Value = rapidjson::Value;
using Document = rapidjson::Document;
using Allocator = rapidjson::Document::AllocatorType;

// Parses text into a document. On failure: Errc::parse, message names the offset and reason.
Result<Document> parse(std::string_view text);

// Compact and pretty (2-space) serializations.
std::string to_string(const Value& v);
std::string to_pretty_string(const Value& v);

// A string value owning a copy of s.
inline Value string_value(std::string_view s, Allocator& a) {
  return Value(s.data(), static_cast<rapidjson::SizeType>(s.size()), a);
}
// Deep copy into another document's allocator.
inline Value clone(const Value& v, Allocator& a) {
  return Value(v, a);
}

// Member look-up; nullptr when obj is not an object or has no such member.
const Value* find(const Value& obj, std::string_view key);
Value* find(Value& obj, std::string_view key);
// Follows a chain of member names; nullptr when any step is missing.
const Value* find_path(const Value& obj, std::initializer_list<std::string_view> keys);

std::optional<std::string_view> get_string(const Value& obj, std::string_view key);
std::optional<int64_t> get_int(const Value& obj, std::string_view key);
std::optional<bool> get_bool(const Value& obj, std::string_view key);

// Adds or replaces obj[key] (obj must be an object).
void set(Value& obj, std::string_view key, Value v, Allocator& a);
void set(Value& obj, std::string_view key, std::string_view s, Allocator& a);
// Returns obj[key] as an object, creating an empty one when missing or not an object.
Value& ensure_object(Value& obj, std::string_view key, Allocator& a);
// Removes obj[key] if present.
void erase(Value& obj, std::string_view key);

// Semantic equality: objects ignore member order; numbers compare by value (1 == 1.0).
bool equal(const Value& a, const Value& b);

// A human-readable name of the value's JSON type: "string", "number", "object", ...
std::string_view type_name(const Value& v);

}  // namespace kv::core::json
