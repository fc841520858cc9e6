// core/kube against a real etcd + kube-apiserver. Run through
// test/integration/with_control_plane.sh, which sets KUBECONFIG, KV_CLUSTER_STATE, KV_ETCD_PORT and
// KV_CLUSTER_TOOL.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "addon/resources.hpp"
#include "core/kube/client.hpp"
#include "core/kube/events.hpp"
#include "core/kube/http.hpp"
#include "core/kube/informer.hpp"
#include "core/kube/watch.hpp"
#include "core/yaml.hpp"
#include "test/support/timeout_scale.hpp"

using namespace std::chrono_literals;
using namespace kv::core;
using namespace kv::core::kube;

namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

RestConfig admin_config() {
  auto c = load_kubeconfig();
  REQUIRE(c.ok());
  c->qps = 1000;
  c->burst = 1000;
  return *c;
}

KubeClient& api() {
  static std::unique_ptr<KubeClient> client = [] {
    auto c = make_client(admin_config());
    REQUIRE(c.ok());
    return std::move(*c);
  }();
  return *client;
}

bool wait_for(const std::function<bool()>& cond, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + kv::test::scaled(timeout);
  while (!cond()) {
    if (std::chrono::steady_clock::now() >= deadline)
      return cond();
    std::this_thread::sleep_for(50ms);
  }
  return true;
}

json::Document parse(std::string_view s) {
  auto d = json::parse(s);
  REQUIRE(d.ok());
  return std::move(*d);
}

json::Document config_map(const std::string& ns, const std::string& name,
                          const std::string& value = "v") {
  return parse(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":")" + name +
               R"(","namespace":")" + ns + R"(","labels":{"suite":"kube-it"}},"data":{"k":")" +
               value + R"("}})");
}

json::Document event(const std::string& ns, const std::string& name) {
  return parse(R"({"apiVersion":"v1","kind":"Event","metadata":{"name":")" + name +
               R"(","namespace":")" + ns +
               R"("},"involvedObject":{"kind":"ConfigMap","name":"r1","namespace":")" + ns +
               R"("},"reason":"Test","message":"m","type":"Normal"})");
}

void ensure_namespace(const std::string& ns) {
  auto d = parse(R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":")" + ns + R"("}})");
  auto r = api().create(resources::namespaces(), "", d);
  REQUIRE((r.ok() || r.error().code == Errc::exists));
}

// The cache holds exactly what a fresh list returns (same keys, same resourceVersions).
std::string cache_diff(const Informer& inf, const std::string& ns,
                       const std::string& selector = "") {
  ListOptions o;
  o.label_selector = selector;
  auto list = list_all(api(), inf.resource(), ns, o);
  if (!list.ok())
    return "list failed: " + list.error().to_string();
  std::ostringstream out;
  std::set<std::string> listed;
  for (const auto& item : list->items) {
    listed.insert(meta::key(item));
    auto cached = inf.store().get(meta::key(item));
    if (!cached)
      out << "missing " << meta::key(item) << "; ";
    else if (meta::resource_version(*cached) != meta::resource_version(item))
      out << "stale " << meta::key(item) << "; ";
  }
  for (const auto& k : inf.store().keys())
    if (!listed.count(k))
      out << "phantom " << k << "; ";
  return out.str();
}

// --- control plane manipulation (tools/cluster has no command for these) ---

pid_t apiserver_pid() {
  std::ifstream in(env("KV_CLUSTER_STATE") + "/run/kube-apiserver.pid");
  pid_t pid = 0;
  in >> pid;
  return pid;
}

void kill_apiserver() {
  pid_t pid = apiserver_pid();
  REQUIRE(pid > 0);
  REQUIRE(::kill(pid, SIGKILL) == 0);
  REQUIRE(wait_for([&] { return ::kill(pid, 0) != 0; }, 10s));
}

void restart_apiserver() {
  std::string cmd = env("KV_CLUSTER_TOOL") + " up --control-plane-only >/dev/null 2>&1";
  REQUIRE(std::system(cmd.c_str()) == 0);
}

// etcd's JSON gateway (plain HTTP on 127.0.0.1).
json::Document etcd(const std::string& path, const std::string& body) {
  RestConfig c;
  c.server = "http://127.0.0.1:" + env("KV_ETCD_PORT");
  auto t = HttpTransport::create(c);
  REQUIRE(t.ok());
  HttpRequest req;
  req.method = "POST";
  req.target = path;
  req.body = body;
  req.content_type = "application/json";
  auto res = (*t)->send(req);
  REQUIRE(res.ok());
  INFO(res->body);
  REQUIRE(res->status == 200);
  return parse(res->body);
}

int64_t etcd_revision() {
  auto d = etcd("/v3/kv/range", R"({"key":")" + base64_encode("/registry/none") + "\"}");
  return std::stoll(std::string(*json::get_string(*json::find(d, "header"), "revision")));
}

void etcd_compact() {
  int64_t rev = etcd_revision();
  etcd("/v3/kv/compaction", R"({"revision":")" + std::to_string(rev) + R"(","physical":true})");
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/kv-kube-it-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path_ = tmpl;
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string file(const std::string& n) const { return path_ + "/" + n; }

 private:
  std::string path_;
};

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && s.back() == '\n')
    s.pop_back();
  return s;
}

// A child process that is killed and reaped when this goes out of scope.
struct Child {
  pid_t pid = -1;
  Child(const std::vector<std::string>& argv) {
    pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      std::vector<char*> a;
      for (const auto& s : argv)
        a.push_back(const_cast<char*>(s.c_str()));
      a.push_back(nullptr);
      ::execv(a[0], a.data());
      ::_exit(127);
    }
  }
  void kill(int sig) {
    if (pid > 0)
      ::kill(pid, sig);
  }
  void wait() {
    if (pid > 0) {
      int st;
      ::waitpid(pid, &st, 0);
      pid = -1;
    }
  }
  ~Child() {
    kill(SIGKILL);
    wait();
  }
};

}  // namespace

TEST_CASE("ConfigMaps: create, get, update, patches, apply, delete; 409 on a stale update") {
  const std::string ns = "it-crud";
  ensure_namespace(ns);
  auto cms = resources::config_maps();
  auto created = api().create(cms, ns, config_map(ns, "one"));
  REQUIRE(created.ok());
  CHECK_FALSE(meta::uid(*created).empty());

  auto again = api().create(cms, ns, config_map(ns, "one"));
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code == Errc::exists);

  auto got = api().get(cms, ns, "one");
  REQUIRE(got.ok());
  json::set(*json::find(*got, "data"), "k", "updated", got->GetAllocator());
  auto updated = api().update(cms, ns, *got);
  REQUIRE(updated.ok());
  CHECK(json::find_path(*updated, {"data", "k"})->GetString() == std::string("updated"));

  // The same stale copy again: the server has moved on.
  auto stale = api().update(cms, ns, *got);
  REQUIRE_FALSE(stale.ok());
  CHECK(stale.error().code == Errc::conflict);
  CHECK(stale.error().get("http_status") == "409");

  auto merged = api().patch(cms, ns, "one", PatchType::merge, R"({"data":{"extra":"x"}})");
  REQUIRE(merged.ok());
  CHECK(json::find_path(*merged, {"data", "extra"}));
  auto jp = api().patch(cms, ns, "one", PatchType::json,
                        R"([{"op":"replace","path":"/data/k","value":"jp"}])");
  REQUIRE(jp.ok());
  CHECK(json::find_path(*jp, {"data", "k"})->GetString() == std::string("jp"));
  auto bad_jp = api().patch(cms, ns, "one", PatchType::json,
                            R"([{"op":"test","path":"/data/k","value":"nope"}])");
  REQUIRE_FALSE(bad_jp.ok());

  PatchOptions apply;
  apply.field_manager = "kube-it";
  auto applied = api().patch(cms, ns, "applied", PatchType::apply,
                             json::to_string(config_map(ns, "applied", "a1")), apply);
  REQUIRE(applied.ok());
  // Another manager changing the same field conflicts unless it forces.
  PatchOptions other;
  other.field_manager = "someone-else";
  auto conflict = api().patch(cms, ns, "applied", PatchType::apply,
                              json::to_string(config_map(ns, "applied", "a2")), other);
  REQUIRE_FALSE(conflict.ok());
  CHECK(conflict.error().code == Errc::conflict);
  other.force = true;
  REQUIRE(api()
              .patch(cms, ns, "applied", PatchType::apply,
                     json::to_string(config_map(ns, "applied", "a2")), other)
              .ok());

  DeleteOptions wrong_uid;
  wrong_uid.precondition_uid = "00000000-0000-0000-0000-000000000000";
  auto pre = api().remove(cms, ns, "one", wrong_uid);
  REQUIRE_FALSE(pre.ok());
  CHECK(pre.error().code == Errc::conflict);
  DeleteOptions fg;
  fg.propagation_policy = "Foreground";
  REQUIRE(api().remove(cms, ns, "one", fg).ok());
  REQUIRE(wait_for([&] { return !api().get(cms, ns, "one").ok(); }, 10s));
  auto gone = api().get(cms, ns, "one");
  CHECK(gone.error().code == Errc::not_found);
  CHECK(api().remove(cms, ns, "one").error().code == Errc::not_found);

  // Any subresource path: a service-account token through the TokenRequest subresource.
  auto sa = api().create(
      Resource{"", "v1", "serviceaccounts", "ServiceAccount", true}, ns,
      parse(R"({"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"robot"}})"));
  REQUIRE(sa.ok());
  WriteOptions token_opts;
  token_opts.subresource = "token";
  auto token = api().create(
      Resource{"", "v1", "serviceaccounts", "ServiceAccount", true}, ns,
      parse(
          R"({"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","metadata":{"name":"robot"},"spec":{"expirationSeconds":600}})"),
      token_opts);
  REQUIRE(token.ok());
  std::string bearer(json::find_path(*token, {"status", "token"})->GetString());
  // The token authenticates (and RBAC forbids the robot from listing secrets: 403).
  RestConfig tc = admin_config();
  tc.client_cert_pem.clear();
  tc.client_key_pem.clear();
  tc.bearer_token = bearer;
  auto robot = make_client(tc);
  REQUIRE(robot.ok());
  auto denied = (*robot)->list(resources::secrets(), ns);
  REQUIRE_FALSE(denied.ok());
  CHECK(denied.error().code == Errc::unauthorized);
  CHECK_THAT(denied.error().message, Catch::Contains("system:serviceaccount:it-crud:robot"));
}

TEST_CASE("our CRDs: install, discover, create a VMI, update its status subresource, delete") {
  auto crds = resources::custom_resource_definitions();
  for (const char* f :
       {"kubevirt.io_virtualmachines.yaml", "kubevirt.io_virtualmachineinstances.yaml"}) {
    auto docs = yaml::file_to_json(env("KV_SOURCE_ROOT") + "/manifests/crds/" + f);
    REQUIRE(docs.ok());
    REQUIRE(docs->size() == 1);
    auto r = api().create(crds, "", (*docs)[0]);
    INFO((r.ok() ? "" : r.error().to_string()));
    REQUIRE((r.ok() || r.error().code == Errc::exists));
  }
  Result<Resource> vmi_res = Error(Errc::not_found, "");
  REQUIRE(wait_for(
      [&] {
        vmi_res = api().resolve("kubevirt.io/v1", "VirtualMachineInstance");
        return vmi_res.ok();
      },
      30s));
  CHECK(vmi_res->resource == "virtualmachineinstances");
  CHECK(vmi_res->namespaced);
  auto vm_res = api().resolve("kubevirt.io/v1", "VirtualMachine");
  REQUIRE(vm_res.ok());
  CHECK(*vm_res == kv::addon::resources::virtual_machines());

  const std::string ns = "it-crd";
  ensure_namespace(ns);
  auto docs =
      yaml::file_to_json(env("KV_SOURCE_ROOT") + "/manifests/examples/vmi-containerdisk.yaml");
  REQUIRE(docs.ok());
  Result<json::Document> created = Error(Errc::not_found, "");
  // A new CRD takes a moment before its REST endpoint accepts writes.
  REQUIRE(wait_for(
      [&] {
        created = api().create(*vmi_res, ns, (*docs)[0]);
        return created.ok();
      },
      30s));
  std::string name(meta::name(*created));
  auto status_patch = R"({"status":{"phase":"Scheduling"}})";
  PatchOptions status_opts;
  status_opts.subresource = "status";
  auto st = api().patch(*vmi_res, ns, name, PatchType::merge, status_patch, status_opts);
  REQUIRE(st.ok());
  CHECK(json::find_path(*st, {"status", "phase"})->GetString() == std::string("Scheduling"));
  // A status change through the main resource is ignored: status belongs to the subresource.
  auto ignored = api().patch(*vmi_res, ns, name, PatchType::merge,
                             R"({"status":{"phase":"Running"},"metadata":{"labels":{"x":"y"}}})");
  REQUIRE(ignored.ok());
  CHECK(json::find_path(*ignored, {"status", "phase"})->GetString() == std::string("Scheduling"));
  CHECK(meta::label(*ignored, "x") == "y");
  auto list = api().list(*vmi_res, ns);
  REQUIRE(list.ok());
  REQUIRE(list->items.size() == 1);
  CHECK(json::get_string(list->items[0], "kind") == "VirtualMachineInstance");
  REQUIRE(api().remove(*vmi_res, ns, name).ok());
}

TEST_CASE("pagination walks 2,000 objects in pages, each exactly once") {
  const std::string ns = "it-page";
  ensure_namespace(ns);
  auto cms = resources::config_maps();
  std::atomic<int> failures{0};
  std::vector<std::thread> writers;
  auto start = std::chrono::steady_clock::now();
  for (int w = 0; w < 8; ++w)
    writers.emplace_back([&, w] {
      for (int i = w; i < 2000; i += 8)
        if (!api().create(cms, ns, config_map(ns, "cm-" + std::to_string(i))).ok())
          ++failures;
    });
  for (auto& t : writers)
    t.join();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  WARN("created 2000 ConfigMaps in " << secs << " s with 8 threads");
  REQUIRE(failures == 0);

  ListOptions o;
  o.limit = 150;
  o.label_selector = "suite=kube-it";  // the namespace also holds kube-root-ca.crt
  std::set<std::string> names;
  int pages = 0;
  std::string rv;
  while (true) {
    auto page = api().list(cms, ns, o);
    REQUIRE(page.ok());
    if (pages == 0) {
      rv = page->resource_version;
      CHECK_FALSE(page->continue_token.empty());
    }
    CHECK(page->resource_version == rv);  // every page is the same snapshot
    ++pages;
    CHECK(page->items.size() <= 150);
    for (const auto& it : page->items)
      CHECK(names.insert(std::string(meta::name(it))).second);
    if (page->continue_token.empty())
      break;
    o.continue_token = page->continue_token;
  }
  CHECK(pages == 14);
  CHECK(names.size() == 2000);
  ListOptions mine;
  mine.label_selector = "suite=kube-it";
  auto all = list_all(api(), cms, ns, mine);
  REQUIRE(all.ok());
  CHECK(all->items.size() == 2000);
  ListOptions sel;
  sel.label_selector = "suite=kube-it";
  sel.field_selector = "metadata.name=cm-1999";
  auto one = api().list(cms, ns, sel);
  REQUIRE(one.ok());
  REQUIRE(one->items.size() == 1);
}

TEST_CASE("a watch sees every change, in order, with increasing resourceVersions") {
  const std::string ns = "it-watch";
  ensure_namespace(ns);
  auto cms = resources::config_maps();
  auto start = api().list(cms, ns);
  REQUIRE(start.ok());

  std::mutex mu;
  std::vector<std::string> seen;
  Cancel cancel;
  std::thread watcher([&] {
    ListOptions o;
    o.resource_version = start->resource_version;
    o.allow_watch_bookmarks = true;
    // kube-controller-manager adds kube-root-ca.crt to a new namespace at a time of its choosing;
    // an unfiltered watch would sometimes see it between our own changes.
    o.label_selector = "suite=kube-it";
    Status st = api().watch(
        cms, ns, o,
        [&](WatchEvent& ev) {
          if (ev.type == WatchEventType::bookmark)
            return true;
          std::lock_guard l(mu);
          seen.push_back(std::string(watch_event_type_name(ev.type)) + " " +
                         std::string(meta::name(ev.object)) + " " +
                         std::string(meta::resource_version(ev.object)));
          return true;
        },
        &cancel);
    CHECK(st.ok());
  });
  std::vector<std::string> expected;
  for (int i = 0; i < 60; ++i) {
    std::string name = "w" + std::to_string(i % 20);
    if (i < 20) {
      auto r = api().create(cms, ns, config_map(ns, name));
      REQUIRE(r.ok());
      expected.push_back("ADDED " + name + " " + std::string(meta::resource_version(*r)));
    } else if (i < 40) {
      auto r = api().patch(cms, ns, name, PatchType::merge, R"({"data":{"k":"changed"}})");
      REQUIRE(r.ok());
      expected.push_back("MODIFIED " + name + " " + std::string(meta::resource_version(*r)));
    } else {
      REQUIRE(api().remove(cms, ns, name).ok());
      expected.push_back("DELETED " + name);
    }
  }
  REQUIRE(wait_for(
      [&] {
        std::lock_guard l(mu);
        return seen.size() >= expected.size();
      },
      30s));
  cancel.cancel();
  watcher.join();
  std::lock_guard l(mu);
  REQUIRE(seen.size() == expected.size());
  int64_t last_rv = 0;
  for (size_t i = 0; i < seen.size(); ++i) {
    if (expected[i].rfind("DELETED", 0) == 0)
      CHECK(seen[i].rfind(expected[i] + " ", 0) == 0);
    else
      CHECK(seen[i] == expected[i]);
    int64_t rv = std::stoll(seen[i].substr(seen[i].rfind(' ') + 1));
    CHECK(rv > last_rv);
    last_rv = rv;
  }
}

// kube-apiserver keeps no watch cache for Events (--watch-cache-sizes default), so their watches
// go to etcd and see its compaction; ConfigMap watches are served from the watch cache.
TEST_CASE("a watch from a compacted resourceVersion fails with 410 Gone") {
  etcd_compact();
  ListOptions o;
  o.resource_version = "1";
  o.timeout_seconds = 10;
  o.idle_timeout = 20s;
  int events = 0;
  Status st = api().watch(resources::events(), "default", o, [&](WatchEvent&) {
    ++events;
    return true;
  });
  REQUIRE_FALSE(st.ok());
  INFO(st.error().to_string());
  CHECK(st.error().code == Errc::gone);
  CHECK(events == 0);
}

TEST_CASE("informer survives a kube-apiserver kill/restart, compaction and a hidden delete") {
  const std::string ns = "it-restart";
  ensure_namespace(ns);
  auto cms = resources::config_maps();
  for (int i = 0; i < 50; ++i)
    REQUIRE(api().create(cms, ns, config_map(ns, "r" + std::to_string(i))).ok());

  for (int i = 0; i < 20; ++i)
    REQUIRE(api().create(resources::events(), ns, event(ns, "e" + std::to_string(i))).ok());

  InformerOptions opts;
  opts.list_watch.ns = ns;
  opts.list_watch.initial_backoff = 100ms;
  opts.list_watch.max_backoff = 2s;
  Informer ev_inf(api(), resources::events(), opts);
  opts.list_watch.label_selector = "suite=kube-it";  // not the namespace's kube-root-ca.crt
  Informer inf(api(), cms, opts);
  ev_inf.start();
  std::atomic<int> deletes{0};
  inf.add_handlers({nullptr, nullptr, [&](const ObjectPtr&) { ++deletes; }});
  inf.add_index("ns", index_by_namespace());
  inf.start();
  REQUIRE(inf.wait_for_sync(30s));
  CHECK(inf.store().size() == 50);
  CHECK(inf.store().by_index("ns", ns).size() == 50);
  REQUIRE(api().remove(cms, ns, "r49").ok());
  REQUIRE(wait_for([&] { return inf.store().size() == 49; }, 10s));

  kill_apiserver();
  // While it is down: r0 disappears behind the informer's back (straight from etcd), and etcd
  // compacts its history, so resuming the watch from the last version seen is impossible.
  auto del = etcd("/v3/kv/deleterange",
                  R"({"key":")" + base64_encode("/registry/configmaps/" + ns + "/r0") + "\"}");
  CHECK(json::get_string(del, "deleted") == "1");
  del = etcd("/v3/kv/deleterange",
             R"({"key":")" + base64_encode("/registry/events/" + ns + "/e0") + "\"}");
  CHECK(json::get_string(del, "deleted") == "1");
  etcd_compact();
  restart_apiserver();

  for (int i = 0; i < 5; ++i)
    REQUIRE(api().create(cms, ns, config_map(ns, "after" + std::to_string(i))).ok());
  REQUIRE(api().remove(cms, ns, "r1").ok());
  REQUIRE(api().patch(cms, ns, "r2", PatchType::merge, R"({"data":{"k":"after"}})").ok());
  REQUIRE(api().create(resources::events(), ns, event(ns, "e-after")).ok());

  std::string diff;
  bool equal = wait_for(
      [&] {
        diff = cache_diff(inf, ns, "suite=kube-it");
        return diff.empty();
      },
      60s);
  INFO("cache vs fresh list: " << diff);
  CHECK(equal);
  CHECK(inf.store().get(ns + "/r0") == nullptr);  // no phantom
  CHECK(inf.store().get(ns + "/after4") != nullptr);
  auto stats = inf.stats();
  WARN("informer after restart: lists=" << stats.lists << " relists(410)=" << stats.relists
                                        << " watches=" << stats.watches
                                        << " errors=" << stats.errors);
  CHECK(deletes == 3);  // r49 (event), r0 (found by the relist), r1
  inf.stop();

  bool ev_equal = wait_for(
      [&] {
        diff = cache_diff(ev_inf, ns);
        return diff.empty();
      },
      60s);
  INFO("events cache vs fresh list: " << diff);
  CHECK(ev_equal);
  CHECK(ev_inf.store().get(ns + "/e0") == nullptr);
  CHECK(ev_inf.store().get(ns + "/e-after") != nullptr);
  auto ev_stats = ev_inf.stats();
  WARN("events informer after restart: lists="
       << ev_stats.lists << " relists(410)=" << ev_stats.relists << " errors=" << ev_stats.errors);
  CHECK(ev_stats.relists >= 1);
  ev_inf.stop();
}

TEST_CASE("leader election: two processes, one leader, takeover after the leader is killed") {
  TempDir dir;
  std::string bin = env("KV_LEASE_CONTENDER");
  REQUIRE(!bin.empty());
  Child a({bin, "contender-a", dir.file("a")});
  Child b({bin, "contender-b", dir.file("b")});
  auto state = [&](const char* id) { return read_text(dir.file(id)); };
  REQUIRE(wait_for([&] { return state("a") == "leading" || state("b") == "leading"; }, 30s));
  // For a while (several retry periods) there is never a second leader.
  auto window = std::chrono::steady_clock::now() + 3s;
  while (std::chrono::steady_clock::now() < window) {
    REQUIRE_FALSE((state("a") == "leading" && state("b") == "leading"));
    std::this_thread::sleep_for(50ms);
  }
  bool a_leads = state("a") == "leading";
  CHECK(state(a_leads ? "b" : "a") == "following");
  auto lease = api().get(resources::leases(), "default", "kube-it-contenders");
  REQUIRE(lease.ok());
  std::string leader = a_leads ? "contender-a" : "contender-b";
  CHECK(json::find_path(*lease, {"spec", "holderIdentity"})->GetString() == leader);

  Child& first = a_leads ? a : b;
  Child& second = a_leads ? b : a;
  const char* second_id = a_leads ? "b" : "a";
  first.kill(SIGKILL);
  first.wait();
  auto killed = std::chrono::steady_clock::now();
  REQUIRE(wait_for([&] { return state(second_id) == "leading"; }, 20s));
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - killed).count();
  WARN("takeover after SIGKILL of the leader: " << took << " s (lease duration 6 s)");
  CHECK(took <= 6.0 + 0.6 + 1.0);

  // A clean stop releases the lease at once.
  second.kill(SIGTERM);
  second.wait();
  lease = api().get(resources::leases(), "default", "kube-it-contenders");
  REQUIRE(lease.ok());
  CHECK(json::find_path(*lease, {"spec", "holderIdentity"})->GetString() == std::string());
}

TEST_CASE("events: repeated events are aggregated into one Event with a count") {
  const std::string ns = "it-events";
  ensure_namespace(ns);
  auto cm = api().create(resources::config_maps(), ns, config_map(ns, "subject"));
  REQUIRE(cm.ok());
  {
    EventRecorder rec(api(), {"kube-it", "host-1"});
    for (int i = 0; i < 4; ++i)
      rec.record(reference_to(*cm), "Normal", "Tested", "the same thing happened");
    rec.record(reference_to(*cm), "Warning", "Other", "something else");
    REQUIRE(rec.flush(30s));
  }
  ListOptions o;
  o.field_selector = "involvedObject.name=subject,reason=Tested";
  auto events = api().list(resources::events(), ns, o);
  REQUIRE(events.ok());
  REQUIRE(events->items.size() == 1);
  CHECK(json::get_int(events->items[0], "count") == 4);
  CHECK(json::find_path(events->items[0], {"involvedObject", "uid"})->GetString() ==
        std::string(meta::uid(*cm)));
  o.field_selector = "involvedObject.name=subject";
  CHECK(api().list(resources::events(), ns, o)->items.size() == 2);
}

TEST_CASE("bad kubeconfigs and wrong CAs give clear errors") {
  TempDir dir;
  SECTION("missing file") {
    KubeconfigOptions o;
    o.path = dir.file("nope");
    auto c = load_kubeconfig(o);
    REQUIRE_FALSE(c.ok());
    CHECK(c.error().code == Errc::not_found);
    CHECK_THAT(c.error().message, Catch::Contains(dir.file("nope")));
  }
  SECTION("bad base64") {
    std::string text = read_text(env("KUBECONFIG"));
    auto pos = text.find("client-key-data: ");
    REQUIRE(pos != std::string::npos);
    text.insert(pos + 17 + 8, "$$");
    std::ofstream(dir.file("config")) << text;
    KubeconfigOptions o;
    o.path = dir.file("config");
    auto c = load_kubeconfig(o);
    REQUIRE_FALSE(c.ok());
    CHECK_THAT(c.error().message, Catch::Contains("client-key-data: invalid base64"));
  }
  SECTION("a CA that did not sign the server's certificate") {
    std::string cmd =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
        "-days 1 -subj /CN=other-ca -keyout " +
        dir.file("k") + " -out " + dir.file("ca") + " >/dev/null 2>&1";
    REQUIRE(std::system(cmd.c_str()) == 0);
    RestConfig c = admin_config();
    c.ca_pem = read_text(dir.file("ca")) + "\n";
    auto client = make_client(c);
    REQUIRE(client.ok());
    auto r = (*client)->get(resources::namespaces(), "", "default");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::unavailable);
    CHECK_THAT(r.error().message, Catch::Contains("not trusted"));
    CHECK_THAT(r.error().message, Catch::Contains("certificate-authority"));
    // insecure-skip-tls-verify accepts it anyway.
    c.insecure_skip_tls_verify = true;
    CHECK(make_client(c).value()->get(resources::namespaces(), "", "default").ok());
  }
}

TEST_CASE("exec credential plugin supplying a client certificate") {
  TempDir dir;
  RestConfig admin = admin_config();
  json::Document cred;
  cred.SetObject();
  auto& a = cred.GetAllocator();
  json::set(cred, "apiVersion", "client.authentication.k8s.io/v1", a);
  json::set(cred, "kind", "ExecCredential", a);
  json::Value& st = json::ensure_object(cred, "status", a);
  json::set(st, "clientCertificateData", admin.client_cert_pem, a);
  json::set(st, "clientKeyData", admin.client_key_pem, a);
  std::ofstream(dir.file("cred.json")) << json::to_string(cred);
  std::ofstream(dir.file("plugin")) << "#!/bin/sh\ncat '" << dir.file("cred.json") << "'\n";
  ::chmod(dir.file("plugin").c_str(), 0755);
  RestConfig c = admin;
  c.client_cert_pem.clear();
  c.client_key_pem.clear();
  ExecConfig e;
  e.command = dir.file("plugin");
  c.exec = e;
  auto client = make_client(c);
  REQUIRE(client.ok());
  auto r = (*client)->get(resources::namespaces(), "", "default");
  INFO((r.ok() ? "" : r.error().to_string()));
  CHECK(r.ok());
}
