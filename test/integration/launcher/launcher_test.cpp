// virt-launcher against real libvirt + QEMU (TCG), booting the project's test guest.
#include <sys/socket.h>
#include <sys/un.h>

#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <iostream>

#include "launcher/libvirtd.hpp"
#include "test/support/timeout_scale.hpp"
#include "tools/launcher_pod/launcher_pod.hpp"

using namespace kv::launcher;
using namespace kv::launcher::testing;
using namespace std::chrono_literals;
using proto::Command;
using proto::EventKind;

namespace {

constexpr auto kBoot = 90s;

kv::core::Result<RunResult> run_cmd(const std::vector<std::string>& argv) {
  return kv::launcher::run(argv, std::chrono::seconds(60));
}  // TCG on a shared 2-core box; typically ~3 s

// The test guest; main() has made sure the machine can run it.
std::string require_guest() {
  auto g = guest_dir();
  if (!g.ok())
    FAIL(g.error().to_string());
  return *g;
}

// One libvirt capabilities cache for the whole program (see LauncherPod::cache_dir).
struct SharedCache {
  std::string path;
  SharedCache() {
    char tmpl[] = "/tmp/kvl-cache-XXXXXX";
    path = mkdtemp(tmpl);
    chown_tree(path);
  }
  ~SharedCache() { fs::remove_all(path); }
};
SharedCache& shared_cache() {
  static SharedCache c;
  return c;
}

proto::Response must(kv::core::Result<proto::Response> r) {
  if (!r.ok())
    FAIL(r.error().to_string());
  if (!r->ok())
    FAIL(r->error->to_string());
  return *r;
}

proto::Response sync(LauncherPod& pod, const std::string& vmi) {
  proto::Request r;
  r.command = Command::sync;
  r.vmi = *proto::parse_vmi(vmi);
  return must(pod.client.call(r, kBoot));
}

proto::Event wait_event(LauncherPod& pod, EventKind k, std::chrono::milliseconds t = kBoot) {
  auto e = pod.client.wait_event(k, t);
  if (!e.ok())
    FAIL(e.error().to_string() << "\nlauncher log:\n" << read_file(pod.stderr_path()));
  return *e;
}

int connect_unix(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  timeval tv{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

// Reads fd until `needle` shows up; closes it.
bool read_until(int fd, const std::string& needle, std::chrono::milliseconds timeout) {
  std::string seen;
  auto deadline = std::chrono::steady_clock::now() + kv::test::scaled(timeout);
  char buf[4096];
  while (std::chrono::steady_clock::now() < deadline) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n == 0)
      break;
    if (n > 0)
      seen.append(buf, static_cast<size_t>(n));
    if (seen.find(needle) != std::string::npos) {
      close(fd);
      return true;
    }
  }
  close(fd);
  return false;
}

// Reads the console socket until `needle` shows up.
bool console_shows(const std::string& socket_path, const std::string& needle,
                   std::chrono::milliseconds timeout) {
  int fd = connect_unix(socket_path);
  return fd >= 0 && read_until(fd, needle, timeout);
}

// Types a line into the guest's shell on the console socket (what `virtctl console` does through
// virt-handler) and reads until `needle` shows up.
bool console_answers(const std::string& socket_path, const std::string& line,
                     const std::string& needle, std::chrono::milliseconds timeout) {
  int fd = connect_unix(socket_path);
  if (fd < 0)
    return false;
  if (write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
    close(fd);
    return false;
  }
  return read_until(fd, needle, timeout);
}

std::string sha_of(const std::string& path) {
  auto r = run_cmd({"sha256sum", path});
  REQUIRE(r.ok());
  return r->output.substr(0, 64);
}

// Starts a pod with the guest kernel in place.
void start_pod(LauncherPod& pod, const std::string& guest, std::vector<std::string> flags = {}) {
  pod.cache_dir = shared_cache().path;
  REQUIRE(pod.install_kernel(guest).ok());
  auto st = pod.start(flags);
  if (!st.ok())
    FAIL(st.error().to_string() << "\nlauncher log:\n" << read_file(pod.stderr_path()));
}

// The test guest in a fresh launcher pod as VMI `name` (guest_vmi_json); returns once libvirt
// says the domain started.
void boot_guest(LauncherPod& pod, const std::string& name) {
  start_pod(pod, require_guest());
  sync(pod, guest_vmi_json(name));
  wait_event(pod, EventKind::started);
}

}  // namespace

TEST_CASE("boots to the ready line; console, status, port forward, pause/unpause, shutdown") {
  auto guest = require_guest();
  LauncherPod pod;
  start_pod(pod, guest);

  auto resp = sync(pod, guest_vmi_json("boot"));
  CHECK(resp.status->state == "running");
  wait_event(pod, EventKind::started);
  // The console socket exists once QEMU runs; the guest prints the ready line seconds later.
  CHECK(console_shows(pod.console_socket(), kReadyLine, kBoot));
  // ... and the same console reaches the launcher's stdout.
  CHECK(pod.wait_stdout(kReadyLine, 10s).ok());

  auto st = must(pod.client.call(Command::get_status, 10s));
  CHECK(st.status->state == "running");
  REQUIRE(st.status->interfaces.size() == 1);
  CHECK(st.status->interfaces[0].name == "default");
  CHECK(st.status->interfaces[0].ip_address == "10.0.2.2");
  CHECK(pod.wait_stdout("KUBEVIRT-CPP-GUEST-IP eth0 10.0.2.2", 10s).ok());

  // interfaces[].ports: the pod's port 8080 reaches the guest's HTTP responder.
  auto http = pod.in_pod_netns({"curl", "-s", "-m", "10", "http://127.0.0.1:8080/"});
  REQUIRE(http.ok());
  CHECK(http->output.find("KUBEVIRT-CPP-GUEST hostname=") != std::string::npos);

  // Garbage on the command socket, and a second client: the VM does not notice.
  {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, pod.command_socket().c_str(), sizeof a.sun_path - 1);
    REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    std::string junk = "\xff\xff\xff\xff garbage";
    REQUIRE(write(fd, junk.data(), junk.size()) > 0);
    char buf[256];
    timeval tv{10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    while (read(fd, buf, sizeof buf) > 0) {
    }
    close(fd);
  }
  SyncClient second;
  REQUIRE(second.connect(pod.command_socket(), 10s).ok());
  CHECK(must(second.call(Command::ping, 10s)).ok());

  // pause / unpause, with events to both clients.
  must(pod.client.call(Command::pause, 10s));
  CHECK(wait_event(pod, EventKind::paused).reason == "user");
  CHECK(second.wait_event(EventKind::paused, 10s).ok());
  CHECK(must(pod.client.call(Command::get_status, 10s)).status->state == "paused");
  must(pod.client.call(Command::unpause, 10s));
  CHECK(wait_event(pod, EventKind::resumed).reason == "unpaused");
  CHECK(must(pod.client.call(Command::get_status, 10s)).status->state == "running");
  second.close();  // a dropped client

  // reset: the guest boots again (a second ready line on the console copy).
  must(pod.client.call(Command::reset, 10s));
  auto deadline = std::chrono::steady_clock::now() + kv::test::scaled(kBoot);
  auto count_ready = [&] {
    std::string out = read_file(pod.stdout_path());
    size_t n = 0;
    for (auto p = out.find(kReadyLine); p != std::string::npos; p = out.find(kReadyLine, p + 1))
      ++n;
    return n;
  };
  while (count_ready() < 2 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(100ms);
  CHECK(count_ready() == 2);

  // Graceful shutdown: the guest powers off on the ACPI button; the launcher exits 0.
  proto::Request sd;
  sd.command = Command::shutdown;
  sd.grace_period_seconds = 60;
  must(pod.client.call(sd, 10s));
  CHECK(wait_event(pod, EventKind::shutdown).reason == "shutdown");
  auto exiting = wait_event(pod, EventKind::exiting);
  CHECK(exiting.reason == "guest-shutdown");
  CHECK(exiting.exit_status == 0);
  auto code = pod.wait_exit(30s);
  REQUIRE(code.ok());
  CHECK(*code == 0);
  CHECK_FALSE(fs::exists(pod.command_socket()));
}

TEST_CASE("SIGTERM shuts the guest down gracefully and exits 0") {
  auto guest = require_guest();
  LauncherPod pod;
  start_pod(pod, guest);
  sync(pod, guest_vmi_json("sigterm"));
  REQUIRE(pod.wait_stdout(kReadyLine, kBoot).ok());
  pod.signal(SIGTERM);
  CHECK(wait_event(pod, EventKind::shutdown).reason == "shutdown");
  auto code = pod.wait_exit(60s);
  REQUIRE(code.ok());
  CHECK(*code == 0);
  CHECK(pod.qemu_pid() < 0);
}

TEST_CASE("SIGTERM with a guest that ignores ACPI: destroyed after the grace period, exits 3") {
  auto guest = require_guest();
  LauncherPod pod;
  start_pod(pod, guest);
  // The guest's user-data stops acpid, so the power button does nothing.
  std::string vols =
      R"([{"name":"ci","cloudInitNoCloud":{"userData":"#!/bin/sh\nkillall acpid\necho ACPID-GONE\n"}}])";
  std::string disks = R"([{"name":"ci","disk":{"bus":"virtio"}}])";
  sync(pod, guest_vmi_json("stubborn", vols, disks, 2));
  REQUIRE(pod.wait_stdout("ACPID-GONE", kBoot).ok());
  REQUIRE(pod.wait_stdout(kReadyLine, kBoot).ok());
  auto t0 = std::chrono::steady_clock::now();
  pod.signal(SIGTERM);
  CHECK(wait_event(pod, EventKind::shutdown).reason == "destroyed");
  auto code = pod.wait_exit(60s);
  REQUIRE(code.ok());
  CHECK(*code == 3);
  CHECK(std::chrono::steady_clock::now() - t0 >= 2s);  // it did wait for the grace period
}

TEST_CASE("QEMU killed: the launcher reports a crash and exits 2") {
  LauncherPod pod;
  boot_guest(pod, "crash");
  pid_t qemu = pod.qemu_pid();
  REQUIRE(qemu > 0);
  REQUIRE(kill(qemu, SIGKILL) == 0);
  auto crashed = wait_event(pod, EventKind::crashed);
  CHECK(crashed.reason == "failed");
  auto exiting = wait_event(pod, EventKind::exiting);
  CHECK(exiting.reason == "crashed");
  auto code = pod.wait_exit(30s);
  REQUIRE(code.ok());
  CHECK(*code == 2);
}

TEST_CASE("kill destroys at once and exits 3") {
  LauncherPod pod;
  boot_guest(pod, "kill");
  must(pod.client.call(Command::kill, 10s));
  CHECK(wait_event(pod, EventKind::shutdown).reason == "destroyed");
  auto code = pod.wait_exit(30s);
  REQUIRE(code.ok());
  CHECK(*code == 3);
}

TEST_CASE("startStrategy Paused: QEMU starts with its CPUs stopped; unpause boots the guest") {
  LauncherPod pod;
  start_pod(pod, require_guest());
  std::string vmi = guest_vmi_json("sleeper");
  const std::string spec = R"("spec":{)";
  vmi.replace(vmi.find(spec), spec.size(), spec + R"("startStrategy":"Paused",)");
  CHECK(sync(pod, vmi).status->state == "paused");
  wait_event(pod, EventKind::paused);
  CHECK(pod.qemu_pid() > 0);
  CHECK(must(pod.client.call(Command::get_status, 10s)).status->state == "paused");
  // Not a matter of time: CPUs that never ran wrote nothing to the serial port.
  CHECK(read_file(pod.stdout_path()).find(kReadyLine) == std::string::npos);
  must(pod.client.call(Command::unpause, 10s));
  CHECK(wait_event(pod, EventKind::resumed).reason == "unpaused");
  CHECK(pod.wait_stdout(kReadyLine, kBoot).ok());
  must(pod.client.call(Command::kill, 10s));
  auto code = pod.wait_exit(30s);
  REQUIRE(code.ok());
  CHECK(*code == 3);
}

TEST_CASE("containerDisk: the guest boots from an overlay and the image stays unchanged") {
  auto guest = require_guest();
  LauncherPod pod;
  // The image's /disk/boot.qcow2, as a containerDisk container would expose it.
  fs::create_directories(pod.container_disk_dir() + "/root/disk");
  std::string base = pod.container_disk_dir() + "/root/disk/boot.qcow2";
  fs::copy_file(guest + "/boot.qcow2", base);
  chmod(base.c_str(), 0444);
  std::string before = sha_of(base);
  pod.cache_dir = shared_cache().path;
  REQUIRE(pod.start().ok());
  std::string vmi =
      R"({"apiVersion":"kubevirt.io/v1","kind":"VirtualMachineInstance",)"
      R"("metadata":{"name":"cdisk","namespace":"tests","uid":"uid-cdisk"},)"
      R"("spec":{"domain":{"memory":{"guest":"256Mi"},"devices":{"autoattachGraphicsDevice":false,)"
      R"("disks":[{"name":"root","disk":{"bus":"virtio"}}]}},)"
      R"("volumes":[{"name":"root","containerDisk":{"image":"guest:1"}}]}})";
  sync(pod, vmi);
  REQUIRE(pod.wait_stdout(kReadyLine, kBoot).ok());
  must(pod.client.call(Command::kill, 10s));
  REQUIRE(pod.wait_exit(30s).ok());
  CHECK(sha_of(base) == before);
  auto info = run_cmd({"qemu-img", "info", pod.root() + "/eph/disks/root.qcow2"});
  REQUIRE(info.ok());
  CHECK(info->output.find("backing file: " + base) != std::string::npos);
}

TEST_CASE("PVC disk.img survives a second boot; the cloud-init ISO carries the spec's user-data") {
  auto guest = require_guest();
  // One PVC directory used by two pods in turn, holding an ext4 disk.img (label kvdata).
  char tmpl[] = "/tmp/kvl-pvc-XXXXXX";
  std::string pvc = mkdtemp(tmpl);
  struct Cleanup {
    std::string p;
    ~Cleanup() { fs::remove_all(p); }
  } cleanup{pvc};
  fs::create_directories(pvc + "/data");
  REQUIRE(run_cmd({"qemu-img", "convert", "-f", "qcow2", "-O", "raw", guest + "/data.qcow2",
                   pvc + "/data/disk.img"})
              ->exit_code == 0);
  chown_tree(pvc);

  auto boot = [&](const std::string& name, const std::string& script) {
    LauncherPod pod;
    std::string vols = R"([{"name":"data","persistentVolumeClaim":{"claimName":"data"}},)"
                       R"({"name":"ci","cloudInitNoCloud":{"userData":")" +
                       script + R"("}}])";
    std::string disks =
        R"([{"name":"data","disk":{"bus":"virtio"}},{"name":"ci","disk":{"bus":"virtio"}}])";
    start_pod(pod, guest, {"--pvc-dir=" + pvc});
    sync(pod, guest_vmi_json(name, vols, disks));
    REQUIRE(pod.wait_stdout(kReadyLine, kBoot).ok());
    std::string out = read_file(pod.stdout_path());
    must(pod.client.call(Command::shutdown, 10s));
    auto code = pod.wait_exit(60s);
    REQUIRE(code.ok());
    CHECK(*code == 0);
    return out;
  };

  std::string first =
      boot("pvc1", "#!/bin/sh\\necho written-by-first-boot > /data/marker\\nsync\\n");
  // The guest printed the user-data exactly as the spec gave it.
  CHECK(first.find("KUBEVIRT-CPP-USER-DATA-BEGIN\n#!/bin/sh\necho written-by-first-boot > "
                   "/data/marker\nsync\nKUBEVIRT-CPP-USER-DATA-END") != std::string::npos);
  CHECK(first.find("KUBEVIRT-CPP-GUEST-DATA") != std::string::npos);

  std::string second = boot("pvc2", "#!/bin/sh\\necho MARKER=$(cat /data/marker)\\n");
  CHECK(second.find("MARKER=written-by-first-boot") != std::string::npos);
}

TEST_CASE("a VMI the launcher cannot run is refused with the field; the launcher keeps waiting") {
  auto guest = require_guest();
  LauncherPod pod;
  start_pod(pod, guest);
  proto::Request r;
  r.command = Command::sync;
  r.vmi = *proto::parse_vmi(guest_vmi_json("bad", R"([])", R"([{"name":"nothere","disk":{}}])"));
  auto resp = pod.client.call(r, 30s);
  REQUIRE(resp.ok());
  REQUIRE_FALSE(resp->ok());
  CHECK(resp->error->message.find("spec.domain.devices.disks[0].name") == 0);
  CHECK(must(pod.client.call(Command::ping, 10s)).ok());
  // SIGTERM with no VM: a clean exit.
  pod.signal(SIGTERM);
  auto code = pod.wait_exit(30s);
  REQUIRE(code.ok());
  CHECK(*code == 0);
}

namespace {

// SIGKILLs the pod's libvirtd and waits until the launcher says it restarted and reconnected
// (the n-th time in this pod's log); the new daemon's PID.
pid_t kill_libvirtd_and_wait_restart(LauncherPod& pod, int nth) {
  pid_t old = pod.libvirtd_pid();
  REQUIRE(old > 0);
  REQUIRE(kill(old, SIGKILL) == 0);
  auto restarted = [&] {
    std::string log = read_file(pod.stderr_path());
    int n = 0;
    for (auto p = log.find("libvirtd restarted and reconnected"); p != std::string::npos;
         p = log.find("libvirtd restarted and reconnected", p + 1))
      ++n;
    return n >= nth;
  };
  auto deadline = std::chrono::steady_clock::now() + kv::test::scaled(60s);
  while (!restarted() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(50ms);
  if (!restarted()) {
    auto code = pod.wait_exit(0ms);  // the launcher itself may be gone: how it ended
    FAIL("the launcher did not restart libvirtd (pid "
         << old << " killed; now " << pod.libvirtd_pid() << "; launcher "
         << (code.ok() ? "exited with " + std::to_string(*code) : std::string("runs"))
         << "); its log:\n"
         << read_file(pod.stderr_path()) << "\nlibvirtd's log:\n"
         << read_file(pod.root() + "/eph/libvirt/log/libvirtd.log"));
  }
  pid_t now = pod.libvirtd_pid();
  CHECK(now > 0);
  CHECK(now != old);
  return now;
}

// The process has ended within `timeout` (a zombie has ended: the reaper of whoever adopted it
// collects it in its own time).
bool ended_within(pid_t pid, std::chrono::milliseconds timeout) {
  auto ended = [&] {
    std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
    auto rp = stat.rfind(')');
    return stat.empty() || rp == std::string::npos || stat.compare(rp, 3, ") Z") == 0;
  };
  auto deadline = std::chrono::steady_clock::now() + kv::test::scaled(timeout);
  while (!ended() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(20ms);
  return ended();
}

// `virsh domstate` on a connection of its own to the pod's daemon, as the launcher's user.
std::string domstate_from_outside(LauncherPod& pod, const std::string& domain) {
  LibvirtdOptions lo;
  lo.base_dir = pod.root() + "/eph/libvirt";
  lo.cache_dir = pod.cache_dir;
  std::vector<std::string> argv{"setpriv",
                                "--reuid=" + std::to_string(kLauncherUid),
                                "--regid=" + std::to_string(kLauncherGid),
                                "--clear-groups",
                                "env",
                                "-i"};
  for (const auto& e : libvirtd_environment(lo))
    argv.push_back(e);
  for (const char* a : {"virsh", "-c"})
    argv.push_back(a);
  argv.push_back("qemu:///session?socket=" + lo.base_dir + "/run/libvirt/libvirt-sock");
  argv.push_back("domstate");
  argv.push_back(domain);
  auto r = run_cmd(argv);
  REQUIRE(r.ok());
  INFO(r->output);
  REQUIRE(r->exit_code == 0);
  auto out = r->output;
  return out.substr(0, out.find('\n'));
}

}  // namespace

TEST_CASE("libvirtd SIGKILLed: restarted, back on the same QEMU; console, pause, stop still work") {
  LauncherPod pod;
  boot_guest(pod, "phoenix");
  REQUIRE(pod.wait_stdout(kReadyLine, kBoot).ok());
  pid_t qemu = pod.qemu_pid();
  REQUIRE(qemu > 0);

  kill_libvirtd_and_wait_restart(pod, 1);
  std::string log = read_file(pod.stderr_path());
  CHECK(log.find("killed by signal 9") != std::string::npos);  // the old daemon's wait status
  CHECK(pod.qemu_pid() == qemu);
  CHECK(pod.running());
  CHECK(must(pod.client.call(Command::get_status, 10s)).status->state == "running");
  CHECK(domstate_from_outside(pod, "tests_phoenix") == "running");

  // The console: the shell on ttyS0 answers through the socket (virtctl console's path), and
  // the answer reaches the launcher's stdout (the pod log).
  CHECK(console_answers(pod.console_socket(), "echo SHELL-OK-$((6 * 7))\n", "SHELL-OK-42", 30s));
  CHECK(pod.wait_stdout("SHELL-OK-42", 10s).ok());

  // Lifecycle events flow on the new connection.
  must(pod.client.call(Command::pause, 10s));
  CHECK(wait_event(pod, EventKind::paused).reason == "user");
  CHECK(domstate_from_outside(pod, "tests_phoenix") == "paused");

  // Killed again while paused: the launcher comes back to a paused VM and unpause works.
  kill_libvirtd_and_wait_restart(pod, 2);
  CHECK(pod.qemu_pid() == qemu);
  CHECK(must(pod.client.call(Command::get_status, 10s)).status->state == "paused");
  must(pod.client.call(Command::unpause, 10s));
  CHECK(wait_event(pod, EventKind::resumed).reason == "unpaused");
  CHECK(must(pod.client.call(Command::get_status, 10s)).status->state == "running");

  // A graceful stop ends the VM as before the kills: guest shutdown, exit 0, nothing left.
  proto::Request sd;
  sd.command = Command::shutdown;
  sd.grace_period_seconds = 60;
  must(pod.client.call(sd, 10s));
  CHECK(wait_event(pod, EventKind::shutdown).reason == "shutdown");
  auto exiting = wait_event(pod, EventKind::exiting);
  CHECK(exiting.reason == "guest-shutdown");
  auto code = pod.wait_exit(30s);
  REQUIRE(code.ok());
  CHECK(*code == 0);
  CHECK(ended_within(qemu, 10s));
}

TEST_CASE("libvirtd and QEMU both killed: the VM ends as crashed (exit 2)") {
  LauncherPod pod;
  boot_guest(pod, "both");
  pid_t qemu = pod.qemu_pid();
  pid_t daemon = pod.libvirtd_pid();
  REQUIRE(qemu > 0);
  REQUIRE(daemon > 0);
  // The daemon first: whichever way the race goes (the restarted daemon sees QEMU die, or finds
  // it gone when it re-attaches), the VM has crashed.
  REQUIRE(kill(daemon, SIGKILL) == 0);
  REQUIRE(kill(qemu, SIGKILL) == 0);
  auto exiting = wait_event(pod, EventKind::exiting, 60s);
  CHECK(exiting.reason == "crashed");
  auto code = pod.wait_exit(30s);
  REQUIRE(code.ok());
  CHECK(*code == 2);
}

TEST_CASE("libvirtd that cannot start again: the launcher gives up after its attempts, exit 1") {
  LauncherPod pod;
  boot_guest(pod, "gone");
  pid_t qemu = pod.qemu_pid();
  REQUIRE(qemu > 0);
  // libvirtd refuses to start without its config file.
  std::string conf = pod.root() + "/eph/libvirt/config/libvirt/libvirtd.conf";
  REQUIRE(chmod(conf.c_str(), 0) == 0);
  auto t0 = std::chrono::steady_clock::now();
  REQUIRE(kill(pod.libvirtd_pid(), SIGKILL) == 0);
  auto exiting = wait_event(pod, EventKind::exiting, 120s);
  CHECK(exiting.reason == "failed");
  auto code = pod.wait_exit(30s);
  REQUIRE(code.ok());
  CHECK(*code == 1);
  // Five attempts, 0 + 1 + 2 + 4 + 8 s apart (libvirtd_restart.hpp).
  CHECK(std::chrono::steady_clock::now() - t0 >= 15s);
  std::string log = read_file(pod.stderr_path());
  CHECK(log.find("giving up") != std::string::npos);
  CHECK(ended_within(qemu, 10s));  // nothing the launcher started outlives it
}

// A machine without root, libvirtd or QEMU cannot run these tests: say so and exit 77, which
// meson (and tools/test's closing line) counts as SKIP, instead of passing with nothing checked.
int main(int argc, char* argv[]) {
  if (auto why = missing_prerequisite(); !why.empty()) {
    std::cout << "SKIP: " << why << "\n";
    return 77;
  }
  return Catch::Session().run(argc, argv);
}
