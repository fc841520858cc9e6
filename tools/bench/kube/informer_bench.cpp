// Benchmark (not a test): informer initial sync of N objects (time, RSS per object) and sustained
// watch throughput, against the API server in $KUBECONFIG. Prints a table.
//   kube_informer_bench [N=10000] [WATCH_SECONDS=15]
// With a private control plane:
//   test/integration/with_control_plane.sh BUILD/tools/bench/kube/kube_informer_bench
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "core/kube/client.hpp"
#include "core/kube/informer.hpp"
#include "core/log.hpp"

using namespace std::chrono_literals;
using namespace kv::core;
using namespace kv::core::kube;
using Clk = std::chrono::steady_clock;

namespace {

long rss_kib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0)
      return std::stol(line.substr(6));
  return 0;
}

double secs(Clk::duration d) {
  return std::chrono::duration<double>(d).count();
}

json::Document config_map(const std::string& ns, const std::string& name) {
  // ~0.5 KiB of data, in the range of a small VMI's annotations + status.
  std::string data(400, 'x');
  auto d =
      json::parse(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":")" + name +
                  R"(","namespace":")" + ns + R"(","labels":{"app":"bench","shard":")" +
                  std::to_string(name.size() % 7) + R"("}},"data":{"payload":")" + data + R"("}})");
  return std::move(*d);
}

}  // namespace

int main(int argc, char** argv) {
  int n = argc > 1 ? std::atoi(argv[1]) : 10000;
  int watch_seconds = argc > 2 ? std::atoi(argv[2]) : 15;
  log::init("kube-bench", log::Level::warn);
  auto config = load_default();
  if (!config.ok()) {
    std::fprintf(stderr, "%s\n", config.error().to_string().c_str());
    return 1;
  }
  config->qps = 0;  // measure the server and the client, not the limiter
  auto client_r = make_client(*config);
  if (!client_r.ok()) {
    std::fprintf(stderr, "%s\n", client_r.error().to_string().c_str());
    return 1;
  }
  KubeClient& client = **client_r;
  const std::string ns = "bench-informer";
  auto nsdoc =
      json::parse(R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":")" + ns + R"("}})");
  (void)client.create(resources::namespaces(), "", *nsdoc);
  auto cms = resources::config_maps();

  // 1. Objects to sync.
  ListOptions ours;
  ours.label_selector = "app=bench";  // not the namespace's kube-root-ca.crt
  auto existing = list_all(client, cms, ns, ours);
  int have = existing.ok() ? static_cast<int>(existing->items.size()) : 0;
  auto t0 = Clk::now();
  std::atomic<int> next{have}, failed{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < 16; ++w)
    writers.emplace_back([&] {
      for (int i = next++; i < n; i = next++)
        if (!client.create(cms, ns, config_map(ns, "obj-" + std::to_string(i))).ok())
          ++failed;
    });
  for (auto& t : writers)
    t.join();
  double create_s = secs(Clk::now() - t0);
  int created = n - have;

  // 2. A plain paged list for comparison.
  t0 = Clk::now();
  auto listed = list_all(client, cms, ns, ours);
  double list_s = secs(Clk::now() - t0);
  size_t listed_n = listed.ok() ? listed->items.size() : 0;
  listed = Error(Errc::internal, "released");  // free the copy before measuring RSS

  // 3. Informer initial sync.
  long rss0 = rss_kib();
  InformerOptions opts;
  opts.list_watch.ns = ns;
  opts.list_watch.label_selector = "app=bench";
  Informer inf(client, cms, opts);
  std::atomic<int64_t> events{0};
  inf.add_handlers({[&](const ObjectPtr&) { ++events; },
                    [&](const ObjectPtr&, const ObjectPtr&) { ++events; }, nullptr});
  inf.add_index("shard", index_by_label("shard"));
  t0 = Clk::now();
  inf.start();
  if (!inf.wait_for_sync(600s)) {
    std::fprintf(stderr, "informer did not sync\n");
    return 1;
  }
  double sync_s = secs(Clk::now() - t0);
  long rss1 = rss_kib();
  size_t cached = inf.store().size();

  // 4. Sustained watch throughput: writers patch objects; the informer counts what arrives.
  int64_t base = events.load();
  std::atomic<int64_t> writes{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> patchers;
  for (int w = 0; w < 8; ++w)
    patchers.emplace_back([&, w] {
      int i = w;
      while (!stop) {
        std::string name = "obj-" + std::to_string(i % n);
        if (client
                .patch(cms, ns, name, PatchType::merge,
                       R"({"metadata":{"annotations":{"bench":")" + std::to_string(i) + "\"}}}")
                .ok())
          ++writes;
        i += 8;
      }
    });
  t0 = Clk::now();
  std::this_thread::sleep_for(std::chrono::seconds(watch_seconds));  // the measuring window
  stop = true;
  for (auto& t : patchers)
    t.join();
  double window_s = secs(Clk::now() - t0);
  int64_t written = writes.load();
  auto drain0 = Clk::now();
  while (events.load() - base < written && Clk::now() - drain0 < 60s)
    std::this_thread::sleep_for(5ms);
  double drain_s = secs(Clk::now() - drain0);
  int64_t received = events.load() - base;
  inf.stop();

  std::printf("\ncore/kube informer benchmark (%d ConfigMaps of ~0.6 KiB, namespace %s)\n", n,
              ns.c_str());
  std::printf("%-44s %14s\n", "measure", "value");
  std::printf("%-44s %14d\n", "objects created now (16 threads)", created);
  if (created > 0)
    std::printf("%-44s %14.0f\n", "  create rate (objects/s)", created / create_s);
  std::printf("%-44s %14d\n", "  create failures", failed.load());
  std::printf("%-44s %14.2f\n", "paged list of all (500/page), s", list_s);
  std::printf("%-44s %14zu\n", "  objects listed", listed_n);
  std::printf("%-44s %14.2f\n", "informer initial sync, s", sync_s);
  std::printf("%-44s %14zu\n", "  objects cached", cached);
  std::printf("%-44s %14.0f\n", "  sync rate (objects/s)", cached / sync_s);
  std::printf("%-44s %14.2f\n", "RSS growth for the cache, MiB", (rss1 - rss0) / 1024.0);
  std::printf("%-44s %14.0f\n", "  RSS per cached object, bytes",
              cached ? (rss1 - rss0) * 1024.0 / static_cast<double>(cached) : 0.0);
  std::printf("%-44s %14.1f\n", "watch window, s", window_s);
  std::printf("%-44s %14lld\n", "  patches written (8 threads)", static_cast<long long>(written));
  std::printf("%-44s %14lld\n", "  events received by the informer",
              static_cast<long long>(received));
  std::printf("%-44s %14.0f\n", "  sustained events/s", received / (window_s + drain_s));
  std::printf("%-44s %14.3f\n", "  drain after writers stopped, s", drain_s);
  return received >= written ? 0 : 1;
}
