// The firmware (BIOS, EFI, Secure Boot) and TPM parts of the domain XML.

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "api/v1/codec.hpp"
#include "core/json.hpp"
#include "launcher/domain_builder.hpp"
#include "test/support/pod_environment.hpp"
#include "test/unit/launcher/testdata.hpp"

using namespace kv::launcher;
namespace v1 = kv::api::v1;
using kv::core::Errc;

using kv::launcher::testing::load;
using kv::launcher::testing::read;

namespace {

kv::core::Result<std::string> build(const v1::VirtualMachineInstance& vmi,
                                    const PodEnvironment& env) {
  auto disks = plan_disks(vmi, env);
  REQUIRE(disks.ok());
  auto net = plan_network(vmi);
  REQUIRE(net.ok());
  return build_domain_xml(vmi, env, *disks, *net);
}

bool has(const std::string& xml, const std::string& part) {
  return xml.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("golden: EFI with Secure Boot (the default) and SMM, and an emulated TPM") {
  auto xml = build(load("efi-secureboot-tpm"), kv::test::pod_environment());
  REQUIRE(xml.ok());
  std::string path = std::string(LAUNCHER_TESTDATA) + "/efi-secureboot-tpm.xml";
  if (std::getenv("KV_UPDATE_GOLDEN")) {
    std::ofstream(path) << *xml;
    return;
  }
  INFO("golden file " << path << " (KV_UPDATE_GOLDEN=1 rewrites it)");
  CHECK(*xml == read(path));
}

TEST_CASE("Secure Boot picks the SMM OVMF build and Microsoft's keys; without it the plain one") {
  auto vmi = load("efi-secureboot-tpm");
  SECTION("secureBoot true") {
    auto xml = build(vmi, kv::test::pod_environment());
    REQUIRE(xml.ok());
    CHECK(has(*xml,
              "<loader readonly='yes' secure='yes' type='pflash'>"
              "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd</loader>"));
    CHECK(has(*xml,
              "<nvram template='/usr/share/OVMF/OVMF_VARS_4M.ms.fd'>"
              "/var/run/kubevirt-private/nvram.fd</nvram>"));
    CHECK(has(*xml, "<smm state='on'/>"));
  }
  SECTION("secureBoot false") {
    vmi.spec.domain.firmware->bootloader->efi->secure_boot = false;
    auto xml = build(vmi, kv::test::pod_environment());
    REQUIRE(xml.ok());
    CHECK(has(*xml,
              "<loader readonly='yes' secure='no' type='pflash'>"
              "/usr/share/OVMF/OVMF_CODE_4M.fd</loader>"));
    CHECK(has(*xml, "<nvram template='/usr/share/OVMF/OVMF_VARS_4M.fd'>"));
    CHECK_FALSE(has(*xml, "secboot"));
  }
  SECTION("BIOS: no loader, no NVRAM") {
    vmi.spec.domain.firmware.reset();
    auto xml = build(vmi, kv::test::pod_environment());
    REQUIRE(xml.ok());
    CHECK_FALSE(has(*xml, "<loader"));
    CHECK_FALSE(has(*xml, "<nvram"));
  }
}

TEST_CASE("EFI that this launcher cannot give is refused naming the field") {
  auto vmi = load("efi-secureboot-tpm");
  SECTION("Secure Boot without the secboot OVMF files") {
    auto env = kv::test::pod_environment();
    env.ovmf_secboot_code.clear();
    auto xml = build(vmi, env);
    REQUIRE_FALSE(xml.ok());
    CHECK(xml.error().code == Errc::unsupported);
    CHECK(xml.error().message.rfind(
              "spec.domain.firmware.bootloader.efi: EFI with secure boot needs OVMF", 0) == 0);
  }
  SECTION("persistent NVRAM") {
    vmi.spec.domain.firmware->bootloader->efi->persistent = true;
    auto xml = build(vmi, kv::test::pod_environment());
    REQUIRE_FALSE(xml.ok());
    CHECK(xml.error().code == Errc::unsupported);
    CHECK(xml.error().message.rfind(
              "spec.domain.firmware.bootloader.efi.persistent: true is not supported yet", 0) == 0);
  }
}

TEST_CASE("devices.tpm: a TPM 2.0 on swtpm unless enabled is false") {
  auto vmi = load("efi-secureboot-tpm");
  const std::string tpm =
      "    <tpm model='tpm-tis'>\n      <backend type='emulator' version='2.0'/>\n    </tpm>\n";
  SECTION("tpm: {}") {
    auto xml = build(vmi, kv::test::pod_environment());
    REQUIRE(xml.ok());
    CHECK(has(*xml, tpm));
  }
  SECTION("enabled: true") {
    vmi.spec.domain.devices.tpm->enabled = true;
    auto xml = build(vmi, kv::test::pod_environment());
    REQUIRE(xml.ok());
    CHECK(has(*xml, tpm));
  }
  SECTION("enabled: false") {
    vmi.spec.domain.devices.tpm->enabled = false;
    auto xml = build(vmi, kv::test::pod_environment());
    REQUIRE(xml.ok());
    CHECK_FALSE(has(*xml, "<tpm"));
  }
  SECTION("no tpm") {
    vmi.spec.domain.devices.tpm.reset();
    auto xml = build(vmi, kv::test::pod_environment());
    REQUIRE(xml.ok());
    CHECK_FALSE(has(*xml, "<tpm"));
  }
}
