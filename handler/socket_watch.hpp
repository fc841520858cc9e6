#pragma once
// SocketWatch: tells virt-handler the moment a launcher's command socket appears, instead of it
// looking again on a timer. One inotify descriptor on the handler's io_context; a watch per
// launcher socket directory, shared by every key waiting on that directory.

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>

#include "core/result.hpp"

namespace kv::handler {

class SocketWatch {
 public:
  using Notify = std::function<void(const std::string& key)>;

  // `notify` runs on io's thread when a file named `name` is created in (or moved into) a watched
  // directory, once per key waiting on that directory.
  SocketWatch(boost::asio::io_context& io, std::string name, Notify notify);
  ~SocketWatch();
  SocketWatch(const SocketWatch&) = delete;
  SocketWatch& operator=(const SocketWatch&) = delete;

  // Waits for `name` in `dir` on behalf of `key` (a key waits on one directory at a time). Fails
  // when the directory cannot be watched (absent, or inotify's limit): the caller looks again
  // later. Safe from any thread.
  core::Status watch(const std::string& key, const std::string& dir);
  // Stops waiting for `key`; the directory's watch goes with its last key.
  void unwatch(const std::string& key);
  // How many directories are watched (for tests).
  std::size_t watched_dirs() const;

 private:
  void read();
  void unwatch_locked(const std::string& key);

  std::string name_;
  Notify notify_;
  boost::asio::posix::stream_descriptor fd_;
  alignas(8) char buf_[4096];
  mutable std::mutex mu_;
  std::map<int, std::set<std::string>> keys_by_wd_;
  std::map<std::string, int> wd_by_key_;
};

}  // namespace kv::handler
