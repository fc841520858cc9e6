#pragma once
// `virtctl create vm|instancetype|preference`: prints a manifest for `kubectl create -f -`, with
// upstream virtctl's flags, defaults, parameter syntax ("src:IMAGE,name:NAME,bootorder:N"), error
// wording ("failed to parse \"--FLAG\" flag: ...") and output: the object as upstream marshals it
// (sigs.k8s.io/yaml: keys sorted, empty structs such as `status: {}` kept). Nothing here talks to
// the cluster; `-n NS` only sets metadata.namespace, as upstream.
//
// Flags whose fields this add-on does not serve are refused while parsing, naming the flag and
// why (Errc::unsupported): --volume-import (and its deprecated aliases --volume-datasource,
// --volume-clone-pvc, --volume-blank: DataVolumes need CDI), --infer-instancetype(-from) and
// --infer-preference(-from) (inferFromVolume), --access-cred (accessCredentials), instancetype
// --gpu/--hostdevice, preference --volume-storage-class.

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "core/flags.hpp"
#include "core/json.hpp"
#include "core/result.hpp"

namespace kv::virtctl {

// What was given on the command line, as strings; build_*() checks them as upstream's run() does.
// `changed` holds the flags given (without "--"), upstream's cmd.Flags().Changed().
struct CreateVmOptions {
  std::string name;  // empty: "vm-" + 5 random characters
  std::string run_strategy = "Always";
  int64_t termination_grace_period = 180;
  std::string memory = "512Mi";  // spec.template.spec.domain.memory.guest unless --instancetype
  std::string instancetype;      // NAME or KIND/NAME
  std::string preference;        // NAME or KIND/NAME
  std::vector<std::string> containerdisk_volumes;  // src:IMAGE[,name:NAME][,bootorder:N]
  std::vector<std::string> pvc_volumes;            // src:CLAIM[,name:NAME][,bootorder:N]
  std::string sysprep_volume;                      // src:NAME[,type:configmap|secret]
  std::string user;                                // cloud-init user data: user
  std::string password_file;                       // cloud-init user data: password (file)
  std::vector<std::string> ssh_keys;               // cloud-init user data: ssh_authorized_keys
  bool ga_manage_ssh = false;
  std::string cloud_init = "nocloud";   // nocloud, configdrive or none
  std::string cloud_init_user_data;     // base64
  std::string cloud_init_network_data;  // base64
  // --infer-instancetype / --infer-preference (upstream's default is true, which infers nothing
  // from a containerdisk): true only when given as true, which check_create_flags refuses.
  bool infer_instancetype = false;
  bool infer_preference = false;
  std::set<std::string> changed;
  bool given(const std::string& flag) const { return changed.contains(flag); }
};

struct CreateInstancetypeOptions {
  std::string name;  // not given: "instancetype-" / "clusterinstancetype-" + 5 random characters
  long long cpu = 0;
  std::string memory;
  std::string io_threads_policy;  // auto or shared
  bool namespaced = false;        // VirtualMachineInstancetype, else the cluster kind
  std::set<std::string> changed;
  bool given(const std::string& flag) const { return changed.contains(flag); }
};

struct CreatePreferenceOptions {
  std::string name;  // not given: "preference-" / "clusterpreference-" + 5 random characters
  bool namespaced = false;
  std::string cpu_topology;  // spec.cpu.preferredCPUTopology
  std::string machine_type;  // spec.machine.preferredMachineType
  std::set<std::string> changed;
  bool given(const std::string& flag) const { return changed.contains(flag); }
};

enum class CreateKind { vm, instancetype, preference };

struct CreateOptions {
  CreateKind kind = CreateKind::vm;
  CreateVmOptions vm;
  CreateInstancetypeOptions instancetype;
  CreatePreferenceOptions preference;
};

// Registers the commands vm, instancetype and preference with their flags on `create` (the Flags
// of `virtctl create`, whose own flags are the global ones), bound to *opts.
void add_create_commands(core::Flags& create, CreateOptions* opts);

// Checks after parsing that cobra does before run: required flags, mutually exclusive groups
// (upstream's wording: "if any flags in the group [...] are set none of the others can be; [...]
// were all set").
core::Status check_create_flags(const CreateOptions& opts);

// What the manifest builders take from outside the command line.
struct CreateContext {
  std::string ns;             // -n/--namespace when given (empty: none, as upstream)
  std::string random_suffix;  // 5 characters for generated names (random_name_suffix())
  std::string password;       // the content of --password-file, read by the caller
};

struct Manifest {
  core::json::Document object;
  std::vector<std::string> warnings;  // for stderr, e.g. the cleartext password warning
};

// Pure. The object upstream's `create vm` prints for these flags, or Errc::invalid naming the flag
// and what is allowed.
core::Result<Manifest> build_vm(const CreateVmOptions& o, const CreateContext& ctx);
core::Result<Manifest> build_instancetype(const CreateInstancetypeOptions& o,
                                          const CreateContext& ctx);
core::Result<Manifest> build_preference(const CreatePreferenceOptions& o, const CreateContext& ctx);

// YAML as sigs.k8s.io/yaml writes it: keys sorted at every level.
std::string manifest_yaml(const core::json::Value& object);

// 5 characters from k8s.io/apimachinery's rand.String alphabet (no vowels).
std::string random_name_suffix();

// Runs a parsed `create` command: reads --password-file, builds, prints the YAML on out and the
// warnings on err. Returns the exit status (0, or 1 with "error: ..." on err).
int run_create(const CreateOptions& opts, const std::string& ns, std::ostream& out,
               std::ostream& err);

}  // namespace kv::virtctl
