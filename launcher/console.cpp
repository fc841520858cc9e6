#include "launcher/console.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

namespace kv::launcher {
using core::Errc;
using core::Error;
using core::Result;

namespace {

void write_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return;  // stdout gone: drop console output rather than stall
    p += w;
    n -= static_cast<size_t>(w);
  }
}

}  // namespace

Result<std::unique_ptr<ConsoleCopier>> ConsoleCopier::start(std::string log_path, int out_fd) {
  std::unique_ptr<ConsoleCopier> c(new ConsoleCopier());
  c->path_ = std::move(log_path);
  c->out_fd_ = out_fd;
  c->inotify_fd_ = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (c->inotify_fd_ < 0)
    return core::errno_error("inotify_init1", errno);
  // Watch the directory: the file may be created (or re-created) after we start.
  std::string dir = std::filesystem::path(c->path_).parent_path().string();
  if (inotify_add_watch(c->inotify_fd_, dir.c_str(), IN_MODIFY | IN_CREATE | IN_CLOSE_WRITE) < 0)
    return core::errno_error("inotify_add_watch " + dir, errno);
  c->stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (c->stop_fd_ < 0)
    return core::errno_error("eventfd", errno);
  c->thread_ = std::thread([p = c.get()] { p->loop(); });
  return c;
}

ConsoleCopier::~ConsoleCopier() {
  if (thread_.joinable()) {
    uint64_t one = 1;
    ssize_t ignored = ::write(stop_fd_, &one, sizeof one);
    (void)ignored;
    thread_.join();
  }
  if (inotify_fd_ >= 0)
    close(inotify_fd_);
  if (stop_fd_ >= 0)
    close(stop_fd_);
}

void ConsoleCopier::loop() {
  int fd = -1;
  off_t offset = 0;
  std::string line;
  char buf[8192];
  bool stopping = false;
  auto flush_lines = [&](bool all) {
    size_t start = 0;
    for (;;) {
      size_t nl = line.find('\n', start);
      if (nl == std::string::npos)
        break;
      start = nl + 1;
    }
    if (all || line.size() - start > 4096)
      start = line.size();
    if (start > 0) {
      // The guest's tty ends lines with CRLF; log readers want LF.
      std::string chunk = line.substr(0, start);
      size_t w = 0;
      for (size_t r = 0; r < chunk.size(); ++r)
        if (!(chunk[r] == '\r' && r + 1 < chunk.size() && chunk[r + 1] == '\n'))
          chunk[w++] = chunk[r];
      chunk.resize(w);
      write_all(out_fd_, chunk.data(), chunk.size());
      line.erase(0, start);
    }
  };
  for (;;) {
    if (fd < 0)
      fd = open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      struct stat st {};
      // QEMU truncates the log when the domain starts again (append='off'): start over.
      if (fstat(fd, &st) == 0 && st.st_size < offset)
        offset = 0;
      for (;;) {
        ssize_t n = pread(fd, buf, sizeof buf, offset);
        if (n < 0 && errno == EINTR)
          continue;
        if (n <= 0)
          break;
        offset += n;
        line.append(buf, static_cast<size_t>(n));
        flush_lines(false);
      }
    }
    if (stopping)
      break;
    pollfd pfds[2] = {{inotify_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    int r = poll(pfds, 2, 1000);
    if (r < 0 && errno != EINTR)
      break;
    if (pfds[0].revents & POLLIN) {
      char ev[4096];
      while (read(inotify_fd_, ev, sizeof ev) > 0) {
      }
    }
    if (pfds[1].revents & POLLIN)
      stopping = true;  // one more read pass, then out
  }
  flush_lines(true);
  if (fd >= 0)
    close(fd);
}

}  // namespace kv::launcher
