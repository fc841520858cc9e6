// `virtctl create`'s manifests: pure builders from the parsed flags to the object upstream prints.
#include "tools/virtctl/create.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <ostream>
#include <random>
#include <sstream>

#include "api/v1/quantity.hpp"
#include "core/encoding.hpp"
#include "core/names.hpp"
#include "core/yaml.hpp"

namespace kv::virtctl {

using core::Errc;
using core::Error;
using core::Result;
using core::Status;
using core::json::Allocator;
using core::json::Value;

namespace {

const std::string kCloudInitDisk = "cloudinitdisk";
const std::string kSysprepDisk = "sysprepdisk";
const std::string kCloudConfigHeader = "#cloud-config";

Error flag_error(const std::string& flag, const std::string& what) {
  return Error(Errc::invalid, "failed to parse \"--" + flag + "\" flag: " + what);
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string lower(std::string s) {
  for (char& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Upstream's params.Map: "key:value,key:value", each value running to the next ',' (so it may
// hold ':'); a key given twice keeps its last value; keys outside `supported` are refused.
struct Params {
  std::map<std::string, std::string> values;
  const std::string* get(const std::string& key) const {
    auto it = values.find(key);
    return it == values.end() ? nullptr : &it->second;
  }
  // The key's value, or fallback when it is missing or empty.
  std::string non_empty_or(const std::string& key, const std::string& fallback) const {
    const std::string* v = get(key);
    return v != nullptr && !v->empty() ? *v : fallback;
  }
};

Result<Params> parse_params(const std::string& flag, const std::string& text,
                            const std::vector<std::string>& supported) {
  if (text.empty())
    return flag_error(flag, "params may not be empty");
  Params p;
  std::stringstream ss(text);
  std::string param;
  while (std::getline(ss, param, ',')) {
    auto colon = param.find(':');
    if (colon == std::string::npos)
      return flag_error(flag, "params need to have at least one colon: " + param);
    p.values[param.substr(0, colon)] = param.substr(colon + 1);
  }
  if (text.back() == ',')
    return flag_error(flag, "params need to have at least one colon: ");
  std::string unknown;
  for (const auto& [k, v] : p.values)
    if (std::find(supported.begin(), supported.end(), k) == supported.end())
      unknown += (unknown.empty() ? "" : ",") + k + ":" + v;
  if (!unknown.empty()) {
    std::string names;
    for (const auto& s : supported)
      names += (names.empty() ? "" : ", ") + s;
    return flag_error(flag, "unknown param(s): " + unknown + " (supported: " + names + ")");
  }
  return p;
}

// bootorder: an unsigned 32-bit number as upstream parses it; 0 is refused later.
Result<std::optional<uint32_t>> boot_order(const std::string& flag, const Params& p) {
  const std::string* s = p.get("bootorder");
  if (s == nullptr)
    return std::optional<uint32_t>();
  char* end = nullptr;
  unsigned long long n = std::strtoull(s->c_str(), &end, 10);
  if (s->empty() || *end != '\0' || (*s)[0] == '-' || (*s)[0] == '+' || n > 4294967295ULL)
    return flag_error(flag, "failed to parse param \"bootorder\": \"" + *s +
                                "\" is not allowed: a whole number from 1 to 4294967295");
  return std::optional<uint32_t>(static_cast<uint32_t>(n));
}

// Upstream's params.SplitPrefixedName: "prefix/name" or "name".
Result<std::pair<std::string, std::string>> split_prefixed(const std::string& flag,
                                                           const std::string& what,
                                                           const std::string& s) {
  auto slash = s.find('/');
  std::pair<std::string, std::string> r;
  if (slash == std::string::npos) {
    r.second = s;
  } else {
    size_t count = static_cast<size_t>(std::count(s.begin(), s.end(), '/'));
    if (count > 1)
      return flag_error(
          flag, what + "invalid count " + std::to_string(count) + " of slashes in prefix/name");
    r.first = s.substr(0, slash);
    r.second = s.substr(slash + 1);
  }
  if (r.second.empty())
    return flag_error(flag, what + "name cannot be empty");
  return r;
}

// The key's value; "<key> must be specified" when it is missing or empty.
Result<std::string> required(const std::string& flag, const Params& p, const std::string& key) {
  const std::string* v = p.get(key);
  if (v == nullptr || v->empty())
    return flag_error(flag, key + " must be specified");
  return *v;
}

Status dns_label(const std::string& flag, const std::string& name) {
  if (core::is_dns_label(name))
    return {};
  if (name.size() > 63)
    return flag_error(flag, "invalid name \"" + name + "\": must be no more than 63 characters");
  return flag_error(flag, "invalid name \"" + name +
                              "\": a lowercase RFC 1123 label must consist of lower case "
                              "alphanumeric characters or '-', and must start and end with an "
                              "alphanumeric character (e.g. 'my-name',  or '123-abc', regex used "
                              "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')");
}

Status object_name(const std::string& name, const std::string& kind) {
  if (core::is_dns_subdomain(name))
    return {};
  return flag_error("name", "\"" + name + "\" is not a valid " + kind +
                                " name: lowercase letters, digits, '-' and '.', starting and "
                                "ending with a letter or digit, at most 253 characters");
}

Result<std::string> quantity(const std::string& flag, const std::string& text) {
  auto q = api::v1::parse_quantity(text);
  if (!q.ok())
    return flag_error(flag, q.error().message);
  if (q->sign() <= 0)
    return flag_error(flag, "\"" + text + "\" is not allowed: must be more than 0");
  return q->to_string();
}

Value object() {
  return Value(rapidjson::kObjectType);
}

void put(Value& obj, std::string_view key, std::string_view s, Allocator& a) {
  core::json::set(obj, key, s, a);
}

void put(Value& obj, std::string_view key, Value v, Allocator& a) {
  core::json::set(obj, key, std::move(v), a);
}

Value metadata(const std::string& name, const std::string& ns, Allocator& a) {
  Value m = object();
  put(m, "name", name, a);
  if (!ns.empty())
    put(m, "namespace", ns, a);
  return m;
}

// The VM being built: its volumes and disks in upstream's order, and the boot orders taken.
class VmBuilder {
 public:
  VmBuilder(const CreateVmOptions& o, Allocator& a) : o_(o), a_(a) {}

  bool has_volume(const std::string& name) const {
    return std::find(volume_names_.begin(), volume_names_.end(), name) != volume_names_.end();
  }

  Status add_volume(const std::string& flag, const std::string& name, Value source_key_and_value,
                    std::string_view source_key, std::optional<uint32_t> boot) {
    if (has_volume(name))
      return flag_error(flag, "there is already a volume with name \"" + name + "\"");
    Value vol = object();
    put(vol, "name", name, a_);
    put(vol, source_key, std::move(source_key_and_value), a_);
    volumes_.PushBack(vol, a_);
    volume_names_.push_back(name);
    if (!boot)
      return {};
    if (*boot == 0)
      return flag_error(flag, "bootorder must be greater than 0");
    if (boot_orders_.contains(*boot))
      return flag_error(flag,
                        "bootorder " + std::to_string(*boot) + " was specified multiple times");
    boot_orders_.insert(*boot);
    Value disk = object();
    put(disk, "name", name, a_);
    put(disk, "bootOrder", Value(static_cast<uint64_t>(*boot)), a_);
    disks_.PushBack(disk, a_);
    return {};
  }

  Status containerdisks(const std::string& vm_name) {
    const std::string flag = "volume-containerdisk";
    for (size_t i = 0; i < o_.containerdisk_volumes.size(); ++i) {
      auto p = parse_params(flag, o_.containerdisk_volumes[i], {"name", "src", "bootorder"});
      if (!p.ok())
        return p.error();
      auto boot = boot_order(flag, *p);
      if (!boot.ok())
        return boot.error();
      auto src = required(flag, *p, "src");
      if (!src.ok())
        return src.error();
      std::string name = p->non_empty_or("name", vm_name + "-containerdisk-" + std::to_string(i));
      KV_CHECK(dns_label(flag, name));
      Value source = object();
      put(source, "image", *src, a_);
      KV_CHECK(add_volume(flag, name, std::move(source), "containerDisk", *boot));
    }
    return {};
  }

  Status pvcs() {
    const std::string flag = "volume-pvc";
    for (const auto& text : o_.pvc_volumes) {
      auto p = parse_params(flag, text, {"name", "src", "bootorder"});
      if (!p.ok())
        return p.error();
      auto boot = boot_order(flag, *p);
      if (!boot.ok())
        return boot.error();
      auto src = required(flag, *p, "src");
      if (!src.ok())
        return src.error();
      auto split = split_prefixed(flag, "src invalid: ", *src);
      if (!split.ok())
        return split.error();
      const auto& [ns, claim] = *split;
      if (!ns.empty())
        return flag_error(flag, "not allowed to specify namespace of pvc \"" + claim + "\"");
      std::string name = p->non_empty_or("name", claim);
      KV_CHECK(dns_label(flag, name));
      Value source = object();
      put(source, "claimName", claim, a_);
      KV_CHECK(add_volume(flag, name, std::move(source), "persistentVolumeClaim", *boot));
    }
    return {};
  }

  Status sysprep() {
    const std::string flag = "volume-sysprep";
    auto p = parse_params(flag, o_.sysprep_volume, {"src", "type"});
    if (!p.ok())
      return p.error();
    auto src = required(flag, *p, "src");
    if (!src.ok())
      return src.error();
    auto split = split_prefixed(flag, "src invalid: ", *src);
    if (!split.ok())
      return split.error();
    if (!split->first.empty())
      return flag_error(flag, "not allowed to specify namespace of configmap or secret \"" +
                                  split->second + "\"");
    const std::string* type = p->get("type");
    std::string kind = type == nullptr || type->empty() ? "configmap" : lower(*type);
    if (kind != "configmap" && kind != "secret")
      return flag_error(flag, "invalid sysprep source type \"" + *type +
                                  "\", supported values are: configmap, secret");
    if (has_volume(kSysprepDisk))
      return flag_error(flag, "there is already a volume with name \"" + kSysprepDisk + "\"");
    Value ref = object();
    put(ref, "name", *src, a_);
    Value source = object();
    put(source, kind == "configmap" ? "configMap" : "secret", std::move(ref), a_);
    return add_volume(flag, kSysprepDisk, std::move(source), "sysprep", std::nullopt);
  }

  // Upstream's buildCloudInitConfig.
  std::string cloud_config(const std::string& password) const {
    std::string config = kCloudConfigHeader;
    if (!o_.user.empty())
      config += "\nuser: " + o_.user;
    if (!o_.password_file.empty()) {
      std::string pw = password;
      const char* space = " \t\n\r\v\f";
      pw.erase(0, pw.find_first_not_of(space));
      pw.erase(pw.find_last_not_of(space) + 1);
      if (!pw.empty())
        config += "\npassword: " + pw + "\nchpasswd: { expire: False }";
    }
    if (!o_.ssh_keys.empty()) {
      config += "\nssh_authorized_keys:";
      for (const auto& key : o_.ssh_keys)
        config += "\n  - " + key;
    }
    if (o_.ga_manage_ssh)
      config += "\nruncmd:\n  - [ setsebool, -P, 'virt_qemu_ga_manage_ssh', 'on' ]";
    return config;
  }

  // Upstream's cloudInitConfig: a cloud-init volume when a cloud-init flag was given and there
  // is something to say (or --cloud-init asked for one).
  Status cloud_init(const std::string& password, std::vector<std::string>& warnings) {
    bool flags_given = o_.ga_manage_ssh;
    for (const char* f : {"user", "password-file", "ssh-key", "cloud-init", "cloud-init-user-data",
                          "cloud-init-network-data"})
      flags_given = flags_given || o_.given(f);
    if (!flags_given)
      return {};
    if (o_.given("password-file"))
      warnings.push_back(
          "WARNING: --password-file: The password is stored in cleartext in the VM definition!");
    if (has_volume(kCloudInitDisk))
      return Error(Errc::invalid, "there is already a volume with name \"" + kCloudInitDisk + "\"");
    const std::string type = lower(o_.cloud_init);
    if (type == "none") {
      if (o_.given("password-file") || o_.given("ssh-key") || o_.ga_manage_ssh ||
          o_.given("cloud-init-user-data") || o_.given("cloud-init-network-data"))
        warnings.push_back(
            "WARNING: --cloud-init: was set to none, not creating a data source although other "
            "cloud-init options were set");
      return {};
    }
    if (type != "nocloud" && type != "configdrive")
      return flag_error("cloud-init", "invalid cloud-init data source type \"" + o_.cloud_init +
                                          "\", supported values are: nocloud, configdrive, none");
    for (const char* f : {"cloud-init-user-data", "cloud-init-network-data"}) {
      const std::string& b64 = std::string_view(f) == "cloud-init-user-data"
                                   ? o_.cloud_init_user_data
                                   : o_.cloud_init_network_data;
      if (b64.empty())
        continue;
      auto decoded = core::base64_decode(b64);
      if (!decoded.ok())
        return flag_error(f, "not valid base64 (" + decoded.error().message +
                                 "); give the data base64-encoded, e.g. $(base64 -w0 FILE)");
    }
    Value source = object();
    if (!o_.cloud_init_network_data.empty())
      put(source, "networkDataBase64", o_.cloud_init_network_data, a_);
    std::string config;
    if (!o_.cloud_init_user_data.empty()) {
      put(source, "userDataBase64", o_.cloud_init_user_data, a_);
    } else {
      config = cloud_config(password);
      put(source, "userData", config, a_);
    }
    if (!o_.given("cloud-init") && o_.cloud_init_user_data.empty() &&
        config == kCloudConfigHeader && o_.cloud_init_network_data.empty())
      return {};  // nothing to say, and no data source asked for
    return add_volume("cloud-init", kCloudInitDisk, std::move(source),
                      type == "nocloud" ? "cloudInitNoCloud" : "cloudInitConfigDrive",
                      std::nullopt);
  }

  Value take_volumes() { return std::move(volumes_); }
  Value take_disks() { return std::move(disks_); }

 private:
  const CreateVmOptions& o_;
  Allocator& a_;
  Value volumes_{rapidjson::kArrayType};
  Value disks_{rapidjson::kArrayType};
  std::vector<std::string> volume_names_;
  std::set<uint32_t> boot_orders_;
};

// --instancetype / --preference: "[kind/]name" with the kind as upstream's lower-case resource
// names; no kind leaves it to the API's default (the cluster kind).
Result<Value> matcher(const std::string& flag, const std::string& text,
                      const std::vector<std::string>& kinds, Allocator& a) {
  auto split = split_prefixed(flag, "", text);
  if (!split.ok())
    return split.error();
  std::string kind = lower(split->first);
  if (!kind.empty() && std::find(kinds.begin(), kinds.end(), kind) == kinds.end())
    return flag_error(flag, "invalid " + flag + " kind \"" + kind +
                                "\", supported values are: " + kinds[0] + ", " + kinds[1]);
  Value m = object();
  put(m, "name", split->second, a);
  if (!kind.empty())
    put(m, "kind", kind, a);
  return m;
}

}  // namespace

Result<Manifest> build_vm(const CreateVmOptions& o, const CreateContext& ctx) {
  Manifest out;
  auto& doc = out.object;
  doc.SetObject();
  Allocator& a = doc.GetAllocator();

  const std::string name = o.name.empty() ? "vm-" + ctx.random_suffix : o.name;
  KV_CHECK(object_name(name, "VirtualMachine"));
  auto memory = quantity("memory", o.memory);
  if (!memory.ok())
    return memory.error();

  Value spec = object();
  std::string run_strategy = o.run_strategy;
  if (o.given("run-strategy")) {
    static const char* strategies[] = {"Always", "Manual", "Halted", "Once", "RerunOnFailure"};
    auto it = std::find_if(std::begin(strategies), std::end(strategies),
                           [&](const char* s) { return iequals(s, o.run_strategy); });
    if (it == std::end(strategies))
      return flag_error("run-strategy", "invalid run strategy \"" + o.run_strategy +
                                            "\", supported values are: Always, Manual, Halted, "
                                            "Once, RerunOnFailure");
    run_strategy = *it;
  }
  put(spec, "runStrategy", run_strategy, a);

  bool with_memory = true;
  if (o.given("instancetype")) {
    auto m = matcher("instancetype", o.instancetype,
                     {"virtualmachineinstancetype", "virtualmachineclusterinstancetype"}, a);
    if (!m.ok())
      return m.error();
    put(spec, "instancetype", std::move(*m), a);
    with_memory = false;  // the instancetype gives it
  }
  if (o.given("preference")) {
    auto m = matcher("preference", o.preference,
                     {"virtualmachinepreference", "virtualmachineclusterpreference"}, a);
    if (!m.ok())
      return m.error();
    put(spec, "preference", std::move(*m), a);
  }

  VmBuilder vm(o, a);
  if (o.given("volume-containerdisk"))
    KV_CHECK(vm.containerdisks(name));
  if (o.given("volume-pvc"))
    KV_CHECK(vm.pvcs());
  if (o.given("volume-sysprep"))
    KV_CHECK(vm.sysprep());
  KV_CHECK(vm.cloud_init(ctx.password, out.warnings));

  Value devices = object();
  Value disks = vm.take_disks();
  if (!disks.Empty())
    put(devices, "disks", std::move(disks), a);
  Value domain = object();
  put(domain, "devices", std::move(devices), a);
  if (with_memory) {
    Value mem = object();
    put(mem, "guest", *memory, a);
    put(domain, "memory", std::move(mem), a);
  }
  put(domain, "resources", object(), a);
  Value template_spec = object();
  put(template_spec, "domain", std::move(domain), a);
  put(template_spec, "terminationGracePeriodSeconds", Value(o.termination_grace_period), a);
  Value volumes = vm.take_volumes();
  if (!volumes.Empty())
    put(template_spec, "volumes", std::move(volumes), a);
  Value tmpl = object();
  put(tmpl, "metadata", object(), a);
  put(tmpl, "spec", std::move(template_spec), a);
  put(spec, "template", std::move(tmpl), a);

  put(doc, "apiVersion", "kubevirt.io/v1", a);
  put(doc, "kind", "VirtualMachine", a);
  put(doc, "metadata", metadata(name, ctx.ns, a), a);
  put(doc, "spec", std::move(spec), a);
  put(doc, "status", object(), a);
  return out;
}

namespace {

// The kind and name of a created instancetype or preference (`base`: "Instancetype" or
// "Preference"): -n makes it the namespaced kind, as upstream; with no --name, upstream's
// "<kind>-" prefix and the random suffix.
struct Identity {
  bool namespaced = false;
  std::string kind;
  std::string name;
};

Identity identity(bool namespaced_flag, const std::string* given_name, const std::string& base,
                  const CreateContext& ctx) {
  Identity id;
  id.namespaced = namespaced_flag || !ctx.ns.empty();
  id.kind = (id.namespaced ? "VirtualMachine" : "VirtualMachineCluster") + base;
  std::string prefix = base;
  std::transform(prefix.begin(), prefix.end(), prefix.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  id.name = given_name ? *given_name
                       : (id.namespaced ? "" : "cluster") + prefix + "-" + ctx.random_suffix;
  return id;
}

// apiVersion, kind and metadata of an instancetype.kubevirt.io object, then its spec.
void finish_instancetype_object(core::json::Document& doc, const Identity& id,
                                const CreateContext& ctx, Value spec) {
  Allocator& a = doc.GetAllocator();
  put(doc, "apiVersion", "instancetype.kubevirt.io/v1beta1", a);
  put(doc, "kind", id.kind, a);
  put(doc, "metadata", metadata(id.name, id.namespaced ? ctx.ns : "", a), a);
  put(doc, "spec", std::move(spec), a);
}

}  // namespace

Result<Manifest> build_instancetype(const CreateInstancetypeOptions& o, const CreateContext& ctx) {
  const Identity id =
      identity(o.namespaced, o.given("name") ? &o.name : nullptr, "Instancetype", ctx);
  KV_CHECK(object_name(id.name, id.kind));
  auto memory = quantity("memory", o.memory);
  if (!memory.ok())
    return memory.error();
  if (o.cpu <= 0)
    return flag_error("cpu", "cpu value must be greater than zero");

  Manifest out;
  auto& doc = out.object;
  doc.SetObject();
  Allocator& a = doc.GetAllocator();
  Value spec = object();
  Value cpu = object();
  put(cpu, "guest", Value(static_cast<uint64_t>(o.cpu)), a);
  put(spec, "cpu", std::move(cpu), a);
  Value mem = object();
  put(mem, "guest", *memory, a);
  put(spec, "memory", std::move(mem), a);
  if (o.given("iothreadspolicy")) {
    if (o.io_threads_policy != "auto" && o.io_threads_policy != "shared")
      return flag_error("iothreadspolicy", "IOThread must be of value auto or shared");
    put(spec, "ioThreadsPolicy", o.io_threads_policy, a);
  }
  finish_instancetype_object(doc, id, ctx, std::move(spec));
  return out;
}

Result<Manifest> build_preference(const CreatePreferenceOptions& o, const CreateContext& ctx) {
  const Identity id =
      identity(o.namespaced, o.given("name") ? &o.name : nullptr, "Preference", ctx);
  KV_CHECK(object_name(id.name, id.kind));

  Manifest out;
  auto& doc = out.object;
  doc.SetObject();
  Allocator& a = doc.GetAllocator();
  Value spec = object();
  if (o.given("cpu-topology")) {
    static const char* topologies[] = {
        "sockets",       "cores",       "threads",       "spread",       "any",
        "preferSockets", "preferCores", "preferThreads", "preferSpread", "preferAny"};
    if (std::find(std::begin(topologies), std::end(topologies), o.cpu_topology) ==
        std::end(topologies))
      return flag_error("cpu-topology",
                        "CPU topology must have a value of sockets, cores, "
                        "threads or spread");
    Value cpu = object();
    put(cpu, "preferredCPUTopology", o.cpu_topology, a);
    put(spec, "cpu", std::move(cpu), a);
  }
  if (o.given("machine-type")) {
    Value machine = object();
    if (!o.machine_type.empty())
      put(machine, "preferredMachineType", o.machine_type, a);
    put(spec, "machine", std::move(machine), a);
  }
  finish_instancetype_object(doc, id, ctx, std::move(spec));
  return out;
}

namespace {

Value sorted(const Value& v, Allocator& a) {
  if (v.IsArray()) {
    Value out(rapidjson::kArrayType);
    for (const auto& item : v.GetArray())
      out.PushBack(sorted(item, a), a);
    return out;
  }
  if (!v.IsObject())
    return Value(v, a);
  std::vector<const Value::Member*> members;
  for (const auto& m : v.GetObject())
    members.push_back(&m);
  std::sort(members.begin(), members.end(), [](const auto* x, const auto* y) {
    return std::string_view(x->name.GetString(), x->name.GetStringLength()) <
           std::string_view(y->name.GetString(), y->name.GetStringLength());
  });
  Value out(rapidjson::kObjectType);
  for (const auto* m : members)
    out.AddMember(Value(m->name, a), sorted(m->value, a), a);
  return out;
}

}  // namespace

std::string manifest_yaml(const Value& object) {
  core::json::Document scratch;
  const std::string yaml = core::yaml::to_yaml(sorted(object, scratch.GetAllocator()));
  // yaml-cpp puts an empty map on a line of its own ("status:\n  {}"); Go's YAML writes
  // "status: {}", which is also what users expect to read.
  std::string out;
  std::stringstream in(yaml);
  std::string line;
  while (std::getline(in, line)) {
    const auto first = line.find_first_not_of(' ');
    if (first != std::string::npos && line.compare(first, std::string::npos, "{}") == 0 &&
        out.size() >= 2 && out[out.size() - 2] == ':') {
      out.back() = ' ';
      out += "{}\n";
      continue;
    }
    out += line + "\n";
  }
  return out;
}

std::string random_name_suffix() {
  static const std::string alphabet = "bcdfghjklmnpqrstvwxz2456789";
  std::random_device rd;
  std::uniform_int_distribution<size_t> pick(0, alphabet.size() - 1);
  std::string s;
  for (int i = 0; i < 5; ++i)
    s += alphabet[pick(rd)];
  return s;
}

int run_create(const CreateOptions& opts, const std::string& ns, std::ostream& out,
               std::ostream& err) {
  CreateContext ctx;
  ctx.ns = ns;
  ctx.random_suffix = random_name_suffix();
  Result<Manifest> m = Error(Errc::internal, "no manifest");
  switch (opts.kind) {
    case CreateKind::vm: {
      // Read only where upstream reads it: when generating cloud-init user data.
      const auto& vm = opts.vm;
      if (vm.given("password-file") && lower(vm.cloud_init) != "none") {
        std::ifstream in(vm.password_file, std::ios::binary);
        if (!in) {
          const int e = errno;
          err << "error: "
              << flag_error("password-file", "open " + vm.password_file + ": " + std::strerror(e))
                     .message
              << "\n";
          return 1;
        }
        std::stringstream ss;
        ss << in.rdbuf();
        ctx.password = ss.str();
      }
      m = build_vm(vm, ctx);
      break;
    }
    case CreateKind::instancetype:
      m = build_instancetype(opts.instancetype, ctx);
      break;
    case CreateKind::preference:
      m = build_preference(opts.preference, ctx);
      break;
  }
  if (!m.ok()) {
    err << "error: " << m.error().message << "\n";
    return 1;
  }
  for (const auto& w : m->warnings)
    err << w << "\n";
  out << manifest_yaml(m->object);
  return 0;
}

}  // namespace kv::virtctl
