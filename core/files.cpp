#include "core/files.hpp"

#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>

namespace kv::core {

Result<std::string> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f)
    return Error(Errc::not_found, "cannot read " + path).with("path", path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

Status write_all(int fd, std::string_view data, const std::string& what) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return errno_error("write " + what, n < 0 ? errno : EIO);
    data.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

}  // namespace kv::core
