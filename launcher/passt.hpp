#pragma once
// passt: the user-mode network daemon that serves the pod NIC (Debian's passt, 2023-03-09). The
// launcher runs it as its own child, as the launcher's uid with no capabilities, in the pod's
// network namespace; QEMU connects to its unix socket (-netdev stream). passt uses the pod's own
// sockets, so what the guest sends leaves with the pod's IP and what reaches the pod's IP on a
// forwarded port reaches the guest.
//
// Lifetime: started by the first sync, before the domain is defined (QEMU connects at start);
// stopped after the domain, when the launcher exits. If it dies on its own, the guest has no
// network any more: the owner is told (on_exit) and ends the VM as failed, with passt's log.
//
// passt isolates itself in a user namespace (unshare, mount, pivot_root): under the container
// runtime's default seccomp profile that fails ("Couldn't create user namespace"), which is why
// launcher pods use the Localhost profile that virt-handler installs (handler/seccomp.hpp).

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/result.hpp"
#include "launcher/domain_builder.hpp"
#include "launcher/process.hpp"

namespace kv::launcher {

// What bounds how many ports passt may listen on. passt binds one socket per forwarded port,
// protocol and address family, at start.
struct PasstLimits {
  long open_files = 1048576;  // RLIMIT_NOFILE (hard), which passt raises its soft limit to
  int ephemeral_first = 32768, ephemeral_last = 60999;  // net.ipv4.ip_local_port_range
  int address_families = 1;                             // 2 when the guest also gets IPv6
};
// File descriptors left for connections and passt's own use when the limit narrows "all".
inline constexpr long kPasstReservedFiles = 2048;

// passt's -t / -u arguments.
struct PasstPorts {
  std::string tcp, udp;  // "all", "1-7987", "80,8080" or "none"
  // With no interfaces[].ports, "all" forwards every port outside the pod's ephemeral range
  // (those stay for the guest's own outgoing connections, which leave from the pod's sockets).
  // When the open-file limit cannot hold that many sockets, the ports from 1 up to this are
  // forwarded instead (0: not narrowed).
  int narrowed_to = 0;
};

// Listed ports: exactly those (TCP and UDP apart; none of a protocol is "none"). No ports:
// "all" for both, or 1-N for both when `limits` cannot hold "all".
PasstPorts passt_ports(const NetworkPlan& n, const PasstLimits& limits);

// passt's command line: foreground, logging to stderr, the socket, the ports; masquerade also
// -a/-n/-g with KubeVirt's layout and IPv4 only, passt (the binding) nothing more: the guest gets
// the pod's own addresses, IPv6 too where the pod has it. DNS servers and search domains come
// from the pod's /etc/resolv.conf either way (passt's default).
std::vector<std::string> passt_args(const NetworkPlan& n, const std::string& socket,
                                    const PasstPorts& ports);

// Probes this process's limits: raises the soft RLIMIT_NOFILE to the hard one, reads the
// ephemeral port range; `ipv6` says whether the guest gets IPv6.
PasstLimits probe_passt_limits(bool ipv6);
// True when the pod has an IPv6 default route (/proc/net/ipv6_route).
bool pod_has_ipv6_route();

struct PasstOptions {
  std::string binary = "/usr/bin/passt";
  std::vector<std::string> args;  // passt_args()
  std::string socket;             // removed before the start; waited for
  std::string log_file;           // passt's stdout and stderr
  std::chrono::milliseconds start_timeout{10000};
};

class Passt {
 public:
  // Called once, on passt's watcher thread, when passt exits without stop(): why, with the
  // tail of its log.
  using ExitHandler = std::function<void(const std::string& why)>;

  // Spawns passt and waits until its socket exists. Fails with passt's log tail when it exits
  // first or the socket does not appear in time.
  static core::Result<std::unique_ptr<Passt>> start(const PasstOptions& opts, ExitHandler on_exit);
  ~Passt() { stop(); }
  Passt(const Passt&) = delete;
  Passt& operator=(const Passt&) = delete;

  pid_t pid() const { return pid_; }
  // SIGTERM, SIGKILL after 2 s; on_exit is not called. Idempotent.
  void stop();

 private:
  Passt() = default;
  void watch();

  Child child_;
  pid_t pid_ = -1;
  std::string log_file_;
  ExitHandler on_exit_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> exited_{false};  // reaped by the watcher: pid_ is no longer ours
  std::thread watcher_;
};

// The last lines of passt's log, without its "Failed to send ... to syslog" noise (there is no
// syslog in a pod).
std::string passt_log_tail(const std::string& log_file, size_t max_lines = 8);

}  // namespace kv::launcher
