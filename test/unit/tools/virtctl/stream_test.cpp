// The console and VNC copying, terminal-free: pipes and sockets on one side, a fake
// MessageStream (the seam standing in for the WebSocket to virt-api) on the other.
#include "tools/virtctl/stream.hpp"
#include "addon/resources.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <sstream>
#include <thread>

#include "core/kube/resource.hpp"
#include "test/fakes/fake_kube_client.hpp"
#include "test/support/kube_test_util.hpp"

using namespace kv::virtctl;
using kv::core::Errc;
using kv::core::Error;
using kv::core::Result;
using kv::core::Status;

namespace {

// The "server" side: messages queued by the test are read by the client; a queued end closes
// the stream as the server would; writes are recorded.
class FakeStream final : public kv::core::kube::MessageStream {
 public:
  void push(std::string m) {
    std::lock_guard lock(mu_);
    inbox_.push_back(std::move(m));
    cv_.notify_all();
  }
  void server_close() {
    std::lock_guard lock(mu_);
    server_closed_ = true;
    cv_.notify_all();
  }
  void break_connection() {
    std::lock_guard lock(mu_);
    broken_ = true;
    cv_.notify_all();
  }
  std::string written() {
    std::lock_guard lock(mu_);
    return written_;
  }
  int close_code() {
    std::lock_guard lock(mu_);
    return close_code_;
  }
  // Holds until the client has written at least n bytes.
  bool wait_written(size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return written_.size() >= n; });
  }

  Result<std::optional<std::string>> read() override {
    std::unique_lock lock(mu_);
    cv_.wait(lock,
             [&] { return !inbox_.empty() || server_closed_ || close_code_ >= 0 || broken_; });
    if (!inbox_.empty()) {
      std::string m = std::move(inbox_.front());
      inbox_.pop_front();
      return std::optional<std::string>(std::move(m));
    }
    if (broken_)
      return Error(Errc::unavailable, "websocket read: connection reset by peer");
    return std::optional<std::string>();
  }
  Status write(std::string_view bytes) override {
    std::lock_guard lock(mu_);
    if (server_closed_ || close_code_ >= 0)
      return Error(Errc::unavailable, "closed");
    written_ += bytes;
    cv_.notify_all();
    return {};
  }
  Status close(uint16_t code, std::string_view) override {
    std::lock_guard lock(mu_);
    if (close_code_ < 0)
      close_code_ = code;
    cv_.notify_all();
    return {};
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> inbox_;
  bool server_closed_ = false, broken_ = false;
  int close_code_ = -1;
  std::string written_;
};

// Hands the stream to the code under test while the test keeps watching it.
class SharedStream final : public kv::core::kube::MessageStream {
 public:
  explicit SharedStream(std::shared_ptr<FakeStream> s) : s_(std::move(s)) {}
  Result<std::optional<std::string>> read() override { return s_->read(); }
  Status write(std::string_view b) override { return s_->write(b); }
  Status close(uint16_t code, std::string_view reason) override { return s_->close(code, reason); }

 private:
  std::shared_ptr<FakeStream> s_;
};

// A pipe whose ends close with the object.
struct TestPipe {
  int r = -1, w = -1;
  TestPipe() {
    int fds[2];
    REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
    r = fds[0];
    w = fds[1];
  }
  ~TestPipe() {
    close_read();
    close_write();
  }
  void write(std::string_view s) { REQUIRE(::write(w, s.data(), s.size()) == (ssize_t)s.size()); }
  void close_read() {
    if (r >= 0)
      ::close(r);
    r = -1;
  }
  void close_write() {
    if (w >= 0)
      ::close(w);
    w = -1;
  }
  // Everything until EOF (the writer must be closed).
  std::string drain() {
    std::string s;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(r, buf, sizeof buf)) > 0)
      s.append(buf, static_cast<size_t>(n));
    return s;
  }
};

}  // namespace

TEST_CASE("escape: ^] ends the session and nothing after it is sent") {
  CHECK(scan_for_escape("ls -l\r").forward == "ls -l\r");
  CHECK(!scan_for_escape("ls -l\r").escaped);
  auto s = scan_for_escape(
      "ab\x1d"
      "cd");
  CHECK(s.escaped);
  CHECK(s.forward == "ab");
  CHECK(scan_for_escape("\x1d").forward.empty());
}

TEST_CASE("pump: stdin EOF does not end the console; output continues until the server closes") {
  FakeStream stream;
  TestPipe in, out;
  in.write("root\n");
  in.close_write();  // a script's stdin: already at EOF
  stream.push("login: ");
  std::thread server([&] {
    REQUIRE(stream.wait_written(5));
    stream.push("Welcome\r\n");  // the guest answers after stdin is gone
    stream.server_close();
  });
  auto r = pump(stream, PumpIo{in.r, out.w, -1, true, false});
  server.join();
  REQUIRE(r.ok());
  CHECK(*r == PumpEnd::server_closed);
  CHECK(stream.written() == "root\n");
  out.close_write();
  CHECK(out.drain() == "login: Welcome\r\n");
}

TEST_CASE("pump: ^] disconnects with a normal close, the rest of the input is not sent") {
  FakeStream stream;
  TestPipe in, out;
  in.write(
      "echo hi\r\x1d"
      "reboot\r");
  auto r = pump(stream, PumpIo{in.r, out.w, -1, true, false});
  REQUIRE(r.ok());
  CHECK(*r == PumpEnd::escape);
  CHECK(stream.written() == "echo hi\r");
  CHECK(stream.close_code() == 1000);
}

TEST_CASE("pump: a stop signal ends the session; a broken connection is an error") {
  SECTION("stop") {
    FakeStream stream;
    TestPipe in, out, stop;
    stop.write("x");
    auto r = pump(stream, PumpIo{in.r, out.w, stop.r, true, false});
    REQUIRE(r.ok());
    CHECK(*r == PumpEnd::stopped);
    CHECK(stream.close_code() == 1000);
  }
  SECTION("broken") {
    FakeStream stream;
    TestPipe in, out;
    stream.break_connection();
    auto r = pump(stream, PumpIo{in.r, out.w, -1, true, false});
    REQUIRE(!r.ok());
    CHECK(r.error().message.find("connection reset") != std::string::npos);
  }
}

TEST_CASE("pump: with close_on_eof (VNC) the viewer leaving closes the stream") {
  FakeStream stream;
  int sv[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  stream.push("RFB 003.008\n");
  std::thread viewer([&] {
    char buf[12];
    size_t got = 0;
    while (got < sizeof buf) {
      ssize_t n = ::read(sv[1], buf + got, sizeof buf - got);
      if (n <= 0)
        break;
      got += static_cast<size_t>(n);
    }
    CHECK(std::string(buf, got) == "RFB 003.008\n");
    REQUIRE(::write(sv[1], "RFB 003.008\n", 12) == 12);
    ::shutdown(sv[1], SHUT_WR);
  });
  auto r = pump(stream, PumpIo{sv[0], sv[0], -1, false, true});
  viewer.join();
  ::close(sv[0]);
  ::close(sv[1]);
  REQUIRE(r.ok());
  CHECK(*r == PumpEnd::eof);
  CHECK(stream.written() == "RFB 003.008\n");
  CHECK(stream.close_code() == 1000);
}

namespace {

namespace kube = kv::core::kube;

void add_vmi(kv::test::FakeKubeClient& client, const std::string& phase) {
  auto doc = kv::core::json::parse(
      R"({"apiVersion":"kubevirt.io/v1","kind":"VirtualMachineInstance","metadata":{"name":"vm1","namespace":"ns1"},"status":{"phase":")" +
      phase + R"("}})");
  REQUIRE(doc.ok());
  REQUIRE(client.create(kv::addon::resources::virtual_machine_instances(), "ns1", *doc).ok());
}

}  // namespace

TEST_CASE("console: a missing VMI fails at once with the server's message") {
  kv::test::FakeKubeClient client;
  SignalPipe signals;
  std::ostringstream err;
  int dials = 0;
  Dialer dial = [&](const std::string&) -> Result<std::unique_ptr<kube::MessageStream>> {
    ++dials;
    return Error(Errc::internal, "unexpected");
  };
  ConsoleOptions o;
  o.ns = "ns1";
  o.name = "vm1";
  CHECK(run_console(client, dial, o, signals, err) == 1);
  CHECK(err.str().find("not found") != std::string::npos);
  CHECK(dials == 0);
}

TEST_CASE("console: a VMI that never runs times out with its phase") {
  kv::test::FakeKubeClient client;
  add_vmi(client, "Scheduling");
  SignalPipe signals;
  std::ostringstream err;
  Dialer dial = [&](const std::string&) -> Result<std::unique_ptr<kube::MessageStream>> {
    return Error(Errc::internal, "unexpected");
  };
  ConsoleOptions o;
  o.ns = "ns1";
  o.name = "vm1";
  o.timeout = std::chrono::seconds(0);
  CHECK(run_console(client, dial, o, signals, err) == 1);
  CHECK(err.str() ==
        "Timeout trying to connect to the virtual machine instance vm1 (phase Scheduling)\n");
}

TEST_CASE("console: attaches to a running VMI, copies, and ends on a signal") {
  kv::test::FakeKubeClient client;
  add_vmi(client, "Running");
  SignalPipe signals;
  std::ostringstream err;
  auto stream = std::make_shared<FakeStream>();
  std::string dialed;
  Dialer dial = [&](const std::string& path) -> Result<std::unique_ptr<kube::MessageStream>> {
    dialed = path;
    return std::unique_ptr<kube::MessageStream>(new SharedStream(stream));
  };
  TestPipe in, out;
  in.close_write();  // like </dev/null
  stream->push("[    0.000000] Linux version 6.1\r\n");
  std::thread stopper([&] {
    // The user's Ctrl+C / timeout(1): the console must end cleanly once output arrived.
    char buf[64];
    ssize_t n = ::read(out.r, buf, sizeof buf);
    CHECK(std::string(buf, n > 0 ? static_cast<size_t>(n) : 0) ==
          "[    0.000000] Linux version 6.1\r\n");
    signals.raise();
  });
  ConsoleOptions o;
  o.ns = "ns1";
  o.name = "vm1";
  o.in_fd = in.r;
  o.out_fd = out.w;
  CHECK(run_console(client, dial, o, signals, err) == 0);
  stopper.join();
  CHECK(dialed ==
        "/apis/subresources.kubevirt.io/v1/namespaces/ns1/virtualmachineinstances/vm1/console");
  CHECK(err.str().find("Successfully connected to vm1 console. The escape sequence is ^]\n") == 0);
}

TEST_CASE("vnc: prints nothing and fails when the VMI's VNC cannot be opened") {
  SignalPipe signals;
  std::ostringstream err;
  Dialer dial = [&](const std::string&) -> Result<std::unique_ptr<kube::MessageStream>> {
    return Error(Errc::not_found, "virtualmachineinstance \"vm1\" not found")
        .with("http_status", "404");
  };
  VncOptions o;
  o.ns = "ns1";
  o.name = "vm1";
  bool listened = false;
  o.on_listening = [&](int) { listened = true; };
  CHECK(run_vnc(dial, o, signals, err) == 1);
  CHECK(!listened);
  CHECK(err.str() == "Can't access VMI vm1: virtualmachineinstance \"vm1\" not found\n");
}

TEST_CASE("vnc: relays one viewer after another, each over a new stream") {
  SignalPipe signals;
  std::ostringstream err;
  std::mutex mu;
  std::vector<std::shared_ptr<FakeStream>> streams;
  Dialer dial = [&](const std::string& path) -> Result<std::unique_ptr<kube::MessageStream>> {
    CHECK(path ==
          "/apis/subresources.kubevirt.io/v1/namespaces/ns1/virtualmachineinstances/vm1/vnc");
    auto s = std::make_shared<FakeStream>();
    s->push("RFB 003.008\n");
    std::lock_guard lock(mu);
    streams.push_back(s);
    return std::unique_ptr<kube::MessageStream>(new SharedStream(s));
  };
  VncOptions o;
  o.ns = "ns1";
  o.name = "vm1";
  std::atomic<int> port{0};
  o.on_listening = [&](int p) { port = p; };
  std::thread proxy([&] { CHECK(run_vnc(dial, o, signals, err) == 0); });
  REQUIRE(kv::test::wait_for([&] { return port.load() != 0; }));
  for (int viewer = 0; viewer < 2; ++viewer) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port.load()));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    char buf[12];
    size_t got = 0;
    while (got < sizeof buf) {
      ssize_t n = ::read(fd, buf + got, sizeof buf - got);
      if (n <= 0)
        break;
      got += static_cast<size_t>(n);
    }
    CHECK(std::string(buf, got) == "RFB 003.008\n");
    std::string hello = "viewer" + std::to_string(viewer);
    REQUIRE(::write(fd, hello.data(), hello.size()) == (ssize_t)hello.size());
    std::shared_ptr<FakeStream> s;
    {
      std::lock_guard lock(mu);
      REQUIRE(streams.size() == static_cast<size_t>(viewer + 1));
      s = streams.back();
    }
    CHECK(s->wait_written(hello.size()));
    CHECK(s->written() == hello);
    ::close(fd);  // the viewer leaves: the proxy closes this stream and waits for the next
    CHECK(kv::test::wait_for([&] { return s->close_code() == 1000; }));
  }
  signals.raise();
  proxy.join();
  CHECK(err.str().empty());
}
