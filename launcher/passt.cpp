#include "launcher/passt.hpp"

#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <deque>
#include <fstream>
#include <sstream>

#include "core/log.hpp"

namespace kv::launcher {
using core::Errc;
using core::Error;
using core::Result;
using namespace std::chrono_literals;

namespace {

std::string port_list(const NetworkPlan& n, const std::string& protocol) {
  std::string out;
  for (const auto& p : n.ports) {
    if (p.protocol != protocol)
      continue;
    if (!out.empty())
      out += ",";
    out += std::to_string(p.port);
  }
  return out.empty() ? "none" : out;
}

bool is_socket(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

}  // namespace

PasstPorts passt_ports(const NetworkPlan& n, const PasstLimits& limits) {
  PasstPorts out;
  if (!n.ports.empty()) {
    out.tcp = port_list(n, "tcp");
    out.udp = port_list(n, "udp");
    return out;
  }
  int first = std::clamp(limits.ephemeral_first, 1, 65535);
  int last = std::clamp(limits.ephemeral_last, first, 65535);
  long per_protocol = 65535L - (last - first + 1);  // what "all" binds, per family
  long families = std::max(limits.address_families, 1);
  long needed = 2 * families * per_protocol + kPasstReservedFiles;
  if (limits.open_files >= needed) {
    out.tcp = out.udp = "all";
    return out;
  }
  long n_ports = (limits.open_files - kPasstReservedFiles) / (2 * families);
  n_ports = std::clamp(n_ports, 1L, long(first - 1));
  out.narrowed_to = int(n_ports);
  out.tcp = out.udp = "1-" + std::to_string(n_ports);
  return out;
}

std::vector<std::string> passt_args(const NetworkPlan& n, const std::string& socket,
                                    const PasstPorts& ports) {
  std::vector<std::string> a{"--foreground", "--stderr", "--socket", socket};
  if (n.binding == "masquerade") {
    // The guest sees upstream's layout while passt keeps using the pod's sockets: connections
    // still leave from the pod IP, and the pod IP's ports reach 10.0.2.2.
    auto slash = n.cidr.find('/');
    a.insert(a.end(), {"--ipv4-only", "--address", n.guest_ip, "--netmask",
                       n.cidr.substr(slash + 1), "--gateway", n.gateway});
  }
  a.insert(a.end(), {"--tcp-ports", ports.tcp, "--udp-ports", ports.udp});
  return a;
}

bool pod_has_ipv6_route() {
  std::ifstream f("/proc/net/ipv6_route");
  std::string dest, prefix;
  std::string line;
  while (std::getline(f, line)) {
    std::istringstream ss(line);
    ss >> dest >> prefix;
    // A default route: destination ::/0 on something other than the loopback device.
    if (dest == std::string(32, '0') && prefix == "00" && line.find(" lo") == std::string::npos)
      return true;
  }
  return false;
}

PasstLimits probe_passt_limits(bool ipv6) {
  PasstLimits l;
  struct rlimit r {};
  if (getrlimit(RLIMIT_NOFILE, &r) == 0) {
    if (r.rlim_cur < r.rlim_max) {
      struct rlimit raised = r;
      raised.rlim_cur = r.rlim_max;
      if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
        r = raised;
    }
    l.open_files = r.rlim_max == RLIM_INFINITY ? 1048576L : long(r.rlim_max);
  }
  std::ifstream f("/proc/sys/net/ipv4/ip_local_port_range");
  int lo = 0, hi = 0;
  if (f >> lo >> hi && lo > 0 && hi >= lo) {
    l.ephemeral_first = lo;
    l.ephemeral_last = hi;
  }
  l.address_families = ipv6 ? 2 : 1;
  return l;
}

std::string passt_log_tail(const std::string& log_file, size_t max_lines) {
  std::ifstream f(log_file);
  std::deque<std::string> lines;
  std::string line;
  while (std::getline(f, line)) {
    if (line.empty() || line.rfind("Failed to send", 0) == 0)
      continue;
    lines.push_back(line);
    if (lines.size() > max_lines)
      lines.pop_front();
  }
  std::string out;
  for (const auto& l : lines)
    out += (out.empty() ? "" : "\n") + l;
  return out;
}

Result<std::unique_ptr<Passt>> Passt::start(const PasstOptions& opts, ExitHandler on_exit) {
  ::unlink(opts.socket.c_str());
  ::unlink(opts.log_file.c_str());
  SpawnOptions so;
  so.argv = {opts.binary};
  so.argv.insert(so.argv.end(), opts.args.begin(), opts.args.end());
  so.output_file = opts.log_file;
  auto child = spawn(so);
  if (!child.ok())
    return Error(child.error()).with("binary", opts.binary);
  std::unique_ptr<Passt> p(new Passt());
  p->pid_ = child->pid();
  p->child_ = std::move(*child);
  p->log_file_ = opts.log_file;
  auto deadline = std::chrono::steady_clock::now() + opts.start_timeout;
  while (!is_socket(opts.socket)) {
    // Polled: passt gives no other sign that it listens, and a probe connection would be taken
    // for the guest (passt serves one client).
    auto st = p->child_.wait(20ms);
    if (st.ok())
      return Error(Errc::unavailable, "passt " + describe_wait_status(*st) +
                                          " before its socket appeared; its log:\n" +
                                          passt_log_tail(opts.log_file))
          .with("log", opts.log_file);
    if (std::chrono::steady_clock::now() > deadline) {
      p->child_.stop(0ms);
      return Error(Errc::timeout, "passt's socket " + opts.socket + " did not appear in " +
                                      std::to_string(opts.start_timeout.count()) +
                                      " ms; its log:\n" + passt_log_tail(opts.log_file))
          .with("log", opts.log_file);
    }
  }
  p->on_exit_ = std::move(on_exit);
  p->watcher_ = std::thread([raw = p.get()] { raw->watch(); });
  return p;
}

void Passt::watch() {
  std::chrono::steady_clock::time_point kill_at{};
  for (;;) {
    auto st = child_.wait(200ms);
    if (st.ok()) {
      exited_ = true;
      if (!stopping_ && on_exit_)
        on_exit_("passt " + describe_wait_status(*st) + "; its log:\n" + passt_log_tail(log_file_));
      return;
    }
    if (stopping_) {
      auto now = std::chrono::steady_clock::now();
      if (kill_at == std::chrono::steady_clock::time_point{})
        kill_at = now + 2s;
      else if (now > kill_at)
        ::kill(pid_, SIGKILL);
    }
  }
}

void Passt::stop() {
  if (stopping_.exchange(true))
    return;
  if (watcher_.joinable()) {
    if (!exited_)
      ::kill(pid_, SIGTERM);
    watcher_.join();
  }
}

}  // namespace kv::launcher
