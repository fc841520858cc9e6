#pragma once
// The arithmetic and the table of tools/bench/run: samples in, percentiles, ratios to the
// baselines and the per-step timeline out, as text and as JSON. Records; asserts nothing.
//
// Samples are lines of four tab-separated fields, `KIND N NAME VALUE`:
//   latency N vm.running|vm.ready|pod.running|qemu.ready SECONDS   one line per object
//   step    N <timeline step>                            SECONDS   since the VM's create, per VM
//   memory  N <part>                                     MIB       per VM
//   control N <component>.<measure>                      VALUE     per run
// N is how many objects were created together. Lines starting with '#' and empty lines are
// skipped; anything else that does not parse is an error naming the line.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace kv::bench {

struct Sample {
  std::string kind;
  int n = 0;
  std::string name;
  double value = 0;
};

kv::core::Result<std::vector<Sample>> parse_samples(std::string_view text);

// Nearest-rank percentile (the smallest value with at least p% of the samples at or below it):
// p50 of 5 samples is the 3rd smallest, p95 of 20 the 19th. Empty input: nullopt.
std::optional<double> percentile(std::vector<double> values, double p);

struct Summary {
  size_t count = 0;
  double p50 = 0, p95 = 0, max = 0;
};
std::optional<Summary> summarize(const std::vector<double>& values);

// The whole run, grouped by N.
struct Group {
  int n = 0;
  std::map<std::string, Summary> latency;  // vm.running, vm.ready, pod.running, qemu.ready
  std::map<std::string, double> ratio_p50, ratio_p95;    // see ratios()
  std::vector<std::pair<std::string, double>> timeline;  // step -> median seconds, in time order
  std::map<std::string, double> memory;                  // part -> mean MiB per VM
  std::map<std::string, double> control;                 // component.measure -> value
};

// Our cost against the baselines, for p50 and p95 alike:
//   "vm.running/pod.running"            VMI Running against a plain pod Running;
//   "vm.ready/(pod.running+qemu.ready)" the guest's ready line against a pod's start plus a bare
//                                       QEMU boot of the same guest;
//   "vm.ready/qemu.ready"               against the bare boot alone.
// A ratio whose operands are missing is left out.
void ratios(Group& g);

std::vector<Group> analyse(const std::vector<Sample>& samples);

// The targets, each judged on the run's own figures: met, not met, or not measured in
// this run (left out). Recorded beside the table, never asserted.
//   start, N = 1 (the smallest N): VMI Running p50 <= 1.5x a pod's Running p50; guest ready p50
//     <= 1.3x (pod Running + bare QEMU ready) p50;
//   spread, the largest N: VMI Running p95 <= 1.5x its p50;
//   memory: virt-launcher + libvirtd RSS per VM <= 40 MiB (the smallest N); virt-controller's
//     peak RSS in the control-plane-only run <= 30 MB; virt-handler's peak RSS during the largest
//     N's start <= 20 MB.
struct Goal {
  std::string what;    // e.g. "VMI Running / pod Running, p50, N = 1"
  std::string target;  // e.g. "<= 1.50x"
  std::string measured;
  bool met = false;
};
std::vector<Goal> goals(const std::vector<Group>& groups);

// The table, then the goals (goals(groups)).
std::string render_table(const std::vector<Group>& groups);
// `context` holds what the table is about (machine, date, command): copied into the JSON.
std::string render_json(const std::vector<Group>& groups,
                        const std::map<std::string, std::string>& context);

}  // namespace kv::bench
