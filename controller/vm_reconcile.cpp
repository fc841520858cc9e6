#include "controller/vm_reconcile.hpp"

#include <algorithm>

#include "api/v1/codec.hpp"
#include "api/v1/defaults.hpp"
#include "controller/pod_render.hpp"
#include "core/json.hpp"
#include "core/kube/kubeconfig.hpp"

namespace kv::controller {
namespace {

using api::v1::Condition;
using api::v1::PrintableStatus;
using api::v1::RunStrategy;
using api::v1::StateChangeAction;
using api::v1::VirtualMachine;
using api::v1::VirtualMachineInstance;
using api::v1::VmiPhase;

VmiPhase phase_of(const VirtualMachineInstance& vmi) {
  return vmi.status && vmi.status->phase ? *vmi.status->phase : VmiPhase::pending;
}

bool has_condition(const VirtualMachineInstance* vmi, const std::string& type,
                   const std::string& status, const std::string& reason = {}) {
  if (!vmi || !vmi->status)
    return false;
  const Condition* c = find_condition(vmi->status->conditions, type);
  return c && c->status == status && (reason.empty() || c->reason.value_or("") == reason);
}

bool was_running(const VirtualMachineInstance& vmi) {
  if (!vmi.status)
    return false;
  if (vmi.status->phase == VmiPhase::running)
    return true;
  for (const auto& t : vmi.status->phase_transition_timestamps)
    if (t.phase == VmiPhase::running)
      return true;
  return false;
}

const api::v1::StateChangeRequest* head_request(const VirtualMachine& vm) {
  if (!vm.status || vm.status->state_change_requests.empty())
    return nullptr;
  return &vm.status->state_change_requests.front();
}

bool has_start_request(const VirtualMachine& vm) {
  auto* r = head_request(vm);
  return r && r->action == StateChangeAction::start;
}

// `virtctl start --paused`: the Start request at the head carries paused=true, and the VMI it
// creates gets spec.startStrategy Paused.
bool has_start_paused_request(const VirtualMachine& vm) {
  auto* r = head_request(vm);
  if (!r || r->action != StateChangeAction::start)
    return false;
  auto it = r->data.find("paused");
  return it != r->data.end() && it->second == "true";
}

bool has_stop_request_for(const VirtualMachine& vm, const VirtualMachineInstance* vmi) {
  auto* r = head_request(vm);
  if (!r || r->action != StateChangeAction::stop || !vmi)
    return false;
  return !r->uid || *r->uid == vmi->metadata.uid.value_or("");
}

bool auto_restarts(RunStrategy s) {
  // Once never restarts, so it has no crash loop to back off from.
  return s == RunStrategy::always || s == RunStrategy::rerun_on_failure;
}

bool is_error_status(PrintableStatus s) {
  switch (s) {
    case PrintableStatus::crash_loop_back_off:
    case PrintableStatus::error_unschedulable:
    case PrintableStatus::err_image_pull:
    case PrintableStatus::image_pull_back_off:
    case PrintableStatus::error_pvc_not_found:
    case PrintableStatus::unknown:
      return true;
    default:
      return false;
  }
}

}  // namespace

bool is_final(const VirtualMachineInstance& vmi) {
  auto p = phase_of(vmi);
  return p == VmiPhase::succeeded || p == VmiPhase::failed;
}

const Condition* find_condition(const std::vector<Condition>& conditions, const std::string& type) {
  for (const auto& c : conditions)
    if (c.type == type)
      return &c;
  return nullptr;
}

void set_condition(std::vector<Condition>& conditions, Condition c, const std::string& now) {
  for (auto& old : conditions) {
    if (old.type != c.type)
      continue;
    c.last_transition_time = old.status == c.status && old.last_transition_time
                                 ? old.last_transition_time
                                 : std::optional<std::string>(now);
    c.last_probe_time = old.last_probe_time;
    old = std::move(c);
    return;
  }
  c.last_transition_time = now;
  conditions.push_back(std::move(c));
}

void remove_condition(std::vector<Condition>& conditions, const std::string& type) {
  conditions.erase(std::remove_if(conditions.begin(), conditions.end(),
                                  [&](const Condition& c) { return c.type == type; }),
                   conditions.end());
}

StartFailure start_failure_from(const VirtualMachine& vm) {
  StartFailure f;
  auto it = vm.metadata.annotations.find(kStartFailureAnnotation);
  if (it == vm.metadata.annotations.end())
    return f;
  auto doc = core::json::parse(it->second);
  if (!doc.ok() || !doc->IsObject())
    return f;
  f.consecutive_fail_count = core::json::get_int(*doc, "consecutiveFailCount").value_or(0);
  f.last_failed_vmi_uid =
      std::string(core::json::get_string(*doc, "lastFailedVMIUID").value_or(""));
  if (auto ts = core::json::get_string(*doc, "retryAfterTimestamp")) {
    auto t = core::kube::parse_rfc3339(*ts);
    if (t.ok())
      f.retry_after = *t;
  }
  return f;
}

std::string start_failure_to_json(const StartFailure& f) {
  core::json::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  core::json::set(d, "consecutiveFailCount", core::json::Value(f.consecutive_fail_count), a);
  core::json::set(d, "lastFailedVMIUID", f.last_failed_vmi_uid, a);
  core::json::set(d, "retryAfterTimestamp", core::kube::format_rfc3339(f.retry_after), a);
  return core::json::to_string(d);
}

std::chrono::seconds crash_loop_backoff(int64_t failures) {
  if (failures < 1)
    return std::chrono::seconds(0);
  int64_t s = 10;
  for (int64_t i = 1; i < failures && s < 300; ++i)
    s *= 2;
  return std::chrono::seconds(std::min<int64_t>(s, 300));
}

RunStrategy effective_run_strategy(const VirtualMachine& vm) {
  if (vm.spec.run_strategy)
    return *vm.spec.run_strategy;
  if (vm.spec.running)
    return *vm.spec.running ? RunStrategy::always : RunStrategy::halted;
  return RunStrategy::halted;
}

VirtualMachineInstance vmi_from_template(const VirtualMachine& vm) {
  VirtualMachineInstance vmi;
  vmi.metadata.name = vm.metadata.name;
  vmi.metadata.namespace_ = vm.metadata.namespace_;
  if (vm.spec.template_.metadata) {
    vmi.metadata.labels = vm.spec.template_.metadata->labels;
    vmi.metadata.annotations = vm.spec.template_.metadata->annotations;
  }
  api::v1::OwnerReference owner;
  owner.api_version = std::string(api::v1::kApiVersion);
  owner.kind = std::string(api::v1::kVirtualMachineKind);
  owner.name = vm.metadata.name.value_or("");
  owner.uid = vm.metadata.uid.value_or("");
  owner.controller = true;
  owner.block_owner_deletion = true;
  vmi.metadata.owner_references.push_back(owner);
  vmi.metadata.finalizers.push_back(kVmiFinalizer);
  vmi.spec = vm.spec.template_.spec;
  // Disks for the volumes that have none, before an instancetype or preference is applied, so a
  // preferred disk bus reaches them (upstream's setupVMIFromVM).
  api::v1::add_volume_disks(vmi.spec);
  return vmi;
}

PrintableStatus printable_status(const VirtualMachine& vm, const VirtualMachineInstance* vmi,
                                 const StartFailure& failure, bool creating, bool deleting,
                                 Clock::time_point now) {
  (void)now;
  const bool live = vmi && !is_final(*vmi);
  if (vm.metadata.deletion_timestamp)
    return PrintableStatus::terminating;
  if (live && (vmi->metadata.deletion_timestamp || deleting))
    return PrintableStatus::stopping;
  if (live && has_condition(vmi, "Paused", "True"))
    return PrintableStatus::paused;
  if (live && phase_of(*vmi) == VmiPhase::running)
    return PrintableStatus::running;
  if (live && has_condition(vmi, "Synchronized", "False", "FailedPvcNotFound"))
    return PrintableStatus::error_pvc_not_found;
  if (live && has_condition(vmi, "PodScheduled", "False", "Unschedulable"))
    return PrintableStatus::error_unschedulable;
  if (live && has_condition(vmi, "Synchronized", "False", "ErrImagePull"))
    return PrintableStatus::err_image_pull;
  if (live && has_condition(vmi, "Synchronized", "False", "ImagePullBackOff"))
    return PrintableStatus::image_pull_back_off;
  if (live) {
    auto p = phase_of(*vmi);
    if (p == VmiPhase::pending || p == VmiPhase::scheduling || p == VmiPhase::scheduled)
      return PrintableStatus::starting;
  }
  if (creating && !vmi)
    return PrintableStatus::starting;
  const RunStrategy rs = effective_run_strategy(vm);
  if (!creating && failure.consecutive_fail_count > 0 && rs != RunStrategy::halted &&
      rs != RunStrategy::manual)
    return PrintableStatus::crash_loop_back_off;
  if (!vmi || is_final(*vmi))
    return PrintableStatus::stopped;
  return PrintableStatus::unknown;  // e.g. VMI phase Unknown: its node stopped reporting
}

namespace {

// --- crash-loop backoff (upstream syncStartFailureStatus)

// The start-failure record after this round: cleared once the VMI ran or when the strategy never
// restarts; one more failure for a VMI that ended before running (counted once per VMI UID).
StartFailure next_start_failure(StartFailure failure, const VirtualMachineInstance* vmi,
                                RunStrategy rs, Clock::time_point now) {
  if (vmi && was_running(*vmi))
    return {};
  if (!auto_restarts(rs))
    return {};
  if (vmi && is_final(*vmi) && failure.last_failed_vmi_uid != vmi->metadata.uid.value_or("")) {
    failure.consecutive_fail_count += 1;
    failure.last_failed_vmi_uid = vmi->metadata.uid.value_or("");
    failure.retry_after = now + crash_loop_backoff(failure.consecutive_fail_count);
  }
  return failure;
}

// The annotation write (or removal) when the record changed.
void record_start_failure(const StartFailure& before, const StartFailure& after, VmActions& out) {
  if (after == before)
    return;
  if (after.consecutive_fail_count == 0)
    out.clear_start_failure = true;
  else
    out.start_failure = after;
}

struct Backoff {
  bool active = false;          // an automatic start must wait
  std::chrono::seconds left{};  // until retry_after (rounded up; negative once passed)
};

Backoff backoff_at(const StartFailure& failure, Clock::time_point now) {
  return {failure.consecutive_fail_count > 0 && now < failure.retry_after,
          std::chrono::ceil<std::chrono::seconds>(failure.retry_after - now)};
}

// --- the runStrategy decision (the table in the header)

enum class WantCreate { no, yes, after_backoff };

struct Decision {
  WantCreate create = WantCreate::no;
  bool remove = false;       // delete the VMI
  bool set_running = false;  // Halted + Start request
  bool queue_start = false;  // RerunOnFailure restart: a Start request joins the queue
};

Decision decide(const VirtualMachine& vm, const VirtualMachineInstance* vmi, RunStrategy rs,
                const std::optional<RunStrategy>& previous_strategy) {
  Decision d;
  const bool vmi_deleting = vmi && vmi->metadata.deletion_timestamp.has_value();
  if (vm.metadata.deletion_timestamp) {
    d.remove = vmi && !vmi_deleting;
    return d;
  }
  switch (rs) {
    case RunStrategy::always:
      if (vmi) {
        d.remove = !vmi_deleting && (is_final(*vmi) || has_stop_request_for(vm, vmi));
      } else {
        d.create = WantCreate::after_backoff;
      }
      break;
    case RunStrategy::rerun_on_failure:
      if (vmi) {
        const bool failed = phase_of(*vmi) == VmiPhase::failed;
        const bool succeeded = phase_of(*vmi) == VmiPhase::succeeded;
        if (!vmi_deleting && (has_stop_request_for(vm, vmi) || failed || succeeded)) {
          d.remove = true;
          d.queue_start = failed && !has_stop_request_for(vm, vmi) && !has_start_request(vm);
        }
      } else if (has_start_request(vm) || previous_strategy != rs) {
        d.create = WantCreate::after_backoff;
      }
      break;
    case RunStrategy::manual:
      if (vmi) {
        // A Start on a finished VMI restarts it: the old one goes first.
        d.remove = !vmi_deleting &&
                   (has_stop_request_for(vm, vmi) || (has_start_request(vm) && is_final(*vmi)));
      } else if (has_start_request(vm)) {
        d.create = WantCreate::yes;
      }
      break;
    case RunStrategy::halted:
      if (vmi) {
        d.remove = !vmi_deleting;
      } else if (has_start_request(vm)) {
        d.set_running = true;
      }
      break;
    case RunStrategy::once:
      if (!vmi)
        d.create = WantCreate::after_backoff;
      break;
  }
  return d;
}

// Whether a wanted VMI is created now: not while a VMI the VM does not control holds the name
// (a Warning says so), not before the backoff has passed (a requeue for then).
bool may_create(WantCreate want, const VmInputs& in, const Backoff& backoff, VmActions& out) {
  if (want == WantCreate::no)
    return false;
  if (in.foreign_vmi) {
    out.events.push_back({"Warning", "FailedCreate",
                          "a VirtualMachineInstance named " + in.vm->metadata.name.value_or("") +
                              " exists and is not controlled by this VirtualMachine"});
    return false;
  }
  if (want == WantCreate::after_backoff && backoff.active) {
    out.requeue_after = backoff.left;
    return false;
  }
  return true;
}

void create_and_remove(const VirtualMachine& vm, const VirtualMachineInstance* vmi, bool create,
                       bool remove, VmActions& out) {
  if (create) {
    out.create_vmi = vmi_from_template(vm);
    if (has_start_paused_request(vm))
      out.create_vmi->spec.start_strategy = api::v1::StartStrategy::paused;
    out.events.push_back({"Normal", "SuccessfulCreate",
                          "Started the virtual machine by creating the new virtual machine "
                          "instance " +
                              vm.metadata.name.value_or("")});
  }
  if (remove) {
    out.delete_vmi_uid = vmi->metadata.uid.value_or("");
    out.events.push_back({"Normal", "SuccessfulDelete",
                          "Stopped the virtual machine by deleting the virtual machine instance " +
                              vmi->metadata.uid.value_or("")});
  }
}

// --- state change requests: drop those that are done (only the head can be). A Stop is done
// once no VMI with its UID remains; a Start once a live VMI exists or is being created (or a
// Halted VM is being turned to running).
void trim_state_change_requests(std::vector<api::v1::StateChangeRequest>& requests,
                                const VirtualMachineInstance* vmi, bool create,
                                bool start_by_set_running) {
  const bool vmi_deleting = vmi && vmi->metadata.deletion_timestamp.has_value();
  while (!requests.empty()) {
    const auto& head = requests.front();
    bool done = false;
    if (head.action == StateChangeAction::stop) {
      const bool targets_current =
          vmi && (!head.uid || *head.uid == vmi->metadata.uid.value_or(""));
      done = !targets_current;  // no VMI with that UID remains
    } else {
      done = (vmi && !is_final(*vmi) && !vmi_deleting) || create || start_by_set_running;
    }
    if (!done)
      break;
    requests.erase(requests.begin());
  }
}

// --- status: created, ready, runStrategy, generations; the Ready, Paused and Failure conditions

void update_status_fields(const VirtualMachine& vm, const VirtualMachineInstance* vmi,
                          RunStrategy rs, api::v1::VirtualMachineStatus& st) {
  const bool live = vmi && !is_final(*vmi);
  const bool vmi_deleting = vmi && vmi->metadata.deletion_timestamp.has_value();
  st.created = vmi != nullptr;
  st.ready = live && !vmi_deleting && has_condition(vmi, "Ready", "True");
  st.run_strategy = rs;
  if (vm.metadata.generation) {
    st.observed_generation = vm.metadata.generation;
    st.desired_generation = vm.metadata.generation;
  }
}

// The VM's Ready condition: the VMI's, or why there is none.
Condition ready_condition(const VirtualMachineInstance* vmi, bool ready) {
  const bool live = vmi && !is_final(*vmi);
  Condition c{"Ready", ready ? "True" : "False", {}, {}, {}, {}};
  if (vmi && vmi->status) {
    if (const Condition* vc = find_condition(vmi->status->conditions, "Ready")) {
      c.reason = vc->reason;
      c.message = vc->message;
    }
  }
  if (!vmi) {
    c.reason = "VMINotExists";
    c.message = "VMI does not exist";
  } else if (!live) {
    c.reason = "VMIFinished";
    c.message = "VMI is in phase " + std::string(api::v1::to_string(phase_of(*vmi)));
  } else if (!ready && !c.reason) {
    c.reason = "VMINotReady";
  }
  if (ready) {
    c.reason.reset();
    c.message.reset();
  }
  return c;
}

void update_conditions(std::vector<Condition>& conditions, const VirtualMachineInstance* vmi,
                       bool ready, const std::string& now) {
  const bool live = vmi && !is_final(*vmi);
  set_condition(conditions, ready_condition(vmi, ready), now);
  if (live && has_condition(vmi, "Paused", "True")) {
    Condition p = *find_condition(vmi->status->conditions, "Paused");
    set_condition(conditions, p, now);
  } else {
    remove_condition(conditions, "Paused");
  }
  // Failure (FailedCreate) is set by the executor when creating fails; a VMI clears it.
  if (live)
    remove_condition(conditions, "Failure");
}

// An Event when printableStatus changes; a crash loop says how many failures and how long to wait.
void announce_printable_status(const std::optional<PrintableStatus>& previous, PrintableStatus now,
                               const StartFailure& failure, const Backoff& backoff,
                               std::vector<ObjectEvent>& events) {
  if (now == previous)
    return;
  std::string from = previous ? std::string(api::v1::to_string(*previous)) : std::string("<none>");
  std::string to(api::v1::to_string(now));
  std::string msg = "VirtualMachine status changed from " + from + " to " + to;
  if (now == PrintableStatus::crash_loop_back_off)
    msg += ": " + std::to_string(failure.consecutive_fail_count) +
           " consecutive start failures; next start in " +
           std::to_string(std::max<int64_t>(0, backoff.left.count())) + "s";
  events.push_back({is_error_status(now) ? "Warning" : "Normal", to, std::move(msg)});
}

}  // namespace

VmActions reconcile_vm(const VmInputs& in) {
  const VirtualMachine& vm = *in.vm;
  const VirtualMachineInstance* vmi = in.vmi;
  const RunStrategy rs = effective_run_strategy(vm);
  VmActions out;
  out.status = vm.status.value_or(api::v1::VirtualMachineStatus{});
  auto& st = out.status;
  const auto previous_printable = st.printable_status;

  const StartFailure failure_before = start_failure_from(vm);
  const StartFailure failure = next_start_failure(failure_before, vmi, rs, in.now);
  record_start_failure(failure_before, failure, out);
  const Backoff backoff = backoff_at(failure, in.now);

  const Decision d = decide(vm, vmi, rs, st.run_strategy);
  if (d.queue_start)
    st.state_change_requests.push_back({StateChangeAction::start, {}, std::nullopt});
  out.set_running = d.set_running;
  const bool create = may_create(d.create, in, backoff, out);
  create_and_remove(vm, vmi, create, d.remove, out);
  // A paused Start on a Halted VM stays queued through the switch to running: the VMI created
  // then takes its paused flag (as upstream).
  trim_state_change_requests(
      st.state_change_requests, vmi, create,
      rs == RunStrategy::halted && !vmi && out.set_running && !has_start_paused_request(vm));

  update_status_fields(vm, vmi, rs, st);
  st.printable_status = printable_status(vm, vmi, failure, create, d.remove, in.now);
  update_conditions(st.conditions, vmi, *st.ready, core::kube::format_rfc3339(in.now));
  if (st.printable_status == PrintableStatus::crash_loop_back_off && !out.requeue_after &&
      backoff.active)
    out.requeue_after = backoff.left;
  announce_printable_status(previous_printable, *st.printable_status, failure, backoff, out.events);
  return out;
}

}  // namespace kv::controller
