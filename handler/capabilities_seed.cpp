#include "handler/capabilities_seed.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
#include <utility>
#include <vector>

#include "core/files.hpp"
#include "launcher_com/layout.hpp"

namespace kv::handler {
namespace fs = std::filesystem;
using core::Errc;
using core::Error;
using core::Result;

namespace {

struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0)
      ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&& o) noexcept : fd(o.fd) { o.fd = -1; }
  Fd& operator=(Fd&& o) noexcept {
    std::swap(fd, o.fd);
    return *this;
  }
};

Error sys_error(const std::string& what, const std::string& path) {
  return Error(Errc::io, what + " " + path + ": " + std::strerror(errno)).with("path", path);
}

// Opens the directory `name` inside `parent`, refusing a symbolic link or anything but a
// directory. Missing: nullopt.
Result<std::optional<Fd>> open_subdir(const Fd& parent, const std::string& name,
                                      const std::string& shown) {
  Fd d(::openat(parent.fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (d.fd >= 0)
    return std::optional<Fd>(std::move(d));
  if (errno == ENOENT)
    return std::optional<Fd>();
  return sys_error("cannot open (a symbolic link is refused)", shown);
}

}  // namespace

Result<int> seed_capabilities(const std::string& from_dir, const std::string& pod_ephemeral_dir) {
  std::error_code ec;
  std::vector<fs::path> files;
  for (fs::directory_iterator it(from_dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->path().extension() == ".xml" && it->is_regular_file())
      files.push_back(it->path());
  if (files.empty())
    return 0;

  Fd dir(::open(pod_ephemeral_dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (dir.fd < 0)
    return sys_error("cannot open", pod_ephemeral_dir);
  std::string shown = pod_ephemeral_dir;
  const std::string subdir =
      std::string(kLauncherLibvirtCacheSubdir) + "/" + launcher_com::kLibvirtCapabilitiesSubdir;
  for (const auto& part : fs::path(subdir)) {
    shown += "/" + part.string();
    auto next = open_subdir(dir, part.string(), shown);
    if (!next.ok())
      return std::move(next).error();
    if (!*next)
      return 0;  // the launcher has not laid its cache out (yet, or an older launcher)
    dir = std::move(**next);
  }

  int copied = 0;
  for (const auto& src : files) {
    const std::string name = src.filename().string();
    struct stat st;
    if (::fstatat(dir.fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0)
      continue;  // the launcher's own (or an earlier copy): never replaced
    auto text = core::read_file(src.string());
    if (!text.ok())
      return std::move(text).error();
    const std::string tmp = "." + name + ".seed";
    ::unlinkat(dir.fd, tmp.c_str(), 0);
    Fd out(
        ::openat(dir.fd, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
    if (out.fd < 0)
      return sys_error("cannot create", shown + "/" + tmp);
    if (auto st = core::write_all(out.fd, *text, shown + "/" + tmp); !st.ok())
      return std::move(st).error();
    // The name appears whole or not at all: libvirt never reads half a file.
    if (::renameat(dir.fd, tmp.c_str(), dir.fd, name.c_str()) != 0)
      return sys_error("cannot rename into", shown + "/" + name);
    ++copied;
  }
  return copied;
}

}  // namespace kv::handler
