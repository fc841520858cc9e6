// Disk preparation with the real tools (qemu-img, genisoimage, isoinfo) on local files.
#include "launcher/disks.hpp"

#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>

#include "launcher/process.hpp"
#include "test/support/temp_dir.hpp"

using namespace kv::launcher;
namespace fs = std::filesystem;

namespace {

std::string sh(const std::vector<std::string>& argv) {
  auto r = run(argv);
  REQUIRE(r.ok());
  INFO(r->output);
  REQUIRE(r->exit_code == 0);
  return r->output;
}

std::string file_bytes(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

}  // namespace

TEST_CASE(
    "containerDisk: a qcow2 overlay over the image's only disk file; the image is untouched") {
  kv::test::TempDir t("kv-disks");
  fs::create_directories(t.path / "cd/root/disk");
  std::string base = (t.path / "cd/root/disk/img.qcow2").string();
  sh({"qemu-img", "create", "-q", "-f", "qcow2", base, "16M"});
  std::string before = file_bytes(base);

  DiskPlan d;
  d.name = "root";
  d.kind = DiskKind::container_disk;
  d.base = (t.path / "cd/root/disk").string();  // a directory: its single file is the disk
  d.path = (t.path / "eph/disks/root.qcow2").string();
  d.format = "qcow2";
  REQUIRE(prepare_disk(d).ok());
  std::string info = sh({"qemu-img", "info", "--output=json", d.path});
  CHECK(info.find("\"backing-filename\": \"" + base + "\"") != std::string::npos);
  CHECK(info.find("\"backing-filename-format\": \"qcow2\"") != std::string::npos);
  // Writing through the overlay leaves the base as it was.
  sh({"qemu-io", "-c", "write -P 0xab 0 1M", d.path});
  CHECK(file_bytes(base) == before);

  // Two files in the directory: say which is meant.
  sh({"qemu-img", "create", "-q", "-f", "qcow2", (t.path / "cd/root/disk/other.qcow2").string(),
      "1M"});
  auto st = prepare_disk(d);
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().message.find("expected exactly one disk") != std::string::npos);
}

TEST_CASE(
    "containerDisk bad input: an absent path, a disk that is not qcow2 or raw, a qcow2 with a "
    "backing file; each message names the volume, the image and the reason") {
  kv::test::TempDir t("kv-disks");
  fs::create_directories(t.path / "cd/root/images");
  DiskPlan d;
  d.name = "root";
  d.kind = DiskKind::container_disk;
  d.image = "registry.example/guest:1";
  d.image_path = "/images/root.qcow2";
  d.base = (t.path / "cd/root/images/root.qcow2").string();
  d.path = (t.path / "eph/disks/root.qcow2").string();
  d.format = "qcow2";

  auto absent = prepare_disk(d);
  REQUIRE_FALSE(absent.ok());
  CHECK(absent.error().code == kv::core::Errc::not_found);
  CHECK(absent.error().message ==
        "failed to find the disk of containerDisk \"root\" (image registry.example/guest:1): "
        "path /images/root.qcow2 is absent from the image");

  sh({"qemu-img", "create", "-q", "-f", "vmdk", d.base, "1M"});
  auto vmdk = prepare_disk(d);
  REQUIRE_FALSE(vmdk.ok());
  CHECK(vmdk.error().code == kv::core::Errc::unsupported);
  CHECK(vmdk.error().message ==
        "invalid image in containerDisk \"root\" (image registry.example/guest:1): unsupported "
        "image format: vmdk (a containerDisk holds a qcow2 or raw disk)");
  CHECK_FALSE(fs::exists(d.path));

  fs::remove(d.base);
  std::string host_file = (t.path / "host-secret.raw").string();
  sh({"qemu-img", "create", "-q", "-f", "raw", host_file, "1M"});
  sh({"qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", host_file, d.base});
  auto backed = prepare_disk(d);
  REQUIRE_FALSE(backed.ok());
  CHECK(backed.error().message ==
        "invalid image in containerDisk \"root\" (image registry.example/guest:1): expected no "
        "backing file, but found " +
            host_file);

  // A raw disk is fine: the overlay backs onto it as raw.
  fs::remove(d.base);
  sh({"qemu-img", "create", "-q", "-f", "raw", d.base, "1M"});
  REQUIRE(prepare_disk(d).ok());
  CHECK(sh({"qemu-img", "info", "--output=json", d.path})
            .find("\"backing-filename-format\": \"raw\"") != std::string::npos);
}

TEST_CASE("emptyDisk: a qcow2 with the given capacity") {
  kv::test::TempDir t("kv-disks");
  DiskPlan d;
  d.name = "scratch";
  d.kind = DiskKind::empty_disk;
  d.capacity_bytes = 64ll * 1024 * 1024;
  d.path = (t.path / "disks/scratch.qcow2").string();
  REQUIRE(prepare_disk(d).ok());
  CHECK(sh({"qemu-img", "info", "--output=json", d.path}).find("\"virtual-size\": 67108864") !=
        std::string::npos);
}

TEST_CASE("PVC: disk.img is created sparse when missing and never overwritten") {
  kv::test::TempDir t("kv-disks");
  fs::create_directories(t.path / "pvc/data");
  DiskPlan d;
  d.name = "data";
  d.kind = DiskKind::pvc;
  d.path = (t.path / "pvc/data/disk.img").string();
  REQUIRE(prepare_disk(d).ok());
  struct stat st {};
  REQUIRE(stat(d.path.c_str(), &st) == 0);
  CHECK(st.st_size > 0);
  CHECK(st.st_size % (1024 * 1024) == 0);
  CHECK(st.st_blocks == 0);  // sparse

  std::ofstream(d.path, std::ios::trunc) << "user data";
  REQUIRE(prepare_disk(d).ok());
  CHECK(file_bytes(d.path) == "user data");

  DiskPlan missing = d;
  missing.path = (t.path / "pvc/absent/disk.img").string();
  auto err = prepare_disk(missing);
  REQUIRE_FALSE(err.ok());
  CHECK(err.error().message.find("is not mounted") != std::string::npos);
}

TEST_CASE("cloud-init: a cidata ISO holding exactly what the spec said") {
  kv::test::TempDir t("kv-disks");
  DiskPlan d;
  d.name = "ci";
  d.kind = DiskKind::cloud_init;
  d.path = (t.path / "cloud-init/ci.iso").string();
  d.meta_data = "instance-id: abc\nlocal-hostname: vm1\n";
  d.user_data = "#cloud-config\nruncmd: [echo hi]\n";
  d.network_config = "version: 2\n";
  REQUIRE(prepare_disk(d).ok());
  CHECK(sh({"isoinfo", "-d", "-i", d.path}).find("Volume id: cidata") != std::string::npos);
  CHECK(sh({"isoinfo", "-R", "-i", d.path, "-x", "/meta-data"}) == d.meta_data);
  CHECK(sh({"isoinfo", "-R", "-i", d.path, "-x", "/user-data"}) == d.user_data);
  CHECK(sh({"isoinfo", "-R", "-i", d.path, "-x", "/network-config"}) == d.network_config);
  CHECK_FALSE(fs::exists(d.path + ".d"));
}

namespace {

// A directory laid out as the kubelet mounts a ConfigMap or Secret: the files live in a
// timestamped directory, "..data" points at it, and each key is a symlink through "..data".
void kubelet_mount(const fs::path& dir, const std::map<std::string, std::string>& files) {
  fs::create_directories(dir / "..2026_12_03_10_00_00.123");
  fs::create_directory_symlink("..2026_12_03_10_00_00.123", dir / "..data");
  for (const auto& [name, text] : files) {
    std::ofstream(dir / "..2026_12_03_10_00_00.123" / name) << text;
    fs::create_symlink("..data/" + name, dir / name);
  }
}

// The file names at the root of an ISO's Rock Ridge tree.
std::string iso_listing(const std::string& iso) {
  return sh({"isoinfo", "-R", "-f", "-i", iso});
}

}  // namespace

TEST_CASE(
    "configMap/secret/...: an ISO of the mounted keys, labelled volumeLabel, without the "
    "kubelet's ..data entries") {
  kv::test::TempDir t("kv-disks");
  kubelet_mount(t.path / "cm", {{"app.conf", "debug=true\n"}, {"motd", "hello\n"}});
  DiskPlan d;
  d.name = "cm";
  d.kind = DiskKind::config_iso;
  d.source_dir = (t.path / "cm").string();
  d.volume_label = "CFG";
  d.path = (t.path / "eph/config-disks/cm.iso").string();
  REQUIRE(prepare_disk(d).ok());
  CHECK(sh({"isoinfo", "-d", "-i", d.path}).find("Volume id: CFG") != std::string::npos);
  CHECK(iso_listing(d.path) == "/app.conf\n/motd\n");
  CHECK(sh({"isoinfo", "-R", "-i", d.path, "-x", "/app.conf"}) == "debug=true\n");
  CHECK_FALSE(fs::exists(d.path + ".d"));
  CHECK_FALSE(fs::exists(d.path + ".tmp"));

  // A missing optional ConfigMap: the kubelet mounts an empty directory; the disk is empty.
  fs::create_directories(t.path / "empty");
  d.source_dir = (t.path / "empty").string();
  REQUIRE(prepare_disk(d).ok());
  CHECK(iso_listing(d.path).empty());

  // Not mounted at all: the launcher says where it looked.
  d.source_dir = (t.path / "nowhere").string();
  auto st = prepare_disk(d);
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().message.find("is not mounted at " + d.source_dir) != std::string::npos);
}

TEST_CASE("sysprep: the answer file must be there") {
  kv::test::TempDir t("kv-disks");
  kubelet_mount(t.path / "sp", {{"Autounattend.xml", "<unattend/>\n"}});
  DiskPlan d;
  d.name = "answers";
  d.kind = DiskKind::config_iso;
  d.source_dir = (t.path / "sp").string();
  d.volume_label = "unattendCD";
  d.required_files = {"autounattend.xml", "unattend.xml"};
  d.path = (t.path / "sp.iso").string();
  REQUIRE(prepare_disk(d).ok());
  CHECK(sh({"isoinfo", "-d", "-i", d.path}).find("Volume id: unattendCD") != std::string::npos);

  kubelet_mount(t.path / "other", {{"readme.txt", "no answers\n"}});
  d.source_dir = (t.path / "other").string();
  auto st = prepare_disk(d);
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().message.find("holds neither autounattend.xml or unattend.xml") !=
        std::string::npos);
}

TEST_CASE("cloud-init from Secrets; ConfigDrive: a config-2 ISO in the OpenStack layout") {
  kv::test::TempDir t("kv-disks");
  kubelet_mount(t.path / "secrets/ci-userdata", {{"userData", "#!/bin/sh\necho from-secret\n"}});
  kubelet_mount(t.path / "secrets/ci-networkdata", {{"networkdata", "{\"links\": []}\n"}});
  DiskPlan d;
  d.name = "ci";
  d.kind = DiskKind::cloud_init;
  d.config_drive = true;
  d.meta_data = R"({"instance_id":"vm1.default","hostname":"vm1","uuid":"abc"})";
  d.user_data_dir = (t.path / "secrets/ci-userdata").string();
  d.network_data_dir = (t.path / "secrets/ci-networkdata").string();
  d.path = (t.path / "cloud-init/ci.iso").string();
  REQUIRE(prepare_disk(d).ok());
  CHECK(sh({"isoinfo", "-d", "-i", d.path}).find("Volume id: config-2") != std::string::npos);
  CHECK(sh({"isoinfo", "-R", "-i", d.path, "-x", "/openstack/latest/meta_data.json"}) ==
        d.meta_data);
  CHECK(sh({"isoinfo", "-R", "-i", d.path, "-x", "/openstack/latest/user_data"}) ==
        "#!/bin/sh\necho from-secret\n");
  CHECK(sh({"isoinfo", "-R", "-i", d.path, "-x", "/openstack/latest/network_data.json"}) ==
        "{\"links\": []}\n");

  // NoCloud from the same Secret.
  d.config_drive = false;
  d.network_data_dir.clear();
  d.meta_data = "instance-id: abc\n";
  REQUIRE(prepare_disk(d).ok());
  CHECK(sh({"isoinfo", "-d", "-i", d.path}).find("Volume id: cidata") != std::string::npos);
  CHECK(sh({"isoinfo", "-R", "-i", d.path, "-x", "/user-data"}) == "#!/bin/sh\necho from-secret\n");

  // A Secret without the key: the error names the keys looked for.
  kubelet_mount(t.path / "secrets/bad-userdata", {{"user-data", "x"}});
  d.user_data_dir = (t.path / "secrets/bad-userdata").string();
  auto st = prepare_disk(d);
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().message.find("the Secret has no key userdata or userData") != std::string::npos);
}

TEST_CASE(
    "plan_disks: config volumes become ISOs of their mounts; cloud-init Secrets are read "
    "from theirs") {
  namespace v1 = kv::api::v1;
  PodEnvironment env;
  env.ephemeral_dir = "/eph";
  env.config_map_dir = "/m/cm";
  env.secret_dir = "/m/sec";
  env.service_account_dir = "/m/sa";
  env.downward_api_dir = "/m/da";
  env.sysprep_dir = "/m/sp";
  v1::VirtualMachineInstance vmi;
  vmi.metadata.name = "vm1";
  vmi.metadata.namespace_ = "apps";
  vmi.metadata.uid = "uid-1";
  auto add = [&](const std::string& name, auto set) {
    v1::Volume v;
    v.name = name;
    set(v);
    vmi.spec.volumes.push_back(v);
    v1::Disk d;
    d.name = name;
    vmi.spec.domain.devices.disks.push_back(d);
  };
  add("cm", [](v1::Volume& v) { v.config_map = v1::ConfigMapVolumeSource{"x", {}, "CFG"}; });
  add("sec", [](v1::Volume& v) { v.secret = v1::SecretVolumeSource{"x", {}, {}}; });
  add("sa", [](v1::Volume& v) { v.service_account = v1::ServiceAccountVolumeSource{"reader"}; });
  add("da", [](v1::Volume& v) { v.downward_api = v1::DownwardApiVolumeSource{}; });
  add("sp", [](v1::Volume& v) {
    v.sysprep = v1::SysprepSource{std::nullopt, v1::LocalObjectReference{"u"}};
  });
  add("ci", [](v1::Volume& v) {
    v.cloud_init_config_drive = v1::CloudInitConfigDriveSource{};
    v.cloud_init_config_drive->user_data_secret_ref = v1::LocalObjectReference{"ud"};
    v.cloud_init_config_drive->network_data = "{}";
  });
  auto plans = plan_disks(vmi, env);
  REQUIRE(plans.ok());
  REQUIRE(plans->size() == 6);
  const auto& p = *plans;
  for (size_t i = 0; i < 5; ++i) {
    INFO(p[i].name);
    CHECK(p[i].kind == DiskKind::config_iso);
    CHECK(p[i].read_only);
    CHECK(p[i].format == "raw");
    CHECK(p[i].path == "/eph/config-disks/" + p[i].name + ".iso");
  }
  CHECK(p[0].source_dir == "/m/cm/cm");
  CHECK(p[0].volume_label == "CFG");
  CHECK(p[1].source_dir == "/m/sec/sec");
  CHECK(p[1].volume_label == "cfgdata");  // upstream's default
  CHECK(p[2].source_dir == "/m/sa");
  CHECK(p[3].source_dir == "/m/da/da");
  CHECK(p[4].source_dir == "/m/sp/sp");
  CHECK(p[4].volume_label == "unattendCD");
  CHECK(p[4].required_files == std::vector<std::string>{"autounattend.xml", "unattend.xml"});
  CHECK(p[5].kind == DiskKind::cloud_init);
  CHECK(p[5].config_drive);
  CHECK(p[5].user_data_dir == "/m/sec/ci-userdata");
  CHECK(p[5].network_data_dir.empty());
  CHECK(p[5].network_config == "{}");
  CHECK(p[5].meta_data == R"({"instance_id":"vm1.apps","hostname":"vm1","uuid":"uid-1"})");
}
