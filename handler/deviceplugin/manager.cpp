#include "handler/deviceplugin/manager.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <optional>

#include "core/log.hpp"
#include "handler/deviceplugin/plugin.hpp"

namespace kv::handler::deviceplugin {

using Clock = std::chrono::steady_clock;

struct Manager::Slot {
  std::unique_ptr<Plugin> plugin;
  bool registered = false;
  int failures = 0;  // failed Register calls in a row
  Clock::time_point retry_at{};
  std::string last_error;  // logged once per distinct error
};

namespace {

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

std::string parent_dir(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
}

// Opens and closes the device node: tun and vhost-net load their module on first access.
void pre_open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd >= 0)
    ::close(fd);
}

}  // namespace

bool cgroup_v2_mounted() {
  struct statfs fs {};
  return ::statfs("/sys/fs/cgroup", &fs) == 0 &&
         static_cast<unsigned long>(fs.f_type) == CGROUP2_SUPER_MAGIC;
}

Manager::Manager(Options opts, std::optional<bool> cgroup_v2)
    : opts_(std::move(opts)),
      permissions_(device_permissions(cgroup_v2 ? *cgroup_v2 : cgroup_v2_mounted())) {}

Manager::~Manager() {
  stop();
}

core::Status Manager::start() {
  inotify_fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (inotify_fd_ < 0)
    return core::errno_error("inotify_init1", errno);
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) {
    int err = errno;
    ::close(inotify_fd_);
    inotify_fd_ = -1;
    return core::errno_error("eventfd", err);
  }
  for (const auto& kind : permanent_devices()) {
    const std::string seen = visible_path(opts_, kind);
    if (kind.pre_open)
      pre_open(seen);
    const bool present = device_offered(opts_, kind);
    auto slot = std::make_unique<Slot>();
    slot->plugin = std::make_unique<Plugin>(opts_, kind, permissions_, present);
    core::log::info(
        present ? "device present" : "device absent: its devices are Unhealthy",
        {{"resource", resource_name(kind)}, {"path", host_path(opts_, kind)}, {"seen_at", seen}});
    slots_.push_back(std::move(slot));
  }
  core::log::info("device plugins starting", {{"dir", opts_.plugin_dir},
                                              {"device_root", opts_.device_root},
                                              {"permissions", permissions_}});
  stopping_ = false;
  thread_ = std::thread([this] { loop(); });
  return {};
}

void Manager::stop() {
  if (thread_.joinable()) {
    stopping_ = true;
    std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
    thread_.join();
  }
  for (auto& s : slots_)
    s->plugin->stop();
  slots_.clear();
  for (int* fd : {&inotify_fd_, &wake_fd_})
    if (*fd >= 0) {
      ::close(*fd);
      *fd = -1;
    }
  watches_.clear();
}

void Manager::loop() {
  while (!stopping_) {
    update_watches();
    tick();
    pollfd fds[2] = {{inotify_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    int n = ::poll(fds, 2, 1000);
    if (n < 0 && errno != EINTR) {
      core::log::error("device plugins: poll failed", {{"errno", std::to_string(errno)}});
      return;
    }
    if (fds[0].revents & POLLIN)
      drain_events();
  }
}

void Manager::update_watches() {
  std::vector<std::string> dirs = {opts_.plugin_dir};
  for (const auto& s : slots_)
    dirs.push_back(parent_dir(visible_path(opts_, s->plugin->kind())));
  for (const auto& dir : dirs) {
    if (watches_.contains(dir))
      continue;
    int wd = ::inotify_add_watch(inotify_fd_, dir.c_str(),
                                 IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO |
                                     IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR);
    if (wd >= 0)
      watches_[dir] = wd;  // a directory that does not exist yet is tried again next tick
  }
}

void Manager::drain_events() {
  alignas(inotify_event) char buf[4096];
  while (true) {
    ssize_t n = ::read(inotify_fd_, buf, sizeof buf);
    if (n <= 0)
      return;
    for (char* p = buf; p < buf + n;) {
      const auto* ev = reinterpret_cast<const inotify_event*>(p);
      // A watched directory that went away: watch it again once it is back.
      if (ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF))
        std::erase_if(watches_, [&](const auto& w) { return w.second == ev->wd; });
      p += sizeof(inotify_event) + ev->len;
    }
  }
}

void Manager::tick() {
  const bool kubelet_present = exists(join_path(opts_.plugin_dir, std::string(kKubeletSocket)));
  const auto now = Clock::now();
  for (auto& s : slots_) {
    Plugin& p = *s->plugin;
    const DeviceKind& kind = p.kind();
    const std::string resource = resource_name(kind);

    const bool present = device_offered(opts_, kind);
    if (present != p.present()) {
      core::log::info(present ? "device appeared: its devices are Healthy"
                              : "device disappeared: its devices are Unhealthy",
                      {{"resource", resource}, {"path", host_path(opts_, kind)}});
      p.set_present(present);
    }

    RegistrationView view{.serving = p.serving(),
                          .socket_present = exists(p.socket_path()),
                          .kubelet_present = kubelet_present,
                          .registered = s->registered,
                          .retry_due = now >= s->retry_at};
    RegistrationStep step = next_step(view);
    if (step.restart_server) {
      if (view.serving)
        core::log::info("device plugin socket removed (kubelet restarted?): serving anew",
                        {{"resource", resource}});
      s->registered = false;
      if (auto st = p.start(); !st.ok()) {
        if (st.error().to_string() != s->last_error) {
          s->last_error = st.error().to_string();
          core::log::warn("device plugin cannot serve yet",
                          {{"resource", resource}, {"error", s->last_error}});
        }
        continue;
      }
    }
    if (!step.register_now)
      continue;
    if (auto st = p.register_with_kubelet(std::chrono::seconds(3)); !st.ok()) {
      ++s->failures;
      s->retry_at = Clock::now() + register_backoff(s->failures);
      if (st.error().to_string() != s->last_error) {
        s->last_error = st.error().to_string();
        core::log::warn("device plugin registration failed; retrying",
                        {{"resource", resource}, {"error", s->last_error}});
      }
      continue;
    }
    s->registered = true;
    s->failures = 0;
    s->last_error.clear();
    ++registrations_;
    core::log::info("device plugin registered with the kubelet",
                    {{"resource", resource},
                     {"socket", p.socket_path()},
                     {"healthy", p.present() ? "true" : "false"}});
  }
}

}  // namespace kv::handler::deviceplugin
