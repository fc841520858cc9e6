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
    if (!init && name == kComputeContainer)
      p.ready = json::get_bool(cs, "ready").value_or(false);
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

VmiActions reconcile_vmi(const VmiInputs& in) {
  const auto& vmi = *in.vmi;
  const std::string now = core::kube::format_rfc3339(in.now);
  VmiActions out;
  out.status = vmi.status.value_or(api::v1::VirtualMachineInstanceStatus{});
  auto& st = out.status;
  const VmiPhase before = phase_of(vmi);
  if (!st.phase)
    st.phase = VmiPhase::pending;
  const bool has_finalizer =
      std::find(vmi.metadata.finalizers.begin(), vmi.metadata.finalizers.end(), kVmiFinalizer) !=
      vmi.metadata.finalizers.end();

  if (vmi.metadata.deletion_timestamp) {
    for (const auto& p : in.pods)
      if (!p.deleting)
        out.delete_pods.push_back(p.name);
    if (in.pods.empty() && has_finalizer)
      out.remove_finalizer = true;
    out.status = vmi.status.value_or(api::v1::VirtualMachineInstanceStatus{});
    return out;
  }
  if (!has_finalizer)
    out.add_finalizer = true;

  if (is_final(vmi)) {
    for (const auto& p : in.pods)
      if (!p.deleting && p.phase != "Succeeded" && p.phase != "Failed")
        out.delete_pods.push_back(p.name);
    return out;
  }

  // The pod we follow: the first live one by name; any other live one is a duplicate.
  std::vector<const LauncherPod*> live;
  for (const auto& p : in.pods)
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

  std::vector<Condition>& conds = st.conditions;
  auto fail = [&](const std::string& reason, const std::string& message) {
    st.phase = VmiPhase::failed;
    st.reason = reason;
    set_condition(conds, Condition{"Synchronized", "False", {}, {}, reason, message}, now);
    out.events.push_back({"Warning", reason, message});
  };
  auto set_problem = [&](const std::string& type, const std::string& reason,
                         const std::string& message) {
    const Condition* old = find_condition(conds, type);
    if (!old || old->status != "False" || old->reason.value_or("") != reason ||
        old->message.value_or("") != message)
      out.events.push_back({"Warning", reason, message});
    set_condition(conds, Condition{type, "False", {}, {}, reason, message}, now);
  };
  auto clear_problem = [&](const std::string& type) { remove_condition(conds, type); };

  const VmiPhase phase = *st.phase;
  if (phase == VmiPhase::pending || phase == VmiPhase::scheduling || phase == VmiPhase::scheduled) {
    if (!pod) {
      if (!in.pods.empty()) {
        fail("PodTerminating", "the launcher pod " + in.pods.front().name +
                                   " is being deleted before the VM started");
      } else if (in.pod_creation_expected) {
        // Our create is in flight or not yet in the cache: wait for the informer.
      } else if (phase != VmiPhase::pending) {
        fail("PodDeleted", "the launcher pod was deleted before the VM started");
      } else if (!in.missing_pvcs.empty()) {
        std::string msg;
        for (const auto& c : in.missing_pvcs)
          msg += (msg.empty() ? "" : ", ") + vmi.metadata.namespace_.value_or("") + "/" + c;
        set_problem("Synchronized", "FailedPvcNotFound",
                    "PersistentVolumeClaim " + msg +
                        " does not exist; create it and the VM "
                        "starts");
        out.requeue_after = std::chrono::seconds(30);
      } else {
        clear_problem("Synchronized");
        out.create_pod = true;
        // The pod exists once the create succeeds; saying so now saves a status write per VMI
        // (the executor keeps Pending if the create fails).
        st.phase = VmiPhase::scheduling;
        out.events.push_back({"Normal", "SuccessfulCreate",
                              "Created virtual machine pod " + launcher_pod_name(vmi)});
      }
    } else {
      st.active_pods[pod->uid] = pod->node_name;
      if (pod->phase == "Failed") {
        fail("PodFailed", "the launcher pod " + pod->name + " failed: " + pod->failure_message);
      } else if (pod->phase == "Succeeded" && phase != VmiPhase::scheduled) {
        fail("PodSucceeded",
             "the launcher pod " + pod->name + " exited before the VM was scheduled");
      } else if (phase == VmiPhase::scheduled) {
        if (in.handler_stale && pod->phase != "Running")
          fail("NodeUnresponsive", "virt-handler on node " + st.node_name.value_or("") +
                                       " is unresponsive and the launcher pod is not running");
      } else {
        st.phase = VmiPhase::scheduling;
        if (pod->unschedulable_message)
          set_problem("PodScheduled", "Unschedulable", *pod->unschedulable_message);
        else
          clear_problem("PodScheduled");
        if (pod->waiting_reason)
          set_problem("Synchronized", *pod->waiting_reason, pod->waiting_message);
        else
          clear_problem("Synchronized");
        if (pod->phase == "Running" && pod->ready && !pod->node_name.empty()) {
          st.phase = VmiPhase::scheduled;
          st.node_name = pod->node_name;
          clear_problem("PodScheduled");
          clear_problem("Synchronized");
        }
      }
    }
  } else if (phase == VmiPhase::running) {
    if (pod)
      st.active_pods[pod->uid] = pod->node_name;
    if (in.handler_stale && (!pod || pod->phase != "Running"))
      fail("NodeUnresponsive", "virt-handler on node " + st.node_name.value_or("") +
                                   " is unresponsive and the launcher pod is not running");
  }

  if (*st.phase != before || !vmi.status || !vmi.status->phase) {
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
  for (auto it = st.active_pods.begin(); it != st.active_pods.end();) {
    bool present = std::any_of(in.pods.begin(), in.pods.end(),
                               [&](const LauncherPod& p) { return p.uid == it->first; });
    it = present ? std::next(it) : st.active_pods.erase(it);
  }
  // The node as a label too, as upstream: `kubectl get vmi -l kubevirt.io/nodeName=n1`.
  if (st.node_name && !st.node_name->empty()) {
    auto it = vmi.metadata.labels.find(kNodeNameLabel);
    if (it == vmi.metadata.labels.end() || it->second != *st.node_name)
      out.node_label = *st.node_name;
  }
  return out;
}

}  // namespace kv::controller
