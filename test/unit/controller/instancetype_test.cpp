// The VM controller's instancetype step (controller/instancetype) on a fake KubeClient: revisions
// stored once and recorded in the VM's status, the VMI expanded from them (so a later edit of the
// instancetype changes nothing), and a missing instancetype stopping the VMI's creation with the
// Failure condition upstream sets.
#include "controller/instancetype.hpp"

#include <catch2/catch.hpp>

#include "api/v1/codec.hpp"
#include "controller/vm_reconcile.hpp"
#include "core/yaml.hpp"
#include "test/fakes/fake_kube_client.hpp"

using namespace kv;
using namespace kv::controller;
namespace json = core::json;
namespace kube = core::kube;

namespace {

const kube::Resource kClusterInstancetypes{"instancetype.kubevirt.io", "v1beta1",
                                           "virtualmachineclusterinstancetypes",
                                           "VirtualMachineClusterInstancetype", false};
const kube::Resource kPreferences{"instancetype.kubevirt.io", "v1beta1",
                                  "virtualmachinepreferences", "VirtualMachinePreference", true};
const kube::Resource kRevisions{"apps", "v1", "controllerrevisions", "ControllerRevision", true};

json::Document doc(const std::string& yaml) {
  auto docs = core::yaml::to_json(yaml);
  REQUIRE(docs.ok());
  return std::move(docs->front());
}

void seed(test::FakeKubeClient& c) {
  REQUIRE(c.create(kClusterInstancetypes, "", doc(R"(
apiVersion: instancetype.kubevirt.io/v1beta1
kind: VirtualMachineClusterInstancetype
metadata: {name: u1.nano, uid: it-uid, generation: 1}
spec: {cpu: {guest: 2}, memory: {guest: 512Mi}}
)"))
              .ok());
  REQUIRE(c.create(kPreferences, "ns", doc(R"(
apiVersion: instancetype.kubevirt.io/v1beta1
kind: VirtualMachinePreference
metadata: {name: pref, namespace: ns, uid: pref-uid, generation: 1}
spec: {cpu: {preferredCPUTopology: cores}, devices: {preferredDiskBus: sata}}
)"))
              .ok());
}

api::v1::VirtualMachine vm(const std::string& instancetype = "u1.nano") {
  auto v = api::v1::decode_vm(doc(R"(
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata: {name: web, namespace: ns, uid: vm-uid}
spec:
  runStrategy: Always
  instancetype: {name: )" + instancetype +
                                  R"(, kind: VirtualMachineClusterInstancetype}
  preference: {name: pref, kind: VirtualMachinePreference}
  template:
    spec:
      domain:
        devices:
          disks: [{name: root}]
      volumes: [{name: root, containerDisk: {image: x}}]
)"));
  REQUIRE(v.ok());
  return *v;
}

VmActions creating(const api::v1::VirtualMachine& v) {
  VmActions a;
  a.status = v.status.value_or(api::v1::VirtualMachineStatus{});
  a.create_vmi = vmi_from_template(v);
  a.events.push_back({"Normal", "SuccessfulCreate", "Created virtual machine instance web"});
  return a;
}

// upstream's revision name: <vm>-<object>-v1beta1-<object uid>-<generation>; the fake API server
// gives the uid.
std::string revision(test::FakeKubeClient& c, const kube::Resource& r, const char* ns,
                     const char* name, int generation) {
  auto obj = c.get(r, ns, name);
  REQUIRE(obj.ok());
  return std::string("web-") + name + "-v1beta1-" + std::string(kube::meta::uid(*obj)) + "-" +
         std::to_string(generation);
}

}  // namespace

TEST_CASE("revisions are stored once, owned by the VM, and recorded in its status") {
  test::FakeKubeClient c;
  seed(c);
  auto v = vm();
  auto its = store_instancetype_revisions(c, v);
  REQUIRE_FALSE(its.error);
  REQUIRE(its.instancetype_ref);
  CHECK(its.instancetype_ref->name == "u1.nano");
  const std::string it_rev = revision(c, kClusterInstancetypes, "", "u1.nano", 1);
  CHECK(its.instancetype_ref->controller_revision_ref->name == it_rev);
  CHECK(its.preference_ref->controller_revision_ref->name ==
        revision(c, kPreferences, "ns", "pref", 1));
  CHECK(c.count(kRevisions) == 2);
  auto rev = c.get(kRevisions, "ns", it_rev);
  REQUIRE(rev.ok());
  CHECK(json::get_string((*rev)["metadata"]["ownerReferences"][0], "uid") == "vm-uid");

  // The status carries the refs; the next sync creates nothing.
  VmActions a = creating(v);
  REQUIRE(expand_instancetypes(c, its, v, a, Clock::now()).ok());
  CHECK(a.status.instancetype_ref == its.instancetype_ref);
  v.status = a.status;
  const int creates = c.calls("create");
  auto again = store_instancetype_revisions(c, v);
  CHECK_FALSE(again.error);
  CHECK(c.calls("create") == creates);
  CHECK(again.instancetype_ref == its.instancetype_ref);
}

TEST_CASE("the VMI is expanded from the revisions; editing the instancetype changes nothing") {
  test::FakeKubeClient c;
  seed(c);
  auto v = vm();
  auto its = store_instancetype_revisions(c, v);
  REQUIRE_FALSE(its.error);
  v.status = api::v1::VirtualMachineStatus{};
  v.status->instancetype_ref = its.instancetype_ref;
  v.status->preference_ref = its.preference_ref;

  // Someone doubles the instancetype afterwards.
  auto edited = c.get(kClusterInstancetypes, "", "u1.nano");
  REQUIRE(edited.ok());
  (*edited)["spec"]["memory"]["guest"].SetString("1Gi");
  (*edited)["metadata"]["generation"].SetInt64(2);  // as the API server counts spec changes
  REQUIRE(c.update(kClusterInstancetypes, "", *edited).ok());

  VmActions a = creating(v);
  REQUIRE(expand_instancetypes(c, its, v, a, Clock::now()).ok());
  REQUIRE(a.create_vmi);
  const auto& spec = a.create_vmi->spec;
  CHECK(spec.domain.memory->guest->to_string() == "512Mi");
  CHECK(spec.domain.cpu->cores == 2u);
  CHECK(spec.domain.cpu->sockets == 1u);
  CHECK(spec.domain.devices.disks[0].disk->bus == api::v1::DiskBus::sata);
  CHECK(a.create_vmi->metadata.annotations.at("kubevirt.io/cluster-instancetype-name") ==
        "u1.nano");
  CHECK(a.create_vmi->metadata.annotations.at("kubevirt.io/preference-name") == "pref");

  // A new matcher (another name) takes a new revision of what the object is now.
  auto moved = vm("u1.nano");
  moved.status = v.status;
  moved.spec.instancetype->name = "u1.nano";
  moved.status->instancetype_ref->name = "u1.small";  // as if the VM named another before
  auto fresh = store_instancetype_revisions(c, moved);
  REQUIRE_FALSE(fresh.error);
  CHECK(fresh.instancetype_ref->controller_revision_ref->name ==
        revision(c, kClusterInstancetypes, "", "u1.nano", 2));
  CHECK(fresh.instancetype_ref->controller_revision_ref !=
        its.instancetype_ref->controller_revision_ref);
}

TEST_CASE("a missing instancetype: no VMI, the Failure condition FailedFindInstancetype, retried") {
  test::FakeKubeClient c;
  seed(c);
  auto v = vm("no-such");
  auto its = store_instancetype_revisions(c, v);
  REQUIRE(its.error);
  CHECK(its.reason == "FailedFindInstancetype");
  VmActions a = creating(v);
  auto st = expand_instancetypes(c, its, v, a, Clock::now());
  CHECK_FALSE(st.ok());
  CHECK_FALSE(a.create_vmi);
  const auto* cond = find_condition(a.status.conditions, "Failure");
  REQUIRE(cond);
  CHECK(cond->reason == "FailedFindInstancetype");
  CHECK(cond->message ==
        "virtualmachineclusterinstancetypes.instancetype.kubevirt.io \"no-such\" not found");
  bool warned = false, created_event = false;
  for (const auto& e : a.events) {
    warned = warned || (e.type == "Warning" && e.reason == "FailedFindInstancetype");
    created_event = created_event || e.reason == "SuccessfulCreate";
  }
  CHECK(warned);
  CHECK_FALSE(created_event);
}

TEST_CASE("a template that conflicts with the stored instancetype creates no VMI") {
  test::FakeKubeClient c;
  seed(c);
  auto v = vm();
  v.spec.template_.spec.domain.cpu = api::v1::Cpu{};
  v.spec.template_.spec.domain.cpu->sockets = 4;
  auto its = store_instancetype_revisions(c, v);
  REQUIRE_FALSE(its.error);
  VmActions a = creating(v);
  auto st = expand_instancetypes(c, its, v, a, Clock::now());
  CHECK_FALSE(st.ok());
  CHECK_FALSE(a.create_vmi);
  const auto* cond = find_condition(a.status.conditions, "Failure");
  REQUIRE(cond);
  CHECK(cond->message ==
        "VMI conflicts with instancetype spec in fields: [spec.domain.cpu.sockets]");
}

TEST_CASE("a VM without matchers is left alone: no API calls") {
  test::FakeKubeClient c;
  auto v = vm();
  v.spec.instancetype.reset();
  v.spec.preference.reset();
  auto its = store_instancetype_revisions(c, v);
  CHECK_FALSE(its.used);
  VmActions a = creating(v);
  const auto before = *a.create_vmi;
  CHECK(expand_instancetypes(c, its, v, a, Clock::now()).ok());
  CHECK(*a.create_vmi == before);
  CHECK(c.calls("get") == 0);
  CHECK(c.calls("create") == 0);
}
