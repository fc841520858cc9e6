#pragma once
// The pod's private libvirt daemon: a session-mode `libvirtd` (Debian 12 has no modular
// virtqemud) run as the launcher's own non-root user, with its config, runtime, cache and log
// directories under one directory we own and its socket inside it. Never the host's daemon.
//
// Session mode needs a non-root uid (libvirtd picks system mode for root) with a passwd entry;
// libvirtd finds its directories through XDG_CONFIG_HOME / XDG_RUNTIME_DIR / XDG_CACHE_HOME.
// qemu.conf sets stdio_handler = "file" so no virtlogd is spawned beside it.

#include <chrono>
#include <memory>
#include <string>

#include "core/result.hpp"
#include "launcher/libvirt_util.hpp"
#include "launcher/process.hpp"

namespace kv::launcher {

struct LibvirtdOptions {
  std::string base_dir;   // created if missing; holds config/, run/, log/, home/
  std::string cache_dir;  // QEMU capabilities cache; empty = <base_dir>/cache. Keep it across
                          // runs to save the ~1.3 s first probe.
  std::chrono::milliseconds start_timeout{15000};
};

class Libvirtd {
 public:
  // Writes the config, starts the daemon and waits until its socket answers. Fails with the tail
  // of the daemon's log when it exits or does not answer in time.
  static core::Result<std::unique_ptr<Libvirtd>> start(const LibvirtdOptions& opts);
  ~Libvirtd() { stop(); }

  // qemu:///session?socket=<our socket>: never the host's daemon.
  const std::string& uri() const { return uri_; }
  const std::string& socket_path() const { return socket_; }
  const std::string& log_path() const { return log_; }
  pid_t pid() const { return child_.pid(); }
  // Opens a connection (the event loop must already be registered for events to flow).
  core::Result<libvirt::ConnectPtr> connect() const;
  // SIGTERM, then SIGKILL after 5 s. Domains must be destroyed first: libvirtd leaves them running.
  // The exit handler is not called.
  void stop();

  // Called with the wait status when the daemon exits without stop() (killed, crashed), from the
  // reaper thread with its lock held: hand it over, nothing more (Child::on_exit). Kept across
  // restart().
  void on_exit(Child::ExitHandler handler);
  // The daemon process has not exited (it may still hang: a connection's keepalive tells).
  bool alive() const { return child_.running() && !child_.exited(); }

  // Starts the daemon again with the same directories, after it exited or stopped answering
  // (a daemon that still runs gets SIGKILL first). The old daemon's wait status is logged. Its
  // socket and pidfile are left behind by a SIGKILL: the socket is removed before the start,
  // the pidfile is only locked, so a dead owner's is taken over. The new daemon reads its
  // domains' status XML from run/ and re-attaches to the QEMU processes still running.
  // Connections to the old daemon are dead: open new ones.
  core::Status restart();

 private:
  Libvirtd() = default;
  core::Status spawn_and_wait();

  LibvirtdOptions opts_;
  Child child_;
  Child::ExitHandler on_exit_;
  std::string uri_, socket_, log_;
};

// The environment QEMU helper tools and virsh need to reach the same daemon (for debugging:
// `env $(cat <base>/env) virsh -c <uri>`).
std::vector<std::string> libvirtd_environment(const LibvirtdOptions& opts);

}  // namespace kv::launcher
