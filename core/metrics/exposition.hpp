#pragma once
// The pieces of the Prometheus text exposition format 0.0.4 that a registry needs, as pure
// functions: name rules, escaping and number formatting. Registry (registry.hpp) uses them; they
// are public so that tests and tools can check what a scraper reads.
//
// Format reference: https://prometheus.io/docs/instrumenting/exposition_formats/

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kv::core::metrics {

// Label pairs in the order they are rendered. The same series must be named with its labels in
// the same order every time (the order is part of the series' identity, as in the text).
using Labels = std::vector<std::pair<std::string, std::string>>;

// A metric family name: [a-zA-Z_:][a-zA-Z0-9_:]*.
bool valid_metric_name(std::string_view name);
// A label name: [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__" (reserved for Prometheus itself).
bool valid_label_name(std::string_view name);

// The text of a # HELP line: '\' -> "\\", newline -> "\n".
std::string escape_help(std::string_view text);
// A label value between its quotes: '\' -> "\\", '"' -> "\"", newline -> "\n".
std::string escape_label_value(std::string_view value);

// A sample value (and a histogram's le="..."): "+Inf", "-Inf", "NaN"; integral values below 1e15
// as plain digits ("3", "1000000"); anything else as the shortest text that reads back as the
// same double ("0.1", "3.7", "1e+20").
std::string format_value(double v);

// "{a=\"x\",b=\"y\"}" in the given order with the values escaped; "" for no labels. Does not check
// the names (Registry does, once per series).
std::string render_labels(const Labels& labels);

}  // namespace kv::core::metrics
