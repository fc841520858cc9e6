#include "launcher/libvirt_util.hpp"

#include <atomic>
#include <mutex>
#include <thread>

#include "core/log.hpp"

namespace kv::launcher::libvirt {
using core::Errc;
using core::Error;

namespace {
void silent_handler(void*, virErrorPtr) {}
}  // namespace

void install_silent_error_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    virInitialize();
    virSetErrorFunc(nullptr, silent_handler);
  });
}

Error last_error(const std::string& what) {
  virErrorPtr e = virGetLastError();
  if (!e)
    return Error(Errc::internal, what + ": libvirt reported no error");
  Errc code = Errc::internal;
  switch (e->code) {
    case VIR_ERR_NO_DOMAIN:
      code = Errc::not_found;
      break;
    case VIR_ERR_OPERATION_INVALID:
      code = Errc::invalid;
      break;
    case VIR_ERR_SYSTEM_ERROR:
    case VIR_ERR_NO_CONNECT:
    case VIR_ERR_RPC:
      code = Errc::unavailable;
      break;
    case VIR_ERR_XML_ERROR:
    case VIR_ERR_CONFIG_UNSUPPORTED:
      code = Errc::invalid;
      break;
    case VIR_ERR_OPERATION_TIMEOUT:
    case VIR_ERR_AGENT_UNRESPONSIVE:
      code = Errc::timeout;
      break;
    default:
      break;
  }
  Error err(code, what + ": " + (e->message ? e->message : "unknown libvirt error"));
  err.with("virErrorNumber", std::to_string(e->code))
      .with("virErrorDomain", std::to_string(e->domain));
  virResetLastError();
  return err;
}

core::Status start_event_loop() {
  static std::mutex mu;
  static bool started = false;
  std::lock_guard l(mu);
  if (started)
    return {};
  install_silent_error_handler();
  if (virEventRegisterDefaultImpl() < 0)
    return last_error("register libvirt event loop");
  // Detached: it runs for the life of the process, like libvirt's own daemons do.
  std::thread([] {
    for (;;) {
      if (virEventRunDefaultImpl() < 0)
        core::log::warn("libvirt event loop iteration failed",
                        {{"error", last_error("virEventRunDefaultImpl").message}});
    }
  }).detach();
  started = true;
  return {};
}

std::string close_reason_name(int reason) {
  switch (reason) {
    case VIR_CONNECT_CLOSE_REASON_ERROR:
      return "error";
    case VIR_CONNECT_CLOSE_REASON_EOF:
      return "end of file";
    case VIR_CONNECT_CLOSE_REASON_KEEPALIVE:
      return "keepalive timeout";
    case VIR_CONNECT_CLOSE_REASON_CLIENT:
      return "closed by us";
    default:
      return "reason " + std::to_string(reason);
  }
}

std::string state_name(int state) {
  switch (state) {
    case VIR_DOMAIN_NOSTATE:
      return "unknown";
    case VIR_DOMAIN_RUNNING:
      return "running";
    case VIR_DOMAIN_BLOCKED:
      return "blocked";
    case VIR_DOMAIN_PAUSED:
      return "paused";
    case VIR_DOMAIN_SHUTDOWN:
      return "shutting-down";
    case VIR_DOMAIN_SHUTOFF:
      return "shutoff";
    case VIR_DOMAIN_CRASHED:
      return "crashed";
    case VIR_DOMAIN_PMSUSPENDED:
      return "pmsuspended";
    default:
      return "unknown";
  }
}

std::string state_reason_name(int state, int reason) {
  switch (state) {
    case VIR_DOMAIN_RUNNING:
      switch (reason) {
        case VIR_DOMAIN_RUNNING_BOOTED:
          return "booted";
        case VIR_DOMAIN_RUNNING_MIGRATED:
          return "migrated";
        case VIR_DOMAIN_RUNNING_RESTORED:
          return "restored";
        case VIR_DOMAIN_RUNNING_UNPAUSED:
          return "unpaused";
        case VIR_DOMAIN_RUNNING_WAKEUP:
          return "wakeup";
        case VIR_DOMAIN_RUNNING_CRASHED:
          return "crashed";
        default:
          return "unknown";
      }
    case VIR_DOMAIN_PAUSED:
      switch (reason) {
        case VIR_DOMAIN_PAUSED_USER:
          return "user";
        case VIR_DOMAIN_PAUSED_IOERROR:
          return "ioerror";
        case VIR_DOMAIN_PAUSED_SHUTTING_DOWN:
          return "shutting-down";
        case VIR_DOMAIN_PAUSED_CRASHED:
          return "crashed";
        case VIR_DOMAIN_PAUSED_STARTING_UP:
          return "starting-up";
        case VIR_DOMAIN_PAUSED_MIGRATION:
          return "migration";
        default:
          return "unknown";
      }
    case VIR_DOMAIN_SHUTOFF:
      switch (reason) {
        case VIR_DOMAIN_SHUTOFF_SHUTDOWN:
          return "shutdown";
        case VIR_DOMAIN_SHUTOFF_DESTROYED:
          return "destroyed";
        case VIR_DOMAIN_SHUTOFF_CRASHED:
          return "crashed";
        case VIR_DOMAIN_SHUTOFF_FAILED:
          return "failed";
        case VIR_DOMAIN_SHUTOFF_MIGRATED:
          return "migrated";
        case VIR_DOMAIN_SHUTOFF_SAVED:
          return "saved";
        default:
          return "unknown";
      }
    case VIR_DOMAIN_SHUTDOWN:
      return "user";
    case VIR_DOMAIN_CRASHED:
      return reason == VIR_DOMAIN_CRASHED_PANICKED ? "panicked" : "unknown";
    default:
      return "unknown";
  }
}

}  // namespace kv::launcher::libvirt
