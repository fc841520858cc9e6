#pragma once
// CustomResourceDefinitions for VirtualMachine and VirtualMachineInstance, produced from the same
// field tables as the codec (fields.hpp): structural OpenAPI v3 schemas, the status subresource,
// short names, the `all` category and printer columns. tools/crdgen writes them to
// manifests/crds/; test/unit/api/crd_test.cpp fails when the committed files differ.

#include <string>
#include <vector>

#include "core/json.hpp"

namespace kv::api::v1 {

struct CrdFile {
  std::string file_name;  // "kubevirt.io_virtualmachines.yaml"
  std::string yaml;       // the whole file, header comment included
};

// Both CRDs, in a fixed order.
std::vector<CrdFile> generate_crds();

// The CRD objects themselves (for tests and tools that want JSON).
core::json::Document virtual_machine_crd();
core::json::Document virtual_machine_instance_crd();

// How to regenerate, for messages: "ninja -C <builddir> crds" or the crdgen command line.
inline constexpr std::string_view kRegenerateHint =
    "regenerate with: ninja -C <builddir> crds   (or: <builddir>/tools/crdgen/kv-crdgen "
    "manifests/crds)";

}  // namespace kv::api::v1
