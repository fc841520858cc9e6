// handler/socket_watch: virt-handler learns that a launcher's command socket appeared from inotify,
// not from looking again on a timer. Real directories under /tmp, real inotify.
#include <catch2/catch.hpp>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "handler/socket_watch.hpp"
#include "test/support/temp_dir.hpp"

namespace fs = std::filesystem;
using kv::handler::SocketWatch;
using namespace std::chrono_literals;

namespace {

struct Fixture {
  kv::test::TempDir dir{"kv-socket-watch"};
  boost::asio::io_context io;
  std::vector<std::string> notified;
  SocketWatch watch{io, "launcher.sock", [this](const std::string& k) { notified.push_back(k); }};

  // Runs the io_context until `n` notifications arrived or 10 s passed.
  bool wait_for(std::size_t n) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (notified.size() < n && std::chrono::steady_clock::now() < deadline)
      io.run_one_for(100ms);
    return notified.size() >= n;
  }
  // Handlers that are ready now run; nothing waits.
  void drain() { io.poll(); }
  void touch(const fs::path& p) { std::ofstream(p) << ""; }
};

}  // namespace

TEST_CASE("a socket made in a watched directory notifies every key waiting on it, once") {
  Fixture f;
  REQUIRE(f.watch.watch("ns/a", f.dir.path.string()).ok());
  REQUIRE(f.watch.watch("ns/b", f.dir.path.string()).ok());
  CHECK(f.watch.watched_dirs() == 1);
  f.touch(f.dir.path / "launcher.sock");
  REQUIRE(f.wait_for(2));
  CHECK(f.notified == std::vector<std::string>{"ns/a", "ns/b"});
}

TEST_CASE("other files in the directory notify nobody") {
  Fixture f;
  REQUIRE(f.watch.watch("ns/a", f.dir.path.string()).ok());
  f.touch(f.dir.path / "other.sock");
  f.touch(f.dir.path / "launcher.sock");
  REQUIRE(f.wait_for(1));
  f.drain();
  CHECK(f.notified == std::vector<std::string>{"ns/a"});
}

TEST_CASE("an unwatched key is not notified and its directory's watch goes with its last key") {
  Fixture f;
  fs::create_directory(f.dir.path / "one");
  fs::create_directory(f.dir.path / "two");
  REQUIRE(f.watch.watch("ns/a", (f.dir.path / "one").string()).ok());
  REQUIRE(f.watch.watch("ns/b", (f.dir.path / "two").string()).ok());
  CHECK(f.watch.watched_dirs() == 2);
  f.watch.unwatch("ns/a");
  CHECK(f.watch.watched_dirs() == 1);
  f.touch(f.dir.path / "one" / "launcher.sock");
  f.touch(f.dir.path / "two" / "launcher.sock");
  REQUIRE(f.wait_for(1));
  f.drain();
  CHECK(f.notified == std::vector<std::string>{"ns/b"});
}

TEST_CASE("a key moved to another directory (a new launcher pod) waits on the new one only") {
  Fixture f;
  fs::create_directory(f.dir.path / "old");
  fs::create_directory(f.dir.path / "new");
  REQUIRE(f.watch.watch("ns/a", (f.dir.path / "old").string()).ok());
  REQUIRE(f.watch.watch("ns/a", (f.dir.path / "new").string()).ok());
  CHECK(f.watch.watched_dirs() == 1);
  f.touch(f.dir.path / "old" / "launcher.sock");
  f.touch(f.dir.path / "new" / "launcher.sock");
  REQUIRE(f.wait_for(1));
  f.drain();
  CHECK(f.notified == std::vector<std::string>{"ns/a"});
}

TEST_CASE("a directory that does not exist cannot be watched: the caller looks again later") {
  Fixture f;
  auto st = f.watch.watch("ns/a", (f.dir.path / "absent").string());
  REQUIRE_FALSE(st.ok());
  CHECK_THAT(st.error().message, Catch::Contains("absent"));
  CHECK(f.watch.watched_dirs() == 0);
}

TEST_CASE("a watched directory removed (the pod is gone) wakes its keys and drops the watch") {
  Fixture f;
  fs::create_directory(f.dir.path / "pod");
  REQUIRE(f.watch.watch("ns/a", (f.dir.path / "pod").string()).ok());
  fs::remove(f.dir.path / "pod");
  REQUIRE(f.wait_for(1));
  CHECK(f.notified == std::vector<std::string>{"ns/a"});
  CHECK(f.watch.watched_dirs() == 0);
}
