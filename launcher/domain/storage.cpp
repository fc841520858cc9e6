// Storage: volumes -> the files behind them (plan_disks), disks -> disk devices.

#include "launcher/domain/domain.hpp"

#include <algorithm>
#include <cstdio>

#include "core/encoding.hpp"
#include "core/json.hpp"

namespace kv::launcher {
namespace v1 = api::v1;
using core::Errc;
using core::Error;
using core::Result;
using domain::disk_field;
using domain::invalid;
using domain::unsupported;

namespace {

std::string volume_field(size_t i) {
  return "spec.volumes[" + std::to_string(i) + "]";
}

// Decodes standard base64 (padding optional, whitespace ignored); the error names the field.
Result<std::string> base64_decode(std::string_view in, const std::string& field) {
  auto d = core::base64_decode(in);
  if (!d.ok())
    return invalid(field, "not valid base64 (" + d.error().message + ")");
  return d;
}

core::Status plan_container_disk(const v1::Volume& vol, size_t vi, const PodEnvironment& env,
                                 DiskPlan& p) {
  p.kind = DiskKind::container_disk;
  std::string inner = vol.container_disk->path.value_or("/disk");
  if (inner.empty() || inner[0] != '/')
    return invalid(volume_field(vi) + ".containerDisk.path",
                   "\"" + inner + "\" must be an absolute path inside the image");
  if (inner.find("..") != std::string::npos)
    return invalid(volume_field(vi) + ".containerDisk.path",
                   "\"" + inner + "\" must not contain \"..\"");
  p.base = env.container_disk_dir + "/" + vol.name + inner;
  p.image = vol.container_disk->image;
  p.image_path = inner;
  // The overlay keeps the image read-only; writes go to the pod's ephemeral storage.
  p.path = env.ephemeral_dir + "/disks/" + vol.name + ".qcow2";
  p.format = "qcow2";
  return {};
}

std::string hostname_of(const v1::VirtualMachineInstance& vmi) {
  return vmi.spec.hostname.value_or(vmi.metadata.name.value_or("vmi"));
}

// NoCloud meta-data (YAML): instance-id (the VMI uid) and local-hostname.
std::string no_cloud_meta_data(const v1::VirtualMachineInstance& vmi) {
  std::string instance_id = vmi.metadata.uid.value_or(vmi.metadata.name.value_or("vmi") + "." +
                                                      vmi.metadata.namespace_.value_or("default"));
  return "instance-id: " + instance_id + "\nlocal-hostname: " + hostname_of(vmi) + "\n";
}

// ConfigDrive meta_data.json as upstream writes it: instance_id <name>.<namespace>, hostname,
// uuid (the VMI uid).
std::string config_drive_meta_data(const v1::VirtualMachineInstance& vmi) {
  core::json::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  core::json::set(
      doc, "instance_id",
      vmi.metadata.name.value_or("vmi") + "." + vmi.metadata.namespace_.value_or("default"), a);
  core::json::set(doc, "hostname", hostname_of(vmi), a);
  if (vmi.metadata.uid)
    core::json::set(doc, "uuid", *vmi.metadata.uid, a);
  return core::json::to_string(doc);
}

// cloudInitNoCloud and cloudInitConfigDrive: the same data, two layouts. Data from a Secret is
// read when the disk is made, from the mount the controller gave the pod.
template <class CloudInit>
core::Status plan_cloud_init(const CloudInit& ci, const std::string& f, const v1::Volume& vol,
                             const PodEnvironment& env, DiskPlan& p) {
  if (int(ci.user_data.has_value()) + int(ci.user_data_base64.has_value()) +
          int(ci.user_data_secret_ref.has_value()) >
      1)
    return invalid(f, "set only one of userData, userDataBase64 and secretRef");
  if (int(ci.network_data.has_value()) + int(ci.network_data_base64.has_value()) +
          int(ci.network_data_secret_ref.has_value()) >
      1)
    return invalid(f, "set only one of networkData, networkDataBase64 and networkDataSecretRef");
  p.kind = DiskKind::cloud_init;
  p.read_only = true;
  if (ci.user_data) {
    p.user_data = *ci.user_data;
  } else if (ci.user_data_base64) {
    auto d = base64_decode(*ci.user_data_base64, f + ".userDataBase64");
    if (!d.ok())
      return d.error();
    p.user_data = *d;
  } else if (ci.user_data_secret_ref) {
    p.user_data_dir = env.secret_dir + "/" + vol.name + "-userdata";
  }
  if (ci.network_data) {
    p.network_config = *ci.network_data;
  } else if (ci.network_data_base64) {
    auto d = base64_decode(*ci.network_data_base64, f + ".networkDataBase64");
    if (!d.ok())
      return d.error();
    p.network_config = *d;
  } else if (ci.network_data_secret_ref) {
    p.network_data_dir = env.secret_dir + "/" + vol.name + "-networkdata";
  }
  p.path = env.ephemeral_dir + "/cloud-init/" + vol.name + ".iso";
  p.format = "raw";
  return {};
}

// A read-only ISO of the files the kubelet mounted for a configMap, secret, serviceAccount,
// downwardAPI or sysprep volume (upstream's config disks; label cfgdata unless volumeLabel).
void plan_config_iso(const std::string& source_dir, const std::optional<std::string>& label,
                     const v1::Volume& vol, const PodEnvironment& env, DiskPlan& p) {
  p.kind = DiskKind::config_iso;
  p.read_only = true;
  p.source_dir = source_dir;
  p.volume_label = label && !label->empty() ? *label : "cfgdata";
  p.path = env.ephemeral_dir + "/config-disks/" + vol.name + ".iso";
  p.format = "raw";
}

// The file behind volume `vi`, refused with the field when this launcher cannot make it.
core::Status plan_volume(const v1::VirtualMachineInstance& vmi, size_t vi,
                         const PodEnvironment& env, DiskPlan& p) {
  const v1::Volume& vol = vmi.spec.volumes[vi];
  if (vol.container_disk)
    return plan_container_disk(vol, vi, env, p);
  if (vol.empty_disk) {
    p.kind = DiskKind::empty_disk;
    p.capacity_bytes = vol.empty_disk->capacity.value();
    if (p.capacity_bytes <= 0)
      return invalid(volume_field(vi) + ".emptyDisk.capacity", "must be greater than zero");
    p.path = env.ephemeral_dir + "/disks/" + vol.name + ".qcow2";
    p.format = "qcow2";
    return {};
  }
  if (vol.persistent_volume_claim) {
    p.kind = DiskKind::pvc;
    p.read_only = p.read_only || vol.persistent_volume_claim->read_only.value_or(false);
    p.path = env.pvc_dir + "/" + vol.name + "/disk.img";
    p.format = "raw";
    return {};
  }
  if (vol.cloud_init_no_cloud) {
    p.meta_data = no_cloud_meta_data(vmi);
    return plan_cloud_init(*vol.cloud_init_no_cloud, volume_field(vi) + ".cloudInitNoCloud", vol,
                           env, p);
  }
  if (vol.cloud_init_config_drive) {
    p.config_drive = true;
    p.meta_data = config_drive_meta_data(vmi);
    return plan_cloud_init(*vol.cloud_init_config_drive, volume_field(vi) + ".cloudInitConfigDrive",
                           vol, env, p);
  }
  if (vol.config_map) {
    plan_config_iso(env.config_map_dir + "/" + vol.name, vol.config_map->volume_label, vol, env, p);
    return {};
  }
  if (vol.secret) {
    plan_config_iso(env.secret_dir + "/" + vol.name, vol.secret->volume_label, vol, env, p);
    return {};
  }
  if (vol.service_account) {
    plan_config_iso(env.service_account_dir, std::nullopt, vol, env, p);
    return {};
  }
  if (vol.downward_api) {
    plan_config_iso(env.downward_api_dir + "/" + vol.name, vol.downward_api->volume_label, vol, env,
                    p);
    return {};
  }
  if (vol.sysprep) {
    // Windows looks for the answer file on any drive; upstream labels it unattendCD.
    plan_config_iso(env.sysprep_dir + "/" + vol.name, "unattendCD", vol, env, p);
    p.required_files = {"autounattend.xml", "unattend.xml"};
    return {};
  }
  return invalid(volume_field(vi), "volume \"" + vol.name +
                                       "\" has no source; set one of containerDisk, "
                                       "persistentVolumeClaim, emptyDisk, cloudInitNoCloud, "
                                       "cloudInitConfigDrive, configMap, secret, serviceAccount, "
                                       "downwardAPI, sysprep");
}

std::string device_name(const std::string& prefix, int index) {
  std::string suffix;
  int n = index;
  do {
    suffix.insert(suffix.begin(), static_cast<char>('a' + n % 26));
    n = n / 26 - 1;
  } while (n >= 0);
  return prefix + suffix;
}

std::string bus_name(v1::DiskBus b) {
  switch (b) {
    case v1::DiskBus::virtio:
      return "virtio";
    case v1::DiskBus::sata:
      return "sata";
    case v1::DiskBus::scsi:
      return "scsi";
    case v1::DiskBus::usb:
      return "usb";
  }
  return "virtio";
}

}  // namespace

Result<std::vector<DiskPlan>> plan_disks(const v1::VirtualMachineInstance& vmi,
                                         const PodEnvironment& env) {
  const auto& volumes = vmi.spec.volumes;
  std::vector<DiskPlan> plans;
  for (size_t i = 0; i < vmi.spec.domain.devices.disks.size(); ++i) {
    const auto& disk = vmi.spec.domain.devices.disks[i];
    size_t vi = 0;
    while (vi < volumes.size() && volumes[vi].name != disk.name)
      ++vi;
    if (vi == volumes.size())
      return invalid(disk_field(i) + ".name", "\"" + disk.name + "\" has no matching volume");
    DiskPlan p;
    p.name = disk.name;
    p.read_only = disk.cdrom.has_value() || (disk.disk && disk.disk->read_only.value_or(false));
    if (auto st = plan_volume(vmi, vi, env, p); !st.ok())
      return st.error();
    plans.push_back(std::move(p));
  }
  return plans;
}

namespace domain {

std::optional<PciAddress> parse_pci_address(const std::string& s) {
  PciAddress a;
  char tail;
  if (std::sscanf(s.c_str(), "%4x:%2x:%2x.%1x%c", &a.domain, &a.bus, &a.slot, &a.function, &tail) !=
          4 ||
      s.size() != 12 || a.slot > 0x1f || a.function > 7)
    return std::nullopt;
  return a;
}

// Upstream's GetIOThreadsCountType and assignDiskIOThread: dedicated disks get a thread each
// (numbered after the shared ones); the others share a pool of one (shared) or up to two per
// requested CPU (auto), handed out round robin. Only virtio disks use a thread.
IoThreads plan_io_threads(const v1::VirtualMachineInstance& vmi) {
  const v1::DomainSpec& dom = vmi.spec.domain;
  const auto& disks = dom.devices.disks;
  IoThreads out;
  out.per_disk.resize(disks.size());
  auto dedicated = [](const v1::Disk& d) { return d.dedicated_io_thread.value_or(false); };
  bool any_dedicated = false;
  for (const auto& d : disks)
    any_dedicated = any_dedicated || dedicated(d);
  if (!dom.io_threads_policy && !any_dedicated)
    return out;
  int pool_limit = 1;
  if (dom.io_threads_policy == "auto") {
    int cpus = 1;
    if (dom.resources && dom.resources->requests.count("cpu"))
      cpus = static_cast<int>(dom.resources->requests.at("cpu").value());
    else if (dom.resources && dom.resources->limits.count("cpu"))
      cpus = static_cast<int>(dom.resources->limits.at("cpu").value());
    pool_limit = std::max(cpus, 1) * 2;
  }
  int dedicated_threads = 0, auto_threads = 0;
  for (const auto& d : disks)
    (dedicated(d) ? dedicated_threads : auto_threads) += 1;
  if (auto_threads + dedicated_threads > pool_limit)
    auto_threads = std::max(pool_limit - dedicated_threads, 1);
  out.count = static_cast<std::uint32_t>(auto_threads + dedicated_threads);
  std::uint32_t next_dedicated = static_cast<std::uint32_t>(auto_threads) + 1, next_auto = 1;
  for (size_t i = 0; i < disks.size(); ++i) {
    const auto& d = disks[i];
    bool virtio =
        !d.cdrom && (!d.disk || d.disk->bus.value_or(v1::DiskBus::virtio) == v1::DiskBus::virtio);
    if (!virtio)
      continue;
    if (dedicated(d)) {
      out.per_disk[i] = next_dedicated++;
    } else {
      out.per_disk[i] = next_auto;
      next_auto = next_auto % static_cast<std::uint32_t>(auto_threads) + 1;
    }
  }
  return out;
}

namespace {

// cache, io, queues (blockMultiQueue: one per vCPU on virtio), the IO thread, the PCI address
// and the cdrom tray of disk i.
core::Status disk_driver(const v1::VirtualMachineInstance& vmi, size_t i,
                         const std::optional<std::uint32_t>& io_thread, Disk& disk) {
  const v1::Disk& d = vmi.spec.domain.devices.disks[i];
  disk.cache = d.cache;
  disk.io = d.io;
  if (d.io == "native" && !d.cache)
    disk.cache = "none";  // QEMU's native IO needs O_DIRECT
  const auto& dom = vmi.spec.domain;
  if (disk.bus == "virtio" && dom.devices.block_multi_queue.value_or(false)) {
    std::uint32_t vcpus = 1;
    if (dom.cpu)
      vcpus =
          dom.cpu->sockets.value_or(1) * dom.cpu->cores.value_or(1) * dom.cpu->threads.value_or(1);
    disk.queues = vcpus;
  }
  disk.io_thread = io_thread;
  if (d.disk && d.disk->pci_address) {
    auto a = parse_pci_address(*d.disk->pci_address);
    if (!a)
      return invalid(disk_field(i) + ".disk.pciAddress",
                     "\"" + *d.disk->pci_address + "\" is not a PCI address like 0000:00:0a.0");
    if (disk.bus != "virtio")
      return invalid(disk_field(i) + ".disk.pciAddress", "only a virtio disk has a PCI address");
    disk.pci_address = a;
  }
  if (d.cdrom && d.cdrom->tray == "open")
    disk.tray = d.cdrom->tray;  // closed is libvirt's default
  return {};
}

}  // namespace

Result<std::vector<Disk>> plan_storage(const v1::VirtualMachineInstance& vmi,
                                       const std::vector<DiskPlan>& plans,
                                       bool direct_kernel_boot) {
  const auto& spec_disks = vmi.spec.domain.devices.disks;
  // A device name per bus family; boot order only where the user set one.
  bool any_boot_order = false;
  for (const auto& d : spec_disks)
    any_boot_order = any_boot_order || d.boot_order.has_value();
  int vd = 0, sd = 0;
  IoThreads io_threads = plan_io_threads(vmi);
  std::vector<Disk> out;
  for (size_t i = 0; i < spec_disks.size(); ++i) {
    const auto& d = spec_disks[i];
    const DiskPlan* plan = nullptr;
    for (const auto& p : plans)
      if (p.name == d.name)
        plan = &p;
    if (!plan)
      return Error(Errc::internal, "no disk plan for " + disk_field(i) + " (\"" + d.name + "\")");
    if (d.disk && d.cdrom)
      return invalid(disk_field(i), "set only one of disk and cdrom");
    bool cdrom = d.cdrom.has_value();
    v1::DiskBus bus =
        cdrom ? d.cdrom->bus.value_or(v1::DiskBus::sata)
              : (d.disk ? d.disk->bus.value_or(v1::DiskBus::virtio) : v1::DiskBus::virtio);
    if (cdrom && bus == v1::DiskBus::virtio)
      return invalid(disk_field(i) + ".cdrom.bus",
                     "virtio cannot carry a CD-ROM; use sata or scsi");
    Disk disk;
    disk.device = cdrom ? "cdrom" : "disk";
    disk.format = plan->format;
    disk.discard = !cdrom && !plan->read_only;
    disk.source = plan->path;
    disk.target = bus == v1::DiskBus::virtio ? device_name("vd", vd++) : device_name("sd", sd++);
    disk.bus = bus_name(bus);
    disk.read_only = plan->read_only;
    disk.serial = d.serial;
    if (d.boot_order)
      disk.boot_order = d.boot_order;
    else if (!any_boot_order && !direct_kernel_boot && i == 0)
      disk.boot_order = 1;
    disk.alias = "ua-" + d.name;
    if (auto st = disk_driver(vmi, i, io_threads.per_disk[i], disk); !st.ok())
      return st.error();
    out.push_back(std::move(disk));
  }
  return out;
}

namespace {

// cache=, io=, queues=, iothread= of <driver>, each only when set.
std::string driver_attributes(const Disk& d) {
  std::string out;
  if (d.cache)
    out += " cache='" + xml_escape(*d.cache) + "'";
  if (d.io)
    out += " io='" + xml_escape(*d.io) + "'";
  if (d.queues)
    out += " queues='" + std::to_string(*d.queues) + "'";
  if (d.io_thread)
    out += " iothread='" + std::to_string(*d.io_thread) + "'";
  return out;
}

std::string hex(unsigned v, int width) {
  char b[8];
  std::snprintf(b, sizeof b, "0x%0*x", width, v);
  return b;
}

void write_pci_address(std::ostream& x, const PciAddress& a) {
  x << "      <address type='pci' domain='" << hex(a.domain, 4) << "' bus='" << hex(a.bus, 2)
    << "' slot='" << hex(a.slot, 2) << "' function='" << hex(a.function, 1) << "'/>\n";
}

}  // namespace

void write_storage(std::ostream& x, const std::vector<Disk>& disks) {
  for (const Disk& d : disks) {
    x << "    <disk type='file' device='" << d.device << "'>\n";
    x << "      <driver name='qemu' type='" << d.format << "'"
      << (d.discard ? " discard='unmap'" : "") << driver_attributes(d) << "/>\n";
    x << "      <source file='" << xml_escape(d.source) << "'/>\n";
    x << "      <target dev='" << d.target << "' bus='" << d.bus << "'"
      << (d.tray ? " tray='" + xml_escape(*d.tray) + "'" : "") << "/>\n";
    if (d.read_only)
      x << "      <readonly/>\n";
    if (d.serial)
      x << "      <serial>" << xml_escape(*d.serial) << "</serial>\n";
    if (d.boot_order)
      x << "      <boot order='" << *d.boot_order << "'/>\n";
    x << "      <alias name='" << xml_escape(d.alias) << "'/>\n";
    if (d.pci_address)
      write_pci_address(x, *d.pci_address);
    x << "    </disk>\n";
  }
}

}  // namespace domain
}  // namespace kv::launcher
