#pragma once
// DomainManager on libvirt: one connection to the private daemon, one domain by name, lifecycle
// events through a registered callback (no polling). Calls block on libvirt RPCs (tens of ms; a
// paused start ~0.5 s) and are made from the launcher's main thread.

#include <memory>
#include <optional>
#include <string>

#include "launcher/domain_manager.hpp"
#include "launcher/libvirt_util.hpp"

namespace kv::launcher {

class DomainManagerImpl : public DomainManager {
 public:
  // `conn` must have been opened after libvirt::start_event_loop(). `on_close` is called (from
  // libvirt's thread) when the connection to the daemon drops.
  static core::Result<std::unique_ptr<DomainManagerImpl>> create(libvirt::ConnectPtr conn,
                                                                 std::string domain_name,
                                                                 DomainEventSink sink,
                                                                 std::function<void()> on_close);
  ~DomainManagerImpl() override;

  // Moves to a new connection (to a restarted daemon): the callbacks leave the old one (dead,
  // so errors are ignored) and are registered on `conn`. Runs on the launcher's thread, like
  // every other call.
  core::Status reconnect(libvirt::ConnectPtr conn);
  // The connection is open (false once the daemon went away; virConnectIsAlive, no RPC).
  bool connected() const;
  // Waits until a restarted daemon has finished re-attaching to the domain's QEMU, so that
  // info() tells the outcome: libvirt re-attaches on a thread of its own while holding the
  // domain's job, and answers virDomainGetState from the status XML meanwhile ("running" even
  // when QEMU is gone). A query job (memory stats) waits for that job. Fails only when the
  // daemon does not answer; a domain that is gone or not running is info()'s to report.
  core::Status wait_reattached();

  core::Status define_and_start(const std::string& domain_xml, bool paused) override;
  core::Status shutdown() override;
  core::Status destroy() override;
  core::Status pause() override;
  core::Status resume() override;
  core::Status reboot() override;
  core::Status reset() override;
  core::Result<DomainInfo> info() override;

  const std::string& name() const { return name_; }

 private:
  DomainManagerImpl() = default;
  core::Status attach(libvirt::ConnectPtr conn);
  void detach();
  core::Result<libvirt::DomainPtr> lookup();
  static int on_lifecycle(virConnectPtr, virDomainPtr dom, int event, int detail, void* opaque);
  static void on_conn_close(virConnectPtr, int reason, void* opaque);

  libvirt::ConnectPtr conn_;
  std::string name_;
  DomainEventSink sink_;
  std::function<void()> on_close_;
  int callback_id_ = -1;
  bool close_registered_ = false;
};

// Translates a libvirt lifecycle event into the protocol's words; nullopt for events the
// protocol does not carry (undefined, pmsuspended, shutdown-in-progress).
std::optional<DomainEvent> translate_lifecycle_event(int event, int detail);

}  // namespace kv::launcher
