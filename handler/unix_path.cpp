#include "handler/unix_path.hpp"

#include <fcntl.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>

namespace kv::handler {

core::Result<UnixPath> UnixPath::make(const std::string& path) {
  UnixPath p;
  if (path.size() < sizeof(sockaddr_un::sun_path)) {
    p.path_ = path;
    return p;
  }
  auto slash = path.rfind('/');
  if (slash == std::string::npos || slash == 0)
    return core::Error(core::Errc::invalid, "unix socket path too long and not absolute")
        .with("path", path);
  std::string dir = path.substr(0, slash);
  int fd = ::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    auto e = core::errno_error("open socket directory", err).with("path", dir);
    if (err == ENOENT)
      e.code = core::Errc::not_found;
    return e;
  }
  p.fd_ = fd;
  p.path_ = "/proc/self/fd/" + std::to_string(fd) + path.substr(slash);
  if (p.path_.size() >= sizeof(sockaddr_un::sun_path))
    return core::Error(core::Errc::invalid, "unix socket name too long").with("path", path);
  return p;
}

UnixPath& UnixPath::operator=(UnixPath&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0)
      ::close(fd_);
    fd_ = o.fd_;
    path_ = std::move(o.path_);
    o.fd_ = -1;
  }
  return *this;
}

UnixPath::~UnixPath() {
  if (fd_ >= 0)
    ::close(fd_);
}

}  // namespace kv::handler
