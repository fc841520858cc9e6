// kv-bench-report: the table (and JSON) of tools/bench/run from its samples file. See report.hpp
// for the samples' format. Records; asserts nothing.
//   kv-bench-report SAMPLES [--json OUT] [--context KEY=VALUE]...
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "core/flags.hpp"
#include "tools/bench/report/report.hpp"

int main(int argc, char** argv) {
  std::string json_out;
  std::vector<std::string> context_args;
  kv::core::Flags flags("kv-bench-report",
                        "Prints the benchmark table of tools/bench/run from its samples file "
                        "(lines KIND<TAB>N<TAB>NAME<TAB>VALUE).");
  flags.text({.name = "--json", .value = "FILE", .help = "also write the table as JSON to FILE"},
             &json_out);
  flags.value({.name = "--context",
               .value = "KEY=VALUE",
               .help = "copied into the JSON (machine, date, command); repeatable"},
              [&](const std::string& v) -> kv::core::Status {
                if (v.find('=') == std::string::npos)
                  return kv::core::Error{kv::core::Errc::invalid,
                                         "--context: want KEY=VALUE, got \"" + v + "\""};
                context_args.push_back(v);
                return {};
              });
  flags.argument({.name = "SAMPLES", .help = "the samples file"});
  auto parsed = flags.parse_or_exit(argc, argv);

  std::ifstream in(parsed.args.at(0));
  if (!in) {
    std::cerr << "kv-bench-report: cannot read " << parsed.args.at(0) << "\n";
    return 1;
  }
  std::stringstream text;
  text << in.rdbuf();
  auto samples = kv::bench::parse_samples(text.str());
  if (!samples.ok()) {
    std::cerr << "kv-bench-report: " << samples.error().to_string() << "\n";
    return 1;
  }
  auto groups = kv::bench::analyse(*samples);
  std::cout << kv::bench::render_table(groups);
  if (!json_out.empty()) {
    std::map<std::string, std::string> context;
    for (const auto& kv : context_args)
      context[kv.substr(0, kv.find('='))] = kv.substr(kv.find('=') + 1);
    std::ofstream out(json_out);
    out << kv::bench::render_json(groups, context) << "\n";
    if (!out) {
      std::cerr << "kv-bench-report: cannot write " << json_out << "\n";
      return 1;
    }
  }
  return 0;
}
