#pragma once
// Helpers shared by the api/v1 unit tests: reading YAML test files and listing directories.

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "core/json.hpp"
#include "core/yaml.hpp"

namespace kv::api::v1::test {

inline std::string testdata(const std::string& rel) {
  return std::string(KV_API_TESTDATA) + "/" + rel;
}

inline std::string source_path(const std::string& rel) {
  return std::string(KV_SOURCE_ROOT) + "/" + rel;
}

// Sorted *.yaml files of a directory.
inline std::vector<std::string> yaml_files(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() == ".yaml") {
      out.push_back(e.path().string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

// All documents of a YAML file; the test fails when the file does not parse.
inline std::vector<core::json::Document> load(const std::string& path) {
  auto docs = core::yaml::file_to_json(path);
  if (!docs.ok()) {
    throw std::runtime_error(docs.error().message);
  }
  return std::move(docs).value();
}

inline core::json::Document one(const std::string& yaml) {
  auto docs = core::yaml::to_json(yaml);
  if (!docs.ok() || docs->size() != 1) {
    throw std::runtime_error("test YAML does not parse to one document");
  }
  return std::move(docs->front());
}

}  // namespace kv::api::v1::test
