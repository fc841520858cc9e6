#pragma once
// RAII for libvirt handles and the bridge from libvirt's error reporting to Result.
// Every libvirt call in the launcher goes through these (STYLE.md "Resources").

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "core/result.hpp"

namespace kv::launcher::libvirt {

struct ConnectDeleter {
  void operator()(virConnectPtr c) const { virConnectClose(c); }
};
struct DomainDeleter {
  void operator()(virDomainPtr d) const { virDomainFree(d); }
};
struct StringDeleter {
  void operator()(char* s) const { std::free(s); }
};

using ConnectPtr = std::unique_ptr<virConnect, ConnectDeleter>;
using DomainPtr = std::unique_ptr<virDomain, DomainDeleter>;
using String = std::unique_ptr<char, StringDeleter>;

// Silences libvirt's default error printing (errors travel in Results instead). Call once, before
// any other libvirt call; idempotent.
void install_silent_error_handler();

// The thread's last libvirt error as an Error: message "<what>: <libvirt message>", context
// virErrorNumber=<code>, virErrorDomain=<domain>. Call right after the failing libvirt call.
core::Error last_error(const std::string& what);

// Registers libvirt's default event loop implementation and runs it on a background thread (must
// happen before a connection is opened, so domain events are delivered). Idempotent.
core::Status start_event_loop();

// Lower-case names for domain states and their reasons, as the protocol reports them.
std::string state_name(int state);
std::string state_reason_name(int state, int reason);
// Why a connection closed (virConnectCloseFunc's reason): "end of file", "keepalive timeout"...
std::string close_reason_name(int reason);

}  // namespace kv::launcher::libvirt
