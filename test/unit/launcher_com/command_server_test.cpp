// The command socket against real unix sockets: a stub handler stands in for the controller.
#include "launcher_com/command_server.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <thread>

#include "launcher_com/client.hpp"
#include "test/support/temp_dir.hpp"

using namespace kv::launcher_com;
using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

// A server on its own io_context thread; requests are answered with a status naming the command.
struct ServerThread {
  asio::io_context io;
  std::unique_ptr<CommandServer> server;
  std::thread thread;
  std::atomic<int> handled{0};

  explicit ServerThread(const std::string& path) {
    auto s = CommandServer::listen(
        io, path, [this](const proto::Request& r, CommandServer::Reply reply) {
          ++handled;
          proto::Response resp;
          resp.id = r.id;
          resp.status = proto::DomainStatus{std::string(proto::command_name(r.command)), "", {}};
          reply(resp);
        });
    REQUIRE(s.ok());
    server = std::move(*s);
    thread = std::thread([this] {
      auto guard = asio::make_work_guard(io);
      io.run();
    });
  }
  void broadcast(proto::Event e) {
    asio::post(io, [this, e] { server->broadcast(e); });
  }
  ~ServerThread() {
    asio::post(io, [this] {
      server.reset();
      io.stop();
    });
    thread.join();
  }
};

// Raw bytes on a fresh connection; returns what the server sent back until it closed.
std::string raw_exchange(const std::string& path, const std::string& bytes) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
  REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0)
    out.append(buf, static_cast<size_t>(n));
  close(fd);
  return out;
}

}  // namespace

TEST_CASE("two clients each get their responses and every event") {
  kv::test::TempDir dir("kv-srv");
  std::string path = (dir.path / "launcher.sock").string();
  ServerThread srv(path);
  SyncClient a, b;
  REQUIRE(a.connect(path, 5s).ok());
  REQUIRE(b.connect(path, 5s).ok());

  auto ra = a.call(proto::Command::ping, 5s);
  REQUIRE(ra.ok());
  CHECK(ra->status->state == "ping");
  auto rb = b.call(proto::Command::get_status, 5s);
  REQUIRE(rb.ok());
  CHECK(rb->status->state == "get-status");

  proto::Event e;
  e.kind = proto::EventKind::paused;
  e.reason = "user";
  srv.broadcast(e);
  auto ea = a.wait_event(proto::EventKind::paused, 5s);
  auto eb = b.wait_event(proto::EventKind::paused, 5s);
  REQUIRE(ea.ok());
  REQUIRE(eb.ok());
  CHECK(ea->reason == "user");
}

TEST_CASE("garbage gets an error and a hang-up; other clients do not notice") {
  kv::test::TempDir dir("kv-srv");
  std::string path = (dir.path / "launcher.sock").string();
  ServerThread srv(path);
  SyncClient good;
  REQUIRE(good.connect(path, 5s).ok());

  // An HTTP request: its first 4 bytes are a ~1.2 GB length.
  std::string reply = raw_exchange(path, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  proto::FrameReader fr;
  fr.feed(reply);
  auto body = fr.next();
  REQUIRE(body.ok());
  REQUIRE(*body);
  auto msg = proto::decode(**body);
  REQUIRE(msg.ok());
  auto& resp = std::get<proto::Response>(*msg);
  CHECK_FALSE(resp.ok());
  CHECK(resp.error->message.find("frame length") == 0);

  // A well-framed body that is not JSON, then one that is a response, not a request.
  std::string not_json = "\x00\x00\x00\x05hello";
  CHECK(raw_exchange(path, std::string(not_json.data(), 9)).size() > 4);
  proto::Response fake;
  CHECK(raw_exchange(path, proto::frame(fake)).size() > 4);
  // Half a frame and a hang-up.
  {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
    REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(write(fd, "\x00\x00\x01", 3) == 3);
    close(fd);
  }

  CHECK(srv.handled == 0);
  auto r = good.call(proto::Command::ping, 5s);
  REQUIRE(r.ok());
  CHECK(r->ok());
  CHECK(srv.handled == 1);
}

TEST_CASE("a client that disconnects while events are queued does not disturb the server") {
  kv::test::TempDir dir("kv-srv");
  std::string path = (dir.path / "launcher.sock").string();
  ServerThread srv(path);
  {
    SyncClient gone;
    REQUIRE(gone.connect(path, 5s).ok());
  }
  proto::Event e;
  e.kind = proto::EventKind::resumed;
  for (int i = 0; i < 100; ++i)
    srv.broadcast(e);
  SyncClient c;
  REQUIRE(c.connect(path, 5s).ok());
  CHECK(c.call(proto::Command::ping, 5s).ok());
}
