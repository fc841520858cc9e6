#include "tools/virtctl/portforward.hpp"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <ostream>
#include <thread>

#include "tools/virtctl/commands.hpp"
#include "tools/virtctl/stream.hpp"

namespace kv::virtctl {

using core::Errc;
using core::Error;
using core::Result;

namespace {

std::string lower(std::string_view s) {
  std::string r(s);
  for (auto& c : r)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return r;
}

// Go's strconv.Atoi, with its error wording.
Result<int> atoi_go(std::string_view s) {
  int n = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size())
    return Error(Errc::invalid, "strconv.Atoi: parsing \"" + std::string(s) + "\": " +
                                    (ec == std::errc::result_out_of_range ? "value out of range"
                                                                          : "invalid syntax"));
  return n;
}

}  // namespace

Result<RemoteTarget> parse_target(std::string_view arg) {
  if (arg.empty())
    return Error(Errc::invalid, "target cannot be empty");
  std::vector<std::string_view> parts;
  for (size_t start = 0;;) {
    auto slash = arg.find('/', start);
    parts.push_back(arg.substr(start, slash == std::string_view::npos ? slash : slash - start));
    if (slash == std::string_view::npos)
      break;
    start = slash + 1;
  }
  RemoteTarget t;
  switch (parts.size()) {
    case 1:
      return Error(Errc::invalid, "target must contain type and name separated by '/'");
    case 2:
      break;
    case 3:
      if (parts[2].empty())
        return Error(Errc::invalid, "namespace cannot be empty");
      t.ns = std::string(parts[2]);
      break;
    default:
      return Error(Errc::invalid, "target is not valid with more than two '/'");
  }
  const std::string kind = lower(parts[0]);
  if (kind == "vm" || kind == "vms" || kind == "virtualmachine" || kind == "virtualmachines")
    t.kind = "vm";
  else if (kind == "vmi" || kind == "vmis" || kind == "virtualmachineinstance" ||
           kind == "virtualmachineinstances")
    t.kind = "vmi";
  else
    return Error(Errc::invalid, "unsupported resource type '" + std::string(parts[0]) + "'");
  if (parts[1].empty())
    return Error(Errc::invalid, "name cannot be empty");
  t.name = std::string(parts[1]);
  return t;
}

Result<RemoteTarget> parse_ssh_target(std::string_view arg) {
  std::string user;
  if (auto at = arg.find('@'); at != std::string_view::npos) {
    user = std::string(arg.substr(0, at));
    if (user.empty())
      return Error(Errc::invalid, "expected username before '@'");
    arg = arg.substr(at + 1);
    // upstream splits at every '@' and keeps the second part
    arg = arg.substr(0, arg.find('@'));
    if (arg.empty())
      return Error(Errc::invalid, "expected target after '@'");
  }
  auto t = parse_target(arg);
  if (!t.ok())
    return t;
  t->user = std::move(user);
  return t;
}

Result<ForwardedPort> parse_port(std::string_view arg) {
  ForwardedPort p;
  if (auto slash = arg.find('/'); slash != std::string_view::npos) {
    p.protocol = std::string(arg.substr(0, slash));
    arg = arg.substr(slash + 1);
    arg = arg.substr(0, arg.find('/'));
  }
  if (p.protocol != "tcp" && p.protocol != "udp")
    return Error(Errc::invalid, "unknown protocol: " + p.protocol);
  // strings.FieldsFunc(arg, ':'): empty fields are dropped
  std::vector<std::string_view> fields;
  for (size_t start = 0; start <= arg.size();) {
    auto colon = arg.find(':', start);
    auto f = arg.substr(start, colon == std::string_view::npos ? colon : colon - start);
    if (!f.empty())
      fields.push_back(f);
    if (colon == std::string_view::npos)
      break;
    start = colon + 1;
  }
  if (fields.empty())
    return Error(Errc::invalid, "invalid port, missing local and/or remote port");
  auto local = atoi_go(fields[0]);
  if (!local.ok())
    return local.error();
  p.local = p.remote = *local;
  if (fields.size() > 1) {
    auto remote = atoi_go(fields[1]);
    if (!remote.ok())
      return remote.error();
    p.remote = *remote;
  }
  if (p.local < 0 || p.local > 65535)
    return Error(Errc::invalid, "local port " + std::to_string(p.local) +
                                    " is not allowed: 0-65535 (0: any free port)");
  if (p.remote < 1 || p.remote > 65535)
    return Error(Errc::invalid,
                 "remote port " + std::to_string(p.remote) + " is not allowed: 1-65535");
  return p;
}

void add_remote_commands(core::Flags& flags, RemoteOptions* o) {
  auto& pf = flags.command(
      "port-forward", "Forward local ports to a virtualmachine or virtualmachineinstance.",
      "Forward local ports to a virtualmachine or virtualmachineinstance.\n\n"
      "The target argument supports the syntax type/name[/namespace]; type is vm or vmi (also "
      "vms, virtualmachine(s), vmis, virtualmachineinstance(s)). The port argument supports the "
      "syntax protocol/localPort:targetPort with protocol/ (tcp, the default, or udp) and "
      ":targetPort optional. Port forwards go over the Kubernetes API server as WebSocket "
      "streams; the /portforward subresource's RBAC governs who may use them.\n\n"
      "Examples:\n"
      "  virtctl port-forward vmi/testvmi 8080:80\n"
      "  virtctl port-forward vm/testvm/mynamespace udp/5353:53\n"
      "  ssh -o 'ProxyCommand=virtctl port-forward --stdio=true vm/testvm 22' user@testvm");
  pf.argument({.name = "TYPE/NAME[/NAMESPACE]", .help = "the vm or vmi"});
  pf.arguments({.name = "[PROTOCOL/]LOCAL[:REMOTE]...", .help = "the ports to forward"});
  pf.boolean({.name = "--stdio",
              .help = "forward one connection over stdin/stdout (one port only), e.g. as ssh's "
                      "ProxyCommand"},
             &o->stdio);
  pf.value({.name = "--address",
            .value = "ADDR",
            .help = "the local address to listen on",
            .shown_default = o->address},
           [o](const std::string& v) -> core::Status {
             if (v.empty())
               return Error(Errc::invalid, "--address: must not be empty; e.g. 127.0.0.1");
             o->address = v;
             return {};
           });

  auto ssh_flags = [o](core::Flags& c) {
    c.text({.name = "--username",
            .short_name = "-l",
            .value = "USER",
            .help = "the user to log in as (a USER@ in the target wins)",
            .shown_default = "$USER"},
           &o->username);
    c.text({.name = "--identity-file",
            .short_name = "-i",
            .value = "FILE",
            .help = "the private key to authenticate with; else ssh's defaults and agent"},
           &o->identity_file);
    c.text({.name = "--known-hosts",
            .value = "FILE",
            .help = "the known_hosts file (ssh -o UserKnownHostsFile=FILE); else ssh's own"},
           &o->known_hosts);
    c.integer({.name = "--port",
               .short_name = "-p",
               .value = "PORT",
               .help = "the guest's ssh port",
               .shown_default = "22",
               .allowed = "a TCP port"},
              &o->ssh_port, 1, 65535);
    c.value({.name = "--local-ssh-opts",
             .short_name = "-t",
             .value = "OPT",
             .help = "an option for the local ssh/scp, e.g. \"-o StrictHostKeyChecking=no\" "
                     "(repeatable)"},
            [o](const std::string& v) -> core::Status {
              o->local_ssh_opts.push_back(v);
              return {};
            });
  };
  auto& ssh = flags.command(
      "ssh", "Open a SSH connection to a virtual machine instance.",
      "Open a SSH connection to a virtual machine instance, with the local OpenSSH client (ssh) "
      "and `virtctl port-forward --stdio` as its ProxyCommand.\n\n"
      "Examples:\n"
      "  virtctl ssh jdoe@vmi/testvmi -i ~/.ssh/id_ed25519\n"
      "  virtctl ssh jdoe@vm/testvm/mynamespace -c 'cat /etc/hostname'\n"
      "  virtctl ssh --namespace=mynamespace --username=jdoe vmi/testvmi");
  ssh.argument({.name = "[USER@]TYPE/NAME[/NAMESPACE]", .help = "the vm or vmi to log in to"});
  ssh_flags(ssh);
  ssh.text({.name = "--command",
            .short_name = "-c",
            .value = "COMMAND",
            .help = "a command to run in the VM instead of a login shell"},
           &o->command);

  auto& scp = flags.command(
      "scp", "SCP files from/to a virtual machine instance.",
      "SCP files from/to a virtual machine instance, with the local OpenSSH client (scp) and "
      "`virtctl port-forward --stdio` as its ProxyCommand. One of SRC and DST is remote: "
      "[USER@]TYPE/NAME[/NAMESPACE]:PATH.\n\n"
      "Examples:\n"
      "  virtctl scp myfile.bin jdoe@vmi/testvmi:myfile.bin\n"
      "  virtctl scp --recursive ~/mydir/ jdoe@vm/testvm/mynamespace:./mydir\n"
      "  virtctl scp jdoe@vmi/testvmi:myfile.bin ~/myfile.bin");
  scp.argument({.name = "SRC", .help = "the file to copy"});
  scp.argument({.name = "DST", .help = "where to copy it"});
  ssh_flags(scp);
  scp.boolean({.name = "--recursive", .short_name = "-r", .help = "copy directories recursively"},
              &o->recursive);
  scp.boolean({.name = "--preserve", .help = "preserve modification times, access times and modes"},
              &o->preserve);
}

core::Status finish_remote_args(const std::string& command, const std::vector<std::string>& args,
                                RemoteOptions* o) {
  if (command == "port-forward") {
    if (args.size() < 2)
      return Error(Errc::invalid,
                   "port-forward: needs a target and at least one port: TYPE/NAME[/NAMESPACE] "
                   "[PROTOCOL/]LOCAL[:REMOTE]...");
    auto t = parse_target(args[0]);
    if (!t.ok())
      return t.error();
    o->target = std::move(*t);
    for (size_t i = 1; i < args.size(); ++i) {
      auto p = parse_port(args[i]);
      if (!p.ok())
        return p.error();
      o->ports.push_back(*p);
    }
    if (o->stdio && o->ports.size() != 1)
      return Error(Errc::invalid, "only one port supported when forwarding to stdout");
    return {};
  }
  if (o->username.empty())
    for (const char* env : {"USER", "USERNAME", "LOGNAME"})
      if (const char* v = std::getenv(env); v && *v) {
        o->username = v;
        break;
      }
  if (command == "ssh") {
    auto t = parse_ssh_target(args.at(0));
    if (!t.ok())
      return t.error();
    o->target = std::move(*t);
    if (!o->target.user.empty())
      o->username = o->target.user;
    return {};
  }
  auto s = parse_scp_args(args.at(0), args.at(1));
  if (!s.ok())
    return s.error();
  o->scp = std::move(*s);
  o->target = o->scp.remote;
  if (!o->target.user.empty())
    o->username = o->target.user;
  return {};
}

std::string port_forward_path(const std::string& ns, const RemoteTarget& t, int port,
                              const std::string& protocol) {
  return std::string(kSubresourcesPrefix) + "/namespaces/" + ns + "/" +
         (t.kind == "vm" ? "virtualmachines" : "virtualmachineinstances") + "/" + t.name +
         "/portforward/" + std::to_string(port) + "/" + protocol;
}

// --- running ---

namespace {

struct Fd {
  int fd = -1;
  explicit Fd(int f = -1) : fd(f) {}
  Fd(Fd&& o) noexcept : fd(std::exchange(o.fd, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (fd >= 0)
      ::close(fd);
    fd = std::exchange(o.fd, -1);
    return *this;
  }
  ~Fd() {
    if (fd >= 0)
      ::close(fd);
  }
};

Result<Fd> bind_local(const std::string& address, const ForwardedPort& p) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  const bool udp = p.protocol == "udp";
  hints.ai_socktype = udp ? SOCK_DGRAM : SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
  addrinfo* res = nullptr;
  const std::string port_s = std::to_string(p.local);
  if (int rc = ::getaddrinfo(address.c_str(), port_s.c_str(), &hints, &res); rc != 0)
    return Error(Errc::invalid,
                 "--address: \"" + address +
                     "\" is not an IP address (e.g. 127.0.0.1 or ::1): " + gai_strerror(rc));
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> hold(res, ::freeaddrinfo);
  Fd fd(::socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, 0));
  if (fd.fd < 0)
    return core::errno_error("socket", errno);
  int one = 1;
  ::setsockopt(fd.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd.fd, res->ai_addr, res->ai_addrlen) != 0 || (!udp && ::listen(fd.fd, 16) != 0))
    return core::errno_error("listen " + p.protocol + " " + address + ":" + port_s, errno);
  return fd;
}

// One UDP client of a local port: its address and the stream its datagrams go over.
struct UdpClient {
  sockaddr_storage addr{};
  socklen_t len = 0;
  std::shared_ptr<core::kube::MessageStream> stream;
  std::thread reader;  // stream -> the client, one message per datagram
  std::atomic<bool> done{false};
};

std::string key_of(const sockaddr_storage& a, socklen_t len) {
  return std::string(reinterpret_cast<const char*>(&a), len);
}

}  // namespace

int run_port_forward(const Dialer& dial, const std::string& ns, const RemoteOptions& opts,
                     const SignalPipe& signals, const PortForwardIo& io, std::ostream& err) {
  const RemoteTarget& t = opts.target;
  const std::string what = (t.kind == "vm" ? "vm/" : "vmi/") + t.name + "." + ns;
  if (opts.stdio) {
    const auto& p = opts.ports.at(0);
    auto s = dial(port_forward_path(ns, t, p.remote, p.protocol));
    if (!s.ok()) {
      err << "can't access " << what << ": " << s.error().message << "\n";
      return 1;
    }
    auto r = pump(**s, PumpIo{io.in_fd, io.out_fd, signals.fd(), /*escape=*/false,
                              /*close_on_eof=*/false});
    if (!r.ok()) {
      err << "port-forward to " << what << ":" << p.remote << " ended: " << r.error().message
          << "\n";
      return 1;
    }
    return 0;
  }

  struct Listener {
    ForwardedPort port;
    Fd fd;
    std::map<std::string, std::unique_ptr<UdpClient>> clients;  // UDP only
  };
  std::vector<Listener> listeners;
  for (const auto& p : opts.ports) {
    auto fd = bind_local(opts.address, p);
    if (!fd.ok()) {
      err << fd.error().message << "\n";
      return 1;
    }
    ForwardedPort bound = p;
    bound.local = bound_port(fd->fd);
    err << "forwarding " << p.protocol << " " << opts.address << ":" << bound.local << " to "
        << p.remote << "\n";
    if (io.on_listening)
      io.on_listening(bound);
    listeners.push_back({bound, std::move(*fd), {}});
  }
  err.flush();

  std::mutex mu;  // err, and the UDP reply sockets
  struct Connection {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done = std::make_shared<std::atomic<bool>>(false);
  };
  std::list<Connection> connections;
  auto stop = [&] {
    for (auto& c : connections)
      c.thread.join();
    for (auto& l : listeners)
      for (auto& [_, c] : l.clients) {
        [[maybe_unused]] auto closed = c->stream->close(1000);
        c->reader.join();
      }
  };
  std::vector<char> datagram(65536);
  for (;;) {
    std::vector<pollfd> fds;
    fds.push_back({signals.fd(), POLLIN, 0});
    for (auto& l : listeners)
      fds.push_back({l.fd.fd, POLLIN, 0});
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR)
        continue;
      err << "poll: " << std::strerror(errno) << "\n";
      stop();
      return 1;
    }
    if (fds[0].revents) {
      stop();
      return 0;
    }
    connections.remove_if([](Connection& c) {
      if (!*c.done)
        return false;
      c.thread.join();
      return true;
    });
    for (size_t i = 0; i < listeners.size(); ++i) {
      if (!(fds[i + 1].revents & POLLIN))
        continue;
      auto& l = listeners[i];
      const std::string path = port_forward_path(ns, t, l.port.remote, l.port.protocol);
      if (l.port.protocol == "tcp") {
        Fd conn(::accept4(l.fd.fd, nullptr, nullptr, SOCK_CLOEXEC));
        if (conn.fd < 0)
          continue;  // the client gave up before we took it
        auto& entry = connections.emplace_back();
        entry.thread = std::thread([&dial, &signals, &mu, &err, path, what, port = l.port,
                                    done = entry.done, c = std::make_shared<Fd>(std::move(conn))] {
          struct MarkDone {
            std::atomic<bool>& d;
            ~MarkDone() { d = true; }
          } mark{*done};
          auto s = dial(path);
          if (!s.ok()) {
            std::lock_guard lock(mu);
            err << "can't access " << what << ": " << s.error().message << "\n";
            return;
          }
          auto r = pump(**s, PumpIo{c->fd, c->fd, signals.fd(), false, /*close_on_eof=*/true});
          if (!r.ok()) {
            std::lock_guard lock(mu);
            err << "error handling connection for " << port.local << ": " << r.error().message
                << "\n";
          }
        });
        continue;
      }
      sockaddr_storage from{};
      socklen_t len = sizeof from;
      ssize_t n = ::recvfrom(l.fd.fd, datagram.data(), datagram.size(), 0,
                             reinterpret_cast<sockaddr*>(&from), &len);
      if (n < 0)
        continue;
      const std::string key = key_of(from, len);
      auto it = l.clients.find(key);
      if (it != l.clients.end() && it->second->done) {
        it->second->reader.join();
        l.clients.erase(it);
        it = l.clients.end();
      }
      if (it == l.clients.end()) {
        auto s = dial(path);
        if (!s.ok()) {
          std::lock_guard lock(mu);
          err << "can't access " << what << ": " << s.error().message << "\n";
          continue;
        }
        auto c = std::make_unique<UdpClient>();
        c->addr = from;
        c->len = len;
        c->stream = std::shared_ptr<core::kube::MessageStream>(std::move(*s));
        c->reader = std::thread([c = c.get(), fd = l.fd.fd, &mu] {
          for (;;) {
            auto m = c->stream->read();
            if (!m.ok() || !m->has_value())
              break;
            std::lock_guard lock(mu);
            ::sendto(fd, (*m)->data(), (*m)->size(), 0, reinterpret_cast<sockaddr*>(&c->addr),
                     c->len);
          }
          c->done = true;
        });
        it = l.clients.emplace(key, std::move(c)).first;
      }
      [[maybe_unused]] auto sent =
          it->second->stream->write(std::string_view(datagram.data(), static_cast<size_t>(n)));
    }
  }
}

}  // namespace kv::virtctl
