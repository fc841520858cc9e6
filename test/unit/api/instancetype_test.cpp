// instancetype.kubevirt.io/v1beta1: codec, validation (the refusals and the CRD rules made from
// them), how an instancetype and a preference apply to a VMI, requirements, the revision
// bookkeeping, and the VM's matchers.
#include <catch2/catch.hpp>

#include "api/instancetype/apply.hpp"
#include "api/instancetype/codec.hpp"
#include "api/instancetype/crd.hpp"
#include "api/instancetype/revision.hpp"
#include "api/instancetype/validation.hpp"
#include "api/v1/codec.hpp"
#include "api/v1/validation.hpp"
#include "test_support.hpp"

using namespace kv;
using namespace kv::api::instancetype;
using api::v1::FieldErrors;
using api::v1::parse_quantity;
using api::v1::test::load;
using api::v1::test::one;
using api::v1::test::source_path;
using api::v1::test::yaml_files;
namespace json = core::json;

namespace {

std::vector<std::string> paths(const FieldErrors& errors) {
  std::vector<std::string> out;
  for (const auto& e : errors) {
    out.push_back(e.path);
  }
  return out;
}

// A whole object around the test's kind and spec.
std::string object(const std::string& yaml) {
  if (yaml.find("apiVersion:") != std::string::npos) {
    return yaml;
  }
  return "apiVersion: instancetype.kubevirt.io/v1beta1\nmetadata: {name: t}\n" + yaml;
}

VirtualMachineInstancetypeSpec instancetype(const std::string& yaml) {
  FieldErrors errors;
  auto spec = decode_instancetype_spec_of(one(object(yaml)), errors);
  INFO(api::v1::to_error(errors).message);
  REQUIRE(errors.empty());
  return spec;
}

VirtualMachinePreferenceSpec preference(const std::string& yaml) {
  FieldErrors errors;
  auto spec = decode_preference_spec_of(one(object(yaml)), errors);
  INFO(api::v1::to_error(errors).message);
  REQUIRE(errors.empty());
  return spec;
}

const char* kNano = R"(
apiVersion: instancetype.kubevirt.io/v1beta1
kind: VirtualMachineClusterInstancetype
metadata: {name: u1.nano}
spec:
  cpu: {guest: 1}
  memory: {guest: 512Mi}
)";

api::v1::VirtualMachineInstanceSpec vmi_spec(const std::string& yaml) {
  FieldErrors errors;
  auto spec = api::v1::decode_vmi_spec(one(yaml), "spec", errors);
  REQUIRE(errors.empty());
  return spec;
}

api::v1::Quantity q(const char* s) {
  return parse_quantity(s).value();
}

}  // namespace

TEST_CASE(
    "the starter set in manifests/instancetypes decodes, is valid, and has upstream's u1 sizes") {
  std::map<std::string, std::pair<uint32_t, std::string>> sizes;
  int preferences = 0;
  for (const auto& file : yaml_files(source_path("manifests/instancetypes"))) {
    for (const auto& doc : load(file)) {
      const std::string kind(json::get_string(doc, "kind").value_or(""));
      if (kind == "Kustomization") {
        continue;
      }
      INFO(file << " " << kind);
      if (kind == kClusterInstancetypeKind) {
        auto obj = decode_cluster_instancetype(doc);
        REQUIRE(obj.ok());
        CHECK(validate(obj->spec, "spec").empty());
        sizes[*obj->metadata.name] = {obj->spec.cpu.guest, obj->spec.memory.guest.to_string()};
        json::Document d;
        CHECK(json::equal(encode(*obj, d.GetAllocator()), doc));
      } else {
        REQUIRE(kind == kClusterPreferenceKind);
        auto obj = decode_cluster_preference(doc);
        REQUIRE(obj.ok());
        CHECK(validate(obj->spec, "spec").empty());
        ++preferences;
      }
    }
  }
  using P = std::pair<uint32_t, std::string>;
  CHECK(sizes["u1.nano"] == P{1, "512Mi"});
  CHECK(sizes["u1.micro"] == P{1, "1Gi"});
  CHECK(sizes["u1.small"] == P{1, "2Gi"});
  CHECK(sizes["u1.medium"] == P{1, "4Gi"});
  CHECK(sizes["u1.large"] == P{2, "8Gi"});
  CHECK(preferences >= 5);
}

TEST_CASE("decoding is strict: unknown fields and missing guest named with their path") {
  auto r = decode_cluster_instancetype(one(R"(
apiVersion: instancetype.kubevirt.io/v1beta1
kind: VirtualMachineClusterInstancetype
metadata: {name: x}
spec:
  cpu: {guests: 1}
  memory: {guest: 1Gi}
)"));
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.error().message, Catch::Contains("spec.cpu.guests: unknown field"));
  CHECK_THAT(r.error().message, Catch::Contains("spec.cpu.guest: required field is missing"));
  auto p = decode_preference(one(R"(
apiVersion: instancetype.kubevirt.io/v1beta1
kind: VirtualMachinePreference
metadata: {name: x}
spec:
  cpu: {preferredCPUTopology: diagonal}
)"));
  REQUIRE_FALSE(p.ok());
  CHECK_THAT(p.error().message, Catch::Contains("spec.cpu.preferredCPUTopology: \"diagonal\" is "
                                                "not supported; allowed: preferCores"));
}

TEST_CASE("what cannot be honoured is refused with its path and why") {
  auto it = instancetype(R"(
kind: VirtualMachineInstancetype
spec:
  cpu: {guest: 2, dedicatedCPUPlacement: true, maxSockets: 4}
  memory: {guest: 1Gi, hugepages: {pageSize: 2Mi}, overcommitPercent: 101}
  gpus: [{name: g, deviceName: nvidia}]
  ioThreadsPolicy: auto
)");
  auto errors = validate(it, "spec");
  CHECK(paths(errors) == std::vector<std::string>{"spec.cpu.dedicatedCPUPlacement",
                                                  "spec.cpu.maxSockets", "spec.memory.hugepages",
                                                  "spec.gpus", "spec.memory.overcommitPercent"});
  for (const auto& e : errors) {
    INFO(e.to_string());
    CHECK(
        (e.message.starts_with("not supported") || e.message.find("allowed") != std::string::npos));
  }
  // false is what we do anyway: accepted.
  auto ok = instancetype(R"(
kind: VirtualMachineInstancetype
spec:
  cpu: {guest: 1, dedicatedCPUPlacement: false}
  memory: {guest: 64Mi, overcommitPercent: 50}
)");
  CHECK(validate(ok, "spec").empty());
  auto zero = instancetype(
      "kind: VirtualMachineInstancetype\nspec: {cpu: {guest: 0}, memory: {guest: 512Ki}}");
  CHECK(paths(validate(zero, "spec")) ==
        std::vector<std::string>{"spec.cpu.guest", "spec.memory.guest"});

  auto pref = preference(R"(
kind: VirtualMachinePreference
spec:
  devices: {preferredRng: {}, preferredDiskBus: virtio, preferredTPM: {}, preferredCdromBus: virtio}
  features: {preferredSmm: {}}
  clock: {preferredTimer: {hpet: {present: false}}}
  requirements: {architecture: arm64}
)");
  CHECK(
      paths(validate(pref, "spec")) ==
      std::vector<std::string>{"spec.requirements.architecture", "spec.devices.preferredCdromBus"});
}

TEST_CASE("the CRDs: upstream's names and scopes; every refusal is a CEL rule on its parent") {
  auto crd = cluster_instancetype_crd();
  CHECK(json::get_string(crd["metadata"], "name") ==
        "virtualmachineclusterinstancetypes.instancetype.kubevirt.io");
  CHECK(json::get_string(crd["spec"], "scope") == "Cluster");
  CHECK(std::string(crd["spec"]["names"]["shortNames"][2].GetString()) == "vmcf");
  const json::Value& cpu = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]
                              ["spec"]["properties"]["cpu"];
  const json::Value* rules = json::find(cpu, "x-kubernetes-validations");
  REQUIRE(rules);
  bool found = false;
  for (const auto& r : rules->GetArray()) {
    if (json::get_string(r, "fieldPath") == ".dedicatedCPUPlacement") {
      found = true;
      CHECK(json::get_string(r, "rule") ==
            "!has(self.dedicatedCPUPlacement) || !self.dedicatedCPUPlacement");
      CHECK(json::get_string(r, "message").value_or("").starts_with("not supported"));
    }
  }
  CHECK(found);
  size_t rules_total = 0;
  auto pref = preference_crd();
  CHECK(json::get_string(pref["spec"], "scope") == "Namespaced");
  const json::Value& props =
      pref["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"];
  for (const auto& m : props.GetObject()) {
    if (const json::Value* r = json::find(m.value, "x-kubernetes-validations")) {
      rules_total += r->Size();
    }
  }
  if (const json::Value* r =
          json::find(pref["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"],
                     "x-kubernetes-validations")) {
    rules_total += r->Size();
  }
  CHECK(rules_total == preference_rules().size());
}

TEST_CASE("the instancetype's vCPUs become the preference's topology") {
  struct Row {
    const char* preference;
    uint32_t vcpus, sockets, cores, threads;
  };
  for (const auto& row : std::vector<Row>{
           {"{}", 4, 4, 1, 1},
           {"{cpu: {preferredCPUTopology: cores}}", 4, 1, 4, 1},
           {"{cpu: {preferredCPUTopology: preferThreads}}", 2, 1, 1, 2},
           {"{cpu: {preferredCPUTopology: any}}", 3, 3, 1, 1},
           {"{cpu: {preferredCPUTopology: spread}}", 8, 4, 2, 1},
           {"{cpu: {preferredCPUTopology: spread, spreadOptions: {across: CoresThreads}}}", 8, 1, 4,
            2},
           {"{cpu: {preferredCPUTopology: spread, spreadOptions: {across: SocketsCoresThreads, "
            "ratio: 2}}}",
            8, 2, 2, 2},
           {"{cpu: {preferredCPUTopology: cores}}", 1, 1, 1, 1},
       }) {
    INFO(row.preference << " with " << row.vcpus << " vCPUs");
    VirtualMachineInstancetypeSpec it;
    it.cpu.guest = row.vcpus;
    it.memory.guest = q("1Gi");
    auto pref = preference(std::string("kind: VirtualMachinePreference\nspec: ") + row.preference);
    api::v1::VirtualMachineInstanceSpec spec;
    api::v1::StringMap ann;
    REQUIRE(apply_to_vmi(&it, &pref, spec, ann, "spec").empty());
    CHECK(spec.domain.cpu->sockets == row.sockets);
    CHECK(spec.domain.cpu->cores == row.cores);
    CHECK(spec.domain.cpu->threads == row.threads);
  }
}

TEST_CASE(
    "the instancetype sets memory, model, placement and annotations; overcommit lowers the "
    "request") {
  auto it = instancetype(R"(
kind: VirtualMachineInstancetype
spec:
  cpu: {guest: 1, model: host-model}
  memory: {guest: 1Gi, overcommitPercent: 25}
  nodeSelector: {disk: ssd}
  schedulerName: my-scheduler
  annotations: {team: a}
)");
  api::v1::VirtualMachineInstanceSpec spec;
  api::v1::StringMap ann{{"other", "x"}};
  REQUIRE(apply_to_vmi(&it, nullptr, spec, ann, "spec").empty());
  CHECK(spec.domain.memory->guest == q("1Gi"));
  CHECK(spec.domain.resources->requests.at("memory") == q("768Mi"));
  CHECK(spec.domain.cpu->model == "host-model");
  CHECK(spec.node_selector == api::v1::StringMap{{"disk", "ssd"}});
  CHECK(spec.scheduler_name == "my-scheduler");
  CHECK(ann == api::v1::StringMap{{"other", "x"}, {"team", "a"}});
}

TEST_CASE(
    "a VM setting what its instancetype owns conflicts, worded as upstream, and nothing is "
    "applied") {
  auto it = instancetype(std::string(kNano) + "\n");
  auto spec = vmi_spec(R"(
domain:
  cpu: {sockets: 2, model: host-passthrough}
  memory: {guest: 1Gi}
  resources: {requests: {cpu: 500m}}
  devices: {}
nodeSelector: {a: b}
)");
  const auto before = spec;
  api::v1::StringMap ann;
  auto conflicts = apply_to_vmi(&it, nullptr, spec, ann, "spec.template.spec");
  CHECK(paths(conflicts) ==
        std::vector<std::string>{"spec.template.spec.domain.resources.requests.cpu",
                                 "spec.template.spec.domain.cpu.sockets",
                                 "spec.template.spec.domain.memory.guest"});
  CHECK(conflicts[1].message ==
        "VM field(s) spec.template.spec.domain.cpu.sockets conflicts with selected instance type");
  CHECK(spec == before);
  // The model conflicts only when the instancetype sets one; nodeSelector only when it has one.
  auto memory_request = vmi_spec("domain: {resources: {requests: {memory: 1Gi}}, devices: {}}");
  CHECK(paths(apply_to_vmi(&it, nullptr, memory_request, ann, "spec")) ==
        std::vector<std::string>{"spec.domain.resources.requests.memory"});
  auto annotations = instancetype(R"(
kind: VirtualMachineInstancetype
spec: {cpu: {guest: 1}, memory: {guest: 1Gi}, annotations: {team: a}}
)");
  api::v1::StringMap mine{{"team", "b"}};
  api::v1::VirtualMachineInstanceSpec empty;
  CHECK(paths(apply_to_vmi(&annotations, nullptr, empty, mine, "spec")) ==
        std::vector<std::string>{"annotations.team"});
}

TEST_CASE("the preference fills only what the VM leaves unset") {
  auto pref = preference(R"(
kind: VirtualMachinePreference
spec:
  devices:
    preferredDiskBus: sata
    preferredCdromBus: scsi
    preferredInterfaceModel: e1000e
    preferredAutoattachGraphicsDevice: false
    preferredAutoattachSerialConsole: false
  firmware: {preferredUseEfi: true, preferredUseSecureBoot: false}
  machine: {preferredMachineType: pc-q35-8.2}
  preferredTerminationGracePeriodSeconds: 7
  preferredSubdomain: sub
  annotations: {a: preferred, b: preferred}
)");
  auto spec = vmi_spec(R"(
domain:
  devices:
    autoattachSerialConsole: true
    disks:
      - name: a
      - name: b
        disk: {bus: scsi}
      - name: c
        cdrom: {}
    interfaces:
      - name: default
      - name: other
        model: virtio
terminationGracePeriodSeconds: 30
)");
  api::v1::StringMap ann{{"a", "mine"}};
  REQUIRE(apply_to_vmi(nullptr, &pref, spec, ann, "spec").empty());
  const auto& d = spec.domain.devices;
  CHECK(d.disks[0].disk->bus == api::v1::DiskBus::sata);
  CHECK(d.disks[1].disk->bus == api::v1::DiskBus::scsi);
  CHECK(d.disks[2].cdrom->bus == api::v1::DiskBus::scsi);
  CHECK(d.interfaces[0].model == "e1000e");
  CHECK(d.interfaces[1].model == "virtio");
  CHECK(d.autoattach_graphics_device == false);
  CHECK(d.autoattach_serial_console == true);
  CHECK(spec.domain.firmware->bootloader->efi->secure_boot == false);
  CHECK(spec.domain.machine->type == "pc-q35-8.2");
  CHECK(spec.termination_grace_period_seconds == 30);
  CHECK(spec.subdomain == "sub");
  CHECK(ann == api::v1::StringMap{{"a", "mine"}, {"b", "preferred"}});
  // A VM that chose BIOS keeps it; a preference without firmware leaves none behind.
  auto bios = vmi_spec("domain: {firmware: {bootloader: {bios: {}}}, devices: {}}");
  REQUIRE(apply_to_vmi(nullptr, &pref, bios, ann, "spec").empty());
  CHECK(bios.domain.firmware->bootloader->bios);
  CHECK_FALSE(bios.domain.firmware->bootloader->efi);
  auto plain = preference(
      "kind: VirtualMachinePreference\nspec: {firmware: {preferredUseBiosSerial: true}}");
  api::v1::VirtualMachineInstanceSpec none;
  REQUIRE(apply_to_vmi(nullptr, &plain, none, ann, "spec").empty());
  CHECK_FALSE(none.domain.firmware);
}

TEST_CASE("clock, CPU features, features, disks, inputs and devices: filled where unset") {
  auto pref = preference(R"(
kind: VirtualMachinePreference
spec:
  clock:
    preferredClockOffset: {utc: {offsetSeconds: 60}}
    preferredTimer: {hpet: {present: false}}
  cpu:
    preferredCPUFeatures: [{name: vmx, policy: require}, {name: pdpe1gb}]
  devices:
    preferredDiskCache: writethrough
    preferredDiskIO: threads
    preferredInputBus: virtio
    preferredInputType: tablet
    preferredRng: {}
    preferredTPM: {}
    preferredBlockMultiQueue: true
    preferredNetworkInterfaceMultiQueue: true
  features:
    preferredAcpi: {enabled: true}
    preferredApic: {enabled: true}
    preferredHyperv: {relaxed: {}, vapic: {enabled: true}}
    preferredKvm: {hidden: true}
    preferredPvspinlock: {enabled: false}
    preferredSmm: {}
)");
  CHECK(validate(pref, "spec").empty());
  auto spec = vmi_spec(R"(
domain:
  clock: {timezone: Europe/Paris}
  cpu: {features: [{name: vmx, policy: disable}]}
  features:
    apic: {enabled: false}
    hyperv: {vapic: {enabled: false}}
  devices:
    blockMultiQueue: false
    disks:
      - name: a
      - name: b
        cache: none
        io: native
      - name: c
        cdrom: {}
    inputs:
      - {name: t, type: tablet}
      - {name: u, bus: usb, type: tablet}
)");
  api::v1::StringMap ann;
  REQUIRE(apply_to_vmi(nullptr, &pref, spec, ann, "spec").empty());
  const auto& c = *spec.domain.clock;
  CHECK(c.timezone == "Europe/Paris");
  CHECK_FALSE(c.utc);  // the offset is taken whole or not at all
  CHECK(c.timer->hpet->present == false);
  const auto& features = spec.domain.cpu->features;
  REQUIRE(features.size() == 2);
  CHECK(features[0].policy == "disable");
  CHECK(features[1].name == "pdpe1gb");
  const auto& f = *spec.domain.features;
  CHECK(f.acpi->enabled == true);
  CHECK(f.apic->enabled == false);
  CHECK(f.hyperv->relaxed);
  CHECK(f.hyperv->vapic->enabled == false);
  CHECK(f.kvm->hidden == true);
  CHECK(f.pvspinlock->enabled == false);
  CHECK(f.smm);
  const auto& d = spec.domain.devices;
  CHECK(d.disks[0].cache == "writethrough");
  CHECK(d.disks[0].io == "threads");
  CHECK(d.disks[1].cache == "none");
  CHECK(d.disks[1].io == "native");
  CHECK_FALSE(d.disks[2].cache);  // upstream fills disks only, not CD-ROMs
  CHECK(d.inputs[0].bus == "virtio");
  CHECK(d.inputs[1].bus == "usb");
  CHECK(d.rng);
  CHECK(d.tpm);
  CHECK(d.block_multi_queue == false);
  CHECK(d.network_interface_multi_queue == true);

  // A VM without a clock takes the offset and the timers.
  api::v1::VirtualMachineInstanceSpec none;
  REQUIRE(apply_to_vmi(nullptr, &pref, none, ann, "spec").empty());
  CHECK(none.domain.clock->utc->offset_seconds == 60);
  CHECK(none.domain.cpu->features.size() == 2);
  // A preference without clock or features leaves none behind.
  auto plain = preference("kind: VirtualMachinePreference\nspec: {features: {}, clock: {}}");
  api::v1::VirtualMachineInstanceSpec untouched;
  REQUIRE(apply_to_vmi(nullptr, &plain, untouched, ann, "spec").empty());
  CHECK_FALSE(untouched.domain.clock);
  CHECK_FALSE(untouched.domain.features);
}

TEST_CASE("the instancetype's ioThreadsPolicy: applied, and a conflict when the VM sets one") {
  auto it = instancetype(R"(
kind: VirtualMachineInstancetype
spec: {cpu: {guest: 1}, memory: {guest: 64Mi}, ioThreadsPolicy: shared}
)");
  CHECK(validate(it, "spec").empty());
  api::v1::StringMap ann;
  api::v1::VirtualMachineInstanceSpec spec;
  REQUIRE(apply_to_vmi(&it, nullptr, spec, ann, "spec.template.spec").empty());
  CHECK(spec.domain.io_threads_policy == "shared");
  auto mine = vmi_spec("domain: {ioThreadsPolicy: auto, devices: {}}");
  auto errors = apply_to_vmi(&it, nullptr, mine, ann, "spec.template.spec");
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].path == "spec.template.spec.domain.ioThreadsPolicy");
  CHECK(errors[0].message ==
        "VM field(s) spec.template.spec.domain.ioThreadsPolicy conflicts with selected instance "
        "type");
  CHECK(mine.domain.io_threads_policy == "auto");
}

TEST_CASE("preference requirements, worded as upstream") {
  auto pref = preference(R"(
kind: VirtualMachinePreference
spec: {requirements: {cpu: {guest: 2}, memory: {guest: 1Gi}}}
)");
  auto it = instancetype(std::string(kNano));
  api::v1::VirtualMachineInstanceSpec spec;
  auto errors = check_requirements(&it, pref, spec);
  REQUIRE(errors.size() == 2);
  CHECK(errors[0].path == "spec.instancetype");
  CHECK(errors[0].message ==
        "failure checking preference requirements: insufficient CPU resources of 1 vCPU provided "
        "by instance type, preference requires 2 vCPU");
  CHECK(errors[1].message ==
        "failure checking preference requirements: insufficient Memory resources of 512Mi "
        "provided by instance type, preference requires 1Gi");
  auto vm = vmi_spec("domain: {cpu: {sockets: 1, cores: 2}, memory: {guest: 2Gi}, devices: {}}");
  auto vm_errors = check_requirements(nullptr, pref, vm);
  REQUIRE(vm_errors.size() == 1);
  CHECK(vm_errors[0].path == "spec.template.spec.domain.cpu.sockets");
  CHECK_THAT(vm_errors[0].message,
             Catch::EndsWith("of 1 vCPU provided by VirtualMachine, preference requires 2 vCPU "
                             "provided as sockets"));
}

TEST_CASE("revisions: named as upstream, owned by the VM, the object without its bookkeeping") {
  api::v1::VirtualMachine vm;
  vm.metadata.name = "web";
  vm.metadata.namespace_ = "apps";
  vm.metadata.uid = "vm-uid";
  auto obj = one(R"(
apiVersion: instancetype.kubevirt.io/v1beta1
kind: VirtualMachineClusterInstancetype
metadata:
  name: u1.nano
  uid: it-uid
  generation: 3
  resourceVersion: "77"
  labels: {a: b}
  annotations: {c: d}
  managedFields: [{manager: kubectl}]
spec:
  cpu: {guest: 1}
  memory: {guest: 512Mi}
)");
  auto rev = controller_revision(vm, obj);
  CHECK(json::get_string(rev["metadata"], "name") == "web-u1.nano-v1beta1-it-uid-3");
  CHECK(json::get_string(rev["metadata"], "namespace") == "apps");
  CHECK(json::get_string(rev["metadata"]["labels"], kObjectKindLabel) ==
        "VirtualMachineClusterInstancetype");
  CHECK(json::get_string(rev["metadata"]["labels"], kObjectGenerationLabel) == "3");
  const auto& owner = rev["metadata"]["ownerReferences"][0];
  CHECK(json::get_string(owner, "kind") == "VirtualMachine");
  CHECK(json::get_string(owner, "uid") == "vm-uid");
  CHECK(json::get_bool(owner, "controller") == true);
  const json::Value* data = revision_data(rev);
  REQUIRE(data);
  CHECK_FALSE(json::find((*data)["metadata"], "labels"));
  CHECK_FALSE(json::find((*data)["metadata"], "managedFields"));
  CHECK(json::equal((*data)["spec"], obj["spec"]));
}

TEST_CASE("status refs follow the matcher; a new revision only when the matcher changes") {
  api::v1::InstancetypeStatusRef ref;
  MatcherView m{"u1.nano", "VirtualMachineClusterInstancetype", ""};
  CHECK(sync_status_ref(m, ref));  // first time: needs a revision
  ref.controller_revision_ref = api::v1::ControllerRevisionRef{"rev-1"};
  CHECK_FALSE(sync_status_ref(m, ref));
  CHECK(revision_to_read(m, ref) == "rev-1");
  // Another instancetype: the old revision no longer applies.
  MatcherView other{"u1.small", "VirtualMachineClusterInstancetype", ""};
  CHECK(revision_to_read(other, ref) == std::nullopt);
  CHECK(sync_status_ref(other, ref));
  CHECK_FALSE(ref.controller_revision_ref);
  CHECK(ref.name == "u1.small");
  // A revisionName in the matcher is the revision.
  MatcherView pinned{"u1.small", "VirtualMachineClusterInstancetype", "pinned"};
  CHECK_FALSE(sync_status_ref(pinned, ref));
  CHECK(ref.controller_revision_ref->name == "pinned");
  CHECK(revision_to_read(pinned, std::nullopt) == "pinned");
}

TEST_CASE(
    "the VM's matchers: name, kind and inferFromVolume; memory may come from the instancetype") {
  auto vm = api::v1::decode_vm(one(R"(
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata: {name: vm}
spec:
  instancetype: {kind: Flavor, inferFromVolume: root}
  preference: {kind: virtualmachinepreferences}
  template: {spec: {domain: {devices: {}}}}
)"));
  REQUIRE(vm.ok());
  auto errors = validate_matchers(vm->spec);
  CHECK(paths(errors) == std::vector<std::string>{"spec.instancetype.inferFromVolume",
                                                  "spec.instancetype.kind",
                                                  "spec.preference.name"});
  CHECK_THAT(errors[1].message, Catch::Contains("VirtualMachineClusterInstancetype"));

  auto with = api::v1::decode_vm(one(R"(
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata: {name: vm}
spec:
  instancetype: {name: u1.nano}
  template: {spec: {domain: {devices: {}}}}
)"));
  REQUIRE(with.ok());
  CHECK(validate_matchers(with->spec).empty());
  CHECK(api::v1::validate(*with).empty());
  with->spec.instancetype.reset();
  CHECK(paths(api::v1::validate(*with)) ==
        std::vector<std::string>{"spec.template.spec.domain.memory.guest"});
}

TEST_CASE("annotations name what the VMI was made with, by kind") {
  api::v1::VirtualMachineSpec vm;
  vm.instancetype = api::v1::InstancetypeMatcher{"u1.nano", std::nullopt, {}, {}, {}};
  vm.preference = api::v1::PreferenceMatcher{"mine", "VirtualMachinePreference", {}, {}, {}};
  api::v1::StringMap ann;
  annotate(vm, ann);
  CHECK(ann == api::v1::StringMap{{"kubevirt.io/cluster-instancetype-name", "u1.nano"},
                                  {"kubevirt.io/preference-name", "mine"}});
}
