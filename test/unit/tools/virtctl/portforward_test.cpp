// virtctl port-forward, ssh and scp (tools/virtctl/portforward.hpp): upstream's argument forms
// and errors, the ssh/scp command lines, and forwarding over a fake stream (stdio, TCP, UDP).
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <sstream>
#include <thread>

#include "tools/virtctl/args.hpp"
#include "tools/virtctl/portforward.hpp"
#include "tools/virtctl/stream.hpp"

using namespace kv::virtctl;
using kv::core::Result;

namespace {

// A stream whose far end answers every message with "echo:" + message; "bye" makes it close.
class EchoStream final : public kv::core::kube::MessageStream {
 public:
  Result<std::optional<std::string>> read() override {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !inbox_.empty() || closed_; });
    if (inbox_.empty())
      return std::optional<std::string>();
    std::string m = std::move(inbox_.front());
    inbox_.pop_front();
    return std::optional<std::string>(std::move(m));
  }
  kv::core::Status write(std::string_view bytes) override {
    std::lock_guard lock(mu_);
    if (closed_)
      return kv::core::Error(kv::core::Errc::unavailable, "closed");
    inbox_.push_back("echo:" + std::string(bytes));
    if (bytes == "bye")
      closed_ = true;
    cv_.notify_all();
    return {};
  }
  kv::core::Status close(uint16_t, std::string_view) override {
    std::lock_guard lock(mu_);
    closed_ = true;
    cv_.notify_all();
    return {};
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> inbox_;
  bool closed_ = false;
};

struct Dials {
  std::mutex mu;
  std::vector<std::string> paths;
  Dialer dialer() {
    return
        [this](const std::string& path) -> Result<std::unique_ptr<kv::core::kube::MessageStream>> {
          std::lock_guard lock(mu);
          paths.push_back(path);
          return std::unique_ptr<kv::core::kube::MessageStream>(std::make_unique<EchoStream>());
        };
  }
  std::vector<std::string> seen() {
    std::lock_guard lock(mu);
    return paths;
  }
};

std::string error_of(const Result<RemoteTarget>& r) {
  return r.ok() ? "" : r.error().message;
}

Invocation parse_ok(const std::vector<std::string>& args) {
  auto inv = parse_args(args);
  INFO((inv.ok() ? "" : inv.error().message));
  REQUIRE(inv.ok());
  return *inv;
}

std::string read_some(int fd) {
  char buf[4096];
  ssize_t n = ::read(fd, buf, sizeof buf);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

}  // namespace

TEST_CASE("targets: TYPE/NAME[/NAMESPACE], as upstream") {
  CHECK(*parse_target("vm/testvm") == RemoteTarget{"vm", "", "testvm", ""});
  CHECK(*parse_target("VirtualMachineInstances/a.b/ns1") == RemoteTarget{"vmi", "ns1", "a.b", ""});
  CHECK(*parse_target("vms/x") == RemoteTarget{"vm", "", "x", ""});
  CHECK(error_of(parse_target("")) == "target cannot be empty");
  CHECK(error_of(parse_target("testvm")) == "target must contain type and name separated by '/'");
  CHECK(error_of(parse_target("vm/x/")) == "namespace cannot be empty");
  CHECK(error_of(parse_target("vm/x/ns/y")) == "target is not valid with more than two '/'");
  CHECK(error_of(parse_target("pod/x")) == "unsupported resource type 'pod'");
  CHECK(error_of(parse_target("vm/")) == "name cannot be empty");

  CHECK(*parse_ssh_target("jdoe@vmi/testvmi") == RemoteTarget{"vmi", "", "testvmi", "jdoe"});
  CHECK(*parse_ssh_target("vm/testvm/mynamespace") ==
        RemoteTarget{"vm", "mynamespace", "testvm", ""});
  CHECK(error_of(parse_ssh_target("@vm/x")) == "expected username before '@'");
  CHECK(error_of(parse_ssh_target("root@")) == "expected target after '@'");
}

TEST_CASE("ports: [PROTOCOL/]LOCAL[:REMOTE], as upstream") {
  CHECK(*parse_port("8080") == ForwardedPort{8080, 8080, "tcp"});
  CHECK(*parse_port("8080:80") == ForwardedPort{8080, 80, "tcp"});
  CHECK(*parse_port("udp/5353:53") == ForwardedPort{5353, 53, "udp"});
  CHECK(*parse_port("0:22") == ForwardedPort{0, 22, "tcp"});
  CHECK(parse_port("x").error().message == "strconv.Atoi: parsing \"x\": invalid syntax");
  CHECK(parse_port("80:y").error().message == "strconv.Atoi: parsing \"y\": invalid syntax");
  CHECK(parse_port(":").error().message == "invalid port, missing local and/or remote port");
  CHECK(parse_port("sctp/80").error().message == "unknown protocol: sctp");
  CHECK(parse_port("80:0").error().message == "remote port 0 is not allowed: 1-65535");
  CHECK(parse_port("70000:22").error().message ==
        "local port 70000 is not allowed: 0-65535 (0: any free port)");
}

TEST_CASE("scp: exactly one side is remote, as upstream") {
  auto to = parse_scp_args("file.bin", "jdoe@vmi/testvmi:dir/file.bin");
  REQUIRE(to.ok());
  CHECK(to->to_remote);
  CHECK(to->remote == RemoteTarget{"vmi", "", "testvmi", "jdoe"});
  CHECK(to->remote_path == "dir/file.bin");
  CHECK(to->local_path == "file.bin");
  auto from = parse_scp_args("vm/testvm/ns:/etc/hostname", "out");
  REQUIRE(from.ok());
  CHECK_FALSE(from->to_remote);
  CHECK(from->remote == RemoteTarget{"vm", "ns", "testvm", ""});
  CHECK(from->remote_path == "/etc/hostname");
  CHECK(parse_scp_args("a", "b").error().message ==
        "none of the two provided locations seems to be a remote location: \"a\" to \"b\"");
  CHECK(parse_scp_args("vm/a:x", "vm/b:y").error().message ==
        "copying from a remote location to another remote location is not supported: "
        "\"vm/a:x\" to \"vm/b:y\"");
  CHECK(parse_scp_args("pod/a:x", "y").error().message == "unsupported resource type 'pod'");
}

TEST_CASE("the command lines of port-forward, ssh and scp") {
  auto pf = parse_ok({"port-forward", "--address", "0.0.0.0", "vm/web/ns1", "8080:80", "udp/53"});
  CHECK(pf.command == Command::port_forward);
  CHECK(pf.remote.target == RemoteTarget{"vm", "ns1", "web", ""});
  CHECK(pf.remote.address == "0.0.0.0");
  REQUIRE(pf.remote.ports.size() == 2);
  CHECK(pf.remote.ports[1] == ForwardedPort{53, 53, "udp"});
  CHECK(parse_ok({"port-forward", "--stdio=true", "vmi/x", "22"}).remote.stdio);
  auto two = parse_args({"port-forward", "--stdio", "vmi/x", "22", "23"});
  REQUIRE_FALSE(two.ok());
  CHECK(two.error().message == "only one port supported when forwarding to stdout");
  CHECK_FALSE(parse_args({"port-forward", "vmi/x"}).ok());
  CHECK(parse_args({"port-forward", "x", "22"}).error().message ==
        "target must contain type and name separated by '/'");

  auto ssh = parse_ok({"ssh", "root@vm/web", "-i", "/k", "-c", "cat /etc/hostname", "-p", "2222",
                       "--local-ssh-opts", "-o StrictHostKeyChecking=no", "-t", "-v"});
  CHECK(ssh.command == Command::ssh);
  CHECK(ssh.remote.username == "root");
  CHECK(ssh.remote.identity_file == "/k");
  CHECK(ssh.remote.command == "cat /etc/hostname");
  CHECK(ssh.remote.ssh_port == 2222);
  LocalClient self{"/bin/virtctl", "/kc", ""};
  CHECK(ssh_command("default", ssh.remote, self) ==
        std::vector<std::string>{
            "ssh", "-o",
            "ProxyCommand=/bin/virtctl --kubeconfig /kc port-forward --stdio=true "
            "vm/web/default 2222",
            "-o", "StrictHostKeyChecking=no", "-v", "-i", "/k", "root@vm.web.default",
            "cat /etc/hostname"});
  auto user = parse_ok({"ssh", "-l", "jdoe", "vmi/x", "--known-hosts", "/kh"});
  CHECK(user.remote.username == "jdoe");
  CHECK(ssh_command("ns", user.remote, {"/opt/my virtctl", "", "c1"}) ==
        std::vector<std::string>{"ssh", "-o",
                                 "ProxyCommand='/opt/my virtctl' --context c1 port-forward "
                                 "--stdio=true vmi/x/ns 22",
                                 "-o", "UserKnownHostsFile=/kh", "jdoe@vmi.x.ns"});

  auto scp = parse_ok({"scp", "-r", "dir", "root@vm/web:/data/dir", "-i", "/k"});
  CHECK(scp.command == Command::scp);
  CHECK(scp_command("default", scp.remote, {"virtctl", "", ""}) ==
        std::vector<std::string>{"scp", "-o",
                                 "ProxyCommand=virtctl port-forward --stdio=true vm/web/default 22",
                                 "-i", "/k", "-r", "dir", "root@vm.web.default:/data/dir"});
  auto back = parse_ok({"scp", "--preserve", "root@vmi/x/ns2:/etc/hostname", "out"});
  CHECK(scp_command("default", back.remote, {"virtctl", "", ""}).back() == "out");
  CHECK(scp_command("default", back.remote, {"virtctl", "", ""}).rbegin()[1] ==
        "root@vmi.x.ns2:/etc/hostname");
  CHECK(port_forward_path("ns", RemoteTarget{"vm", "", "web", ""}, 22, "tcp") ==
        "/apis/subresources.kubevirt.io/v1/namespaces/ns/virtualmachines/web/portforward/22/tcp");
}

TEST_CASE("port-forward --stdio copies stdin and stdout over one stream") {
  int in[2], out[2];
  REQUIRE(::pipe(in) == 0);
  REQUIRE(::pipe(out) == 0);
  Dials dials;
  SignalPipe signals;
  RemoteOptions o;
  o.target = RemoteTarget{"vmi", "", "x", ""};
  o.stdio = true;
  o.ports = {ForwardedPort{22, 22, "tcp"}};
  std::ostringstream err;
  auto done = std::async(std::launch::async, [&] {
    return run_port_forward(dials.dialer(), "ns", o, signals, {in[0], out[1], {}}, err);
  });
  REQUIRE(::write(in[1], "bye", 3) == 3);  // the echo side answers and closes
  CHECK(read_some(out[0]) == "echo:bye");
  CHECK(done.get() == 0);
  CHECK(dials.seen() == std::vector<std::string>{"/apis/subresources.kubevirt.io/v1/namespaces/ns/"
                                                 "virtualmachineinstances/x/portforward/22/tcp"});
  for (int fd : {in[0], in[1], out[0], out[1]})
    ::close(fd);
}

TEST_CASE("port-forward listens and forwards each TCP connection and UDP client") {
  Dials dials;
  SignalPipe signals;
  RemoteOptions o;
  o.target = RemoteTarget{"vm", "", "web", ""};
  o.ports = {ForwardedPort{0, 80, "tcp"}, ForwardedPort{0, 53, "udp"}};
  std::ostringstream err;
  std::promise<void> ready;
  std::vector<ForwardedPort> bound;
  PortForwardIo io;
  io.on_listening = [&](const ForwardedPort& p) {
    bound.push_back(p);
    if (bound.size() == 2)
      ready.set_value();
  };
  auto done = std::async(std::launch::async, [&] {
    return run_port_forward(dials.dialer(), "ns", o, signals, io, err);
  });
  ready.get_future().wait();
  REQUIRE(bound.size() == 2);
  CHECK(bound[0].remote == 80);
  CHECK(bound[0].local > 0);

  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(bound[0].local));
  for (int i = 0; i < 2; ++i) {  // a stream per connection
    int c = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(::connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::write(c, "hello", 5) == 5);
    CHECK(read_some(c) == "echo:hello");
    ::close(c);
  }
  int u = ::socket(AF_INET, SOCK_DGRAM, 0);
  a.sin_port = htons(static_cast<uint16_t>(bound[1].local));
  REQUIRE(::connect(u, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  timeval tv{10, 0};
  ::setsockopt(u, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  REQUIRE(::send(u, "q1", 2, 0) == 2);
  CHECK(read_some(u) == "echo:q1");
  REQUIRE(::send(u, "q2", 2, 0) == 2);  // the same client: the same stream
  CHECK(read_some(u) == "echo:q2");
  ::close(u);

  signals.raise();
  CHECK(done.get() == 0);
  auto paths = dials.seen();
  CHECK(paths.size() == 3);
  CHECK(std::count(paths.begin(), paths.end(),
                   "/apis/subresources.kubevirt.io/v1/namespaces/ns/virtualmachines/web/"
                   "portforward/53/udp") == 1);
  CHECK(err.str().find("forwarding tcp 127.0.0.1:" + std::to_string(bound[0].local) + " to 80") !=
        std::string::npos);
}
