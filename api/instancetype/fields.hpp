#pragma once
// The one description of the instancetype.kubevirt.io/v1beta1 types (JSON names, docs, enum
// spellings), walked by the codec (api/v1/codec_generic.hpp) and the CRD generator
// (api/v1/crd_generic.hpp) as api/v1/fields.hpp is. Describe and EnumNames live in kv::api::v1,
// so the specializations do too.

#include <array>
#include <string_view>
#include <tuple>
#include <utility>

#include "api/instancetype/types.hpp"
#include "api/v1/fields.hpp"

namespace kv::api::v1 {

namespace it = kv::api::instancetype;

template <>
struct EnumNames<it::PreferredCpuTopology> {
  static constexpr std::array values = {
      std::pair{it::PreferredCpuTopology::prefer_cores, "preferCores"sv},
      std::pair{it::PreferredCpuTopology::prefer_sockets, "preferSockets"sv},
      std::pair{it::PreferredCpuTopology::prefer_threads, "preferThreads"sv},
      std::pair{it::PreferredCpuTopology::prefer_spread, "preferSpread"sv},
      std::pair{it::PreferredCpuTopology::prefer_any, "preferAny"sv},
      std::pair{it::PreferredCpuTopology::cores, "cores"sv},
      std::pair{it::PreferredCpuTopology::sockets, "sockets"sv},
      std::pair{it::PreferredCpuTopology::threads, "threads"sv},
      std::pair{it::PreferredCpuTopology::spread, "spread"sv},
      std::pair{it::PreferredCpuTopology::any, "any"sv},
  };
};

template <>
struct EnumNames<it::SpreadAcross> {
  static constexpr std::array values = {
      std::pair{it::SpreadAcross::sockets_cores_threads, "SocketsCoresThreads"sv},
      std::pair{it::SpreadAcross::sockets_cores, "SocketsCores"sv},
      std::pair{it::SpreadAcross::cores_threads, "CoresThreads"sv},
  };
};

// ---------------------------------------------------------------------------------------------
// Instancetype
template <>
struct Describe<it::CpuInstancetype> {
  static constexpr std::string_view doc = "The vCPUs the instancetype gives a VM.";
  static constexpr auto fields = std::make_tuple(
      field("guest", &it::CpuInstancetype::guest,
            "Number of vCPUs; laid out as sockets, cores or threads by the preference's "
            "preferredCPUTopology (sockets by default)."),
      field("model", &it::CpuInstancetype::model,
            "CPU model: host-passthrough, host-model or a QEMU model."),
      field("dedicatedCPUPlacement", &it::CpuInstancetype::dedicated_cpu_placement,
            "Pin vCPUs to dedicated host CPUs. Not supported: true is refused."),
      field("numa", &it::CpuInstancetype::numa, "Guest NUMA topology. Not supported."),
      field("isolateEmulatorThread", &it::CpuInstancetype::isolate_emulator_thread,
            "A dedicated CPU for QEMU's emulator thread. Not supported: true is refused."),
      field("realtime", &it::CpuInstancetype::realtime, "Realtime tuning. Not supported."),
      field("maxSockets", &it::CpuInstancetype::max_sockets,
            "Most sockets for CPU hotplug. Not supported."));
};

template <>
struct Describe<it::MemoryInstancetype> {
  static constexpr std::string_view doc = "The memory the instancetype gives a VM.";
  static constexpr auto fields = std::make_tuple(
      field("guest", &it::MemoryInstancetype::guest, "Memory the guest sees, e.g. 512Mi."),
      field("hugepages", &it::MemoryInstancetype::hugepages,
            "Back guest memory with huge pages. Not supported."),
      field("overcommitPercent", &it::MemoryInstancetype::overcommit_percent,
            "0-100: the launcher pod requests guest * (1 - overcommitPercent/100) of memory."),
      field("maxGuest", &it::MemoryInstancetype::max_guest,
            "Most memory for memory hotplug. Not supported."));
};

template <>
struct Describe<it::VirtualMachineInstancetypeSpec> {
  static constexpr std::string_view doc =
      "CPU, memory and placement of the VMs that name this instancetype. A VM may not set what "
      "the instancetype sets.";
  static constexpr auto fields = std::make_tuple(
      field("nodeSelector", &it::VirtualMachineInstancetypeSpec::node_selector,
            "Labels a node must have to run the VMI."),
      field("schedulerName", &it::VirtualMachineInstancetypeSpec::scheduler_name,
            "Scheduler for the launcher pod."),
      field("cpu", &it::VirtualMachineInstancetypeSpec::cpu, "vCPUs."),
      field("memory", &it::VirtualMachineInstancetypeSpec::memory, "Guest memory."),
      field("gpus", &it::VirtualMachineInstancetypeSpec::gpus, "GPUs. Not supported."),
      field("hostDevices", &it::VirtualMachineInstancetypeSpec::host_devices,
            "Host devices. Not supported."),
      field("ioThreadsPolicy", &it::VirtualMachineInstancetypeSpec::io_threads_policy,
            "domain.ioThreadsPolicy (shared or auto); the VM may not set it too."),
      field("ioThreads", &it::VirtualMachineInstancetypeSpec::io_threads,
            "Supplemental IO threads. Not supported."),
      field("launchSecurity", &it::VirtualMachineInstancetypeSpec::launch_security,
            "Confidential computing (SEV). Not supported."),
      field("annotations", &it::VirtualMachineInstancetypeSpec::annotations,
            "Annotations put on the VMI."));
};

// ---------------------------------------------------------------------------------------------
// Preference
template <>
struct Describe<it::SpreadOptions> {
  static constexpr std::string_view doc = "How preferredCPUTopology: spread lays vCPUs out.";
  static constexpr auto fields = std::make_tuple(
      field("across", &it::SpreadOptions::across,
            "SocketsCores (default), CoresThreads or SocketsCoresThreads."),
      field("ratio", &it::SpreadOptions::ratio, "vCPUs per socket or core (default 2)."));
};

template <>
struct Describe<it::CpuPreferences> {
  static constexpr std::string_view doc = "CPU preferences.";
  static constexpr auto fields = std::make_tuple(
      field("preferredCPUTopology", &it::CpuPreferences::preferred_cpu_topology,
            "How the instancetype's vCPUs become a topology: sockets (default), cores, threads, "
            "spread or any (preferSockets, ... are the older spellings)."),
      field("spreadOptions", &it::CpuPreferences::spread_options, "Options of spread."),
      field(
          "preferredCPUFeatures", &it::CpuPreferences::preferred_cpu_features,
          "CPU features added to domain.cpu.features where the VM names no feature of that name."));
};

template <>
struct Describe<it::DevicePreferences> {
  static constexpr std::string_view doc =
      "Device preferences: each fills the VMI's field when the VM leaves it unset.";
  static constexpr auto fields = std::make_tuple(
      field("preferredAutoattachGraphicsDevice",
            &it::DevicePreferences::preferred_autoattach_graphics_device,
            "devices.autoattachGraphicsDevice."),
      field("preferredAutoattachMemBalloon",
            &it::DevicePreferences::preferred_autoattach_mem_balloon,
            "devices.autoattachMemBalloon."),
      field("preferredAutoattachPodInterface",
            &it::DevicePreferences::preferred_autoattach_pod_interface,
            "devices.autoattachPodInterface."),
      field("preferredAutoattachSerialConsole",
            &it::DevicePreferences::preferred_autoattach_serial_console,
            "devices.autoattachSerialConsole."),
      field("preferredAutoattachInputDevice",
            &it::DevicePreferences::preferred_autoattach_input_device,
            "devices.autoattachInputDevice. Not supported yet."),
      field("preferredDisableHotplug", &it::DevicePreferences::preferred_disable_hotplug,
            "devices.disableHotplug. Not supported."),
      field("preferredVirtualGPUOptions", &it::DevicePreferences::preferred_virtual_gpu_options,
            "Virtual GPU options. Not supported."),
      field("preferredSoundModel", &it::DevicePreferences::preferred_sound_model,
            "Sound device model. Not supported."),
      field("preferredUseVirtioTransitional",
            &it::DevicePreferences::preferred_use_virtio_transitional,
            "devices.useVirtioTransitional. Not supported."),
      field("preferredInputBus", &it::DevicePreferences::preferred_input_bus,
            "Bus of input devices that set none: usb or virtio."),
      field("preferredInputType", &it::DevicePreferences::preferred_input_type,
            "Type of input devices that set none: tablet."),
      field("preferredDiskBus", &it::DevicePreferences::preferred_disk_bus,
            "Bus of disks that set none: virtio, sata, scsi or usb."),
      field("preferredLunBus", &it::DevicePreferences::preferred_lun_bus,
            "Bus of LUNs. Not supported (no LUN disks)."),
      field("preferredCdromBus", &it::DevicePreferences::preferred_cdrom_bus,
            "Bus of CD-ROMs that set none: sata or scsi."),
      field("preferredDiskDedicatedIoThread",
            &it::DevicePreferences::preferred_disk_dedicated_io_thread,
            "A dedicated IO thread per virtio disk. Not supported."),
      field("preferredDiskCache", &it::DevicePreferences::preferred_disk_cache,
            "Cache mode of disks that set none: none, writethrough or writeback."),
      field("preferredDiskIO", &it::DevicePreferences::preferred_disk_io,
            "IO mode of disks that set none: native or threads."),
      field("preferredDiskBlockSize", &it::DevicePreferences::preferred_disk_block_size,
            "Disk block sizes. Not supported."),
      field("preferredInterfaceModel", &it::DevicePreferences::preferred_interface_model,
            "Model of interfaces that set none: virtio, e1000, e1000e, ne2k_pci, pcnet, rtl8139."),
      field("preferredRng", &it::DevicePreferences::preferred_rng,
            "devices.rng when the VM sets none."),
      field("preferredBlockMultiQueue", &it::DevicePreferences::preferred_block_multi_queue,
            "devices.blockMultiQueue when the VM sets none."),
      field("preferredNetworkInterfaceMultiQueue",
            &it::DevicePreferences::preferred_network_interface_multi_queue,
            "devices.networkInterfaceMultiqueue when the VM sets none."),
      field("preferredTPM", &it::DevicePreferences::preferred_tpm,
            "devices.tpm when the VM sets none."),
      field("preferredInterfaceMasquerade", &it::DevicePreferences::preferred_interface_masquerade,
            "Masquerade binding for pod-network interfaces that set no binding."),
      field("preferredPanicDeviceModel", &it::DevicePreferences::preferred_panic_device_model,
            "Panic device model. Not supported."),
      field("preferredVideoType", &it::DevicePreferences::preferred_video_type,
            "Video device type. Not supported."));
};

template <>
struct Describe<it::FeaturePreferences> {
  static constexpr std::string_view doc =
      "Hypervisor feature preferences: each fills the domain.features member the VM leaves unset.";
  static constexpr auto fields = std::make_tuple(
      field("preferredAcpi", &it::FeaturePreferences::preferred_acpi, "domain.features.acpi."),
      field("preferredApic", &it::FeaturePreferences::preferred_apic, "domain.features.apic."),
      field("preferredHyperv", &it::FeaturePreferences::preferred_hyperv,
            "Hyper-V enlightenments, each filling the one the VM leaves unset."),
      field("preferredKvm", &it::FeaturePreferences::preferred_kvm, "domain.features.kvm."),
      field("preferredPvspinlock", &it::FeaturePreferences::preferred_pvspinlock,
            "domain.features.pvspinlock."),
      field("preferredSmm", &it::FeaturePreferences::preferred_smm, "domain.features.smm."));
};

template <>
struct Describe<it::FirmwarePreferences> {
  static constexpr std::string_view doc =
      "Firmware preferences, applied when the VM chooses no bootloader.";
  static constexpr auto fields = std::make_tuple(
      field("preferredUseBios", &it::FirmwarePreferences::preferred_use_bios, "Boot with BIOS."),
      field("preferredUseBiosSerial", &it::FirmwarePreferences::preferred_use_bios_serial,
            "BIOS output on the serial console."),
      field("preferredUseEfi", &it::FirmwarePreferences::preferred_use_efi,
            "Boot with EFI (deprecated upstream: use preferredEfi)."),
      field("preferredUseSecureBoot", &it::FirmwarePreferences::preferred_use_secure_boot,
            "EFI Secure Boot (deprecated upstream: use preferredEfi)."),
      field("preferredEfi", &it::FirmwarePreferences::preferred_efi, "The EFI bootloader to use."));
};

template <>
struct Describe<it::MachinePreferences> {
  static constexpr std::string_view doc = "Machine preferences.";
  static constexpr auto fields =
      std::make_tuple(field("preferredMachineType", &it::MachinePreferences::preferred_machine_type,
                            "domain.machine.type when the VM sets none."));
};

template <>
struct Describe<it::ClockOffset> {
  static constexpr std::string_view doc = "A clock offset: one of utc or timezone.";
  static constexpr auto fields =
      std::make_tuple(field("utc", &it::ClockOffset::utc, "Guest clock in UTC."),
                      field("timezone", &it::ClockOffset::timezone,
                            "Guest clock in this time zone, e.g. Europe/Paris."));
};

template <>
struct Describe<it::ClockPreferences> {
  static constexpr std::string_view doc = "Clock preferences.";
  static constexpr auto fields =
      std::make_tuple(field("preferredClockOffset", &it::ClockPreferences::preferred_clock_offset,
                            "domain.clock utc or timezone when the VM sets neither."),
                      field("preferredTimer", &it::ClockPreferences::preferred_timer,
                            "domain.clock.timer when the VM sets none."));
};

template <>
struct Describe<it::VolumePreferences> {
  static constexpr std::string_view doc = "Volume preferences.";
  static constexpr auto fields = std::make_tuple(
      field("preferredStorageClassName", &it::VolumePreferences::preferred_storage_class_name,
            "Storage class of DataVolumes. Not supported (no DataVolumes)."));
};

template <>
struct Describe<it::CpuPreferenceRequirement> {
  static constexpr std::string_view doc = "The least vCPUs a VM must have.";
  static constexpr auto fields =
      std::make_tuple(field("guest", &it::CpuPreferenceRequirement::guest, "Least vCPUs."));
};

template <>
struct Describe<it::MemoryPreferenceRequirement> {
  static constexpr std::string_view doc = "The least memory a VM must have.";
  static constexpr auto fields = std::make_tuple(
      field("guest", &it::MemoryPreferenceRequirement::guest, "Least guest memory."));
};

template <>
struct Describe<it::PreferenceRequirements> {
  static constexpr std::string_view doc =
      "What a VM (or its instancetype) must provide to use this preference.";
  static constexpr auto fields =
      std::make_tuple(field("cpu", &it::PreferenceRequirements::cpu, "Least vCPUs."),
                      field("memory", &it::PreferenceRequirements::memory, "Least memory."),
                      field("architecture", &it::PreferenceRequirements::architecture,
                            "Required architecture. Not supported."));
};

template <>
struct Describe<it::VirtualMachinePreferenceSpec> {
  static constexpr std::string_view doc =
      "Values for the VMs that name this preference, used where the VM leaves a field unset.";
  static constexpr auto fields = std::make_tuple(
      field("clock", &it::VirtualMachinePreferenceSpec::clock, "Clock preferences."),
      field("cpu", &it::VirtualMachinePreferenceSpec::cpu, "CPU preferences."),
      field("devices", &it::VirtualMachinePreferenceSpec::devices, "Device preferences."),
      field("features", &it::VirtualMachinePreferenceSpec::features, "Feature preferences."),
      field("firmware", &it::VirtualMachinePreferenceSpec::firmware, "Firmware preferences."),
      field("machine", &it::VirtualMachinePreferenceSpec::machine, "Machine preferences."),
      field("volumes", &it::VirtualMachinePreferenceSpec::volumes, "Volume preferences."),
      field("preferredSubdomain", &it::VirtualMachinePreferenceSpec::preferred_subdomain,
            "spec.subdomain when the VM sets none."),
      field("preferredTerminationGracePeriodSeconds",
            &it::VirtualMachinePreferenceSpec::preferred_termination_grace_period_seconds,
            "spec.terminationGracePeriodSeconds when the VM sets none."),
      field("requirements", &it::VirtualMachinePreferenceSpec::requirements,
            "Least resources a VM needs."),
      field("annotations", &it::VirtualMachinePreferenceSpec::annotations,
            "Annotations put on the VMI where it does not set them."),
      field("preferSpreadSocketToCoreRatio",
            &it::VirtualMachinePreferenceSpec::prefer_spread_socket_to_core_ratio,
            "Ratio for preferredCPUTopology spread (cpu.spreadOptions.ratio wins)."),
      field("preferredArchitecture", &it::VirtualMachinePreferenceSpec::preferred_architecture,
            "Architecture. Not supported."),
      field("preferredLaunchSecurity", &it::VirtualMachinePreferenceSpec::preferred_launch_security,
            "Confidential computing. Not supported."));
};

// ---------------------------------------------------------------------------------------------
// The kinds
template <>
struct Describe<it::VirtualMachineInstancetype> {
  static constexpr std::string_view doc = "A namespaced instancetype: CPU and memory by name.";
  static constexpr auto fields = std::make_tuple(
      field("apiVersion", &it::VirtualMachineInstancetype::api_version,
            "instancetype.kubevirt.io/v1beta1"),
      field("kind", &it::VirtualMachineInstancetype::kind, "VirtualMachineInstancetype"),
      field("metadata", &it::VirtualMachineInstancetype::metadata, "Standard object metadata."),
      field("spec", &it::VirtualMachineInstancetype::spec, "The instancetype."));
};

template <>
struct Describe<it::VirtualMachineClusterInstancetype> {
  static constexpr std::string_view doc = "A cluster-wide instancetype: CPU and memory by name.";
  static constexpr auto fields = std::make_tuple(
      field("apiVersion", &it::VirtualMachineClusterInstancetype::api_version,
            "instancetype.kubevirt.io/v1beta1"),
      field("kind", &it::VirtualMachineClusterInstancetype::kind,
            "VirtualMachineClusterInstancetype"),
      field("metadata", &it::VirtualMachineClusterInstancetype::metadata,
            "Standard object metadata."),
      field("spec", &it::VirtualMachineClusterInstancetype::spec, "The instancetype."));
};

template <>
struct Describe<it::VirtualMachinePreference> {
  static constexpr std::string_view doc = "A namespaced preference: defaults for a guest OS.";
  static constexpr auto fields = std::make_tuple(
      field("apiVersion", &it::VirtualMachinePreference::api_version,
            "instancetype.kubevirt.io/v1beta1"),
      field("kind", &it::VirtualMachinePreference::kind, "VirtualMachinePreference"),
      field("metadata", &it::VirtualMachinePreference::metadata, "Standard object metadata."),
      field("spec", &it::VirtualMachinePreference::spec, "The preference."));
};

template <>
struct Describe<it::VirtualMachineClusterPreference> {
  static constexpr std::string_view doc = "A cluster-wide preference: defaults for a guest OS.";
  static constexpr auto fields = std::make_tuple(
      field("apiVersion", &it::VirtualMachineClusterPreference::api_version,
            "instancetype.kubevirt.io/v1beta1"),
      field("kind", &it::VirtualMachineClusterPreference::kind, "VirtualMachineClusterPreference"),
      field("metadata", &it::VirtualMachineClusterPreference::metadata,
            "Standard object metadata."),
      field("spec", &it::VirtualMachineClusterPreference::spec, "The preference."));
};

}  // namespace kv::api::v1
