#include "api/v1/defaults.hpp"

#include <catch2/catch.hpp>

#include "api/v1/codec.hpp"
#include "api/v1/validation.hpp"
#include "test_support.hpp"

using namespace kv::api::v1;
using kv::api::v1::test::load;
using kv::api::v1::test::one;
using kv::api::v1::test::source_path;
using kv::api::v1::test::testdata;
using kv::api::v1::test::yaml_files;

namespace {

VirtualMachineInstance vmi_from(const std::string& spec_yaml) {
  auto doc =
      one("apiVersion: kubevirt.io/v1\nkind: VirtualMachineInstance\nmetadata: {name: d}\n"
          "spec:\n" +
          spec_yaml);
  auto vmi = decode_vmi(doc);
  if (!vmi.ok()) {
    FAIL(vmi.error().message);
  }
  return std::move(vmi).value();
}

}  // namespace

TEST_CASE("a minimal VMI gets KubeVirt's defaults") {
  auto vmi = with_defaults(vmi_from(R"(
  domain:
    resources: {requests: {memory: 128Mi}}
    devices:
      disks: [{name: root}, {name: iso, cdrom: {}}]
  volumes:
    - {name: root, containerDisk: {image: x}}
    - {name: iso, containerDisk: {image: disk-b}}
)"));
  const auto& d = vmi.spec.domain;
  CHECK(d.machine->type == "q35");
  CHECK(d.cpu->cores == 1u);
  CHECK(d.cpu->sockets == 1u);
  CHECK(d.cpu->threads == 1u);
  CHECK(d.memory->guest->to_string() == "128Mi");        // from requests.memory
  CHECK(d.devices.disks[0].disk->bus == DiskBus::sata);  // upstream's amd64 default
  CHECK(d.devices.disks[1].cdrom->bus == DiskBus::sata);
  CHECK(d.devices.disks[1].cdrom->read_only == true);
  CHECK(d.devices.disks[1].cdrom->tray == "closed");
  CHECK_FALSE(d.devices.disks[1].disk.has_value());
  REQUIRE(d.devices.interfaces.size() == 1);
  CHECK(d.devices.interfaces[0].name == "default");
  CHECK(d.devices.interfaces[0].masquerade.has_value());
  CHECK(d.devices.interfaces[0].model == "virtio");
  REQUIRE(vmi.spec.networks.size() == 1);
  CHECK(vmi.spec.networks[0].name == "default");
  CHECK(vmi.spec.networks[0].pod.has_value());
  CHECK(d.devices.autoattach_serial_console == true);
  CHECK(d.devices.autoattach_graphics_device == true);
  CHECK(vmi.spec.termination_grace_period_seconds == 180);
}

TEST_CASE("memory.guest sets requests.memory when requests are absent") {
  auto vmi = with_defaults(vmi_from("  domain: {memory: {guest: 1Gi}, devices: {}}\n"));
  CHECK(vmi.spec.domain.resources->requests.at("memory").to_string() == "1Gi");
}

TEST_CASE("a limit without a request requests the limit, then sets the guest memory") {
  auto vmi = with_defaults(
      vmi_from("  domain: {resources: {limits: {memory: 2Gi, cpu: 2}}, devices: {}}\n"));
  CHECK(vmi.spec.domain.resources->requests.at("memory").to_string() == "2Gi");
  CHECK(vmi.spec.domain.resources->requests.at("cpu").to_string() == "2");
  CHECK(vmi.spec.domain.memory->guest->to_string() == "2Gi");
}

TEST_CASE("defaults never override what the user set") {
  auto vmi = with_defaults(vmi_from(R"(
  domain:
    machine: {type: pc-q35-7.2}
    cpu: {cores: 4}
    memory: {guest: 1Gi}
    resources: {requests: {memory: 2Gi}}
    firmware: {bootloader: {efi: {secureBoot: false}}}
    devices:
      autoattachSerialConsole: false
      disks: [{name: root, disk: {bus: sata}}]
      interfaces: [{name: net, bridge: {}, model: e1000}]
  networks: [{name: net, pod: {}}]
  terminationGracePeriodSeconds: 0
  volumes: [{name: root, containerDisk: {image: x}}]
)"));
  const auto& d = vmi.spec.domain;
  CHECK(d.machine->type == "pc-q35-7.2");
  CHECK(d.cpu->cores == 4u);
  CHECK(d.memory->guest->to_string() == "1Gi");
  CHECK(d.resources->requests.at("memory").to_string() == "2Gi");
  CHECK(d.firmware->bootloader->efi->secure_boot == false);
  CHECK(d.devices.autoattach_serial_console == false);
  CHECK(d.devices.disks[0].disk->bus == DiskBus::sata);
  REQUIRE(d.devices.interfaces.size() == 1);
  CHECK(d.devices.interfaces[0].bridge.has_value());
  CHECK_FALSE(d.devices.interfaces[0].masquerade.has_value());
  CHECK(d.devices.interfaces[0].model == "e1000");
  CHECK(vmi.spec.networks.size() == 1);
  CHECK(vmi.spec.termination_grace_period_seconds == 0);
}

TEST_CASE("autoattachPodInterface: false means no network at all") {
  auto vmi = with_defaults(
      vmi_from("  domain: {memory: {guest: 64Mi}, devices: {autoattachPodInterface: false}}\n"));
  CHECK(vmi.spec.domain.devices.interfaces.empty());
  CHECK(vmi.spec.networks.empty());
}

TEST_CASE("an interface without a binding gets masquerade; ports get TCP; EFI gets Secure Boot") {
  auto vmi = with_defaults(vmi_from(R"(
  domain:
    memory: {guest: 64Mi}
    firmware: {bootloader: {efi: {}}}
    devices:
      interfaces: [{name: default, ports: [{port: 22}]}]
  networks: [{name: default, pod: {}}]
)"));
  const auto& iface = vmi.spec.domain.devices.interfaces[0];
  CHECK(iface.masquerade.has_value());
  CHECK(iface.ports[0].protocol == Protocol::tcp);
  CHECK(vmi.spec.domain.firmware->bootloader->efi->secure_boot == true);
}

TEST_CASE("defaulting twice changes nothing") {
  auto once = with_defaults(vmi_from(R"(
  domain:
    resources: {limits: {memory: 1Gi}}
    devices: {disks: [{name: root, cdrom: {}}]}
  volumes: [{name: root, containerDisk: {image: x}}]
)"));
  CHECK(with_defaults(once) == once);
}

TEST_CASE("a VM's template gets the VMI defaults, and a VM with no run strategy is Halted") {
  auto doc = one(R"(
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata: {name: v}
spec:
  template:
    spec:
      domain: {memory: {guest: 64Mi}, devices: {}}
)");
  auto vm = decode_vm(doc);
  REQUIRE(vm.ok());
  auto d = with_defaults(vm.value());
  CHECK(d.spec.run_strategy == RunStrategy::halted);
  CHECK(d.spec.template_.spec.domain.machine->type == "q35");
  CHECK(d.spec.template_.spec.networks.size() == 1);

  auto legacy = vm.value();
  legacy.spec.running = true;
  CHECK_FALSE(with_defaults(legacy).spec.run_strategy.has_value());  // running stays the source
}

TEST_CASE("domain features, timers and inputs get upstream's defaults where they are given") {
  auto vmi = with_defaults(vmi_from(R"(
  domain:
    resources: {requests: {memory: 128Mi}}
    features:
      acpi: {}
      apic: {endOfInterrupt: true}
      smm: {enabled: false}
      hyperv:
        spinlocks: {}
        synictimer: {direct: {}}
        ipi: {}
        evmcs: {}
        vapic: {enabled: false}
    clock:
      utc: {}
      timer: {hpet: {present: false}, rtc: {}, kvm: {}}
    devices:
      inputs: [{name: t, type: ""}]
)"));
  const auto& f = *vmi.spec.domain.features;
  CHECK(f.acpi->enabled == true);
  CHECK(f.apic->enabled == true);
  CHECK(f.smm->enabled == false);  // what the user says stays
  CHECK_FALSE(f.kvm.has_value());  // absent stays absent
  const auto& h = *f.hyperv;
  CHECK(h.spinlocks->enabled == true);
  CHECK(h.spinlocks->retries == 4096u);
  CHECK(h.synictimer->enabled == true);
  CHECK(h.synictimer->direct->enabled == true);
  // What an enabled feature needs is switched on when absent (upstream's
  // SetHypervFeatureDependencies): synictimer -> synic -> vpindex, ipi -> vpindex.
  CHECK(h.synic->enabled == true);
  CHECK(h.vpindex->enabled == true);
  CHECK(h.ipi->enabled == true);
  CHECK(h.vapic->enabled == false);  // switched off by the user: validation refuses evmcs
  CHECK_FALSE(h.relaxed.has_value());
  const auto& t = *vmi.spec.domain.clock->timer;
  CHECK(t.hpet->present == false);
  CHECK(t.rtc->present == true);
  CHECK(t.kvm->present == true);
  CHECK_FALSE(t.pit.has_value());
  REQUIRE(vmi.spec.domain.devices.inputs.size() == 1);
  CHECK(vmi.spec.domain.devices.inputs[0].bus == "usb");
  CHECK(vmi.spec.domain.devices.inputs[0].type == "tablet");
  auto errors = validate(vmi);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].to_string() ==
        "spec.domain.features.hyperv.evmcs: 'spec.domain.features.hyperv.evmcs' requires "
        "'spec.domain.features.hyperv.vapic', which was disabled.");
}

TEST_CASE("a spec without domain features, clock or inputs gets none") {
  auto vmi = with_defaults(vmi_from(R"(
  domain:
    resources: {requests: {memory: 128Mi}}
    devices: {}
)"));
  CHECK_FALSE(vmi.spec.domain.features.has_value());
  CHECK_FALSE(vmi.spec.domain.clock.has_value());
  CHECK(vmi.spec.domain.devices.inputs.empty());
}

TEST_CASE("a volume no disk names gets a disk of its name on the default bus, as upstream") {
  auto vmi = with_defaults(vmi_from(R"(
  domain:
    memory: {guest: 64Mi}
    devices:
      disks: [{name: root, disk: {bus: virtio}}]
  volumes:
    - {name: root, containerDisk: {image: x:1}}
    - {name: data, emptyDisk: {capacity: 1Gi}}
    - {name: cloudinit, cloudInitNoCloud: {userData: "#cloud-config"}}
)"));
  const auto& disks = vmi.spec.domain.devices.disks;
  REQUIRE(disks.size() == 3);
  CHECK(disks[0].disk->bus == DiskBus::virtio);
  CHECK(disks[1].name == "data");
  CHECK(disks[1].disk->bus == DiskBus::sata);
  CHECK_FALSE(disks[1].cdrom.has_value());
  CHECK(disks[2].name == "cloudinit");
  CHECK(disks[2].disk->bus == DiskBus::sata);
  CHECK(validate(vmi).empty());
}

TEST_CASE("with no CPU topology, the CPU limit (else request) sets the sockets, as upstream") {
  auto limit =
      with_defaults(vmi_from("  domain: {resources: {requests: {memory: 64Mi, cpu: 500m}, limits: "
                             "{cpu: 3}}, devices: {}}\n"));
  CHECK(limit.spec.domain.cpu->sockets == 3u);
  CHECK(limit.spec.domain.cpu->cores == 1u);
  CHECK(limit.spec.domain.cpu->threads == 1u);
  auto request = with_defaults(
      vmi_from("  domain: {resources: {requests: {memory: 64Mi, cpu: 1500m}}, devices: {}}\n"));
  CHECK(request.spec.domain.cpu->sockets == 2u);  // rounded up
  auto topology = with_defaults(vmi_from(
      "  domain: {cpu: {cores: 2}, resources: {requests: {memory: 64Mi, cpu: 4}}, devices: {}}\n"));
  CHECK(topology.spec.domain.cpu->sockets == 1u);  // a topology is given: the CPUs do not count
  CHECK(topology.spec.domain.cpu->cores == 2u);
}

TEST_CASE("containerDisks get upstream's pull policy: Always for latest or untagged images") {
  auto vmi = with_defaults(vmi_from(R"(
  domain: {memory: {guest: 64Mi}, devices: {}}
  volumes:
    - {name: a, containerDisk: {image: quay.io/x/disk}}
    - {name: b, containerDisk: {image: quay.io/x/disk:latest}}
    - {name: c, containerDisk: {image: quay.io/x/disk:v1}}
    - {name: d, containerDisk: {image: "quay.io/x/disk@sha256:0123"}}
    - {name: e, containerDisk: {image: quay.io/x/disk, imagePullPolicy: Never}}
)"));
  const auto& v = vmi.spec.volumes;
  CHECK(v[0].container_disk->image_pull_policy == PullPolicy::always);
  CHECK(v[1].container_disk->image_pull_policy == PullPolicy::always);
  CHECK(v[2].container_disk->image_pull_policy == PullPolicy::if_not_present);
  CHECK(v[3].container_disk->image_pull_policy == PullPolicy::if_not_present);
  CHECK(v[4].container_disk->image_pull_policy == PullPolicy::never);
}

TEST_CASE("the VM mutator stores only the template's machine type; the VMI gets the rest") {
  auto doc = one(R"(
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata: {name: v}
spec:
  template:
    spec:
      domain: {memory: {guest: 64Mi}, devices: {}}
      volumes: [{name: root, containerDisk: {image: x:1}}]
)");
  auto vm = decode_vm(doc);
  REQUIRE(vm.ok());
  auto stored = with_stored_defaults(vm.value());
  CHECK(stored.spec.run_strategy == RunStrategy::halted);
  CHECK(stored.spec.template_.spec.domain.machine->type == "q35");
  CHECK(stored.spec.template_.spec.domain.devices.disks.empty());
  CHECK(stored.spec.template_.spec.networks.empty());
  CHECK(with_stored_defaults(stored) == stored);
  CHECK(with_defaults(stored) == with_defaults(vm.value()));
}

// The mutating and the validating webhook agree: for every example manifest, the defaulted object
// is valid, defaulting it again changes nothing, and what the VM mutator stores defaults to the
// same VM. (The round-trip objects carry every field, some of them refused: idempotence only.)
TEST_CASE("defaults are idempotent and what they produce passes validation, for every example") {
  std::vector<std::pair<std::string, bool>> files;  // file, must be valid
  for (const auto& f : yaml_files(source_path("manifests/examples"))) {
    files.emplace_back(f, true);
  }
  for (const auto& f : yaml_files(testdata("roundtrip"))) {
    files.emplace_back(f, false);
  }
  size_t objects = 0;
  for (const auto& [file, valid] : files) {
    for (const auto& doc : load(file)) {
      INFO(file);
      auto kind = kv::core::json::get_string(doc, "kind");
      if (kind == "VirtualMachineInstance") {
        auto vmi = decode_vmi(doc);
        REQUIRE(vmi.ok());
        auto once = with_defaults(vmi.value());
        CHECK(with_defaults(once) == once);
        CHECK((!valid || validate(once).empty()));
        ++objects;
      } else if (kind == "VirtualMachine") {
        auto vm = decode_vm(doc);
        REQUIRE(vm.ok());
        auto once = with_defaults(vm.value());
        CHECK(with_defaults(once) == once);
        CHECK((!valid || validate(once).empty()));
        CHECK(with_defaults(with_stored_defaults(vm.value())) == once);
        ++objects;
      }
    }
  }
  CHECK(objects >= 7);
}
