#pragma once
// instancetype.kubevirt.io/v1beta1 types: VirtualMachineInstancetype and
// VirtualMachineClusterInstancetype (CPU, memory and placement a VM takes by name), and
// VirtualMachinePreference and VirtualMachineClusterPreference (values a VM gets where it leaves a
// field unset). Upstream's JSON names, camelCase -> snake_case; the conventions of api/v1/types.hpp
// (std::optional for optional members, non-optional members required, RawJson for JSON carried
// as is). Their descriptions are in fields.hpp; the members we cannot honour yet are decoded (so
// the refusal names them) and refused by validation.hpp with the reason.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/v1/types.hpp"

namespace kv::api::instancetype {

using v1::ObjectMeta;
using v1::Quantity;
using v1::RawJson;
using v1::StringMap;

inline constexpr std::string_view kGroup = "instancetype.kubevirt.io";
inline constexpr std::string_view kVersion = "v1beta1";
inline constexpr std::string_view kApiVersion = "instancetype.kubevirt.io/v1beta1";
inline constexpr std::string_view kInstancetypeKind = "VirtualMachineInstancetype";
inline constexpr std::string_view kClusterInstancetypeKind = "VirtualMachineClusterInstancetype";
inline constexpr std::string_view kPreferenceKind = "VirtualMachinePreference";
inline constexpr std::string_view kClusterPreferenceKind = "VirtualMachineClusterPreference";

// ---------------------------------------------------------------------------------------------
// Instancetype.
struct CpuInstancetype {
  uint32_t guest = 0;                           // vCPUs; required
  std::optional<std::string> model;             // like domain.cpu.model
  std::optional<bool> dedicated_cpu_placement;  // JSON "dedicatedCPUPlacement"; refused when true
  std::optional<RawJson> numa;                  // refused
  std::optional<bool> isolate_emulator_thread;  // refused when true
  std::optional<RawJson> realtime;              // refused
  std::optional<uint32_t> max_sockets;          // refused (no CPU hotplug)
  bool operator==(const CpuInstancetype&) const = default;
};

struct MemoryInstancetype {
  Quantity guest;                             // required
  std::optional<RawJson> hugepages;           // refused, as the VMI refuses it
  std::optional<int32_t> overcommit_percent;  // 0-100: the pod requests guest * (1 - p/100)
  std::optional<Quantity> max_guest;          // refused (no memory hotplug)
  bool operator==(const MemoryInstancetype&) const = default;
};

struct VirtualMachineInstancetypeSpec {
  StringMap node_selector;
  std::optional<std::string> scheduler_name;
  CpuInstancetype cpu;                           // required
  MemoryInstancetype memory;                     // required
  std::vector<RawJson> gpus;                     // refused
  std::vector<RawJson> host_devices;             // refused
  std::optional<std::string> io_threads_policy;  // shared | auto; the instancetype's wins
  std::optional<RawJson> io_threads;             // refused
  std::optional<RawJson> launch_security;        // refused
  StringMap annotations;                         // copied onto the VMI
  bool operator==(const VirtualMachineInstancetypeSpec&) const = default;
};

// ---------------------------------------------------------------------------------------------
// Preference.
enum class PreferredCpuTopology {
  prefer_cores,  // deprecated spellings, still accepted upstream
  prefer_sockets,
  prefer_threads,
  prefer_spread,
  prefer_any,
  cores,
  sockets,
  threads,
  spread,
  any,
};
enum class SpreadAcross { sockets_cores_threads, sockets_cores, cores_threads };

struct SpreadOptions {
  std::optional<SpreadAcross> across;  // SocketsCores by default
  std::optional<uint32_t> ratio;       // 2 by default
  bool operator==(const SpreadOptions&) const = default;
};

struct CpuPreferences {
  std::optional<PreferredCpuTopology> preferred_cpu_topology;  // JSON "preferredCPUTopology"
  std::optional<SpreadOptions> spread_options;
  std::vector<v1::CpuFeature> preferred_cpu_features;  // added where the VM names no such feature
  bool operator==(const CpuPreferences&) const = default;
};

struct DevicePreferences {
  std::optional<bool> preferred_autoattach_graphics_device;
  std::optional<bool> preferred_autoattach_mem_balloon;
  std::optional<bool> preferred_autoattach_pod_interface;
  std::optional<bool> preferred_autoattach_serial_console;
  std::optional<bool>
      preferred_autoattach_input_device;          // refused: no devices.autoattachInputDevice
  std::optional<bool> preferred_disable_hotplug;  // refused (no hotplug)
  std::optional<RawJson> preferred_virtual_gpu_options;   // refused
  std::optional<std::string> preferred_sound_model;       // refused
  std::optional<bool> preferred_use_virtio_transitional;  // refused
  std::optional<std::string> preferred_input_bus;
  std::optional<std::string> preferred_input_type;
  std::optional<v1::DiskBus> preferred_disk_bus;
  std::optional<v1::DiskBus> preferred_lun_bus;  // refused (no LUN disks)
  std::optional<v1::DiskBus> preferred_cdrom_bus;
  std::optional<bool> preferred_disk_dedicated_io_thread;  // refused
  std::optional<std::string> preferred_disk_cache;
  std::optional<std::string> preferred_disk_io;
  std::optional<RawJson> preferred_disk_block_size;  // refused
  std::optional<std::string> preferred_interface_model;
  std::optional<v1::Rng> preferred_rng;
  std::optional<bool> preferred_block_multi_queue;
  std::optional<bool> preferred_network_interface_multi_queue;
  std::optional<v1::Tpm> preferred_tpm;
  std::optional<v1::InterfaceMasquerade> preferred_interface_masquerade;
  std::optional<std::string> preferred_panic_device_model;  // refused
  std::optional<std::string> preferred_video_type;          // refused
  bool operator==(const DevicePreferences&) const = default;
};

struct FeaturePreferences {
  std::optional<v1::FeatureState> preferred_acpi;
  std::optional<v1::FeatureApic> preferred_apic;
  std::optional<v1::FeatureHyperv> preferred_hyperv;  // filled enlightenment by enlightenment
  std::optional<v1::FeatureKvm> preferred_kvm;
  std::optional<v1::FeatureState> preferred_pvspinlock;
  std::optional<v1::FeatureState> preferred_smm;
  bool operator==(const FeaturePreferences&) const = default;
};

struct FirmwarePreferences {
  std::optional<bool> preferred_use_bios;
  std::optional<bool> preferred_use_bios_serial;
  std::optional<bool> preferred_use_efi;          // deprecated upstream; preferredEfi
  std::optional<bool> preferred_use_secure_boot;  // deprecated upstream; preferredEfi
  std::optional<v1::EfiBootloader> preferred_efi;
  bool operator==(const FirmwarePreferences&) const = default;
};

struct MachinePreferences {
  std::optional<std::string> preferred_machine_type;
  bool operator==(const MachinePreferences&) const = default;
};

// Upstream's ClockOffset: one of utc and timezone.
struct ClockOffset {
  std::optional<v1::ClockOffsetUtc> utc;
  std::optional<std::string> timezone;
  bool operator==(const ClockOffset&) const = default;
};

struct ClockPreferences {
  std::optional<ClockOffset> preferred_clock_offset;  // taken whole when the VM sets neither
  std::optional<v1::Timer> preferred_timer;           // taken whole when the VM sets no timer
  bool operator==(const ClockPreferences&) const = default;
};

struct VolumePreferences {
  std::optional<std::string> preferred_storage_class_name;  // refused (no DataVolumes)
  bool operator==(const VolumePreferences&) const = default;
};

struct CpuPreferenceRequirement {
  uint32_t guest = 0;  // required
  bool operator==(const CpuPreferenceRequirement&) const = default;
};

struct MemoryPreferenceRequirement {
  Quantity guest;  // required
  bool operator==(const MemoryPreferenceRequirement&) const = default;
};

struct PreferenceRequirements {
  std::optional<CpuPreferenceRequirement> cpu;
  std::optional<MemoryPreferenceRequirement> memory;
  std::optional<std::string> architecture;  // refused
  bool operator==(const PreferenceRequirements&) const = default;
};

struct VirtualMachinePreferenceSpec {
  std::optional<ClockPreferences> clock;
  std::optional<CpuPreferences> cpu;
  std::optional<DevicePreferences> devices;
  std::optional<FeaturePreferences> features;
  std::optional<FirmwarePreferences> firmware;
  std::optional<MachinePreferences> machine;
  std::optional<VolumePreferences> volumes;
  std::optional<std::string> preferred_subdomain;
  std::optional<int64_t> preferred_termination_grace_period_seconds;
  std::optional<PreferenceRequirements> requirements;
  StringMap annotations;  // copied onto the VMI where it does not set them
  std::optional<uint32_t> prefer_spread_socket_to_core_ratio;
  std::optional<std::string> preferred_architecture;  // refused
  std::optional<RawJson> preferred_launch_security;   // refused
  bool operator==(const VirtualMachinePreferenceSpec&) const = default;
};

// ---------------------------------------------------------------------------------------------
// The four kinds. The cluster ones are cluster-scoped; none has a status.
struct VirtualMachineInstancetype {
  std::string api_version{kApiVersion};
  std::string kind{kInstancetypeKind};
  ObjectMeta metadata;
  VirtualMachineInstancetypeSpec spec;
  bool operator==(const VirtualMachineInstancetype&) const = default;
};

struct VirtualMachineClusterInstancetype {
  std::string api_version{kApiVersion};
  std::string kind{kClusterInstancetypeKind};
  ObjectMeta metadata;
  VirtualMachineInstancetypeSpec spec;
  bool operator==(const VirtualMachineClusterInstancetype&) const = default;
};

struct VirtualMachinePreference {
  std::string api_version{kApiVersion};
  std::string kind{kPreferenceKind};
  ObjectMeta metadata;
  VirtualMachinePreferenceSpec spec;
  bool operator==(const VirtualMachinePreference&) const = default;
};

struct VirtualMachineClusterPreference {
  std::string api_version{kApiVersion};
  std::string kind{kClusterPreferenceKind};
  ObjectMeta metadata;
  VirtualMachinePreferenceSpec spec;
  bool operator==(const VirtualMachineClusterPreference&) const = default;
};

}  // namespace kv::api::instancetype
