#pragma once
// The domain, as typed values, one group per concern (upstream's converter split): compute
// (accelerator, machine, memory, vCPUs, firmware), storage (the disk devices), devices (serial
// console, graphics, controllers, balloon) and network (the pod NIC on QEMU's command line, served
// by passt). Each concern is a pure function VMI -> values that makes every decision and refuses
// bad input naming the field, and a writer values -> XML that decides nothing. build_domain_xml()
// (domain_builder.hpp) composes them; nothing outside launcher/ uses this header.

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "launcher/domain_builder.hpp"

namespace kv::launcher::domain {

// --- errors that name the field (shared by the concerns and by plan_disks / plan_network)

inline core::Error invalid(const std::string& field, const std::string& msg) {
  return core::Error(core::Errc::invalid, field + ": " + msg).with("field", field);
}
inline core::Error unsupported(const std::string& field, const std::string& msg) {
  return core::Error(core::Errc::unsupported, field + ": " + msg).with("field", field);
}
inline std::string disk_field(size_t i) {
  return "spec.domain.devices.disks[" + std::to_string(i) + "]";
}

// --- compute

struct Efi {
  std::string loader;          // OVMF code, read-only pflash
  bool secure_boot = false;    // also turns SMM on
  std::string nvram_template;  // OVMF vars
  std::string nvram;           // the VM's copy of the vars
};

struct DirectKernel {
  std::string kernel;
  std::optional<std::string> initrd;
  std::optional<std::string> cmdline;
};

struct CpuFeature {
  std::string policy;  // force | require | optional | disable | forbid
  std::string name;
};

struct Cpu {
  std::string mode;   // host-passthrough, host-model, custom, or empty (QEMU's default model)
  std::string model;  // custom only
  std::uint32_t sockets = 1, cores = 1, threads = 1;
  std::vector<CpuFeature> features;
};

// One child of <hyperv>: <name state='on|off' attrs/> with optional <sub state=.../> children.
struct HypervFeature {
  std::string name;  // libvirt's element: relaxed, spinlocks, stimer, vendor_id, ...
  bool on = true;
  std::string attrs;  // extra attributes, already escaped: " retries='4096'"
  std::vector<std::pair<std::string, bool>> children;  // stimer/direct, tlbflush/extended
};

// <features>: what upstream's HypervisorFeatures configurator renders.
struct Features {
  bool acpi = true;
  bool apic = true;
  std::optional<bool> apic_eoi;
  std::optional<bool> smm;
  std::optional<bool> kvm_hidden;
  std::optional<bool> pvspinlock;
  std::string hyperv_mode;  // "", custom or passthrough
  std::vector<HypervFeature> hyperv;
};

struct ClockTimer {
  std::string name;  // rtc, pit, kvmclock, hpet, hypervclock
  std::optional<bool> present;
  std::optional<std::string> tick_policy;
  std::optional<std::string> track;
};

// <clock>: utc (adjustment reset or seconds) or a time zone, and timers.
struct Clock {
  std::string offset = "utc";  // utc | timezone
  std::optional<std::string> adjustment;
  std::optional<std::string> timezone;
  std::vector<ClockTimer> timers;
};

struct Compute {
  std::string type;  // kvm, or qemu (TCG)
  std::string machine;
  std::optional<std::string> uuid;
  std::int64_t memory_kib = 0;
  std::uint64_t vcpus = 1;
  std::optional<std::string> smbios_serial;  // <sysinfo> and <smbios mode='sysinfo'/>
  std::optional<Efi> efi;                    // nullopt: BIOS
  std::optional<DirectKernel> kernel;
  bool bios_serial = false;  // SeaBIOS prints to the serial console
  Cpu cpu;
  Features features;
  Clock clock;
  std::vector<std::pair<std::string, std::string>> chassis;  // <sysinfo><chassis> entries
  std::uint32_t io_threads = 0;                              // <iothreads>, none when 0
};

// Checks in this order, the first failure returned: accelerator, machine type, memory, CPU,
// firmware.
core::Result<Compute> plan_compute(const api::v1::VirtualMachineInstance& vmi,
                                   const PodEnvironment& env);
// <memory> .. <on_crash>: everything between the domain's metadata and its devices.
void write_compute(std::ostream& x, const Compute& c);

// --- storage

struct PciAddress {
  unsigned domain = 0, bus = 0, slot = 0, function = 0;
};
// "dddd:bb:ss.f" (hex), as validation accepts it.
std::optional<PciAddress> parse_pci_address(const std::string& s);

// IO threads (upstream's ioThreadsPolicy): how many the domain gets and the one each disk uses
// (nullopt: none), in spec order; see io_threads() in storage.cpp.
struct IoThreads {
  std::uint32_t count = 0;
  std::vector<std::optional<std::uint32_t>> per_disk;
};
IoThreads plan_io_threads(const api::v1::VirtualMachineInstance& vmi);

struct Disk {
  std::string device;  // disk | cdrom
  std::string format;  // qcow2 | raw
  bool discard = false;
  std::string source;  // the file
  std::string target;  // vda, sdb, ...
  std::string bus;     // virtio | sata | scsi | usb
  bool read_only = false;
  std::optional<std::string> serial;
  std::optional<std::uint32_t> boot_order;
  std::string alias;                 // ua-<disk name>, as upstream
  std::optional<std::string> cache;  // none | writethrough | writeback
  std::optional<std::string> io;     // native | threads
  std::optional<std::uint32_t> queues;
  std::optional<std::uint32_t> io_thread;
  std::optional<PciAddress> pci_address;
  std::optional<std::string> tray;  // cdrom: open | closed
};

// The VMI's disks in spec order over their plans (plan_disks()). Without any bootOrder the first
// disk boots, unless the kernel is booted directly.
core::Result<std::vector<Disk>> plan_storage(const api::v1::VirtualMachineInstance& vmi,
                                             const std::vector<DiskPlan>& plans,
                                             bool direct_kernel_boot);
void write_storage(std::ostream& x, const std::vector<Disk>& disks);

// --- devices

struct SerialConsole {
  std::string socket;  // bound by QEMU; virt-handler connects
  std::string log;     // also written to this file
};

struct Watchdog {
  std::string model;  // i6300esb
  std::string action;
  std::string alias;
};

struct InputDevice {
  std::string type;   // tablet
  std::string bus;    // usb | virtio
  std::string alias;  // ua-<name>
};

struct Devices {
  bool scsi_controller = false;
  std::string usb_model;  // qemu-xhci when a disk or an input is on USB, else none
  std::optional<SerialConsole> serial;
  std::optional<std::string> vnc_socket;
  std::string memballoon;  // virtio | none
  bool rng = false;        // virtio-rng from /dev/urandom
  std::optional<Watchdog> watchdog;
  std::vector<InputDevice> inputs;
  bool tpm = false;  // an emulated TPM 2.0 (swtpm), tpm-tis as upstream
};

Devices plan_devices(const api::v1::VirtualMachineInstance& vmi, const PodEnvironment& env,
                     const std::vector<Disk>& disks);
// The controllers, serial console, graphics and balloon (inside <devices>, after the disks).
void write_devices(std::ostream& x, const Devices& d);

// --- network

// passt's unix socket: env.passt_socket, else <ephemeral_dir>/passt.sock.
std::string passt_socket_path(const PodEnvironment& env);
// QEMU arguments for the pod NIC: a stream netdev connected to passt's socket, and the NIC on the
// root bus of `machine`.
std::vector<std::string> qemu_network_args(const NetworkPlan& n, const PodEnvironment& env,
                                           const std::string& machine);
// <qemu:commandline>, nothing when args is empty.
void write_qemu_commandline(std::ostream& x, const std::vector<std::string>& args);

}  // namespace kv::launcher::domain
