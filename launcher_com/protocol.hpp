#pragma once
// The virt-launcher command protocol: what travels on the unix socket between virt-handler (or a
// test, or the benchmark) and virt-launcher. No libvirt here: the handler links this library.
//
// Framing: every message is a 4-byte big-endian length N (1 <= N <= kMaxFrameBytes) followed by N
// bytes of UTF-8 JSON, one object. Three kinds of object, told apart by "type":
//
//   request   client -> launcher  {"type":"request","id":7,"command":"sync","vmi":{...}}
//                                 {"type":"request","id":8,"command":"shutdown","gracePeriodSeconds":30}
//   response  launcher -> client  {"type":"response","id":7,"ok":true,"status":{...}}
//                                 {"type":"response","id":7,"ok":false,"error":{"code":"invalid",
//                                  "message":"...","context":{"field":"..."}}}
//   event     launcher -> every connected client, unprompted
//                                 {"type":"event","event":"started","reason":"booted","status":{...}}
//
// status = {"state":"running","reason":"unpaused","accelerator":"tcg","interfaces":[{"name":
//           "default","mac":"...","ipAddress":"10.0.2.2"}]}   (state "none" before the first
//           sync; "accelerator" only once a domain is defined)
// docs/launcher.md lists every command and event with its meaning.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/json.hpp"
#include "core/result.hpp"

namespace kv::launcher_com::proto {

using core::Error;
using core::Result;
using core::Status;

// Larger frames are refused (and the connection dropped): a VMI is a few KiB.
inline constexpr std::uint32_t kMaxFrameBytes = 4 * 1024 * 1024;

enum class Command {
  sync,         // define + start the domain from "vmi" (idempotent once started)
  shutdown,     // ACPI power button; destroy when the grace period passes
  kill,         // destroy now
  pause,        // suspend the vCPUs
  unpause,      // resume them
  soft_reboot,  // ACPI reboot request to the guest
  reset,        // hard reset (like the reset button)
  get_status,   // domain state, reason, interfaces
  ping,         // liveness: answers ok
};

std::string_view command_name(Command c);
Result<Command> parse_command(std::string_view name);

enum class EventKind {
  defined,   // the domain was defined from a sync
  started,   // QEMU runs (perhaps paused)
  paused,    // vCPUs stopped (reason: user, ...)
  resumed,   // vCPUs running again
  shutdown,  // the domain stopped without a fault (reason: shutdown, destroyed, ...)
  crashed,   // the domain stopped by a fault (reason: failed = QEMU died, crashed = guest panic)
  exiting,   // the launcher is about to exit; reason = how the VM ended (see ExitReason)
};

std::string_view event_name(EventKind k);
Result<EventKind> parse_event(std::string_view name);

struct InterfaceStatus {
  std::string name;  // the VMI's interfaces[].name
  std::string mac;
  std::string ip_address;  // as the guest sees it
};

struct DomainStatus {
  // "none" (no domain yet), "running", "paused", "shutting-down", "shutoff", "crashed",
  // "pmsuspended", "blocked", "unknown"
  std::string state = "none";
  std::string reason;  // libvirt's state reason in lower case: "booted", "user", "crashed", ...
  std::vector<InterfaceStatus> interfaces;
  // How the guest's CPUs run: "kvm" (hardware virtualization) or "tcg" (QEMU's software
  // emulation); empty before a domain is defined.
  std::string accelerator{};
};

// A sync request's VMI: the JSON object itself, shared, never copied or re-serialized on its way.
// virt-handler passes its informer's cached object (encode() writes it straight into the frame);
// decode() points into the frame's parsed document, which the pointer keeps alive.
using VmiDocument = std::shared_ptr<const core::json::Value>;

// A VMI from JSON text (tests, tools, --vmi-file). Errc::parse names the offset.
Result<VmiDocument> parse_vmi(std::string_view json_text);

struct Request {
  std::uint64_t id = 0;
  Command command = Command::ping;
  VmiDocument vmi;                                   // sync only: the VMI object
  std::optional<std::int64_t> grace_period_seconds;  // shutdown only
};

struct Response {
  std::uint64_t id = 0;
  std::optional<Error> error;  // absent = ok
  std::optional<DomainStatus> status;
  bool ok() const { return !error.has_value(); }
};

struct Event {
  EventKind kind = EventKind::started;
  std::string reason;
  DomainStatus status;
  std::optional<int> exit_status;  // exiting only
};

using Message = std::variant<Request, Response, Event>;

// The JSON body of a message (no length prefix).
std::string encode(const Message& m);
// The body with its 4-byte length prefix, ready to write.
std::string frame(const Message& m);
// Parses one body. Errors (Errc::parse / Errc::invalid) name the offending field.
Result<Message> decode(std::string_view body);

// Splits a byte stream into frame bodies. Feed whatever the socket gave; take bodies out.
class FrameReader {
 public:
  void feed(std::string_view bytes) { buf_.append(bytes); }
  // The next complete body, std::nullopt when more bytes are needed, or an error when the stream
  // is garbage (zero or oversized length): the connection cannot be resynchronised after that.
  Result<std::optional<std::string>> next();

 private:
  std::string buf_;
};

}  // namespace kv::launcher_com::proto
