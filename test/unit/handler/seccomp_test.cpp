// The launcher pods' seccomp profile and its installation.
#include "handler/seccomp.hpp"

#include <sys/stat.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "core/json.hpp"

using namespace kv::handler;
namespace fs = std::filesystem;
namespace json = kv::core::json;

namespace {

// Every syscall name the profile allows without conditions.
std::set<std::string> allowed(const json::Value& profile) {
  std::set<std::string> out;
  const auto* rules = json::find(profile, "syscalls");
  REQUIRE(rules);
  for (const auto& r : rules->GetArray()) {
    if (json::get_string(r, "action").value_or("") != "SCMP_ACT_ALLOW" || json::find(r, "args"))
      continue;
    for (const auto& n : json::find(r, "names")->GetArray())
      out.insert(n.GetString());
  }
  return out;
}

std::string slurp(const std::string& p) {
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace

TEST_CASE("the profile parses, denies by default and adds to RuntimeDefault only passt's needs") {
  auto doc = json::parse(launcher_seccomp_profile());
  REQUIRE(doc.ok());
  CHECK(json::get_string(*doc, "defaultAction") == "SCMP_ACT_ERRNO");
  auto names = allowed(*doc);
  // A sample of RuntimeDefault (containerd 1.6) that libvirtd and QEMU use.
  for (const char* n : {"read", "write", "mmap", "ioctl", "socket", "execve", "setresuid", "prctl",
                        "seccomp", "arch_prctl", "epoll_pwait", "io_uring_setup", "close_range",
                        "rseq", "membarrier", "ptrace"}) {
    INFO(n);
    CHECK(names.contains(n));
  }
  // What passt's sandbox needs, unconditionally.
  for (const char* n : {"unshare", "mount", "umount2", "pivot_root"})
    CHECK(names.contains(n));
  // Still refused, as in RuntimeDefault for a pod without CAP_SYS_ADMIN.
  for (const char* n : {"setns", "bpf", "syslog", "kexec_load", "reboot", "init_module", "chroot",
                        "open_by_handle_at", "perf_event_open", "keyctl", "add_key", "clone"})
    CHECK_FALSE(names.contains(n));
  // clone only without namespace flags; clone3 gets ENOSYS so libc falls back to clone.
  bool clone_masked = false, clone3_enosys = false;
  for (const auto& r : json::find(*doc, "syscalls")->GetArray()) {
    std::string first = json::find(r, "names")->GetArray()[0].GetString();
    if (first == "clone") {
      const auto& a = json::find(r, "args")->GetArray()[0];
      clone_masked = json::get_string(a, "op") == "SCMP_CMP_MASKED_EQ" &&
                     json::find(a, "value")->GetUint64() == 0x7E020000u;
    }
    if (first == "clone3")
      clone3_enosys = json::find(r, "errnoRet")->GetInt() == 38;
  }
  CHECK(clone_masked);
  CHECK(clone3_enosys);
  CHECK(launcher_seccomp_profile() == launcher_seccomp_profile());
}

TEST_CASE("install writes kubevirt/kubevirt.json once, and again only when it differs") {
  char t[] = "/tmp/seccomp-test-XXXXXX";
  std::string dir = mkdtemp(t);
  std::string path = dir + "/kubevirt/kubevirt.json";
  auto first = install_seccomp_profile(dir);
  REQUIRE(first.ok());
  CHECK(*first);
  CHECK(slurp(path) == launcher_seccomp_profile());
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0644);
  auto again = install_seccomp_profile(dir);
  REQUIRE(again.ok());
  CHECK_FALSE(*again);
  { std::ofstream(path) << "{}"; }
  auto fixed = install_seccomp_profile(dir);
  REQUIRE(fixed.ok());
  CHECK(*fixed);
  CHECK(slurp(path) == launcher_seccomp_profile());
  // No temporary file is left beside it.
  CHECK(std::distance(fs::directory_iterator(dir + "/kubevirt"), fs::directory_iterator{}) == 1);
  fs::remove_all(dir);
}
