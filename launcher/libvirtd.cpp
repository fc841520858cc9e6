#include "launcher/libvirtd.hpp"

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
  // A stale socket from an earlier run in the same directory would fool the readiness check.
  std::error_code ec;
  fs::remove(socket, ec);

  std::vector<std::string> env = libvirtd_environment(o);
  auto child = spawn({{"libvirtd", "-f", o.base_dir + "/config/libvirt/libvirtd.conf"}, env, log});
  if (!child.ok())
    return std::move(child).error();

  std::unique_ptr<Libvirtd> d(new Libvirtd());
  d->child_ = std::move(*child);
  d->socket_ = socket;
  d->uri_ = "qemu:///session?socket=" + socket;
  d->log_ = log;
  core::log::info("libvirtd started",
                  {{"pid", std::to_string(d->child_.pid())}, {"socket", socket}});

  // Wait for the socket to answer, the daemon to die, or the deadline.
  auto deadline = std::chrono::steady_clock::now() + o.start_timeout;
  for (;;) {
    if (fs::exists(socket)) {
      auto conn = d->connect();
      if (conn.ok())
        return d;
    }
    auto st = d->child_.wait(20ms);
    if (st.ok())
      return Error(Errc::unavailable, "libvirtd " + describe_wait_status(*st) +
                                          " during start-up; log tail:\n" + tail(log, 2000))
          .with("log", log);
    if (std::chrono::steady_clock::now() > deadline)
      return Error(Errc::timeout, "libvirtd did not answer on its socket within " +
                                      std::to_string(o.start_timeout.count()) + " ms; log tail:\n" +
                                      tail(log, 2000))
          .with("log", log);
  }
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
