#include "core/yaml.hpp"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <regex>
#include <sstream>

#include "core/utf8.hpp"

namespace kv::core::yaml {
namespace {

using json::Allocator;
using json::Value;

Error located(std::string msg, const YAML::Mark& mark) {
  int line = mark.line + 1, col = mark.column + 1;
  return Error(Errc::parse, "line " + std::to_string(line) + ", column " + std::to_string(col) +
                                ": " + std::move(msg))
      .with("line", std::to_string(line))
      .with("column", std::to_string(col));
}

bool is_null_word(const std::string& s) {
  return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL";
}

std::optional<bool> bool_word(const std::string& s) {
  static const char* yes[] = {"y",    "Y",    "yes", "Yes", "YES", "true",
                              "True", "TRUE", "on",  "On",  "ON"};
  static const char* no[] = {"n",     "N",     "no",  "No",  "NO", "false",
                             "False", "FALSE", "off", "Off", "OFF"};
  for (auto* w : yes)
    if (s == w)
      return true;
  for (auto* w : no)
    if (s == w)
      return false;
  return std::nullopt;
}

// Integer forms Go's strconv.ParseInt(s, 0, 64) accepts after underscores are removed (which is
// what YAML 1.1 resolution in go-yaml v2 does): [+-] then 0x.., 0o.., 0b.., 0... (octal) or
// decimal.
std::optional<Value> int_word(const std::string& raw) {
  std::string s;
  for (char c : raw)
    if (c != '_')
      s += c;
  if (s.empty())
    return std::nullopt;
  size_t i = 0;
  bool neg = false;
  if (s[0] == '+' || s[0] == '-') {
    neg = s[0] == '-';
    i = 1;
  }
  if (i >= s.size())
    return std::nullopt;
  int base = 10;
  std::string digits = s.substr(i);
  if (digits.size() > 1 && digits[0] == '0') {
    char p = digits[1];
    if (p == 'x' || p == 'X')
      base = 16, digits = digits.substr(2);
    else if (p == 'o' || p == 'O')
      base = 8, digits = digits.substr(2);
    else if (p == 'b' || p == 'B')
      base = 2, digits = digits.substr(2);
    else
      base = 8, digits = digits.substr(1);
  }
  if (digits.empty())
    return std::nullopt;
  for (char c : digits) {
    int d = std::isdigit(static_cast<unsigned char>(c)) ? c - '0'
            : std::isxdigit(static_cast<unsigned char>(c))
                ? std::tolower(static_cast<unsigned char>(c)) - 'a' + 10
                : 99;
    if (d >= base)
      return std::nullopt;
  }
  errno = 0;
  unsigned long long mag = std::strtoull(digits.c_str(), nullptr, base);
  if (errno == ERANGE)
    return std::nullopt;  // falls through to float, as go-yaml does
  if (neg) {
    if (mag > 9223372036854775808ULL)
      return std::nullopt;
    return Value(static_cast<int64_t>(0 - mag));
  }
  if (mag <= static_cast<unsigned long long>(INT64_MAX))
    return Value(static_cast<int64_t>(mag));
  return Value(static_cast<uint64_t>(mag));
}

std::optional<double> float_word(const std::string& raw, bool* non_finite) {
  static const std::regex re(R"(^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$)");
  *non_finite = false;
  static const char* infs[] = {".inf",  ".Inf",  ".INF",  "+.inf", "+.Inf", "+.INF",
                               "-.inf", "-.Inf", "-.INF", ".nan",  ".NaN",  ".NAN"};
  for (auto* w : infs) {
    if (raw == w) {
      *non_finite = true;
      return std::nullopt;
    }
  }
  std::string s;
  for (char c : raw)
    if (c != '_')
      s += c;
  if (!std::regex_match(s, re))
    return std::nullopt;
  return std::strtod(s.c_str(), nullptr);
}

// The first of two passes over the text: yaml-cpp's events only, no nodes. It counts the values
// the text holds (the alias budget below is sized from it) and catches what yaml-cpp 0.7's
// LoadAll would loop on forever: a document that starts on a token nothing consumes (a ','
// outside [ ] or { }: "," or "[a]," or "a: 1\n---\n,"), which it answers with an empty document
// at the same place, again and again.
class Survey : public YAML::EventHandler {
 public:
  size_t values = 0;
  std::optional<YAML::Mark> stuck;  // where a document started twice

  void OnDocumentStart(const YAML::Mark& mark) override {
    if (last_start_ && last_start_->pos == mark.pos)
      stuck = mark;
    last_start_ = mark;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override { ++values; }
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override { ++values; }
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {
    ++values;
  }
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    ++values;
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    ++values;
  }
  void OnMapEnd() override {}

 private:
  std::optional<YAML::Mark> last_start_;
};

// Surveys the text; an error for the loop above, with what stopped yaml-cpp.
Result<size_t> survey(const std::string& text) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  Survey s;
  try {
    while (parser.HandleNextDocument(s)) {
      if (s.stuck) {
        const size_t at = static_cast<size_t>(s.stuck->pos);
        std::string what = at < text.size() ? std::string(1, text[at]) : std::string("end");
        return located("did not find expected node content (\"" + what +
                           "\" cannot start a value; a ',' separates items only inside [ ] "
                           "or { })",
                       *s.stuck);
      }
    }
  } catch (const YAML::Exception& e) {
    return located(e.msg, e.mark);
  }
  return s.values;
}

struct Converter {
  Allocator& alloc;
  // Values left to produce. An alias is expanded where it is used, so anchors that refer to
  // anchors multiply ("billion laughs": 300 bytes, 10^9 values); the budget stops that with an
  // error, as go-yaml's "excessive aliasing" does, and leaves ordinary reuse alone.
  size_t budget = SIZE_MAX;
  size_t limit = SIZE_MAX, written = 0;  // for the message

  Result<Value> scalar(const YAML::Node& node) {
    const std::string& text = node.Scalar();
    const std::string& tag = node.Tag();
    // yaml-cpp tags plain scalars "?" and quoted ones "!"; explicit tags are full URIs.
    if (tag == "!" || tag == "tag:yaml.org,2002:str" || tag == "!!str") {
      return json::string_value(text, alloc);
    }
    if (tag != "?" && !tag.empty() && tag.rfind("tag:yaml.org,2002:", 0) != 0) {
      return located("unsupported YAML tag " + tag, node.Mark());
    }
    if (is_null_word(text))
      return Value(rapidjson::kNullType);
    if (auto b = bool_word(text))
      return Value(*b);
    if (auto i = int_word(text))
      return std::move(*i);
    bool non_finite = false;
    if (auto f = float_word(text, &non_finite)) {
      Value v;
      // An integral float such as 1e3 stays integral in JSON, as Go's encoder writes it.
      if (std::floor(*f) == *f && std::fabs(*f) < 9.007199254740992e15) {
        v.SetInt64(static_cast<int64_t>(*f));
      } else {
        v.SetDouble(*f);
      }
      return v;
    }
    if (non_finite) {
      return located("\"" + text + "\" is not a finite number and cannot be represented in JSON",
                     node.Mark());
    }
    return json::string_value(text, alloc);
  }

  // The JSON key for a mapping key: scalars as written (YAML 1.1 words canonicalized as go-yaml
  // stringifies them: yes -> "true", ~ -> "null").
  Result<std::string> key(const YAML::Node& node) {
    if (node.IsNull())
      return std::string("null");
    if (!node.IsScalar())
      return located("mapping keys must be scalars", node.Mark());
    if (node.Tag() == "!")
      return node.Scalar();
    auto v = scalar(node);
    if (!v.ok())
      return std::move(v).error();
    if (v->IsString())
      return std::string(v->GetString(), v->GetStringLength());
    if (v->IsNull())
      return std::string("null");
    if (v->IsBool())
      return std::string(v->GetBool() ? "true" : "false");
    return json::to_string(*v);
  }

  Status merge_into(Value& obj, const YAML::Node& src, const YAML::Mark& mark) {
    auto merge_one = [&](const YAML::Node& m) -> Status {
      if (!m.IsMap())
        return located("merge key << needs a mapping or a list of mappings", mark);
      auto v = convert(m);
      if (!v.ok())
        return std::move(v).error();
      for (auto& member : v->GetObject()) {
        if (!obj.HasMember(member.name)) {
          obj.AddMember(Value(member.name, alloc), Value(member.value, alloc), alloc);
        }
      }
      return {};
    };
    if (src.IsSequence()) {
      for (const auto& m : src)
        KV_CHECK(merge_one(m));
      return {};
    }
    return merge_one(src);
  }

  Result<Value> convert(const YAML::Node& node) {
    if (budget == 0) {
      return located("document contains excessive aliasing (its aliases expand to more than " +
                         std::to_string(limit) + " values; the text itself has " +
                         std::to_string(written) + ")",
                     node.Mark());
    }
    --budget;
    switch (node.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        return Value(rapidjson::kNullType);
      case YAML::NodeType::Scalar:
        return scalar(node);
      case YAML::NodeType::Sequence: {
        Value arr(rapidjson::kArrayType);
        for (const auto& item : node) {
          auto v = convert(item);
          if (!v.ok())
            return std::move(v).error();
          arr.PushBack(std::move(*v), alloc);
        }
        return arr;
      }
      case YAML::NodeType::Map: {
        Value obj(rapidjson::kObjectType);
        const YAML::Node* merge = nullptr;
        YAML::Node merge_node;
        for (const auto& kv : node) {
          if (kv.first.IsScalar() && kv.first.Tag() == "?" && kv.first.Scalar() == "<<") {
            merge_node = kv.second;
            merge = &merge_node;
            continue;
          }
          auto k = key(kv.first);
          if (!k.ok())
            return std::move(k).error();
          if (obj.HasMember(k->c_str())) {
            return located("duplicate key \"" + *k + "\"", kv.first.Mark());
          }
          auto v = convert(kv.second);
          if (!v.ok())
            return std::move(v).error();
          obj.AddMember(json::string_value(*k, alloc), std::move(*v), alloc);
        }
        // Explicit keys win over merged ones, so merge last.
        if (merge)
          KV_CHECK(merge_into(obj, *merge, node.Mark()));
        return obj;
      }
    }
    return Value(rapidjson::kNullType);
  }
};

bool needs_quotes(const std::string& s) {
  if (s.empty())
    return true;
  json::Document probe;
  Converter c{probe.GetAllocator()};
  YAML::Node n(s);
  n.SetTag("?");
  auto v = c.scalar(n);
  if (!v.ok() || !v->IsString())
    return true;
  // Anything YAML's plain-scalar grammar might misread; control characters (a plain "\r" reads
  // back as nothing) only survive as double-quoted escapes.
  if (s.find_first_of(":#{}[],&*!|>'\"%@`\n\t") != std::string::npos)
    return true;
  if (std::any_of(s.begin(), s.end(),
                  [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }))
    return true;
  if (s.front() == ' ' || s.back() == ' ' || s.front() == '-' || s.front() == '?')
    return true;
  return false;
}

// Whether a literal block ("|", clip chomping) reads back as exactly `s`: it keeps one final line
// break (so s must end with exactly one), cannot start with a space or an empty line without an
// indentation indicator, and cannot escape control characters. Other multi-line strings are
// written double-quoted, with escapes.
bool literal_round_trips(const std::string& s) {
  if (s.size() < 2 || s.back() != '\n' || s[s.size() - 2] == '\n' || s.front() == ' ' ||
      s.front() == '\n')
    return false;
  return std::none_of(s.begin(), s.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t';
  });
}

void emit(YAML::Emitter& out, const Value& v) {
  switch (v.GetType()) {
    case rapidjson::kNullType:
      out << YAML::Null;
      break;
    case rapidjson::kFalseType:
      out << false;
      break;
    case rapidjson::kTrueType:
      out << true;
      break;
    case rapidjson::kNumberType:
      out << json::to_string(v);
      break;
    case rapidjson::kStringType: {
      std::string s(v.GetString(), v.GetStringLength());
      if (s.find('\n') != std::string::npos && literal_round_trips(s)) {
        out << YAML::Literal << s;
      } else if (needs_quotes(s)) {
        out << YAML::DoubleQuoted << s;
      } else {
        out << s;
      }
      break;
    }
    case rapidjson::kArrayType:
      out << YAML::BeginSeq;
      for (const auto& item : v.GetArray())
        emit(out, item);
      out << YAML::EndSeq;
      break;
    case rapidjson::kObjectType:
      out << YAML::BeginMap;
      for (const auto& m : v.GetObject()) {
        std::string k(m.name.GetString(), m.name.GetStringLength());
        out << YAML::Key;
        if (needs_quotes(k))
          out << YAML::DoubleQuoted;
        out << k << YAML::Value;
        emit(out, m.value);
      }
      out << YAML::EndMap;
      break;
  }
}

}  // namespace

Result<std::vector<json::Document>> to_json(std::string_view yaml_text) {
  // YAML is Unicode text, and JSON strings must be UTF-8: yaml-cpp passes stray bytes through,
  // and they would come out of the JSON writer as other characters (as kubectl, refuse them).
  // A C0 control character is not YAML (c-printable), and a NUL byte makes yaml-cpp read the text
  // as UTF-16, so none reaches it. (DEL is let through: yaml-cpp writes it unescaped.)
  auto control = std::find_if(yaml_text.begin(), yaml_text.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r';
  });
  auto bad = invalid_utf8_offset(yaml_text);
  if (control != yaml_text.end() || bad) {
    const size_t at = control != yaml_text.end()
                          ? std::min<size_t>(control - yaml_text.begin(), bad.value_or(SIZE_MAX))
                          : *bad;
    auto before = yaml_text.substr(0, at);
    YAML::Mark mark;
    mark.line = static_cast<int>(std::count(before.begin(), before.end(), '\n'));
    mark.column = static_cast<int>(at - (before.rfind('\n') + 1));  // npos + 1 == 0
    char byte[8];
    std::snprintf(byte, sizeof byte, "0x%02X", static_cast<unsigned char>(yaml_text[at]));
    return located(bad && at == *bad
                       ? std::string("invalid UTF-8 (byte ") + byte + "); YAML must be UTF-8 text"
                       : std::string("control characters are not allowed (byte ") + byte + ")",
                   mark);
  }
  const std::string text(yaml_text);
  auto values = survey(text);
  if (!values.ok())
    return std::move(values).error();
  std::vector<YAML::Node> nodes;
  try {
    nodes = YAML::LoadAll(text);
  } catch (const YAML::Exception& e) {
    return located(e.msg, e.mark);
  }
  std::vector<json::Document> docs;
  // One budget for the stream: ten values out for each value written, and some room for small
  // texts that reuse an anchor a few times.
  const size_t limit = 10 * *values + 10000;
  size_t budget = limit;
  for (const auto& node : nodes) {
    if (node.IsNull() || !node.IsDefined())
      continue;  // "---" with nothing after it
    json::Document doc;
    Converter c{doc.GetAllocator(), budget, limit, *values};
    try {
      auto v = c.convert(node);
      if (!v.ok())
        return std::move(v).error();
      static_cast<Value&>(doc) = std::move(*v);
    } catch (const YAML::Exception& e) {
      return located(e.msg, e.mark);
    }
    budget = c.budget;
    docs.push_back(std::move(doc));
  }
  return docs;
}

Result<std::vector<json::Document>> file_to_json(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return errno_error("cannot read " + path, errno).with("path", path);
  std::stringstream ss;
  ss << in.rdbuf();
  auto r = to_json(ss.str());
  if (!r.ok()) {
    Error e = std::move(r).error();
    e.message = path + ": " + e.message;
    return e.with("path", path);
  }
  return r;
}

std::string to_yaml(const json::Value& v) {
  YAML::Emitter out;
  out.SetIndent(2);
  emit(out, v);
  return std::string(out.c_str()) + "\n";
}

}  // namespace kv::core::yaml
