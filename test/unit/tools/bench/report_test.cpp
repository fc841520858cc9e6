#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include "core/json.hpp"
#include "tools/bench/report/report.hpp"

using namespace kv::bench;

TEST_CASE("percentile is nearest-rank: p50 of 5 is the 3rd, p95 of 20 the 19th") {
  CHECK(*percentile({5, 1, 4, 2, 3}, 50) == 3);
  std::vector<double> twenty;
  for (int i = 20; i >= 1; --i)
    twenty.push_back(i);
  CHECK(*percentile(twenty, 95) == 19);
  CHECK(*percentile(twenty, 100) == 20);
  CHECK(*percentile({7}, 95) == 7);
  CHECK(*percentile({2, 1}, 50) == 1);
  CHECK_FALSE(percentile({}, 50).has_value());
}

TEST_CASE("summarize gives count, p50, p95 and max") {
  auto s = summarize({1.5, 9, 2, 3, 4, 5, 6, 7, 8, 10});
  REQUIRE(s);
  CHECK(s->count == 10);
  CHECK(s->p50 == 5);
  CHECK(s->p95 == 10);
  CHECK(s->max == 10);
  CHECK_FALSE(summarize({}).has_value());
}

TEST_CASE("samples: tab-separated KIND N NAME VALUE; comments skipped; errors name the line") {
  auto ok = parse_samples("# run\nlatency\t1\tvm.running\t4.5\n\nstep\t10\tpod.created\t0.25\n");
  REQUIRE(ok.ok());
  REQUIRE(ok->size() == 2);
  CHECK((*ok)[1].kind == "step");
  CHECK((*ok)[1].n == 10);
  CHECK((*ok)[1].value == 0.25);

  auto three = parse_samples("latency\t1\tvm.running\n");
  REQUIRE_FALSE(three.ok());
  CHECK_THAT(three.error().message, Catch::Contains("samples line 1") && Catch::Contains("got 3"));
  auto kind = parse_samples("# x\nspeed\t1\ta\t1\n");
  REQUIRE_FALSE(kind.ok());
  CHECK_THAT(kind.error().message,
             Catch::Contains("samples line 2") && Catch::Contains("KIND must be"));
  CHECK_FALSE(parse_samples("latency\t0\ta\t1\n").ok());
  CHECK_FALSE(parse_samples("latency\t1.5\ta\t1\n").ok());
  CHECK_FALSE(parse_samples("latency\t1\ta\tfast\n").ok());
  CHECK_FALSE(parse_samples("latency\t1\t\t1\n").ok());
}

TEST_CASE("ratios compare p50 with p50 and p95 with p95, per N") {
  std::vector<Sample> s;
  for (double v : {4, 5, 6})
    s.push_back({"latency", 1, "vm.running", v});
  for (double v : {9, 10, 12})
    s.push_back({"latency", 1, "vm.ready", v});
  for (double v : {1, 2, 3})
    s.push_back({"latency", 1, "pod.running", v});
  for (double v : {2, 3, 5})
    s.push_back({"latency", 1, "qemu.ready", v});
  s.push_back({"latency", 10, "vm.running", 20});
  auto groups = analyse(s);
  REQUIRE(groups.size() == 2);
  const Group& one = groups[0];
  CHECK(one.n == 1);
  CHECK(one.ratio_p50.at("vm.running/pod.running") == Approx(5.0 / 2));
  CHECK(one.ratio_p95.at("vm.running/pod.running") == Approx(6.0 / 3));
  CHECK(one.ratio_p50.at("vm.ready/(pod.running+qemu.ready)") == Approx(10.0 / (2 + 3)));
  CHECK(one.ratio_p95.at("vm.ready/(pod.running+qemu.ready)") == Approx(12.0 / (3 + 5)));
  CHECK(one.ratio_p50.at("vm.ready/qemu.ready") == Approx(10.0 / 3));
  // N=10 has no baseline: no ratio rather than a made-up one.
  CHECK(groups[1].n == 10);
  CHECK(groups[1].ratio_p50.empty());
}

TEST_CASE("the timeline is the median per step, in time order; memory is the mean") {
  std::vector<Sample> s = {
      {"step", 2, "vmi.running", 5},   {"step", 2, "vmi.running", 7},
      {"step", 2, "vmi.running", 6},   {"step", 2, "pod.created", 0.5},
      {"step", 2, "pod.created", 0.3}, {"memory", 2, "qemu", 200},
      {"memory", 2, "qemu", 210},      {"control", 2, "virt-handler.rss_mib", 15}};
  auto g = analyse(s).at(0);
  REQUIRE(g.timeline.size() == 2);
  CHECK(g.timeline[0].first == "pod.created");
  CHECK(g.timeline[0].second == 0.3);  // nearest-rank median of two is the lower
  CHECK(g.timeline[1].first == "vmi.running");
  CHECK(g.timeline[1].second == 6);
  CHECK(g.memory.at("qemu") == 205);
  CHECK(g.control.at("virt-handler.rss_mib") == 15);

  std::string table = render_table({g});
  CHECK_THAT(table, Catch::Contains("N = 2 created together"));
  CHECK_THAT(table, Catch::Contains("vmi.running") && Catch::Contains("+5.70"));
}

TEST_CASE("the JSON carries the context and every figure of the table") {
  std::vector<Sample> s = {{"latency", 1, "vm.running", 4}, {"latency", 1, "pod.running", 2}};
  auto text = render_json(analyse(s), {{"machine", "2 cores"}, {"date", "2026-12-03"}});
  auto doc = kv::core::json::parse(text);
  REQUIRE(doc.ok());
  CHECK(*kv::core::json::get_string(*doc, "machine") == "2 cores");
  const auto& g = (*doc)["groups"][0];
  CHECK(g["n"].GetInt() == 1);
  CHECK(g["latency"]["vm.running"]["p50"].GetDouble() == 4);
  CHECK(g["ratio_p50"]["vm.running/pod.running"].GetDouble() == 2);
}

TEST_CASE("goals are judged on the run's own figures and left out when not measured") {
  std::vector<Sample> s;
  // N = 1: VMI Running 1.4 s against a pod's 1.0 s (1.4x, met); ready 5.5 s against 1.0 + 4.0 s
  // (1.1x, met); launcher + libvirtd 20 + 28 MiB (48, not met).
  s.push_back({"latency", 1, "vm.running", 1.4});
  s.push_back({"latency", 1, "pod.running", 1.0});
  s.push_back({"latency", 1, "vm.ready", 5.5});
  s.push_back({"latency", 1, "qemu.ready", 4.0});
  s.push_back({"memory", 1, "rss.launcher", 20});
  s.push_back({"memory", 1, "rss.libvirtd", 28});
  // N = 20: p50 2 s, p95 (the 19th of 20) 3.5 s: 1.75x, not met; handler 18 MiB (<= 20 MB).
  for (int i = 1; i <= 20; ++i)
    s.push_back({"latency", 20, "vm.running", i <= 10 ? 2.0 : (i <= 18 ? 3.0 : 3.5)});
  s.push_back({"control", 20, "virt-handler.rss_mib.peak", 18});
  // The control-plane run: 29 MiB is over 30 MB (28.6 MiB).
  s.push_back({"control", 1000, "cp.controller_rss_mib.peak", 29});

  auto gs = goals(analyse(s));
  std::map<std::string, Goal> by;
  for (const auto& g : gs)
    by[g.what] = g;
  REQUIRE(by.size() == 6);
  CHECK(by.at("VMI Running / pod Running, p50, N=1").met);
  CHECK(by.at("VMI Running / pod Running, p50, N=1").measured == "1.40x");
  CHECK(by.at("guest ready / (pod + bare QEMU), p50, N=1").met);
  CHECK_FALSE(by.at("VMI Running p95 / p50, N=20").met);
  CHECK(by.at("VMI Running p95 / p50, N=20").measured == "1.75x");
  CHECK_FALSE(by.at("launcher + libvirtd RSS per VM, N=1").met);
  CHECK(by.at("launcher + libvirtd RSS per VM, N=1").measured == "48.0 MiB");
  CHECK_FALSE(by.at("virt-controller peak RSS, 1000 VMIs").met);
  CHECK(by.at("virt-handler peak RSS, N=20").met);

  CHECK_THAT(render_table(analyse(s)),
             Catch::Contains("goals (recorded, not asserted)") && Catch::Contains("not met"));
  auto doc = kv::core::json::parse(render_json(analyse(s), {}));
  REQUIRE(doc.ok());
  CHECK((*doc)["goals"].Size() == 6);

  // Only a pod's figures: nothing to judge.
  CHECK(goals(analyse({{"latency", 1, "pod.running", 1}})).empty());
}
