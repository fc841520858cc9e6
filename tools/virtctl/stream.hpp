#pragma once
// The streaming commands: `console` (serial console) and `vnc --proxy-only`. Both copy bytes
// between local file descriptors and a MessageStream (the WebSocket to virt-api) with pump().
//
// Console, stdin a TTY: raw mode (restored on every exit path: normal end, ^], server close,
// SIGINT/SIGTERM/SIGHUP; the signals are caught, never left to kill us mid-raw), ^] (0x1d)
// disconnects. Stdin not a TTY (scripts): stdin is copied to the console until EOF, then the
// console keeps printing to stdout until the server closes the stream or a signal
// (SIGINT/SIGTERM/SIGHUP, e.g. from `timeout 20 virtctl console vm1 </dev/null`) ends it with
// exit status 0.

#include <chrono>
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <string_view>

#include "core/kube/client.hpp"
#include "core/kube/kubeconfig.hpp"
#include "core/kube/websocket.hpp"
#include "core/result.hpp"
#include "tools/virtctl/args.hpp"

namespace kv::virtctl {

inline constexpr char kEscapeByte = 0x1d;  // ^]

// Splits a chunk read from the terminal at the escape byte: what to send, and whether the user
// asked to disconnect (bytes after ^] are dropped).
struct EscapeScan {
  std::string_view forward;
  bool escaped = false;
};
EscapeScan scan_for_escape(std::string_view chunk);

// What a VMI's status says about attaching to its console.
enum class VmiReadiness { running, waiting, finished };
struct VmiState {
  VmiReadiness readiness = VmiReadiness::waiting;
  std::string phase;  // "" when the status has none yet
};
VmiState vmi_state(const core::json::Value& vmi);

// Catches SIGINT, SIGTERM and SIGHUP for its lifetime and makes fd() readable when one arrives
// (the self-pipe trick), so blocking loops can poll for it. One instance at a time.
class SignalPipe {
 public:
  SignalPipe();
  ~SignalPipe();
  SignalPipe(const SignalPipe&) = delete;
  SignalPipe& operator=(const SignalPipe&) = delete;
  int fd() const { return read_fd_; }
  // True when a signal arrived; waits up to `timeout` for one.
  bool wait_for(std::chrono::milliseconds timeout) const;
  // Makes fd() readable as a signal would (tests, and internal wake-ups).
  void raise() const;

 private:
  int read_fd_ = -1;
};

// Puts a terminal into raw mode; restores the saved settings when destroyed.
class RawTerminal {
 public:
  static core::Result<std::unique_ptr<RawTerminal>> enter(int fd);
  ~RawTerminal();

 private:
  RawTerminal() = default;
  int fd_ = -1;
  struct Saved;
  std::unique_ptr<Saved> saved_;
};

struct PumpIo {
  int in_fd = -1;             // copied to the stream
  int out_fd = -1;            // the stream is copied here
  int stop_fd = -1;           // readable: stop (SignalPipe::fd()); -1: none
  bool escape = false;        // ^] in the input disconnects
  bool close_on_eof = false;  // input EOF closes the stream (VNC); else output continues
};

enum class PumpEnd { escape, eof, server_closed, stopped };

// Copies both ways until the stream ends, the input ends (close_on_eof), ^] (escape) or stop_fd.
// Closes the stream (code 1000) before returning. Errc::unavailable when the connection broke,
// Errc::io when a local descriptor failed.
core::Result<PumpEnd> pump(core::kube::MessageStream& stream, const PumpIo& io);

// The local port a bound socket got (for port 0: the one the kernel chose).
int bound_port(int fd);

// Opens a stream; tests give a fake, virtctl gives WebSocket::dial through the API server.
using Dialer = std::function<core::Result<std::unique_ptr<core::kube::MessageStream>>(
    const std::string& path)>;

struct ConsoleOptions {
  std::string ns, name;
  std::chrono::seconds timeout{300};
  int in_fd = 0, out_fd = 1;
};

// `virtctl console`: waits (up to opts.timeout) for the VMI to be Running, attaches, pumps.
// Returns the exit status; messages go to err.
int run_console(core::kube::KubeClient& client, const Dialer& dial, const ConsoleOptions& opts,
                const SignalPipe& signals, std::ostream& err);

struct VncOptions {
  std::string ns, name;
  std::string address = "127.0.0.1";
  int port = 0;
  // Called with the bound port before the first viewer is accepted (tests); virtctl prints
  // {"port":N} on stdout.
  std::function<void(int port)> on_listening;
};

// `virtctl vnc --proxy-only`: checks the VMI's VNC stream can be opened, listens, and relays one
// viewer at a time (each over a new stream) until a signal. Returns the exit status.
int run_vnc(const Dialer& dial, const VncOptions& opts, const SignalPipe& signals,
            std::ostream& err);

}  // namespace kv::virtctl
