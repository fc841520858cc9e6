// passt's command line, its port forwarding and its lifetime (a stand-in binary: no network).
#include "launcher/passt.hpp"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <mutex>

#include "launcher/domain/domain.hpp"

using namespace kv::launcher;
namespace v1 = kv::api::v1;
namespace fs = std::filesystem;

namespace {

NetworkPlan masquerade_plan() {
  v1::VirtualMachineInstance vmi;
  vmi.metadata.name = "vm";
  vmi.metadata.namespace_ = "ns";
  auto net = plan_network(vmi);  // the default pod NIC: masquerade
  REQUIRE(net.ok());
  REQUIRE(*net);
  return **net;
}

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v)
    out += (out.empty() ? "" : " ") + s;
  return out;
}

struct TempDir {
  std::string path;
  TempDir() {
    char t[] = "/tmp/passt-test-XXXXXX";
    path = mkdtemp(t);
  }
  ~TempDir() { fs::remove_all(path); }
};

// A shell script that stands in for passt: makes the socket, then behaves as told.
std::string fake_passt(const std::string& dir, const std::string& after_socket) {
  std::string path = dir + "/fake-passt";
  std::ofstream f(path);
  // The socket path follows --socket; python3 makes a real unix socket.
  f << "#!/bin/sh\n"
       "while [ $# -gt 0 ]; do [ \"$1\" = --socket ] && sock=$2; shift; done\n"
       "echo 'Failed to send 47 bytes to syslog'\n"
       "echo \"UNIX domain socket bound at $sock\"\n"
       "python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "
       "\"$sock\"\n"
    << after_socket << "\n";
  f.close();
  fs::permissions(path, fs::perms::owner_all);
  return path;
}

}  // namespace

TEST_CASE("masquerade: passt hands out upstream's addresses, IPv4 only, every port") {
  auto n = masquerade_plan();
  CHECK(n.binding == "masquerade");
  PasstLimits roomy;  // a node's usual limit (containerd: LimitNOFILE=infinity)
  auto ports = passt_ports(n, roomy);
  CHECK(ports.tcp == "all");
  CHECK(ports.udp == "all");
  CHECK(ports.narrowed_to == 0);
  CHECK(joined(passt_args(n, "/eph/passt.sock", ports)) ==
        "--foreground --stderr --socket /eph/passt.sock --ipv4-only --address 10.0.2.2 --netmask "
        "24 --gateway 10.0.2.1 --tcp-ports all --udp-ports all");
}

TEST_CASE("pod.vmNetworkCIDR moves the masquerade addresses passt hands out") {
  v1::VirtualMachineInstance vmi;
  v1::Interface i;
  i.name = "default";
  i.masquerade = v1::InterfaceMasquerade{};
  vmi.spec.domain.devices.interfaces.push_back(i);
  v1::Network net;
  net.name = "default";
  net.pod = v1::PodNetwork{};
  net.pod->vm_network_cidr = "192.168.7.0/28";
  vmi.spec.networks.push_back(net);
  auto n = plan_network(vmi);
  REQUIRE(n.ok());
  auto args = joined(passt_args(**n, "/s", passt_ports(**n, {})));
  CHECK(args.find("--address 192.168.7.2 --netmask 28 --gateway 192.168.7.1") != std::string::npos);
}

TEST_CASE("binding passt: the guest gets the pod's own addresses (no -a/-n/-g), IPv6 too") {
  v1::VirtualMachineInstance vmi;
  v1::Interface i;
  i.name = "default";
  i.passt = v1::InterfacePasst{};
  vmi.spec.domain.devices.interfaces.push_back(i);
  v1::Network net;
  net.name = "default";
  net.pod = v1::PodNetwork{};
  vmi.spec.networks.push_back(net);
  auto n = plan_network(vmi);
  REQUIRE(n.ok());
  REQUIRE(*n);
  CHECK((*n)->binding == "passt");
  CHECK((*n)->guest_ip.empty());  // the launcher fills in the pod IP
  CHECK(joined(passt_args(**n, "/s", passt_ports(**n, {}))) ==
        "--foreground --stderr --socket /s --tcp-ports all --udp-ports all");
}

TEST_CASE("listed ports are forwarded alone, TCP and UDP apart") {
  auto n = masquerade_plan();
  n.ports = {{"tcp", 8080}, {"udp", 5353}, {"tcp", 22}};
  auto p = passt_ports(n, {});
  CHECK(p.tcp == "8080,22");
  CHECK(p.udp == "5353");
  n.ports = {{"tcp", 80}};
  p = passt_ports(n, {});
  CHECK(p.tcp == "80");
  CHECK(p.udp == "none");  // else passt would forward UDP 80 too
}

TEST_CASE("an open-file limit too small for every port narrows the range, from port 1 up") {
  auto n = masquerade_plan();
  PasstLimits l;
  // "all" binds 65535 - 28232 = 37303 ports per protocol here: 74606 sockets + the reserve.
  l.open_files = 2 * 37303 + kPasstReservedFiles;
  CHECK(passt_ports(n, l).tcp == "all");
  l.open_files -= 1;
  auto p = passt_ports(n, l);
  CHECK(p.narrowed_to == 32767);  // below the ephemeral range
  CHECK(p.tcp == "1-" + std::to_string(p.narrowed_to));
  CHECK(p.udp == p.tcp);
  l.open_files = 20000;  // this project's test machine
  CHECK(passt_ports(n, l).tcp == "1-8976");
  l.address_families = 2;
  CHECK(passt_ports(n, l).tcp == "1-4488");
  // Never into the ephemeral range: those ports carry the guest's own connections.
  l = PasstLimits{};
  l.open_files = 70000;
  l.ephemeral_first = 10000;
  l.ephemeral_last = 60999;
  CHECK(passt_ports(n, l).tcp == "all");
  l.ephemeral_first = 30000;
  l.ephemeral_last = 65535;
  l.open_files = 62000;  // "all" (1-29999) would need 62046
  CHECK(passt_ports(n, l).tcp == "1-29976");
}

TEST_CASE("QEMU attaches the NIC to passt's socket over a stream netdev") {
  auto n = masquerade_plan();
  PodEnvironment env;
  env.ephemeral_dir = "/var/run/kubevirt-private";
  auto a = domain::qemu_network_args(n, env, "q35");
  REQUIRE(a.size() == 4);
  CHECK(
      a[1] ==
      "stream,id=kvnet0,server=off,addr.type=unix,addr.path=/var/run/kubevirt-private/passt.sock");
  CHECK(a[3] ==
        "virtio-net-pci,netdev=kvnet0,mac=" + n.mac + ",id=ua-default,bus=pcie.0,addr=0x10");
}

TEST_CASE("passt starts, is stopped without a report, and its death is reported with its log") {
  TempDir d;
  PasstOptions o;
  o.socket = d.path + "/passt.sock";
  o.log_file = d.path + "/passt.log";
  o.args = {"--socket", o.socket};

  SECTION("stopped by its owner: no report") {
    o.binary = fake_passt(d.path, "exec sleep 60");
    int reports = 0;
    auto p = Passt::start(o, [&](const std::string&) { ++reports; });
    REQUIRE(p.ok());
    pid_t pid = (*p)->pid();
    CHECK(::kill(pid, 0) == 0);
    (*p)->stop();
    CHECK(reports == 0);
    CHECK(::kill(pid, 0) != 0);
  }
  SECTION("dies on its own: the owner hears why, without syslog noise") {
    // It dies when the test says so, after start() returned: through a FIFO.
    std::string go = d.path + "/go";
    REQUIRE(mkfifo(go.c_str(), 0600) == 0);
    o.binary = fake_passt(d.path, "read x < " + go + "; echo 'tcp: out of cheese' >&2; exit 3");
    std::mutex mu;
    std::string why;
    auto p = Passt::start(o, [&](const std::string& w) {
      std::lock_guard l(mu);
      why = w;
    });
    REQUIRE(p.ok());
    { std::ofstream(go) << "now\n"; }
    for (int i = 0; i < 500; ++i) {
      {
        std::lock_guard l(mu);
        if (!why.empty())
          break;
      }
      usleep(10000);
    }
    std::lock_guard l(mu);
    CHECK_THAT(why, Catch::StartsWith("passt exited with 3"));
    CHECK_THAT(why, Catch::Contains("tcp: out of cheese"));
    CHECK_THAT(why, !Catch::Contains("syslog"));
  }
  SECTION("exits before its socket appears: start fails with its log") {
    o.binary = d.path + "/early";
    {
      std::ofstream f(o.binary);
      f << "#!/bin/sh\necho 'Couldn'\"'\"'t create user namespace: Operation not permitted' "
           ">&2\nexit 1\n";
    }
    fs::permissions(o.binary, fs::perms::owner_all);
    auto p = Passt::start(o, nullptr);
    REQUIRE_FALSE(p.ok());
    CHECK_THAT(p.error().message, Catch::StartsWith("passt exited with 1 before its socket"));
    CHECK_THAT(p.error().message, Catch::Contains("Couldn't create user namespace"));
  }
}
