// The /metrics text: what a Prometheus scrape of virt-controller sees.
#include "controller/metrics.hpp"

#include <catch2/catch.hpp>

using namespace kv::controller;

TEST_CASE("Metrics: counters, gauges and histograms in Prometheus text format") {
  Metrics m;
  m.help("kv_x_total", "counter", "Things done.");
  m.inc("kv_x_total", {{"controller", "vm"}, {"result", "ok"}});
  m.inc("kv_x_total", {{"controller", "vm"}, {"result", "ok"}}, 2);
  m.inc("kv_x_total", {{"controller", "vmi"}, {"result", "error"}});
  m.gauge_func("kv_depth", [] { return 7.0; });
  m.observe("kv_seconds", {}, 0.7, {0.5, 1, 5});
  m.observe("kv_seconds", {}, 3, {0.5, 1, 5});
  m.inc("kv_quoted_total", {{"msg", "a \"b\""}});
  const std::string text = m.render();
  CHECK(text.find("# HELP kv_x_total Things done.\n# TYPE kv_x_total counter\n") != std::string::npos);
  CHECK(text.find("kv_x_total{controller=\"vm\",result=\"ok\"} 3\n") != std::string::npos);
  CHECK(text.find("kv_x_total{controller=\"vmi\",result=\"error\"} 1\n") != std::string::npos);
  CHECK(text.find("kv_depth 7\n") != std::string::npos);
  CHECK(text.find("kv_seconds_bucket{le=\"0.5\"} 0\n") != std::string::npos);
  CHECK(text.find("kv_seconds_bucket{le=\"1\"} 1\n") != std::string::npos);
  CHECK(text.find("kv_seconds_bucket{le=\"5\"} 2\n") != std::string::npos);
  CHECK(text.find("kv_seconds_bucket{le=\"+Inf\"} 2\n") != std::string::npos);
  CHECK(text.find("kv_seconds_sum 3.7\n") != std::string::npos);
  CHECK(text.find("kv_seconds_count 2\n") != std::string::npos);
  CHECK(text.find("kv_quoted_total{msg=\"a \\\"b\\\"\"} 1\n") != std::string::npos);
  CHECK(m.value("kv_x_total", {{"controller", "vm"}, {"result", "ok"}}) == 3);
  CHECK(m.value("kv_absent") == 0);
}
