// virtctl: see docs/virtctl.md.
#include <iostream>
#include <string>
#include <vector>

#include "tools/virtctl/virtctl.hpp"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return kv::virtctl::run(args, std::cout, std::cerr);
}
