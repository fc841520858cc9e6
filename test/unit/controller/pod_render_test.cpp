// The launcher pod, rendered for a set of example VMIs and compared with golden files
// (testdata/vmis/NAME.json -> testdata/pods/NAME.json). To accept a deliberate change:
//   KV_UPDATE_GOLDEN=1 <build>/test/unit/controller/controller_pod_render_test
#include "controller/pod_render.hpp"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "api/v1/codec.hpp"
#include "builders.hpp"
#include "core/json.hpp"

using namespace kv::controller;
using namespace kv::controller::testing;
namespace fs = std::filesystem;
namespace json = kv::core::json;

namespace {

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const json::Value* find_container(const json::Value& pod, std::string_view name,
                                  const char* list = "containers") {
  const json::Value* cs = json::find_path(pod, {"spec", list});
  if (!cs)
    return nullptr;
  for (const auto& c : cs->GetArray())
    if (json::get_string(c, "name") == name)
      return &c;
  return nullptr;
}

// What Pod Security Admission "restricted" (k8s.io/pod-security-admission v0.34, the policy
// checks of baseline and restricted that a launcher pod can meet or break) refuses in `pod`, one
// line each; empty when it would be admitted. test/e2e/cases/security.sh has kube-apiserver judge
// a real one.
std::vector<std::string> restricted_violations(const json::Value& pod) {
  std::vector<std::string> out;
  const json::Value* spec = json::find(pod, "spec");
  if (!spec)
    return {"no spec"};
  for (const char* host : {"hostNetwork", "hostPID", "hostIPC"})
    if (json::get_bool(*spec, host).value_or(false))
      out.push_back(std::string("spec.") + host);
  static const std::set<std::string> allowed_volumes = {
      "configMap", "csi",    "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
      "projected", "secret", "image"};
  if (const json::Value* vols = json::find(*spec, "volumes"))
    for (const auto& v : vols->GetArray())
      for (const auto& m : v.GetObject())
        if (std::string key = m.name.GetString(); key != "name" && !allowed_volumes.count(key))
          out.push_back("volume " + std::string(json::get_string(v, "name").value_or("")) + ": " +
                        key);
  const json::Value* psc = json::find(*spec, "securityContext");
  auto pod_bool = [&](std::string_view k) {
    return psc ? json::get_bool(*psc, k) : std::optional<bool>();
  };
  auto pod_uid = psc ? json::get_int(*psc, "runAsUser") : std::optional<int64_t>();
  auto seccomp_ok = [](const json::Value* sc) -> std::optional<bool> {
    const json::Value* p = sc ? json::find(*sc, "seccompProfile") : nullptr;
    if (!p)
      return std::nullopt;
    auto type = json::get_string(*p, "type").value_or("");
    return type == "RuntimeDefault" || type == "Localhost";
  };
  const auto pod_seccomp = seccomp_ok(psc);
  if (psc && json::find(*psc, "sysctls")) {
    static const std::set<std::string> safe = {"kernel.shm_rmid_forced",
                                               "net.ipv4.ip_local_port_range",
                                               "net.ipv4.ip_unprivileged_port_start",
                                               "net.ipv4.tcp_syncookies",
                                               "net.ipv4.ping_group_range",
                                               "net.ipv4.ip_local_reserved_ports",
                                               "net.ipv4.tcp_keepalive_time",
                                               "net.ipv4.tcp_fin_timeout",
                                               "net.ipv4.tcp_keepalive_intvl",
                                               "net.ipv4.tcp_keepalive_probes"};
    for (const auto& s : json::find(*psc, "sysctls")->GetArray())
      if (!safe.count(std::string(json::get_string(s, "name").value_or(""))))
        out.push_back("sysctl " + std::string(json::get_string(s, "name").value_or("")));
  }
  for (const char* list : {"initContainers", "containers"}) {
    const json::Value* cs = json::find(*spec, list);
    if (!cs)
      continue;
    for (const auto& c : cs->GetArray()) {
      const std::string name(json::get_string(c, "name").value_or("?"));
      const json::Value* sc = json::find(c, "securityContext");
      auto get = [&](std::string_view k) {
        return sc ? json::get_bool(*sc, k) : std::optional<bool>();
      };
      if (get("privileged").value_or(false))
        out.push_back(name + ": privileged");
      if (get("allowPrivilegeEscalation") != false)
        out.push_back(name + ": allowPrivilegeEscalation is not false");
      if (!get("runAsNonRoot").value_or(pod_bool("runAsNonRoot").value_or(false)))
        out.push_back(name + ": runAsNonRoot is not true");
      if ((sc ? json::get_int(*sc, "runAsUser") : std::nullopt).value_or(pod_uid.value_or(-1)) == 0)
        out.push_back(name + ": runAsUser 0");
      if (!seccomp_ok(sc).value_or(pod_seccomp.value_or(false)))
        out.push_back(name + ": seccompProfile is not RuntimeDefault or Localhost");
      const json::Value* drop = sc ? json::find_path(*sc, {"capabilities", "drop"}) : nullptr;
      bool drops_all = false;
      if (drop)
        for (const auto& d : drop->GetArray())
          drops_all = drops_all || std::string_view(d.GetString()) == "ALL";
      if (!drops_all)
        out.push_back(name + ": capabilities do not drop ALL");
      if (const json::Value* add = sc ? json::find_path(*sc, {"capabilities", "add"}) : nullptr)
        for (const auto& a : add->GetArray())
          if (std::string_view(a.GetString()) != "NET_BIND_SERVICE")
            out.push_back(name + ": adds capability " + a.GetString());
      if (const json::Value* ports = json::find(c, "ports"))
        for (const auto& p : ports->GetArray())
          if (json::get_int(p, "hostPort").value_or(0) != 0)
            out.push_back(name + ": hostPort");
    }
  }
  return out;
}

}  // namespace

TEST_CASE(
    "render_launcher_pod: every example VMI's pod is admitted under Pod Security restricted "
    "and mounts no service account token") {
  const fs::path dir = fs::path(KV_TESTDATA) / "vmis";
  int cases = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".json")
      continue;
    ++cases;
    auto input = json::parse(read_file(entry.path()));
    REQUIRE(input.ok());
    std::map<std::string, std::string> data;
    if (const json::Value* c = json::find(*input, "config"))
      for (const auto& m : c->GetObject())
        data[m.name.GetString()] = m.value.GetString();
    auto cfg = config_from_data(data);
    REQUIRE(cfg.ok());
    auto vmi = kv::api::v1::decode_vmi(*json::find(*input, "vmi"));
    REQUIRE(vmi.ok());
    auto pod = render_launcher_pod(*vmi, *cfg);
    REQUIRE(pod.ok());
    INFO(entry.path().stem().string() << ": " << json::to_pretty_string(*pod));
    CHECK(restricted_violations(*pod) == std::vector<std::string>{});
    CHECK(json::get_bool(*json::find(*pod, "spec"), "automountServiceAccountToken") == false);
  }
  CHECK(cases >= 3);
}

TEST_CASE("restricted_violations (the test's own checker) finds what restricted refuses") {
  auto pod = json::parse(R"({"spec":{"hostPID":true,
    "securityContext":{"sysctls":[{"name":"kernel.msgmax","value":"1"}]},
    "volumes":[{"name":"h","hostPath":{"path":"/"}}],
    "containers":[{"name":"c","securityContext":{"privileged":true,"runAsUser":0,
      "capabilities":{"add":["SYS_ADMIN"]}},"ports":[{"containerPort":80,"hostPort":80}]}]}})");
  REQUIRE(pod.ok());
  CHECK(restricted_violations(*pod) ==
        std::vector<std::string>{
            "spec.hostPID", "volume h: hostPath", "sysctl kernel.msgmax", "c: privileged",
            "c: allowPrivilegeEscalation is not false", "c: runAsNonRoot is not true",
            "c: runAsUser 0", "c: seccompProfile is not RuntimeDefault or Localhost",
            "c: capabilities do not drop ALL", "c: adds capability SYS_ADMIN", "c: hostPort"});
}

TEST_CASE("render_launcher_pod: golden pods for the example VMIs") {
  const fs::path dir = fs::path(KV_TESTDATA) / "vmis";
  const bool update = std::getenv("KV_UPDATE_GOLDEN") != nullptr;
  int cases = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".json")
      continue;
    ++cases;
    const std::string name = entry.path().stem().string();
    SECTION(name) {
      auto input = json::parse(read_file(entry.path()));
      REQUIRE(input.ok());
      std::map<std::string, std::string> data;
      if (const json::Value* c = json::find(*input, "config"))
        for (const auto& m : c->GetObject())
          data[m.name.GetString()] = m.value.GetString();
      auto cfg = config_from_data(data);
      REQUIRE(cfg.ok());
      auto vmi = kv::api::v1::decode_vmi(*json::find(*input, "vmi"));
      if (!vmi.ok())
        FAIL(vmi.error().to_string());
      auto pod = render_launcher_pod(*vmi, *cfg);
      if (!pod.ok())
        FAIL(pod.error().to_string());
      const fs::path golden = fs::path(KV_TESTDATA) / "pods" / (name + ".json");
      const std::string got = json::to_pretty_string(*pod) + "\n";
      if (update) {
        std::ofstream(golden) << got;
        WARN("updated " << golden.string());
      }
      auto want = json::parse(read_file(golden));
      REQUIRE(want.ok());
      INFO("golden " << golden.string() << "; got:\n" << got);
      CHECK(json::equal(*pod, *want));
    }
  }
  CHECK(cases >= 3);
}

TEST_CASE("render_launcher_pod: the launcher contract") {
  Config cfg;
  auto vmi = make_vmi(VmiPhase::pending, "uid-123");
  vmi.metadata.labels = {{"app", "web"}, {"kubevirt.io", "spoofed"}};
  auto pod = render_launcher_pod(vmi, cfg);
  REQUIRE(pod.ok());
  const auto& p = *pod;
  // Services select VMs by the VMI's labels; ours win over the user's.
  CHECK(json::find_path(p, {"metadata", "labels", "app"})->GetString() == std::string("web"));
  CHECK(json::find_path(p, {"metadata", "labels", "kubevirt.io"})->GetString() ==
        std::string("virt-launcher"));
  CHECK(json::find_path(p, {"metadata", "labels", "kubevirt.io/created-by"})->GetString() ==
        std::string("uid-123"));
  const json::Value* owner = json::find_path(p, {"metadata", "ownerReferences"});
  REQUIRE(owner);
  CHECK(json::get_string((*owner)[0], "uid") == "uid-123");
  CHECK(json::get_bool((*owner)[0], "controller") == true);
  CHECK(json::get_string(*json::find(p, "spec"), "restartPolicy") == "Never");
  CHECK(json::get_bool(*json::find(p, "spec"), "automountServiceAccountToken") == false);
  // Grace: the VMI's 30 s plus the 15 s margin.
  CHECK(json::get_int(*json::find(p, "spec"), "terminationGracePeriodSeconds") == 45);
  const json::Value* compute = find_container(p, "compute");
  REQUIRE(compute);
  const auto& sc = *json::find(*compute, "securityContext");
  CHECK(json::get_bool(sc, "allowPrivilegeEscalation") == false);
  CHECK(json::get_int(sc, "runAsUser") == 107);
  CHECK(json::to_string(*json::find_path(sc, {"capabilities", "drop"})) == R"(["ALL"])");
  // Without emulation /dev/kvm is required; with it, not.
  CHECK(json::find_path(*compute, {"resources", "requests", "devices.kubevirt.io/kvm"}));
  std::string cmd = json::to_string(*json::find(*compute, "command"));
  CHECK(cmd.find("--allow-emulation") == std::string::npos);
  CHECK(cmd.find(R"("--socket-dir","/var/run/kubevirt-cpp/sockets")") != std::string::npos);
  CHECK(cmd.find(R"("--grace-period","30")") != std::string::npos);

  cfg.use_emulation = true;
  auto tcg = render_launcher_pod(vmi, cfg);
  REQUIRE(tcg.ok());
  compute = find_container(*tcg, "compute");
  CHECK_FALSE(json::find_path(*compute, {"resources", "requests", "devices.kubevirt.io/kvm"}));
  CHECK(json::to_string(*json::find(*compute, "command")).find("--allow-emulation") !=
        std::string::npos);
}

TEST_CASE("memory overhead: the documented formula") {
  Config cfg;  // base 96Mi, 8Mi/vCPU, emulation 64Mi, graphics 16Mi
  auto spec = small_spec();
  constexpr int64_t Mi = 1 << 20;
  // 96 + 8 + ceil(128Mi/512 = 0.25Mi -> whole MiB) + graphics 16 (attached by default)
  CHECK(memory_overhead_bytes(spec, 128 * Mi, cfg) == (96 + 8 + 1 + 16) * Mi);
  cfg.use_emulation = true;
  CHECK(memory_overhead_bytes(spec, 128 * Mi, cfg) == (96 + 8 + 1 + 16 + 64) * Mi);
  spec.domain.devices.autoattach_graphics_device = false;
  spec.domain.cpu = Cpu{4, 1, 1, std::nullopt};
  // 4 GiB guest: 8 MiB of page tables.
  CHECK(memory_overhead_bytes(spec, 4096 * Mi, cfg) == (96 + 32 + 8 + 64) * Mi);
}

TEST_CASE("render_launcher_pod: a VMI that cannot run is refused naming the field") {
  Config cfg;
  auto vmi = make_vmi(VmiPhase::pending);
  vmi.spec.domain.memory.reset();
  auto r = render_launcher_pod(vmi, cfg);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.find("spec.domain.memory.guest") != std::string::npos);

  auto bad = make_vmi(VmiPhase::pending);
  Volume v;
  v.name = "root";
  v.container_disk = ContainerDiskSource{"img", {}, std::string("relative/path"), {}};
  bad.spec.volumes.push_back(v);
  auto r2 = render_launcher_pod(bad, cfg);
  REQUIRE_FALSE(r2.ok());
  CHECK(r2.error().message.find("spec.volumes[0].containerDisk.path") != std::string::npos);
}

TEST_CASE("launcher_pod_name: deterministic per VMI UID") {
  auto a = make_vmi(VmiPhase::pending, "uid-a");
  auto b = make_vmi(VmiPhase::pending, "uid-b");
  CHECK(launcher_pod_name(a) == launcher_pod_name(a));
  CHECK(launcher_pod_name(a) != launcher_pod_name(b));
  CHECK(launcher_pod_name(a).rfind("virt-launcher-vm1-", 0) == 0);
  CHECK(launcher_pod_name(a).size() == std::string("virt-launcher-vm1-").size() + 5);
}

namespace {

const json::Value& pod_spec_of(const json::Document& pod) {
  return *json::find(pod, "spec");
}

// The pod volume mounted in the compute container at `path`, or null.
const json::Value* volume_at(const json::Document& pod, const std::string& path) {
  const json::Value* compute = find_container(pod, "compute");
  for (const auto& m : json::find(*compute, "volumeMounts")->GetArray()) {
    if (json::get_string(m, "mountPath") != path)
      continue;
    for (const auto& v : json::find(pod_spec_of(pod), "volumes")->GetArray())
      if (json::get_string(v, "name") == json::get_string(m, "name"))
        return &v;
  }
  return nullptr;
}

std::string resource(const json::Document& pod, const char* kind, const char* name) {
  const json::Value* compute = find_container(pod, "compute");
  const json::Value* v = json::find_path(*compute, {"resources", kind, name});
  return v ? v->GetString() : "";
}

}  // namespace

TEST_CASE(
    "render_launcher_pod: config volumes are pod volumes of their kind, mounted read-only "
    "where the launcher makes their ISO") {
  Config cfg;
  auto vmi = make_vmi(VmiPhase::pending);
  auto add = [&](Volume v) { vmi.spec.volumes.push_back(std::move(v)); };
  Volume cm;
  cm.name = "cm";
  cm.config_map = ConfigMapVolumeSource{"app-config", true, std::nullopt};
  add(cm);
  Volume sa;
  sa.name = "sa";
  sa.service_account = ServiceAccountVolumeSource{"reader"};
  add(sa);
  Volume da;
  da.name = "info";
  DownwardApiVolumeFile f;
  f.path = "mem";
  f.resource_field_ref = ResourceFieldSelector{std::nullopt, "limits.memory", std::nullopt};
  da.downward_api = DownwardApiVolumeSource{{f}, std::nullopt};
  add(da);
  Volume sp;
  sp.name = "answers";
  sp.sysprep = SysprepSource{LocalObjectReference{"unattend"}, std::nullopt};
  add(sp);
  Volume ci;
  ci.name = "ci";
  ci.cloud_init_config_drive = CloudInitConfigDriveSource{};
  ci.cloud_init_config_drive->user_data_secret_ref = LocalObjectReference{"ci-user"};
  add(ci);
  auto pod = render_launcher_pod(vmi, cfg);
  REQUIRE(pod.ok());

  // A missing optional ConfigMap is the kubelet's business: it mounts an empty directory.
  const json::Value* v = volume_at(*pod, "/var/run/kubevirt-cpp/config-maps/cm");
  REQUIRE(v);
  CHECK(json::to_string(*json::find(*v, "configMap")) ==
        R"({"name":"app-config","optional":true})");
  // The service account: the pod runs as it, its token is projected where the launcher looks,
  // and nothing lands at the well-known path.
  CHECK(json::get_string(pod_spec_of(*pod), "serviceAccountName") == "reader");
  CHECK(json::get_bool(pod_spec_of(*pod), "automountServiceAccountToken") == false);
  v = volume_at(*pod, "/var/run/kubevirt-cpp/service-account");
  REQUIRE(v);
  std::string projected = json::to_string(*json::find(*v, "projected"));
  CHECK(projected.find(R"("serviceAccountToken":{"path":"token")") != std::string::npos);
  CHECK(projected.find(R"("key":"ca.crt")") != std::string::npos);
  CHECK(projected.find(R"("fieldPath":"metadata.namespace")") != std::string::npos);
  // downwardAPI: a resource of the VM's container unless another is named.
  v = volume_at(*pod, "/var/run/kubevirt-cpp/downward-api/info");
  REQUIRE(v);
  CHECK(
      json::to_string(*json::find(*v, "downwardAPI")) ==
      R"({"items":[{"path":"mem","resourceFieldRef":{"containerName":"compute","resource":"limits.memory"}}]})");
  v = volume_at(*pod, "/var/run/kubevirt-cpp/sysprep/answers");
  REQUIRE(v);
  CHECK(json::get_string(*json::find(*v, "secret"), "secretName") == "unattend");
  v = volume_at(*pod, "/var/run/kubevirt-cpp/secrets/ci-userdata");
  REQUIRE(v);
  CHECK(json::get_string(*json::find(*v, "secret"), "secretName") == "ci-user");
  // The launcher is told where each kind is.
  std::string cmd = json::to_string(*json::find(*find_container(*pod, "compute"), "command"));
  for (const char* flag : {R"("--config-map-dir","/var/run/kubevirt-cpp/config-maps")",
                           R"("--secret-dir","/var/run/kubevirt-cpp/secrets")",
                           R"("--service-account-dir","/var/run/kubevirt-cpp/service-account")",
                           R"("--downward-api-dir","/var/run/kubevirt-cpp/downward-api")",
                           R"("--sysprep-dir","/var/run/kubevirt-cpp/sysprep")"}) {
    INFO(flag);
    CHECK(cmd.find(flag) != std::string::npos);
  }
}

TEST_CASE("render_launcher_pod: a long volume name still makes DNS-label pod volume names") {
  Config cfg;
  auto vmi = make_vmi(VmiPhase::pending);
  Volume cm;
  cm.name = std::string(60, 'c');
  cm.config_map = ConfigMapVolumeSource{"x", std::nullopt, std::nullopt};
  vmi.spec.volumes.push_back(cm);
  auto pod = render_launcher_pod(vmi, cfg);
  REQUIRE(pod.ok());
  for (const auto& v : json::find(pod_spec_of(*pod), "volumes")->GetArray())
    CHECK(json::get_string(v, "name")->size() <= 63);
  CHECK(volume_at(*pod, "/var/run/kubevirt-cpp/config-maps/" + cm.name));
}

TEST_CASE(
    "render_launcher_pod: image pull secrets of containerDisks and kernel boot reach the "
    "pod, each once") {
  Config cfg;
  auto vmi = make_vmi(VmiPhase::pending);
  for (const char* name : {"a", "b", "c"}) {
    Volume v;
    v.name = name;
    // a and c share one Secret.
    v.container_disk =
        ContainerDiskSource{"img", std::string(name[0] == 'b' ? "two" : "one"), {}, {}};
    vmi.spec.volumes.push_back(v);
  }
  vmi.spec.domain.firmware = Firmware{};
  vmi.spec.domain.firmware->kernel_boot = KernelBoot{};
  vmi.spec.domain.firmware->kernel_boot->container = KernelBootContainer{
      "kernel-img", std::string("kernel-creds"), {}, std::string("/vmlinuz"), {}};
  auto pod = render_launcher_pod(vmi, cfg);
  REQUIRE(pod.ok());
  CHECK(json::to_string(*json::find(pod_spec_of(*pod), "imagePullSecrets")) ==
        R"([{"name":"one"},{"name":"two"},{"name":"kernel-creds"}])");

  auto plain = render_launcher_pod(make_vmi(VmiPhase::pending), cfg);
  REQUIRE(plain.ok());
  CHECK_FALSE(json::find(pod_spec_of(*plain), "imagePullSecrets"));
}

TEST_CASE("render_launcher_pod: resources other than CPU and memory reach the compute container") {
  Config cfg;
  cfg.use_emulation = true;
  auto vmi = make_vmi(VmiPhase::pending);
  ResourceRequirements rr;
  rr.requests["ephemeral-storage"] = *parse_quantity("1Gi");
  rr.limits["ephemeral-storage"] = *parse_quantity("2Gi");
  rr.requests["example.com/gpu"] = *parse_quantity("1");  // extended: the limit follows
  rr.limits["devices.kubevirt.io/tun"] = *parse_quantity("1");
  vmi.spec.domain.resources = rr;
  auto pod = render_launcher_pod(vmi, cfg);
  REQUIRE(pod.ok());
  CHECK(resource(*pod, "requests", "ephemeral-storage") == "1Gi");
  CHECK(resource(*pod, "limits", "ephemeral-storage") == "2Gi");
  CHECK(resource(*pod, "requests", "example.com/gpu") == "1");
  CHECK(resource(*pod, "limits", "example.com/gpu") == "1");
  CHECK(resource(*pod, "requests", "devices.kubevirt.io/tun") == "1");
  CHECK(resource(*pod, "limits", "devices.kubevirt.io/tun") == "1");
}

TEST_CASE(
    "render_launcher_pod: overcommitGuestOverhead leaves the overhead out of the memory "
    "request, not the limit") {
  Config cfg;
  cfg.use_emulation = true;
  auto vmi = make_vmi(VmiPhase::pending);  // 128Mi guest
  vmi.spec.domain.resources = ResourceRequirements{};
  vmi.spec.domain.resources->requests["memory"] = *parse_quantity("128Mi");
  vmi.spec.domain.resources->limits["memory"] = *parse_quantity("256Mi");
  const int64_t overhead = memory_overhead_bytes(vmi.spec, 128 << 20, cfg) >> 20;
  auto with = render_launcher_pod(vmi, cfg);
  REQUIRE(with.ok());
  CHECK(resource(*with, "requests", "memory") == std::to_string(128 + overhead) + "Mi");
  vmi.spec.domain.resources->overcommit_guest_overhead = true;
  auto without = render_launcher_pod(vmi, cfg);
  REQUIRE(without.ok());
  CHECK(resource(*without, "requests", "memory") == "128Mi");
  CHECK(resource(*without, "limits", "memory") == std::to_string(256 + overhead) + "Mi");

  // A request below the guest memory (overcommitted guest) is what the pod requests.
  vmi.spec.domain.resources->overcommit_guest_overhead.reset();
  vmi.spec.domain.memory = Memory{*parse_quantity("256Mi")};
  auto over = render_launcher_pod(vmi, cfg);
  REQUIRE(over.ok());
  CHECK(resource(*over, "requests", "memory") ==
        std::to_string(128 + memory_overhead_bytes(vmi.spec, 256 << 20, cfg) / (1 << 20)) + "Mi");
}

TEST_CASE(
    "render_launcher_pod: the VMI's probes become the compute container's, against the pod IP, "
    "with upstream's defaults and startup delay") {
  auto vmi = make_vmi(VmiPhase::pending);
  Interface iface;
  iface.name = "default";
  iface.masquerade.emplace();
  iface.ports.push_back(Port{"web", std::nullopt, 8080});
  vmi.spec.domain.devices.interfaces.push_back(iface);
  vmi.spec.networks.push_back(Network{"default", PodNetwork{}});

  SECTION("no probe: none on the container") {
    auto pod = render_launcher_pod(vmi, Config{});
    REQUIRE(pod.ok());
    const json::Value* compute = find_container(*pod, "compute");
    REQUIRE(compute);
    CHECK_FALSE(json::find(*compute, "readinessProbe"));
    CHECK_FALSE(json::find(*compute, "livenessProbe"));
  }
  SECTION("tcpSocket readiness with defaults; httpGet liveness by port name, every field set") {
    Probe ready;
    ready.tcp_socket = TcpSocketAction{IntOrString{1500, {}}, std::nullopt};
    vmi.spec.readiness_probe = ready;
    Probe live;
    live.http_get = HttpGetAction{"/healthz",
                                  IntOrString{std::nullopt, "web"},
                                  "10.0.0.1",
                                  "HTTP",
                                  {HttpHeader{"X-Probe", "1"}}};
    live.initial_delay_seconds = 60;
    live.timeout_seconds = 2;
    live.period_seconds = 5;
    live.success_threshold = 1;
    live.failure_threshold = 4;
    vmi.spec.liveness_probe = live;
    auto pod = render_launcher_pod(vmi, Config{});
    REQUIRE(pod.ok());
    const json::Value* compute = find_container(*pod, "compute");
    REQUIRE(compute);
    auto want_ready = json::parse(R"({"exec": {"command": ["/usr/bin/virt-probe", "--tcp", "1500",
      "--timeout-seconds", "1"]}, "initialDelaySeconds": 10,
      "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3})");
    auto want_live = json::parse(R"({"httpGet": {"path": "/healthz", "port": 8080,
      "host": "10.0.0.1", "scheme": "HTTP", "httpHeaders": [{"name": "X-Probe", "value": "1"}]},
      "initialDelaySeconds": 70, "timeoutSeconds": 2, "periodSeconds": 5, "successThreshold": 1,
      "failureThreshold": 4})");
    REQUIRE(json::find(*compute, "readinessProbe"));
    REQUIRE(json::find(*compute, "livenessProbe"));
    INFO(json::to_string(*compute));
    CHECK(json::equal(*json::find(*compute, "readinessProbe"), *want_ready));
    CHECK(json::equal(*json::find(*compute, "livenessProbe"), *want_live));
  }
}

namespace {

const json::Value* pod_volume(const json::Document& pod, std::string_view name) {
  for (const auto& v : json::find(pod_spec_of(pod), "volumes")->GetArray())
    if (json::get_string(v, "name") == name)
      return &v;
  return nullptr;
}

// The compute container's mount at `path`, or null.
const json::Value* compute_mount(const json::Document& pod, const std::string& path) {
  for (const auto& m : json::find(*find_container(pod, "compute"), "volumeMounts")->GetArray())
    if (json::get_string(m, "mountPath") == path)
      return &m;
  return nullptr;
}

VirtualMachineInstance container_disk_vmi(const std::string& image) {
  auto vmi = make_vmi(VmiPhase::pending);
  Volume v;
  v.name = "root";
  v.container_disk = ContainerDiskSource{image, {}, std::string("/images/root.qcow2"), {}};
  vmi.spec.volumes.push_back(v);
  return vmi;
}

}  // namespace

TEST_CASE(
    "render_launcher_pod: with image volumes the containerDisk is mounted from its image, "
    "read-only, where the copy would be, and nothing is copied") {
  Config cfg;
  cfg.image_volumes = true;
  auto vmi = container_disk_vmi("localhost/kubevirt-cpp/test-guest:1");
  vmi.spec.volumes[0].container_disk->image_pull_policy = kv::api::v1::PullPolicy::always;
  auto pod = render_launcher_pod(vmi, cfg);
  REQUIRE(pod.ok());
  const json::Value* vol = pod_volume(*pod, "volume-root");
  REQUIRE(vol);
  CHECK(json::to_string(*json::find(*vol, "image")) ==
        R"({"reference":"localhost/kubevirt-cpp/test-guest:1","pullPolicy":"Always"})");
  const json::Value* mount = compute_mount(*pod, "/var/run/kubevirt-cpp/container-disks/root");
  REQUIRE(mount);
  CHECK(json::get_string(*mount, "name") == "volume-root");
  CHECK(json::get_bool(*mount, "readOnly") == true);
  // No copy: no init containers, no helper, no container-disks emptyDir.
  CHECK_FALSE(json::find(pod_spec_of(*pod), "initContainers"));
  CHECK_FALSE(pod_volume(*pod, "helper"));
  CHECK_FALSE(pod_volume(*pod, "container-disks"));

  // Without: the copy init containers into the emptyDir, as before.
  cfg.image_volumes = false;
  auto copy = render_launcher_pod(vmi, cfg);
  REQUIRE(copy.ok());
  CHECK(find_container(*copy, "helper", "initContainers"));
  const json::Value* copier = find_container(*copy, "volume-root", "initContainers");
  REQUIRE(copier);
  // An absent containerDisk.path is not the copy's failure: the launcher reports it as a VMI
  // condition on both routes, so the pod does not fail and the VM does not restart.
  CHECK(json::to_string(*json::find(*copier, "command")).find(R"([ -e \"$f\" ] || continue)") !=
        std::string::npos);
  CHECK(json::find(*pod_volume(*copy, "container-disks"), "emptyDir"));
  CHECK_FALSE(pod_volume(*copy, "volume-root"));
}

TEST_CASE("render_launcher_pod: with image volumes the kernel-boot image is mounted, not copied") {
  Config cfg;
  cfg.image_volumes = true;
  auto vmi = make_vmi(VmiPhase::pending);
  vmi.spec.domain.firmware = Firmware{};
  vmi.spec.domain.firmware->kernel_boot = KernelBoot{};
  vmi.spec.domain.firmware->kernel_boot->container = KernelBootContainer{
      "kernel-img:1", std::string("kernel-creds"), {}, std::string("/vmlinuz"), {}};
  auto pod = render_launcher_pod(vmi, cfg);
  REQUIRE(pod.ok());
  const json::Value* vol = pod_volume(*pod, "kernel-boot");
  REQUIRE(vol);
  CHECK(json::to_string(*json::find(*vol, "image")) ==
        R"({"reference":"kernel-img:1","pullPolicy":"IfNotPresent"})");
  const json::Value* mount = compute_mount(*pod, "/var/run/kubevirt-cpp/kernel-boot");
  REQUIRE(mount);
  CHECK(json::get_string(*mount, "name") == "kernel-boot");
  CHECK(json::get_bool(*mount, "readOnly") == true);
  CHECK_FALSE(json::find(pod_spec_of(*pod), "initContainers"));
  // The pull secret applies to the image volume as to the copy container.
  CHECK(json::to_string(*json::find(pod_spec_of(*pod), "imagePullSecrets")) ==
        R"([{"name":"kernel-creds"}])");
}

TEST_CASE(
    "render_launcher_pod: a containerDisk or kernel-boot image that is not a reference is "
    "refused naming the field and the reason, on both routes") {
  for (bool image_volumes : {false, true}) {
    Config cfg;
    cfg.image_volumes = image_volumes;
    auto r = render_launcher_pod(container_disk_vmi("Quay.io/Foo/Bar:latest"), cfg);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == kv::core::Errc::invalid);
    CHECK(r.error().message ==
          "spec.volumes[0].containerDisk.image: \"Quay.io/Foo/Bar:latest\" is not a valid image "
          "reference: repository name must be lowercase");
    auto spaced = render_launcher_pod(container_disk_vmi("test guest:1"), cfg);
    REQUIRE_FALSE(spaced.ok());
    CHECK(spaced.error().message ==
          "spec.volumes[0].containerDisk.image: \"test guest:1\" is not a valid image reference: "
          "invalid reference format");

    auto kb = make_vmi(VmiPhase::pending);
    kb.spec.domain.firmware = Firmware{};
    kb.spec.domain.firmware->kernel_boot = KernelBoot{};
    kb.spec.domain.firmware->kernel_boot->container =
        KernelBootContainer{"kernel::1", {}, {}, std::string("/vmlinuz"), {}};
    auto k = render_launcher_pod(kb, cfg);
    REQUIRE_FALSE(k.ok());
    CHECK(k.error().message.find(
              "spec.domain.firmware.kernelBoot.container.image: \"kernel::1\"") == 0);
  }
}

TEST_CASE("image_reference_problem: distribution's reference grammar") {
  for (const char* ok :
       {"busybox", "busybox:1.36", "library/busybox", "docker.io/library/busybox:latest",
        "localhost/kubevirt-cpp/test-guest:0.1.0", "localhost:5000/a/b", "registry.example:5000/x",
        "quay.io/containerdisks/fedora:41", "a.b-c.d/e__f/g-h.i:T_a-g.1", "[::1]:5000/img",
        "img@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "reg.io/img:tag@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}) {
    INFO(ok);
    CHECK_FALSE(image_reference_problem(ok));
  }
  for (const char* bad :
       {"", "a b", "img:", "img:-tag", ":tag", "/img", "img/", "a//b", "img@sha256:short",
        "img@sha256", "-img", "img-", "img..x", "reg.io/Img", "img:tag:tag", "http://reg.io/img"}) {
    INFO(bad);
    CHECK(image_reference_problem(bad));
  }
  CHECK(image_reference_problem("reg.io/Img") == "repository name must be lowercase");
  CHECK(image_reference_problem(std::string(300, 'a')) ==
        "repository name must not be more than 255 characters");
}
