// virtctl create vm|instancetype|preference: upstream's flags and defaults, the objects it prints
// (checked field by field against upstream's pkg/virtctl/create), errors that name the flag, and
// the VMs passing our own admission.
#include "tools/virtctl/create.hpp"

#include <catch2/catch.hpp>
#include <cstdio>
#include <sstream>

#include "api/v1/validation.hpp"
#include "core/json.hpp"
#include "core/yaml.hpp"
#include "test/support/kube_test_util.hpp"
#include "tools/virtctl/args.hpp"
#include "tools/virtctl/virtctl.hpp"

using namespace kv::virtctl;
using kv::core::Errc;
namespace json = kv::core::json;

namespace {

Invocation parsed(std::vector<std::string> args) {
  auto r = parse_args(args);
  INFO((r.ok() ? "" : r.error().message));
  REQUIRE(r.ok());
  REQUIRE(r->command == Command::create);
  return *r;
}

// Parses `virtctl ARGS` and builds its manifest with the random suffix "abcde".
kv::core::Result<Manifest> build(std::vector<std::string> args, std::string password = "") {
  auto inv = parsed(std::move(args));
  CreateContext ctx{.ns = inv.global.ns, .random_suffix = "abcde", .password = password};
  switch (inv.create.kind) {
    case CreateKind::vm:
      return build_vm(inv.create.vm, ctx);
    case CreateKind::instancetype:
      return build_instancetype(inv.create.instancetype, ctx);
    case CreateKind::preference:
      return build_preference(inv.create.preference, ctx);
  }
  return kv::core::Error(Errc::internal, "unreachable");
}

std::string yaml(std::vector<std::string> args, std::string password = "") {
  auto m = build(std::move(args), std::move(password));
  INFO((m.ok() ? "" : m.error().message));
  REQUIRE(m.ok());
  return manifest_yaml(m->object);
}

json::Document object(std::vector<std::string> args) {
  auto m = build(std::move(args));
  INFO((m.ok() ? "" : m.error().message));
  REQUIRE(m.ok());
  return std::move(m->object);
}

json::Document expected(const std::string& y) {
  auto docs = kv::core::yaml::to_json(y);
  REQUIRE(docs.ok());
  REQUIRE(docs->size() == 1);
  return std::move((*docs)[0]);
}

void same(const json::Value& got, const std::string& want_yaml) {
  auto want = expected(want_yaml);
  INFO("got:\n" << manifest_yaml(got) << "want:\n" << want_yaml);
  CHECK(json::equal(got, want));
}

// The error of a command line that parses but does not build, or of one that does not parse.
std::string fails(std::vector<std::string> args) {
  auto inv = parse_args(args);
  if (!inv.ok())
    return inv.error().message;
  auto m = build(std::move(args));
  REQUIRE(!m.ok());
  CHECK(m.error().code == Errc::invalid);
  return m.error().message;
}

std::string refused(std::vector<std::string> args) {
  auto inv = parse_args(args);
  REQUIRE(!inv.ok());
  CHECK(inv.error().code == Errc::unsupported);
  return inv.error().message;
}

std::string b64(const std::string& s) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < s.size(); i += 3) {
    unsigned n = (unsigned char)s[i] << 16 | (unsigned char)s[i + 1] << 8 | (unsigned char)s[i + 2];
    out += {t[n >> 18], t[(n >> 12) & 63], t[(n >> 6) & 63], t[n & 63]};
  }
  if (i + 1 == s.size()) {
    unsigned n = (unsigned char)s[i] << 16;
    out += {t[n >> 18], t[(n >> 12) & 63], '=', '='};
  } else if (i + 2 == s.size()) {
    unsigned n = (unsigned char)s[i] << 16 | (unsigned char)s[i + 1] << 8;
    out += {t[n >> 18], t[(n >> 12) & 63], t[(n >> 6) & 63], '='};
  }
  return out;
}

}  // namespace

TEST_CASE(
    "virtctl create vm: no flags prints upstream's default VM, keys sorted, empty structs kept") {
  CHECK(yaml({"create", "vm"}) ==
        "apiVersion: kubevirt.io/v1\n"
        "kind: VirtualMachine\n"
        "metadata:\n"
        "  name: vm-abcde\n"
        "spec:\n"
        "  runStrategy: Always\n"
        "  template:\n"
        "    metadata: {}\n"
        "    spec:\n"
        "      domain:\n"
        "        devices: {}\n"
        "        memory:\n"
        "          guest: 512Mi\n"
        "        resources: {}\n"
        "      terminationGracePeriodSeconds: 180\n"
        "status: {}\n");
}

TEST_CASE("virtctl create vm: name, namespace, run strategy, grace period, memory") {
  same(object({"-n", "team-a", "create", "vm", "--name=my-vm", "--run-strategy", "rerunonfailure",
               "--termination-grace-period", "0", "--memory", "1024Mi"}),
       R"(
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata: {name: my-vm, namespace: team-a}
spec:
  runStrategy: RerunOnFailure
  template:
    metadata: {}
    spec:
      domain: {devices: {}, memory: {guest: 1Gi}, resources: {}}
      terminationGracePeriodSeconds: 0
status: {}
)");
  // Without -n there is no namespace: kubectl's namespace applies, as upstream.
  CHECK(json::find_path(object({"create", "vm"}), {"metadata", "namespace"}) == nullptr);
}

TEST_CASE("virtctl create vm: instancetype and preference matchers, with upstream's kinds") {
  same(object({"create", "vm", "--name=a", "--instancetype", "u1.nano", "--preference", "fedora"}),
       R"(
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata: {name: a}
spec:
  runStrategy: Always
  instancetype: {name: u1.nano}
  preference: {name: fedora}
  template:
    metadata: {}
    spec:
      domain: {devices: {}, resources: {}}
      terminationGracePeriodSeconds: 180
status: {}
)");
  auto ns = object({"create", "vm", "--instancetype=VirtualMachineInstancetype/small",
                    "--preference=virtualmachineclusterpreference/linux"});
  CHECK(*json::get_string(*json::find_path(ns, {"spec", "instancetype"}), "kind") ==
        "virtualmachineinstancetype");
  CHECK(*json::get_string(*json::find_path(ns, {"spec", "instancetype"}), "name") == "small");
  CHECK(*json::get_string(*json::find_path(ns, {"spec", "preference"}), "kind") ==
        "virtualmachineclusterpreference");
}

TEST_CASE("virtctl create vm: containerdisk and PVC volumes, boot order disks, upstream's names") {
  same(object({"create", "vm", "--name", "vm1", "--volume-containerdisk",
               "src:registry:5000/img:v1", "--volume-containerdisk",
               "src:img2,name:data,bootorder:2", "--volume-pvc", "src:claim1,bootorder:1",
               "--volume-pvc=name:other,src:claim2", "--volume-sysprep", "src:unattend"}),
       R"(
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata: {name: vm1}
spec:
  runStrategy: Always
  template:
    metadata: {}
    spec:
      domain:
        devices:
          disks:
            - {name: data, bootOrder: 2}
            - {name: claim1, bootOrder: 1}
        memory: {guest: 512Mi}
        resources: {}
      terminationGracePeriodSeconds: 180
      volumes:
        - {name: vm1-containerdisk-0, containerDisk: {image: "registry:5000/img:v1"}}
        - {name: data, containerDisk: {image: img2}}
        - {name: claim1, persistentVolumeClaim: {claimName: claim1}}
        - {name: other, persistentVolumeClaim: {claimName: claim2}}
        - {name: sysprepdisk, sysprep: {configMap: {name: unattend}}}
status: {}
)");
  auto secret = object({"create", "vm", "--volume-sysprep", "src:s1,type:Secret"});
  const auto& vol = (*json::find_path(secret, {"spec", "template", "spec", "volumes"}))[0];
  CHECK(*json::get_string(*json::find_path(vol, {"sysprep", "secret"}), "name") == "s1");
}

TEST_CASE("virtctl create vm: cloud-init from flags, as upstream generates it") {
  auto user_data = [](const json::Document& d) {
    const auto& vols = *json::find_path(d, {"spec", "template", "spec", "volumes"});
    REQUIRE(vols.Size() == 1);
    CHECK(*json::get_string(vols[0], "name") == "cloudinitdisk");
    return std::string(*json::get_string(*json::find(vols[0], "cloudInitNoCloud"), "userData"));
  };
  CHECK(user_data(object({"create", "vm", "--user", "fedora", "--ssh-key", "ssh-ed25519 AAA a@b",
                          "--ssh-key=ssh-rsa BBB,ssh-rsa CCC", "--ga-manage-ssh"})) ==
        "#cloud-config\nuser: fedora\nssh_authorized_keys:\n  - ssh-ed25519 AAA a@b\n"
        "  - ssh-rsa BBB\n  - ssh-rsa CCC\nruncmd:\n"
        "  - [ setsebool, -P, 'virt_qemu_ga_manage_ssh', 'on' ]");

  auto pw = build({"create", "vm", "--password-file", "/pw"}, "  s3cret\n");
  REQUIRE(pw.ok());
  CHECK(user_data(pw->object) == "#cloud-config\npassword: s3cret\nchpasswd: { expire: False }");
  REQUIRE(pw->warnings.size() == 1);
  CHECK(pw->warnings[0] ==
        "WARNING: --password-file: The password is stored in cleartext in the VM definition!");

  const std::string ud = b64("#!/bin/sh\necho hi\n"), nd = b64("version: 2\n");
  same(object({"create", "vm", "--name=c", "--cloud-init-user-data", ud,
               "--cloud-init-network-data", nd}),
       R"(
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata: {name: c}
spec:
  runStrategy: Always
  template:
    metadata: {}
    spec:
      domain: {devices: {}, memory: {guest: 512Mi}, resources: {}}
      terminationGracePeriodSeconds: 180
      volumes:
        - name: cloudinitdisk
          cloudInitNoCloud: {userDataBase64: )" +
           ud + ", networkDataBase64: " + nd + R"(}
status: {}
)");

  // Network data alone: the header as user data, as upstream.
  auto net = object({"create", "vm", "--cloud-init-network-data", nd});
  CHECK(user_data(net) == "#cloud-config");
  // configdrive.
  auto cd = object({"create", "vm", "--cloud-init=configdrive", "--user", "u"});
  const auto& v = (*json::find_path(cd, {"spec", "template", "spec", "volumes"}))[0];
  CHECK(*json::get_string(*json::find(v, "cloudInitConfigDrive"), "userData") ==
        "#cloud-config\nuser: u");
  // Nothing to say and no --cloud-init: no volume; --cloud-init given: the header alone.
  CHECK(json::find_path(object({"create", "vm", "--ga-manage-ssh=false"}),
                        {"spec", "template", "spec", "volumes"}) == nullptr);
  CHECK(user_data(object({"create", "vm", "--cloud-init", "nocloud"})) == "#cloud-config");
  // none: no data source, and a warning when other cloud-init flags were given.
  auto none = build({"create", "vm", "--cloud-init", "none", "--cloud-init-user-data", ud});
  REQUIRE(none.ok());
  CHECK(json::find_path(none->object, {"spec", "template", "spec", "volumes"}) == nullptr);
  REQUIRE(none->warnings.size() == 1);
  CHECK(none->warnings[0].find("WARNING: --cloud-init: was set to none") == 0);
}

TEST_CASE("virtctl create vm: bad values name the flag and what is allowed") {
  CHECK(fails({"create", "vm", "--run-strategy", "Sometimes"}) ==
        "failed to parse \"--run-strategy\" flag: invalid run strategy \"Sometimes\", supported "
        "values are: Always, Manual, Halted, Once, RerunOnFailure");
  CHECK(fails({"create", "vm", "--memory", "lots"}).find("failed to parse \"--memory\" flag: ") ==
        0);
  CHECK(fails({"create", "vm", "--memory", "0"}) ==
        "failed to parse \"--memory\" flag: \"0\" is not allowed: must be more than 0");
  CHECK(fails({"create", "vm", "--termination-grace-period", "-1"})
            .find("--termination-grace-period: \"-1\" is not allowed") == 0);
  CHECK(
      fails({"create", "vm", "--name", "My_VM"})
          .find("failed to parse \"--name\" flag: \"My_VM\" is not a valid VirtualMachine name") ==
      0);
  CHECK(fails({"create", "vm", "--instancetype", "virtualmachinepreference/x"}) ==
        "failed to parse \"--instancetype\" flag: invalid instancetype kind "
        "\"virtualmachinepreference\", supported values are: virtualmachineinstancetype, "
        "virtualmachineclusterinstancetype");
  CHECK(fails({"create", "vm", "--preference", "a/b/c"}) ==
        "failed to parse \"--preference\" flag: invalid count 2 of slashes in prefix/name");
  CHECK(fails({"create", "vm", "--instancetype", "x/"}) ==
        "failed to parse \"--instancetype\" flag: name cannot be empty");
  CHECK(fails({"create", "vm", "--memory=1Gi", "--instancetype=u1.nano"}) ==
        "if any flags in the group [memory instancetype infer-instancetype "
        "infer-instancetype-from] are set none of the others can be; [instancetype memory] were "
        "all set");
  CHECK(fails({"create", "vm", "--cloud-init-user-data", b64("x"), "--user", "u"}) ==
        "if any flags in the group [cloud-init-user-data user] are set none of the others can "
        "be; [cloud-init-user-data user] were all set");
  CHECK(fails({"create", "vm", "--volume-containerdisk", "img"}) ==
        "failed to parse \"--volume-containerdisk\" flag: params need to have at least one "
        "colon: img");
  CHECK(fails({"create", "vm", "--volume-containerdisk", ""}) ==
        "failed to parse \"--volume-containerdisk\" flag: params may not be empty");
  CHECK(fails({"create", "vm", "--volume-containerdisk", "name:x"}) ==
        "failed to parse \"--volume-containerdisk\" flag: src must be specified");
  CHECK(fails({"create", "vm", "--volume-containerdisk", "src:i,size:1Gi"}) ==
        "failed to parse \"--volume-containerdisk\" flag: unknown param(s): size:1Gi "
        "(supported: name, src, bootorder)");
  CHECK(fails({"create", "vm", "--volume-containerdisk", "src:i,bootorder:first"})
            .find("failed to parse param \"bootorder\": \"first\" is not allowed") !=
        std::string::npos);
  CHECK(fails({"create", "vm", "--volume-containerdisk", "src:i,bootorder:0"}) ==
        "failed to parse \"--volume-containerdisk\" flag: bootorder must be greater than 0");
  CHECK(fails({"create", "vm", "--volume-containerdisk", "src:i,bootorder:1",
               "--volume-pvc=src:p,bootorder:1"}) ==
        "failed to parse \"--volume-pvc\" flag: bootorder 1 was specified multiple times");
  CHECK(fails({"create", "vm", "--volume-containerdisk", "src:i,name:d",
               "--volume-pvc=src:p,name:d"}) ==
        "failed to parse \"--volume-pvc\" flag: there is already a volume with name \"d\"");
  CHECK(fails({"create", "vm", "--volume-containerdisk", "src:i,name:Root"})
            .find("failed to parse \"--volume-containerdisk\" flag: invalid name \"Root\": a "
                  "lowercase RFC 1123 label") == 0);
  CHECK(fails({"create", "vm", "--volume-pvc", "src:other-ns/p"}) ==
        "failed to parse \"--volume-pvc\" flag: not allowed to specify namespace of pvc \"p\"");
  CHECK(fails({"create", "vm", "--volume-sysprep", "src:x,type:file"}) ==
        "failed to parse \"--volume-sysprep\" flag: invalid sysprep source type \"file\", "
        "supported values are: configmap, secret");
  CHECK(fails({"create", "vm", "--cloud-init", "ignition", "--user", "u"}) ==
        "failed to parse \"--cloud-init\" flag: invalid cloud-init data source type "
        "\"ignition\", supported values are: nocloud, configdrive, none");
  CHECK(fails({"create", "vm", "--cloud-init-user-data", "#cloud-config"})
            .find("failed to parse \"--cloud-init-user-data\" flag: not valid base64") == 0);
  CHECK(fails({"create", "vm", "--volume-containerdisk", "src:i,name:cloudinitdisk", "--user",
               "u"}) == "there is already a volume with name \"cloudinitdisk\"");
  CHECK(fails({"create", "vm", "extra"}).find("vm: takes no arguments") == 0);
  CHECK(fails({"create", "vm", "--cpu", "2"}).find("unknown flag: --cpu for \"vm\"") == 0);
  CHECK(fails({"create", "vmi"}).find("unknown command \"vmi\" for \"virtctl create\"") == 0);
}

TEST_CASE("virtctl create: flags of fields this add-on does not serve are refused with why") {
  CHECK(refused({"create", "vm", "--volume-import", "type:ds,src:ns/ds"})
            .find("--volume-import: not supported here: DataVolumes "
                  "(spec.dataVolumeTemplates) need CDI") == 0);
  for (const char* f : {"--volume-datasource", "--volume-clone-pvc", "--volume-blank"})
    CHECK(refused({"create", "vm", f, "src:x"}).find(std::string(f) + ": not supported here") == 0);
  CHECK(refused({"create", "vm", "--infer-instancetype"})
            .find("--infer-instancetype: not supported here: inferFromVolume") == 0);
  CHECK(refused({"create", "vm", "--infer-preference-from", "root"})
            .find("--infer-preference-from: not supported here") == 0);
  CHECK(refused({"create", "vm", "--access-cred", "type:ssh,src:keys"})
            .find("--access-cred: not supported here: accessCredentials") == 0);
  CHECK(refused({"create", "instancetype", "--cpu=1", "--memory=1Gi", "--gpu",
                 "name:g,devicename:nvidia"})
            .find("--gpu: not supported here: spec.gpus") == 0);
  CHECK(refused({"create", "instancetype", "--hostdevice", "name:h,devicename:d"})
            .find("--hostdevice: not supported here") == 0);
  CHECK(refused({"create", "preference", "--volume-storage-class", "local"})
            .find("--volume-storage-class: not supported here") == 0);
  // Upstream's default (true) infers nothing from a containerdisk; =false is honoured as given.
  CHECK(yaml({"create", "vm", "--infer-instancetype=false", "--infer-preference=false"}) ==
        yaml({"create", "vm"}));
}

TEST_CASE("virtctl create instancetype: upstream's cluster and namespaced kinds") {
  CHECK(yaml({"create", "instancetype", "--cpu", "2", "--memory", "256Mi"}) ==
        "apiVersion: instancetype.kubevirt.io/v1beta1\n"
        "kind: VirtualMachineClusterInstancetype\n"
        "metadata:\n"
        "  name: clusterinstancetype-abcde\n"
        "spec:\n"
        "  cpu:\n"
        "    guest: 2\n"
        "  memory:\n"
        "    guest: 256Mi\n");
  same(object({"create", "instancetype", "--namespaced", "--name", "small", "--cpu=1",
               "--memory=1Gi", "--iothreadspolicy", "shared"}),
       R"(
apiVersion: instancetype.kubevirt.io/v1beta1
kind: VirtualMachineInstancetype
metadata: {name: small}
spec: {cpu: {guest: 1}, memory: {guest: 1Gi}, ioThreadsPolicy: shared}
)");
  // -n makes it namespaced, in that namespace.
  same(object({"create", "instancetype", "-n", "ns1", "--cpu=4", "--memory=2G"}), R"(
apiVersion: instancetype.kubevirt.io/v1beta1
kind: VirtualMachineInstancetype
metadata: {name: instancetype-abcde, namespace: ns1}
spec: {cpu: {guest: 4}, memory: {guest: 2G}}
)");
  CHECK(fails({"create", "instancetype", "--memory=1Gi"}) == "required flag(s) \"cpu\" not set");
  CHECK(fails({"create", "instancetype"}) == "required flag(s) \"cpu\", \"memory\" not set");
  CHECK(fails({"create", "instancetype", "--cpu=0", "--memory=1Gi"}) ==
        "failed to parse \"--cpu\" flag: cpu value must be greater than zero");
  CHECK(fails({"create", "instancetype", "--cpu=two", "--memory=1Gi"})
            .find("--cpu: \"two\" is not allowed: a number of vCPUs") == 0);
  CHECK(
      fails({"create", "instancetype", "--cpu=1", "--memory=1Gi", "--iothreadspolicy=dedicated"}) ==
      "failed to parse \"--iothreadspolicy\" flag: IOThread must be of value auto or shared");
}

TEST_CASE("virtctl create preference: upstream's kinds, cpu topology, machine type") {
  CHECK(yaml({"create", "preference"}) ==
        "apiVersion: instancetype.kubevirt.io/v1beta1\n"
        "kind: VirtualMachineClusterPreference\n"
        "metadata:\n"
        "  name: clusterpreference-abcde\n"
        "spec: {}\n");
  same(object({"create", "preference", "--namespaced", "--name=p1", "--cpu-topology", "cores",
               "--machine-type", "q35"}),
       R"(
apiVersion: instancetype.kubevirt.io/v1beta1
kind: VirtualMachinePreference
metadata: {name: p1}
spec: {cpu: {preferredCPUTopology: cores}, machine: {preferredMachineType: q35}}
)");
  CHECK(*json::get_string(*json::find(object({"create", "preference", "-n", "x"}), "metadata"),
                          "name") == "preference-abcde");
  CHECK(fails({"create", "preference", "--cpu-topology", "numa"}) ==
        "failed to parse \"--cpu-topology\" flag: CPU topology must have a value of sockets, "
        "cores, threads or spread");
}

// What admission's defaulting does on the server (upstream's SetDefaultVolumeDisk): a volume no
// disk names gets a disk of its name. The mutating webhook applies it before validation.
json::Document with_volume_disks(const json::Value& vm) {
  json::Document d;
  d.CopyFrom(vm, d.GetAllocator());
  auto& a = d.GetAllocator();
  auto* tspec = json::find(*json::find(*json::find(d, "spec"), "template"), "spec");
  auto& devices = json::ensure_object(json::ensure_object(*tspec, "domain", a), "devices", a);
  if (!json::find(devices, "disks"))
    json::set(devices, "disks", json::Value(rapidjson::kArrayType), a);
  auto& disks = *json::find(devices, "disks");
  if (auto* vols = json::find(*tspec, "volumes")) {
    for (const auto& v : vols->GetArray()) {
      auto name = *json::get_string(v, "name");
      bool has = false;
      for (const auto& disk : disks.GetArray())
        has = has || *json::get_string(disk, "name") == name;
      if (!has) {
        json::Value disk(rapidjson::kObjectType);
        json::set(disk, "name", name, a);
        disks.PushBack(disk, a);
      }
    }
  }
  return d;
}

TEST_CASE("virtctl create vm: what it prints passes our admission (decode, default, validate)") {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"create", "vm"},
           {"-n", "team-a", "create", "vm", "--name=x", "--run-strategy=Manual",
            "--termination-grace-period=5", "--memory=256Mi"},
           {"create", "vm", "--volume-containerdisk", "src:localhost/guest:1,name:root,bootorder:1",
            "--volume-pvc", "src:data"},
           {"create", "vm", "--volume-containerdisk", "src:img", "--cloud-init-user-data",
            b64("#!/bin/sh\necho hi\n")},
           {"create", "vm", "--volume-containerdisk", "src:img", "--user", "debian", "--ssh-key",
            "ssh-ed25519 AAAA", "--cloud-init-network-data", b64("version: 2\n")},
       }) {
    auto vm = object(args);
    auto admission = kv::api::v1::admit(with_volume_disks(vm));
    std::string errors;
    for (const auto& e : admission.errors)
      errors += e.to_string() + "\n";
    INFO(manifest_yaml(vm) << errors);
    CHECK(admission.errors.empty());
  }
}

TEST_CASE("virtctl create: help, and the whole command through run()") {
  auto help = parse_args({"create"});
  REQUIRE(help.ok());
  CHECK(help->command == Command::help);
  CHECK(help->help_topic == "create");
  CHECK(parse_args({"help", "create", "vm"})->help_topic == "create vm");
  CHECK(parse_args({"create", "instancetype", "--help"})->help_topic == "create instancetype");
  CHECK(usage("create").find("preference") != std::string::npos);
  CHECK(usage("create vm").find("--volume-containerdisk") != std::string::npos);
  CHECK(usage("").find("create vm|instancetype|preference") != std::string::npos);

  std::ostringstream out, err;
  CHECK(run({"--kubeconfig", "/nonexistent", "create", "vm", "--name", "v"}, out, err) == 0);
  CHECK(out.str().find("kind: VirtualMachine\nmetadata:\n  name: v\n") != std::string::npos);
  CHECK(err.str().empty());

  std::ostringstream out2, err2;
  CHECK(run({"create", "vm", "--run-strategy=x"}, out2, err2, "kubectl virt") == 1);
  CHECK(out2.str().empty());
  CHECK(err2.str().find("error: failed to parse \"--run-strategy\" flag") == 0);

  kv::test::TempDir dir;
  const std::string pw = dir.file("pw");
  kv::test::write_file(pw, "hunter2\n");
  std::ostringstream out3, err3;
  CHECK(run({"create", "vm", "--password-file", pw}, out3, err3) == 0);
  CHECK(out3.str().find("password: hunter2") != std::string::npos);
  CHECK(err3.str().find("WARNING: --password-file") == 0);
  std::ostringstream out4, err4;
  CHECK(run({"create", "vm", "--password-file", dir.file("missing")}, out4, err4) == 1);
  CHECK(err4.str().find("error: failed to parse \"--password-file\" flag: open ") == 0);
}

TEST_CASE("virtctl as the kubectl plugin: kubectl-virt says `kubectl virt`") {
  CHECK(program_name("/usr/local/bin/kubectl-virt") == "kubectl virt");
  CHECK(program_name("kubectl-virt") == "kubectl virt");
  CHECK(program_name("oc-virt") == "oc virt");
  CHECK(program_name("build/tools/virtctl/virtctl") == "virtctl");
  CHECK(program_name("42") == "virtctl");
  CHECK(usage("", "kubectl virt").find("Usage: kubectl virt COMMAND") != std::string::npos);
  CHECK(usage("create vm", "kubectl virt").find("Usage: kubectl virt create vm") !=
        std::string::npos);
  std::ostringstream out, err;
  CHECK(run({"frobnicate"}, out, err, "kubectl virt") == 1);
  CHECK(err.str().find("See 'kubectl virt help' for usage.") != std::string::npos);
}

TEST_CASE("the build's kubectl-virt is virtctl under the plugin's name") {
  // kubectl runs `kubectl-virt ARGS` for `kubectl virt ARGS`.
  FILE* p = popen((std::string(KV_KUBECTL_VIRT) + " create vm --name plugin-vm 2>&1").c_str(), "r");
  REQUIRE(p != nullptr);
  std::string text;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p))
    text.append(buf, n);
  CHECK(pclose(p) == 0);
  CHECK(text.find("  name: plugin-vm\n") != std::string::npos);

  p = popen((std::string(KV_KUBECTL_VIRT) + " help 2>&1").c_str(), "r");
  REQUIRE(p != nullptr);
  text.clear();
  while (size_t n = fread(buf, 1, sizeof buf, p))
    text.append(buf, n);
  CHECK(pclose(p) == 0);
  CHECK(text.find("Usage: kubectl virt COMMAND") != std::string::npos);
}
