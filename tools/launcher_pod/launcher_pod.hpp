#pragma once
// Runs a real virt-launcher as in a pod: as a non-root user (nobody, which has a passwd entry, as
// session-mode libvirtd needs) in a network namespace of its own (a pod's netns: forwarded ports
// do not collide with the host's), with private socket/ephemeral/PVC directories under one temp
// dir. Used by the launcher integration tests and by tools/bench/launcher (so it lives outside
// test/). Needs root (to switch user and create the namespace) and the test guest from
// test/guests/build-guest.

#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/result.hpp"
#include "launcher/launcher.hpp"
#include "launcher/process.hpp"
#include "launcher_com/client.hpp"

namespace kv::launcher::testing {

namespace fs = std::filesystem;
using core::Errc;
using core::Error;
using core::Result;
using core::Status;
using launcher_com::SyncClient;
namespace proto = launcher_com::proto;

inline constexpr uid_t kLauncherUid = 65534;  // nobody
inline constexpr gid_t kLauncherGid = 65534;

// Path of the virt-launcher binary: $KV_VIRT_LAUNCHER (set by meson).
inline std::string launcher_binary() {
  const char* p = std::getenv("KV_VIRT_LAUNCHER");
  return p ? p : "virt-launcher";
}

// Why these tests cannot run here, or "" when they can.
inline std::string missing_prerequisite() {
  if (geteuid() != 0)
    return "needs root (to run the launcher as nobody in its own network namespace)";
  if (!getpwuid(kLauncherUid))
    return "uid 65534 has no passwd entry (session-mode libvirtd needs one)";
  for (const char* tool : {"/usr/sbin/libvirtd", "/usr/bin/qemu-system-x86_64", "/usr/bin/setpriv",
                           "/usr/bin/unshare", "/usr/bin/nsenter"})
    if (access(tool, X_OK) != 0)
      return std::string(tool) + " is missing";
  return "";
}

inline std::string read_file(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

inline void chown_tree(const std::string& root) {
  std::error_code ec;
  (void)!chown(root.c_str(), kLauncherUid, kLauncherGid);
  for (auto it = fs::recursive_directory_iterator(root, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec))
    (void)!lchown(it->path().c_str(), kLauncherUid, kLauncherGid);
}

// The test guest's directory (built once, cached by build-guest itself).
inline Result<std::string> guest_dir() {
  static std::string dir;
  if (!dir.empty())
    return dir;
  const char* src = std::getenv("KV_SOURCE_ROOT");
  std::string script = std::string(src ? src : ".") + "/test/guests/build-guest";
  auto r = run({script}, std::chrono::minutes(5));
  if (!r.ok())
    return r.error();
  if (r->exit_code != 0)
    return Error(Errc::unavailable, "build-guest failed: " + r->output);
  std::string out = r->output;
  while (!out.empty() && (out.back() == '\n' || out.back() == ' '))
    out.pop_back();
  dir = out.substr(out.rfind('\n') == std::string::npos ? 0 : out.rfind('\n') + 1);
  return dir;
}

// One launcher "pod": its directories and, once started, the process.
class LauncherPod {
 public:
  LauncherPod() {
    char tmpl[] = "/tmp/kvl-XXXXXX";  // short: unix socket paths must stay under 108 bytes
    root_ = mkdtemp(tmpl);
    for (const char* d : {"sock", "eph", "kb/boot", "cd", "pvc", "cache"})
      fs::create_directories(root_ + "/" + d);
    chmod(root_.c_str(), 0755);
  }
  ~LauncherPod() {
    stop();
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  const std::string& root() const { return root_; }
  std::string socket_dir() const { return root_ + "/sock"; }
  std::string command_socket() const { return socket_dir() + "/" + kCommandSocketName; }
  std::string console_socket() const { return socket_dir() + "/virt-serial0"; }
  std::string pvc_dir() const { return root_ + "/pvc"; }
  std::string container_disk_dir() const { return root_ + "/cd"; }
  std::string stdout_path() const { return root_ + "/stdout"; }
  std::string stderr_path() const { return root_ + "/stderr"; }
  // Shares libvirt's QEMU capabilities cache between launchers of one test program (as an
  // image that ships a warm cache would); empty = cold, inside the pod.
  std::string cache_dir;

  // Copies the guest's kernel and initrd where kernelBoot paths /boot/vmlinuz, /boot/initrd.img
  // point.
  Status install_kernel(const std::string& guest) {
    std::error_code ec;
    for (const char* f : {"vmlinuz", "initrd.img"})
      fs::copy_file(guest + "/" + f, root_ + "/kb/boot/" + f, fs::copy_options::overwrite_existing,
                    ec);
    if (ec)
      return Error(Errc::io, "copy guest kernel: " + ec.message());
    return {};
  }

  // Starts the launcher (optionally with --vmi-file) and connects a client. The namespace gets a
  // veth pair with an address and a default route, as a pod's has: passt needs one.
  Status start(const std::vector<std::string>& extra_flags = {}) {
    chown_tree(root_);
    std::vector<std::string> argv{
        "unshare",
        "-n",
        "--",
        "sh",
        "-c",
        "ip link set lo up && ip link add kv0 type veth peer name kv1 && ip link set kv1 up && ip "
        "addr add 10.123.0.2/24 dev kv0 && ip link set kv0 up && ip route add default via "
        "10.123.0.1 && exec setpriv --reuid=" +
            std::to_string(kLauncherUid) + " --regid=" + std::to_string(kLauncherGid) +
            " --clear-groups \"$@\"",
        "sh",
        launcher_binary(),
        "--socket-dir=" + socket_dir(),
        "--ephemeral-dir=" + root_ + "/eph",
        "--container-disk-dir=" + container_disk_dir(),
        "--kernel-boot-dir=" + root_ + "/kb",
        "--pvc-dir=" + pvc_dir(),
        "--allow-emulation",
        "--log-level=debug"};
    if (!cache_dir.empty())
      argv.push_back("--libvirt-cache-dir=" + cache_dir);
    for (const auto& f : extra_flags)
      argv.push_back(f);
    std::error_code ec;
    fs::remove(stdout_path(), ec);
    // stdout (the console copy) and stderr (JSON logs) go to files we can search.
    SpawnOptions so;
    so.argv = {"sh", "-c", "exec \"$@\" >" + stdout_path() + " 2>" + stderr_path(), "sh"};
    so.argv.insert(so.argv.end(), argv.begin(), argv.end());
    auto c = spawn(so);
    if (!c.ok())
      return c.error();
    child_ = std::move(*c);
    return client.connect(command_socket(), std::chrono::seconds(60));
  }

  pid_t pid() const { return child_.pid(); }
  bool running() const { return child_.running(); }

  // Waits for the launcher to exit; its exit status (or -signal).
  Result<int> wait_exit(std::chrono::milliseconds timeout) {
    auto st = child_.wait(timeout);
    if (!st.ok())
      return st.error();
    if (WIFEXITED(*st))
      return WEXITSTATUS(*st);
    return -WTERMSIG(*st);
  }

  void signal(int sig) { child_.signal(sig); }

  // Polls a file for `needle` until the deadline (the file grows as the guest prints).
  static Status wait_for_text(const std::string& path, const std::string& needle,
                              std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (read_file(path).find(needle) != std::string::npos)
        return {};
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return Error(Errc::timeout, "\"" + needle + "\" did not appear in " + path);
  }
  Status wait_stdout(const std::string& needle, std::chrono::milliseconds timeout) {
    return wait_for_text(stdout_path(), needle, timeout);
  }

  // The QEMU process: the launcher's child (it is a subreaper, QEMU is re-parented to it).
  pid_t qemu_pid() const { return child_named("qemu-system"); }
  // The pod's private libvirt daemon, the launcher's child too.
  pid_t libvirtd_pid() const { return child_named("libvirtd"); }

  // A live child of the launcher whose command name starts with `prefix`, or -1.
  pid_t child_named(const std::string& prefix) const {
    for (const auto& e : fs::directory_iterator("/proc")) {
      std::string name = e.path().filename();
      if (name.find_first_not_of("0123456789") != std::string::npos)
        continue;
      std::string stat = read_file(e.path().string() + "/stat");
      auto rp = stat.rfind(')');
      auto lp = stat.find('(');
      if (rp == std::string::npos || lp == std::string::npos)
        continue;
      std::string comm = stat.substr(lp + 1, rp - lp - 1);
      char state;
      int ppid = 0;
      if (std::sscanf(stat.c_str() + rp + 1, " %c %d", &state, &ppid) == 2 && ppid == pid() &&
          state != 'Z' && comm.rfind(prefix, 0) == 0)
        return std::stoi(name);
    }
    return -1;
  }

  // Runs a command inside the launcher's network namespace (the "pod network").
  Result<RunResult> in_pod_netns(std::vector<std::string> argv) {
    std::vector<std::string> full{"nsenter", "--net=/proc/" + std::to_string(pid()) + "/ns/net",
                                  "--"};
    full.insert(full.end(), argv.begin(), argv.end());
    return run(full, std::chrono::seconds(30));
  }

  // Stops everything: SIGKILL the launcher, then its left-over children (re-parented to us).
  void stop() {
    client.close();
    if (child_.running()) {
      child_.signal(SIGKILL);
      (void)child_.wait(std::chrono::seconds(10));
    }
    kill_remaining_children(std::chrono::seconds(2));
  }

  SyncClient client;

 private:
  std::string root_;
  Child child_;
};

// A VMI for the test guest: direct kernel boot, 256 MiB, no VNC, the pod NIC with port 8080.
inline std::string guest_vmi_json(const std::string& name, const std::string& volumes_json = "[]",
                                  const std::string& disks_json = "[]", int grace_seconds = 30) {
  return R"({"apiVersion":"kubevirt.io/v1","kind":"VirtualMachineInstance",)"
         R"("metadata":{"name":")" +
         name + R"(","namespace":"tests","uid":"uid-)" + name +
         R"("},)"
         R"("spec":{"terminationGracePeriodSeconds":)" +
         std::to_string(grace_seconds) +
         R"(,)"
         R"("domain":{"memory":{"guest":"256Mi"},)"
         R"("firmware":{"kernelBoot":{"kernelArgs":"console=ttyS0","container":{"image":"guest",)"
         R"("kernelPath":"/boot/vmlinuz","initrdPath":"/boot/initrd.img"}}},)"
         R"("devices":{"autoattachGraphicsDevice":false,"disks":)" +
         disks_json +
         R"(,)"
         R"("interfaces":[{"name":"default","masquerade":{},"ports":[{"port":8080}]}]}},)"
         R"("networks":[{"name":"default","pod":{}}],"volumes":)" +
         volumes_json + R"(}})";
}

inline constexpr const char* kReadyLine = "KUBEVIRT-CPP-GUEST-READY";

}  // namespace kv::launcher::testing
