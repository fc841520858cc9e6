#include "launcher/libvirtd.hpp"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "core/log.hpp"
#include "launcher_com/layout.hpp"

namespace kv::launcher {
namespace fs = std::filesystem;
using core::Errc;
using core::Error;
using core::Result;
using core::Status;
using namespace std::chrono_literals;

namespace {

std::string cache_dir_of(const LibvirtdOptions& o) {
  return o.cache_dir.empty() ? o.base_dir + "/cache" : o.cache_dir;
}

Status write_file(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::trunc);
  f << text;
  f.close();
  if (!f)
    return Error(Errc::io, "cannot write " + path).with("path", path);
  return {};
}

Status make_dir(const std::string& path, fs::perms perms) {
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec)
    return Error(Errc::io, "cannot create directory " + path + ": " + ec.message())
        .with("path", path);
  fs::permissions(path, perms, ec);
  if (ec)
    return Error(Errc::io, "cannot set permissions of " + path + ": " + ec.message());
  return {};
}

std::string tail(const std::string& path, size_t max) {
  std::ifstream f(path);
  std::string all((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  return all.size() > max ? all.substr(all.size() - max) : all;
}

}  // namespace

std::vector<std::string> libvirtd_environment(const LibvirtdOptions& o) {
  const char* path = getenv("PATH");
  return {
      "PATH=" + std::string(path ? path : "/usr/sbin:/usr/bin:/sbin:/bin"),
      "HOME=" + o.base_dir + "/home",
      "XDG_CONFIG_HOME=" + o.base_dir + "/config",
      "XDG_RUNTIME_DIR=" + o.base_dir + "/run",
      "XDG_CACHE_HOME=" + cache_dir_of(o),
      "XDG_DATA_HOME=" + o.base_dir + "/home",
      "XDG_STATE_HOME=" + o.base_dir + "/home",
      // A session client would otherwise spawn a daemon of its own when ours is gone.
      "LIBVIRT_AUTOSTART=0",
  };
}

Result<std::unique_ptr<Libvirtd>> Libvirtd::start(const LibvirtdOptions& o) {
  if (geteuid() == 0)
    return Error(Errc::unsupported,
                 "virt-launcher runs libvirt in session mode and must run as a non-root user "
                 "(uid 107 in the pod; for a test on a host: setpriv --reuid=<user> ...)");
  if (o.base_dir.empty() || o.base_dir[0] != '/')
    return Error(Errc::invalid, "libvirt directory must be an absolute path")
        .with("path", o.base_dir);
  // The unix socket path must fit in sun_path (108 bytes).
  std::string socket = o.base_dir + "/run/libvirt/libvirt-sock";
  if (socket.size() >= 100)
    return Error(Errc::invalid, "libvirt directory path is too long for a unix socket (" +
                                    std::to_string(socket.size()) + " bytes, at most 99)")
        .with("path", o.base_dir);

  auto rwx = fs::perms::owner_all;
  KV_CHECK(make_dir(o.base_dir, rwx));
  KV_CHECK(make_dir(o.base_dir + "/config/libvirt", rwx));
  KV_CHECK(make_dir(o.base_dir + "/run", rwx));  // XDG_RUNTIME_DIR must be 0700
  KV_CHECK(make_dir(o.base_dir + "/log", rwx));
  KV_CHECK(make_dir(o.base_dir + "/home", rwx));
  KV_CHECK(make_dir(cache_dir_of(o), rwx));
  // Where libvirt keeps QEMU's capabilities, made now so virt-handler can put the node's copy in
  // before the first define (handler/capabilities_seed.hpp) while it stays ours to rewrite.
  KV_CHECK(make_dir(cache_dir_of(o) + "/" + launcher_com::kLibvirtCapabilitiesSubdir, rwx));
  std::string log = o.base_dir + "/log/libvirtd.log";
  KV_CHECK(write_file(o.base_dir + "/config/libvirt/libvirtd.conf",
                      "# written by virt-launcher\n"
                      "log_outputs = \"3:stderr\"\n"));
  KV_CHECK(write_file(o.base_dir + "/config/libvirt/qemu.conf",
                      "# written by virt-launcher: QEMU writes its own logs, no virtlogd\n"
                      "stdio_handler = \"file\"\n"));
  std::unique_ptr<Libvirtd> d(new Libvirtd());
  d->opts_ = o;
  d->socket_ = socket;
  d->uri_ = "qemu:///session?socket=" + socket;
  d->log_ = log;
  KV_CHECK(d->spawn_and_wait());
  return d;
}

Status Libvirtd::spawn_and_wait() {
  // A stale socket from an earlier run in the same directory (or from a daemon that was
  // SIGKILLed) would fool the readiness check.
  std::error_code ec;
  fs::remove(socket_, ec);

  auto child = spawn({{"libvirtd", "-f", opts_.base_dir + "/config/libvirt/libvirtd.conf"},
                      libvirtd_environment(opts_),
                      log_});
  if (!child.ok())
    return std::move(child).error();
  child_ = std::move(*child);
  core::log::info("libvirtd started", {{"pid", std::to_string(child_.pid())}, {"socket", socket_}});

  // Wait for the socket to answer, the daemon to die, or the deadline.
  auto deadline = std::chrono::steady_clock::now() + opts_.start_timeout;
  for (;;) {
    if (fs::exists(socket_)) {
      auto conn = connect();
      if (conn.ok())
        break;
    }
    auto st = child_.wait(20ms);
    if (st.ok())
      return Error(Errc::unavailable, "libvirtd " + describe_wait_status(*st) +
                                          " during start-up; log tail:\n" + tail(log_, 2000))
          .with("log", log_);
    if (std::chrono::steady_clock::now() > deadline) {
      child_.stop(0ms);
      return Error(Errc::timeout, "libvirtd did not answer on its socket within " +
                                      std::to_string(opts_.start_timeout.count()) +
                                      " ms; log tail:\n" + tail(log_, 2000))
          .with("log", log_);
    }
  }
  if (on_exit_)
    child_.on_exit(on_exit_);
  return {};
}

void Libvirtd::on_exit(Child::ExitHandler handler) {
  on_exit_ = std::move(handler);
  child_.on_exit(on_exit_);
}

Status Libvirtd::restart() {
  if (child_.running()) {
    pid_t pid = child_.pid();
    child_.on_exit(nullptr);  // this exit is ours to report, here
    auto st = child_.wait(child_.exited() ? 0ms : 2s);
    if (!st.ok()) {
      core::log::warn("libvirtd still runs but its connection closed; killing it",
                      {{"pid", std::to_string(pid)}});
      child_.signal(SIGKILL);
      st = child_.wait(10s);
    }
    if (st.ok())
      core::log::error("libvirtd exited",
                       {{"pid", std::to_string(pid)}, {"status", describe_wait_status(*st)}});
    else
      return Error(Errc::timeout,
                   "libvirtd (pid " + std::to_string(pid) + ") did not exit after SIGKILL");
  }
  return spawn_and_wait();
}

Result<libvirt::ConnectPtr> Libvirtd::connect() const {
  libvirt::install_silent_error_handler();
  virConnectPtr c = virConnectOpen(uri_.c_str());
  if (!c)
    return libvirt::last_error("connect to " + uri_);
  return libvirt::ConnectPtr(c);
}

void Libvirtd::stop() {
  if (!child_.running())
    return;
  pid_t pid = child_.pid();
  child_.stop(5s);
  core::log::info("libvirtd stopped", {{"pid", std::to_string(pid)}});
}

}  // namespace kv::launcher
