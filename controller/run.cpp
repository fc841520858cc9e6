#include "controller/run.hpp"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <random>
#include <thread>

#include "controller/controller.hpp"
#include "controller/metrics.hpp"
#include "controller/replicas.hpp"
#include "core/kube/client.hpp"
#include "core/kube/kubeconfig.hpp"
#include "core/kube/leader_election.hpp"
#include "core/log.hpp"
#include "core/serve/server.hpp"

namespace kv::controller {
namespace {
namespace log = core::log;

std::string default_identity() {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  std::random_device rd;
  char suffix[16];
  std::snprintf(suffix, sizeof suffix, "%08x", rd());
  return std::string(host) + "_" + suffix;
}

// The process's state, shared by the signal thread, the elector and main.
struct State {
  std::mutex mu;
  std::condition_variable cv;
  bool shutdown = false;
  bool leading = false;
  bool lost = false;
  void notify(const std::function<void()>& f) {
    {
      std::lock_guard lock(mu);
      f();
    }
    cv.notify_all();
  }
};

}  // namespace

int run(const Options& opts) {
  auto level = log::parse_level(opts.log_level);
  if (!level.ok()) {
    std::fprintf(stderr, "virt-controller: --log-level: %s\n", level.error().message.c_str());
    return 64;
  }
  log::init("virt-controller", *level);

  // Signals go to one thread that turns them into a shutdown; block them everywhere else first.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  State state;
  std::atomic<bool> done{false};
  std::thread signals([&] {
    timespec tick{0, 200 * 1000 * 1000};
    while (!done.load()) {
      int s = sigtimedwait(&sigs, nullptr, &tick);
      if (s > 0) {
        log::info("signal received; shutting down", {{"signal", std::to_string(s)}});
        state.notify([&] { state.shutdown = true; });
      }
    }
  });
  auto finish = [&](int rc) {
    done = true;
    signals.join();
    return rc;
  };

  core::kube::KubeconfigOptions ko;
  ko.path = opts.kubeconfig;
  auto rest = core::kube::load_default(ko);
  if (!rest.ok()) {
    log::error("cannot load the Kubernetes client configuration",
               {{"error", rest.error().to_string()}});
    return finish(1);
  }
  rest->qps = opts.qps;
  rest->burst = opts.burst;
  rest->user_agent = "virt-controller";
  auto real = core::kube::make_client(*rest);
  if (!real.ok()) {
    log::error("cannot create the Kubernetes client", {{"error", real.error().to_string()}});
    return finish(1);
  }
  Metrics metrics;
  CountingClient client(**real, metrics);

  std::mutex ctrl_mu;
  std::unique_ptr<Controller> ctrl;
  std::unique_ptr<ReplicasController> replicas;  // VMI replica sets and VM pools
  std::atomic<bool> leading{false};
  metrics.help("kv_controller_leader", "gauge", "1 while this replica leads.");
  metrics.gauge_func("kv_controller_leader", [&] { return leading.load() ? 1.0 : 0.0; });
  auto synced = [&] {
    std::lock_guard lock(ctrl_mu);
    return ctrl && ctrl->synced();
  };
  // Probes and scrapes inside the cluster network: plain HTTP, GET (and HEAD) only.
  namespace serve = core::serve;
  using Exchange = std::shared_ptr<serve::Exchange>;
  auto text = [](int code, std::string body) {
    return serve::Response(code, std::move(body), "text/plain; charset=utf-8");
  };
  serve::Router routes;
  auto get = [&routes](const std::string& path, serve::Handler h) {
    routes.add("GET", path, h).add("HEAD", path, h);
  };
  get("/metrics", [&](const Exchange& ex) {
    ex->respond({200, metrics.render(), "text/plain; version=0.0.4; charset=utf-8"});
  });
  get("/healthz", [&](const Exchange& ex) { ex->respond(text(200, "ok\n")); });
  get("/readyz", [&](const Exchange& ex) {
    if (leading && synced())
      return ex->respond(text(200, "ok\n"));
    ex->respond(text(503, leading ? "caches not synced\n" : "not the leader\n"));
  });
  get("/leader", [&](const Exchange& ex) {
    ex->respond(leading ? text(200, "leader\n") : text(503, "standby\n"));
  });
  // Any method but GET/HEAD is refused before the path is looked at.
  routes.on_not_found([&](const Exchange& ex) {
    const auto m = ex->request().method();
    const bool read = m == boost::beast::http::verb::get || m == boost::beast::http::verb::head;
    ex->respond(read ? text(404, "not found\n") : text(405, "only GET\n"));
  });
  routes.on_method_not_allowed([&](const Exchange& ex) { ex->respond(text(405, "only GET\n")); });
  serve::ServerOptions so;
  so.address = opts.http_address;
  so.port = opts.http_port;
  so.address_flag = "--http-address";
  auto server = serve::Server::start(so, std::move(routes));
  if (!server.ok()) {
    log::error("cannot serve metrics and probes", {{"error", server.error().to_string()}});
    return finish(1);
  }
  log::info("serving /metrics, /healthz, /readyz, /leader",
            {{"address", opts.http_address}, {"port", std::to_string((*server)->port())}});

  std::unique_ptr<core::kube::LeaderElector> elector;
  std::thread elector_thread;
  if (opts.leader_elect) {
    core::kube::LeaderElectionConfig lc;
    lc.lease_namespace = opts.install_namespace;
    lc.lease_name = opts.lease_name;
    lc.identity = opts.identity.empty() ? default_identity() : opts.identity;
    lc.on_started_leading = [&] { state.notify([&] { state.leading = true; }); };
    lc.on_stopped_leading = [&] { state.notify([&] { state.lost = state.leading; }); };
    lc.on_new_leader = [](const std::string& who) { log::info("leader", {{"identity", who}}); };
    if (auto st = core::kube::LeaderElector::validate(lc); !st.ok()) {
      log::error("bad leader election settings", {{"error", st.error().to_string()}});
      return finish(1);
    }
    elector = std::make_unique<core::kube::LeaderElector>(client, lc);
    log::info("waiting to lead", {{"lease", opts.install_namespace + "/" + opts.lease_name},
                                  {"identity", lc.identity}});
    elector_thread = std::thread([&] { elector->run(); });
  } else {
    state.leading = true;
  }

  int rc = 0;
  {
    std::unique_lock lock(state.mu);
    state.cv.wait(lock, [&] { return state.shutdown || state.leading || state.lost; });
  }
  bool start_leading = false;
  {
    std::lock_guard lock(state.mu);
    start_leading = state.leading && !state.shutdown;
  }
  if (start_leading) {
    leading = true;
    ControllerOptions co;
    co.vm_workers = opts.vm_workers;
    co.vmi_workers = opts.vmi_workers;
    co.install_namespace = opts.install_namespace;
    co.resync_period = opts.resync;
    {
      std::lock_guard lock(ctrl_mu);
      ctrl = std::make_unique<Controller>(client, metrics, co);
    }
    log::info("leading; starting controllers");
    if (auto st = ctrl->start(std::chrono::minutes(2)); !st.ok()) {
      log::error("controllers did not start", {{"error", st.error().to_string()}});
      rc = 1;
    } else if (replicas = std::make_unique<ReplicasController>(client, metrics);
               !replicas->start(std::chrono::minutes(2)).ok()) {
      log::error("replica set and pool controllers did not start");
      rc = 1;
    } else {
      std::unique_lock lock(state.mu);
      state.cv.wait(lock, [&] { return state.shutdown || state.lost; });
      if (state.lost && !state.shutdown) {
        log::error("leadership lost; exiting so a fresh process can rejoin the election");
        rc = 1;
      }
    }
  }
  leading = false;
  if (replicas)
    replicas->stop();
  if (ctrl)
    ctrl->stop();
  if (elector) {
    elector->stop();  // releases the lease so a standby takes over at once
    elector_thread.join();
  }
  (*server)->stop();
  {
    std::lock_guard lock(ctrl_mu);
    ctrl.reset();
  }
  log::info("stopped", {{"exit_code", std::to_string(rc)}});
  return finish(rc);
}

}  // namespace kv::controller
