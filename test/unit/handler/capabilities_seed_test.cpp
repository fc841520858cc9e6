// handler/capabilities_seed: the node's QEMU capabilities copied into a launcher pod's libvirt
// cache before the first sync. Real files under /tmp; the pod's directories may be hostile.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "handler/capabilities_seed.hpp"
#include "test/support/temp_dir.hpp"

namespace fs = std::filesystem;
using kv::handler::seed_capabilities;

namespace {

void write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
}
std::string read(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

struct Fixture {
  kv::test::TempDir tmp{"kv-caps-seed"};
  fs::path node = tmp.path / "node";      // the init container's cache dir
  fs::path pod = tmp.path / "ephemeral";  // the launcher pod's ephemeral emptyDir
  fs::path target = pod / "libvirt/cache/libvirt/qemu/cache/capabilities";
  Fixture() {
    write(node / "abc.xml", "<qemuCaps>node</qemuCaps>");
    write(node / "notes.txt", "not a cache file");
    fs::create_directories(target);  // as the launcher lays it out at start
  }
};

}  // namespace

TEST_CASE("the node's capabilities land in the launcher's libvirt cache, whole and readable") {
  Fixture f;
  auto n = seed_capabilities(f.node.string(), f.pod.string());
  REQUIRE(n.ok());
  CHECK(*n == 1);
  CHECK(read(f.target / "abc.xml") == "<qemuCaps>node</qemuCaps>");
  CHECK_FALSE(fs::exists(f.target / "notes.txt"));
  struct stat st;
  REQUIRE(::stat((f.target / "abc.xml").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0644);
  // No temporary file is left beside it.
  CHECK(std::distance(fs::directory_iterator(f.target), fs::directory_iterator()) == 1);
}

TEST_CASE("a file the launcher already has is never replaced") {
  Fixture f;
  write(f.target / "abc.xml", "<qemuCaps>launcher's own</qemuCaps>");
  auto n = seed_capabilities(f.node.string(), f.pod.string());
  REQUIRE(n.ok());
  CHECK(*n == 0);
  CHECK(read(f.target / "abc.xml") == "<qemuCaps>launcher's own</qemuCaps>");
}

TEST_CASE(
    "a symbolic link in the pod's directories is refused, and nothing is written through it") {
  Fixture f;
  fs::path elsewhere = f.tmp.path / "elsewhere";
  fs::create_directories(elsewhere / "qemu/cache/capabilities");
  fs::remove_all(f.pod / "libvirt/cache/libvirt");
  fs::create_directory_symlink(elsewhere, f.pod / "libvirt/cache/libvirt");
  auto n = seed_capabilities(f.node.string(), f.pod.string());
  REQUIRE_FALSE(n.ok());
  CHECK_THAT(n.error().message,
             Catch::Contains("symbolic link") && Catch::Contains("libvirt/cache/libvirt"));
  CHECK(fs::is_empty(elsewhere / "qemu/cache/capabilities"));
}

TEST_CASE("nothing to copy, or nowhere to copy it: no file is made") {
  Fixture f;
  // No node cache yet (the init container has not run).
  auto n = seed_capabilities((f.tmp.path / "absent").string(), f.pod.string());
  REQUIRE(n.ok());
  CHECK(*n == 0);
  // A launcher that has not laid its cache out: nothing is created for it.
  fs::remove_all(f.pod / "libvirt/cache");
  n = seed_capabilities(f.node.string(), f.pod.string());
  REQUIRE(n.ok());
  CHECK(*n == 0);
  CHECK_FALSE(fs::exists(f.pod / "libvirt/cache"));
}
