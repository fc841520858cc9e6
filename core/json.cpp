#include "core/json.hpp"

#include <rapidjson/error/en.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <unordered_set>

namespace kv::core::json {

namespace {

// The path of the first object below `v` (or `v` itself) that names a member twice, and that name.
std::optional<std::pair<std::string, std::string>> duplicate_key(const Value& v,
                                                                 const std::string& path) {
  if (v.IsArray()) {
    for (rapidjson::SizeType i = 0; i < v.Size(); ++i)
      if (auto d = duplicate_key(v[i], path + "[" + std::to_string(i) + "]"))
        return d;
    return std::nullopt;
  }
  if (!v.IsObject())
    return std::nullopt;
  std::unordered_set<std::string_view> names;
  for (const auto& m : v.GetObject()) {
    std::string_view name(m.name.GetString(), m.name.GetStringLength());
    if (!names.insert(name).second)
      return std::make_pair(path, std::string(name));
  }
  for (const auto& m : v.GetObject()) {
    std::string_view name(m.name.GetString(), m.name.GetStringLength());
    if (auto d = duplicate_key(m.value,
                               path.empty() ? std::string(name) : path + "." + std::string(name)))
      return d;
  }
  return std::nullopt;
}

}  // namespace

Result<Document> parse(std::string_view text) {
  Document doc;
  // Invalid UTF-8 is refused here: RapidJSON would otherwise keep the bytes and its writer
  // would re-encode them as other characters, so to_string() would change the value.
  doc.Parse<rapidjson::kParseFullPrecisionFlag | rapidjson::kParseValidateEncodingFlag>(
      text.data(), text.size());
  if (doc.HasParseError()) {
    return Error(Errc::parse, std::string("invalid JSON at offset ") +
                                  std::to_string(doc.GetErrorOffset()) + ": " +
                                  rapidjson::GetParseError_En(doc.GetParseError()))
        .with("offset", std::to_string(doc.GetErrorOffset()));
  }
  // RapidJSON keeps both members of {"a":1,"a":2}, and find() would see the first where Go's
  // decoder (and so the API server) keeps the last: refuse them, as the API server's strict
  // field validation and our YAML reader do.
  if (auto d = duplicate_key(doc, "")) {
    const std::string where = d->first.empty() ? "" : " in " + d->first;
    return Error(Errc::parse, "invalid JSON: duplicate key \"" + d->second + "\"" + where)
        .with("field", d->first.empty() ? d->second : d->first + "." + d->second);
  }
  return doc;
}

std::string to_string(const Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

std::string to_pretty_string(const Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::PrettyWriter<rapidjson::StringBuffer> w(buf);
  w.SetIndent(' ', 2);
  v.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

const Value* find(const Value& obj, std::string_view key) {
  if (!obj.IsObject())
    return nullptr;
  auto it = obj.FindMember(Value(rapidjson::StringRef(key.data(), key.size())));
  return it == obj.MemberEnd() ? nullptr : &it->value;
}

Value* find(Value& obj, std::string_view key) {
  if (!obj.IsObject())
    return nullptr;
  auto it = obj.FindMember(Value(rapidjson::StringRef(key.data(), key.size())));
  return it == obj.MemberEnd() ? nullptr : &it->value;
}

const Value* find_path(const Value& obj, std::initializer_list<std::string_view> keys) {
  const Value* cur = &obj;
  for (auto k : keys) {
    cur = find(*cur, k);
    if (!cur)
      return nullptr;
  }
  return cur;
}

std::optional<std::string_view> get_string(const Value& obj, std::string_view key) {
  const Value* v = find(obj, key);
  if (!v || !v->IsString())
    return std::nullopt;
  return std::string_view(v->GetString(), v->GetStringLength());
}

std::optional<int64_t> get_int(const Value& obj, std::string_view key) {
  const Value* v = find(obj, key);
  if (!v || !v->IsInt64())
    return std::nullopt;
  return v->GetInt64();
}

std::optional<bool> get_bool(const Value& obj, std::string_view key) {
  const Value* v = find(obj, key);
  if (!v || !v->IsBool())
    return std::nullopt;
  return v->GetBool();
}

void set(Value& obj, std::string_view key, Value v, Allocator& a) {
  if (Value* existing = find(obj, key)) {
    *existing = std::move(v);
    return;
  }
  obj.AddMember(string_value(key, a), std::move(v), a);
}

void set(Value& obj, std::string_view key, std::string_view s, Allocator& a) {
  set(obj, key, string_value(s, a), a);
}

Value& ensure_object(Value& obj, std::string_view key, Allocator& a) {
  Value* existing = find(obj, key);
  if (existing && existing->IsObject())
    return *existing;
  set(obj, key, Value(rapidjson::kObjectType), a);
  return *find(obj, key);
}

void erase(Value& obj, std::string_view key) {
  if (!obj.IsObject())
    return;
  obj.RemoveMember(Value(rapidjson::StringRef(key.data(), key.size())));
}

bool equal(const Value& a, const Value& b) {
  if (a.IsNumber() && b.IsNumber()) {
    if (a.IsInt64() && b.IsInt64())
      return a.GetInt64() == b.GetInt64();
    if (a.IsUint64() && b.IsUint64())
      return a.GetUint64() == b.GetUint64();
    return a.GetDouble() == b.GetDouble();
  }
  if (a.GetType() != b.GetType())
    return false;
  switch (a.GetType()) {
    case rapidjson::kObjectType: {
      if (a.MemberCount() != b.MemberCount())
        return false;
      for (const auto& m : a.GetObject()) {
        const Value* other =
            find(b, std::string_view(m.name.GetString(), m.name.GetStringLength()));
        if (!other || !equal(m.value, *other))
          return false;
      }
      return true;
    }
    case rapidjson::kArrayType: {
      if (a.Size() != b.Size())
        return false;
      for (rapidjson::SizeType i = 0; i < a.Size(); ++i) {
        if (!equal(a[i], b[i]))
          return false;
      }
      return true;
    }
    case rapidjson::kStringType:
      return std::string_view(a.GetString(), a.GetStringLength()) ==
             std::string_view(b.GetString(), b.GetStringLength());
    default:
      return a == b;  // null, true, false
  }
}

std::string_view type_name(const Value& v) {
  switch (v.GetType()) {
    case rapidjson::kNullType:
      return "null";
    case rapidjson::kFalseType:
    case rapidjson::kTrueType:
      return "boolean";
    case rapidjson::kObjectType:
      return "object";
    case rapidjson::kArrayType:
      return "array";
    case rapidjson::kStringType:
      return "string";
    case rapidjson::kNumberType:
      return v.IsInt64() || v.IsUint64() ? "integer" : "number";
  }
  return "unknown";
}

}  // namespace kv::core::json
