// KVM or TCG, from the launcher to the VMI: the launcher's status says which accelerator runs the
// guest (launcher_com), and the handler turns TCG into the SoftwareEmulation condition that
// `kubectl get vmi` shows (handler/status_mapping).
#include <catch2/catch.hpp>

#include "handler/status_mapping.hpp"
#include "launcher_com/protocol.hpp"

using namespace kv;
using api::v1::VmiPhase;
namespace proto = launcher_com::proto;

namespace {

api::v1::VirtualMachineInstance running_vmi() {
  api::v1::VirtualMachineInstance v;
  v.metadata.name = "vm1";
  v.metadata.namespace_ = "default";
  v.metadata.uid = "uid-1";
  api::v1::VirtualMachineInstanceStatus st;
  st.phase = VmiPhase::running;
  st.node_name = "node-a";
  v.status = st;
  return v;
}

handler::StatusInput input(const api::v1::VirtualMachineInstance& vmi, const std::string& accel) {
  handler::StatusInput in;
  in.vmi = &vmi;
  in.launcher.connected = in.launcher.ever_connected = true;
  proto::DomainStatus d;
  d.state = "running";
  d.reason = "booted";
  d.accelerator = accel;
  in.launcher.domain = d;
  in.pod.exists = true;
  in.pod.phase = "Running";
  in.pod.uid = "pod-uid";
  in.now = "2026-01-01T00:00:00Z";
  return in;
}

const api::v1::Condition* condition(const api::v1::VirtualMachineInstanceStatus& st,
                                    const std::string& type) {
  for (const auto& c : st.conditions)
    if (c.type == type)
      return &c;
  return nullptr;
}

}  // namespace

TEST_CASE("launcher status: the accelerator travels in the status, absent before a domain") {
  proto::Event e;
  e.kind = proto::EventKind::started;
  e.status.state = "running";
  e.status.accelerator = "tcg";
  auto back = proto::decode(proto::encode(e));
  REQUIRE(back.ok());
  CHECK(std::get<proto::Event>(*back).status.accelerator == "tcg");

  proto::Event none;
  none.kind = proto::EventKind::started;
  const std::string body = proto::encode(none);
  CHECK(body.find("accelerator") == std::string::npos);
  auto back2 = proto::decode(body);
  REQUIRE(back2.ok());
  CHECK(std::get<proto::Event>(*back2).status.accelerator.empty());
}

TEST_CASE("status: a guest under TCG has SoftwareEmulation=True; under KVM the condition goes") {
  auto vmi = running_vmi();
  auto st = handler::desired_status(input(vmi, "tcg"));
  const auto* c = condition(st, "SoftwareEmulation");
  REQUIRE(c);
  CHECK(c->status == "True");
  CHECK(c->reason == "KVMUnavailable");
  CHECK(c->message.value_or("").find("TCG") != std::string::npos);
  CHECK(c->message.value_or("").find("node-a") != std::string::npos);
  // Stored, the same answer changes nothing (no flapping writes).
  vmi.status = st;
  CHECK_FALSE(handler::status_patch(vmi, handler::desired_status(input(vmi, "tcg"))));

  auto kvm = handler::desired_status(input(vmi, "kvm"));
  CHECK_FALSE(condition(kvm, "SoftwareEmulation"));
  // A launcher that does not say (an older one) leaves the condition as written.
  auto unknown = handler::desired_status(input(vmi, ""));
  CHECK(condition(unknown, "SoftwareEmulation"));
}
