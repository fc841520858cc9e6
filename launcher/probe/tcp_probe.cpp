#include "launcher/probe/tcp_probe.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace kv::launcher::probe {
namespace {

using core::Errc;
using core::Error;
using Clock = std::chrono::steady_clock;

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0)
      ::close(fd);
  }
};

int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return static_cast<int>(std::max<int64_t>(left.count(), 0));
}

std::string target(const TcpProbe& p) {
  return (p.host.find(':') != std::string::npos ? "[" + p.host + "]" : p.host) + ":" +
         std::to_string(p.port);
}

}  // namespace

core::Result<void> run_tcp_probe(const TcpProbe& p) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (::inet_pton(AF_INET, p.host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(p.port));
    len = sizeof *v4;
  } else if (::inet_pton(AF_INET6, p.host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(p.port));
    len = sizeof *v6;
  } else {
    return Error(Errc::invalid, "host \"" + p.host + "\" is not an IP address");
  }
  const auto deadline = Clock::now() + p.timeout;
  Fd s{::socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)};
  if (s.fd < 0)
    return Error(Errc::io, std::string("socket: ") + std::strerror(errno));
  if (::connect(s.fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 && errno != EINPROGRESS)
    return Error(Errc::unavailable, "connect " + target(p) + ": " + std::strerror(errno));
  pollfd pfd{s.fd, POLLOUT, 0};
  if (::poll(&pfd, 1, remaining_ms(deadline)) <= 0)
    return Error(Errc::timeout, "connect " + target(p) + ": timed out");
  int err = 0;
  socklen_t errlen = sizeof err;
  ::getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &errlen);
  if (err != 0)
    return Error(Errc::unavailable, "connect " + target(p) + ": " + std::strerror(err));
  // Connected to the forwarder. The guest's answer shows as the connection being closed (nothing
  // listens) or staying open / sending a banner (a server accepted it).
  const auto settle_end = std::min(deadline, Clock::now() + p.settle);
  pfd = {s.fd, POLLIN | POLLRDHUP, 0};
  int n = ::poll(&pfd, 1, remaining_ms(settle_end));
  if (n == 0)
    return {};  // still open: the guest accepted
  char byte;
  ssize_t got = ::recv(s.fd, &byte, 1, MSG_PEEK);
  if (got > 0)
    return {};  // the guest's server spoke first (ssh, smtp, ...)
  return Error(Errc::unavailable,
               "connection to " + target(p) +
                   " was closed right after it was accepted: nothing listens on port " +
                   std::to_string(p.port) + " in the guest" +
                   (got < 0 ? std::string(" (") + std::strerror(errno) + ")" : std::string()));
}

}  // namespace kv::launcher::probe
