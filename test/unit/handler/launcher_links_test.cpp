// The handler's launcher connections (handler/launcher_links): against a stand-in launcher that
// speaks the real protocol (launcher_com/protocol.hpp) on a unix socket, at a path longer than a
// unix socket address holds, as under /var/lib/kubelet.
#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <condition_variable>
#include <filesystem>
#include <future>
#include <mutex>
#include <thread>

#include "handler/launcher_links.hpp"
#include "test/support/temp_dir.hpp"

namespace asio = boost::asio;
namespace fs = std::filesystem;
namespace proto = kv::launcher_com::proto;
using kv::handler::LauncherLinks;
using kv::handler::Metrics;
using namespace std::chrono_literals;

namespace {

// A launcher stand-in: binds `path` (through a short symlink to its directory, as the launcher
// binds inside its pod), answers every request ok with state `state`, and sends events on demand.
class FakeLauncher {
 public:
  FakeLauncher(const fs::path& dir, const fs::path& link, bool answer = true) : answer_(answer) {
    std::error_code ec;
    fs::remove(link, ec);
    fs::create_directory_symlink(dir, link);
    path_ = (link / "launcher.sock").string();
    fd_ = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path_.c_str());
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(fd_, 4) == 0);
    thread_ = std::thread([this] { loop(); });
  }
  ~FakeLauncher() { stop(); }
  // The launcher process goes away: its socket file and connections with it.
  // The listening socket is closed only after the loop has ended, so its number cannot be
  // reused under the loop; a connection accepted while stopping is closed at once.
  void stop() {
    if (fd_ < 0)
      return;
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
      if (client_ >= 0)
        ::shutdown(client_, SHUT_RDWR);
    }
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
    fd_ = -1;
    ::unlink(path_.c_str());
  }
  void send_event(proto::EventKind kind, const std::string& reason, const std::string& state) {
    proto::Event e;
    e.kind = kind;
    e.reason = reason;
    e.status.state = state;
    std::string f = proto::frame(e);
    std::unique_lock lock(mu_);
    // The handler's side is connected once the kernel queued it; accept() may come a moment
    // later.
    REQUIRE(accepted_.wait_for(lock, 10s, [this] { return client_ >= 0; }));
    ::send(client_, f.data(), f.size(), MSG_NOSIGNAL);
  }
  std::vector<std::string> commands() {
    std::lock_guard lock(mu_);
    return commands_;
  }
  // Waits (with a deadline) until the launcher has read `n` requests: it reads them on its own
  // thread, possibly after the handler gave up on them.
  std::vector<std::string> wait_commands(std::size_t n) {
    std::unique_lock lock(mu_);
    read_.wait_for(lock, 10s, [&] { return commands_.size() >= n; });
    return commands_;
  }

 private:
  void loop() {
    for (;;) {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0)
        return;
      {
        std::lock_guard lock(mu_);
        if (stopping_) {
          ::close(c);
          return;
        }
        client_ = c;
      }
      accepted_.notify_all();
      proto::FrameReader reader;
      char buf[4096];
      for (;;) {
        ssize_t n = ::read(c, buf, sizeof buf);
        if (n <= 0)
          break;
        reader.feed(std::string_view(buf, static_cast<size_t>(n)));
        for (;;) {
          auto body = reader.next();
          if (!body.ok() || !*body)
            break;
          auto msg = proto::decode(**body);
          if (!msg.ok())
            break;
          auto* req = std::get_if<proto::Request>(&*msg);
          if (!req)
            continue;
          {
            std::lock_guard lock(mu_);
            commands_.emplace_back(proto::command_name(req->command));
          }
          read_.notify_all();
          if (!answer_)
            continue;
          proto::Response r;
          r.id = req->id;
          r.status = proto::DomainStatus{};
          r.status->state = "running";
          std::string f = proto::frame(r);
          ::send(c, f.data(), f.size(), MSG_NOSIGNAL);
        }
      }
      std::lock_guard lock(mu_);
      ::close(c);
      client_ = -1;
    }
  }
  bool answer_;
  std::string path_;
  int fd_ = -1;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable accepted_;
  std::condition_variable read_;
  int client_ = -1;
  bool stopping_ = false;
  std::vector<std::string> commands_;
};

struct Fixture {
  kv::test::TempDir tmp{"kv-handler-links"};
  fs::path long_dir;
  Metrics metrics;
  asio::io_context io;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work{io.get_executor()};
  std::mutex mu;
  std::condition_variable cv;
  int notifications = 0;
  std::unique_ptr<LauncherLinks> links;
  std::thread io_thread;

  explicit Fixture(std::chrono::milliseconds request_timeout = 5s) {
    // <kubelet-root>/pods/<uid>/volumes/kubernetes.io~empty-dir/sockets: > 107 bytes in all.
    long_dir = tmp.path / "kubelet/pods/0f9d2c8e-5b7a-4c1e-9d3f-2a6b8c0e1f47/volumes" /
               "kubernetes.io~empty-dir/sockets-of-a-launcher-pod-with-a-long-path";
    fs::create_directories(long_dir);
    links = std::make_unique<LauncherLinks>(
        io, metrics,
        [this](const std::string&) {
          std::lock_guard lock(mu);
          ++notifications;
          cv.notify_all();
        },
        request_timeout);
    io_thread = std::thread([this] { io.run(); });
  }
  ~Fixture() {
    links->close_all();
    work.reset();
    asio::post(io, [this] { io.stop(); });
    io_thread.join();
  }
  std::string socket() const { return (long_dir / "launcher.sock").string(); }
  // Waits (with a deadline) until pred holds for the link's snapshot.
  bool wait(const std::function<bool(const kv::handler::LinkSnapshot&)>& pred) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, 10s, [&] { return pred(links->snapshot("ns/vm")); });
  }
};

}  // namespace

TEST_CASE("connects through a long socket path, tracks events and responses") {
  Fixture f;
  REQUIRE(f.socket().size() > 107);
  FakeLauncher launcher(f.long_dir, f.tmp.path / "s");
  f.links->connect("ns/vm", f.socket());
  REQUIRE(f.wait([](auto& s) { return s.view.connected; }));
  CHECK(f.links->snapshot("ns/vm").view.ever_connected);

  proto::Request sync;
  sync.command = proto::Command::sync;
  sync.vmi = *proto::parse_vmi("{}");
  f.links->request("ns/vm", sync, nullptr);
  REQUIRE(f.wait([](auto& s) { return s.view.domain && s.view.domain->state == "running"; }));
  CHECK_FALSE(f.links->snapshot("ns/vm").view.sync_error);

  launcher.send_event(proto::EventKind::crashed, "failed", "shutoff");
  launcher.send_event(proto::EventKind::exiting, "crashed", "shutoff");
  REQUIRE(f.wait([](auto& s) { return s.view.exit_reason.has_value(); }));
  auto s = f.links->snapshot("ns/vm");
  CHECK(*s.view.exit_reason == "crashed");
  CHECK(s.view.stop_reason == "failed");
  CHECK(s.view.domain->state == "shutoff");
  CHECK(f.metrics.value("kubevirt_handler_launcher_events_total", {{"event", "exiting"}}) == 1);
}

TEST_CASE("a launcher that goes away and comes back is reconnected; what it said is kept") {
  Fixture f;
  auto launcher = std::make_unique<FakeLauncher>(f.long_dir, f.tmp.path / "s");
  f.links->connect("ns/vm", f.socket());
  REQUIRE(f.wait([](auto& s) { return s.view.connected; }));
  launcher->send_event(proto::EventKind::paused, "user", "paused");
  REQUIRE(f.wait([](auto& s) { return s.view.domain && s.view.domain->state == "paused"; }));
  f.links->mark_sync_sent("ns/vm", 30);

  launcher->stop();  // socket gone, connection closed
  REQUIRE(f.wait([](auto& s) { return !s.view.connected; }));
  CHECK(f.links->snapshot("ns/vm").view.ever_connected);

  // Connecting while nothing listens fails and says so (the handler retries).
  f.links->connect("ns/vm", f.socket());
  REQUIRE(f.wait([](auto& s) { return !s.connecting && !s.view.connected; }));
  CHECK(f.metrics.value("kubevirt_handler_launcher_errors_total", {{"kind", "connect"}}) >= 1);

  launcher = std::make_unique<FakeLauncher>(f.long_dir, f.tmp.path / "s");
  f.links->connect("ns/vm", f.socket());
  REQUIRE(f.wait([](auto& s) { return s.view.connected; }));
  auto s = f.links->snapshot("ns/vm");
  // A new connection: sync goes again; the last domain state stays until the launcher speaks.
  CHECK_FALSE(s.sync_sent);
  CHECK(s.view.domain->state == "paused");
}

TEST_CASE("a launcher pod replaced by another starts the link afresh") {
  Fixture f;
  FakeLauncher launcher(f.long_dir, f.tmp.path / "s");
  f.links->connect("ns/vm", f.socket());
  REQUIRE(f.wait([](auto& s) { return s.view.connected; }));
  launcher.send_event(proto::EventKind::exiting, "guest-shutdown", "shutoff");
  REQUIRE(f.wait([](auto& s) { return s.view.exit_reason.has_value(); }));

  kv::test::TempDir other{"kv-handler-links"};
  FakeLauncher second(other.path, f.tmp.path / "s2");
  f.links->connect("ns/vm", (other.path / "launcher.sock").string());
  REQUIRE(f.wait([&](auto& s) {
    return s.view.connected && s.socket_path == (other.path / "launcher.sock").string();
  }));
  CHECK_FALSE(f.links->snapshot("ns/vm").view.exit_reason);
}

TEST_CASE("a launcher that stops answering is dropped after the request timeout") {
  Fixture f(300ms);
  FakeLauncher launcher(f.long_dir, f.tmp.path / "s", /*answer=*/false);
  f.links->connect("ns/vm", f.socket());
  REQUIRE(f.wait([](auto& s) { return s.view.connected; }));
  std::mutex mu;
  std::condition_variable cv;
  std::optional<kv::core::Result<proto::Response>> result;
  proto::Request ping;
  ping.command = proto::Command::ping;
  f.links->request("ns/vm", ping, [&](kv::core::Result<proto::Response> r) {
    std::lock_guard lock(mu);
    result = std::move(r);
    cv.notify_all();
  });
  REQUIRE(f.wait([](auto& s) { return !s.view.connected; }));
  {
    std::unique_lock lock(mu);
    REQUIRE(cv.wait_for(lock, 10s, [&] { return result.has_value(); }));
    CHECK_FALSE(result->ok());
  }
  CHECK(f.metrics.value("kubevirt_handler_launcher_errors_total", {{"kind", "timeout"}}) == 1);
  CHECK(launcher.wait_commands(1) == std::vector<std::string>{"ping"});
}

// Holds the handler's io thread until released, so that the test decides what runs first there.
class IoGate {
 public:
  explicit IoGate(asio::io_context& io) {
    asio::post(io, [this] {
      std::unique_lock lock(mu_);
      entered_ = true;
      cv_.notify_all();
      cv_.wait(lock, [this] { return open_; });
    });
  }
  bool wait_entered() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 10s, [this] { return entered_; });
  }
  void open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool entered_ = false, open_ = false;
};

TEST_CASE("a link dropped while its connection is being made: the late connection is closed") {
  Fixture f;
  FakeLauncher launcher(f.long_dir, f.tmp.path / "s");
  // The io thread's queue: [gate1, connect's start, gate2]. Once gate1 opens, the connection is
  // begun and its completion queues behind gate2; the link is dropped before that completion
  // runs, so it finds no link (as when a VMI goes while the handler connects to its launcher).
  IoGate gate1(f.io);
  REQUIRE(gate1.wait_entered());
  f.links->connect("ns/vm", f.socket());
  IoGate gate2(f.io);
  gate1.open();
  REQUIRE(gate2.wait_entered());
  f.links->drop("ns/vm");
  gate2.open();

  // The io thread goes on (it once deadlocked here, closing the late connection under the
  // lock that the close callback takes) and the launcher sees the connection closed.
  std::promise<void> reached;
  asio::post(f.io, [&] { reached.set_value(); });
  if (reached.get_future().wait_for(10s) != std::future_status::ready) {
    std::fprintf(stderr, "the handler's io thread is stuck after a dropped connect\n");
    std::_Exit(1);  // the fixture cannot be torn down: its io thread never ends
  }
  CHECK(f.links->keys().empty());
  CHECK_FALSE(f.links->snapshot("ns/vm").view.connected);
}

TEST_CASE("requests without a connection fail at once") {
  Fixture f;
  std::mutex mu;
  std::condition_variable cv;
  std::optional<kv::core::Result<proto::Response>> result;
  proto::Request ping;
  ping.command = proto::Command::ping;
  f.links->request("ns/none", ping, [&](kv::core::Result<proto::Response> r) {
    std::lock_guard lock(mu);
    result = std::move(r);
    cv.notify_all();
  });
  std::unique_lock lock(mu);
  REQUIRE(cv.wait_for(lock, 10s, [&] { return result.has_value(); }));
  CHECK(result->error().code == kv::core::Errc::unavailable);
}
