// `virtctl create`'s flags: registration (upstream's names, defaults and help) and the checks
// cobra makes before running a command (required flags, mutually exclusive groups).
#include <algorithm>
#include <sstream>

#include "tools/virtctl/create.hpp"

namespace kv::virtctl {

using core::Errc;
using core::Error;
using core::Status;

namespace {

std::string flag_key(const std::string& name) {
  return name.substr(2);  // "--name" -> "name", upstream's flag names
}

// A string flag; the last one given wins (pflag's StringVar).
void text_flag(core::Flags& c, core::FlagSpec spec, std::string* out,
               std::set<std::string>* changed) {
  if (spec.shown_default.empty())
    spec.shown_default = *out;
  c.value(spec, [out, changed, key = flag_key(spec.name)](const std::string& v) -> Status {
    *out = v;
    changed->insert(key);
    return {};
  });
}

// A flag that may be given many times, each value kept (pflag's StringArrayVar); with split, a
// value is also split at commas (StringSliceVar).
void list_flag(core::Flags& c, core::FlagSpec spec, std::vector<std::string>* out,
               std::set<std::string>* changed, bool split = false) {
  c.value(spec, [out, changed, split, key = flag_key(spec.name)](const std::string& v) -> Status {
    changed->insert(key);
    if (!split) {
      out->push_back(v);
      return {};
    }
    std::stringstream ss(v);
    std::string item;
    while (std::getline(ss, item, ','))
      out->push_back(item);
    return {};
  });
}

// A flag whose field this add-on does not serve: refused by name, with why.
void refused_flag(core::Flags& c, core::FlagSpec spec, const std::string& why) {
  spec.help += (spec.help.empty() ? "" : " ") + std::string("Not supported here: ") + why;
  c.value(spec, [name = spec.name, why](const std::string&) -> Status {
    return Error(Errc::unsupported, name + ": not supported here: " + why);
  });
}

const std::string kNoCdi =
    "DataVolumes (spec.dataVolumeTemplates) need CDI, the Containerized Data Importer, which this "
    "add-on does not have yet; use --volume-containerdisk, or --volume-pvc with an existing PVC.";
const std::string kNoInference =
    "inferFromVolume (inferring the instancetype or preference from a volume's labels) is not "
    "served yet; name one with --instancetype / --preference.";

}  // namespace

void add_create_commands(core::Flags& create, CreateOptions* opts) {
  CreateVmOptions* vm = &opts->vm;
  auto* vm_changed = &vm->changed;
  auto& v = create.command("vm", "Create a VirtualMachine manifest.",
                           "Create a VirtualMachine manifest. If no boot order was specified "
                           "volumes have the following fixed boot order: Containerdisk > PVC.");
  text_flag(v,
            {.name = "--name",
             .value = "NAME",
             .help = "Specify the name of the VM.",
             .shown_default = "vm-<5 random characters>"},
            &vm->name, vm_changed);
  text_flag(v,
            {.name = "--run-strategy",
             .value = "STRATEGY",
             .help = "Specify the RunStrategy of the VM: Always, Manual, Halted, Once or "
                     "RerunOnFailure."},
            &vm->run_strategy, vm_changed);
  v.integer({.name = "--termination-grace-period",
             .value = "SECONDS",
             .help = "Specify the termination grace period of the VM.",
             .shown_default = std::to_string(vm->termination_grace_period),
             .allowed = "a number of seconds"},
            0, 1LL << 40, [vm](long long n) {
              vm->termination_grace_period = n;
              vm->changed.insert("termination-grace-period");
            });
  text_flag(v,
            {.name = "--memory",
             .value = "QUANTITY",
             .help = "Specify the memory of the VM (spec.template.spec.domain.memory.guest)."},
            &vm->memory, vm_changed);
  text_flag(v,
            {.name = "--instancetype",
             .value = "[KIND/]NAME",
             .help = "Specify the Instance Type of the VM; KIND: virtualmachineinstancetype or "
                     "virtualmachineclusterinstancetype (the default)."},
            &vm->instancetype, vm_changed);
  v.boolean({.name = "--infer-instancetype",
             .help = "Infer the Instance Type from the first boot disk (only =false is "
                     "supported here: " +
                     kNoInference + ")",
             .shown_default = "true"},
            &vm->infer_instancetype);
  refused_flag(v,
               {.name = "--infer-instancetype-from",
                .value = "VOLUME",
                .help = "Specify the volume to infer the Instance Type of the VM from."},
               kNoInference);
  text_flag(v,
            {.name = "--preference",
             .value = "[KIND/]NAME",
             .help = "Specify the Preference of the VM; KIND: virtualmachinepreference or "
                     "virtualmachineclusterpreference (the default)."},
            &vm->preference, vm_changed);
  v.boolean({.name = "--infer-preference",
             .help = "Infer the Preference from the first boot disk (only =false is supported "
                     "here: " +
                     kNoInference + ")",
             .shown_default = "true"},
            &vm->infer_preference);
  refused_flag(v,
               {.name = "--infer-preference-from",
                .value = "VOLUME",
                .help = "Specify the volume to infer the Preference of the VM from."},
               kNoInference);
  list_flag(v,
            {.name = "--volume-containerdisk",
             .value = "PARAMS",
             .help = "Specify a containerdisk to be used by the VM. Can be provided multiple "
                     "times. Supported parameters: name:string,src:string,bootorder:uint"},
            &vm->containerdisk_volumes, vm_changed);
  list_flag(v,
            {.name = "--volume-pvc",
             .value = "PARAMS",
             .help = "Specify a PVCs to be used by the VM. Can be provided multiple times. "
                     "Supported parameters: name:string,src:string,bootorder:uint"},
            &vm->pvc_volumes, vm_changed);
  refused_flag(
      v,
      {.name = "--volume-import", .value = "PARAMS", .help = "Specify the source for DataVolume."},
      kNoCdi);
  text_flag(v,
            {.name = "--volume-sysprep",
             .value = "PARAMS",
             .help = "Specify a ConfigMap or Secret to be used as sysprep volume by the VM. "
                     "Supported parameters: src:string,type:string"},
            &vm->sysprep_volume, vm_changed);
  text_flag(v,
            {.name = "--user",
             .value = "USER",
             .help = "Specify the user in the cloud-init user data that is added to the VM."},
            &vm->user, vm_changed);
  text_flag(v,
            {.name = "--password-file",
             .value = "FILE",
             .help = "Specify a file to read the password from for the cloud-init user data "
                     "that is added to the VM."},
            &vm->password_file, vm_changed);
  list_flag(v,
            {.name = "--ssh-key",
             .value = "KEY",
             .help = "Specify one or more SSH authorized keys in the cloud-init user data that "
                     "is added to the VM."},
            &vm->ssh_keys, vm_changed, true);
  v.boolean({.name = "--ga-manage-ssh",
             .help = "Specify if the qemu-guest-agent should be able to manage SSH in the "
                     "cloud-init user data that is added to the VM."},
            &vm->ga_manage_ssh);
  refused_flag(v,
               {.name = "--access-cred",
                .value = "PARAMS",
                .help = "Specify an access credential to be injected into the VM."},
               "accessCredentials (SSH keys or passwords propagated by the qemu-guest-agent or "
               "cloud-init from a Secret) are not served yet; use --ssh-key, or --user with "
               "--password-file, which write them into the cloud-init user data.");
  text_flag(v,
            {.name = "--cloud-init",
             .value = "TYPE",
             .help = "Specify the type of the generated cloud-init data source. Supported "
                     "values: nocloud, configdrive, none"},
            &vm->cloud_init, vm_changed);
  text_flag(v,
            {.name = "--cloud-init-user-data",
             .value = "BASE64",
             .help = "Specify the base64 encoded cloud-init user data of the VM."},
            &vm->cloud_init_user_data, vm_changed);
  text_flag(v,
            {.name = "--cloud-init-network-data",
             .value = "BASE64",
             .help = "Specify the base64 encoded cloud-init network data of the VM."},
            &vm->cloud_init_network_data, vm_changed);
  for (const char* deprecated : {"--volume-datasource", "--volume-clone-pvc", "--volume-blank"})
    refused_flag(v, {.name = deprecated, .value = "PARAMS", .help = "Deprecated."}, kNoCdi);

  CreateInstancetypeOptions* it = &opts->instancetype;
  auto& i = create.command(
      "instancetype",
      "Create VirtualMachineInstancetype or VirtualMachineClusterInstancetype manifest.");
  text_flag(i, {.name = "--name", .value = "NAME", .help = "Specify the name of the Instancetype."},
            &it->name, &it->changed);
  i.integer({.name = "--cpu",
             .value = "N",
             .help = "Specify the count of CPUs of the Instancetype (required).",
             .allowed = "a number of vCPUs"},
            0, 4294967295LL, [it](long long n) {
              it->cpu = n;
              it->changed.insert("cpu");
            });
  text_flag(i,
            {.name = "--memory",
             .value = "QUANTITY",
             .help = "Specify the amount of memory of the Instancetype (required)."},
            &it->memory, &it->changed);
  text_flag(i,
            {.name = "--iothreadspolicy",
             .value = "POLICY",
             .help = "Specify IOThreadsPolicy to be used. Only valid values are \"auto\" and "
                     "\"shared\"."},
            &it->io_threads_policy, &it->changed);
  i.boolean({.name = "--namespaced",
             .help = "Specify if VirtualMachineInstancetype should be created. By default "
                     "VirtualMachineClusterInstancetype is created."},
            &it->namespaced);
  refused_flag(
      i, {.name = "--gpu", .value = "PARAMS", .help = "Specify the list of vGPUs to passthrough."},
      "spec.gpus needs a device plugin for host GPUs, which this add-on does not have.");
  refused_flag(i,
               {.name = "--hostdevice",
                .value = "PARAMS",
                .help = "Specify list of HostDevices to passthrough."},
               "spec.hostDevices needs a device plugin for host PCI/USB devices, which this "
               "add-on does not have.");

  CreatePreferenceOptions* pr = &opts->preference;
  auto& p = create.command(
      "preference",
      "Create a VirtualMachinePreference or VirtualMachineClusterPreference manifest.");
  p.boolean({.name = "--namespaced",
             .help = "Specify if VirtualMachinePreference should be created. By default "
                     "VirtualMachineClusterPreference is created."},
            &pr->namespaced);
  text_flag(p, {.name = "--name", .value = "NAME", .help = "Specify the name of the Preference."},
            &pr->name, &pr->changed);
  refused_flag(p,
               {.name = "--volume-storage-class",
                .value = "CLASS",
                .help = "Defines the preferred storage class."},
               "spec.volumes.preferredStorageClassName applies to DataVolume templates, which "
               "need CDI, the Containerized Data Importer, which this add-on does not have yet.");
  text_flag(p,
            {.name = "--machine-type",
             .value = "TYPE",
             .help = "Defines the preferred machine type to use."},
            &pr->machine_type, &pr->changed);
  text_flag(p,
            {.name = "--cpu-topology",
             .value = "TOPOLOGY",
             .help = "Defines the preferred guest visible CPU topology: sockets, cores, threads, "
                     "spread or any."},
            &pr->cpu_topology, &pr->changed);
}

namespace {

// cobra's MarkFlagsMutuallyExclusive check and wording.
Status exclusive(const std::set<std::string>& changed, const std::vector<std::string>& group) {
  std::vector<std::string> set;
  for (const auto& f : group)
    if (changed.contains(f))
      set.push_back(f);
  if (set.size() < 2)
    return {};
  std::sort(set.begin(), set.end());
  auto join = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v)
      s += (s.empty() ? "" : " ") + x;
    return s;
  };
  return Error(Errc::invalid, "if any flags in the group [" + join(group) +
                                  "] are set none of the others can be; [" + join(set) +
                                  "] were all set");
}

}  // namespace

Status check_create_flags(const CreateOptions& opts) {
  switch (opts.kind) {
    case CreateKind::vm: {
      const auto& vm = opts.vm;
      if (vm.infer_instancetype)
        return Error(Errc::unsupported,
                     "--infer-instancetype: not supported here: " + kNoInference);
      if (vm.infer_preference)
        return Error(Errc::unsupported, "--infer-preference: not supported here: " + kNoInference);
      std::set<std::string> changed = vm.changed;
      if (vm.ga_manage_ssh)
        changed.insert("ga-manage-ssh");
      KV_CHECK(exclusive(
          changed, {"memory", "instancetype", "infer-instancetype", "infer-instancetype-from"}));
      for (const char* f : {"user", "password-file", "ssh-key", "ga-manage-ssh"})
        KV_CHECK(exclusive(changed, {"cloud-init-user-data", f}));
      return {};
    }
    case CreateKind::instancetype: {
      std::string missing;
      for (const char* f : {"cpu", "memory"})
        if (!opts.instancetype.given(f))
          missing += std::string(missing.empty() ? "" : ", ") + "\"" + f + "\"";
      if (!missing.empty())
        return Error(Errc::invalid, "required flag(s) " + missing + " not set");
      return {};
    }
    case CreateKind::preference:
      return {};
  }
  return {};
}

}  // namespace kv::virtctl
