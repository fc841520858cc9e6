// The pieces of the text format: what a scraper accepts as a name and reads back from a value.
#include "core/metrics/exposition.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <limits>

using namespace kv::core::metrics;

TEST_CASE("metric and label names follow the Prometheus rules") {
  CHECK(valid_metric_name("kubevirt_handler_vmis"));
  CHECK(valid_metric_name("job:rate_5m"));
  CHECK(valid_metric_name("_x"));
  CHECK_FALSE(valid_metric_name(""));
  CHECK_FALSE(valid_metric_name("1x"));
  CHECK_FALSE(valid_metric_name("a-b"));
  CHECK_FALSE(valid_metric_name("a b"));

  CHECK(valid_label_name("route"));
  CHECK(valid_label_name("_x9"));
  CHECK_FALSE(valid_label_name(""));
  CHECK_FALSE(valid_label_name("9x"));
  CHECK_FALSE(valid_label_name("a:b"));  // colons are for metric names only
  CHECK_FALSE(valid_label_name("__name__"));
  CHECK_FALSE(valid_label_name("a.b"));
}

TEST_CASE("HELP text escapes backslash and newline, and nothing else") {
  CHECK(escape_help("plain") == "plain");
  CHECK(escape_help("a\\b") == "a\\\\b");
  CHECK(escape_help("two\nlines") == "two\\nlines");
  CHECK(escape_help("say \"hi\"") == "say \"hi\"");
}

TEST_CASE("label values escape backslash, double quote and newline") {
  CHECK(escape_label_value("vm-1") == "vm-1");
  CHECK(escape_label_value("a\\b") == "a\\\\b");
  CHECK(escape_label_value("a \"b\"") == "a \\\"b\\\"");
  CHECK(escape_label_value("x\ny") == "x\\ny");
  CHECK(render_labels({}) == "");
  CHECK(render_labels({{"verb", "create"}, {"resource", "pods"}}) ==
        "{verb=\"create\",resource=\"pods\"}");
  CHECK(render_labels({{"msg", "a\"b\\c\nd"}}) == "{msg=\"a\\\"b\\\\c\\nd\"}");
}

TEST_CASE("values are written as a scraper reads them back") {
  CHECK(format_value(0) == "0");
  CHECK(format_value(3) == "3");
  CHECK(format_value(-2) == "-2");
  CHECK(format_value(1000000) == "1000000");
  CHECK(format_value(0.5) == "0.5");
  CHECK(format_value(0.1) == "0.1");
  CHECK(format_value(0.7 + 3) == "3.7");
  CHECK(format_value(std::numeric_limits<double>::infinity()) == "+Inf");
  CHECK(format_value(-std::numeric_limits<double>::infinity()) == "-Inf");
  CHECK(format_value(std::nan("")) == "NaN");
  // Whatever the magnitude, the text parses back to the same double.
  for (double v : {1e15, 1e20, 123456.789, 1.0 / 3, 2.5e-9, -0.000123})
    CHECK(std::strtod(format_value(v).c_str(), nullptr) == v);
}
