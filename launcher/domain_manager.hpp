#pragma once
// The seam between the launcher's logic and libvirt: one domain, the operations the command
// socket offers, and its lifecycle events. DomainManagerImpl talks to libvirt; unit tests use a
// fake (test/fakes/fake_domain_manager.hpp).

#include <functional>
#include <string>

#include "core/result.hpp"
#include "launcher_com/protocol.hpp"

namespace kv::launcher {
// The launcher speaks the handler-launcher protocol (launcher_com/); its types are used everywhere
// here, so they get a short name.
namespace proto = launcher_com::proto;

// A lifecycle event of the domain, already in the protocol's words.
struct DomainEvent {
  proto::EventKind kind = proto::EventKind::started;
  std::string reason;  // libvirt's event detail in lower case: booted, user, destroyed, failed...
};

struct DomainInfo {
  std::string state = "none";  // protocol state names (see proto::DomainStatus)
  std::string reason;
};

class DomainManager {
 public:
  virtual ~DomainManager() = default;

  // Defines (or redefines) the domain from XML, then starts it, paused when `paused`.
  virtual core::Status define_and_start(const std::string& domain_xml, bool paused) = 0;
  // ACPI power button.
  virtual core::Status shutdown() = 0;
  // Hard stop (like pulling the plug). Succeeds when the domain is already off.
  virtual core::Status destroy() = 0;
  virtual core::Status pause() = 0;
  virtual core::Status resume() = 0;
  // ACPI reboot request.
  virtual core::Status reboot() = 0;
  // Reset button.
  virtual core::Status reset() = 0;
  virtual core::Result<DomainInfo> info() = 0;
};

// Where events go. Called from libvirt's event thread: the receiver must hand them over to its
// own thread (run() posts them to the io_context).
using DomainEventSink = std::function<void(const DomainEvent&)>;

}  // namespace kv::launcher
