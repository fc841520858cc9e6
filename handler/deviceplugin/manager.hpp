#pragma once
// The device manager: runs one Plugin per permanent device (devices.hpp) and keeps each
// registered with the kubelet and told whether its device node exists.
//
// One thread. It waits on inotify (the plugin directory: our sockets deleted, kubelet.sock
// created; each device's directory: device nodes created or removed) with a one-second timeout
// (the Register backoff, and directories that did not exist when the watches were set), then
// looks at the files and does what next_step() says for each plugin. So a kubelet restart is
// answered by a new socket and a Register as soon as the new kubelet.sock exists, and a device
// node that disappears turns its devices Unhealthy at once.

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/result.hpp"
#include "handler/deviceplugin/devices.hpp"

namespace kv::handler::deviceplugin {

class Plugin;

class Manager {
 public:
  // `cgroup_v2`: nullopt detects it from /sys/fs/cgroup.
  explicit Manager(Options opts, std::optional<bool> cgroup_v2 = std::nullopt);
  ~Manager();  // stop()
  Manager(const Manager&) = delete;
  Manager& operator=(const Manager&) = delete;

  // Starts the thread. Errors: no inotify instance. Precondition: validate(opts) is ok and
  // opts.plugin_dir is not empty.
  core::Status start();
  // Stops the thread and the plugins (their streams end with an empty device list, their
  // sockets are removed). Idempotent.
  void stop();

  // Successful Register calls so far, all plugins together (tests, logs).
  int registrations() const { return registrations_.load(); }

 private:
  struct Slot;
  void loop();
  // One look at the files and one next_step() per plugin.
  void tick();
  void update_watches();
  void drain_events();

  Options opts_;
  std::string permissions_;
  std::vector<std::unique_ptr<Slot>> slots_;
  int inotify_fd_ = -1;
  int wake_fd_ = -1;                    // eventfd: stop() wakes the thread
  std::map<std::string, int> watches_;  // directory -> watch descriptor
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> registrations_{0};
};

// true when /sys/fs/cgroup is a cgroup v2 (unified) mount.
bool cgroup_v2_mounted();

}  // namespace kv::handler::deviceplugin
