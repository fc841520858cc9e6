#include "tools/virtctl/stream.hpp"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <optional>
#include <ostream>
#include <thread>

#include "addon/resources.hpp"
#include "core/kube/resource.hpp"
#include "tools/virtctl/commands.hpp"

namespace kv::virtctl {

using core::Errc;
using core::Error;
using core::Result;
using Clock = std::chrono::steady_clock;

namespace {

// Owns a file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    reset();
    fd_ = std::exchange(o.fd_, -1);
    return *this;
  }
  ~Fd() { reset(); }
  void reset() {
    if (fd_ >= 0)
      ::close(fd_);
    fd_ = -1;
  }
  int get() const { return fd_; }

 private:
  int fd_ = -1;
};

struct Pipe {
  Fd r, w;
  static Result<Pipe> make() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0)
      return core::errno_error("pipe", errno);
    Pipe p;
    p.r = Fd(fds[0]);
    p.w = Fd(fds[1]);
    return p;
  }
};

void poke(int fd) {
  char b = 1;
  [[maybe_unused]] ssize_t n = ::write(fd, &b, 1);  // a full pipe is already readable
}

// Writes everything, waiting when fd is non-blocking and full.
bool write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        pollfd p{fd, POLLOUT, 0};
        ::poll(&p, 1, -1);
        continue;
      }
      return false;
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

bool readable(const pollfd& p) {
  return p.revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL);
}

int g_signal_write_fd = -1;
void on_signal(int) {
  if (g_signal_write_fd >= 0) {
    int saved = errno;
    poke(g_signal_write_fd);
    errno = saved;
  }
}

constexpr int kCaughtSignals[] = {SIGINT, SIGTERM, SIGHUP};
struct sigaction g_saved_actions[3];
struct sigaction g_saved_pipe_action;

}  // namespace

EscapeScan scan_for_escape(std::string_view chunk) {
  auto pos = chunk.find(kEscapeByte);
  if (pos == std::string_view::npos)
    return {chunk, false};
  return {chunk.substr(0, pos), true};
}

VmiState vmi_state(const core::json::Value& vmi) {
  VmiState s;
  if (const auto* status = core::json::find(vmi, "status"))
    s.phase = std::string(core::json::get_string(*status, "phase").value_or(""));
  if (s.phase == "Running")
    s.readiness = VmiReadiness::running;
  else if (s.phase == "Succeeded" || s.phase == "Failed")
    s.readiness = VmiReadiness::finished;
  return s;
}

// --- SignalPipe ---

SignalPipe::SignalPipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0)
    std::abort();  // out of descriptors at start-up: nothing sensible to do
  read_fd_ = fds[0];
  g_signal_write_fd = fds[1];
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  for (size_t i = 0; i < std::size(kCaughtSignals); ++i)
    ::sigaction(kCaughtSignals[i], &sa, &g_saved_actions[i]);
  // A viewer or a pipe reader going away must end a copy, not the process.
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  ::sigaction(SIGPIPE, &ignore, &g_saved_pipe_action);
}

SignalPipe::~SignalPipe() {
  for (size_t i = 0; i < std::size(kCaughtSignals); ++i)
    ::sigaction(kCaughtSignals[i], &g_saved_actions[i], nullptr);
  ::sigaction(SIGPIPE, &g_saved_pipe_action, nullptr);
  ::close(g_signal_write_fd);
  g_signal_write_fd = -1;
  ::close(read_fd_);
}

bool SignalPipe::wait_for(std::chrono::milliseconds timeout) const {
  pollfd p{read_fd_, POLLIN, 0};
  int n;
  do {
    n = ::poll(&p, 1, static_cast<int>(std::max<long long>(0, timeout.count())));
  } while (n < 0 && errno == EINTR);
  return n > 0;
}

void SignalPipe::raise() const {
  poke(g_signal_write_fd);
}

// --- RawTerminal ---

struct RawTerminal::Saved {
  termios attrs;
};

Result<std::unique_ptr<RawTerminal>> RawTerminal::enter(int fd) {
  std::unique_ptr<RawTerminal> t(new RawTerminal());
  t->saved_ = std::make_unique<Saved>();
  if (::tcgetattr(fd, &t->saved_->attrs) != 0)
    return core::errno_error("Make raw terminal failed: tcgetattr", errno);
  termios raw = t->saved_->attrs;
  ::cfmakeraw(&raw);
  if (::tcsetattr(fd, TCSANOW, &raw) != 0)
    return core::errno_error("Make raw terminal failed: tcsetattr", errno);
  t->fd_ = fd;
  return t;
}

RawTerminal::~RawTerminal() {
  if (fd_ >= 0)
    ::tcsetattr(fd_, TCSANOW, &saved_->attrs);
}

// --- pump ---

Result<PumpEnd> pump(core::kube::MessageStream& stream, const PumpIo& io) {
  auto wake = Pipe::make();
  if (!wake.ok())
    return wake.error();
  std::optional<Error> out_error;
  std::thread out([&] {
    for (;;) {
      auto m = stream.read();
      if (!m.ok()) {
        out_error = m.error();
        break;
      }
      if (!m->has_value())
        break;
      if (!write_all(io.out_fd, **m)) {
        out_error = core::errno_error("writing the output", errno);
        break;
      }
    }
    poke(wake->w.get());
  });

  PumpEnd end = PumpEnd::server_closed;
  std::optional<Error> in_error;
  bool in_open = true;
  char buf[16 * 1024];
  for (;;) {
    pollfd fds[3];
    nfds_t n = 0;
    fds[n++] = {wake->r.get(), POLLIN, 0};
    int stop_at = -1, in_at = -1;
    if (io.stop_fd >= 0) {
      stop_at = static_cast<int>(n);
      fds[n++] = {io.stop_fd, POLLIN, 0};
    }
    if (in_open) {
      in_at = static_cast<int>(n);
      fds[n++] = {io.in_fd, POLLIN, 0};
    }
    if (::poll(fds, n, -1) < 0) {
      if (errno == EINTR)
        continue;
      in_error = core::errno_error("poll", errno);
      break;
    }
    if (readable(fds[0])) {
      end = PumpEnd::server_closed;
      break;
    }
    if (stop_at >= 0 && readable(fds[stop_at])) {
      end = PumpEnd::stopped;
      break;
    }
    if (in_at < 0 || !readable(fds[in_at]))
      continue;
    ssize_t got = ::read(io.in_fd, buf, sizeof buf);
    if (got < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
        continue;
      in_error = core::errno_error("reading the input", errno);
      break;
    }
    if (got == 0) {
      in_open = false;
      if (io.close_on_eof) {
        end = PumpEnd::eof;
        break;
      }
      continue;  // keep printing what the guest says
    }
    std::string_view chunk(buf, static_cast<size_t>(got));
    bool escaped = false;
    if (io.escape) {
      auto scan = scan_for_escape(chunk);
      chunk = scan.forward;
      escaped = scan.escaped;
    }
    if (!chunk.empty() && !stream.write(chunk).ok()) {
      end = PumpEnd::server_closed;  // the reader reports why
      break;
    }
    if (escaped) {
      end = PumpEnd::escape;
      break;
    }
  }
  [[maybe_unused]] auto closed = stream.close(1000);  // best effort: we are leaving either way
  out.join();
  if (in_error)
    return *in_error;
  if (out_error && end == PumpEnd::server_closed)
    return *out_error;
  return end;
}

// --- console ---

int run_console(core::kube::KubeClient& client, const Dialer& dial, const ConsoleOptions& opts,
                const SignalPipe& signals, std::ostream& err) {
  const auto deadline = Clock::now() + opts.timeout;
  auto remaining = [&] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  };
  // Waits a second, or less near the deadline; true when a signal asks us to stop.
  auto pause_or_stop = [&] {
    return signals.wait_for(
        std::clamp(remaining(), std::chrono::milliseconds(0), std::chrono::milliseconds(1000)));
  };
  auto timeout_message = [&](const std::string& detail) {
    err << "Timeout trying to connect to the virtual machine instance " << opts.name << " ("
        << detail << ")\n";
    return 1;
  };

  for (;;) {
    auto vmi = client.get(kv::addon::resources::virtual_machine_instances(), opts.ns, opts.name);
    if (!vmi.ok()) {
      // http_error() prefixes "GET path: "; the user wants the server's words.
      std::string msg = vmi.error().message;
      if (auto p = msg.find(": "); p != std::string::npos && msg.rfind("GET ", 0) == 0)
        msg = msg.substr(p + 2);
      err << msg << "\n";
      return 1;
    }
    VmiState state = vmi_state(*vmi);
    if (state.readiness == VmiReadiness::running)
      break;
    if (remaining().count() <= 0)
      return timeout_message("phase " + (state.phase.empty() ? "unset" : state.phase));
    if (pause_or_stop()) {
      err << "\n";
      return 0;
    }
  }

  std::unique_ptr<core::kube::MessageStream> stream;
  for (;;) {
    auto s = dial(stream_path(opts.ns, opts.name, "console"));
    if (s.ok()) {
      stream = std::move(*s);
      break;
    }
    // 400: virt-api says the VMI is not ready for a console yet; upstream retries that one.
    if (s.error().get("http_status") != "400") {
      err << s.error().message << "\n";
      return 1;
    }
    if (remaining().count() <= 0)
      return timeout_message(s.error().message);
    if (pause_or_stop()) {
      err << "\n";
      return 0;
    }
  }

  std::unique_ptr<RawTerminal> raw;
  if (::isatty(opts.in_fd)) {
    auto t = RawTerminal::enter(opts.in_fd);
    if (!t.ok()) {
      err << t.error().message << "\n";
      return 1;
    }
    raw = std::move(*t);
  }
  err << "Successfully connected to " << opts.name << " console. The escape sequence is ^]\n";
  err.flush();
  auto r = pump(*stream, PumpIo{opts.in_fd, opts.out_fd, signals.fd(), /*escape=*/true,
                                /*close_on_eof=*/false});
  raw.reset();  // before any message, so it prints on a sane terminal
  if (!r.ok()) {
    err << "\nconsole connection to " << opts.name << " ended: " << r.error().message << "\n";
    return 1;
  }
  if (*r == PumpEnd::escape || *r == PumpEnd::stopped)
    err << "\n";
  return 0;
}

// --- vnc ---

namespace {

Result<Fd> listen_tcp(const std::string& address, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
  addrinfo* res = nullptr;
  std::string port_s = std::to_string(port);
  if (int rc = ::getaddrinfo(address.c_str(), port_s.c_str(), &hints, &res); rc != 0)
    return Error(Errc::invalid,
                 "--address: \"" + address +
                     "\" is not an IP address (e.g. 127.0.0.1 or ::1): " + gai_strerror(rc));
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> hold(res, ::freeaddrinfo);
  Fd fd(::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0)
    return core::errno_error("socket", errno);
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd.get(), res->ai_addr, res->ai_addrlen) != 0 || ::listen(fd.get(), 4) != 0)
    return core::errno_error("Can't listen on " + address + ":" + port_s, errno);
  return fd;
}

}  // namespace

int run_vnc(const Dialer& dial, const VncOptions& opts, const SignalPipe& signals,
            std::ostream& err) {
  const std::string path = stream_path(opts.ns, opts.name, "vnc");
  // Dial first so a missing VMI or a denied request fails before we print a port.
  auto first = dial(path);
  if (!first.ok()) {
    err << "Can't access VMI " << opts.name << ": " << first.error().message << "\n";
    return 1;
  }
  std::unique_ptr<core::kube::MessageStream> stream = std::move(*first);
  auto listener = listen_tcp(opts.address, opts.port);
  if (!listener.ok()) {
    err << listener.error().message << "\n";
    return 1;
  }
  if (opts.on_listening)
    opts.on_listening(bound_port(listener->get()));
  for (;;) {
    pollfd fds[2] = {{listener->get(), POLLIN, 0}, {signals.fd(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR)
        continue;
      err << "poll: " << std::strerror(errno) << "\n";
      return 1;
    }
    if (readable(fds[1]))
      return 0;
    Fd viewer(::accept4(listener->get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (viewer.get() < 0)
      continue;  // the viewer gave up before we took it
    if (!stream) {
      auto s = dial(path);
      if (!s.ok()) {
        err << "Can't access VMI " << opts.name << ": " << s.error().message << "\n";
        return 1;
      }
      stream = std::move(*s);
    }
    auto r = pump(*stream, PumpIo{viewer.get(), viewer.get(), signals.fd(), /*escape=*/false,
                                  /*close_on_eof=*/true});
    stream.reset();  // one stream per viewer: the VNC handshake starts afresh
    if (!r.ok())
      err << "VNC connection to " << opts.name << " ended: " << r.error().message << "\n";
    else if (*r == PumpEnd::stopped)
      return 0;
  }
}

int bound_port(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  if (ss.ss_family == AF_INET6)
    return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
}

}  // namespace kv::virtctl
