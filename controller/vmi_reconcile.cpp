#include "controller/vmi_reconcile.hpp"

#include <algorithm>

#include "api/v1/codec.hpp"
#include "controller/pod_render.hpp"
#include "core/kube/kubeconfig.hpp"
#include "core/kube/resource.hpp"

namespace kv::controller {
namespace {

using api::v1::Condition;
using api::v1::VmiPhase;
namespace json = core::json;

// Waiting reasons a user must act on; the others (ContainerCreating, PodInitializing) pass.
bool actionable_waiting(std::string_view reason) {
  return reason == "ErrImagePull" || reason == "ImagePullBackOff" || reason == "InvalidImageName" ||
         reason == "CreateContainerConfigError" || reason == "CreateContainerError" ||
         reason == "ErrImageNeverPull";
}

void read_statuses(const json::Value* statuses, LauncherPod& p, bool init) {
  if (!statuses || !statuses->IsArray())
    return;
  for (const auto& cs : statuses->GetArray()) {
    const std::string name(json::get_string(cs, "name").value_or(""));
    if (!init && name == kComputeContainer) {
      p.ready = json::get_bool(cs, "ready").value_or(false);
      p.compute_running = json::find_path(cs, {"state", "running"}) != nullptr;
    }
    if (const json::Value* w = json::find_path(cs, {"state", "waiting"})) {
      std::string reason(json::get_string(*w, "reason").value_or(""));
      if (!p.waiting_reason && actionable_waiting(reason)) {
        p.waiting_reason = reason;
        p.waiting_message = "container " + name + ": " +
                            std::string(json::get_string(*w, "message").value_or(reason));
      }
    }
    if (const json::Value* t = json::find_path(cs, {"state", "terminated"})) {
      int64_t code = json::get_int(*t, "exitCode").value_or(0);
      if (p.failure_message.empty() && code != 0) {
        p.failure_message = "container " + name + " terminated (" +
                            std::string(json::get_string(*t, "reason").value_or("Error")) +
                            ", exit code " + std::to_string(code) + ")";
        if (auto m = json::get_string(*t, "message"); m && !m->empty())
          p.failure_message += ": " + std::string(*m);
      }
    }
  }
}

VmiPhase phase_of(const api::v1::VirtualMachineInstance& vmi) {
  return vmi.status && vmi.status->phase ? *vmi.status->phase : VmiPhase::pending;
}

}  // namespace

LauncherPod launcher_pod_from(const json::Value& pod) {
  LauncherPod p;
  p.name = std::string(core::kube::meta::name(pod));
  p.uid = std::string(core::kube::meta::uid(pod));
  p.deleting = core::kube::meta::has_deletion_timestamp(pod);
  if (const json::Value* spec = json::find(pod, "spec"))
    p.node_name = std::string(json::get_string(*spec, "nodeName").value_or(""));
  const json::Value* status = json::find(pod, "status");
  if (!status)
    return p;
  p.phase = std::string(json::get_string(*status, "phase").value_or(""));
  if (const json::Value* conds = json::find(*status, "conditions"); conds && conds->IsArray()) {
    for (const auto& c : conds->GetArray()) {
      if (json::get_string(c, "type").value_or("") == "PodScheduled" &&
          json::get_string(c, "status").value_or("") == "False" &&
          json::get_string(c, "reason").value_or("") == "Unschedulable")
        p.unschedulable_message = std::string(json::get_string(c, "message").value_or(""));
    }
  }
  read_statuses(json::find(*status, "initContainerStatuses"), p, true);
  read_statuses(json::find(*status, "containerStatuses"), p, false);
  if (p.phase == "Failed" && p.failure_message.empty()) {
    std::string reason(json::get_string(*status, "reason").value_or(""));
    std::string message(json::get_string(*status, "message").value_or(""));
    p.failure_message = reason.empty() && message.empty()
                            ? std::string("the launcher pod failed")
                            : reason + (message.empty() ? "" : ": " + message);
  }
  return p;
}

namespace {

bool has_vmi_finalizer(const api::v1::VirtualMachineInstance& vmi) {
  const auto& f = vmi.metadata.finalizers;
  return std::find(f.begin(), f.end(), kVmiFinalizer) != f.end();
}

// A VMI being deleted: its live pods go; the finalizer goes once no pod is left. The status stays.
VmiActions while_deleting(const VmiInputs& in) {
  VmiActions out;
  for (const auto& p : in.pods)
    if (!p.deleting)
      out.delete_pods.push_back(p.name);
  out.remove_finalizer = in.pods.empty() && has_vmi_finalizer(*in.vmi);
  out.status = in.vmi->status.value_or(api::v1::VirtualMachineInstanceStatus{});
  return out;
}

// The pod we follow: the first live one by name; any other live one is a duplicate to delete.
const LauncherPod* followed_pod(const std::vector<LauncherPod>& pods, VmiActions& out) {
  std::vector<const LauncherPod*> live;
  for (const auto& p : pods)
    if (!p.deleting)
      live.push_back(&p);
  std::sort(live.begin(), live.end(),
            [](const LauncherPod* a, const LauncherPod* b) { return a->name < b->name; });
  const LauncherPod* pod = live.empty() ? nullptr : live.front();
  for (size_t i = 1; i < live.size(); ++i) {
    out.delete_pods.push_back(live[i]->name);
    out.events.push_back(
        {"Warning", "DuplicateLauncherPod",
         "deleted launcher pod " + live[i]->name + "; " + pod->name + " runs this VMI"});
  }
  return pod;
}

// Writes the VMI's phase and conditions into the actions, with an Event for each new problem.
class StatusChanges {
 public:
  StatusChanges(VmiActions& out, const std::string& now) : out_(out), now_(now) {}

  api::v1::VirtualMachineInstanceStatus& status() { return out_.status; }
  VmiActions& actions() { return out_; }

  // Phase Failed, with the reason in the status, a Synchronized=False condition and an Event.
  void fail(const std::string& reason, const std::string& message) {
    out_.status.phase = VmiPhase::failed;
    out_.status.reason = reason;
    set_condition(out_.status.conditions,
                  Condition{"Synchronized", "False", {}, {}, reason, message}, now_);
    out_.events.push_back({"Warning", reason, message});
  }
  // Condition type=False with this reason; an Event unless it already said so.
  void set_problem(const std::string& type, const std::string& reason, const std::string& message) {
    const Condition* old = find_condition(out_.status.conditions, type);
    if (!old || old->status != "False" || old->reason.value_or("") != reason ||
        old->message.value_or("") != message)
      out_.events.push_back({"Warning", reason, message});
    set_condition(out_.status.conditions, Condition{type, "False", {}, {}, reason, message}, now_);
  }
  void clear_problem(const std::string& type) { remove_condition(out_.status.conditions, type); }

 private:
  VmiActions& out_;
  const std::string& now_;
};

// Pending/Scheduling/Scheduled with no live pod: create one, wait for it, or fail.
void without_pod(const VmiInputs& in, VmiPhase phase, StatusChanges& c) {
  const auto& vmi = *in.vmi;
  if (!in.pods.empty()) {
    c.fail("PodTerminating",
           "the launcher pod " + in.pods.front().name + " is being deleted before the VM started");
  } else if (in.pod_creation_expected) {
    // Our create is in flight or not yet in the cache: wait for the informer.
  } else if (phase != VmiPhase::pending) {
    c.fail("PodDeleted", "the launcher pod was deleted before the VM started");
  } else if (!in.missing_pvcs.empty()) {
    std::string msg;
    for (const auto& claim : in.missing_pvcs)
      msg += (msg.empty() ? "" : ", ") + vmi.metadata.namespace_.value_or("") + "/" + claim;
    c.set_problem("Synchronized", "FailedPvcNotFound",
                  "PersistentVolumeClaim " + msg +
                      " does not exist; create it and the VM "
                      "starts");
    c.actions().requeue_after = std::chrono::seconds(30);
  } else {
    c.clear_problem("Synchronized");
    c.actions().create_pod = true;
    // The pod exists once the create succeeds; saying so now saves a status write per VMI
    // (the executor keeps Pending if the create fails).
    c.status().phase = VmiPhase::scheduling;
    c.actions().events.push_back(
        {"Normal", "SuccessfulCreate", "Created virtual machine pod " + launcher_pod_name(vmi)});
  }
}

// Pending/Scheduling/Scheduled following pod: its end fails the VMI; while it schedules, its
// troubles become conditions; running and ready on a node, the VMI is Scheduled there.
void with_pod(const VmiInputs& in, const LauncherPod& pod, VmiPhase phase, StatusChanges& c) {
  auto& st = c.status();
  st.active_pods[pod.uid] = pod.node_name;
  if (pod.phase == "Failed") {
    c.fail("PodFailed", "the launcher pod " + pod.name + " failed: " + pod.failure_message);
  } else if (pod.phase == "Succeeded" && phase != VmiPhase::scheduled) {
    c.fail("PodSucceeded", "the launcher pod " + pod.name + " exited before the VM was scheduled");
  } else if (phase == VmiPhase::scheduled) {
    if (in.handler_stale && pod.phase != "Running")
      c.fail("NodeUnresponsive", "virt-handler on node " + st.node_name.value_or("") +
                                     " is unresponsive and the launcher pod is not running");
  } else {
    st.phase = VmiPhase::scheduling;
    if (pod.unschedulable_message)
      c.set_problem("PodScheduled", "Unschedulable",
                    unschedulable_message(*pod.unschedulable_message, in.emulation_allowed));
    else
      c.clear_problem("PodScheduled");
    if (pod.waiting_reason)
      c.set_problem("Synchronized", *pod.waiting_reason, pod.waiting_message);
    else
      c.clear_problem("Synchronized");
    // Running is enough (a ready container runs): the VMI's readiness probe, if any, keeps the
    // container not ready until the guest answers, and that is the VMI's Ready condition.
    if (pod.phase == "Running" && (pod.ready || pod.compute_running) && !pod.node_name.empty()) {
      st.phase = VmiPhase::scheduled;
      st.node_name = pod.node_name;
      c.clear_problem("PodScheduled");
      c.clear_problem("Synchronized");
    }
  }
}

// Running (the handler's phase): Failed only when the handler is gone and the pod not running.
void while_running(const VmiInputs& in, const LauncherPod* pod, StatusChanges& c) {
  auto& st = c.status();
  if (pod)
    st.active_pods[pod->uid] = pod->node_name;
  if (in.handler_stale && (!pod || pod->phase != "Running"))
    c.fail("NodeUnresponsive", "virt-handler on node " + st.node_name.value_or("") +
                                   " is unresponsive and the launcher pod is not running");
}

// A phase transition timestamp, and an Event for every phase but Failed (fail() has its own).
void record_phase_change(const api::v1::VirtualMachineInstance& vmi, VmiPhase before,
                         const std::string& now, VmiActions& out) {
  auto& st = out.status;
  if (*st.phase == before && vmi.status && vmi.status->phase)
    return;
  st.phase_transition_timestamps.push_back({*st.phase, now});
  if (*st.phase != VmiPhase::failed) {
    std::string name(api::v1::to_string(*st.phase));
    std::string msg = "VirtualMachineInstance is " + name;
    if (*st.phase == VmiPhase::scheduled)
      msg += " on node " + st.node_name.value_or("");
    out.events.push_back({"Normal", name, msg});
  }
}

// A deleted pod must not linger in activePods.
void prune_active_pods(std::map<std::string, std::string>& active_pods,
                       const std::vector<LauncherPod>& pods) {
  for (auto it = active_pods.begin(); it != active_pods.end();) {
    bool present = std::any_of(pods.begin(), pods.end(),
                               [&](const LauncherPod& p) { return p.uid == it->first; });
    it = present ? std::next(it) : active_pods.erase(it);
  }
}

// The node as a label too, as upstream: `kubectl get vmi -l kubevirt.io/nodeName=n1`. It is
// also how virt-handler selects its VMIs, and the handler starts a VM while the VMI is still
// Scheduling (handler_starts_early): so the label comes as soon as the launcher pod is bound to
// a node, before status.nodeName.
std::optional<std::string> node_label(const api::v1::VirtualMachineInstance& vmi,
                                      const api::v1::VirtualMachineInstanceStatus& st,
                                      const LauncherPod* pod) {
  std::string node = st.node_name.value_or("");
  if (node.empty() && pod && !pod->deleting && !pod->node_name.empty() &&
      (pod->phase == "Pending" || pod->phase == "Running"))
    node = pod->node_name;
  if (node.empty())
    return std::nullopt;
  auto it = vmi.metadata.labels.find(kNodeNameLabel);
  if (it == vmi.metadata.labels.end() || it->second != node)
    return node;
  return std::nullopt;
}

}  // namespace

std::string unschedulable_message(const std::string& scheduler_message, bool emulation_allowed) {
  if (scheduler_message.find(std::string("Insufficient ") + kKvmResource) == std::string::npos)
    return scheduler_message;
  std::string msg =
      emulation_allowed
          ? std::string("no node with free KVM (") + kKvmResource +
                ") can take this VM now: the nodes that offer KVM are full or do not match"
          : std::string("no node offers KVM (") + kKvmResource +
                ") and software emulation is off, so this VM cannot run. Run it on a node with a "
                "usable /dev/kvm, or allow emulation (TCG, much slower): kubectl -n kubevirt patch "
                "configmap kubevirt-config --type merge -p "
                "'{\"data\":{\"useEmulation\":\"true\"}}'";
  return msg + ". Scheduler: " + scheduler_message;
}

VmiActions reconcile_vmi(const VmiInputs& in) {
  const auto& vmi = *in.vmi;
  if (vmi.metadata.deletion_timestamp)
    return while_deleting(in);
  const std::string now = core::kube::format_rfc3339(in.now);
  VmiActions out;
  out.status = vmi.status.value_or(api::v1::VirtualMachineInstanceStatus{});
  auto& st = out.status;
  const VmiPhase before = phase_of(vmi);
  if (!st.phase)
    st.phase = VmiPhase::pending;
  out.add_finalizer = !has_vmi_finalizer(vmi);
  if (is_final(vmi)) {
    // Finished pods stay for their logs; running ones go.
    for (const auto& p : in.pods)
      if (!p.deleting && p.phase != "Succeeded" && p.phase != "Failed")
        out.delete_pods.push_back(p.name);
    return out;
  }

  const LauncherPod* pod = followed_pod(in.pods, out);
  StatusChanges changes(out, now);
  const VmiPhase phase = *st.phase;
  if (phase == VmiPhase::pending || phase == VmiPhase::scheduling || phase == VmiPhase::scheduled) {
    if (pod)
      with_pod(in, *pod, phase, changes);
    else
      without_pod(in, phase, changes);
  } else if (phase == VmiPhase::running) {
    while_running(in, pod, changes);
  }
  record_phase_change(vmi, before, now, out);
  prune_active_pods(st.active_pods, in.pods);
  out.node_label = node_label(vmi, st, pod);
  return out;
}

}  // namespace kv::controller
