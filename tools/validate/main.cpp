// kv-validate FILE...: checks VirtualMachine and VirtualMachineInstance manifests as admission
// would (decode, default, validate). Every problem is printed as
//   FILE: <kind>/<name>: <path>: <message>
// and the exit status is 1; when all are valid the defaulted objects are printed as YAML (a
// multi-document stream) and the exit status is 0. Exit status 2: usage or unreadable input.
#include <iostream>
#include <string>

#include "api/v1/validation.hpp"
#include "core/yaml.hpp"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: kv-validate FILE...   (YAML or JSON; multi-document; - for stdin is not "
                 "supported)\n";
    return 2;
  }
  std::string out;
  bool invalid = false;
  for (int i = 1; i < argc; ++i) {
    const std::string file = argv[i];
    auto docs = kv::core::yaml::file_to_json(file);
    if (!docs.ok()) {
      std::cerr << docs.error().message << "\n";
      return 2;
    }
    if (docs->empty()) {
      std::cerr << file << ": no documents\n";
      invalid = true;
    }
    for (const auto& doc : *docs) {
      auto result = kv::api::v1::admit(doc);
      const std::string who = (result.kind.empty() ? "<no kind>" : result.kind) + "/" +
                              (result.name.empty() ? "<no name>" : result.name);
      for (const auto& e : result.errors) {
        std::cout << file << ": " << who << ": " << e.to_string() << "\n";
        invalid = true;
      }
      if (result.errors.empty()) {
        out += "---\n" + kv::core::yaml::to_yaml(result.defaulted);
      }
    }
  }
  if (invalid) {
    return 1;
  }
  std::cout << out;
  return 0;
}
