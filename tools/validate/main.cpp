// kv-validate FILE...: checks VirtualMachine and VirtualMachineInstance manifests as admission
// would (decode, default, validate). Every problem is printed as
//   FILE: <kind>/<name>: <path>: <message>
// and the exit status is 1; when all are valid the defaulted objects are printed as YAML (a
// multi-document stream) and the exit status is 0. Exit status 2: usage or unreadable input.
#include <iostream>
#include <string>

#include "api/v1/validation.hpp"
#include "core/flags.hpp"
#include "core/yaml.hpp"

int main(int argc, char** argv) {
  kv::core::Flags flags("kv-validate",
                        "Checks VirtualMachine and VirtualMachineInstance manifests as admission "
                        "would; prints the defaulted objects as YAML when all are valid.");
  flags.arguments(
      {.name = "FILE...",
       .help = "the manifests, YAML or JSON, multi-document (- for stdin is not supported)"});
  const auto files = flags.parse_or_exit(argc, argv, 2).args;
  std::string out;
  bool invalid = false;
  for (const std::string& file : files) {
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
