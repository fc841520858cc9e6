// Disk preparation with the real tools (qemu-img, genisoimage, isoinfo) on local files.
#include "launcher/disks.hpp"

#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

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
