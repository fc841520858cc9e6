#pragma once
// Small builders for the controller's table tests: a VM or VMI in a given situation, in a line.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "api/v1/types.hpp"
#include "core/kube/kubeconfig.hpp"

namespace kv::controller::testing {

using namespace api::v1;

inline std::chrono::system_clock::time_point t0() {
  return *core::kube::parse_rfc3339("2026-01-01T00:00:00Z");
}

inline VirtualMachineInstanceSpec small_spec() {
  VirtualMachineInstanceSpec s;
  s.domain.memory = Memory{*parse_quantity("128Mi")};
  s.termination_grace_period_seconds = 30;
  return s;
}

inline VirtualMachine make_vm(std::optional<RunStrategy> rs, std::optional<bool> running = {}) {
  VirtualMachine vm;
  vm.metadata.name = "vm1";
  vm.metadata.namespace_ = "default";
  vm.metadata.uid = "vm-uid";
  vm.metadata.generation = 1;
  vm.spec.run_strategy = rs;
  vm.spec.running = running;
  vm.spec.template_.spec = small_spec();
  return vm;
}

inline VirtualMachineInstance make_vmi(std::optional<VmiPhase> phase, std::string uid = "vmi-1") {
  VirtualMachineInstance vmi;
  vmi.metadata.name = "vm1";
  vmi.metadata.namespace_ = "default";
  vmi.metadata.uid = uid;
  vmi.metadata.finalizers = {"foregroundDeleteVirtualMachine"};
  vmi.spec = small_spec();
  if (phase) {
    vmi.status = VirtualMachineInstanceStatus{};
    vmi.status->phase = phase;
    vmi.status->phase_transition_timestamps.push_back({*phase, "2026-01-01T00:00:00Z"});
  }
  return vmi;
}

inline void add_condition(VirtualMachineInstance& vmi, std::string type, std::string status,
                          std::string reason = {}) {
  if (!vmi.status)
    vmi.status = VirtualMachineInstanceStatus{};
  Condition c;
  c.type = std::move(type);
  c.status = std::move(status);
  if (!reason.empty())
    c.reason = std::move(reason);
  vmi.status->conditions.push_back(c);
}

inline StateChangeRequest start_request(bool paused = false) {
  StringMap data;
  if (paused)
    data["paused"] = "true";
  return StateChangeRequest{StateChangeAction::start, std::move(data), std::nullopt};
}
inline StateChangeRequest stop_request(std::optional<std::string> uid = std::nullopt) {
  return StateChangeRequest{StateChangeAction::stop, {}, std::move(uid)};
}

}  // namespace kv::controller::testing
