// kv-crdgen: writes the kubevirt.io CRDs generated from api/v1's types into a directory.
//   kv-crdgen DIR           write DIR/kubevirt.io_virtualmachines.yaml and
//                           ..._virtualmachineinstances.yaml
//   kv-crdgen --check DIR   exit 1 (and say how to regenerate) when DIR's files differ
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "api/v1/crd.hpp"
#include "core/flags.hpp"

int main(int argc, char** argv) {
  bool check = false;
  kv::core::Flags flags("kv-crdgen",
                        "Writes the kubevirt.io CRDs generated from api/v1's types into DIR.");
  flags.boolean({.name = "--check",
                 .help = "write nothing; exit 1 (and say how to regenerate) when DIR's files "
                         "differ"},
                &check);
  flags.argument({.name = "DIR", .help = "the directory of the CRD files"});
  const std::string dir = flags.parse_or_exit(argc, argv, 2).args[0];
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
