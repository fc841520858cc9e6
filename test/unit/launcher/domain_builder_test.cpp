#include "launcher/domain_builder.hpp"
#include "test/unit/launcher/testdata.hpp"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "api/v1/codec.hpp"
#include "core/json.hpp"
#include "launcher/domain/domain.hpp"

using namespace kv::launcher;
namespace v1 = kv::api::v1;
using kv::core::Errc;

using kv::launcher::testing::load;
using kv::launcher::testing::read;

namespace {

PodEnvironment pod_env() {
  PodEnvironment e;
  e.kvm_usable = false;
  e.allow_emulation = true;
  e.socket_dir = "/var/run/kubevirt/sockets";
  e.ephemeral_dir = "/var/run/kubevirt-private";
  e.container_disk_dir = "/var/run/kubevirt/container-disks";
  e.kernel_boot_dir = "/var/run/kubevirt/kernel-boot";
  e.pvc_dir = "/var/run/kubevirt-private/vmi-disks";
  return e;
}

// Compares with testdata/<name>.xml; KV_UPDATE_GOLDEN=1 rewrites the file instead.
void check_golden(const std::string& name, const std::string& xml) {
  std::string path = std::string(LAUNCHER_TESTDATA) + "/" + name + ".xml";
  if (std::getenv("KV_UPDATE_GOLDEN")) {
    std::ofstream(path) << xml;
    return;
  }
  INFO("golden file " << path << " (KV_UPDATE_GOLDEN=1 rewrites it)");
  CHECK(xml == read(path));
}

std::string build(const v1::VirtualMachineInstance& vmi, const PodEnvironment& env) {
  auto disks = plan_disks(vmi, env);
  if (!disks.ok())
    FAIL(disks.error().to_string());
  auto net = plan_network(vmi);
  if (!net.ok())
    FAIL(net.error().to_string());
  auto xml = build_domain_xml(vmi, env, *disks, *net);
  if (!xml.ok())
    FAIL(xml.error().to_string());
  return *xml;
}

}  // namespace

TEST_CASE("golden: direct kernel boot under TCG with a PVC, cloud-init and forwarded ports") {
  check_golden("kernel-boot-tcg", build(load("kernel-boot-tcg"), pod_env()));
}

TEST_CASE("golden: containerDisk + emptyDisk on KVM with CPU topology, SMBIOS and e1000e") {
  auto env = pod_env();
  env.kvm_usable = true;
  env.allow_emulation = false;
  env.pod_ip = "10.244.0.17";
  check_golden("containerdisk-kvm", build(load("containerdisk-kvm"), env));
}

TEST_CASE("golden: sata/scsi disks and CD-ROMs, boot order, EFI, no serial or balloon") {
  auto env = pod_env();
  env.ovmf_code = "/usr/share/OVMF/OVMF_CODE_4M.fd";
  env.ovmf_vars = "/usr/share/OVMF/OVMF_VARS_4M.fd";
  check_golden("buses-efi", build(load("buses-efi"), env));
}

TEST_CASE("disk plans say where each volume's file lives and what goes on the ISO") {
  auto vmi = load("buses-efi");
  auto plans = plan_disks(vmi, pod_env());
  REQUIRE(plans.ok());
  REQUIRE(plans->size() == 4);
  CHECK((*plans)[0].kind == DiskKind::container_disk);
  CHECK((*plans)[0].base == "/var/run/kubevirt/container-disks/install/disk/win.iso");
  CHECK((*plans)[0].path == "/var/run/kubevirt-private/disks/install.qcow2");
  CHECK((*plans)[1].path == "/var/run/kubevirt-private/vmi-disks/system/disk.img");
  CHECK((*plans)[2].read_only);
  CHECK((*plans)[3].user_data == "#cloud-config\n");
  CHECK((*plans)[3].network_config == "version: 2\n");
  CHECK((*plans)[3].meta_data ==
        "instance-id: 6a1c9a52-0000-4000-8000-000000000003\nlocal-hostname: win\n");
}

TEST_CASE("without usable KVM and without --allow-emulation the error says how to fix it") {
  auto env = pod_env();
  env.allow_emulation = false;
  auto vmi = load("kernel-boot-tcg");
  auto xml = build_domain_xml(vmi, env, *plan_disks(vmi, env), *plan_network(vmi));
  REQUIRE_FALSE(xml.ok());
  CHECK(xml.error().message.find("KVM is not available") == 0);
  CHECK(xml.error().message.find("--allow-emulation") != std::string::npos);
}

// Found by test/fuzz/domain_fuzz: memory.guest near 2^63 bytes (Quantity::value() saturates
// there) overflowed rounding up to KiB, and the domain asked for a negative amount of memory.
TEST_CASE("guest memory at the int64 limit rounds up to KiB without overflowing") {
  auto env = pod_env();
  auto vmi = load("kernel-boot-tcg");
  vmi.spec.domain.memory->guest = *v1::parse_quantity("8Ei");  // 2^63, saturates to 2^63-1
  auto xml = build_domain_xml(vmi, env, *plan_disks(vmi, env), *plan_network(vmi));
  REQUIRE(xml.ok());
  CHECK_THAT(*xml, Catch::Contains("<memory unit='KiB'>9007199254740992</memory>"));
}

TEST_CASE("user errors name the field") {
  auto env = pod_env();
  struct Case {
    const char* what;
    std::function<void(v1::VirtualMachineInstance&)> edit;
    const char* message_start;
  };
  std::vector<Case> cases{
      {"disk without volume", [](auto& v) { v.spec.domain.devices.disks[0].name = "nope"; },
       "spec.domain.devices.disks[0].name: \"nope\" has no matching volume"},
      {"EFI without OVMF",
       [](auto& v) {
         v.spec.domain.firmware->bootloader = v1::Bootloader{std::nullopt, v1::EfiBootloader{}};
       },
       "spec.domain.firmware.bootloader.efi: EFI with secure boot needs OVMF"},
      {"host-passthrough under TCG",
       [](auto& v) {
         v.spec.domain.cpu = v1::Cpu{1, 1, 1, "host-passthrough"};
       },
       "spec.domain.cpu.model: \"host-passthrough\" needs KVM"},
      {"bridge binding",
       [](auto& v) {
         v.spec.domain.devices.interfaces[0].masquerade.reset();
         v.spec.domain.devices.interfaces[0].bridge = v1::InterfaceBridge{};
       },
       "spec.domain.devices.interfaces[0].bridge: bridge binding needs a tap"},
      {"machine type", [](auto& v) { v.spec.domain.machine = v1::Machine{"microvm"}; },
       "spec.domain.machine.type: \"microvm\" is not supported"},
      {"no memory", [](auto& v) { v.spec.domain.memory.reset(); },
       "spec.domain.memory.guest: missing"},
      {"bad port", [](auto& v) { v.spec.domain.devices.interfaces[0].ports[0].port = 70000; },
       "spec.domain.devices.interfaces[0].ports[0].port: 70000 is not between 1 and 65535"},
      {"volume without a source", [](auto& v) { v.spec.volumes[1].cloud_init_no_cloud.reset(); },
       "spec.volumes[1]: volume \"cloudinit\" has no source"},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    auto vmi = load("kernel-boot-tcg");
    c.edit(vmi);
    auto plans = plan_disks(vmi, env);
    auto net = plan_network(vmi);
    kv::core::Result<std::string> xml = !plans.ok() ? kv::core::Result<std::string>(plans.error())
                                        : !net.ok() ? kv::core::Result<std::string>(net.error())
                                                    : build_domain_xml(vmi, env, *plans, *net);
    REQUIRE_FALSE(xml.ok());
    CHECK_THAT(xml.error().message, Catch::StartsWith(c.message_start));
  }
}

TEST_CASE("a VMI without interfaces or networks gets the default pod NIC; opting out gives none") {
  auto vmi = load("kernel-boot-tcg");
  vmi.spec.domain.devices.interfaces.clear();
  vmi.spec.networks.clear();
  auto net = plan_network(vmi);
  REQUIRE(net.ok());
  REQUIRE(*net);
  CHECK((*net)->guest_ip == "10.0.2.2");
  CHECK((*net)->gateway == "10.0.2.1");
  CHECK((*net)->mac.rfind("52:54:00:", 0) == 0);
  vmi.spec.domain.devices.autoattach_pod_interface = false;
  auto none = plan_network(vmi);
  REQUIRE(none.ok());
  CHECK_FALSE(*none);
}

// --- domain fields served from upstream's DomainSpec: features, clock, chassis, rng, watchdog,
// inputs, disk driver options, IO threads, PCI addresses.

namespace {

// The XML of `vmi`, or the error message when it is refused.
kv::core::Result<std::string> try_build(const v1::VirtualMachineInstance& vmi,
                                        const PodEnvironment& env) {
  auto plans = plan_disks(vmi, env);
  if (!plans.ok())
    return plans.error();
  auto net = plan_network(vmi);
  if (!net.ok())
    return net.error();
  return build_domain_xml(vmi, env, *plans, *net);
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("golden: rng, watchdog, tablets, clock, features, chassis and disk options under TCG") {
  check_golden("devices-tcg", build(load("devices-tcg"), pod_env()));
}

TEST_CASE("golden: Hyper-V enlightenments and paravirtual spinlocks on KVM") {
  auto env = pod_env();
  env.kvm_usable = true;
  env.allow_emulation = false;
  check_golden("hyperv-kvm", build(load("hyperv-kvm"), env));
}

TEST_CASE("what QEMU cannot do under TCG is refused by name, and works on KVM") {
  struct Case {
    const char* what;
    std::function<void(v1::FeatureHyperv&, v1::Features&)> edit;
    const char* message_start;
  };
  std::vector<Case> cases{
      {"vpindex", [](auto& h, auto&) { h.vpindex = v1::FeatureState{}; },
       "spec.domain.features.hyperv.vpindex: needs KVM"},
      {"synic", [](auto& h, auto&) { h.synic = v1::FeatureState{true}; },
       "spec.domain.features.hyperv.synic: needs KVM"},
      {"synic and the vpindex defaulting added for it",
       [](auto& h, auto&) {
         h.synic = v1::FeatureState{};
         h.vpindex = v1::FeatureState{true};
       },
       "spec.domain.features.hyperv.synic: needs KVM: under emulation (TCG) QEMU cannot set the "
       "Hyper-V VP index, which synic requires"},
      {"synictimer", [](auto& h, auto&) { h.synictimer = v1::SyNicTimer{}; },
       "spec.domain.features.hyperv.synictimer: needs KVM"},
      {"tlbflush", [](auto& h, auto&) { h.tlbflush = v1::TlbFlush{}; },
       "spec.domain.features.hyperv.tlbflush: needs KVM"},
      {"ipi", [](auto& h, auto&) { h.ipi = v1::FeatureState{}; },
       "spec.domain.features.hyperv.ipi: needs KVM"},
      {"pvspinlock", [](auto&, auto& f) { f.pvspinlock = v1::FeatureState{}; },
       "spec.domain.features.pvspinlock: paravirtual spinlocks need KVM"},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    auto vmi = load("devices-tcg");
    c.edit(*vmi.spec.domain.features->hyperv, *vmi.spec.domain.features);
    auto tcg = try_build(vmi, pod_env());
    REQUIRE_FALSE(tcg.ok());
    CHECK_THAT(tcg.error().message, Catch::StartsWith(c.message_start));
    auto env = pod_env();
    env.kvm_usable = true;
    CHECK(try_build(vmi, env).ok());
  }
  // Switched off, they are fine under TCG too.
  auto vmi = load("devices-tcg");
  vmi.spec.domain.features->hyperv->vpindex = v1::FeatureState{false};
  vmi.spec.domain.features->pvspinlock = v1::FeatureState{false};
  auto xml = try_build(vmi, pod_env());
  REQUIRE(xml.ok());
  CHECK(contains(*xml, "<vpindex state='off'/>"));
  CHECK(contains(*xml, "<pvspinlock state='off'/>"));
}

TEST_CASE(
    "features: acpi and apic can be switched off; hypervPassthrough; no features keeps "
    "acpi and apic") {
  auto vmi = load("devices-tcg");
  vmi.spec.domain.features = v1::Features{};
  vmi.spec.domain.features->acpi = v1::FeatureState{false};
  vmi.spec.domain.features->apic = v1::FeatureApic{false, std::nullopt};
  vmi.spec.domain.features->hyperv_passthrough = v1::HypervPassthrough{true};
  auto xml = build(vmi, pod_env());
  CHECK_FALSE(contains(xml, "<acpi/>"));
  CHECK_FALSE(contains(xml, "<apic"));
  CHECK(contains(xml, "<hyperv mode='passthrough'/>"));
  vmi.spec.domain.features.reset();
  xml = build(vmi, pod_env());
  CHECK(contains(xml, "  <features>\n    <acpi/>\n    <apic/>\n  </features>\n"));
  CHECK_FALSE(contains(xml, "<hyperv"));
}

TEST_CASE("clock: utc resets the guest clock on boot unless offsetSeconds keeps it") {
  auto vmi = load("devices-tcg");
  vmi.spec.domain.clock = v1::Clock{v1::ClockOffsetUtc{}, std::nullopt, std::nullopt};
  CHECK(contains(build(vmi, pod_env()), "<clock offset='utc' adjustment='reset'/>"));
  vmi.spec.domain.clock->utc->offset_seconds = -7200;
  CHECK(contains(build(vmi, pod_env()), "<clock offset='utc' adjustment='-7200'/>"));
  vmi.spec.domain.clock->utc.reset();  // timers alone: libvirt's default offset, utc
  vmi.spec.domain.clock->timer = v1::Timer{};
  vmi.spec.domain.clock->timer->hpet = v1::HpetTimer{std::nullopt, false};
  CHECK(contains(build(vmi, pod_env()),
                 "<clock offset='utc'>\n    <timer name='hpet' present='no'/>\n  </clock>"));
  vmi.spec.domain.clock.reset();
  CHECK(contains(build(vmi, pod_env()), "<clock offset='utc'/>"));
}

TEST_CASE(
    "autoattachSerialConsole, autoattachGraphicsDevice and autoattachMemBalloon are "
    "honoured") {
  auto vmi = load("devices-tcg");
  auto& devs = vmi.spec.domain.devices;
  devs.autoattach_serial_console.reset();
  devs.autoattach_graphics_device.reset();
  devs.autoattach_memory_balloon.reset();
  auto xml = build(vmi, pod_env());
  CHECK(contains(xml, "<serial type='unix'>"));
  CHECK(contains(xml, "<console type='unix'>"));
  CHECK(contains(xml, "<graphics type='vnc'>"));
  CHECK(contains(xml, "<memballoon model='virtio'/>"));
  devs.autoattach_serial_console = false;
  devs.autoattach_graphics_device = false;
  devs.autoattach_memory_balloon = false;
  xml = build(vmi, pod_env());
  CHECK_FALSE(contains(xml, "<serial type="));
  CHECK_FALSE(contains(xml, "<console"));
  CHECK_FALSE(contains(xml, "<graphics"));
  CHECK_FALSE(contains(xml, "<video>"));
  CHECK(contains(xml, "<memballoon model='none'/>"));
}

TEST_CASE("a USB tablet brings a USB controller; a virtio tablet does not") {
  auto vmi = load("devices-tcg");
  vmi.spec.domain.devices.inputs.erase(vmi.spec.domain.devices.inputs.begin());
  auto xml = build(vmi, pod_env());
  CHECK(contains(xml, "<controller type='usb' index='0' model='none'/>"));
  CHECK(contains(xml, "<input type='tablet' bus='virtio' model='virtio'>"));
  vmi.spec.domain.devices.inputs[0].bus = "usb";
  CHECK(contains(build(vmi, pod_env()), "<controller type='usb' index='0' model='qemu-xhci'/>"));
}

TEST_CASE(
    "IO threads follow upstream: shared pool of one, auto pool of two per CPU, dedicated "
    "threads after the pool") {
  auto vmi = load("devices-tcg");
  auto& dom = vmi.spec.domain;
  auto disk = [](const char* name, bool dedicated) {
    v1::Disk d;
    d.name = name;
    d.disk = v1::DiskTarget{};
    if (dedicated)
      d.dedicated_io_thread = true;
    return d;
  };
  dom.devices.disks = {disk("a", false), disk("b", false), disk("c", true),
                       disk("d", false), disk("e", false), disk("f", false)};
  auto threads = [&] {
    auto t = domain::plan_io_threads(vmi);
    std::vector<std::uint32_t> per_disk;
    for (const auto& p : t.per_disk)
      per_disk.push_back(p.value_or(0));
    return std::pair{t.count, per_disk};
  };
  dom.io_threads_policy = "auto";  // 2 CPUs requested: a pool of 4 minus the dedicated one
  CHECK(threads() == std::pair{4u, std::vector<std::uint32_t>{1, 2, 4, 3, 1, 2}});
  dom.io_threads_policy = "shared";
  CHECK(threads() == std::pair{2u, std::vector<std::uint32_t>{1, 1, 2, 1, 1, 1}});
  dom.io_threads_policy.reset();  // a dedicated disk alone still gets its thread
  CHECK(threads() == std::pair{2u, std::vector<std::uint32_t>{1, 1, 2, 1, 1, 1}});
  dom.devices.disks[2].dedicated_io_thread.reset();
  CHECK(threads() == std::pair{0u, std::vector<std::uint32_t>{0, 0, 0, 0, 0, 0}});
  dom.devices.disks[0].disk->bus = v1::DiskBus::sata;  // not virtio: no thread
  dom.io_threads_policy = "shared";
  CHECK(threads() == std::pair{1u, std::vector<std::uint32_t>{0, 1, 1, 1, 1, 1}});
}

TEST_CASE("blockMultiQueue gives virtio disks one queue per vCPU, and only them") {
  auto vmi = load("devices-tcg");
  vmi.spec.domain.cpu->sockets = 2;  // 2 sockets x 2 cores
  vmi.spec.domain.devices.disks[1].disk->bus = v1::DiskBus::sata;
  vmi.spec.domain.devices.disks[1].dedicated_io_thread.reset();
  auto xml = build(vmi, pod_env());
  CHECK(contains(xml, "cache='none' io='native' queues='4' iothread='1'/>"));
  CHECK(contains(xml,
                 "<driver name='qemu' type='qcow2' discard='unmap' cache='writethrough' "
                 "io='threads'/>"));
  vmi.spec.domain.devices.block_multi_queue.reset();
  CHECK_FALSE(contains(build(vmi, pod_env()), "queues="));
}

TEST_CASE("a disk with io native and no cache gets cache none, which native IO needs") {
  auto vmi = load("devices-tcg");
  vmi.spec.domain.devices.disks[0].cache.reset();
  CHECK(contains(build(vmi, pod_env()), "cache='none' io='native'"));
}

TEST_CASE(
    "interfaces[].pciAddress places the pod NIC; outside the free root-bus slots it is "
    "refused") {
  auto vmi = load("devices-tcg");
  CHECK(contains(build(vmi, pod_env()), "bus=pcie.0,addr=0x12.0x0"));
  vmi.spec.domain.devices.interfaces[0].pci_address = "0000:01:00.0";
  auto xml = try_build(vmi, pod_env());
  REQUIRE_FALSE(xml.ok());
  CHECK_THAT(xml.error().message,
             Catch::StartsWith("spec.domain.devices.interfaces[0].pciAddress: \"0000:01:00.0\" is "
                               "not supported"));
  vmi.spec.domain.devices.interfaces[0].pci_address.reset();
  CHECK(contains(build(vmi, pod_env()), "bus=pcie.0,addr=0x10'"));
}
