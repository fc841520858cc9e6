#include "launcher/domain_manager_impl.hpp"

#include "core/log.hpp"

namespace kv::launcher {
using core::Errc;
using core::Error;
using core::Result;
using core::Status;
using proto::EventKind;

std::optional<DomainEvent> translate_lifecycle_event(int event, int detail) {
  switch (event) {
    case VIR_DOMAIN_EVENT_DEFINED:
      return DomainEvent{EventKind::defined,
                         detail == VIR_DOMAIN_EVENT_DEFINED_UPDATED ? "updated" : "added"};
    case VIR_DOMAIN_EVENT_STARTED:
      switch (detail) {
        case VIR_DOMAIN_EVENT_STARTED_BOOTED:
          return DomainEvent{EventKind::started, "booted"};
        case VIR_DOMAIN_EVENT_STARTED_RESTORED:
          return DomainEvent{EventKind::started, "restored"};
        default:
          return DomainEvent{EventKind::started, "other"};
      }
    case VIR_DOMAIN_EVENT_SUSPENDED:
      switch (detail) {
        case VIR_DOMAIN_EVENT_SUSPENDED_PAUSED:
          return DomainEvent{EventKind::paused, "user"};
        case VIR_DOMAIN_EVENT_SUSPENDED_IOERROR:
          return DomainEvent{EventKind::paused, "ioerror"};
        case VIR_DOMAIN_EVENT_SUSPENDED_API_ERROR:
          return DomainEvent{EventKind::paused, "api-error"};
        default:
          return DomainEvent{EventKind::paused, "other"};
      }
    case VIR_DOMAIN_EVENT_RESUMED:
      return DomainEvent{EventKind::resumed,
                         detail == VIR_DOMAIN_EVENT_RESUMED_UNPAUSED ? "unpaused" : "other"};
    case VIR_DOMAIN_EVENT_STOPPED:
      switch (detail) {
        case VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN:
          return DomainEvent{EventKind::shutdown, "shutdown"};
        case VIR_DOMAIN_EVENT_STOPPED_DESTROYED:
          return DomainEvent{EventKind::shutdown, "destroyed"};
        case VIR_DOMAIN_EVENT_STOPPED_CRASHED:
          return DomainEvent{EventKind::crashed, "crashed"};
        case VIR_DOMAIN_EVENT_STOPPED_FAILED:
          return DomainEvent{EventKind::crashed, "failed"};
        case VIR_DOMAIN_EVENT_STOPPED_SAVED:
          return DomainEvent{EventKind::shutdown, "saved"};
        case VIR_DOMAIN_EVENT_STOPPED_MIGRATED:
          return DomainEvent{EventKind::shutdown, "migrated"};
        default:
          return DomainEvent{EventKind::shutdown, "other"};
      }
    default:
      return std::nullopt;
  }
}

Result<std::unique_ptr<DomainManagerImpl>> DomainManagerImpl::create(
    libvirt::ConnectPtr conn, std::string domain_name, DomainEventSink sink,
    std::function<void()> on_close) {
  std::unique_ptr<DomainManagerImpl> m(new DomainManagerImpl());
  m->name_ = std::move(domain_name);
  m->sink_ = std::move(sink);
  m->on_close_ = std::move(on_close);
  KV_CHECK(m->attach(std::move(conn)));
  return m;
}

Status DomainManagerImpl::attach(libvirt::ConnectPtr conn) {
  conn_ = std::move(conn);
  callback_id_ = virConnectDomainEventRegisterAny(
      conn_.get(), nullptr, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
      VIR_DOMAIN_EVENT_CALLBACK(&DomainManagerImpl::on_lifecycle), this, nullptr);
  if (callback_id_ < 0)
    return libvirt::last_error("register domain lifecycle events");
  if (virConnectRegisterCloseCallback(conn_.get(), &DomainManagerImpl::on_conn_close, this,
                                      nullptr) == 0)
    close_registered_ = true;
  // Keepalive lets libvirt notice a daemon that hangs, not only one that exits.
  virConnectSetKeepAlive(conn_.get(), 5, 3);
  return {};
}

void DomainManagerImpl::detach() {
  if (!conn_)
    return;
  if (callback_id_ >= 0)
    virConnectDomainEventDeregisterAny(conn_.get(), callback_id_);
  if (close_registered_)
    virConnectUnregisterCloseCallback(conn_.get(), &DomainManagerImpl::on_conn_close);
  virResetLastError();  // a dead connection fails the deregistration: nothing to undo
  callback_id_ = -1;
  close_registered_ = false;
  conn_.reset();
}

DomainManagerImpl::~DomainManagerImpl() {
  detach();
}

Status DomainManagerImpl::reconnect(libvirt::ConnectPtr conn) {
  detach();
  return attach(std::move(conn));
}

bool DomainManagerImpl::connected() const {
  return conn_ && virConnectIsAlive(conn_.get()) == 1;
}

int DomainManagerImpl::on_lifecycle(virConnectPtr, virDomainPtr dom, int event, int detail,
                                    void* opaque) {
  auto* self = static_cast<DomainManagerImpl*>(opaque);
  const char* name = virDomainGetName(dom);
  if (!name || self->name_ != name)
    return 0;
  if (auto e = translate_lifecycle_event(event, detail))
    self->sink_(*e);
  return 0;
}

void DomainManagerImpl::on_conn_close(virConnectPtr, int reason, void* opaque) {
  auto* self = static_cast<DomainManagerImpl*>(opaque);
  core::log::error("connection to libvirtd closed",
                   {{"reason", libvirt::close_reason_name(reason)}});
  if (self->on_close_)
    self->on_close_();
}

Status DomainManagerImpl::wait_reattached() {
  auto dom = lookup();
  if (!dom.ok())
    return dom.error().code == Errc::not_found ? Status{} : Status(std::move(dom).error());
  virDomainMemoryStatStruct stats[VIR_DOMAIN_MEMORY_STAT_NR];
  if (virDomainMemoryStats(dom->get(), stats, VIR_DOMAIN_MEMORY_STAT_NR, 0) < 0) {
    auto err = libvirt::last_error("wait for libvirt to re-attach to domain " + name_);
    if (!connected())
      return err;  // the daemon, not the domain
  }
  return {};
}

Result<libvirt::DomainPtr> DomainManagerImpl::lookup() {
  virDomainPtr d = virDomainLookupByName(conn_.get(), name_.c_str());
  if (!d)
    return libvirt::last_error("look up domain " + name_);
  return libvirt::DomainPtr(d);
}

Status DomainManagerImpl::define_and_start(const std::string& xml, bool paused) {
  virDomainPtr d = virDomainDefineXML(conn_.get(), xml.c_str());
  if (!d)
    return libvirt::last_error("define domain " + name_);
  libvirt::DomainPtr dom(d);
  if (virDomainCreateWithFlags(dom.get(), paused ? VIR_DOMAIN_START_PAUSED : 0) < 0)
    return libvirt::last_error("start domain " + name_);
  return {};
}

#define KV_DOMAIN_OP(fn, call, what)                \
  Status DomainManagerImpl::fn() {                  \
    auto dom = lookup();                            \
    if (!dom.ok())                                  \
      return std::move(dom).error();                \
    if ((call) < 0)                                 \
      return libvirt::last_error(what " " + name_); \
    return {};                                      \
  }

KV_DOMAIN_OP(shutdown, virDomainShutdownFlags(dom->get(), VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN),
             "shut down domain")
KV_DOMAIN_OP(pause, virDomainSuspend(dom->get()), "pause domain")
KV_DOMAIN_OP(resume, virDomainResume(dom->get()), "resume domain")
KV_DOMAIN_OP(reboot, virDomainReboot(dom->get(), VIR_DOMAIN_REBOOT_ACPI_POWER_BTN), "reboot domain")
KV_DOMAIN_OP(reset, virDomainReset(dom->get(), 0), "reset domain")
#undef KV_DOMAIN_OP

Status DomainManagerImpl::destroy() {
  auto dom = lookup();
  if (!dom.ok())
    return dom.error().code == Errc::not_found ? Status{} : Status(std::move(dom).error());
  if (virDomainIsActive(dom->get()) == 0)
    return {};
  if (virDomainDestroy(dom->get()) < 0) {
    auto err = libvirt::last_error("destroy domain " + name_);
    // It may have stopped by itself between the two calls.
    if (virDomainIsActive(dom->get()) == 0)
      return {};
    return err;
  }
  return {};
}

Result<DomainInfo> DomainManagerImpl::info() {
  auto dom = lookup();
  if (!dom.ok()) {
    if (dom.error().code == Errc::not_found)
      return DomainInfo{};
    return std::move(dom).error();
  }
  int state = 0, reason = 0;
  if (virDomainGetState(dom->get(), &state, &reason, 0) < 0)
    return libvirt::last_error("get state of domain " + name_);
  return DomainInfo{libvirt::state_name(state), libvirt::state_reason_name(state, reason)};
}

}  // namespace kv::launcher
