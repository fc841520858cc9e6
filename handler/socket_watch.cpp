#include "handler/socket_watch.hpp"

#include <sys/inotify.h>

#include <boost/asio/post.hpp>
#include <cerrno>
#include <cstring>
#include <vector>

#include "core/log.hpp"

namespace kv::handler {
namespace asio = boost::asio;
using core::Errc;
using core::Error;

SocketWatch::SocketWatch(asio::io_context& io, std::string name, Notify notify)
    : name_(std::move(name)), notify_(std::move(notify)), fd_(io) {
  int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) {
    core::log::warn("inotify unavailable: launcher sockets are looked for on a timer only",
                    {{"error", std::strerror(errno)}});
    return;
  }
  fd_.assign(fd);
  read();
}

SocketWatch::~SocketWatch() {
  boost::system::error_code ec;
  fd_.close(ec);
}

core::Status SocketWatch::watch(const std::string& key, const std::string& dir) {
  if (!fd_.is_open())
    return Error(Errc::unavailable, "inotify unavailable");
  std::lock_guard lock(mu_);
  int wd =
      inotify_add_watch(fd_.native_handle(), dir.c_str(), IN_CREATE | IN_MOVED_TO | IN_ONLYDIR);
  if (wd < 0)
    return Error(Errc::io, "cannot watch " + dir + ": " + std::strerror(errno)).with("path", dir);
  auto it = wd_by_key_.find(key);
  if (it != wd_by_key_.end() && it->second == wd)
    return {};
  unwatch_locked(key);
  keys_by_wd_[wd].insert(key);
  wd_by_key_[key] = wd;
  return {};
}

void SocketWatch::unwatch(const std::string& key) {
  std::lock_guard lock(mu_);
  unwatch_locked(key);
}

void SocketWatch::unwatch_locked(const std::string& key) {
  auto it = wd_by_key_.find(key);
  if (it == wd_by_key_.end())
    return;
  int wd = it->second;
  wd_by_key_.erase(it);
  auto& keys = keys_by_wd_[wd];
  keys.erase(key);
  if (keys.empty()) {
    keys_by_wd_.erase(wd);
    inotify_rm_watch(fd_.native_handle(), wd);
  }
}

std::size_t SocketWatch::watched_dirs() const {
  std::lock_guard lock(mu_);
  return keys_by_wd_.size();
}

void SocketWatch::read() {
  fd_.async_read_some(asio::buffer(buf_), [this](boost::system::error_code ec, std::size_t n) {
    if (ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor)
      return;
    if (ec) {
      core::log::warn("inotify read failed: launcher sockets are looked for on a timer only",
                      {{"error", ec.message()}});
      return;
    }
    std::vector<std::string> ready;
    {
      std::lock_guard lock(mu_);
      for (std::size_t off = 0; off + sizeof(inotify_event) <= n;) {
        inotify_event ev;
        std::memcpy(&ev, buf_ + off, sizeof ev);
        const char* file = buf_ + off + sizeof(inotify_event);
        off += sizeof(inotify_event) + ev.len;
        if (ev.mask & IN_IGNORED) {  // the directory is gone: its keys wait on nothing now
          auto it = keys_by_wd_.find(ev.wd);
          if (it != keys_by_wd_.end()) {
            for (const auto& k : it->second) {
              wd_by_key_.erase(k);
              ready.push_back(k);
            }
            keys_by_wd_.erase(it);
          }
          continue;
        }
        if (ev.len == 0 || name_ != file)
          continue;
        auto it = keys_by_wd_.find(ev.wd);
        if (it != keys_by_wd_.end())
          ready.insert(ready.end(), it->second.begin(), it->second.end());
      }
    }
    for (const auto& k : ready)
      notify_(k);
    read();
  });
}

}  // namespace kv::handler
