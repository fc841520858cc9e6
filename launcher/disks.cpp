#include "launcher/disks.hpp"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

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

// The image's disk: `base` itself, or the single regular file inside it when it is a directory.
Result<std::string> resolve_base(const std::string& base) {
  std::error_code ec;
  if (fs::is_regular_file(base, ec))
    return base;
  if (!fs::is_directory(base, ec))
    return Error(Errc::not_found, "containerDisk image file " + base + " does not exist")
        .with("path", base);
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(base, ec))
    if (e.is_regular_file())
      files.push_back(e.path().string());
  if (files.size() != 1)
    return Error(Errc::invalid, "containerDisk directory " + base + " holds " +
                                    std::to_string(files.size()) +
                                    " files; expected exactly one disk (or set "
                                    "containerDisk.path)")
        .with("path", base);
  return files[0];
}

Result<std::string> probe_format(const std::string& file) {
  auto r = run({"qemu-img", "info", "--output=json", file});
  if (!r.ok())
    return std::move(r).error();
  if (r->exit_code != 0)
    return Error(Errc::invalid, "qemu-img cannot read " + file + ": " + r->output)
        .with("path", file);
  auto pos = r->output.find("\"format\": \"");
  if (pos == std::string::npos)
    return Error(Errc::parse, "qemu-img info gave no format for " + file);
  pos += 11;
  auto end = r->output.find('"', pos);
  std::string fmt = r->output.substr(pos, end - pos);
  if (fmt != "qcow2" && fmt != "raw")
    return Error(Errc::unsupported, "containerDisk " + file + " is " + fmt +
                                        "; only qcow2 and raw images are supported")
        .with("path", file);
  return fmt;
}

Status prepare_container_disk(const DiskPlan& d) {
  auto base = resolve_base(d.base);
  if (!base.ok())
    return std::move(base).error();
  auto fmt = probe_format(*base);
  if (!fmt.ok())
    return std::move(fmt).error();
  KV_CHECK(make_parent(d.path));
  std::error_code ec;
  fs::remove(d.path, ec);  // a leftover from an earlier start of this pod is stale
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

Status prepare_cloud_init(const DiskPlan& d) {
  KV_CHECK(make_parent(d.path));
  std::string dir = d.path + ".d";
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir, ec);
  if (ec)
    return Error(Errc::io, "cannot create " + dir + ": " + ec.message());
  KV_CHECK(write_file(dir + "/meta-data", d.meta_data));
  KV_CHECK(write_file(dir + "/user-data", d.user_data));
  std::vector<std::string> argv{"genisoimage",      "-quiet",          "-output", d.path,
                                "-volid",           "cidata",          "-joliet", "-rock",
                                dir + "/meta-data", dir + "/user-data"};
  if (!d.network_config.empty()) {
    KV_CHECK(write_file(dir + "/network-config", d.network_config));
    argv.push_back(dir + "/network-config");
  }
  fs::remove(d.path, ec);
  auto st = run_tool(argv);
  fs::remove_all(dir, ec);
  return st;
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
