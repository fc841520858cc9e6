#include "launcher/domain_supervisor.hpp"

#include "core/log.hpp"

namespace kv::launcher {
using core::Errc;
using core::Error;
using core::Status;
using proto::Command;

proto::DomainStatus DomainSupervisor::status() {
  proto::DomainStatus s;
  auto info = dm_.info();
  if (info.ok()) {
    s.state = info->state;
    s.reason = info->reason;
  } else {
    s.state = "unknown";
    s.reason = info.error().message;
  }
  if (domain_)
    s.accelerator = domain_->accelerator;
  if (domain_ && domain_->network)
    s.interfaces.push_back(
        {domain_->network->interface_name, domain_->network->mac, domain_->network->guest_ip});
  return s;
}

Status DomainSupervisor::sync(const proto::VmiDocument& vmi) {
  if (!vmi)
    return Error(Errc::invalid, "vmi: sync needs the VirtualMachineInstance");
  auto prepared = prepare_(*vmi);
  if (!prepared.ok())
    return std::move(prepared).error();
  if (domain_) {
    // Already started from a sync: the same VMI again is a no-op (the handler re-syncs after a
    // reconnect); another VMI is a mistake.
    if (domain_->uid != prepared->uid)
      return Error(Errc::conflict, "this launcher already runs VMI uid " + domain_->uid);
    if (phase_ == Phase::stopped || phase_ == Phase::shutting_down || phase_ == Phase::destroying)
      return Error(Errc::invalid, "the VM is " + std::string(phase_name(phase_)) +
                                      "; a stopped launcher does not start it again");
    return {};
  }
  if (phase_ != Phase::idle)
    return Error(Errc::invalid,
                 "cannot sync while the launcher is " + std::string(phase_name(phase_)));
  // Started paused (spec.startStrategy), libvirt's suspended event follows its started one (both
  // after this call returns, on this thread) and moves the phase to paused.
  auto st = dm_.define_and_start(prepared->xml, prepared->start_paused);
  if (!st.ok()) {
    core::log::error("domain failed to start", {{"error", st.error().to_string()}});
    feed(Input{.kind = Input::Kind::start_failed});
    return st;
  }
  grace_ = prepared->grace_period_seconds;
  domain_ = std::move(*prepared);
  feed(Input{.kind = Input::Kind::started});
  if (hooks_.domain_started)
    hooks_.domain_started();
  return {};
}

void DomainSupervisor::handle(const proto::Request& req,
                              const std::function<void(proto::Response)>& reply) {
  proto::Response resp;
  resp.id = req.id;
  Status st;
  bool live = phase_ == Phase::running || phase_ == Phase::paused ||
              phase_ == Phase::shutting_down || phase_ == Phase::destroying;
  auto need_domain = [&]() -> Status {
    if (!live)
      return Error(Errc::invalid, std::string(proto::command_name(req.command)) +
                                      ": no running VM (launcher is " +
                                      std::string(phase_name(phase_)) + ")");
    return {};
  };
  switch (req.command) {
    case Command::ping:
      break;
    case Command::get_status:
      break;
    case Command::sync:
      st = sync(req.vmi);
      break;
    case Command::shutdown:
      st = need_domain();
      if (st.ok())
        feed(Input{.kind = Input::Kind::shutdown_requested,
                   .grace_seconds = req.grace_period_seconds.value_or(grace_)});
      break;
    case Command::kill:
      st = need_domain();
      if (st.ok())
        feed(Input{.kind = Input::Kind::kill_requested});
      break;
    case Command::pause:
      st = need_domain();
      if (st.ok())
        st = dm_.pause();
      break;
    case Command::unpause:
      st = need_domain();
      if (st.ok())
        st = dm_.resume();
      break;
    case Command::soft_reboot:
      st = need_domain();
      if (st.ok())
        st = dm_.reboot();
      break;
    case Command::reset:
      st = need_domain();
      if (st.ok())
        st = dm_.reset();
      break;
  }
  if (!st.ok())
    resp.error = st.error();
  if (req.command != Command::ping)
    resp.status = status();
  reply(std::move(resp));
}

void DomainSupervisor::on_domain_event(const DomainEvent& e) {
  core::log::info("domain event", {{"event", proto::event_name(e.kind)}, {"reason", e.reason}});
  proto::Event ev;
  ev.kind = e.kind;
  ev.reason = e.reason;
  ev.status = status();
  if (hooks_.broadcast)
    hooks_.broadcast(ev);
  feed(Input{.kind = Input::Kind::domain_event, .event = e});
}

void DomainSupervisor::on_sigterm() {
  core::log::info("SIGTERM: shutting the VM down",
                  {{"grace_seconds", std::to_string(grace_)}, {"phase", phase_name(phase_)}});
  feed(Input{.kind = Input::Kind::shutdown_requested, .grace_seconds = grace_});
}

void DomainSupervisor::on_grace_expired() {
  core::log::warn("grace period expired: destroying the VM");
  feed(Input{.kind = Input::Kind::grace_expired});
}

void DomainSupervisor::on_connection_lost() {
  feed(Input{.kind = Input::Kind::connection_lost});
}

core::Status DomainSupervisor::on_libvirt_reconnected() {
  if (phase_ == Phase::idle || phase_ == Phase::stopped)
    return {};
  auto info = dm_.info();
  if (!info.ok())
    return std::move(info).error();
  core::log::info(
      "domain after the libvirtd restart",
      {{"state", info->state}, {"reason", info->reason}, {"phase", phase_name(phase_)}});
  if (auto missed = missed_event(phase_, *info)) {
    core::log::warn("libvirtd missed a domain event while it was down",
                    {{"event", proto::event_name(missed->kind)}, {"reason", missed->reason}});
    on_domain_event(*missed);
  }
  feed(Input{.kind = Input::Kind::reconnected, .domain = *info});
  return {};
}

void DomainSupervisor::feed(const Input& in) {
  Transition t = step(phase_, in);
  if (t.next != phase_)
    core::log::info("launcher phase", {{"from", phase_name(phase_)}, {"to", phase_name(t.next)}});
  phase_ = t.next;
  for (Action a : t.actions) {
    switch (a) {
      case Action::resume:
        if (auto st = dm_.resume(); !st.ok())
          core::log::warn("resume before shutdown failed", {{"error", st.error().message}});
        break;
      case Action::acpi_shutdown:
        if (auto st = dm_.shutdown(); !st.ok())
          core::log::warn("ACPI shutdown failed", {{"error", st.error().message}});
        break;
      case Action::arm_grace_timer:
        if (hooks_.arm_grace_timer)
          hooks_.arm_grace_timer(std::chrono::seconds(in.grace_seconds));
        break;
      case Action::cancel_grace_timer:
        if (hooks_.cancel_grace_timer)
          hooks_.cancel_grace_timer();
        break;
      case Action::destroy:
        if (auto st = dm_.destroy(); !st.ok()) {
          core::log::error("destroy failed", {{"error", st.error().to_string()}});
        }
        break;
      case Action::exit: {
        reason_ = t.reason;
        int code = exit_status(*t.reason);
        core::log::info("VM ended", {{"reason", exit_reason_name(*t.reason)},
                                     {"exit_status", std::to_string(code)}});
        proto::Event ev;
        ev.kind = proto::EventKind::exiting;
        ev.reason = std::string(exit_reason_name(*t.reason));
        ev.status = status();
        ev.exit_status = code;
        if (hooks_.broadcast)
          hooks_.broadcast(ev);
        if (hooks_.exit)
          hooks_.exit(code);
        break;
      }
    }
  }
}

}  // namespace kv::launcher
