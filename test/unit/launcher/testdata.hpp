#pragma once
// The launcher tests' VMIs: test/unit/launcher/testdata/<name>.json, decoded (LAUNCHER_TESTDATA is
// set by meson.build).

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>
#include <string>

#include "api/v1/codec.hpp"
#include "core/json.hpp"

namespace kv::launcher::testing {

inline std::string read(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

inline api::v1::VirtualMachineInstance load(const std::string& name) {
  auto doc = core::json::parse(read(std::string(LAUNCHER_TESTDATA) + "/" + name + ".json"));
  REQUIRE(doc.ok());
  auto vmi = api::v1::decode_vmi(*doc);
  if (!vmi.ok())
    FAIL(vmi.error().to_string());
  return *vmi;
}

}  // namespace kv::launcher::testing
