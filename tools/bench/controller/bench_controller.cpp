// Benchmark: N VirtualMachines created at once against a real API server; measures the time
// until every VMI has its launcher pod, the API requests the controller made per VM (from its
// own /metrics), and the controller's RSS. Prints a table. Not a test.
//
//   KUBECONFIG=... bench_controller --controller <build>/controller/virt-controller [--vms 1000]
//       [--qps 200 --burst 400] [--workers 4] [--namespace bench]
// Needs the CRDs and the `kubevirt` namespace (test/integration/with_control_plane.sh --crds sets
// both up: with_control_plane.sh --crds bench_controller ...). Deletes its namespace at the end.
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "addon/resources.hpp"
#include "core/flags.hpp"
#include "core/http_get.hpp"
#include "core/json.hpp"
#include "core/kube/client.hpp"
#include "core/kube/kubeconfig.hpp"
#include "core/kube/resource.hpp"

namespace json = kv::core::json;
namespace kube = kv::core::kube;
using Clock = std::chrono::steady_clock;

namespace {

[[noreturn]] void die(const std::string& msg) {
  std::fprintf(stderr, "bench_controller: %s\n", msg.c_str());
  std::exit(1);
}

unsigned short free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

// The body of GET /path on the controller's HTTP port ("" when it does not answer 200).
std::string http_get(unsigned short port, const std::string& path) {
  auto r = kv::core::http_get("127.0.0.1", port, path);
  return r.ok() && r->status == 200 ? r->body : std::string();
}
bool http_ok(unsigned short port, const std::string& path) {
  auto r = kv::core::http_get("127.0.0.1", port, path);
  return r.ok() && r->status == 200;
}

long rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0)
      return std::atol(line.c_str() + 6);
  return -1;
}

// Sums kv_controller_api_requests_total per "verb resource".
std::map<std::string, double> api_requests(const std::string& metrics) {
  std::map<std::string, double> out;
  std::istringstream in(metrics);
  std::string line;
  const std::string prefix = "kv_controller_api_requests_total{verb=\"";
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) != 0)
      continue;
    auto v_end = line.find('"', prefix.size());
    std::string verb = line.substr(prefix.size(), v_end - prefix.size());
    auto r_start = line.find("resource=\"", v_end) + 10;
    std::string res = line.substr(r_start, line.find('"', r_start) - r_start);
    out[verb + " " + res] += std::atof(line.substr(line.rfind(' ') + 1).c_str());
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::string controller, ns = "bench";
  int vms = 1000, workers = 4, qps = 200, burst = 400, creators = 16;
  kv::core::Flags flags("bench_controller",
                        "N VirtualMachines created at once against the API server in $KUBECONFIG; "
                        "prints a table (see the header of bench_controller.cpp).");
  flags.text(
      {.name = "--controller", .value = "PATH", .help = "the virt-controller binary (required)"},
      &controller);
  flags.integer({.name = "--vms", .value = "N", .help = "VirtualMachines to create"}, &vms, 1,
                1000000);
  flags.integer({.name = "--workers", .value = "N", .help = "the controller's VM and VMI workers"},
                &workers, 1, 256);
  flags.integer({.name = "--qps", .value = "N", .help = "the controller's --qps"}, &qps, 0, 100000);
  flags.integer({.name = "--burst", .value = "N", .help = "the controller's --burst"}, &burst, 1,
                100000);
  flags.text(
      {.name = "--namespace", .value = "NS", .help = "where the VMs are made (deleted at the end)"},
      &ns);
  flags.parse_or_exit(argc, argv, 1);
  if (controller.empty())
    die("--controller PATH is required");

  auto cfg = kube::load_default();
  if (!cfg.ok())
    die(cfg.error().to_string());
  cfg->qps = 0;  // the benchmark's own requests are not what is measured
  auto cl = kube::make_client(*cfg);
  if (!cl.ok())
    die(cl.error().to_string());
  kube::KubeClient& client = **cl;

  auto ns_doc =
      json::parse(R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":")" + ns + R"("}})");
  (void)client.create(kube::resources::namespaces(), "", *ns_doc);

  unsigned short port = free_port();
  std::string log = "/tmp/bench-controller-" + std::to_string(getpid()) + ".log";
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    std::string p = std::to_string(port), w = std::to_string(workers), q = std::to_string(qps),
                b = std::to_string(burst);
    execl(controller.c_str(), controller.c_str(), "--http-address", "127.0.0.1", "--http-port",
          p.c_str(), "--vm-workers", w.c_str(), "--vmi-workers", w.c_str(), "--qps", q.c_str(),
          "--burst", b.c_str(), "--leader-elect", "false", "--log-level", "warn",
          static_cast<char*>(nullptr));
    _exit(127);
  }
  auto cleanup = [&] {
    kill(pid, SIGTERM);
    waitpid(pid, nullptr, 0);
    unlink(log.c_str());
    (void)client.remove(kube::resources::namespaces(), "", ns);
  };
  auto ready_deadline = Clock::now() + std::chrono::seconds(60);
  while (!http_ok(port, "/readyz")) {
    if (Clock::now() > ready_deadline) {
      cleanup();
      die("controller not ready within 60 s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const long rss_idle = rss_kib(pid);
  const auto before = api_requests(http_get(port, "/metrics"));

  // Create every VM at once (several client threads, no client-side limit).
  const auto t0 = Clock::now();
  std::atomic<int> next{0}, failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < creators; ++t)
    threads.emplace_back([&] {
      for (int i = next++; i < vms; i = next++) {
        auto doc = json::parse(R"({"apiVersion":"kubevirt.io/v1","kind":"VirtualMachine",
          "metadata":{"name":"vm-)" +
                               std::to_string(i) + R"("},
          "spec":{"runStrategy":"Always","template":{"spec":{"domain":{"memory":{"guest":"64Mi"},
            "devices":{"disks":[{"name":"root","disk":{}}]}},
            "volumes":[{"name":"root","containerDisk":{"image":"localhost/kubevirt-cpp/test-guest:latest"}}]}}}})");
        if (!client.create(kv::addon::resources::virtual_machines(), ns, *doc).ok())
          ++failed;
      }
    });
  for (auto& t : threads)
    t.join();
  const double create_s = std::chrono::duration<double>(Clock::now() - t0).count();

  // Wait until every VMI has a pod (polled through a label-selected list).
  long rss_peak = rss_idle;
  double all_pods_s = -1;
  auto deadline = t0 + std::chrono::minutes(15);
  while (Clock::now() < deadline) {
    rss_peak = std::max(rss_peak, rss_kib(pid));
    kube::ListOptions lo;
    lo.label_selector = "kubevirt.io=virt-launcher";
    auto pods = client.list(kube::resources::pods(), ns, lo);
    if (pods.ok() && static_cast<int>(pods->items.size()) >= vms - failed) {
      all_pods_s = std::chrono::duration<double>(Clock::now() - t0).count();
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  // Let the controller finish writing statuses, then read its request counters.
  auto settle = Clock::now() + std::chrono::seconds(120);
  std::string metrics;
  while (Clock::now() < settle) {
    metrics = http_get(port, "/metrics");
    if (metrics.find("kv_controller_queue_depth 0") != std::string::npos)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  std::this_thread::sleep_for(std::chrono::seconds(2));
  metrics = http_get(port, "/metrics");
  const long rss_after = rss_kib(pid);
  rss_peak = std::max(rss_peak, rss_after);
  auto after = api_requests(metrics);

  double total = 0;
  std::printf("virt-controller benchmark: %d VMs (runStrategy Always) created at once\n", vms);
  std::printf("  controller: --vm-workers %d --vmi-workers %d --qps %d --burst %d\n", workers,
              workers, qps, burst);
  std::printf("  %-40s %10.1f s  (%d failed)\n", "create all VMs (16 client threads)", create_s,
              failed.load());
  std::printf("  %-40s %10.1f s\n", "until every VMI has its pod", all_pods_s);
  std::printf("  %-40s %10ld MiB idle, %ld MiB peak, %ld MiB after\n", "controller RSS",
              rss_idle / 1024, rss_peak / 1024, rss_after / 1024);
  std::printf("  API requests by the controller, per VM:\n");
  for (const auto& [k, v] : after) {
    double d = v - (before.count(k) ? before.at(k) : 0);
    if (d <= 0)
      continue;
    total += d;
    std::printf("    %-38s %10.2f\n", k.c_str(), d / vms);
  }
  std::printf("    %-38s %10.2f\n", "total", total / vms);
  cleanup();
  return all_pods_s < 0 ? 1 : 0;
}
