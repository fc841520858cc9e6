#pragma once
// virt-handler's /metrics registry (docs/handler.md "Metrics"): core::metrics' Registry, under
// the name the handler uses. Every family is declared (HELP, TYPE, buckets) before it is used;
// using an undeclared one is a bug and aborts. Collectors added with add_collector() compute the
// informer-cache gauges at every scrape.

#include "core/metrics/registry.hpp"

namespace kv::handler {

using Labels = core::metrics::Labels;
using Metrics = core::metrics::Registry;
using core::metrics::render_labels;

}  // namespace kv::handler
