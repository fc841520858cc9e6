#pragma once
// Unix socket paths longer than sun_path allows. The agreed launcher socket path,
// /var/lib/kubelet/pods/<uid>/volumes/kubernetes.io~empty-dir/sockets/launcher.sock, is 112
// bytes: more than the 107 a sockaddr_un holds. We reach it through an O_PATH descriptor of its
// directory: /proc/self/fd/<n>/launcher.sock is short and resolves to the same socket.

#include <string>

#include "core/result.hpp"

namespace kv::handler {

class UnixPath {
 public:
  // A path connect() accepts for `path`; valid while this object lives. Errc::not_found when
  // the directory does not exist.
  static core::Result<UnixPath> make(const std::string& path);
  UnixPath(UnixPath&& o) noexcept : fd_(o.fd_), path_(std::move(o.path_)) { o.fd_ = -1; }
  UnixPath& operator=(UnixPath&& o) noexcept;
  UnixPath(const UnixPath&) = delete;
  UnixPath& operator=(const UnixPath&) = delete;
  ~UnixPath();

  const std::string& path() const { return path_; }

 private:
  UnixPath() = default;
  int fd_ = -1;
  std::string path_;
};

}  // namespace kv::handler
