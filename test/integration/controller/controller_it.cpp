// virt-controller against a real kube-apiserver (control-plane-only: no kubelet, no scheduler).
// The test plays the node's part through the API: it binds launcher pods, writes their status
// as a kubelet would, finishes deletions of bound pods (grace 0) and writes VMI phases as the
// handler would. The controller runs as its real binary, so it can be killed and restarted.
// Run through test/integration/with_control_plane.sh --crds (meson test controller/integration).
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <map>
#include <set>
#include <thread>

#include "addon/resources.hpp"
#include "core/http_get.hpp"
#include "core/json.hpp"
#include "core/kube/client.hpp"
#include "core/kube/kubeconfig.hpp"
#include "core/kube/resource.hpp"
#include "test/support/test_failed.hpp"
#include "test/support/timeout_scale.hpp"

namespace json = kv::core::json;
namespace kube = kv::core::kube;
namespace meta = kv::core::kube::meta;
using namespace std::chrono_literals;

namespace {

kube::KubeClient& client() {
  static std::unique_ptr<kube::KubeClient> c = [] {
    auto cfg = kube::load_default();
    if (!cfg.ok())
      FAIL("kubeconfig: " << cfg.error().to_string());
    auto cl = kube::make_client(*cfg);
    if (!cl.ok())
      FAIL("client: " << cl.error().to_string());
    return std::move(*cl);
  }();
  return *c;
}

const kube::Resource kVms = kv::addon::resources::virtual_machines();
const kube::Resource kVmis = kv::addon::resources::virtual_machine_instances();
const kube::Resource kPods = kube::resources::pods();

// Polls cond until true or the deadline; no fixed sleeps stand in for conditions.
bool eventually(const std::function<bool()>& cond, std::chrono::milliseconds timeout = 30s) {
  auto deadline = std::chrono::steady_clock::now() + kv::test::scaled(timeout);
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond())
      return true;
    std::this_thread::sleep_for(100ms);
  }
  return cond();
}

unsigned short free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

// The virt-controller binary as a child process; killed and reaped on destruction.
class ControllerProcess {
 public:
  explicit ControllerProcess(std::string identity) : identity_(identity) {
    const char* bin = std::getenv("KV_VIRT_CONTROLLER");
    REQUIRE(bin);
    port_ = free_port();
    log_ = "/tmp/kv-ctrl-it-" + identity + "-" + std::to_string(getpid()) + ".log";
    pid_ = fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      int fd = open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      dup2(fd, 1);
      dup2(fd, 2);
      std::string port = std::to_string(port_);
      execl(bin, bin, "--http-address", "127.0.0.1", "--http-port", port.c_str(), "--identity",
            identity.c_str(), "--log-level", "info", static_cast<char*>(nullptr));
      _exit(127);
    }
  }
  // When the test case failed, the last lines of the controller's log go to stderr (meson's
  // test log) before the log is removed.
  ~ControllerProcess() {
    stop(SIGKILL);
    if (kv::test::current_test_failed())
      std::fprintf(stderr, "---- virt-controller %s (last 30 log lines)\n%s", identity_.c_str(),
                   log_tail().c_str());
    unlink(log_.c_str());
  }
  // Sends sig and reaps the process.
  void stop(int sig = SIGTERM) {
    if (pid_ <= 0)
      return;
    kill(pid_, sig);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  bool alive() const { return pid_ > 0 && kill(pid_, 0) == 0; }
  // GET on the controller's own HTTP port (status code, or -1 when unreachable).
  int http_status(const std::string& path) const {
    auto r = kv::core::http_get("127.0.0.1", port_, path);
    return r.ok() ? r->status : -1;
  }
  std::string http_body(const std::string& path) const {
    auto r = kv::core::http_get("127.0.0.1", port_, path);
    return r.ok() ? r->body : std::string();
  }
  bool leading() const { return http_status("/readyz") == 200; }
  std::string log_tail() const {
    std::string cmd = "tail -n 30 " + log_;
    std::string out;
    if (FILE* f = popen(cmd.c_str(), "r")) {
      char buf[512];
      while (fgets(buf, sizeof buf, f))
        out += buf;
      pclose(f);
    }
    return out;
  }

 private:
  pid_t pid_ = -1;
  unsigned short port_ = 0;
  std::string identity_;
  std::string log_;
};

// Finishes the deletion of bound pods as a kubelet would once the container stopped.
class FakeKubelet {
 public:
  FakeKubelet() : thread_([this] { loop(); }) {}
  ~FakeKubelet() {
    stop_ = true;
    thread_.join();
  }

 private:
  void loop() {
    while (!stop_) {
      kube::ListOptions lo;
      lo.label_selector = "kubevirt.io=virt-launcher";
      auto pods = client().list(kPods, "", lo);
      if (pods.ok())
        for (auto& p : pods->items)
          if (meta::has_deletion_timestamp(p)) {
            kube::DeleteOptions d;
            d.grace_period_seconds = 0;
            (void)client().remove(kPods, meta::ns(p), meta::name(p), d);
          }
      std::this_thread::sleep_for(100ms);
    }
  }
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

void create_namespace(const std::string& ns) {
  auto doc =
      json::parse(R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":")" + ns + R"("}})");
  auto r = client().create(kube::resources::namespaces(), "", *doc);
  REQUIRE((r.ok() || r.error().code == kv::core::Errc::exists));
}

void create_vm(const std::string& ns, const std::string& name, const std::string& strategy) {
  auto doc = json::parse(R"({
    "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
    "metadata": {"name": ")" +
                         name + R"("},
    "spec": {"runStrategy": ")" +
                         strategy + R"(",
      "template": {"metadata": {"labels": {"app": ")" +
                         name + R"("}},
        "spec": {"domain": {"memory": {"guest": "64Mi"}, "devices": {"disks": [{"name": "root", "disk": {}}]}},
                 "terminationGracePeriodSeconds": 5,
                 "volumes": [{"name": "root", "containerDisk": {"image": "localhost/kubevirt-cpp/test-guest:latest"}}]}}}})");
  REQUIRE(doc.ok());
  auto r = client().create(kVms, ns, *doc);
  if (!r.ok())
    FAIL("create VM: " << r.error().to_string());
}

std::optional<json::Document> get(const kube::Resource& r, const std::string& ns,
                                  const std::string& name) {
  auto g = client().get(r, ns, name);
  if (!g.ok())
    return std::nullopt;
  return std::move(*g);
}

std::string str_at(const json::Value& v, std::initializer_list<std::string_view> path) {
  const json::Value* x = json::find_path(v, path);
  return x && x->IsString() ? x->GetString() : "";
}

std::string printable(const std::string& ns, const std::string& name) {
  auto vm = get(kVms, ns, name);
  return vm ? str_at(*vm, {"status", "printableStatus"}) : "";
}

std::string vmi_uid(const std::string& ns, const std::string& name) {
  auto vmi = get(kVmis, ns, name);
  return vmi && !meta::has_deletion_timestamp(*vmi) ? std::string(meta::uid(*vmi)) : "";
}

std::vector<json::Document> launcher_pods(const std::string& ns) {
  kube::ListOptions lo;
  lo.label_selector = "kubevirt.io=virt-launcher";
  auto l = client().list(kPods, ns, lo);
  REQUIRE(l.ok());
  return std::move(l->items);
}

std::vector<json::Document> pods_of(const std::string& ns, const std::string& uid) {
  kube::ListOptions lo;
  lo.label_selector = "kubevirt.io/created-by=" + uid;
  auto l = client().list(kPods, ns, lo);
  REQUIRE(l.ok());
  return std::move(l->items);
}

// What the scheduler and kubelet would do: bind the pod and report it running and ready.
void run_pod(const std::string& ns, const std::string& pod, const std::string& node = "node-1") {
  auto binding =
      json::parse(R"({"apiVersion":"v1","kind":"Binding","metadata":{"name":")" + pod +
                  R"("},"target":{"apiVersion":"v1","kind":"Node","name":")" + node + R"("}})");
  kube::WriteOptions wo;
  wo.subresource = "binding";
  auto b = client().create(kPods, ns, *binding, wo);
  if (!b.ok())
    FAIL("bind: " << b.error().to_string());
  kube::PatchOptions po;
  po.subresource = "status";
  auto p = client().patch(
      kPods, ns, pod, kube::PatchType::merge,
      R"({"status":{"phase":"Running","podIP":"10.244.0.9","initContainerStatuses":[],"conditions":[{"type":"Ready","status":"True"}],
         "containerStatuses":[{"name":"compute","ready":true,"restartCount":0,"image":"x","imageID":"",
           "state":{"running":{"startedAt":"2026-01-01T00:00:00Z"}}}]}})",
      po);
  if (!p.ok())
    FAIL("pod status: " << p.error().to_string());
}

// What the handler would write: phases it owns.
void set_vmi_phase(const std::string& ns, const std::string& name, const std::string& phases_json,
                   const std::string& phase) {
  kube::PatchOptions po;
  po.subresource = "status";
  auto r = client().patch(
      kVmis, ns, name, kube::PatchType::merge,
      R"({"status":{"phase":")" + phase + R"(","phaseTransitionTimestamps":)" + phases_json + "}}",
      po);
  if (!r.ok())
    FAIL("VMI status: " << r.error().to_string());
}

void request_state_change(const std::string& ns, const std::string& vm, const std::string& body) {
  kube::PatchOptions po;
  po.subresource = "status";
  auto r = client().patch(kVms, ns, vm, kube::PatchType::merge,
                          R"({"status":{"stateChangeRequests":)" + body + "}}", po);
  if (!r.ok())
    FAIL("stateChangeRequests: " << r.error().to_string());
}

std::string single_pod_name(const std::string& ns, const std::string& uid) {
  auto pods = pods_of(ns, uid);
  return pods.size() == 1 ? std::string(meta::name(pods[0])) : "";
}

constexpr const char* kRunningPhases =
    R"([{"phase":"Scheduled","phaseTransitionTimestamp":"2026-01-01T00:00:00Z"},
        {"phase":"Running","phaseTransitionTimestamp":"2026-01-01T00:00:01Z"}])";

}  // namespace

TEST_CASE("VM -> VMI -> pod, Scheduled, restart and stop/start through stateChangeRequests") {
  const std::string ns = "it-lifecycle";
  create_namespace(ns);
  FakeKubelet kubelet;
  ControllerProcess ctrl("lifecycle");
  REQUIRE(eventually([&] { return ctrl.leading(); }));
  CHECK(ctrl.http_status("/healthz") == 200);

  create_vm(ns, "web", "Always");
  std::string uid;
  REQUIRE(eventually([&] { return !(uid = vmi_uid(ns, "web")).empty(); }));
  std::string pod;
  REQUIRE(eventually([&] { return !(pod = single_pod_name(ns, uid)).empty(); }));
  // The pod is the VMI's: owner reference, labels for Services, restartPolicy Never.
  auto p = get(kPods, ns, pod);
  REQUIRE(p);
  CHECK(str_at(*p, {"metadata", "labels", "app"}) == "web");
  CHECK(str_at(*p, {"spec", "restartPolicy"}) == "Never");
  CHECK(json::get_string((*json::find_path(*p, {"metadata", "ownerReferences"}))[0], "uid") == uid);
  REQUIRE(eventually([&] {
    auto vmi = get(kVmis, ns, "web");
    return vmi && str_at(*vmi, {"status", "phase"}) == "Scheduling";
  }));
  CHECK(printable(ns, "web") == "Starting");

  // The kubelet reports an image pull error: the VM says so.
  {
    kube::PatchOptions po;
    po.subresource = "status";
    auto r = client().patch(
        kPods, ns, pod, kube::PatchType::merge,
        R"({"status":{"phase":"Pending","initContainerStatuses":[{"name":"volume-root",
                               "ready":false,"restartCount":0,"image":"x","imageID":"",
                               "state":{"waiting":{"reason":"ErrImagePull","message":"pull access denied"}}}]}})",
        po);
    REQUIRE(r.ok());
    REQUIRE(eventually([&] { return printable(ns, "web") == "ErrImagePull"; }));
  }

  // The pod runs on node-1: Scheduled with nodeName.
  run_pod(ns, pod);
  REQUIRE(eventually([&] {
    auto vmi = get(kVmis, ns, "web");
    return vmi && str_at(*vmi, {"status", "phase"}) == "Scheduled" &&
           str_at(*vmi, {"status", "nodeName"}) == "node-1";
  }));
  set_vmi_phase(ns, "web", kRunningPhases, "Running");
  REQUIRE(eventually([&] { return printable(ns, "web") == "Running"; }));

  // Restart: Stop(uid) + Start. The old VMI and pod go, a new VMI with a new pod comes.
  request_state_change(ns, "web",
                       R"([{"action":"Stop","uid":")" + uid + R"("},{"action":"Start"}])");
  std::string uid2;
  REQUIRE(eventually([&] {
    uid2 = vmi_uid(ns, "web");
    return !uid2.empty() && uid2 != uid;
  }));
  REQUIRE(eventually([&] { return pods_of(ns, uid).empty() && pods_of(ns, uid2).size() == 1; }));
  REQUIRE(eventually([&] {
    auto vm = get(kVms, ns, "web");
    const json::Value* q = vm ? json::find_path(*vm, {"status", "stateChangeRequests"}) : nullptr;
    return vm && (!q || q->Empty());
  }));

  // A Manual VM: nothing runs until Start; Stop ends it.
  create_vm(ns, "manual", "Manual");
  REQUIRE(eventually([&] { return printable(ns, "manual") == "Stopped"; }));
  CHECK(vmi_uid(ns, "manual").empty());
  request_state_change(ns, "manual", R"([{"action":"Start"}])");
  std::string muid;
  REQUIRE(eventually([&] { return !(muid = vmi_uid(ns, "manual")).empty(); }));
  REQUIRE(eventually([&] { return pods_of(ns, muid).size() == 1; }));
  request_state_change(ns, "manual", R"([{"action":"Stop"}])");
  REQUIRE(eventually([&] { return !get(kVmis, ns, "manual") && pods_of(ns, muid).empty(); }));
  REQUIRE(eventually([&] { return printable(ns, "manual") == "Stopped"; }));

  // Metrics are served and count what happened.
  std::string metrics = ctrl.http_body("/metrics");
  CHECK(metrics.find("kv_controller_api_requests_total{verb=\"create\",resource=\"pods\"}") !=
        std::string::npos);
  CHECK(metrics.find("kv_controller_leader 1") != std::string::npos);
}

TEST_CASE("Always restarts a VM whose guest shut down; RerunOnFailure does not") {
  const std::string ns = "it-strategies";
  create_namespace(ns);
  FakeKubelet kubelet;
  ControllerProcess ctrl("strategies");
  REQUIRE(eventually([&] { return ctrl.leading(); }));

  create_vm(ns, "always", "Always");
  create_vm(ns, "rerun", "RerunOnFailure");
  std::string a1, r1;
  REQUIRE(eventually([&] { return !(a1 = vmi_uid(ns, "always")).empty(); }));
  REQUIRE(eventually([&] { return !(r1 = vmi_uid(ns, "rerun")).empty(); }));
  for (auto [vm, uid] : {std::pair{"always", a1}, std::pair{"rerun", r1}}) {
    std::string pod;
    REQUIRE(eventually([&] { return !(pod = single_pod_name(ns, uid)).empty(); }));
    run_pod(ns, pod);
    REQUIRE(eventually([&] {
      auto vmi = get(kVmis, ns, vm);
      return vmi && str_at(*vmi, {"status", "phase"}) == "Scheduled";
    }));
    set_vmi_phase(ns, vm, kRunningPhases, "Running");
  }
  // Both guests shut down (the handler reports Succeeded).
  const std::string succeeded =
      R"([{"phase":"Running","phaseTransitionTimestamp":"2026-01-01T00:00:01Z"},
          {"phase":"Succeeded","phaseTransitionTimestamp":"2026-01-01T00:00:02Z"}])";
  set_vmi_phase(ns, "always", succeeded, "Succeeded");
  set_vmi_phase(ns, "rerun", succeeded, "Succeeded");

  std::string a2;
  REQUIRE(eventually([&] {
    a2 = vmi_uid(ns, "always");
    return !a2.empty() && a2 != a1;
  }));
  REQUIRE(eventually([&] { return pods_of(ns, a2).size() == 1; }));
  // RerunOnFailure: the finished VMI is removed and nothing replaces it.
  REQUIRE(eventually([&] { return !get(kVmis, ns, "rerun"); }));
  REQUIRE(eventually([&] { return printable(ns, "rerun") == "Stopped"; }));
  auto vm = get(kVms, ns, "rerun");
  REQUIRE(vm);
  CHECK(json::get_bool(*json::find(*vm, "status"), "created") == false);
  CHECK(vmi_uid(ns, "rerun").empty());
  CHECK(pods_of(ns, r1).empty());
}

TEST_CASE("deleting the VM removes its VMI and pod") {
  const std::string ns = "it-delete";
  create_namespace(ns);
  FakeKubelet kubelet;
  ControllerProcess ctrl("delete");
  REQUIRE(eventually([&] { return ctrl.leading(); }));
  create_vm(ns, "doomed", "Always");
  std::string uid;
  REQUIRE(eventually([&] { return !(uid = vmi_uid(ns, "doomed")).empty(); }));
  std::string pod;
  REQUIRE(eventually([&] { return !(pod = single_pod_name(ns, uid)).empty(); }));
  run_pod(ns, pod);
  REQUIRE(client().remove(kVms, ns, "doomed").ok());
  REQUIRE(eventually([&] { return !get(kVms, ns, "doomed"); }, 60s));
  REQUIRE(eventually([&] { return !get(kVmis, ns, "doomed") && pods_of(ns, uid).empty(); }, 60s));
}

TEST_CASE("a controller killed mid-way and restarted converges: no duplicates, no orphans") {
  const std::string ns = "it-restart";
  create_namespace(ns);
  FakeKubelet kubelet;
  constexpr int kVmsCount = 30;
  {
    ControllerProcess first("first");
    REQUIRE(eventually([&] { return first.leading(); }));
    // Kill it (no clean shutdown, the lease is not released) once it is part-way through: as
    // soon as it made 3 launcher pods, while VMs are still being created; the rest are created
    // with no controller running.
    int created = 0;
    for (; created < kVmsCount && launcher_pods(ns).size() < 3; ++created)
      create_vm(ns, "vm-" + std::to_string(created), "Always");
    REQUIRE(eventually([&] { return launcher_pods(ns).size() >= 3; }));
    first.stop(SIGKILL);
    for (; created < kVmsCount; ++created)
      create_vm(ns, "vm-" + std::to_string(created), "Always");
  }
  // Part-way: some launcher pods exist, not all (else the second controller has nothing left to
  // converge and the test shows nothing).
  const size_t at_kill = launcher_pods(ns).size();
  INFO("launcher pods when the first controller was killed: " << at_kill << " of " << kVmsCount);
  REQUIRE(at_kill >= 3);
  REQUIRE(at_kill < static_cast<size_t>(kVmsCount));
  ControllerProcess second("second");
  // The dead leader's lease must expire first (15 s).
  REQUIRE(eventually([&] { return second.leading(); }, 60s));
  REQUIRE(eventually(
      [&] {
        kube::ListOptions lo;
        auto vmis = client().list(kVmis, ns, lo);
        return vmis.ok() && vmis->items.size() == kVmsCount &&
               launcher_pods(ns).size() == kVmsCount;
      },
      120s));
  // Exactly one pod per VMI, every pod owned by an existing VMI.
  auto vmis = client().list(kVmis, ns, {});
  REQUIRE(vmis.ok());
  std::set<std::string> uids;
  for (const auto& v : vmis->items)
    uids.insert(std::string(meta::uid(v)));
  std::map<std::string, int> per_vmi;
  for (const auto& p : launcher_pods(ns)) {
    auto owner = meta::label(p, "kubevirt.io/created-by");
    REQUIRE(owner);
    CHECK(uids.count(std::string(*owner)) == 1);
    per_vmi[std::string(*owner)]++;
  }
  for (const auto& [uid, n] : per_vmi)
    CHECK(n == 1);
  CHECK(per_vmi.size() == kVmsCount);
}

TEST_CASE("two replicas: one leads, the other stands by and takes over") {
  ControllerProcess a("replica-a");
  REQUIRE(eventually([&] { return a.leading(); }, 60s));
  ControllerProcess b("replica-b");
  REQUIRE(eventually([&] { return b.http_status("/healthz") == 200; }));
  CHECK(b.http_status("/leader") == 503);
  CHECK(b.http_status("/readyz") == 503);
  a.stop(SIGTERM);  // releases the lease
  REQUIRE(eventually([&] { return b.leading(); }, 30s));
}
