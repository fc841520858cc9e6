#include "launcher/disks.hpp"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "core/json.hpp"
#include "core/log.hpp"
#include "launcher/process.hpp"

namespace kv::launcher {
namespace fs = std::filesystem;
using core::Errc;
using core::Error;
using core::Result;
using core::Status;

namespace {

Status make_parent(const std::string& path) {
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  if (ec)
    return Error(Errc::io, "cannot create directory for " + path + ": " + ec.message())
        .with("path", path);
  return {};
}

Status run_tool(const std::vector<std::string>& argv) {
  auto r = run(argv);
  if (!r.ok())
    return std::move(r).error();
  if (r->exit_code != 0) {
    std::string out =
        r->output.size() > 2000 ? r->output.substr(r->output.size() - 2000) : r->output;
    return Error(Errc::io, argv[0] + " failed (exit " + std::to_string(r->exit_code) + "): " + out);
  }
  return {};
}

// How messages about a containerDisk start: the volume and its image, as the user wrote them.
std::string container_disk_subject(const DiskPlan& d) {
  std::string s = "containerDisk \"" + d.name + "\"";
  if (!d.image.empty())
    s += " (image " + d.image + ")";
  return s;
}

// The image's disk: `base` itself, or the single regular file inside it when it is a directory.
// Errc::not_found when containerDisk.path is absent from the image.
Result<std::string> resolve_base(const DiskPlan& d) {
  const std::string& base = d.base;
  std::error_code ec;
  if (fs::is_regular_file(base, ec))
    return base;
  if (!fs::is_directory(base, ec)) {
    std::string what = d.image_path.empty() ? base : d.image_path;
    std::string why = fs::exists(fs::symlink_status(base, ec)) ? " is not a file or directory"
                                                               : " is absent from the image";
    return Error(Errc::not_found,
                 "failed to find the disk of " + container_disk_subject(d) + ": path " + what + why)
        .with("path", base);
  }
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(base, ec))
    if (e.is_regular_file())
      files.push_back(e.path().string());
  if (files.size() != 1)
    return Error(Errc::invalid, "failed to find the disk of " + container_disk_subject(d) +
                                    ": directory " + (d.image_path.empty() ? base : d.image_path) +
                                    " holds " + std::to_string(files.size()) +
                                    " files; expected exactly one disk (or set "
                                    "containerDisk.path)")
        .with("path", base);
  return files[0];
}

// The disk's format, "qcow2" or "raw", as qemu-img detects it. As upstream's VerifyImage:
// Errc::unsupported for any other format, and for a qcow2 with a backing file (it would reach
// files outside the image).
Result<std::string> probe_format(const DiskPlan& d, const std::string& file) {
  const std::string invalid = "invalid image in " + container_disk_subject(d) + ": ";
  auto r = run({"qemu-img", "info", "--output=json", file});
  if (!r.ok())
    return std::move(r).error();
  if (r->exit_code != 0)
    return Error(Errc::unsupported, invalid + "qemu-img cannot read it: " + r->output)
        .with("path", file);
  auto info = core::json::parse(r->output);
  if (!info.ok() || !info->IsObject())
    return Error(Errc::parse, "qemu-img info gave no JSON for " + file);
  std::string fmt(core::json::get_string(*info, "format").value_or(""));
  if (fmt != "qcow2" && fmt != "raw")
    return Error(Errc::unsupported, invalid + "unsupported image format: " + fmt +
                                        " (a containerDisk holds a qcow2 or raw disk)")
        .with("path", file);
  if (auto backing = core::json::get_string(*info, "backing-filename"))
    return Error(Errc::unsupported,
                 invalid + "expected no backing file, but found " + std::string(*backing))
        .with("path", file);
  return fmt;
}

Status prepare_container_disk(const DiskPlan& d) {
  auto base = resolve_base(d);
  if (!base.ok())
    return std::move(base).error();
  auto fmt = probe_format(d, *base);
  if (!fmt.ok())
    return std::move(fmt).error();
  KV_CHECK(make_parent(d.path));
  std::error_code ec;
  fs::remove(d.path, ec);  // a leftover from an earlier start of this pod is stale
  // The image stays read-only (an image volume is mounted so; a copy is the pod's own): QEMU
  // writes to the overlay on the pod's ephemeral storage only.
  std::string abs = fs::absolute(*base).string();
  return run_tool({"qemu-img", "create", "-q", "-f", "qcow2", "-F", *fmt, "-b", abs, d.path});
}

Status prepare_empty_disk(const DiskPlan& d) {
  KV_CHECK(make_parent(d.path));
  std::error_code ec;
  fs::remove(d.path, ec);
  return run_tool(
      {"qemu-img", "create", "-q", "-f", "qcow2", d.path, std::to_string(d.capacity_bytes)});
}

Status prepare_pvc(const DiskPlan& d) {
  std::string dir = fs::path(d.path).parent_path().string();
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    return Error(Errc::not_found,
                 "persistentVolumeClaim \"" + d.name + "\" is not mounted at " + dir)
        .with("path", dir);
  if (fs::exists(d.path, ec))
    return {};  // the user's data: never overwritten
  if (d.read_only)
    return Error(Errc::not_found,
                 "read-only persistentVolumeClaim \"" + d.name + "\" has no " + d.path)
        .with("path", d.path);
  int64_t size = d.capacity_bytes;
  if (size <= 0) {
    struct statvfs st {};
    if (statvfs(dir.c_str(), &st) != 0)
      return core::errno_error("statvfs " + dir, errno);
    // The space this user may take, rounded down to MiB (QEMU wants aligned sizes).
    size = static_cast<int64_t>(st.f_bavail) * static_cast<int64_t>(st.f_frsize);
    size -= size % (1024 * 1024);
    if (size <= 0)
      return Error(Errc::io, "persistentVolumeClaim \"" + d.name + "\" has no free space")
          .with("path", dir);
  }
  // Create under a temporary name and rename, so a crash never leaves a half-made disk.img.
  std::string tmp = d.path + ".tmp";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0660);
  if (fd < 0)
    return core::errno_error("create " + tmp, errno);
  if (ftruncate(fd, size) != 0) {
    int err = errno;
    close(fd);
    unlink(tmp.c_str());
    return core::errno_error("size " + tmp, err);
  }
  close(fd);
  if (rename(tmp.c_str(), d.path.c_str()) != 0)
    return core::errno_error("rename " + tmp, errno);
  core::log::info("created PVC disk image", {{"path", d.path}, {"bytes", std::to_string(size)}});
  return {};
}

Status write_file(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
  f.close();
  if (!f)
    return Error(Errc::io, "cannot write " + path).with("path", path);
  return {};
}

// The first of `keys` in the Secret mounted at dir (the kubelet's files are symlinks into it).
Result<std::string> read_secret_key(const std::string& dir, const std::vector<std::string>& keys,
                                    const std::string& what) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    return Error(Errc::not_found, what + ": the Secret is not mounted at " + dir).with("path", dir);
  for (const auto& key : keys) {
    std::ifstream f(dir + "/" + key, std::ios::binary);
    if (f)
      return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  }
  std::string list;
  for (const auto& key : keys)
    list += (list.empty() ? "" : " or ") + key;
  return Error(Errc::not_found, what + ": the Secret has no key " + list).with("path", dir);
}

// A fresh staging directory next to the ISO, removed with its contents when this goes away.
class Staging {
 public:
  explicit Staging(std::string dir) : dir_(std::move(dir)) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
    fs::create_directories(dir_, ec_);
  }
  ~Staging() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  Staging(const Staging&) = delete;
  Staging& operator=(const Staging&) = delete;
  Status status() const {
    if (ec_)
      return Error(Errc::io, "cannot create " + dir_ + ": " + ec_.message()).with("path", dir_);
    return {};
  }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  std::error_code ec_;
};

// genisoimage of everything in dir, with Rock Ridge and Joliet names, written to a temporary
// name and renamed so a half-made ISO is never left at path.
Status make_iso(const std::string& path, const std::string& label, const std::string& dir) {
  std::string tmp = path + ".tmp";
  std::error_code ec;
  fs::remove(tmp, ec);
  KV_CHECK(run_tool(
      {"genisoimage", "-quiet", "-output", tmp, "-volid", label, "-joliet", "-rock", dir}));
  if (rename(tmp.c_str(), path.c_str()) != 0)
    return core::errno_error("rename " + tmp, errno);
  return {};
}

Status prepare_cloud_init(const DiskPlan& d) {
  KV_CHECK(make_parent(d.path));
  std::string user_data = d.user_data, network_config = d.network_config;
  if (!d.user_data_dir.empty()) {
    auto r = read_secret_key(d.user_data_dir, {"userdata", "userData"}, "cloud-init secretRef");
    if (!r.ok())
      return std::move(r).error();
    user_data = *r;
  }
  if (!d.network_data_dir.empty()) {
    auto r = read_secret_key(d.network_data_dir, {"networkdata", "networkData"},
                             "cloud-init networkDataSecretRef");
    if (!r.ok())
      return std::move(r).error();
    network_config = *r;
  }
  Staging staging(d.path + ".d");
  KV_CHECK(staging.status());
  if (d.config_drive) {
    // OpenStack config-drive v2, as upstream: openstack/latest/{meta_data.json,user_data,
    // network_data.json}, label config-2.
    std::string latest = staging.dir() + "/openstack/latest";
    std::error_code ec;
    fs::create_directories(latest, ec);
    if (ec)
      return Error(Errc::io, "cannot create " + latest + ": " + ec.message());
    KV_CHECK(write_file(latest + "/meta_data.json", d.meta_data));
    KV_CHECK(write_file(latest + "/user_data", user_data));
    if (!network_config.empty())
      KV_CHECK(write_file(latest + "/network_data.json", network_config));
    return make_iso(d.path, "config-2", staging.dir());
  }
  KV_CHECK(write_file(staging.dir() + "/meta-data", d.meta_data));
  KV_CHECK(write_file(staging.dir() + "/user-data", user_data));
  if (!network_config.empty())
    KV_CHECK(write_file(staging.dir() + "/network-config", network_config));
  return make_iso(d.path, "cidata", staging.dir());
}

bool iequals(const std::string& a, const std::string& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// The files the kubelet mounted, copied (through its symlinks) without its "..data" and
// "..<timestamp>" bookkeeping entries, then made an ISO. A missing optional ConfigMap or Secret
// is an empty directory: an empty disk, as upstream.
Status prepare_config_iso(const DiskPlan& d) {
  KV_CHECK(make_parent(d.path));
  std::error_code ec;
  if (!fs::is_directory(d.source_dir, ec))
    return Error(Errc::not_found, "volume \"" + d.name + "\" is not mounted at " + d.source_dir)
        .with("path", d.source_dir);
  Staging staging(d.path + ".d");
  KV_CHECK(staging.status());
  bool required_found = d.required_files.empty();
  for (const auto& e : fs::directory_iterator(d.source_dir, ec)) {
    std::string name = e.path().filename().string();
    if (name.rfind("..", 0) == 0)
      continue;
    for (const auto& r : d.required_files)
      required_found = required_found || iequals(name, r);
    fs::copy(e.path(), staging.dir() + "/" + name, fs::copy_options::recursive, ec);
    if (ec)
      return Error(Errc::io, "cannot copy " + e.path().string() + ": " + ec.message())
          .with("path", e.path().string());
  }
  if (ec)
    return Error(Errc::io, "cannot list " + d.source_dir + ": " + ec.message())
        .with("path", d.source_dir);
  if (!required_found) {
    std::string list;
    for (const auto& r : d.required_files)
      list += (list.empty() ? "" : " or ") + r;
    return Error(Errc::not_found, "volume \"" + d.name + "\" holds neither " + list)
        .with("path", d.source_dir);
  }
  return make_iso(d.path, d.volume_label, staging.dir());
}

}  // namespace

Status prepare_disk(const DiskPlan& d) {
  Status st;
  switch (d.kind) {
    case DiskKind::container_disk:
      st = prepare_container_disk(d);
      break;
    case DiskKind::empty_disk:
      st = prepare_empty_disk(d);
      break;
    case DiskKind::pvc:
      st = prepare_pvc(d);
      break;
    case DiskKind::cloud_init:
      st = prepare_cloud_init(d);
      break;
    case DiskKind::config_iso:
      st = prepare_config_iso(d);
      break;
  }
  if (!st.ok())
    return Error(st.error()).with("disk", d.name);
  return {};
}

Status prepare_disks(const std::vector<DiskPlan>& disks) {
  for (const auto& d : disks)
    KV_CHECK(prepare_disk(d));
  return {};
}

}  // namespace kv::launcher
