#pragma once
// Command handling and lifecycle: executes the state machine of lifecycle.hpp against a
// DomainManager, answers command-socket requests and turns domain events into protocol events.
// Single-threaded: every method runs on the launcher's io_context thread.

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "launcher/domain_builder.hpp"
#include "launcher/domain_lifecycle.hpp"
#include "launcher/domain_manager.hpp"
#include "launcher_com/protocol.hpp"

namespace kv::launcher {

// What sync needs done before define + start: decode the VMI (the object as the sync request
// carried it, parsed once with the frame), prepare its disks and build the domain XML. run()
// wires the real one; unit tests pass a stub.
struct PreparedDomain {
  std::string xml;
  std::int64_t grace_period_seconds = 30;
  std::optional<NetworkPlan> network;  // planned once per sync: the XML's NIC, the status's too
  std::string uid;                     // the VMI's identity: a sync for another VMI is refused
  std::string accelerator{};           // "kvm" or "tcg": the status reports it
  bool start_paused = false;           // spec.startStrategy Paused: QEMU starts with CPUs stopped
};
using Preparer = std::function<core::Result<PreparedDomain>(const core::json::Value& vmi)>;

struct SupervisorHooks {
  std::function<void(const proto::Event&)> broadcast;
  std::function<void(std::chrono::seconds)> arm_grace_timer;  // calls on_grace_expired() later
  std::function<void()> cancel_grace_timer;
  std::function<void()> domain_started;       // e.g. start copying the console
  std::function<void(int exit_status)> exit;  // after the `exiting` event was broadcast
};

class DomainSupervisor {
 public:
  DomainSupervisor(DomainManager& dm, Preparer prepare, SupervisorHooks hooks,
                   std::int64_t default_grace_seconds)
      : dm_(dm),
        prepare_(std::move(prepare)),
        hooks_(std::move(hooks)),
        grace_(default_grace_seconds) {}

  // A command-socket request; `reply` is called exactly once (synchronously here).
  void handle(const proto::Request& req, const std::function<void(proto::Response)>& reply);
  void on_domain_event(const DomainEvent& e);
  void on_sigterm();
  void on_grace_expired();
  // libvirtd is gone for good (its restart gave up): the VM ends as failed.
  void on_connection_lost();
  // libvirtd was restarted and the domain manager reconnected: reads the domain's real state,
  // reports (broadcasts and feeds) the event missed during the outage, and re-issues what the
  // outage may have swallowed. Fails when the state cannot be read (the reconnect did not take).
  core::Status on_libvirt_reconnected();

  Phase phase() const { return phase_; }
  std::optional<ExitReason> exit_reason() const { return reason_; }
  proto::DomainStatus status();

 private:
  void feed(const Input& in);
  core::Status sync(const proto::VmiDocument& vmi);

  DomainManager& dm_;
  Preparer prepare_;
  SupervisorHooks hooks_;
  std::int64_t grace_;
  Phase phase_ = Phase::idle;
  std::optional<ExitReason> reason_;
  std::optional<PreparedDomain> domain_;
};

}  // namespace kv::launcher
