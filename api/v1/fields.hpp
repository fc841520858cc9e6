#pragma once
// The one description of every kubevirt.io/v1 type we serve: JSON names, docs (they become the
// CRD's descriptions, shown by `kubectl explain`), enum spellings. The codec and tools/crdgen walk
// these tables (describe.hpp); adding a member to types.hpp without a line here leaves it out of
// the JSON and the CRD, so add both together.

#include <array>
#include <string_view>
#include <tuple>
#include <utility>

#include "api/v1/describe.hpp"
#include "api/v1/types.hpp"

namespace kv::api::v1 {

using namespace std::string_view_literals;

// ---------------------------------------------------------------------------------------------
// Enums
template <>
struct EnumNames<RunStrategy> {
  static constexpr std::array values = {
      std::pair{RunStrategy::always, "Always"sv},
      std::pair{RunStrategy::rerun_on_failure, "RerunOnFailure"sv},
      std::pair{RunStrategy::manual, "Manual"sv},
      std::pair{RunStrategy::halted, "Halted"sv},
      std::pair{RunStrategy::once, "Once"sv},
  };
};
template <>
struct EnumNames<DiskBus> {
  static constexpr std::array values = {
      std::pair{DiskBus::virtio, "virtio"sv},
      std::pair{DiskBus::sata, "sata"sv},
      std::pair{DiskBus::scsi, "scsi"sv},
      std::pair{DiskBus::usb, "usb"sv},
  };
};
template <>
struct EnumNames<EvictionStrategy> {
  static constexpr std::array values = {
      std::pair{EvictionStrategy::none, "None"sv},
      std::pair{EvictionStrategy::live_migrate, "LiveMigrate"sv},
      std::pair{EvictionStrategy::live_migrate_if_possible, "LiveMigrateIfPossible"sv},
      std::pair{EvictionStrategy::external, "External"sv},
  };
};
template <>
struct EnumNames<StartStrategy> {
  static constexpr std::array values = {
      std::pair{StartStrategy::paused, "Paused"sv},
  };
};
template <>
struct EnumNames<PullPolicy> {
  static constexpr std::array values = {
      std::pair{PullPolicy::always, "Always"sv},
      std::pair{PullPolicy::if_not_present, "IfNotPresent"sv},
      std::pair{PullPolicy::never, "Never"sv},
  };
};
template <>
struct EnumNames<Protocol> {
  static constexpr std::array values = {
      std::pair{Protocol::tcp, "TCP"sv},
      std::pair{Protocol::udp, "UDP"sv},
  };
};
template <>
struct EnumNames<VmiPhase> {
  static constexpr std::array values = {
      std::pair{VmiPhase::pending, "Pending"sv},
      std::pair{VmiPhase::scheduling, "Scheduling"sv},
      std::pair{VmiPhase::scheduled, "Scheduled"sv},
      std::pair{VmiPhase::running, "Running"sv},
      std::pair{VmiPhase::succeeded, "Succeeded"sv},
      std::pair{VmiPhase::failed, "Failed"sv},
      std::pair{VmiPhase::unknown, "Unknown"sv},
  };
};
template <>
struct EnumNames<PrintableStatus> {
  static constexpr std::array values = {
      std::pair{PrintableStatus::stopped, "Stopped"sv},
      std::pair{PrintableStatus::provisioning, "Provisioning"sv},
      std::pair{PrintableStatus::starting, "Starting"sv},
      std::pair{PrintableStatus::running, "Running"sv},
      std::pair{PrintableStatus::paused, "Paused"sv},
      std::pair{PrintableStatus::stopping, "Stopping"sv},
      std::pair{PrintableStatus::terminating, "Terminating"sv},
      std::pair{PrintableStatus::crash_loop_back_off, "CrashLoopBackOff"sv},
      std::pair{PrintableStatus::migrating, "Migrating"sv},
      std::pair{PrintableStatus::unknown, "Unknown"sv},
      std::pair{PrintableStatus::error_unschedulable, "ErrorUnschedulable"sv},
      std::pair{PrintableStatus::err_image_pull, "ErrImagePull"sv},
      std::pair{PrintableStatus::image_pull_back_off, "ImagePullBackOff"sv},
      std::pair{PrintableStatus::error_pvc_not_found, "ErrorPvcNotFound"sv},
      std::pair{PrintableStatus::waiting_for_volume_binding, "WaitingForVolumeBinding"sv},
  };
};
template <>
struct EnumNames<StateChangeAction> {
  static constexpr std::array values = {
      std::pair{StateChangeAction::start, "Start"sv},
      std::pair{StateChangeAction::stop, "Stop"sv},
  };
};
template <>
struct EnumNames<MigrationAbortStatus> {
  static constexpr std::array values = {
      std::pair{MigrationAbortStatus::succeeded, "Succeeded"sv},
      std::pair{MigrationAbortStatus::failed, "Failed"sv},
      std::pair{MigrationAbortStatus::aborting, "Aborting"sv},
  };
};
template <>
struct EnumNames<MigrationMode> {
  static constexpr std::array values = {
      std::pair{MigrationMode::pre_copy, "PreCopy"sv},
      std::pair{MigrationMode::post_copy, "PostCopy"sv},
      std::pair{MigrationMode::paused, "Paused"sv},
  };
};
template <>
struct EnumNames<MigrationMethod> {
  static constexpr std::array values = {
      std::pair{MigrationMethod::block_migration, "BlockMigration"sv},
      std::pair{MigrationMethod::live_migration, "LiveMigration"sv},
  };
};
template <>
struct EnumNames<MigrationTransport> {
  static constexpr std::array values = {
      std::pair{MigrationTransport::unix_socket, "Unix"sv},
  };
};
template <>
struct EnumNames<MigrationNetworkType> {
  static constexpr std::array values = {
      std::pair{MigrationNetworkType::pod, "Pod"sv},
      std::pair{MigrationNetworkType::migration, "Migration"sv},
  };
};

// ---------------------------------------------------------------------------------------------
// metadata
template <>
struct Describe<OwnerReference> {
  static constexpr std::string_view doc = "An object this one depends on.";
  static constexpr auto fields = std::make_tuple(
      field("apiVersion", &OwnerReference::api_version, "API version of the referent."),
      field("kind", &OwnerReference::kind, "Kind of the referent."),
      field("name", &OwnerReference::name, "Name of the referent."),
      field("uid", &OwnerReference::uid, "UID of the referent."),
      field("controller", &OwnerReference::controller, "True if the referent is the controller."),
      field("blockOwnerDeletion", &OwnerReference::block_owner_deletion,
            "If true, the owner cannot be deleted before this object."));
};

template <>
struct Describe<ObjectMeta> {
  static constexpr std::string_view doc = "Standard object metadata.";
  static constexpr auto fields = std::make_tuple(
      field("name", &ObjectMeta::name, "Name, unique within the namespace."),
      field("generateName", &ObjectMeta::generate_name,
            "Prefix for a server-generated name when name is not set."),
      field("namespace", &ObjectMeta::namespace_, "Namespace of the object."),
      field("uid", &ObjectMeta::uid, "Unique id set by the server."),
      field("resourceVersion", &ObjectMeta::resource_version,
            "Opaque version for optimistic concurrency."),
      field("generation", &ObjectMeta::generation, "Sequence number of spec changes."),
      field("creationTimestamp", &ObjectMeta::creation_timestamp, "Creation time (RFC 3339)."),
      field("deletionTimestamp", &ObjectMeta::deletion_timestamp,
            "Time after which the object will be deleted (RFC 3339)."),
      field("deletionGracePeriodSeconds", &ObjectMeta::deletion_grace_period_seconds,
            "Seconds allowed for graceful termination once deletion is requested."),
      field("labels", &ObjectMeta::labels, "Labels for selection."),
      field("annotations", &ObjectMeta::annotations, "Unstructured key/value data."),
      field("ownerReferences", &ObjectMeta::owner_references, "Objects this one depends on."),
      field("finalizers", &ObjectMeta::finalizers, "Finalizers that block deletion."),
      field("managedFields", &ObjectMeta::managed_fields,
            "Server-side apply bookkeeping, carried as is."));
};

// ---------------------------------------------------------------------------------------------
// domain
template <>
struct Describe<ResourceRequirements> {
  static constexpr std::string_view doc =
      "Resources of the launcher pod; requests.memory doubles as the guest memory when "
      "memory.guest is not set.";
  static constexpr auto fields = std::make_tuple(
      field("requests", &ResourceRequirements::requests, "Requested resources (memory, cpu, ...)."),
      field("limits", &ResourceRequirements::limits, "Resource limits (memory, cpu, ...)."),
      field("overcommitGuestOverhead", &ResourceRequirements::overcommit_guest_overhead,
            "Do not add the virtualization overhead to the pod's memory request."));
};

template <>
struct Describe<CpuFeature> {
  static constexpr std::string_view doc = "A CPU feature and what to do with it.";
  static constexpr auto fields = std::make_tuple(
      field("name", &CpuFeature::name, "Name of the CPU feature (libvirt's name, e.g. vmx)."),
      field("policy", &CpuFeature::policy,
            "force, require (default), optional, disable or forbid."));
};

template <>
struct Describe<Cpu> {
  static constexpr std::string_view doc = "Virtual CPU topology; defaults to 1 of each.";
  static constexpr auto fields = std::make_tuple(
      field("cores", &Cpu::cores, "Cores per socket (default 1)."),
      field("sockets", &Cpu::sockets, "Sockets (default 1)."),
      field("threads", &Cpu::threads, "Threads per core (default 1)."),
      field("model", &Cpu::model, "CPU model: host-passthrough, host-model or a QEMU model."),
      field("features", &Cpu::features, "CPU features to add or remove."),
      field("dedicatedCpuPlacement", &Cpu::dedicated_cpu_placement,
            "Pin vCPUs to dedicated host CPUs; not supported here (true is refused)."));
};

template <>
struct Describe<Hugepages> {
  static constexpr std::string_view doc = "Back guest memory with huge pages; not supported here.";
  static constexpr auto fields =
      std::make_tuple(field("pageSize", &Hugepages::page_size, "Huge page size: 2Mi or 1Gi."));
};

template <>
struct Describe<Memory> {
  static constexpr std::string_view doc = "Guest memory.";
  static constexpr auto fields = std::make_tuple(
      field("guest", &Memory::guest,
            "Memory the guest sees; defaults to resources.requests.memory, and sets it when "
            "absent."),
      field("hugepages", &Memory::hugepages,
            "Huge pages for guest memory; refused: needs pre-allocated huge pages on the node."));
};

template <>
struct Describe<Machine> {
  static constexpr std::string_view doc = "The emulated machine.";
  static constexpr auto fields =
      std::make_tuple(field("type", &Machine::type, "QEMU machine type (default q35)."));
};

template <>
struct Describe<BiosBootloader> {
  static constexpr std::string_view doc = "Legacy BIOS (SeaBIOS).";
  static constexpr auto fields = std::make_tuple(
      field("useSerial", &BiosBootloader::use_serial, "Show BIOS output on the serial console."));
};

template <>
struct Describe<EfiBootloader> {
  static constexpr std::string_view doc = "UEFI (OVMF).";
  static constexpr auto fields = std::make_tuple(
      field("secureBoot", &EfiBootloader::secure_boot,
            "Boot with the Secure Boot OVMF and Microsoft's keys enrolled (default true). Requires "
            "features.smm."),
      field("persistent", &EfiBootloader::persistent,
            "Keep EFI variables across restarts (default false). true is not supported yet: it "
            "needs a backend-storage PersistentVolumeClaim."));
};

template <>
struct Describe<Bootloader> {
  static constexpr std::string_view doc = "Firmware type: one of bios or efi.";
  static constexpr auto fields =
      std::make_tuple(field("bios", &Bootloader::bios, "Boot with BIOS (the default)."),
                      field("efi", &Bootloader::efi, "Boot with UEFI."));
};

template <>
struct Describe<KernelBootContainer> {
  static constexpr std::string_view doc = "A container image that holds the kernel and initrd.";
  static constexpr auto fields = std::make_tuple(
      field("image", &KernelBootContainer::image, "Image holding the kernel and initrd."),
      field("imagePullSecret", &KernelBootContainer::image_pull_secret,
            "Secret with registry credentials."),
      field("imagePullPolicy", &KernelBootContainer::image_pull_policy,
            "Always, IfNotPresent or Never."),
      field("kernelPath", &KernelBootContainer::kernel_path,
            "Absolute path of the kernel in the image."),
      field("initrdPath", &KernelBootContainer::initrd_path,
            "Absolute path of the initrd in the image."));
};

template <>
struct Describe<KernelBoot> {
  static constexpr std::string_view doc = "Direct kernel boot.";
  static constexpr auto fields = std::make_tuple(
      field("kernelArgs", &KernelBoot::kernel_args, "Kernel command line."),
      field("container", &KernelBoot::container, "Where the kernel and initrd come from."));
};

template <>
struct Describe<Firmware> {
  static constexpr std::string_view doc = "Firmware of the guest.";
  static constexpr auto fields = std::make_tuple(
      field("uuid", &Firmware::uuid, "SMBIOS system UUID."),
      field("serial", &Firmware::serial, "SMBIOS system serial number."),
      field("bootloader", &Firmware::bootloader, "BIOS or EFI."),
      field("kernelBoot", &Firmware::kernel_boot, "Boot a kernel from a container image."));
};

template <>
struct Describe<Chassis> {
  static constexpr std::string_view doc = "SMBIOS chassis information the guest sees.";
  static constexpr auto fields =
      std::make_tuple(field("manufacturer", &Chassis::manufacturer, "Chassis manufacturer."),
                      field("version", &Chassis::version, "Chassis version."),
                      field("serial", &Chassis::serial, "Chassis serial number."),
                      field("asset", &Chassis::asset, "Chassis asset tag."),
                      field("sku", &Chassis::sku, "Chassis SKU number."));
};

template <>
struct Describe<ClockOffsetUtc> {
  static constexpr std::string_view doc = "Guest clock in UTC, reset on each boot.";
  static constexpr auto fields = std::make_tuple(
      field("offsetSeconds", &ClockOffsetUtc::offset_seconds,
            "Offset from UTC in seconds; when set, the guest's changes to its clock are kept "
            "across reboots."));
};

template <>
struct Describe<RtcTimer> {
  static constexpr std::string_view doc = "RTC (real time clock).";
  static constexpr auto fields = std::make_tuple(
      field("tickPolicy", &RtcTimer::tick_policy, "Missed ticks: delay or catchup."),
      field("present", &RtcTimer::present, "false removes the timer (default true)."),
      field("track", &RtcTimer::track, "Track the guest or the wall clock: guest or wall."));
};

template <>
struct Describe<HpetTimer> {
  static constexpr std::string_view doc = "HPET (high precision event timer).";
  static constexpr auto fields = std::make_tuple(
      field("tickPolicy", &HpetTimer::tick_policy,
            "Missed ticks: delay, catchup, merge or discard."),
      field("present", &HpetTimer::present, "false removes the timer (default true)."));
};

template <>
struct Describe<PitTimer> {
  static constexpr std::string_view doc = "PIT (programmable interval timer).";
  static constexpr auto fields = std::make_tuple(
      field("tickPolicy", &PitTimer::tick_policy, "Missed ticks: delay, catchup or discard."),
      field("present", &PitTimer::present, "false removes the timer (default true)."));
};

template <>
struct Describe<KvmTimer> {
  static constexpr std::string_view doc = "KVM clock (paravirtualized, for Linux guests).";
  static constexpr auto fields = std::make_tuple(
      field("present", &KvmTimer::present, "false removes the timer (default true)."));
};

template <>
struct Describe<HypervTimer> {
  static constexpr std::string_view doc = "Hyper-V clock (paravirtualized, for Windows guests).";
  static constexpr auto fields = std::make_tuple(
      field("present", &HypervTimer::present, "false removes the timer (default true)."));
};

template <>
struct Describe<Timer> {
  static constexpr std::string_view doc = "Timers of the guest.";
  static constexpr auto fields =
      std::make_tuple(field("hpet", &Timer::hpet, "HPET."), field("kvm", &Timer::kvm, "KVM clock."),
                      field("pit", &Timer::pit, "PIT."), field("rtc", &Timer::rtc, "RTC."),
                      field("hyperv", &Timer::hyperv, "Hyper-V clock."));
};

template <>
struct Describe<Clock> {
  static constexpr std::string_view doc = "The guest clock: one of utc or timezone, and timers.";
  static constexpr auto fields = std::make_tuple(
      field("utc", &Clock::utc, "Guest clock in UTC."),
      field("timezone", &Clock::timezone, "Guest clock in this time zone, e.g. Europe/Paris."),
      field("timer", &Clock::timer, "Timers attached to the guest."));
};

template <>
struct Describe<FeatureState> {
  static constexpr std::string_view doc = "A feature switched on or off.";
  static constexpr auto fields = std::make_tuple(
      field("enabled", &FeatureState::enabled, "Whether the feature is on (default true)."));
};

template <>
struct Describe<FeatureApic> {
  static constexpr std::string_view doc = "APIC.";
  static constexpr auto fields = std::make_tuple(
      field("enabled", &FeatureApic::enabled, "Whether the feature is on (default true)."),
      field("endOfInterrupt", &FeatureApic::end_of_interrupt,
            "Paravirtual end-of-interrupt notification (default false)."));
};

template <>
struct Describe<FeatureSpinlocks> {
  static constexpr std::string_view doc = "Hyper-V spinlock retries.";
  static constexpr auto fields = std::make_tuple(
      field("enabled", &FeatureSpinlocks::enabled, "Whether the feature is on (default true)."),
      field("spinlocks", &FeatureSpinlocks::retries,
            "Retries before a spinlock is reported; at least 4096 (the default)."));
};

template <>
struct Describe<FeatureVendorId> {
  static constexpr std::string_view doc = "Hyper-V vendor id.";
  static constexpr auto fields = std::make_tuple(
      field("enabled", &FeatureVendorId::enabled, "Whether the feature is on (default true)."),
      field("vendorid", &FeatureVendorId::vendor_id,
            "Hypervisor vendor id the guest sees, at most 12 characters."));
};

template <>
struct Describe<SyNicTimer> {
  static constexpr std::string_view doc = "Hyper-V synthetic timers; requires synic.";
  static constexpr auto fields = std::make_tuple(
      field("enabled", &SyNicTimer::enabled, "Whether the feature is on (default true)."),
      field("direct", &SyNicTimer::direct, "Direct mode."));
};

template <>
struct Describe<TlbFlush> {
  static constexpr std::string_view doc = "Hyper-V TLB flush hypercalls; requires vpindex.";
  static constexpr auto fields = std::make_tuple(
      field("enabled", &TlbFlush::enabled, "Whether the feature is on (default true)."),
      field("direct", &TlbFlush::direct, "Send the flush directly to the hypervisor."),
      field("extended", &TlbFlush::extended, "Allow partial TLB flushes."));
};

template <>
struct Describe<FeatureHyperv> {
  static constexpr std::string_view doc = "Hyper-V enlightenments (libvirt's <hyperv>).";
  static constexpr auto fields = std::make_tuple(
      field("relaxed", &FeatureHyperv::relaxed, "Relaxed timing: no watchdog timeouts."),
      field("vapic", &FeatureHyperv::vapic, "Virtual APIC."),
      field("spinlocks", &FeatureHyperv::spinlocks, "Spinlock retries."),
      field("vpindex", &FeatureHyperv::vpindex, "Virtual processor index; needs KVM."),
      field("runtime", &FeatureHyperv::runtime, "Processor time accounting."),
      field("synic", &FeatureHyperv::synic,
            "Synthetic interrupt controller; requires vpindex, needs KVM."),
      field("synictimer", &FeatureHyperv::synictimer,
            "Synthetic timers; requires synic, needs KVM."),
      field("reset", &FeatureHyperv::reset, "Hyper-V reset."),
      field("vendorid", &FeatureHyperv::vendorid, "Hypervisor vendor id."),
      field("frequencies", &FeatureHyperv::frequencies, "Frequency MSRs."),
      field("reenlightenment", &FeatureHyperv::reenlightenment,
            "Notifications of TSC frequency changes."),
      field("tlbflush", &FeatureHyperv::tlbflush,
            "TLB flush hypercalls; requires vpindex, needs KVM."),
      field("ipi", &FeatureHyperv::ipi, "IPI hypercalls; requires vpindex, needs KVM."),
      field("evmcs", &FeatureHyperv::evmcs, "Enlightened VMCS; requires vapic."));
};

template <>
struct Describe<FeatureKvm> {
  static constexpr std::string_view doc = "How KVM shows itself to the guest.";
  static constexpr auto fields = std::make_tuple(
      field("hidden", &FeatureKvm::hidden, "Hide KVM from MSR-based discovery (default false)."));
};

template <>
struct Describe<HypervPassthrough> {
  static constexpr std::string_view doc = "All Hyper-V enlightenments the host supports.";
  static constexpr auto fields = std::make_tuple(
      field("enabled", &HypervPassthrough::enabled, "Whether passthrough is on (default false)."));
};

template <>
struct Describe<Features> {
  static constexpr std::string_view doc = "Machine features: acpi, apic, hyperv, smm, kvm.";
  static constexpr auto fields = std::make_tuple(
      field("acpi", &Features::acpi, "ACPI (default on)."),
      field("apic", &Features::apic, "APIC (default on)."),
      field("hypervPassthrough", &Features::hyperv_passthrough,
            "Every Hyper-V enlightenment the host supports; not with hyperv."),
      field("hyperv", &Features::hyperv, "Hyper-V enlightenments."),
      field("smm", &Features::smm, "System Management Mode."),
      field("kvm", &Features::kvm, "KVM visibility."),
      field("pvspinlock", &Features::pvspinlock, "Paravirtual spinlocks; needs KVM."));
};

template <>
struct Describe<DiskTarget> {
  static constexpr std::string_view doc = "Attach the volume as a disk.";
  static constexpr auto fields =
      std::make_tuple(field("bus", &DiskTarget::bus, "virtio, sata (default), scsi or usb."),
                      field("readonly", &DiskTarget::read_only, "Expose the disk read-only."),
                      field("pciAddress", &DiskTarget::pci_address,
                            "PCI address (virtio only), e.g. 0000:81:01.10."));
};

template <>
struct Describe<CdRomTarget> {
  static constexpr std::string_view doc = "Attach the volume as a CD-ROM.";
  static constexpr auto fields = std::make_tuple(
      field("bus", &CdRomTarget::bus, "sata (default) or scsi; virtio is not allowed."),
      field("readonly", &CdRomTarget::read_only, "Always true for a CD-ROM."),
      field("tray", &CdRomTarget::tray, "closed (default) or open."));
};

template <>
struct Describe<Disk> {
  static constexpr std::string_view doc = "A disk device backed by the volume of the same name.";
  static constexpr auto fields = std::make_tuple(
      field("name", &Disk::name, "Device name; must match a volume."),
      field("disk", &Disk::disk, "Attach as a disk (the default)."),
      field("cdrom", &Disk::cdrom, "Attach as a CD-ROM."),
      field("bootOrder", &Disk::boot_order, "Boot priority; 1 boots first. Unique among devices."),
      field("serial", &Disk::serial, "Serial number the guest sees."),
      field("dedicatedIOThread", &Disk::dedicated_io_thread,
            "Give this disk an IO thread of its own (virtio only)."),
      field("cache", &Disk::cache, "Host cache mode: none, writethrough or writeback."),
      field("io", &Disk::io, "QEMU IO mode: native (needs cache none) or threads."));
};

template <>
struct Describe<InterfaceMasquerade> {
  static constexpr std::string_view doc = "NAT the guest behind the pod IP.";
  static constexpr auto fields = std::make_tuple();
};
template <>
struct Describe<InterfaceBridge> {
  static constexpr std::string_view doc = "Give the guest the pod's IP over a bridge.";
  static constexpr auto fields = std::make_tuple();
};
template <>
struct Describe<InterfacePasst> {
  static constexpr std::string_view doc = "User-space networking with passt (the pod IP).";
  static constexpr auto fields = std::make_tuple();
};

template <>
struct Describe<Port> {
  static constexpr std::string_view doc = "A port to forward to the guest.";
  static constexpr auto fields =
      std::make_tuple(field("name", &Port::name, "Port name."),
                      field("protocol", &Port::protocol, "TCP (default) or UDP."),
                      field("port", &Port::port, "Port number, 1-65535."));
};

template <>
struct Describe<Interface> {
  static constexpr std::string_view doc =
      "A network interface connected to the network of the same name.";
  static constexpr auto fields = std::make_tuple(
      field("name", &Interface::name, "Interface name; must match a network."),
      field("model", &Interface::model,
            "NIC model: virtio (default), e1000, e1000e, ne2k_pci, pcnet, rtl8139."),
      field("macAddress", &Interface::mac_address, "MAC address, e.g. de:ad:00:00:be:af."),
      field("ports", &Interface::ports, "Ports to forward (masquerade and passt); all if empty."),
      field("bootOrder", &Interface::boot_order, "Boot priority for PXE."),
      field("pciAddress", &Interface::pci_address, "PCI address, e.g. 0000:81:01.10."),
      field("masquerade", &Interface::masquerade, "Masquerade (NAT) binding."),
      field("bridge", &Interface::bridge, "Bridge binding."),
      field("passt", &Interface::passt, "passt binding."));
};

template <>
struct Describe<Rng> {
  static constexpr std::string_view doc = "A virtio random number generator fed by the host.";
  static constexpr auto fields = std::make_tuple();
};

template <>
struct Describe<I6300EsbWatchdog> {
  static constexpr std::string_view doc = "An Intel 6300ESB watchdog.";
  static constexpr auto fields =
      std::make_tuple(field("action", &I6300EsbWatchdog::action,
                            "When it fires: poweroff, reset (default) or shutdown."));
};

template <>
struct Describe<Watchdog> {
  static constexpr std::string_view doc = "A hardware watchdog device.";
  static constexpr auto fields = std::make_tuple(
      field("name", &Watchdog::name, "Name of the watchdog."),
      field("i6300esb", &Watchdog::i6300esb, "An i6300esb watchdog (required on x86_64)."));
};

template <>
struct Describe<Input> {
  static constexpr std::string_view doc = "An input device.";
  static constexpr auto fields = std::make_tuple(
      field("bus", &Input::bus, "usb (default) or virtio."), field("type", &Input::type, "tablet."),
      field("name", &Input::name, "Device name."));
};

template <>
struct Describe<Tpm> {
  static constexpr std::string_view doc = "An emulated TPM 2.0 device (swtpm).";
  static constexpr auto fields = std::make_tuple(
      field("enabled", &Tpm::enabled, "Whether the TPM is attached (default true)."),
      field("persistent", &Tpm::persistent,
            "Keep the TPM state across restarts (default false). true is not supported yet: it "
            "needs a backend-storage PersistentVolumeClaim."));
};

template <>
struct Describe<Devices> {
  static constexpr std::string_view doc = "Devices of the guest.";
  static constexpr auto fields = std::make_tuple(
      field("disks", &Devices::disks, "Disks, CD-ROMs."),
      field("interfaces", &Devices::interfaces, "Network interfaces."),
      field("autoattachPodInterface", &Devices::autoattach_pod_interface,
            "Add a pod network and a masquerade interface when none are given (default true)."),
      field("autoattachSerialConsole", &Devices::autoattach_serial_console,
            "Attach a serial console (default true)."),
      field("autoattachGraphicsDevice", &Devices::autoattach_graphics_device,
            "Attach a VGA device and VNC (default true)."),
      field("autoattachMemBalloon", &Devices::autoattach_memory_balloon,
            "Attach a memory balloon device (default true)."),
      field("watchdog", &Devices::watchdog, "A watchdog device."),
      field("inputs", &Devices::inputs, "Input devices (tablet)."),
      field("rng", &Devices::rng, "A virtio random number generator."),
      field("blockMultiQueue", &Devices::block_multi_queue,
            "One queue per vCPU on virtio disks (default false)."),
      field("networkInterfaceMultiqueue", &Devices::network_interface_multi_queue,
            "One queue per vCPU on virtio NICs; with more than one vCPU it needs a multi-queue "
            "backend, which the pod NIC here does not have."),
      field("tpm", &Devices::tpm, "Emulate a TPM 2.0 device."));
};

template <>
struct Describe<DomainSpec> {
  static constexpr std::string_view doc = "The virtual hardware.";
  static constexpr auto fields =
      std::make_tuple(field("resources", &DomainSpec::resources, "Resources of the launcher pod."),
                      field("cpu", &DomainSpec::cpu, "CPU topology."),
                      field("memory", &DomainSpec::memory, "Guest memory."),
                      field("machine", &DomainSpec::machine, "Machine type."),
                      field("firmware", &DomainSpec::firmware, "Firmware."),
                      field("clock", &DomainSpec::clock, "Clock and timers."),
                      field("features", &DomainSpec::features, "acpi, apic, hyperv, smm, kvm."),
                      field("devices", &DomainSpec::devices, "Devices."),
                      field("ioThreadsPolicy", &DomainSpec::io_threads_policy,
                            "IO threads for disks: shared or auto; none when absent."),
                      field("chassis", &DomainSpec::chassis, "SMBIOS chassis information."));
};

// ---------------------------------------------------------------------------------------------
// volumes
template <>
struct Describe<LocalObjectReference> {
  static constexpr std::string_view doc = "A reference to an object in the same namespace.";
  static constexpr auto fields =
      std::make_tuple(field("name", &LocalObjectReference::name, "Name of the object."));
};

template <>
struct Describe<ContainerDiskSource> {
  static constexpr std::string_view doc =
      "An ephemeral disk from a container image (the disk file under /disk in the image).";
  static constexpr auto fields =
      std::make_tuple(field("image", &ContainerDiskSource::image, "Image holding the disk."),
                      field("imagePullSecret", &ContainerDiskSource::image_pull_secret,
                            "Secret with registry credentials."),
                      field("path", &ContainerDiskSource::path,
                            "Path of the disk file in the image (default: the file in /disk)."),
                      field("imagePullPolicy", &ContainerDiskSource::image_pull_policy,
                            "Always, IfNotPresent or Never."));
};

template <>
struct Describe<PersistentVolumeClaimSource> {
  static constexpr std::string_view doc = "A PersistentVolumeClaim in the VM's namespace.";
  static constexpr auto fields = std::make_tuple(
      field("claimName", &PersistentVolumeClaimSource::claim_name, "Name of the claim."),
      field("readOnly", &PersistentVolumeClaimSource::read_only, "Mount read-only."));
};

template <>
struct Describe<EmptyDiskSource> {
  static constexpr std::string_view doc = "A blank sparse disk that lives as long as the VMI.";
  static constexpr auto fields =
      std::make_tuple(field("capacity", &EmptyDiskSource::capacity, "Size, e.g. 2Gi."));
};

template <>
struct Describe<CloudInitNoCloudSource> {
  static constexpr std::string_view doc = "cloud-init NoCloud data on a generated disk.";
  static constexpr auto fields = std::make_tuple(
      field("userData", &CloudInitNoCloudSource::user_data, "User data, inline."),
      field("userDataBase64", &CloudInitNoCloudSource::user_data_base64,
            "User data, base64-encoded."),
      field("secretRef", &CloudInitNoCloudSource::user_data_secret_ref,
            "Secret holding user data (key userdata or userData)."),
      field("networkData", &CloudInitNoCloudSource::network_data, "Network data, inline."),
      field("networkDataBase64", &CloudInitNoCloudSource::network_data_base64,
            "Network data, base64-encoded."),
      field("networkDataSecretRef", &CloudInitNoCloudSource::network_data_secret_ref,
            "Secret holding network data (key networkdata or networkData)."));
};

template <>
struct Describe<ConfigMapVolumeSource> {
  static constexpr std::string_view doc = "A ConfigMap exposed as a disk.";
  static constexpr auto fields = std::make_tuple(
      field("name", &ConfigMapVolumeSource::name, "Name of the ConfigMap."),
      field("optional", &ConfigMapVolumeSource::optional, "Start even if it does not exist."),
      field("volumeLabel", &ConfigMapVolumeSource::volume_label,
            "ISO 9660 volume label (default cfgdata), at most 32 characters."));
};

template <>
struct Describe<SecretVolumeSource> {
  static constexpr std::string_view doc = "A Secret exposed as a disk.";
  static constexpr auto fields = std::make_tuple(
      field("secretName", &SecretVolumeSource::secret_name, "Name of the Secret."),
      field("optional", &SecretVolumeSource::optional, "Start even if it does not exist."),
      field("volumeLabel", &SecretVolumeSource::volume_label,
            "ISO 9660 volume label (default cfgdata), at most 32 characters."));
};

template <>
struct Describe<CloudInitConfigDriveSource> {
  static constexpr std::string_view doc =
      "cloud-init ConfigDrive data (OpenStack config-drive v2, label config-2) on a generated "
      "disk.";
  static constexpr auto fields = std::make_tuple(
      field("userData", &CloudInitConfigDriveSource::user_data, "User data, inline."),
      field("userDataBase64", &CloudInitConfigDriveSource::user_data_base64,
            "User data, base64-encoded."),
      field("secretRef", &CloudInitConfigDriveSource::user_data_secret_ref,
            "Secret holding user data (key userdata or userData)."),
      field("networkData", &CloudInitConfigDriveSource::network_data, "Network data, inline."),
      field("networkDataBase64", &CloudInitConfigDriveSource::network_data_base64,
            "Network data, base64-encoded."),
      field("networkDataSecretRef", &CloudInitConfigDriveSource::network_data_secret_ref,
            "Secret holding network data (key networkdata or networkData)."));
};

template <>
struct Describe<ServiceAccountVolumeSource> {
  static constexpr std::string_view doc =
      "A service account's token, ca.crt and namespace as a disk; the launcher pod runs as it.";
  static constexpr auto fields =
      std::make_tuple(field("serviceAccountName", &ServiceAccountVolumeSource::service_account_name,
                            "Name of the service account in the VMI's namespace."));
};

template <>
struct Describe<ObjectFieldSelector> {
  static constexpr std::string_view doc = "A field of the launcher pod.";
  static constexpr auto fields = std::make_tuple(
      field("apiVersion", &ObjectFieldSelector::api_version, "Version of the schema (v1)."),
      field("fieldPath", &ObjectFieldSelector::field_path,
            "metadata.name, metadata.namespace, metadata.uid, metadata.labels, "
            "metadata.annotations, metadata.labels['<key>'] or metadata.annotations['<key>']."));
};

template <>
struct Describe<ResourceFieldSelector> {
  static constexpr std::string_view doc = "A resource of the launcher's compute container.";
  static constexpr auto fields = std::make_tuple(
      field("containerName", &ResourceFieldSelector::container_name,
            "Container: compute (the default)."),
      field("resource", &ResourceFieldSelector::resource,
            "limits.cpu, limits.memory, limits.ephemeral-storage, requests.cpu, requests.memory, "
            "requests.ephemeral-storage."),
      field("divisor", &ResourceFieldSelector::divisor, "Unit of the value (default 1)."));
};

template <>
struct Describe<DownwardApiVolumeFile> {
  static constexpr std::string_view doc = "A file of the downward API disk.";
  static constexpr auto fields =
      std::make_tuple(field("path", &DownwardApiVolumeFile::path,
                            "Relative path of the file; no '..' element, not starting with '..'."),
                      field("fieldRef", &DownwardApiVolumeFile::field_ref, "A field of the pod."),
                      field("resourceFieldRef", &DownwardApiVolumeFile::resource_field_ref,
                            "A resource of the compute container."),
                      field("mode", &DownwardApiVolumeFile::mode, "File mode bits, 0 to 0777."));
};

template <>
struct Describe<DownwardApiVolumeSource> {
  static constexpr std::string_view doc =
      "Fields of the launcher pod (the VMI's labels and annotations, ...) as a disk.";
  static constexpr auto fields = std::make_tuple(
      field("fields", &DownwardApiVolumeSource::fields, "The files and what each holds."),
      field("volumeLabel", &DownwardApiVolumeSource::volume_label,
            "ISO 9660 volume label (default cfgdata), at most 32 characters."));
};

template <>
struct Describe<SysprepSource> {
  static constexpr std::string_view doc =
      "A Windows answer file (autounattend.xml or unattend.xml) as a CD-ROM.";
  static constexpr auto fields = std::make_tuple(
      field("secret", &SysprepSource::secret, "Secret holding the answer file."),
      field("configMap", &SysprepSource::config_map, "ConfigMap holding the answer file."));
};

template <>
struct Describe<Volume> {
  static constexpr std::string_view doc = "Storage for the disk of the same name; one source.";
  static constexpr auto fields = std::make_tuple(
      field("name", &Volume::name, "Volume name; a disk refers to it."),
      field("containerDisk", &Volume::container_disk, "Ephemeral disk from a container image."),
      field("persistentVolumeClaim", &Volume::persistent_volume_claim, "A claim's volume."),
      field("emptyDisk", &Volume::empty_disk, "A blank ephemeral disk."),
      field("cloudInitNoCloud", &Volume::cloud_init_no_cloud, "cloud-init NoCloud data."),
      field("configMap", &Volume::config_map, "A ConfigMap as a disk."),
      field("secret", &Volume::secret, "A Secret as a disk."),
      field("cloudInitConfigDrive", &Volume::cloud_init_config_drive,
            "cloud-init ConfigDrive data."),
      field("serviceAccount", &Volume::service_account, "A service account's token as a disk."),
      field("downwardAPI", &Volume::downward_api, "Fields of the pod as a disk."),
      field("sysprep", &Volume::sysprep, "A Windows answer file as a CD-ROM."));
};

// ---------------------------------------------------------------------------------------------
// networks
template <>
struct Describe<PodNetwork> {
  static constexpr std::string_view doc = "The pod's network.";
  static constexpr auto fields =
      std::make_tuple(field("vmNetworkCIDR", &PodNetwork::vm_network_cidr,
                            "Guest-side IPv4 network for masquerade (default 10.0.2.0/24)."),
                      field("vmIPv6NetworkCIDR", &PodNetwork::vm_ipv6_network_cidr,
                            "Guest-side IPv6 network for masquerade (default fd10:0:2::/120)."));
};

template <>
struct Describe<Network> {
  static constexpr std::string_view doc = "A network the interface of the same name connects to.";
  static constexpr auto fields =
      std::make_tuple(field("name", &Network::name, "Network name; an interface refers to it."),
                      field("pod", &Network::pod, "The pod network."));
};

// ---------------------------------------------------------------------------------------------
// probes
template <>
struct Describe<ExecAction> {
  static constexpr std::string_view doc = "A command run in the guest by the guest agent.";
  static constexpr auto fields = std::make_tuple(
      field("command", &ExecAction::command, "Command line. Not supported: no guest agent yet."));
};

template <>
struct Describe<HttpHeader> {
  static constexpr std::string_view doc = "A header of the probe's HTTP request.";
  static constexpr auto fields =
      std::make_tuple(field("name", &HttpHeader::name, "Header name."),
                      field("value", &HttpHeader::value, "Header value."));
};

template <>
struct Describe<HttpGetAction> {
  static constexpr std::string_view doc = "An HTTP GET to the guest; 200-399 is a success.";
  static constexpr auto fields = std::make_tuple(
      field("path", &HttpGetAction::path, "Path of the request."),
      field("port", &HttpGetAction::port,
            "Port number (1-65535), or the name of an interface's ports[] entry."),
      field("host", &HttpGetAction::host, "Host to connect to (default: the pod IP)."),
      field("scheme", &HttpGetAction::scheme, "HTTP (default) or HTTPS."),
      field("httpHeaders", &HttpGetAction::http_headers, "Extra request headers."));
};

template <>
struct Describe<TcpSocketAction> {
  static constexpr std::string_view doc = "A TCP connection to the guest; connecting is a success.";
  static constexpr auto fields = std::make_tuple(
      field("port", &TcpSocketAction::port,
            "Port number (1-65535), or the name of an interface's ports[] entry."),
      field("host", &TcpSocketAction::host, "Host to connect to (default: the pod IP)."));
};

template <>
struct Describe<GuestAgentPing> {
  static constexpr std::string_view doc = "A ping of the guest agent.";
  static constexpr auto fields = std::make_tuple();
};

template <>
struct Describe<Probe> {
  static constexpr std::string_view doc =
      "A health check of the guest, run by the kubelet as the launcher pod's probe.";
  static constexpr auto fields = std::make_tuple(
      field("exec", &Probe::exec, "Run a command in the guest. Not supported: no guest agent yet."),
      field("guestAgentPing", &Probe::guest_agent_ping,
            "Ping the guest agent. Not supported: no guest agent yet."),
      field("httpGet", &Probe::http_get, "An HTTP GET to the guest."),
      field("tcpSocket", &Probe::tcp_socket,
            "A TCP connection to the guest. Not supported: the launcher accepts every connection."),
      field("initialDelaySeconds", &Probe::initial_delay_seconds,
            "Seconds after the VMI starts before the first probe."),
      field("timeoutSeconds", &Probe::timeout_seconds, "Seconds a probe may take (default 1)."),
      field("periodSeconds", &Probe::period_seconds, "Seconds between probes (default 10)."),
      field("successThreshold", &Probe::success_threshold,
            "Successes in a row that count as healthy again (default 1; 1 for liveness)."),
      field("failureThreshold", &Probe::failure_threshold,
            "Failures in a row that count as unhealthy (default 3)."));
};

// ---------------------------------------------------------------------------------------------
// VirtualMachineInstance
template <>
struct Describe<VirtualMachineInstanceSpec> {
  static constexpr std::string_view doc = "The desired VM instance.";
  static constexpr auto fields = std::make_tuple(
      field("domain", &VirtualMachineInstanceSpec::domain, "The virtual hardware."),
      field("nodeSelector", &VirtualMachineInstanceSpec::node_selector,
            "Labels a node must have to run the VMI."),
      field("affinity", &VirtualMachineInstanceSpec::affinity,
            "Pod affinity rules (core/v1 Affinity), passed to the launcher pod."),
      field("tolerations", &VirtualMachineInstanceSpec::tolerations,
            "Tolerations (core/v1 Toleration), passed to the launcher pod."),
      field("schedulerName", &VirtualMachineInstanceSpec::scheduler_name,
            "Scheduler for the launcher pod."),
      field("priorityClassName", &VirtualMachineInstanceSpec::priority_class_name,
            "Priority class of the launcher pod."),
      field("terminationGracePeriodSeconds",
            &VirtualMachineInstanceSpec::termination_grace_period_seconds,
            "Seconds the guest gets to shut down (default 180)."),
      field("evictionStrategy", &VirtualMachineInstanceSpec::eviction_strategy,
            "None, LiveMigrate, LiveMigrateIfPossible or External."),
      field("startStrategy", &VirtualMachineInstanceSpec::start_strategy,
            "Paused: the VM starts paused (its CPUs stopped) until unpaused."),
      field("livenessProbe", &VirtualMachineInstanceSpec::liveness_probe,
            "Probe of the guest's health; failing, it ends the VMI."),
      field("readinessProbe", &VirtualMachineInstanceSpec::readiness_probe,
            "Probe of the guest's readiness; the VMI's Ready condition follows it."),
      field("hostname", &VirtualMachineInstanceSpec::hostname,
            "Guest hostname (default: the VMI name)."),
      field("subdomain", &VirtualMachineInstanceSpec::subdomain,
            "Subdomain: FQDN hostname.subdomain.namespace.svc.<cluster domain>."),
      field("volumes", &VirtualMachineInstanceSpec::volumes, "Volumes backing the disks."),
      field("networks", &VirtualMachineInstanceSpec::networks, "Networks of the interfaces."));
};

template <>
struct Describe<Condition> {
  static constexpr std::string_view doc = "An observed condition.";
  static constexpr auto fields = std::make_tuple(
      field("type", &Condition::type, "Ready, Paused, LiveMigratable, ..."),
      field("status", &Condition::status, "True, False or Unknown."),
      field("lastProbeTime", &Condition::last_probe_time, "Last time the condition was probed."),
      field("lastTransitionTime", &Condition::last_transition_time,
            "Last time the status changed."),
      field("reason", &Condition::reason, "Machine-readable reason."),
      field("message", &Condition::message, "Human-readable details."));
};

template <>
struct Describe<PhaseTransitionTimestamp> {
  static constexpr std::string_view doc = "When the VMI entered a phase.";
  static constexpr auto fields = std::make_tuple(
      field("phase", &PhaseTransitionTimestamp::phase, "The phase."),
      field("phaseTransitionTimestamp", &PhaseTransitionTimestamp::phase_transition_timestamp,
            "When it was entered (RFC 3339)."));
};

template <>
struct Describe<VmiNetworkInterface> {
  static constexpr std::string_view doc = "An interface as the guest has it.";
  static constexpr auto fields = std::make_tuple(
      field("name", &VmiNetworkInterface::name, "Interface name from the spec."),
      field("ipAddress", &VmiNetworkInterface::ip_address, "Primary IP address."),
      field("ipAddresses", &VmiNetworkInterface::ip_addresses, "All IP addresses."),
      field("mac", &VmiNetworkInterface::mac, "MAC address."),
      field("interfaceName", &VmiNetworkInterface::interface_name, "Name inside the guest."),
      field("infoSource", &VmiNetworkInterface::info_source,
            "Where the information came from (domain, guest-agent)."));
};

// ---------------------------------------------------------------------------------------------
// Live migration
template <>
struct Describe<MigrationConfiguration> {
  static constexpr std::string_view doc =
      "Live migration settings; an unset one takes upstream's default.";
  static constexpr auto fields = std::make_tuple(
      field("nodeDrainTaintKey", &MigrationConfiguration::node_drain_taint_key,
            "Taint key that marks a node to drain (default kubevirt.io/drain)."),
      field("parallelOutboundMigrationsPerNode",
            &MigrationConfiguration::parallel_outbound_migrations_per_node,
            "Most outgoing migrations at once per node (default 2)."),
      field("parallelMigrationsPerCluster",
            &MigrationConfiguration::parallel_migrations_per_cluster,
            "Most migrations at once in the cluster (default 5)."),
      field("allowAutoConverge", &MigrationConfiguration::allow_auto_converge,
            "Slow the guest's vCPUs down so a busy guest converges (default false)."),
      field("bandwidthPerMigration", &MigrationConfiguration::bandwidth_per_migration,
            "Network bandwidth per migration, per second (default 0Mi: no limit)."),
      field("completionTimeoutPerGiB", &MigrationConfiguration::completion_timeout_per_gib,
            "Seconds per GiB of guest memory a migration may take (default 150)."),
      field("maxDowntimeMs", &MigrationConfiguration::max_downtime_ms,
            "Longest pause of the guest at switchover, in ms (default 900; 1 to 2000000)."),
      field("progressTimeout", &MigrationConfiguration::progress_timeout,
            "Seconds without progress before a migration is cancelled (default 150)."),
      field("utilityVolumesTimeout", &MigrationConfiguration::utility_volumes_timeout,
            "Seconds a migration waits Pending for utility volumes to detach (default 150)."),
      field("unsafeMigrationOverride", &MigrationConfiguration::unsafe_migration_override,
            "Migrate even when the check says it is unsafe for the guest (default false)."),
      field("allowPostCopy", &MigrationConfiguration::allow_post_copy,
            "Switch to post-copy when the completion timeout is reached (default false)."),
      field("allowWorkloadDisruption", &MigrationConfiguration::allow_workload_disruption,
            "Post-copy or pause the guest instead of cancelling at the completion timeout "
            "(default: allowPostCopy's value)."),
      field("disableTLS", &MigrationConfiguration::disable_tls,
            "Send the migration stream without KubeVirt's TLS layer (default false)."),
      field("network", &MigrationConfiguration::network,
            "A NetworkAttachmentDefinition for migrations. Not supported: no Multus; "
            "migrations use the pod network."),
      field("matchSELinuxLevelOnMigration",
            &MigrationConfiguration::match_selinux_level_on_migration,
            "Let the runtime pick the target pod's SELinux level (default false: the "
            "source's)."));
};

template <>
struct Describe<MigrationSourceState> {
  static constexpr std::string_view doc = "The source side of a decentralized migration.";
  static constexpr auto fields = std::make_tuple(
      field("node", &MigrationSourceState::node, "The source node."),
      field("pod", &MigrationSourceState::pod, "The source pod."),
      field("migrationUID", &MigrationSourceState::migration_uid,
            "UID of the source VirtualMachineInstanceMigration."),
      field("domainName", &MigrationSourceState::domain_name, "Name of the source domain."),
      field("domainNamespace", &MigrationSourceState::domain_namespace,
            "Namespace in the source domain's name."),
      field("syncAddress", &MigrationSourceState::sync_address,
            "Address (host:port) to synchronize with the target."),
      field("persistentStatePVCName", &MigrationSourceState::persistent_state_pvc_name,
            "The source's backend-storage PVC."),
      field("selinuxContext", &MigrationSourceState::selinux_context,
            "SELinux context of the source pod."),
      field("virtualMachineInstanceUID", &MigrationSourceState::virtual_machine_instance_uid,
            "UID of the source VMI."),
      field("nodeSelectors", &MigrationSourceState::node_selectors,
            "Node selectors the target's receiving pod needs."));
};

template <>
struct Describe<MigrationTargetState> {
  static constexpr std::string_view doc = "The target side of a decentralized migration.";
  static constexpr auto fields = std::make_tuple(
      field("node", &MigrationTargetState::node, "The target node."),
      field("pod", &MigrationTargetState::pod, "The target pod."),
      field("migrationUID", &MigrationTargetState::migration_uid,
            "UID of the target VirtualMachineInstanceMigration."),
      field("domainName", &MigrationTargetState::domain_name, "Name of the target domain."),
      field("domainNamespace", &MigrationTargetState::domain_namespace,
            "Namespace in the target domain's name."),
      field("syncAddress", &MigrationTargetState::sync_address,
            "Address (host:port) to synchronize with the source."),
      field("persistentStatePVCName", &MigrationTargetState::persistent_state_pvc_name,
            "The target's backend-storage PVC."),
      field("selinuxContext", &MigrationTargetState::selinux_context,
            "SELinux context of the target pod."),
      field("virtualMachineInstanceUID", &MigrationTargetState::virtual_machine_instance_uid,
            "UID of the target VMI."),
      field("domainReadyTimestamp", &MigrationTargetState::domain_ready_timestamp,
            "When the target node saw the domain active."),
      field("domainDetected", &MigrationTargetState::domain_detected,
            "The target node has seen the domain start."),
      field("nodeAddress", &MigrationTargetState::node_address,
            "Address of the target node for the migration."),
      field("directMigrationNodePorts", &MigrationTargetState::direct_migration_node_ports,
            "Ports opened for the migration on the target node."),
      field("attachmentPodUID", &MigrationTargetState::attachment_pod_uid,
            "UID of the target's hotplug attachment pod."),
      field("cpuSet", &MigrationTargetState::cpu_set, "Dedicated CPUs on the target node."),
      field("nodeTopology", &MigrationTargetState::node_topology,
            "NUMA topology on the target node."));
};

template <>
struct Describe<MigrationState> {
  static constexpr std::string_view doc = "The state of a live migration.";
  static constexpr auto fields = std::make_tuple(
      field("startTimestamp", &MigrationState::start_timestamp, "When the migration began."),
      field("endTimestamp", &MigrationState::end_timestamp, "When the migration ended."),
      field("targetNodeDomainReadyTimestamp", &MigrationState::target_node_domain_ready_timestamp,
            "When the target node saw the domain active."),
      field("targetNodeDomainDetected", &MigrationState::target_node_domain_detected,
            "The target node has seen the domain start."),
      field("targetNodeAddress", &MigrationState::target_node_address,
            "Address of the target node for the migration."),
      field("targetDirectMigrationNodePorts", &MigrationState::target_direct_migration_node_ports,
            "Ports opened for the migration on the target node."),
      field("targetNode", &MigrationState::target_node, "The node the VMI moves to."),
      field("targetPod", &MigrationState::target_pod, "The launcher pod the VMI moves to."),
      field("targetAttachmentPodUID", &MigrationState::target_attachment_pod_uid,
            "UID of the target's hotplug attachment pod."),
      field("sourceNode", &MigrationState::source_node, "The node the VMI moves from."),
      field("sourcePod", &MigrationState::source_pod, "The launcher pod the VMI moves from."),
      field("completed", &MigrationState::completed, "The migration completed."),
      field("failed", &MigrationState::failed, "The migration failed."),
      field("abortRequested", &MigrationState::abort_requested,
            "Cancelling the migration was requested."),
      field("abortStatus", &MigrationState::abort_status,
            "Outcome of the cancellation: Succeeded, Failed or Aborting."),
      field("failureReason", &MigrationState::failure_reason, "Why the migration failed."),
      field("migrationUid", &MigrationState::migration_uid,
            "UID of the VirtualMachineInstanceMigration."),
      field("mode", &MigrationState::mode, "PreCopy, PostCopy or Paused."),
      field("migrationPolicyName", &MigrationState::migration_policy_name,
            "The MigrationPolicy applied; empty when none matched."),
      field("migrationConfiguration", &MigrationState::migration_configuration,
            "The settings this migration runs with."),
      field("targetCPUSet", &MigrationState::target_cpu_set, "Dedicated CPUs on the target node."),
      field("targetNodeTopology", &MigrationState::target_node_topology,
            "NUMA topology on the target node."),
      field("sourcePersistentStatePVCName", &MigrationState::source_persistent_state_pvc_name,
            "The source's backend-storage PVC."),
      field("targetPersistentStatePVCName", &MigrationState::target_persistent_state_pvc_name,
            "The target's backend-storage PVC."),
      field("sourceState", &MigrationState::source_state,
            "The source side of a decentralized migration."),
      field("targetState", &MigrationState::target_state,
            "The target side of a decentralized migration."),
      field("migrationNetworkType", &MigrationState::migration_network_type,
            "Pod or Migration: the network the migration uses."),
      field("targetMemoryOverhead", &MigrationState::target_memory_overhead,
            "Memory overhead of the target launcher pod."));
};

template <>
struct Describe<VirtualMachineInstanceStatus> {
  static constexpr std::string_view doc = "Observed state of the VM instance.";
  static constexpr auto fields = std::make_tuple(
      field("phase", &VirtualMachineInstanceStatus::phase,
            "Pending, Scheduling, Scheduled, Running, Succeeded, Failed or Unknown."),
      field("reason", &VirtualMachineInstanceStatus::reason, "Why the VMI is in this phase."),
      field("nodeName", &VirtualMachineInstanceStatus::node_name, "Node running the VMI."),
      field("phaseTransitionTimestamps", &VirtualMachineInstanceStatus::phase_transition_timestamps,
            "When each phase was entered."),
      field("conditions", &VirtualMachineInstanceStatus::conditions, "Conditions."),
      field("interfaces", &VirtualMachineInstanceStatus::interfaces, "Guest interfaces and IPs."),
      field("migrationState", &VirtualMachineInstanceStatus::migration_state,
            "The state of the VMI's latest live migration."),
      field("migrationMethod", &VirtualMachineInstanceStatus::migration_method,
            "BlockMigration (disks are copied too) or LiveMigration (shared disks)."),
      field("migrationTransport", &VirtualMachineInstanceStatus::migration_transport,
            "Unix: the migration stream goes through a unix socket proxied by virt-handler."),
      field("activePods", &VirtualMachineInstanceStatus::active_pods,
            "Launcher pod UIDs and their nodes."),
      field("launcherContainerImageVersion",
            &VirtualMachineInstanceStatus::launcher_container_image_version,
            "Image of the launcher running the VMI."));
};

template <>
struct Describe<VirtualMachineInstance> {
  static constexpr std::string_view doc = "A running virtual machine.";
  static constexpr auto fields = std::make_tuple(
      field("apiVersion", &VirtualMachineInstance::api_version, "kubevirt.io/v1"),
      field("kind", &VirtualMachineInstance::kind, "VirtualMachineInstance"),
      field("metadata", &VirtualMachineInstance::metadata, "Standard object metadata."),
      field("spec", &VirtualMachineInstance::spec, "The desired VM instance."),
      field("status", &VirtualMachineInstance::status, "Observed state."));
};

// ---------------------------------------------------------------------------------------------
// VirtualMachine
template <>
struct Describe<VirtualMachineInstanceTemplateSpec> {
  static constexpr std::string_view doc = "The VMI to create.";
  static constexpr auto fields =
      std::make_tuple(field("metadata", &VirtualMachineInstanceTemplateSpec::metadata,
                            "Labels and annotations for the VMI."),
                      field("spec", &VirtualMachineInstanceTemplateSpec::spec, "The VMI's spec."));
};

template <>
struct Describe<InstancetypeMatcher> {
  static constexpr std::string_view doc =
      "The instancetype (instancetype.kubevirt.io) whose CPU and memory the VM takes.";
  static constexpr auto fields = std::make_tuple(
      field("name", &InstancetypeMatcher::name,
            "Name of the VirtualMachineInstancetype or VirtualMachineClusterInstancetype."),
      field("kind", &InstancetypeMatcher::kind,
            "VirtualMachineClusterInstancetype (default) or VirtualMachineInstancetype."),
      field("revisionName", &InstancetypeMatcher::revision_name,
            "A ControllerRevision holding the copy of the instancetype to use."),
      field("inferFromVolume", &InstancetypeMatcher::infer_from_volume,
            "Infer the instancetype from a volume's labels. Not supported."),
      field("inferFromVolumeFailurePolicy", &InstancetypeMatcher::infer_from_volume_failure_policy,
            "Reject or Ignore a failed inference. Not supported."));
};

template <>
struct Describe<PreferenceMatcher> {
  static constexpr std::string_view doc =
      "The preference (instancetype.kubevirt.io) that fills what the VM leaves unset.";
  static constexpr auto fields = std::make_tuple(
      field("name", &PreferenceMatcher::name,
            "Name of the VirtualMachinePreference or VirtualMachineClusterPreference."),
      field("kind", &PreferenceMatcher::kind,
            "VirtualMachineClusterPreference (default) or VirtualMachinePreference."),
      field("revisionName", &PreferenceMatcher::revision_name,
            "A ControllerRevision holding the copy of the preference to use."),
      field("inferFromVolume", &PreferenceMatcher::infer_from_volume,
            "Infer the preference from a volume's labels. Not supported."),
      field("inferFromVolumeFailurePolicy", &PreferenceMatcher::infer_from_volume_failure_policy,
            "Reject or Ignore a failed inference. Not supported."));
};

template <>
struct Describe<VirtualMachineSpec> {
  static constexpr std::string_view doc = "The desired virtual machine.";
  static constexpr auto fields = std::make_tuple(
      field("running", &VirtualMachineSpec::running,
            "Legacy: true = Always, false = Halted. Mutually exclusive with runStrategy."),
      field("runStrategy", &VirtualMachineSpec::run_strategy,
            "Always, RerunOnFailure, Manual, Halted or Once."),
      field("instancetype", &VirtualMachineSpec::instancetype,
            "The instancetype giving the VM its CPU and memory."),
      field("preference", &VirtualMachineSpec::preference,
            "The preference filling what the VM leaves unset."),
      field("template", &VirtualMachineSpec::template_, "The VMI to create."));
};

template <>
struct Describe<StateChangeRequest> {
  static constexpr std::string_view doc = "A pending start or stop request.";
  static constexpr auto fields = std::make_tuple(
      field("action", &StateChangeRequest::action, "Start or Stop."),
      field("data", &StateChangeRequest::data, "Request details."),
      field("uid", &StateChangeRequest::uid, "UID of the VMI the request is about."));
};

template <>
struct Describe<ControllerRevisionRef> {
  static constexpr std::string_view doc = "A ControllerRevision in the VM's namespace.";
  static constexpr auto fields =
      std::make_tuple(field("name", &ControllerRevisionRef::name, "Name of the revision."));
};

template <>
struct Describe<InstancetypeStatusRef> {
  static constexpr std::string_view doc =
      "The instancetype or preference in use and the revision that keeps its copy.";
  static constexpr auto fields = std::make_tuple(
      field("name", &InstancetypeStatusRef::name, "Name of the object."),
      field("kind", &InstancetypeStatusRef::kind, "Kind of the object."),
      field("controllerRevisionRef", &InstancetypeStatusRef::controller_revision_ref,
            "The ControllerRevision holding the copy the VM uses."),
      field("inferFromVolume", &InstancetypeStatusRef::infer_from_volume,
            "The volume the object was inferred from."),
      field("inferFromVolumeFailurePolicy",
            &InstancetypeStatusRef::infer_from_volume_failure_policy,
            "What a failed inference does."));
};

template <>
struct Describe<VirtualMachineStatus> {
  static constexpr std::string_view doc = "Observed state of the virtual machine.";
  static constexpr auto fields = std::make_tuple(
      field("printableStatus", &VirtualMachineStatus::printable_status,
            "Human-readable state: Stopped, Starting, Running, ..."),
      field("ready", &VirtualMachineStatus::ready, "The VMI runs and is ready."),
      field("created", &VirtualMachineStatus::created, "A VMI exists."),
      field("runStrategy", &VirtualMachineStatus::run_strategy, "The run strategy in effect."),
      field("conditions", &VirtualMachineStatus::conditions, "Conditions."),
      field("stateChangeRequests", &VirtualMachineStatus::state_change_requests,
            "Pending start/stop requests."),
      field("observedGeneration", &VirtualMachineStatus::observed_generation,
            "Generation last acted on."),
      field("desiredGeneration", &VirtualMachineStatus::desired_generation,
            "Generation to act on."),
      field("instancetypeRef", &VirtualMachineStatus::instancetype_ref,
            "The instancetype in use and its revision."),
      field("preferenceRef", &VirtualMachineStatus::preference_ref,
            "The preference in use and its revision."));
};

template <>
struct Describe<VirtualMachine> {
  static constexpr std::string_view doc = "A virtual machine and whether it should run.";
  static constexpr auto fields =
      std::make_tuple(field("apiVersion", &VirtualMachine::api_version, "kubevirt.io/v1"),
                      field("kind", &VirtualMachine::kind, "VirtualMachine"),
                      field("metadata", &VirtualMachine::metadata, "Standard object metadata."),
                      field("spec", &VirtualMachine::spec, "The desired virtual machine."),
                      field("status", &VirtualMachine::status, "Observed state."));
};

}  // namespace kv::api::v1
