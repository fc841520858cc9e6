// virt-probe's TCP check against local servers standing in for the guest behind passt: one that
// keeps the connection (a listening guest), one that sends a banner, one that closes every
// connection it accepts (passt after the guest's reset), and a port nobody listens on.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>
#include <thread>

#include "launcher/probe/tcp_probe.hpp"

namespace {

using kv::launcher::probe::run_tcp_probe;
using kv::launcher::probe::TcpProbe;

enum class Peer { keep_open, banner, close_at_once };

// A listener on 127.0.0.1 serving one connection the way `peer` says.
struct Server {
  int fd = -1;
  int port = 0;
  std::thread t;
  explicit Server(Peer peer) {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(fd, 4) == 0);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
    t = std::thread([this, peer] {
      int c = ::accept(fd, nullptr, nullptr);
      if (c < 0)
        return;
      if (peer == Peer::banner)
        (void)!::write(c, "SSH-2.0-x\r\n", 11);
      if (peer != Peer::close_at_once) {
        char b[16];
        (void)!::read(c, b, sizeof b);  // until the probe closes
      }
      ::close(c);
    });
  }
  ~Server() {
    ::shutdown(fd, SHUT_RDWR);
    t.join();
    ::close(fd);
  }
};

TcpProbe probe_of(int port) {
  TcpProbe p;
  p.host = "127.0.0.1";
  p.port = port;
  return p;
}

}  // namespace

TEST_CASE("a guest that keeps the connection passes") {
  Server s(Peer::keep_open);
  CHECK(run_tcp_probe(probe_of(s.port)).ok());
}

TEST_CASE("a guest that speaks first passes") {
  Server s(Peer::banner);
  CHECK(run_tcp_probe(probe_of(s.port)).ok());
}

TEST_CASE("a connection closed right after accept fails, naming the port") {
  Server s(Peer::close_at_once);
  auto r = run_tcp_probe(probe_of(s.port));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.find("nothing listens on port " + std::to_string(s.port) +
                               " in the guest") != std::string::npos);
}

TEST_CASE("a refused connection fails") {
  int port;
  {
    Server s(Peer::keep_open);
    port = s.port;
    TcpProbe p = probe_of(port);
    REQUIRE(run_tcp_probe(p).ok());
  }
  auto r = run_tcp_probe(probe_of(port));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.find("Connection refused") != std::string::npos);
}

TEST_CASE("a host that is not an address is refused by name") {
  TcpProbe p = probe_of(80);
  p.host = "guest.example";
  auto r = run_tcp_probe(p);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message == "host \"guest.example\" is not an IP address");
}
