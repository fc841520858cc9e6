#pragma once
// YAML -> JSON as kubectl reads it (sigs.k8s.io/yaml over YAML 1.1 resolution): an unquoted 123 is
// a number, a quoted "123" stays a string; true/false/yes/no/on/off (any of their usual cases) are
// booleans; ~, null and the empty scalar are null; 0x/0o/0b and leading-zero octal integers; merge
// keys (<<). Multi-document streams give one JSON document each; empty documents are skipped.

#include <string>
#include <string_view>
#include <vector>

#include "core/json.hpp"
#include "core/result.hpp"

namespace kv::core::yaml {

// Converts every document of a YAML stream. Syntax errors: Errc::parse with "line N, column M: ..."
// (1-based) in the message and context line/column. Duplicate keys and non-finite numbers are
// rejected with their line, since JSON cannot carry them.
Result<std::vector<json::Document>> to_json(std::string_view yaml_text);

// Reads a file and converts it; the file name prefixes every error message.
Result<std::vector<json::Document>> file_to_json(const std::string& path);

// Serializes JSON as block-style YAML (used by tools that print manifests). Strings that YAML would
// read as another type are quoted so that to_json(to_yaml(v)) == v.
std::string to_yaml(const json::Value& v);

}  // namespace kv::core::yaml
