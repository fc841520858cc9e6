// kv-crdgen: writes the kubevirt.io CRDs generated from api/v1's types into a directory.
//   kv-crdgen DIR           write DIR/kubevirt.io_virtualmachines.yaml and
//   ..._virtualmachineinstances.yaml kv-crdgen --check DIR   exit 1 (and say how to regenerate)
//   when DIR's files differ
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "api/v1/crd.hpp"

int main(int argc, char** argv) {
  bool check = false;
  std::string dir;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--check") {
      check = true;
    } else if (arg == "-h" || arg == "--help") {
      std::cout << "usage: kv-crdgen [--check] DIR\n";
      return 0;
    } else if (dir.empty()) {
      dir = arg;
    } else {
      std::cerr << "kv-crdgen: unexpected argument \"" << arg
                << "\"; usage: kv-crdgen [--check] DIR\n";
      return 2;
    }
  }
  if (dir.empty()) {
    std::cerr << "kv-crdgen: missing DIR; usage: kv-crdgen [--check] DIR\n";
    return 2;
  }
  int rc = 0;
  for (const auto& crd : kv::api::v1::generate_crds()) {
    const std::string path = dir + "/" + crd.file_name;
    if (check) {
      std::ifstream in(path, std::ios::binary);
      std::stringstream ss;
      ss << in.rdbuf();
      if (!in || ss.str() != crd.yaml) {
        std::cerr << path << ": differs from what the C++ types generate; "
                  << kv::api::v1::kRegenerateHint << "\n";
        rc = 1;
      }
      continue;
    }
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << crd.yaml;
    if (!out.flush()) {
      std::cerr << "kv-crdgen: cannot write " << path << "\n";
      return 1;
    }
    std::cout << "wrote " << path << "\n";
  }
  return rc;
}
