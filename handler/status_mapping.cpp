#include "handler/status_mapping.hpp"

#include <algorithm>

#include "api/v1/codec.hpp"
#include "core/kube/resource.hpp"

namespace kv::handler {
namespace {

using api::v1::Condition;
using api::v1::VirtualMachineInstance;
using api::v1::VirtualMachineInstanceStatus;
using api::v1::VmiNetworkInterface;
using api::v1::VmiPhase;
namespace json = core::json;

struct Ending {
  VmiPhase phase = VmiPhase::failed;
  std::string reason;   // status.reason, CamelCase
  std::string message;  // for humans, in the Ready condition
};

// libvirt's stop detail (the launcher's shutdown/crashed event reason) -> how the VM ended.
std::optional<Ending> ending_from_stop_reason(const std::string& stop_reason) {
  if (stop_reason == "shutdown")
    return Ending{VmiPhase::succeeded, "", ""};
  if (stop_reason == "destroyed")
    return Ending{VmiPhase::failed, "Destroyed",
                  "the VM was destroyed (it did not power off within the grace period, or was "
                  "killed)"};
  if (stop_reason == "failed")
    return Ending{VmiPhase::failed, "QemuExited", "QEMU exited unexpectedly"};
  if (stop_reason == "crashed" || stop_reason == "panicked")
    return Ending{VmiPhase::failed, "GuestCrashed", "the guest crashed"};
  return std::nullopt;
}

std::optional<Ending> ending_by_launcher_or_pod(const StatusInput& in, bool deleting);

// How the VM ended. A launcher pod deleted while its VMI is not (someone ran `kubectl delete pod`,
// or the node drained it) makes the launcher shut the guest down cleanly, but the user did not ask
// the VM to stop: as in KubeVirt, that VMI ends Failed, so RerunOnFailure restarts it too.
std::optional<Ending> ending_of(const StatusInput& in, bool deleting) {
  auto end = ending_by_launcher_or_pod(in, deleting);
  if (end && !deleting && in.pod.deleting && end->phase == VmiPhase::succeeded) {
    return Ending{VmiPhase::failed, "PodDeleted",
                  "the launcher pod " + in.pod.name + " was deleted while the VM ran"};
  }
  return end;
}

std::optional<Ending> ending_by_launcher_or_pod(const StatusInput& in, bool deleting) {
  const LauncherView& l = in.launcher;
  if (l.exit_reason) {
    const std::string& r = *l.exit_reason;
    if (r == "guest-shutdown")
      return Ending{VmiPhase::succeeded, "", ""};
    if (r == "killed")
      return ending_from_stop_reason("destroyed");
    if (r == "crashed") {
      auto e = ending_from_stop_reason(l.stop_reason);
      if (e && e->phase == VmiPhase::failed)
        return e;
      return Ending{VmiPhase::failed, "QemuExited", "QEMU exited unexpectedly"};
    }
    if (r == "no-vm") {
      if (deleting)
        return Ending{VmiPhase::succeeded, "", ""};
      return Ending{VmiPhase::failed, "LauncherStopped",
                    "virt-launcher stopped before the VM started"};
    }
    std::string msg = "virt-launcher failed";
    if (l.sync_error)
      msg += ": " + *l.sync_error;
    return Ending{VmiPhase::failed, "LauncherFailed", msg};
  }
  // The domain already stopped; the launcher's `exiting` follows at once, but the stop event
  // alone says how it ended.
  if (l.domain && (l.domain->state == "shutoff" || l.domain->state == "crashed")) {
    if (auto e = ending_from_stop_reason(l.stop_reason))
      return e;
  }
  if (l.connected)
    return std::nullopt;
  // No word from the launcher: the pod tells.
  if (in.pod.exists) {
    if (in.pod.phase == "Succeeded")
      return Ending{VmiPhase::succeeded, "", ""};
    if (in.pod.phase == "Failed")
      return Ending{VmiPhase::failed, "PodFailed",
                    "the launcher pod " + in.pod.name + " failed" +
                        (in.pod.failure_message.empty() ? "" : ": " + in.pod.failure_message)};
    return std::nullopt;
  }
  // The pod is gone. Before Running the controller decides (it owns pod problems until then).
  if (in.vmi->status && in.vmi->status->phase == VmiPhase::running)
    return Ending{VmiPhase::failed, "PodDeleted", "the launcher pod is gone"};
  return std::nullopt;
}

bool domain_live(const std::string& state) {
  return state == "running" || state == "paused" || state == "blocked" ||
         state == "shutting-down" || state == "pmsuspended";
}

Condition* find_condition(std::vector<Condition>& conds, const std::string& type) {
  for (auto& c : conds)
    if (c.type == type)
      return &c;
  return nullptr;
}

// Sets a condition; the transition time moves only when the status does.
void set_condition(std::vector<Condition>& conds, const std::string& type,
                   const std::string& status, const std::string& reason, const std::string& message,
                   const std::string& now) {
  Condition* c = find_condition(conds, type);
  if (!c) {
    conds.push_back(Condition{type, status, {}, now, {}, {}});
    c = &conds.back();
  } else if (c->status != status) {
    c->status = status;
    c->last_transition_time = now;
  }
  c->reason = reason.empty() ? std::nullopt : std::optional<std::string>(reason);
  c->message = message.empty() ? std::nullopt : std::optional<std::string>(message);
}

void remove_condition(std::vector<Condition>& conds, const std::string& type) {
  conds.erase(std::remove_if(conds.begin(), conds.end(),
                             [&](const Condition& c) { return c.type == type; }),
              conds.end());
}

// SoftwareEmulation (upstream's condition type): True while the guest runs under TCG, gone under
// KVM; kept as it is while the launcher has not said (an older launcher).
void set_emulation(VirtualMachineInstanceStatus& st, const std::string& accelerator,
                   const std::string& now) {
  if (accelerator == "tcg")
    set_condition(st.conditions, "SoftwareEmulation", "True", "KVMUnavailable",
                  "VM running with software emulation (TCG, much slower): /dev/kvm is not usable "
                  "in the launcher pod on node " +
                      st.node_name.value_or("") + " (useEmulation is on)",
                  now);
  else if (accelerator == "kvm")
    remove_condition(st.conditions, "SoftwareEmulation");
}

// The pod's addresses, IPv4 first (upstream's order for a dual-stack pod).
std::vector<std::string> ipv4_first(std::vector<std::string> ips) {
  std::stable_partition(ips.begin(), ips.end(),
                        [](const std::string& ip) { return ip.find(':') == std::string::npos; });
  return ips;
}

std::vector<VmiNetworkInterface> interfaces_of(const StatusInput& in) {
  std::vector<VmiNetworkInterface> out;
  if (!in.launcher.domain)
    return {};
  const std::vector<std::string> ips = ipv4_first(in.pod.pod_ips);
  for (const auto& i : in.launcher.domain->interfaces) {
    VmiNetworkInterface n;
    n.name = i.name;
    if (!i.mac.empty())
      n.mac = i.mac;
    // The pod network's binding (masquerade, passt) puts the guest behind the pod's address:
    // the address others reach it at is the pod's, as upstream reports.
    if (!ips.empty()) {
      n.ip_address = ips.front();
      n.ip_addresses = ips;
    }
    n.info_source = "domain";
    out.push_back(std::move(n));
  }
  return out;
}

// A running, unpaused VM: Ready, or with a readiness probe what the pod's Ready says.
void set_ready_while_running(VirtualMachineInstanceStatus& st, const StatusInput& in) {
  if (!in.vmi->spec.readiness_probe) {
    set_condition(st.conditions, "Ready", "True", "", "", in.now);
  } else if (!in.pod.ready) {
    set_condition(st.conditions, "Ready", "False", "PodConditionMissing",
                  "virt-launcher pod is missing the Ready condition", in.now);
  } else {
    set_condition(st.conditions, "Ready", in.pod.ready->status, in.pod.ready->reason,
                  in.pod.ready->message, in.now);
  }
}

}  // namespace

PodView pod_view_from(const json::Value& pod) {
  PodView p;
  p.exists = true;
  p.name = std::string(core::kube::meta::name(pod));
  p.uid = std::string(core::kube::meta::uid(pod));
  p.deleting = core::kube::meta::has_deletion_timestamp(pod);
  const json::Value* status = json::find(pod, "status");
  if (!status)
    return p;
  p.phase = std::string(json::get_string(*status, "phase").value_or(""));
  if (auto ip = json::get_string(*status, "podIP"); ip && !ip->empty())
    p.pod_ips.emplace_back(*ip);
  if (const json::Value* ips = json::find(*status, "podIPs"); ips && ips->IsArray()) {
    for (const auto& v : ips->GetArray()) {
      std::string ip(json::get_string(v, "ip").value_or(""));
      if (!ip.empty() && std::find(p.pod_ips.begin(), p.pod_ips.end(), ip) == p.pod_ips.end())
        p.pod_ips.push_back(ip);
    }
  }
  if (const json::Value* conds = json::find(*status, "conditions"); conds && conds->IsArray()) {
    for (const auto& c : conds->GetArray()) {
      if (json::get_string(c, "type").value_or("") == "Ready")
        p.ready = PodView::Readiness{std::string(json::get_string(c, "status").value_or("")),
                                     std::string(json::get_string(c, "reason").value_or("")),
                                     std::string(json::get_string(c, "message").value_or(""))};
    }
  }
  if (const json::Value* cs = json::find(*status, "containerStatuses"); cs && cs->IsArray()) {
    for (const auto& c : cs->GetArray()) {
      const json::Value* t = json::find_path(c, {"state", "terminated"});
      if (!t)
        continue;
      int64_t code = json::get_int(*t, "exitCode").value_or(0);
      if (code == 0)
        continue;
      p.failure_message = "container " + std::string(json::get_string(c, "name").value_or("")) +
                          " terminated (" +
                          std::string(json::get_string(*t, "reason").value_or("Error")) +
                          ", exit code " + std::to_string(code) + ")";
      break;
    }
  }
  if (p.failure_message.empty())
    if (auto m = json::get_string(*status, "message"))
      p.failure_message = std::string(*m);
  return p;
}

bool is_final(const VirtualMachineInstance& vmi) {
  return vmi.status && vmi.status->phase &&
         (*vmi.status->phase == VmiPhase::succeeded || *vmi.status->phase == VmiPhase::failed);
}

bool handler_owns(const VirtualMachineInstance& vmi, const std::string& node_name) {
  if (!vmi.status || !vmi.status->phase || vmi.status->node_name.value_or("") != node_name)
    return false;
  return *vmi.status->phase == VmiPhase::scheduled || *vmi.status->phase == VmiPhase::running;
}

bool handler_starts_early(const VirtualMachineInstance& vmi, const PodView& pod,
                          const std::string& node_name) {
  if (!vmi.status || vmi.status->phase != VmiPhase::scheduling || vmi.metadata.deletion_timestamp ||
      !pod.exists || pod.deleting || (pod.phase != "Pending" && pod.phase != "Running"))
    return false;
  auto it = vmi.status->active_pods.find(pod.uid);
  return it != vmi.status->active_pods.end() && it->second == node_name;
}

VirtualMachineInstanceStatus desired_status(const StatusInput& in) {
  const VirtualMachineInstance& vmi = *in.vmi;
  VirtualMachineInstanceStatus st = vmi.status.value_or(VirtualMachineInstanceStatus{});
  if (!st.phase || (*st.phase != VmiPhase::scheduled && *st.phase != VmiPhase::running))
    return st;  // before Scheduled: the controller's; final: never left
  const VmiPhase before = *st.phase;
  const bool deleting = vmi.metadata.deletion_timestamp.has_value();
  const LauncherView& l = in.launcher;

  if (auto end = ending_of(in, deleting)) {
    st.phase = end->phase;
    if (end->reason.empty())
      st.reason.reset();
    else
      st.reason = end->reason;
    remove_condition(st.conditions, "Paused");
    if (end->phase == VmiPhase::succeeded)
      set_condition(st.conditions, "Ready", "False", "Succeeded", "the VM has shut down", in.now);
    else
      set_condition(st.conditions, "Ready", "False", end->reason, end->message, in.now);
  } else if (l.connected && l.domain && domain_live(l.domain->state)) {
    st.phase = VmiPhase::running;
    st.reason.reset();  // a reason explains a final phase; a running VM has none
    const bool paused = l.domain->state == "paused";
    if (paused) {
      set_condition(st.conditions, "Ready", "False", "Paused", "the VM is paused", in.now);
      set_condition(st.conditions, "Paused", "True", "PausedByUser", "VMI was paused by user",
                    in.now);
    } else {
      set_ready_while_running(st, in);
      remove_condition(st.conditions, "Paused");
    }
    st.interfaces = interfaces_of(in);
    set_emulation(st, l.domain->accelerator, in.now);
  } else if (l.sync_error) {
    // As upstream: the VMI stays where it is and Synchronized=False says why the launcher could
    // not start the VM (a containerDisk path absent from its image, a disk that is not qcow2 or
    // raw); a retry would not help, so nothing restarts it.
    set_condition(st.conditions, "Synchronized", "False", kSyncFailedReason, *l.sync_error, in.now);
  }
  // Otherwise (launcher not reached yet, or starting): keep what is written.

  if (*st.phase != before)
    st.phase_transition_timestamps.push_back({*st.phase, in.now});
  return st;
}

std::optional<std::string> new_sync_failure(const VirtualMachineInstance& vmi,
                                            const VirtualMachineInstanceStatus& desired) {
  auto sync = std::find_if(desired.conditions.begin(), desired.conditions.end(),
                           [](const Condition& c) { return c.type == "Synchronized"; });
  if (sync == desired.conditions.end() || sync->reason.value_or("") != kSyncFailedReason)
    return std::nullopt;
  if (vmi.status)
    for (const auto& c : vmi.status->conditions)
      if (c.type == "Synchronized" && c.reason == sync->reason && c.message == sync->message)
        return std::nullopt;
  return sync->message.value_or("");
}

std::optional<std::string> status_patch(const VirtualMachineInstance& vmi,
                                        const VirtualMachineInstanceStatus& desired) {
  const VirtualMachineInstanceStatus current = vmi.status.value_or(VirtualMachineInstanceStatus{});
  if (current.phase == desired.phase && current.reason == desired.reason &&
      current.phase_transition_timestamps == desired.phase_transition_timestamps &&
      current.conditions == desired.conditions && current.interfaces == desired.interfaces)
    return std::nullopt;

  json::Document doc;
  auto& a = doc.GetAllocator();
  json::Value encoded = api::v1::encode(desired, a);
  doc.SetObject();
  json::Value meta(rapidjson::kObjectType);
  json::set(meta, "resourceVersion", vmi.metadata.resource_version.value_or(""), a);
  json::set(doc, "metadata", std::move(meta), a);
  json::Value status(rapidjson::kObjectType);
  // Merge patch: a field we own that is absent from `desired` is deleted with null; lists are
  // replaced whole (safe: the resourceVersion precondition guards against lost updates).
  for (const char* key :
       {"phase", "reason", "phaseTransitionTimestamps", "conditions", "interfaces"}) {
    if (json::Value* v = json::find(encoded, key))
      json::set(status, key, json::Value(*v, a), a);
    else
      json::set(status, key, json::Value(rapidjson::kNullType), a);
  }
  json::set(doc, "status", std::move(status), a);
  return json::to_string(doc);
}

}  // namespace kv::handler
