#include "api/v1/defaults.hpp"

#include <catch2/catch.hpp>

#include "api/v1/codec.hpp"
#include "api/v1/validation.hpp"
#include "test_support.hpp"

using namespace kv::api::v1;
using kv::api::v1::test::one;

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
  CHECK(d.memory->guest->to_string() == "128Mi");  // from requests.memory
  CHECK(d.devices.disks[0].disk->bus == DiskBus::virtio);
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
