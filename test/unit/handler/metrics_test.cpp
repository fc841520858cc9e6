// The handler's Prometheus registry (handler/metrics).
#include <catch2/catch.hpp>

#include "handler/metrics.hpp"

using kv::handler::Metrics;

TEST_CASE("counters, gauges and histograms render in the text format") {
  Metrics m;
  m.declare("x_total", Metrics::Type::counter, "Things.");
  m.declare("g", Metrics::Type::gauge, "Level.");
  m.declare("h_seconds", Metrics::Type::histogram, "Times.", {0.1, 1});
  m.inc("x_total", {{"kind", "a"}});
  m.inc("x_total", {{"kind", "a"}}, 2);
  m.set("g", {{"phase", "Running"}}, 3);
  m.observe("h_seconds", {{"command", "sync"}}, 0.05);
  m.observe("h_seconds", {{"command", "sync"}}, 0.5);
  m.observe("h_seconds", {{"command", "sync"}}, 5);
  std::string text = m.render();
  CHECK(text.find("# TYPE x_total counter\n") != std::string::npos);
  CHECK(text.find("x_total{kind=\"a\"} 3\n") != std::string::npos);
  CHECK(text.find("g{phase=\"Running\"} 3\n") != std::string::npos);
  CHECK(text.find("h_seconds_bucket{command=\"sync\",le=\"0.1\"} 1\n") != std::string::npos);
  CHECK(text.find("h_seconds_bucket{command=\"sync\",le=\"1\"} 2\n") != std::string::npos);
  CHECK(text.find("h_seconds_bucket{command=\"sync\",le=\"+Inf\"} 3\n") != std::string::npos);
  CHECK(text.find("h_seconds_count{command=\"sync\"} 3\n") != std::string::npos);
  CHECK(m.value("x_total", {{"kind", "a"}}) == 3);
}

TEST_CASE("label values are escaped and collectors run at render time") {
  Metrics m;
  m.declare("g", Metrics::Type::gauge, "Level.");
  int calls = 0;
  m.add_collector([&](Metrics& mm) {
    ++calls;
    mm.reset("g");
    mm.set("g", {{"v", "a\"b\\c"}}, calls);
  });
  m.render();
  std::string text = m.render();
  CHECK(calls == 2);
  CHECK(text.find("g{v=\"a\\\"b\\\\c\"} 2\n") != std::string::npos);
}
