// core/metrics Registry: the /metrics text read back the way a Prometheus scraper reads it.
#include "core/metrics/registry.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <cstdlib>
#include <limits>
#include <map>
#include <sstream>
#include <thread>
#include <vector>

using namespace kv::core::metrics;

namespace {

// One sample line: name{labels} value.
struct Sample {
  std::string name;
  Labels labels;
  double value = 0;
};

// What a scraper keeps from one exposition; `errors` lists whatever it would reject.
struct Scrape {
  std::vector<std::string> families;  // in # TYPE order
  std::map<std::string, std::string> help, type;
  std::map<std::string, int> help_lines, type_lines;
  std::vector<Sample> samples;
  std::vector<std::string> errors;

  const Sample* find(const std::string& name, const Labels& labels) const {
    for (const auto& s : samples)
      if (s.name == name && s.labels == labels)
        return &s;
    return nullptr;
  }
};

// Reads an escaped string up to `end` ('"' for a label value, '\n' for HELP text).
bool unescape(const std::string& line, size_t& i, char end, std::string& out, bool quotes) {
  for (; i < line.size() && line[i] != end; ++i) {
    if (line[i] != '\\') {
      if (line[i] == '\n')
        return false;
      out += line[i];
      continue;
    }
    if (++i == line.size())
      return false;
    if (line[i] == '\\')
      out += '\\';
    else if (line[i] == 'n')
      out += '\n';
    else if (line[i] == '"' && quotes)
      out += '"';
    else
      return false;
  }
  return true;
}

Scrape scrape(const std::string& text) {
  Scrape s;
  if (!text.empty() && text.back() != '\n')
    s.errors.push_back("no final newline");
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0) {
      const bool help = line[2] == 'H';
      size_t sp = line.find(' ', 7);
      std::string name = line.substr(7, sp - 7);
      std::string rest;
      size_t i = sp == std::string::npos ? line.size() : sp + 1;
      if (!unescape(line, i, '\n', rest, false))
        s.errors.push_back("bad escape: " + line);
      if (!valid_metric_name(name))
        s.errors.push_back("bad family name: " + line);
      if (help) {
        s.help[name] = rest;
        ++s.help_lines[name];
      } else {
        s.type[name] = rest;
        ++s.type_lines[name];
        s.families.push_back(name);
      }
      continue;
    }
    Sample smp;
    size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ')
      ++i;
    smp.name = line.substr(0, i);
    if (!valid_metric_name(smp.name))
      s.errors.push_back("bad sample name: " + line);
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        size_t eq = line.find('=', i);
        if (eq == std::string::npos || eq + 1 >= line.size() || line[eq + 1] != '"') {
          s.errors.push_back("bad label: " + line);
          break;
        }
        std::string label = line.substr(i, eq - i), value;
        if (!valid_label_name(label))
          s.errors.push_back("bad label name: " + line);
        i = eq + 2;
        if (!unescape(line, i, '"', value, true) || i == line.size()) {
          s.errors.push_back("bad label value: " + line);
          break;
        }
        smp.labels.emplace_back(label, value);
        ++i;  // the closing quote
        if (i < line.size() && line[i] == ',')
          ++i;
      }
      ++i;  // '}'
    }
    if (i >= line.size() || line[i] != ' ') {
      s.errors.push_back("no value: " + line);
      continue;
    }
    char* end = nullptr;
    smp.value = std::strtod(line.c_str() + i + 1, &end);
    if (end == line.c_str() + i + 1 || *end != '\0')
      s.errors.push_back("bad value: " + line);
    s.samples.push_back(std::move(smp));
  }
  return s;
}

// Runs fn in a child process; true when it aborted (the registry's answer to a bug).
template <typename F>
bool aborts(F fn) {
  pid_t pid = fork();
  if (pid == 0) {
    std::signal(SIGABRT, SIG_DFL);  // not Catch's handler: it would report in the parent's log
    fn();
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}

}  // namespace

TEST_CASE("counters and gauges: HELP and TYPE once per family, escaped labels read back") {
  Registry r;
  r.declare("kv_requests_total", Type::counter, "Requests.\nBy route, a\\b.");
  r.declare("kv_sessions", Type::gauge, "Open sessions.");
  r.inc("kv_requests_total", {{"route", "version"}, {"code", "200"}});
  r.inc("kv_requests_total", {{"route", "version"}, {"code", "200"}}, 2);
  r.inc("kv_requests_total", {{"route", "a \"b\"\\c\nd"}, {"code", "404"}});
  r.set("kv_sessions", {}, 4);
  r.set("kv_sessions", {}, 2);

  const std::string text = r.render();
  Scrape s = scrape(text);
  INFO(text);
  CHECK(s.errors.empty());
  CHECK(s.help_lines["kv_requests_total"] == 1);
  CHECK(s.type_lines["kv_requests_total"] == 1);
  CHECK(s.help["kv_requests_total"] == "Requests.\nBy route, a\\b.");
  CHECK(s.type["kv_requests_total"] == "counter");
  CHECK(s.type["kv_sessions"] == "gauge");
  CHECK(text.find("# HELP kv_requests_total Requests.\\nBy route, a\\\\b.\n") != std::string::npos);

  const Sample* ok = s.find("kv_requests_total", {{"route", "version"}, {"code", "200"}});
  REQUIRE(ok);
  CHECK(ok->value == 3);
  const Sample* odd = s.find("kv_requests_total", {{"route", "a \"b\"\\c\nd"}, {"code", "404"}});
  REQUIRE(odd);
  CHECK(odd->value == 1);
  REQUIRE(s.find("kv_sessions", {}));
  CHECK(s.find("kv_sessions", {})->value == 2);
  CHECK(s.samples.size() == 3);

  CHECK(r.value("kv_requests_total", {{"route", "version"}, {"code", "200"}}) == 3);
  CHECK(r.value("kv_requests_total", {{"route", "version"}, {"code", "500"}}) == 0);
  CHECK(r.value("kv_absent_total") == 0);
}

TEST_CASE("histograms: cumulative buckets, +Inf equal to the count, sum and count") {
  Registry r;
  r.declare("kv_request_seconds", Type::histogram, "Round trips.", {0.1, 1, 5});
  for (double v : {0.05, 0.1, 0.5, 3.0, 7.0})  // 0.1 lies on a bound: counted as <= 0.1
    r.observe("kv_request_seconds", {{"command", "sync"}}, v);
  r.observe("kv_request_seconds", {{"command", "pause"}}, 0.2);

  const std::string text = r.render();
  Scrape s = scrape(text);
  INFO(text);
  CHECK(s.errors.empty());
  CHECK(s.type["kv_request_seconds"] == "histogram");
  CHECK(s.type_lines["kv_request_seconds"] == 1);
  auto bucket = [&](const std::string& command, const std::string& le) {
    const Sample* b = s.find("kv_request_seconds_bucket", {{"command", command}, {"le", le}});
    return b ? b->value : -1;
  };
  CHECK(bucket("sync", "0.1") == 2);
  CHECK(bucket("sync", "1") == 3);
  CHECK(bucket("sync", "5") == 4);
  CHECK(bucket("sync", "+Inf") == 5);
  CHECK(bucket("pause", "0.1") == 0);
  CHECK(bucket("pause", "1") == 1);
  CHECK(bucket("pause", "+Inf") == 1);
  const Sample* count = s.find("kv_request_seconds_count", {{"command", "sync"}});
  const Sample* sum = s.find("kv_request_seconds_sum", {{"command", "sync"}});
  REQUIRE(count);
  REQUIRE(sum);
  CHECK(count->value == 5);
  CHECK(sum->value == Approx(10.65));

  // Buckets never decrease and the +Inf bucket is the count, for every series.
  double last = -1;
  std::string series;
  for (const auto& smp : s.samples) {
    if (smp.name != "kv_request_seconds_bucket")
      continue;
    if (smp.labels[0].second != series) {
      series = smp.labels[0].second;
      last = -1;
    }
    CHECK(smp.value >= last);
    last = smp.value;
    if (smp.labels[1].second == "+Inf")
      CHECK(smp.value == s.find("kv_request_seconds_count", {{"command", series}})->value);
  }

  auto h = r.histogram("kv_request_seconds", {{"command", "sync"}});
  REQUIRE(h);
  CHECK(h->bounds == std::vector<double>{0.1, 1, 5});
  CHECK(h->cumulative == std::vector<uint64_t>{2, 3, 4});
  CHECK(h->count == 5);
  CHECK_FALSE(r.histogram("kv_request_seconds", {{"command", "other"}}));
}

TEST_CASE("families come sorted by name, declared ones even before their first series") {
  Registry r;
  r.declare("kv_z_total", Type::counter, "Z.");
  r.declare("kv_a_total", Type::counter, "A.");
  r.declare("kv_m", Type::gauge, "M.");
  r.inc("kv_z_total", {{"k", "b"}});
  r.inc("kv_z_total", {{"k", "a"}});
  const std::string text = r.render();
  Scrape s = scrape(text);
  CHECK(s.errors.empty());
  CHECK(s.families == std::vector<std::string>{"kv_a_total", "kv_m", "kv_z_total"});
  CHECK(text.find("kv_z_total{k=\"a\"} 1\nkv_z_total{k=\"b\"} 1\n") != std::string::npos);
  CHECK(r.render() == text);
}

TEST_CASE("computed series and collectors run at scrape time") {
  Registry r;
  r.declare("kv_depth", Type::gauge, "Queue depth.");
  r.declare("kv_vmis", Type::gauge, "VMIs by phase.");
  int depth = 3;
  r.set_func("kv_depth", {}, [&] { return double(depth); });
  std::map<std::string, int> phases{{"Running", 2}};
  int runs = 0;
  r.add_collector([&](Registry& reg) {
    ++runs;
    reg.reset("kv_vmis");
    for (const auto& [phase, n] : phases)
      reg.set("kv_vmis", {{"phase", phase}}, n);
  });

  Scrape first = scrape(r.render());
  CHECK(runs == 1);
  CHECK(first.find("kv_depth", {})->value == 3);
  CHECK(first.find("kv_vmis", {{"phase", "Running"}})->value == 2);

  depth = 5;
  phases = {{"Failed", 1}};
  Scrape second = scrape(r.render());
  CHECK(runs == 2);
  CHECK(second.find("kv_depth", {})->value == 5);
  CHECK(second.find("kv_vmis", {{"phase", "Failed"}})->value == 1);
  CHECK_FALSE(second.find("kv_vmis", {{"phase", "Running"}}));  // reset dropped it
  CHECK(r.value("kv_depth") == 5);

  // Replacing the function detaches the old one (what an owner does before it goes away).
  r.set_func("kv_depth", {}, [] { return 0.0; });
  CHECK(scrape(r.render()).find("kv_depth", {})->value == 0);
}

TEST_CASE("Undeclared::allow: families appear on first use, untyped until declared") {
  Registry r(Registry::Undeclared::allow);
  r.inc("kv_early_total", {{"verb", "get"}});
  r.observe("kv_wait_seconds", {}, 0.7, {0.5, 1, 5});
  r.observe("kv_wait_seconds", {}, 3, {10, 20});  // the first bounds stay
  std::string text = r.render();
  Scrape s = scrape(text);
  CHECK(s.errors.empty());
  CHECK(s.families.empty());
  CHECK(s.find("kv_early_total", {{"verb", "get"}})->value == 1);
  CHECK(text.find("kv_wait_seconds_bucket{le=\"0.5\"} 0\nkv_wait_seconds_bucket{le=\"1\"} 1\n"
                  "kv_wait_seconds_bucket{le=\"5\"} 2\nkv_wait_seconds_bucket{le=\"+Inf\"} 2\n"
                  "kv_wait_seconds_sum 3.7\nkv_wait_seconds_count 2\n") != std::string::npos);

  r.declare("kv_early_total", Type::counter, "Declared later.");
  s = scrape(r.render());
  CHECK(s.type["kv_early_total"] == "counter");
  CHECK(s.find("kv_early_total", {{"verb", "get"}})->value == 1);
}

TEST_CASE("bugs in how a metric is used abort, naming it") {
  CHECK(aborts([] { Registry().inc("kv_never_declared_total"); }));
  CHECK(aborts([] { Registry().declare("kv-bad", Type::counter, ""); }));
  CHECK(aborts([] {
    Registry r;
    r.declare("kv_x_total", Type::counter, "");
    r.inc("kv_x_total", {{"bad-label", "v"}});
  }));
  CHECK(aborts([] {
    Registry r;
    r.declare("kv_x_total", Type::counter, "");
    r.inc("kv_x_total", {{"__name__", "v"}});
  }));
  CHECK(aborts([] {
    Registry r;
    r.declare("kv_x_total", Type::counter, "");
    r.inc("kv_x_total", {{"a", "1"}, {"a", "2"}});
  }));
  CHECK(aborts([] {
    Registry r;
    r.declare("kv_h", Type::histogram, "", {1, 2});
    r.observe("kv_h", {{"le", "1"}}, 1);
  }));
  CHECK(aborts([] {
    Registry r;
    r.declare("kv_h", Type::histogram, "", {1, 2});
    r.inc("kv_h");
  }));
  CHECK(aborts([] { Registry().declare("kv_h", Type::histogram, "", {2, 1}); }));
  // And the same calls done right do not.
  CHECK_FALSE(aborts([] {
    Registry r;
    r.declare("kv_x_total", Type::counter, "");
    r.inc("kv_x_total", {{"a", "1"}, {"b", "2"}});
    r.declare("kv_h", Type::histogram, "", {1, 2, std::numeric_limits<double>::infinity()});
    r.observe("kv_h", {{"command", "sync"}}, 1);
  }));
}

TEST_CASE("concurrent increments and scrapes lose nothing") {
  Registry r;
  r.declare("kv_hits_total", Type::counter, "Hits.");
  r.declare("kv_seconds", Type::histogram, "Times.", {1});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&r, t] {
      for (int i = 0; i < 2000; ++i) {
        r.inc("kv_hits_total", {{"thread", std::to_string(t % 2)}});
        r.observe("kv_seconds", {}, 0.5);
      }
    });
  int bad_scrapes = 0;  // Catch's assertions are not for other threads
  std::thread scraper([&r, &bad_scrapes] {
    for (int i = 0; i < 50; ++i)
      bad_scrapes += scrape(r.render()).errors.empty() ? 0 : 1;
  });
  for (auto& t : threads)
    t.join();
  scraper.join();
  CHECK(bad_scrapes == 0);
  CHECK(r.value("kv_hits_total", {{"thread", "0"}}) == 4000);
  CHECK(r.value("kv_hits_total", {{"thread", "1"}}) == 4000);
  CHECK(r.histogram("kv_seconds")->count == 8000);
}
