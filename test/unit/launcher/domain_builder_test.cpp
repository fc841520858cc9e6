#include "launcher/domain_builder.hpp"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "api/v1/codec.hpp"
#include "core/json.hpp"

using namespace kv::launcher;
namespace v1 = kv::api::v1;
using kv::core::Errc;

namespace {

std::string read(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

v1::VirtualMachineInstance load(const std::string& name) {
  auto doc = kv::core::json::parse(read(std::string(LAUNCHER_TESTDATA) + "/" + name + ".json"));
  REQUIRE(doc.ok());
  auto vmi = v1::decode_vmi(*doc);
  if (!vmi.ok())
    FAIL(vmi.error().to_string());
  return *vmi;
}

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
