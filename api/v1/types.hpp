#pragma once
// kubevirt.io/v1 types: VirtualMachine and VirtualMachineInstance, the subset we support.
//
// Field names follow upstream KubeVirt's JSON names in camelCase -> snake_case. Conventions:
//  - std::optional<T> for an optional scalar or object: absent in JSON <=> std::nullopt, so
//    encode(decode(x)) == x. Empty-object markers (`masquerade: {}`) are optional empty structs.
//  - std::vector / std::map members are omitted from JSON when empty.
//  - A non-optional std::string member is required (decode rejects an object without it).
//  - Closed value sets are enum classes; their JSON spellings are in fields.hpp.
//  - JSON we carry without interpreting (affinity, tolerations, managedFields) is RawJson.
// The one description of every struct (JSON names, docs, required) is in fields.hpp; the codec
// (codec.hpp) and the CRD generator (tools/crdgen) both walk it.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/v1/quantity.hpp"

namespace kv::api::v1 {

inline constexpr std::string_view kGroup = "kubevirt.io";
inline constexpr std::string_view kApiVersion = "kubevirt.io/v1";
inline constexpr std::string_view kVirtualMachineKind = "VirtualMachine";
inline constexpr std::string_view kVirtualMachineInstanceKind = "VirtualMachineInstance";
// A VM's crash-loop record (upstream's status.startFailure), kept by virt-controller
// (controller/vm_reconcile.hpp) and cleared by virt-api's start/stop/restart requests.
inline constexpr const char* kStartFailureAnnotation = "kubevirt-cpp.io/start-failure";

// A JSON value carried verbatim (compact text). Always a JSON object in our schema.
struct RawJson {
  std::string text;  // compact JSON; "{}" for an empty object
  bool operator==(const RawJson&) const = default;
};

using StringMap = std::map<std::string, std::string>;

// ---------------------------------------------------------------------------------------------
// metav1.ObjectMeta
struct OwnerReference {
  std::string api_version;
  std::string kind;
  std::string name;
  std::string uid;
  std::optional<bool> controller;
  std::optional<bool> block_owner_deletion;
  bool operator==(const OwnerReference&) const = default;
};

struct ObjectMeta {
  std::optional<std::string> name;
  std::optional<std::string> generate_name;
  std::optional<std::string> namespace_;  // JSON "namespace"
  std::optional<std::string> uid;
  std::optional<std::string> resource_version;
  std::optional<int64_t> generation;
  std::optional<std::string> creation_timestamp;  // RFC 3339, as the API server writes it
  std::optional<std::string> deletion_timestamp;
  std::optional<int64_t> deletion_grace_period_seconds;
  StringMap labels;
  StringMap annotations;
  std::vector<OwnerReference> owner_references;
  std::vector<std::string> finalizers;
  std::vector<RawJson> managed_fields;
  bool operator==(const ObjectMeta&) const = default;
};

// ---------------------------------------------------------------------------------------------
// Enumerations (JSON spellings in fields.hpp).
enum class RunStrategy { always, rerun_on_failure, manual, halted, once };
enum class DiskBus { virtio, sata, scsi, usb };
enum class EvictionStrategy { none, live_migrate, live_migrate_if_possible, external };
enum class StartStrategy { paused };
enum class PullPolicy { always, if_not_present, never };
enum class Protocol { tcp, udp };
enum class VmiPhase { pending, scheduling, scheduled, running, succeeded, failed, unknown };
enum class PrintableStatus {
  stopped,
  provisioning,
  starting,
  running,
  paused,
  stopping,
  terminating,
  crash_loop_back_off,
  migrating,
  unknown,
  error_unschedulable,
  err_image_pull,
  image_pull_back_off,
  error_pvc_not_found,
  waiting_for_volume_binding,
};
enum class StateChangeAction { start, stop };
// Live migration (upstream's MigrationAbortStatus, MigrationMode,
// VirtualMachineInstanceMigrationMethod, VirtualMachineInstanceMigrationTransport,
// MigrationNetworkType).
enum class MigrationAbortStatus { succeeded, failed, aborting };
enum class MigrationMode { pre_copy, post_copy, paused };
enum class MigrationMethod { block_migration, live_migration };
enum class MigrationTransport { unix_socket };  // JSON "Unix"
enum class MigrationNetworkType { pod, migration };

// ---------------------------------------------------------------------------------------------
// Domain: CPU, memory, resources, machine, firmware.
struct ResourceRequirements {
  std::map<std::string, Quantity> requests;  // "memory", "cpu", ...
  std::map<std::string, Quantity> limits;
  std::optional<bool> overcommit_guest_overhead;
  bool operator==(const ResourceRequirements&) const = default;
};

struct CpuFeature {
  std::string name;                   // a libvirt CPU feature name, e.g. "vmx"
  std::optional<std::string> policy;  // force | require (default) | optional | disable | forbid
  bool operator==(const CpuFeature&) const = default;
};

struct Cpu {
  std::optional<uint32_t> cores;
  std::optional<uint32_t> sockets;
  std::optional<uint32_t> threads;
  std::optional<std::string> model;  // "host-passthrough", "host-model", or a QEMU model name
  std::vector<CpuFeature> features{};
  std::optional<bool> dedicated_cpu_placement{};  // refused when true (validation says why)
  bool operator==(const Cpu&) const = default;
};

struct Hugepages {
  std::optional<std::string> page_size;  // 2Mi | 1Gi; refused (validation says why)
  bool operator==(const Hugepages&) const = default;
};

struct Memory {
  std::optional<Quantity> guest;  // memory the guest sees
  std::optional<Hugepages> hugepages{};
  bool operator==(const Memory&) const = default;
};

struct Machine {
  std::optional<std::string> type;  // "q35" by default
  bool operator==(const Machine&) const = default;
};

struct BiosBootloader {
  std::optional<bool> use_serial;
  bool operator==(const BiosBootloader&) const = default;
};

struct EfiBootloader {
  std::optional<bool> secure_boot;  // default true upstream; needs features.smm enabled
  std::optional<bool> persistent;   // refused: NVRAM would need a backend-storage PVC
  bool operator==(const EfiBootloader&) const = default;
};

struct Bootloader {
  std::optional<BiosBootloader> bios;
  std::optional<EfiBootloader> efi;
  bool operator==(const Bootloader&) const = default;
};

// A kernel and an initrd taken from a container image (KubeVirt's kernelBoot.container).
struct KernelBootContainer {
  std::string image;
  std::optional<std::string> image_pull_secret;
  std::optional<PullPolicy> image_pull_policy;
  std::optional<std::string> kernel_path;  // absolute path inside the image
  std::optional<std::string> initrd_path;
  bool operator==(const KernelBootContainer&) const = default;
};

struct KernelBoot {
  std::optional<std::string> kernel_args;
  std::optional<KernelBootContainer> container;
  bool operator==(const KernelBoot&) const = default;
};

struct Firmware {
  std::optional<std::string> uuid;
  std::optional<std::string> serial;
  std::optional<Bootloader> bootloader;
  std::optional<KernelBoot> kernel_boot;
  bool operator==(const Firmware&) const = default;
};

// SMBIOS chassis (type 3) the guest sees, as <sysinfo><chassis>.
struct Chassis {
  std::optional<std::string> manufacturer;
  std::optional<std::string> version;
  std::optional<std::string> serial;
  std::optional<std::string> asset;
  std::optional<std::string> sku;
  bool operator==(const Chassis&) const = default;
};

// ---------------------------------------------------------------------------------------------
// Clock and timers (upstream's Clock; a timer's "present" is JSON "present").
struct ClockOffsetUtc {
  std::optional<int32_t> offset_seconds;
  bool operator==(const ClockOffsetUtc&) const = default;
};

struct RtcTimer {
  std::optional<std::string> tick_policy;  // delay | catchup
  std::optional<bool> present;             // JSON "present"; default true
  std::optional<std::string> track;        // guest | wall
  bool operator==(const RtcTimer&) const = default;
};

struct HpetTimer {
  std::optional<std::string> tick_policy;  // delay | catchup | merge | discard
  std::optional<bool> present;
  bool operator==(const HpetTimer&) const = default;
};

struct PitTimer {
  std::optional<std::string> tick_policy;  // delay | catchup | discard
  std::optional<bool> present;
  bool operator==(const PitTimer&) const = default;
};

struct KvmTimer {
  std::optional<bool> present;
  bool operator==(const KvmTimer&) const = default;
};

struct HypervTimer {
  std::optional<bool> present;
  bool operator==(const HypervTimer&) const = default;
};

struct Timer {
  std::optional<HpetTimer> hpet;
  std::optional<KvmTimer> kvm;
  std::optional<PitTimer> pit;
  std::optional<RtcTimer> rtc;
  std::optional<HypervTimer> hyperv;
  bool operator==(const Timer&) const = default;
};

// Exactly one of utc and timezone (validation checks it).
struct Clock {
  std::optional<ClockOffsetUtc> utc;
  std::optional<std::string> timezone;  // a TZ name, e.g. "Europe/Paris"
  std::optional<Timer> timer;
  bool operator==(const Clock&) const = default;
};

// ---------------------------------------------------------------------------------------------
// Features (upstream's Features; every "enabled" defaults to true).
struct FeatureState {
  std::optional<bool> enabled;
  bool operator==(const FeatureState&) const = default;
};

struct FeatureApic {
  std::optional<bool> enabled;
  std::optional<bool> end_of_interrupt;
  bool operator==(const FeatureApic&) const = default;
};

struct FeatureSpinlocks {
  std::optional<bool> enabled;
  std::optional<uint32_t> retries;  // JSON "spinlocks"; at least 4096 (the default)
  bool operator==(const FeatureSpinlocks&) const = default;
};

struct FeatureVendorId {
  std::optional<bool> enabled;
  std::optional<std::string> vendor_id;  // JSON "vendorid"; at most 12 characters
  bool operator==(const FeatureVendorId&) const = default;
};

struct SyNicTimer {
  std::optional<bool> enabled;
  std::optional<FeatureState> direct;
  bool operator==(const SyNicTimer&) const = default;
};

struct TlbFlush {
  std::optional<bool> enabled;
  std::optional<FeatureState> direct;
  std::optional<FeatureState> extended;
  bool operator==(const TlbFlush&) const = default;
};

struct FeatureHyperv {
  std::optional<FeatureState> relaxed;
  std::optional<FeatureState> vapic;
  std::optional<FeatureSpinlocks> spinlocks;
  std::optional<FeatureState> vpindex;
  std::optional<FeatureState> runtime;
  std::optional<FeatureState> synic;
  std::optional<SyNicTimer> synictimer;
  std::optional<FeatureState> reset;
  std::optional<FeatureVendorId> vendorid;
  std::optional<FeatureState> frequencies;
  std::optional<FeatureState> reenlightenment;
  std::optional<TlbFlush> tlbflush;
  std::optional<FeatureState> ipi;
  std::optional<FeatureState> evmcs;
  bool operator==(const FeatureHyperv&) const = default;
};

struct FeatureKvm {
  std::optional<bool> hidden;
  bool operator==(const FeatureKvm&) const = default;
};

struct HypervPassthrough {
  std::optional<bool> enabled;
  bool operator==(const HypervPassthrough&) const = default;
};

struct Features {
  std::optional<FeatureState> acpi;  // on unless enabled: false
  std::optional<FeatureApic> apic;   // on unless enabled: false
  std::optional<HypervPassthrough> hyperv_passthrough;
  std::optional<FeatureHyperv> hyperv;
  std::optional<FeatureState> smm;
  std::optional<FeatureKvm> kvm;
  std::optional<FeatureState> pvspinlock;
  bool operator==(const Features&) const = default;
};

// ---------------------------------------------------------------------------------------------
// Devices.
struct DiskTarget {
  std::optional<DiskBus> bus;
  std::optional<bool> read_only;  // JSON "readonly"
  std::optional<std::string> pci_address;
  bool operator==(const DiskTarget&) const = default;
};

struct CdRomTarget {
  std::optional<DiskBus> bus;
  std::optional<bool> read_only;    // JSON "readonly"; a CD-ROM is always read-only
  std::optional<std::string> tray;  // "closed" | "open"
  bool operator==(const CdRomTarget&) const = default;
};

struct Disk {
  std::string name;  // matches a volume's name
  std::optional<DiskTarget> disk;
  std::optional<CdRomTarget> cdrom;
  std::optional<uint32_t> boot_order;
  std::optional<std::string> serial;
  std::optional<bool> dedicated_io_thread{};
  std::optional<std::string> cache{};  // none | writethrough | writeback
  std::optional<std::string> io{};     // native | threads
  bool operator==(const Disk&) const = default;
};

struct InterfaceMasquerade {
  bool operator==(const InterfaceMasquerade&) const = default;
};
struct InterfaceBridge {
  bool operator==(const InterfaceBridge&) const = default;
};
struct InterfacePasst {
  bool operator==(const InterfacePasst&) const = default;
};

struct Port {
  std::optional<std::string> name;
  std::optional<Protocol> protocol;  // TCP by default
  int32_t port = 0;                  // required
  bool operator==(const Port&) const = default;
};

struct Interface {
  std::string name;                  // matches a network's name
  std::optional<std::string> model;  // virtio (default), e1000, e1000e, ne2k_pci, pcnet, rtl8139
  std::optional<std::string> mac_address;
  std::vector<Port> ports;
  std::optional<uint32_t> boot_order;
  std::optional<std::string> pci_address;
  // Exactly one binding after defaulting.
  std::optional<InterfaceMasquerade> masquerade;
  std::optional<InterfaceBridge> bridge;
  std::optional<InterfacePasst> passt;
  bool operator==(const Interface&) const = default;
};

struct Rng {
  bool operator==(const Rng&) const = default;
};

struct I6300EsbWatchdog {
  std::optional<std::string> action;  // poweroff | reset (default) | shutdown
  bool operator==(const I6300EsbWatchdog&) const = default;
};

struct Watchdog {
  std::string name;
  std::optional<I6300EsbWatchdog> i6300esb;  // required on x86_64
  bool operator==(const Watchdog&) const = default;
};

struct Input {
  std::optional<std::string> bus;  // usb (default) | virtio
  std::string type;                // tablet
  std::string name;
  bool operator==(const Input&) const = default;
};

// An emulated TPM 2.0 (swtpm). Present unless enabled is false.
struct Tpm {
  std::optional<bool> enabled;     // default true
  std::optional<bool> persistent;  // refused: the state would need a backend-storage PVC
  bool operator==(const Tpm&) const = default;
};

struct Devices {
  std::vector<Disk> disks;
  std::vector<Interface> interfaces;
  std::optional<bool> autoattach_pod_interface;
  std::optional<bool> autoattach_serial_console;
  std::optional<bool> autoattach_graphics_device;
  std::optional<bool> autoattach_memory_balloon;
  std::optional<Watchdog> watchdog{};
  std::vector<Input> inputs{};
  std::optional<Rng> rng{};
  std::optional<bool> block_multi_queue{};
  std::optional<bool> network_interface_multi_queue{};
  std::optional<Tpm> tpm{};
  bool operator==(const Devices&) const = default;
};

struct DomainSpec {
  std::optional<ResourceRequirements> resources;
  std::optional<Cpu> cpu;
  std::optional<Memory> memory;
  std::optional<Machine> machine;
  std::optional<Firmware> firmware;
  std::optional<Clock> clock{};
  std::optional<Features> features{};
  Devices devices;                                 // required, may be empty
  std::optional<std::string> io_threads_policy{};  // shared | auto
  std::optional<Chassis> chassis{};
  bool operator==(const DomainSpec&) const = default;
};

// ---------------------------------------------------------------------------------------------
// Volumes.
struct LocalObjectReference {
  std::string name;
  bool operator==(const LocalObjectReference&) const = default;
};

struct ContainerDiskSource {
  std::string image;
  std::optional<std::string> image_pull_secret;
  std::optional<std::string> path;  // file inside the image; default: the single file in /disk
  std::optional<PullPolicy> image_pull_policy;
  bool operator==(const ContainerDiskSource&) const = default;
};

struct PersistentVolumeClaimSource {
  std::string claim_name;
  std::optional<bool> read_only;
  bool operator==(const PersistentVolumeClaimSource&) const = default;
};

struct EmptyDiskSource {
  Quantity capacity;  // required
  bool operator==(const EmptyDiskSource&) const = default;
};

struct CloudInitNoCloudSource {
  std::optional<std::string> user_data;
  std::optional<std::string> user_data_base64;
  std::optional<LocalObjectReference> user_data_secret_ref;  // JSON "secretRef"
  std::optional<std::string> network_data;
  std::optional<std::string> network_data_base64;
  std::optional<LocalObjectReference> network_data_secret_ref;
  bool operator==(const CloudInitNoCloudSource&) const = default;
};

struct ConfigMapVolumeSource {
  std::string name;
  std::optional<bool> optional;
  std::optional<std::string> volume_label;
  bool operator==(const ConfigMapVolumeSource&) const = default;
};

struct SecretVolumeSource {
  std::string secret_name;
  std::optional<bool> optional;
  std::optional<std::string> volume_label;
  bool operator==(const SecretVolumeSource&) const = default;
};

// cloud-init ConfigDrive (OpenStack config-drive v2 layout, label config-2): the same three
// forms of user and network data as NoCloud.
struct CloudInitConfigDriveSource {
  std::optional<std::string> user_data;
  std::optional<std::string> user_data_base64;
  std::optional<LocalObjectReference> user_data_secret_ref;  // JSON "secretRef"
  std::optional<std::string> network_data;
  std::optional<std::string> network_data_base64;
  std::optional<LocalObjectReference> network_data_secret_ref;
  bool operator==(const CloudInitConfigDriveSource&) const = default;
};

// The token, ca.crt and namespace of a service account; the launcher pod runs as it.
struct ServiceAccountVolumeSource {
  std::string service_account_name;
  bool operator==(const ServiceAccountVolumeSource&) const = default;
};

// core/v1 ObjectFieldSelector, ResourceFieldSelector and DownwardAPIVolumeFile, as a pod's
// downwardAPI volume takes them (the launcher pod's labels are the VMI's).
struct ObjectFieldSelector {
  std::optional<std::string> api_version;
  std::string field_path;
  bool operator==(const ObjectFieldSelector&) const = default;
};

struct ResourceFieldSelector {
  std::optional<std::string> container_name;
  std::string resource;
  std::optional<Quantity> divisor;
  bool operator==(const ResourceFieldSelector&) const = default;
};

struct DownwardApiVolumeFile {
  std::string path;
  std::optional<ObjectFieldSelector> field_ref;
  std::optional<ResourceFieldSelector> resource_field_ref;
  std::optional<int32_t> mode;
  bool operator==(const DownwardApiVolumeFile&) const = default;
};

struct DownwardApiVolumeSource {
  std::vector<DownwardApiVolumeFile> fields;
  std::optional<std::string> volume_label;
  bool operator==(const DownwardApiVolumeSource&) const = default;
};

// A Windows answer file (autounattend.xml or unattend.xml) from a ConfigMap or a Secret.
struct SysprepSource {
  std::optional<LocalObjectReference> secret;
  std::optional<LocalObjectReference> config_map;
  bool operator==(const SysprepSource&) const = default;
};

// Exactly one source is set (validation checks it).
struct Volume {
  std::string name;
  std::optional<ContainerDiskSource> container_disk;
  std::optional<PersistentVolumeClaimSource> persistent_volume_claim;
  std::optional<EmptyDiskSource> empty_disk;
  std::optional<CloudInitNoCloudSource> cloud_init_no_cloud;
  std::optional<ConfigMapVolumeSource> config_map;
  std::optional<SecretVolumeSource> secret;
  std::optional<CloudInitConfigDriveSource> cloud_init_config_drive;
  std::optional<ServiceAccountVolumeSource> service_account;
  std::optional<DownwardApiVolumeSource> downward_api;
  std::optional<SysprepSource> sysprep;
  bool operator==(const Volume&) const = default;
};

// ---------------------------------------------------------------------------------------------
// Networks.
struct PodNetwork {
  std::optional<std::string> vm_network_cidr;       // JSON "vmNetworkCIDR"
  std::optional<std::string> vm_ipv6_network_cidr;  // JSON "vmIPv6NetworkCIDR"
  bool operator==(const PodNetwork&) const = default;
};

struct Network {
  std::string name;
  std::optional<PodNetwork> pod;
  bool operator==(const Network&) const = default;
};

// ---------------------------------------------------------------------------------------------
// Probes (upstream's v1.Probe): run by the kubelet as the launcher pod's compute container probes,
// against the pod IP, which reaches the guest.

// A port as a number or as the name of an interfaces[].ports entry (core/v1 IntOrString).
struct IntOrString {
  std::optional<int32_t> number;  // the JSON was a number
  std::string name;               // the JSON was a string
  bool operator==(const IntOrString&) const = default;
};

struct ExecAction {
  std::vector<std::string> command;  // refused: needs the guest agent
  bool operator==(const ExecAction&) const = default;
};

struct HttpHeader {
  std::string name;
  std::string value;
  bool operator==(const HttpHeader&) const = default;
};

struct HttpGetAction {
  std::optional<std::string> path;
  IntOrString port;                   // required
  std::optional<std::string> host;    // default: the pod IP
  std::optional<std::string> scheme;  // HTTP (default) | HTTPS
  std::vector<HttpHeader> http_headers;
  bool operator==(const HttpGetAction&) const = default;
};

struct TcpSocketAction {
  IntOrString port;                 // required
  std::optional<std::string> host;  // default: the pod IP
  bool operator==(const TcpSocketAction&) const = default;
};

struct GuestAgentPing {
  bool operator==(const GuestAgentPing&) const = default;
};

// Exactly one of exec, guestAgentPing, httpGet, tcpSocket (validation checks it). Unset numbers
// take upstream's defaults when the pod is rendered: timeout 1, period 10, success 1, failure 3.
struct Probe {
  std::optional<ExecAction> exec;                  // refused: no guest agent yet
  std::optional<GuestAgentPing> guest_agent_ping;  // refused: no guest agent yet
  std::optional<HttpGetAction> http_get;
  std::optional<TcpSocketAction> tcp_socket;
  std::optional<int32_t> initial_delay_seconds;
  std::optional<int32_t> timeout_seconds;
  std::optional<int32_t> period_seconds;
  std::optional<int32_t> success_threshold;
  std::optional<int32_t> failure_threshold;
  bool operator==(const Probe&) const = default;
};

// ---------------------------------------------------------------------------------------------
// VirtualMachineInstance.
struct VirtualMachineInstanceSpec {
  DomainSpec domain;
  StringMap node_selector;
  std::optional<RawJson> affinity;
  std::vector<RawJson> tolerations;
  std::optional<std::string> scheduler_name;
  std::optional<std::string> priority_class_name;
  std::optional<int64_t> termination_grace_period_seconds;
  std::optional<EvictionStrategy> eviction_strategy;
  std::optional<StartStrategy> start_strategy;  // Paused: QEMU starts with its CPUs stopped
  std::optional<Probe> liveness_probe{};
  std::optional<Probe> readiness_probe{};
  std::optional<std::string> hostname;
  std::optional<std::string> subdomain;
  std::vector<Volume> volumes;
  std::vector<Network> networks;
  bool operator==(const VirtualMachineInstanceSpec&) const = default;
};

struct Condition {
  std::string type;    // Ready, Paused, LiveMigratable, Failure, ...
  std::string status;  // "True" | "False" | "Unknown"
  std::optional<std::string> last_probe_time;
  std::optional<std::string> last_transition_time;
  std::optional<std::string> reason;
  std::optional<std::string> message;
  bool operator==(const Condition&) const = default;
};

struct PhaseTransitionTimestamp {
  VmiPhase phase = VmiPhase::pending;
  std::string phase_transition_timestamp;
  bool operator==(const PhaseTransitionTimestamp&) const = default;
};

struct VmiNetworkInterface {
  std::optional<std::string> name;
  std::optional<std::string> ip_address;
  std::vector<std::string> ip_addresses;
  std::optional<std::string> mac;
  std::optional<std::string> interface_name;  // name inside the guest
  std::optional<std::string> info_source;     // "domain", "guest-agent", ...
  bool operator==(const VmiNetworkInterface&) const = default;
};

// ---------------------------------------------------------------------------------------------
// Live migration: the cluster's migration settings and a migration's state, as both a VMI's
// status.migrationState and a VirtualMachineInstanceMigration's status.migrationState carry it
// (upstream's VirtualMachineInstanceMigrationState). The VirtualMachineInstanceMigration kind
// itself is in migration.hpp.

// Upstream's MigrationConfiguration (the KubeVirt CR's spec.configuration.migrations; here the
// kubevirt-config ConfigMap's `migrations` key) and, as a migration's resolved options,
// VMIMConfigurationOptions. Unset members take upstream's defaults (migration_defaults() in
// defaults.hpp).
struct MigrationConfiguration {
  std::optional<std::string> node_drain_taint_key;                // kubevirt.io/drain
  std::optional<uint32_t> parallel_outbound_migrations_per_node;  // 2
  std::optional<uint32_t> parallel_migrations_per_cluster;        // 5
  std::optional<bool> allow_auto_converge;                        // false
  std::optional<Quantity> bandwidth_per_migration;                // 0Mi: no limit
  std::optional<int64_t> completion_timeout_per_gib;              // 150 (JSON ...PerGiB)
  std::optional<uint64_t> max_downtime_ms;                        // 900
  std::optional<int64_t> progress_timeout;                        // 150
  std::optional<int64_t> utility_volumes_timeout;                 // 150
  std::optional<bool> unsafe_migration_override;                  // false
  std::optional<bool> allow_post_copy;                            // false
  std::optional<bool> allow_workload_disruption;                  // allow_post_copy's value
  std::optional<bool> disable_tls;                                // false (JSON disableTLS)
  std::optional<std::string> network;  // a NetworkAttachmentDefinition; refused (no Multus)
  std::optional<bool> match_selinux_level_on_migration;  // false (JSON ...SELinux...)
  bool operator==(const MigrationConfiguration&) const = default;
};

// What the source side of a decentralized (cross-namespace or cross-cluster) migration reports
// (upstream's VirtualMachineInstanceMigrationSourceState).
struct MigrationSourceState {
  std::optional<std::string> node;
  std::optional<std::string> pod;
  std::optional<std::string> migration_uid;  // JSON "migrationUID"
  std::optional<std::string> domain_name;
  std::optional<std::string> domain_namespace;
  std::optional<std::string> sync_address;
  std::optional<std::string> persistent_state_pvc_name;  // JSON "persistentStatePVCName"
  std::optional<std::string> selinux_context;
  std::optional<std::string> virtual_machine_instance_uid;  // JSON "virtualMachineInstanceUID"
  StringMap node_selectors;
  bool operator==(const MigrationSourceState&) const = default;
};

// The target side (upstream's VirtualMachineInstanceMigrationTargetState).
struct MigrationTargetState {
  std::optional<std::string> node;
  std::optional<std::string> pod;
  std::optional<std::string> migration_uid;  // JSON "migrationUID"
  std::optional<std::string> domain_name;
  std::optional<std::string> domain_namespace;
  std::optional<std::string> sync_address;
  std::optional<std::string> persistent_state_pvc_name;  // JSON "persistentStatePVCName"
  std::optional<std::string> selinux_context;
  std::optional<std::string> virtual_machine_instance_uid;  // JSON "virtualMachineInstanceUID"
  std::optional<std::string> domain_ready_timestamp;
  std::optional<bool> domain_detected;
  std::optional<std::string> node_address;
  std::map<std::string, int32_t> direct_migration_node_ports;
  std::optional<std::string> attachment_pod_uid;  // JSON "attachmentPodUID"
  std::vector<int32_t> cpu_set;                   // JSON "cpuSet"
  std::optional<std::string> node_topology;
  bool operator==(const MigrationTargetState&) const = default;
};

// Upstream's VirtualMachineInstanceMigrationState. Timestamps are RFC 3339 text.
struct MigrationState {
  std::optional<std::string> start_timestamp;
  std::optional<std::string> end_timestamp;
  std::optional<std::string> target_node_domain_ready_timestamp;
  std::optional<bool> target_node_domain_detected;
  std::optional<std::string> target_node_address;
  std::map<std::string, int32_t> target_direct_migration_node_ports;  // name -> port
  std::optional<std::string> target_node;
  std::optional<std::string> target_pod;
  std::optional<std::string> target_attachment_pod_uid;  // JSON "targetAttachmentPodUID"
  std::optional<std::string> source_node;
  std::optional<std::string> source_pod;
  std::optional<bool> completed;
  std::optional<bool> failed;
  std::optional<bool> abort_requested;
  std::optional<MigrationAbortStatus> abort_status;
  std::optional<std::string> failure_reason;
  std::optional<std::string> migration_uid;  // JSON "migrationUid"
  std::optional<MigrationMode> mode;
  std::optional<std::string> migration_policy_name;
  std::optional<MigrationConfiguration> migration_configuration;
  std::vector<int32_t> target_cpu_set;  // JSON "targetCPUSet"
  std::optional<std::string> target_node_topology;
  std::optional<std::string> source_persistent_state_pvc_name;  // JSON "...PVCName"
  std::optional<std::string> target_persistent_state_pvc_name;
  std::optional<MigrationSourceState> source_state;
  std::optional<MigrationTargetState> target_state;
  std::optional<MigrationNetworkType> migration_network_type;
  std::optional<Quantity> target_memory_overhead;
  bool operator==(const MigrationState&) const = default;
};

struct VirtualMachineInstanceStatus {
  std::optional<VmiPhase> phase;
  std::optional<std::string> reason;
  std::optional<std::string> node_name;
  std::vector<PhaseTransitionTimestamp> phase_transition_timestamps;
  std::vector<Condition> conditions;
  std::vector<VmiNetworkInterface> interfaces;
  StringMap active_pods;  // launcher pod UID -> node name
  std::optional<std::string> launcher_container_image_version;
  std::optional<MigrationState> migration_state{};
  std::optional<MigrationMethod> migration_method{};
  std::optional<MigrationTransport> migration_transport{};
  bool operator==(const VirtualMachineInstanceStatus&) const = default;
};

struct VirtualMachineInstance {
  std::string api_version{kApiVersion};
  std::string kind{kVirtualMachineInstanceKind};
  ObjectMeta metadata;
  VirtualMachineInstanceSpec spec;
  std::optional<VirtualMachineInstanceStatus> status;
  bool operator==(const VirtualMachineInstance&) const = default;
};

// ---------------------------------------------------------------------------------------------
// VirtualMachine.
struct VirtualMachineInstanceTemplateSpec {
  std::optional<ObjectMeta> metadata;  // labels and annotations copied onto the VMI
  VirtualMachineInstanceSpec spec;
  bool operator==(const VirtualMachineInstanceTemplateSpec&) const = default;
};

// spec.instancetype / spec.preference (instancetype.kubevirt.io, api/instancetype/).
struct InstancetypeMatcher {
  std::optional<std::string> name;
  std::optional<std::string> kind;  // VirtualMachineClusterInstancetype by default
  std::optional<std::string> revision_name;
  std::optional<std::string> infer_from_volume;  // refused: nothing to infer from yet
  std::optional<std::string> infer_from_volume_failure_policy;
  bool operator==(const InstancetypeMatcher&) const = default;
};

struct PreferenceMatcher {
  std::optional<std::string> name;
  std::optional<std::string> kind;  // VirtualMachineClusterPreference by default
  std::optional<std::string> revision_name;
  std::optional<std::string> infer_from_volume;  // refused: nothing to infer from yet
  std::optional<std::string> infer_from_volume_failure_policy;
  bool operator==(const PreferenceMatcher&) const = default;
};

struct VirtualMachineSpec {
  std::optional<bool> running;  // legacy; mutually exclusive with run_strategy
  std::optional<RunStrategy> run_strategy;
  std::optional<InstancetypeMatcher> instancetype;
  std::optional<PreferenceMatcher> preference;
  VirtualMachineInstanceTemplateSpec template_;  // JSON "template"
  bool operator==(const VirtualMachineSpec&) const = default;
};

struct StateChangeRequest {
  StateChangeAction action = StateChangeAction::start;
  StringMap data;
  std::optional<std::string> uid;  // the VMI the request is about (Stop)
  bool operator==(const StateChangeRequest&) const = default;
};

struct ControllerRevisionRef {
  std::optional<std::string> name;
  bool operator==(const ControllerRevisionRef&) const = default;
};

// status.instancetypeRef / preferenceRef: the object the VM uses and the ControllerRevision
// holding the copy it was first seen as.
struct InstancetypeStatusRef {
  std::optional<std::string> name;
  std::optional<std::string> kind;
  std::optional<ControllerRevisionRef> controller_revision_ref;
  std::optional<std::string> infer_from_volume;
  std::optional<std::string> infer_from_volume_failure_policy;
  bool operator==(const InstancetypeStatusRef&) const = default;
};

struct VirtualMachineStatus {
  std::optional<PrintableStatus> printable_status;
  std::optional<bool> ready;
  std::optional<bool> created;
  std::optional<RunStrategy> run_strategy;  // the strategy in effect
  std::vector<Condition> conditions;
  std::vector<StateChangeRequest> state_change_requests;
  std::optional<int64_t> observed_generation;
  std::optional<int64_t> desired_generation;
  std::optional<InstancetypeStatusRef> instancetype_ref;
  std::optional<InstancetypeStatusRef> preference_ref;
  bool operator==(const VirtualMachineStatus&) const = default;
};

struct VirtualMachine {
  std::string api_version{kApiVersion};
  std::string kind{kVirtualMachineKind};
  ObjectMeta metadata;
  VirtualMachineSpec spec;
  std::optional<VirtualMachineStatus> status;
  bool operator==(const VirtualMachine&) const = default;
};

}  // namespace kv::api::v1
