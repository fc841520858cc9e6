#pragma once
// virtctl: the KubeVirt command-line tool (docs/virtctl.md). main() calls run(); everything else
// lives in the kvvirtctl library so tests drive the whole tool in-process.

#include <iosfwd>
#include <string>
#include <vector>

namespace kv::virtctl {

// Runs one invocation (args without the program name) and returns the exit status: 0 on
// success, 1 on any error (usage errors included, as upstream's cobra). Results go to out,
// messages and errors to err; the console and vnc commands use the process's stdin/stdout.
// program: the name usage texts show, program_name(argv[0]) ("virtctl" or "kubectl virt").
int run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
        const std::string& program = "virtctl");

}  // namespace kv::virtctl
