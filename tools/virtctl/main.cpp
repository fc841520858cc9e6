// virtctl: see docs/virtctl.md.
#include <iostream>
#include <string>
#include <vector>

#include "tools/virtctl/args.hpp"
#include "tools/virtctl/virtctl.hpp"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  // Installed as the kubectl plugin kubectl-virt too: its usage then says "kubectl virt".
  return kv::virtctl::run(args, std::cout, std::cerr,
                          kv::virtctl::program_name(argc > 0 ? argv[0] : "virtctl"));
}
