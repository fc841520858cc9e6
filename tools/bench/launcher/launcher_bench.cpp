// Benchmark: time from sync to domain running and to the guest's ready line, and RSS of the
// launcher, its libvirtd and QEMU (QEMU minus the guest RAM it touched), beside a bare
// qemu-system-x86_64 boot of the same guest. TCG; prints a table.
//
//   sudo KV_VIRT_LAUNCHER=build/launcher/virt-launcher KV_SOURCE_ROOT=.
//        build/tools/bench/launcher/launcher_bench [runs=5]   (one command line)
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <numeric>
#include <sstream>

#include "tools/launcher_pod/launcher_pod.hpp"

using namespace kv::launcher;
using namespace kv::launcher::testing;
namespace proto = kv::launcher_com::proto;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::int64_t kGuestMiB = 256;

double ms(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

// VmRSS in KiB.
long rss_kib(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0)
      return std::stol(line.substr(6));
  return -1;
}

// RSS of the mapping that backs guest RAM (the anonymous mapping of exactly the guest's size).
long guest_ram_rss_kib(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/smaps");
  std::string line;
  bool in_ram = false;
  while (std::getline(f, line)) {
    if (line.rfind("Size:", 0) == 0)
      in_ram = std::stol(line.substr(5)) == kGuestMiB * 1024;
    else if (in_ram && line.rfind("Rss:", 0) == 0)
      return std::stol(line.substr(4));
  }
  return 0;
}

pid_t child_named(pid_t parent, const std::string& prefix) {
  for (const auto& e : fs::directory_iterator("/proc")) {
    std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos)
      continue;
    std::string stat = read_file(e.path().string() + "/stat");
    auto lp = stat.find('('), rp = stat.rfind(')');
    if (lp == std::string::npos || rp == std::string::npos)
      continue;
    char state;
    int ppid = 0;
    if (std::sscanf(stat.c_str() + rp + 1, " %c %d", &state, &ppid) == 2 && ppid == parent &&
        stat.substr(lp + 1, rp - lp - 1).rfind(prefix, 0) == 0)
      return std::stoi(name);
  }
  return -1;
}

bool wait_text(const std::string& path, const std::string& needle, Clock::time_point deadline) {
  while (Clock::now() < deadline) {
    if (read_file(path).find(needle) != std::string::npos)
      return true;
    std::this_thread::sleep_for(2ms);
  }
  return false;
}

struct Sample {
  double launcher_ready_ms = 0;  // exec of the launcher -> command socket answers (libvirtd up)
  double sync_to_running_ms = 0;
  double sync_to_ready_ms = 0;
  double launcher_rss = 0, libvirtd_rss = 0, qemu_rss = 0, qemu_overhead = 0;
  double stop_ms = 0;  // shutdown command -> launcher exited
};

std::optional<Sample> launcher_run(const std::string& guest, const std::string& cache) {
  Sample s;
  LauncherPod pod;
  pod.cache_dir = cache;
  if (!pod.install_kernel(guest).ok())
    return std::nullopt;
  auto t0 = Clock::now();
  if (auto st = pod.start(); !st.ok()) {
    std::cerr << st.error().to_string() << "\n";
    return std::nullopt;
  }
  s.launcher_ready_ms = ms(Clock::now() - t0);
  proto::Request r;
  r.command = proto::Command::sync;
  r.vmi = *proto::parse_vmi(guest_vmi_json("bench"));
  auto t1 = Clock::now();
  auto resp = pod.client.call(r, 120s);
  if (!resp.ok() || !resp->ok()) {
    std::cerr << "sync failed\n" << read_file(pod.stderr_path());
    return std::nullopt;
  }
  s.sync_to_running_ms = ms(Clock::now() - t1);
  if (!wait_text(pod.stdout_path(), kReadyLine, Clock::now() + 120s))
    return std::nullopt;
  s.sync_to_ready_ms = ms(Clock::now() - t1);
  std::this_thread::sleep_for(1s);  // let the guest settle into idle before measuring memory
  pid_t qemu = pod.qemu_pid();
  pid_t libvirtd = child_named(pod.pid(), "libvirtd");
  s.launcher_rss = rss_kib(pod.pid()) / 1024.0;
  s.libvirtd_rss = rss_kib(libvirtd) / 1024.0;
  s.qemu_rss = rss_kib(qemu) / 1024.0;
  s.qemu_overhead = (rss_kib(qemu) - guest_ram_rss_kib(qemu)) / 1024.0;
  auto t2 = Clock::now();
  (void)pod.client.call(proto::Command::shutdown, 10s);
  (void)pod.wait_exit(60s);
  s.stop_ms = ms(Clock::now() - t2);
  return s;
}

std::optional<Sample> bare_qemu_run(const std::string& guest) {
  Sample s;
  char tmpl[] = "/tmp/kvl-bare-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  std::string out = dir + "/console";
  SpawnOptions so;
  so.argv = {"sh",
             "-c",
             "exec \"$@\" >" + out + " 2>&1",
             "sh",
             "qemu-system-x86_64",
             "-machine",
             "q35",
             "-accel",
             "tcg",
             "-m",
             std::to_string(kGuestMiB),
             "-nodefaults",
             "-display",
             "none",
             "-serial",
             "stdio",
             "-kernel",
             guest + "/vmlinuz",
             "-initrd",
             guest + "/initrd.img",
             "-append",
             "console=ttyS0",
             "-netdev",
             "user,id=n0",
             "-device",
             "virtio-net-pci,netdev=n0"};
  auto t0 = Clock::now();
  auto c = spawn(so);
  if (!c.ok())
    return std::nullopt;
  bool ok = wait_text(out, kReadyLine, Clock::now() + 120s);
  s.sync_to_ready_ms = ms(Clock::now() - t0);
  std::this_thread::sleep_for(1s);
  s.qemu_rss = rss_kib(c->pid()) / 1024.0;
  s.qemu_overhead = (rss_kib(c->pid()) - guest_ram_rss_kib(c->pid())) / 1024.0;
  c->stop(std::chrono::milliseconds(0));
  fs::remove_all(dir);
  if (!ok)
    return std::nullopt;
  return s;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int runs = argc > 1 ? std::atoi(argv[1]) : 5;
  if (auto why = missing_prerequisite(); !why.empty()) {
    std::cerr << "launcher_bench: " << why << "\n";
    return 2;
  }
  auto guest = guest_dir();
  if (!guest.ok()) {
    std::cerr << guest.error().to_string() << "\n";
    return 2;
  }
  // Warm cache shared by all runs (as an image shipping the cache would), plus one cold run.
  char tmpl[] = "/tmp/kvl-bcache-XXXXXX";
  std::string cache = mkdtemp(tmpl);
  chown_tree(cache);

  std::vector<Sample> cold_launcher, warm, bare;
  if (auto s = launcher_run(*guest, ""))
    cold_launcher.push_back(*s);
  for (int i = 0; i < runs; ++i) {
    if (auto s = launcher_run(*guest, cache))
      warm.push_back(*s);
    if (auto b = bare_qemu_run(*guest))
      bare.push_back(*b);
  }
  fs::remove_all(cache);
  if (warm.empty() || bare.empty()) {
    std::cerr << "launcher_bench: runs failed\n";
    return 1;
  }
  auto col = [](const std::vector<Sample>& v, double Sample::*m) {
    std::vector<double> x;
    for (const auto& s : v)
      x.push_back(s.*m);
    return median(x);
  };
  std::printf("virt-launcher benchmark: TCG, %lld MiB guest, %d runs (median), 1 cold run\n\n",
              static_cast<long long>(kGuestMiB), runs);
  std::printf("%-46s %12s %12s %12s\n", "measure", "launcher", "launcher", "bare qemu");
  std::printf("%-46s %12s %12s %12s\n", "", "(warm cache)", "(cold cache)", "");
  auto row = [&](const char* what, double Sample::*m, bool bare_has) {
    std::printf("%-46s %12.0f %12.0f ", what, col(warm, m),
                cold_launcher.empty() ? 0.0 : col(cold_launcher, m));
    if (bare_has)
      std::printf("%12.0f\n", col(bare, m));
    else
      std::printf("%12s\n", "-");
  };
  row("launcher start -> socket answers (ms)", &Sample::launcher_ready_ms, false);
  row("sync -> domain running (ms)", &Sample::sync_to_running_ms, false);
  row("sync (bare: exec) -> ready line (ms)", &Sample::sync_to_ready_ms, true);
  row("shutdown -> launcher exited (ms)", &Sample::stop_ms, false);
  row("RSS virt-launcher (MiB)", &Sample::launcher_rss, false);
  row("RSS libvirtd (MiB)", &Sample::libvirtd_rss, false);
  row("RSS qemu (MiB)", &Sample::qemu_rss, true);
  row("RSS qemu minus guest RAM (MiB)", &Sample::qemu_overhead, true);
  double total = col(warm, &Sample::launcher_rss) + col(warm, &Sample::libvirtd_rss) +
                 col(warm, &Sample::qemu_overhead);
  std::printf("%-46s %12.0f %12s %12.0f\n", "overhead: launcher+libvirtd+qemu-guest RAM (MiB)",
              total, "", col(bare, &Sample::qemu_overhead));
  return 0;
}
