#include "handler/handler.hpp"

#include <csignal>
#include <filesystem>

#include "addon/cert_secrets.hpp"
#include "addon/resources.hpp"
#include "api/v1/codec.hpp"
#include "core/kube/kubeconfig.hpp"
#include "core/log.hpp"
#include "core/names.hpp"
#include "core/serve/server.hpp"
#include "handler/capabilities_seed.hpp"
#include "handler/deviceplugin/manager.hpp"
#include "handler/heartbeat.hpp"
#include "handler/node_labeller.hpp"
#include "handler/seccomp.hpp"
#include "handler/stream_server.hpp"
#include "launcher_com/layout.hpp"

namespace kv::handler {
namespace fs = std::filesystem;
namespace json = core::json;
namespace kube = core::kube;
namespace proto = launcher_com::proto;
using api::v1::VmiPhase;
using core::Errc;
using core::Error;
using core::Result;
using core::Status;
using namespace std::chrono_literals;

namespace {

constexpr const char* kNodeIndex = "status.nodeName";
constexpr const char* kUidIndex = "metadata.uid";
constexpr const char* kCreatedByIndex = "created-by";
constexpr const char* kCreatedByLabel = "kubevirt.io/created-by";
constexpr const char* kFieldManager = "virt-handler";

bool on_node(const json::Value& vmi, const std::string& node) {
  const json::Value* n = json::find_path(vmi, {"status", "nodeName"});
  return n && n->IsString() && node == n->GetString();
}

std::string rfc3339_now() {
  return kube::format_rfc3339(std::chrono::system_clock::now());
}

// The grace period a deleted VMI gets (spec.terminationGracePeriodSeconds, upstream's default).
std::int64_t grace_seconds(const api::v1::VirtualMachineInstance& vmi) {
  return vmi.spec.termination_grace_period_seconds.value_or(30);
}

using core::is_dns_label;
using core::is_dns_subdomain;

}  // namespace

std::string vmi_label_selector(const std::string& node_name) {
  return std::string(kVmiNodeNameLabel) + "=" + node_name;
}

Status validate(const Options& o) {
  if (o.node_name.empty())
    return Error(Errc::invalid, "--node-name: required (the name of this node's Node object)");
  KV_CHECK(deviceplugin::validate(o.device_plugins));
  if (o.kubelet_root.empty() || o.kubelet_root[0] != '/')
    return Error(Errc::invalid, "--kubelet-root: \"" + o.kubelet_root +
                                    "\" is not an absolute path (the kubelet's --root-dir)");
  if (o.stream_port < 0 || o.stream_port > 65535)
    return Error(Errc::invalid, "--stream-port: " + std::to_string(o.stream_port) +
                                    " is not a port (0 disables the server, 1-65535)");
  if (o.metrics_port < 0 || o.metrics_port > 65535)
    return Error(Errc::invalid, "--metrics-port: " + std::to_string(o.metrics_port) +
                                    " is not a port (0 disables the server, 1-65535)");
  if (o.stream_port != 0) {
    const int files =
        !o.tls_cert_file.empty() + !o.tls_key_file.empty() + !o.client_ca_file.empty();
    if (files != 0 && files != 3)
      return Error(Errc::invalid,
                   "--tls-cert, --tls-key and --client-ca: give all three, or none to read the "
                   "certificate from Secret " +
                       o.certs_namespace + "/" + o.certs_secret +
                       " (--certs-namespace, --certs-secret)");
    if (files == 0) {
      if (!is_dns_subdomain(o.certs_secret))
        return Error(Errc::invalid, "--certs-secret: \"" + o.certs_secret +
                                        "\" is not a Secret name (lower-case letters, digits, "
                                        "'-' and '.', at most 253 characters)");
      if (!is_dns_label(o.certs_namespace))
        return Error(Errc::invalid, "--certs-namespace: \"" + o.certs_namespace +
                                        "\" is not a namespace name (lower-case letters, "
                                        "digits and '-', at most 63 characters)");
    }
  }
  if (o.workers < 1 || o.workers > 64)
    return Error(Errc::invalid,
                 "--workers: " + std::to_string(o.workers) + " is not between 1 and 64");
  if (o.heartbeat_interval.count() < 1)
    return Error(Errc::invalid, "--heartbeat-interval: must be at least 1 second");
  return {};
}

Handler::Handler(kube::KubeClient& client, Options opts) : client_(client), opts_(std::move(opts)) {
  metrics_.declare("kubevirt_handler_vmis", Metrics::Type::gauge,
                   "VirtualMachineInstances on this node, by phase.");
  metrics_.declare("kubevirt_handler_status_writes_total", Metrics::Type::counter,
                   "VMI status writes, by result (ok, conflict, error).");
  metrics_.declare("kubevirt_handler_errors_total", Metrics::Type::counter,
                   "Errors by kind (decode, reconcile, heartbeat, api).");
  metrics_.declare("kubevirt_handler_reconciles_total", Metrics::Type::counter,
                   "Reconcile passes over a VMI.");
  metrics_.declare("kubevirt_handler_phase_transitions_total", Metrics::Type::counter,
                   "VMI phase transitions written by the handler, by phase.");
  metrics_.declare("kubevirt_handler_stream_server_ready", Metrics::Type::gauge,
                   "1 when the console/VNC server for virt-api runs; 0 while it waits for its "
                   "certificate Secret.");
  recorder_ = std::make_unique<kube::EventRecorder>(
      client_, kube::EventSource{"virt-handler", opts_.node_name});
  links_ = std::make_unique<LauncherLinks>(io_, metrics_,
                                           [this](const std::string& key) { enqueue(key); });
  sockets_ = std::make_unique<SocketWatch>(io_, launcher_com::kCommandSocketName,
                                           [this](const std::string& key) { enqueue(key); });
}

Handler::~Handler() {
  stop();
}

std::string Handler::pod_dir(const std::string& pod_uid, const std::string& subpath) const {
  return opts_.kubelet_root + "/pods/" + pod_uid + "/" + subpath;
}

std::string Handler::socket_dir(const std::string& pod_uid) const {
  return pod_dir(pod_uid, opts_.socket_subpath);
}

kube::ObjectPtr Handler::launcher_pod(const std::string& vmi_uid) const {
  kube::ObjectPtr best;
  for (auto& p : pods_->store().by_index(kCreatedByIndex, vmi_uid)) {
    if (!best ||
        (kube::meta::has_deletion_timestamp(*best) && !kube::meta::has_deletion_timestamp(*p)))
      best = p;
  }
  return best;
}

kube::ObjectPtr Handler::vmi_on_node(const std::string& key) const {
  auto obj = vmis_ ? vmis_->store().get(key) : nullptr;
  if (!obj || !on_node(*obj, opts_.node_name))
    return nullptr;
  return obj;
}

Status Handler::start(std::chrono::milliseconds sync_timeout) {
  if (started_)
    return {};
  KV_CHECK(validate(opts_));
  started_ = true;
  const std::string node = opts_.node_name;

  kube::InformerOptions vo;
  vo.resync_period = opts_.resync_period;
  // Only this node's VMIs, as upstream's handler: CRDs have no field selector on
  // status.nodeName, so the label virt-controller sets as soon as the launcher pod is bound to a
  // node (kubevirt.io/nodeName, before Scheduled: the early start needs the VMI then) selects
  // them. A VMI whose label moves to another node leaves the cache like a deleted one.
  vo.list_watch.label_selector = vmi_label_selector(node);
  vmis_ =
      std::make_unique<kube::Informer>(client_, addon::resources::virtual_machine_instances(), vo);
  vmis_->add_index(kNodeIndex, kube::index_by_field({"status", "nodeName"}));
  vmis_->add_index(kUidIndex, kube::index_by_field({"metadata", "uid"}));
  auto vmi_changed = [this, node](const kube::ObjectPtr& o) {
    if (on_node(*o, node))
      enqueue(kube::meta::key(*o));
  };
  vmis_->add_handlers({vmi_changed,
                       [this, node](const kube::ObjectPtr& old, const kube::ObjectPtr& now) {
                         if (on_node(*now, node) || on_node(*old, node))
                           enqueue(kube::meta::key(*now));
                       },
                       [this, node](const kube::ObjectPtr& o) {
                         if (on_node(*o, node))
                           enqueue(kube::meta::key(*o));
                       }});

  kube::InformerOptions po;
  po.list_watch.field_selector = "spec.nodeName=" + node;
  po.list_watch.label_selector = "kubevirt.io=virt-launcher";
  po.resync_period = opts_.resync_period;
  pods_ = std::make_unique<kube::Informer>(client_, kube::resources::pods(), po);
  pods_->add_index(kCreatedByIndex, kube::index_by_label(kCreatedByLabel));
  auto pod_changed = [this](const kube::ObjectPtr& p) {
    auto uid = kube::meta::label(*p, kCreatedByLabel);
    if (!uid)
      return;
    for (auto& v : vmis_->store().by_index(kUidIndex, std::string(*uid)))
      enqueue(kube::meta::key(*v));
  };
  pods_->add_handlers(
      {pod_changed,
       [pod_changed](const kube::ObjectPtr&, const kube::ObjectPtr& now) { pod_changed(now); },
       pod_changed});

  metrics_.add_collector([this](Metrics& m) {
    m.reset("kubevirt_handler_vmis");
    std::map<std::string, int> by_phase;
    for (const char* p : {"Scheduled", "Running", "Succeeded", "Failed"})
      by_phase[p] = 0;
    for (auto& v : vmis_->store().by_index(kNodeIndex, opts_.node_name)) {
      const json::Value* ph = json::find_path(*v, {"status", "phase"});
      by_phase[ph && ph->IsString() ? ph->GetString() : "Unknown"]++;
    }
    for (auto& [phase, n] : by_phase)
      m.set("kubevirt_handler_vmis", {{"phase", phase}}, n);
  });

  work_.emplace(io_.get_executor());
  io_thread_ = std::thread([this] { io_.run(); });

  // Pods first: a VMI's reconcile reads its pod from the cache.
  pods_->start();
  vmis_->start();
  if (!pods_->wait_for_sync(sync_timeout) || !vmis_->wait_for_sync(sync_timeout))
    return Error(Errc::timeout, "the VMI and pod informers did not sync within " +
                                    std::to_string(sync_timeout.count()) + " ms");

  if (opts_.metrics_port != 0) {
    // Plain HTTP, one request per connection; nothing secret is served here.
    namespace serve = core::serve;
    using Exchange = std::shared_ptr<serve::Exchange>;
    auto once = [](serve::Response r) {
      r.close = true;
      return r;
    };
    serve::Router routes;
    routes.add("GET", "/metrics", [this, once](const Exchange& ex) {
      ex->respond(once({200, metrics_.render(), "text/plain; version=0.0.4"}));
    });
    routes.add("GET", "/healthz", [once](const Exchange& ex) { ex->respond(once({200, "ok\n"})); });
    auto not_found = [once](const Exchange& ex) {
      ex->respond(once({404, "not found: " + std::string(ex->request().target()) +
                                 " (served: /metrics, /healthz)\n"}));
    };
    routes.on_not_found(not_found).on_method_not_allowed(not_found);
    serve::ServerOptions so;
    so.address = opts_.metrics_address;
    so.port = opts_.metrics_port;
    so.address_flag = "--metrics-address";
    so.name = "metrics server";
    auto ms = serve::Server::start(io_, std::move(so), std::move(routes));
    if (!ms.ok())
      return std::move(ms).error();
    metrics_server_ = std::move(*ms);
  }
  if (opts_.stream_port != 0) {
    if (!opts_.tls_cert_file.empty()) {
      StreamServerOptions so;
      so.cert_file = opts_.tls_cert_file;
      so.key_file = opts_.tls_key_file;
      so.client_ca_file = opts_.client_ca_file;
      KV_CHECK(start_stream_server(so));
    } else {
      // Everything else runs meanwhile: VMs keep being managed and /healthz answers while
      // virt-api (which makes the certificates) is not up yet. Later changes of the Secret
      // (a rotated certificate) reach the running server without a restart.
      metrics_.set("kubevirt_handler_stream_server_ready", {}, 0);
      core::log::info("stream server: waiting for its certificate Secret",
                      {{"secret", opts_.certs_namespace + "/" + opts_.certs_secret}});
      cert_watch_ = std::make_unique<addon::SecretWatch>(
          client_, opts_.certs_namespace, opts_.certs_secret,
          std::vector<std::string>{"tls.crt", "tls.key", "ca.crt"},
          [this](const addon::SecretWatch::Data& d) { return use_certificate_secret(d); });
    }
  }

  for (int i = 0; i < opts_.workers; ++i)
    workers_.emplace_back([this] { worker(); });
  heartbeat_thread_ = std::thread([this] { heartbeat_loop(); });
  core::log::info("virt-handler started", {{"node", node},
                                           {"kubelet_root", opts_.kubelet_root},
                                           {"stream_port", std::to_string(opts_.stream_port)},
                                           {"metrics_port", std::to_string(opts_.metrics_port)}});
  return {};
}

Status Handler::start_stream_server(const StreamServerOptions& base) {
  StreamServerOptions so = base;
  so.address = opts_.listen_address;
  so.port = opts_.stream_port;
  StreamBackend backend;
  backend.socket_dir = [this](const std::string& ns,
                              const std::string& name) -> Result<std::string> {
    auto vmi = vmi_on_node(kube::meta::key(ns, name));
    if (!vmi)
      return Error(Errc::not_found, "VirtualMachineInstance " + ns + "/" + name +
                                        " is not on node " + opts_.node_name);
    auto pod = launcher_pod(std::string(kube::meta::uid(*vmi)));
    if (!pod)
      return Error(Errc::unavailable,
                   "the launcher pod of " + ns + "/" + name + " is not on this node (yet)");
    return socket_dir(std::string(kube::meta::uid(*pod)));
  };
  backend.command = [this](const std::string& ns, const std::string& name, proto::Command c,
                           std::function<void(Status)> done) {
    const std::string key = kube::meta::key(ns, name);
    if (!vmi_on_node(key)) {
      done(Error(Errc::not_found,
                 "VirtualMachineInstance " + key + " is not on node " + opts_.node_name));
      return;
    }
    proto::Request r;
    r.command = c;
    links_->request(key, std::move(r), [done](Result<proto::Response> resp) {
      if (!resp.ok())
        done(std::move(resp).error());
      else if (!resp->ok())
        done(*resp->error);
      else
        done(Status{});
    });
  };
  backend.pod_ip = [this](const std::string& ns, const std::string& name) -> Result<std::string> {
    auto vmi = vmi_on_node(kube::meta::key(ns, name));
    if (!vmi)
      return Error(Errc::not_found, "VirtualMachineInstance " + ns + "/" + name +
                                        " is not on node " + opts_.node_name);
    auto pod = launcher_pod(std::string(kube::meta::uid(*vmi)));
    const auto* ip = pod ? core::json::find_path(*pod, {"status", "podIP"}) : nullptr;
    if (!ip || !ip->IsString() || ip->GetStringLength() == 0)
      return Error(Errc::unavailable,
                   "the launcher pod of " + ns + "/" + name + " has no IP on this node (yet)");
    return std::string(ip->GetString(), ip->GetStringLength());
  };
  auto ss = StreamServer::start(io_, so, std::move(backend), metrics_);
  if (!ss.ok())
    return std::move(ss).error();
  std::lock_guard lock(stream_mu_);
  stream_ = std::move(*ss);
  metrics_.set("kubevirt_handler_stream_server_ready", {}, 1);
  return {};
}

int Handler::stream_server_port() const {
  std::lock_guard lock(stream_mu_);
  return stream_ ? stream_->port() : 0;
}

Status Handler::use_certificate_secret(const std::map<std::string, std::string>& data) {
  const std::string secret = opts_.certs_namespace + "/" + opts_.certs_secret;
  Status st;
  {
    std::lock_guard lock(stream_mu_);
    if (stream_) {
      // virt-api's client certificate is signed by the same CA as ours.
      st = stream_->set_certificate(data.at("tls.crt"), data.at("tls.key"), data.at("ca.crt"));
      if (st.ok())
        core::log::info("stream server: new connections get the certificate now in its Secret",
                        {{"secret", secret}});
    }
  }
  if (stream_server_port() == 0) {
    StreamServerOptions so;
    so.cert_pem = data.at("tls.crt");
    so.key_pem = data.at("tls.key");
    so.client_ca_pem = data.at("ca.crt");
    st = start_stream_server(so);
    if (st.ok())
      core::log::info("stream server started with the certificate from its Secret",
                      {{"secret", secret}, {"port", std::to_string(stream_server_port())}});
  }
  // A Secret that does not load (edited by hand?) or a port in use: the next change of the
  // Secret is tried again.
  if (!st.ok())
    metrics_.inc("kubevirt_handler_errors_total", {{"kind", "certificate"}});
  return st;
}

void Handler::stop() {
  if (!started_)
    return;
  started_ = false;
  {
    std::lock_guard lock(hb_mu_);
    stopping_ = true;
  }
  hb_cv_.notify_all();
  cert_watch_.reset();  // stops the watch and joins its thread
  queue_.shut_down();
  for (auto& t : workers_)
    t.join();
  workers_.clear();
  if (heartbeat_thread_.joinable())
    heartbeat_thread_.join();
  if (vmis_)
    vmis_->stop();
  if (pods_)
    pods_->stop();
  links_->close_all();
  if (stream_)
    stream_->stop();
  if (metrics_server_)
    metrics_server_->stop();
  work_.reset();
  // Let the closes run, then stop.
  boost::asio::post(io_, [this] { io_.stop(); });
  if (io_thread_.joinable())
    io_thread_.join();
  {
    std::lock_guard lock(stream_mu_);
    stream_.reset();
  }
  metrics_server_.reset();
}

void Handler::worker() {
  while (auto key = queue_.get()) {
    metrics_.inc("kubevirt_handler_reconciles_total");
    auto r = reconcile(*key);
    if (!r.ok()) {
      metrics_.inc("kubevirt_handler_errors_total", {{"kind", "reconcile"}});
      core::log::warn("reconcile failed; will retry",
                      {{"vmi", *key}, {"error", r.error().to_string()}});
      queue_.add_rate_limited(*key);
    } else {
      queue_.forget(*key);
      if (*r)
        queue_.add_after(*key, **r);
    }
    queue_.done(*key);
  }
}

void Handler::seed_capabilities(const std::string& pod_uid, const core::log::Logger& log) {
  if (opts_.node_labeller_dir.empty())
    return;
  const std::string from = opts_.node_labeller_dir + "/" + kNodeLibvirtCacheSubdir + "/" +
                           launcher_com::kLibvirtCapabilitiesSubdir;
  auto n = handler::seed_capabilities(from, pod_dir(pod_uid, opts_.ephemeral_subpath));
  if (!n.ok())
    log.warn("cannot hand the node's QEMU capabilities to the launcher: its libvirt probes QEMU",
             {{"error", n.error().to_string()}});
  else if (*n > 0)
    log.info("handed the node's QEMU capabilities to the launcher",
             {{"files", std::to_string(*n)}});
}

void Handler::forget_launcher(const std::string& key) {
  sockets_->unwatch(key);
  links_->drop(key);
}

Result<std::optional<std::chrono::milliseconds>> Handler::reconcile(const std::string& key) {
  std::optional<std::chrono::milliseconds> again;
  auto obj = vmis_->store().get(key);
  if (!obj) {
    // Deleted (no finalizer held it): a VM still running must be shut down all the same.
    LinkSnapshot link = links_->snapshot(key);
    if (!link.view.connected || link.view.exit_reason) {
      forget_launcher(key);
      return again;
    }
    return stop_vm(key, link, link.grace_seconds);
  }
  auto vmi = api::v1::decode_vmi(*obj);
  if (!vmi.ok()) {
    metrics_.inc("kubevirt_handler_errors_total", {{"kind", "decode"}});
    core::log::error("cannot decode VMI", {{"vmi", key}, {"error", vmi.error().to_string()}});
    return again;  // a retry would not help: wait for the next change
  }
  auto pod_obj = launcher_pod(vmi->metadata.uid.value_or(""));  // pods on this node only
  PodView pod = pod_obj ? pod_view_from(*pod_obj) : PodView{};
  if (!handler_starts_early(*vmi, pod, opts_.node_name)) {
    if (!on_node(*obj, opts_.node_name)) {
      // Not ours (any more): nothing of it is ours to keep.
      forget_launcher(key);
      return again;
    }
    if (!handler_owns(*vmi, opts_.node_name)) {
      if (is_final(*vmi))
        forget_launcher(key);
      return again;
    }
  }
  core::log::Logger log({vmi->metadata.namespace_.value_or(""), vmi->metadata.name.value_or(""),
                         vmi->metadata.uid.value_or("")});

  const bool deleting = vmi->metadata.deletion_timestamp.has_value();
  LinkSnapshot link = links_->snapshot(key);

  // --- toward the launcher
  if (pod.exists && !link.view.exit_reason && pod.phase != "Succeeded" && pod.phase != "Failed") {
    const std::string dir = socket_dir(pod.uid);
    const std::string sock = dir + "/" + launcher_com::kCommandSocketName;
    if (!link.view.connected || link.socket_path != sock) {
      // The launcher may still be starting, or restarting. Watch its directory first, then
      // look, so a socket made in between is not missed.
      std::error_code ec;
      const bool watching = sockets_->watch(key, dir).ok();
      if (fs::exists(sock, ec)) {
        sockets_->unwatch(key);
        links_->connect(key, sock);
      }
      // The connect's outcome or the socket's creation enqueues the key; the timer is the
      // backstop. Without a watch (the kubelet has not made the directory yet), look soon.
      again = watching ? 1000ms : 100ms;
    } else if (!deleting) {
      if (!link.sync_sent) {
        seed_capabilities(pod.uid, log);
        links_->mark_sync_sent(key, grace_seconds(*vmi));
        proto::Request r;
        r.command = proto::Command::sync;
        r.vmi = obj;  // the cached object itself: serialized once, into the frame
        links_->request(key, std::move(r), [log](Result<proto::Response> resp) {
          if (!resp.ok())
            log.warn("sync failed", {{"error", resp.error().to_string()}});
          else if (!resp->ok())
            log.warn("launcher refused sync", {{"error", resp->error->to_string()}});
          else
            log.info("synced", {{"state", resp->status ? resp->status->state : ""}});
        });
      }
    } else {
      auto r = stop_vm(key, link, grace_seconds(*vmi));
      if (!r.ok())
        return r;
      again = *r;
    }
  }

  // --- the VMI's status
  StatusInput in;
  in.vmi = &*vmi;
  in.launcher = link.view;
  in.pod = pod;
  in.now = rfc3339_now();
  KV_CHECK(write_status(key, in));
  return again;
}

Result<std::optional<std::chrono::milliseconds>> Handler::stop_vm(const std::string& key,
                                                                  const LinkSnapshot& link,
                                                                  std::int64_t grace_secs) {
  std::optional<std::chrono::milliseconds> again;
  const auto grace = std::chrono::seconds(grace_secs);
  const auto now = std::chrono::steady_clock::now();
  if (!link.shutdown_sent) {
    links_->mark_shutdown_sent(key);
    core::log::info("VMI deleted: shutting the VM down",
                    {{"vmi", key}, {"grace_seconds", std::to_string(grace.count())}});
    proto::Request r;
    r.command = proto::Command::shutdown;
    r.grace_period_seconds = grace.count();
    links_->request(key, std::move(r), [key](Result<proto::Response> resp) {
      if (!resp.ok() || !resp->ok())
        core::log::warn(
            "shutdown request failed",
            {{"vmi", key},
             {"error", resp.ok() ? resp->error->to_string() : resp.error().to_string()}});
    });
    again = std::chrono::duration_cast<std::chrono::milliseconds>(grace + opts_.kill_margin);
  } else if (!link.kill_sent) {
    auto deadline = link.shutdown_sent_at + grace + opts_.kill_margin;
    if (now >= deadline) {
      // The launcher enforces the grace period itself; this is the backstop for a launcher
      // that did not.
      links_->mark_kill_sent(key);
      core::log::warn("grace period passed: killing the VM", {{"vmi", key}});
      proto::Request r;
      r.command = proto::Command::kill;
      links_->request(key, std::move(r), nullptr);
    } else {
      again = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now) + 10ms;
    }
  }
  return again;
}

Status Handler::write_status(const std::string& key, const StatusInput& first) {
  StatusInput in = first;
  std::optional<api::v1::VirtualMachineInstance> fresh;
  const auto vmis = addon::resources::virtual_machine_instances();
  for (int attempt = 0; attempt < 5; ++attempt) {
    auto desired = desired_status(in);
    auto patch = status_patch(*in.vmi, desired);
    if (!patch) {
      if (in.launcher.connected)
        core::log::debug("status up to date", {{"vmi", key}});
      return {};
    }
    const auto& md = in.vmi->metadata;
    kube::PatchOptions po;
    po.subresource = "status";
    po.field_manager = kFieldManager;
    auto r = client_.patch(vmis, md.namespace_.value_or(""), md.name.value_or(""),
                           kube::PatchType::merge, *patch, po);
    if (r.ok()) {
      metrics_.inc("kubevirt_handler_status_writes_total", {{"result", "ok"}});
      auto before = in.vmi->status ? in.vmi->status->phase : std::nullopt;
      if (desired.phase != before && desired.phase) {
        std::string phase(api::v1::to_string(*desired.phase));
        metrics_.inc("kubevirt_handler_phase_transitions_total", {{"phase", phase}});
        core::log::Logger({md.namespace_.value_or(""), md.name.value_or(""), md.uid.value_or("")})
            .info("phase", {{"phase", phase}, {"reason", desired.reason.value_or("")}});
        // What `kubectl describe vmi` shows.
        kube::ObjectReference ref;
        ref.api_version = std::string(api::v1::kApiVersion);
        ref.kind = std::string(api::v1::kVirtualMachineInstanceKind);
        ref.ns = md.namespace_.value_or("");
        ref.name = md.name.value_or("");
        ref.uid = md.uid.value_or("");
        if (*desired.phase == VmiPhase::running)
          recorder_->record(ref, "Normal", "Started", "VirtualMachineInstance started.");
        else if (*desired.phase == VmiPhase::succeeded)
          recorder_->record(ref, "Normal", "Stopped", "The VirtualMachineInstance was shut down.");
        else if (*desired.phase == VmiPhase::failed) {
          std::string why = desired.reason.value_or("");
          for (const auto& c : desired.conditions)
            if (c.type == "Ready" && c.message)
              why = *c.message;
          recorder_->record(ref, "Warning", desired.reason.value_or("Failed"),
                            "The VirtualMachineInstance failed: " + why);
        }
      }
      if (auto failure = new_sync_failure(*in.vmi, desired))
        recorder_->record({std::string(api::v1::kApiVersion),
                           std::string(api::v1::kVirtualMachineInstanceKind),
                           md.namespace_.value_or(""),
                           md.name.value_or(""),
                           md.uid.value_or(""),
                           {},
                           {}},
                          "Warning", "SyncFailed", *failure);
      return {};
    }
    if (r.error().code != Errc::conflict) {
      metrics_.inc("kubevirt_handler_status_writes_total", {{"result", "error"}});
      return std::move(r).error();
    }
    // Someone wrote in between: decide again from what is stored now.
    metrics_.inc("kubevirt_handler_status_writes_total", {{"result", "conflict"}});
    auto got = client_.get(vmis, md.namespace_.value_or(""), md.name.value_or(""));
    if (!got.ok())
      return std::move(got).error();
    auto decoded = api::v1::decode_vmi(*got);
    if (!decoded.ok())
      return std::move(decoded).error();
    fresh = std::move(*decoded);
    if (!handler_owns(*fresh, opts_.node_name))
      return {};
    in.vmi = &*fresh;
  }
  return Error(Errc::conflict, "status of " + key + " kept changing under us (5 conflicts)");
}

void Handler::heartbeat_loop() {
  for (;;) {
    auto st = write_heartbeat(client_, opts_.node_name, std::chrono::system_clock::now());
    if (!st.ok()) {
      metrics_.inc("kubevirt_handler_errors_total", {{"kind", "heartbeat"}});
      core::log::warn("heartbeat failed",
                      {{"node", opts_.node_name}, {"error", st.error().to_string()}});
    }
    if (!opts_.node_labeller_dir.empty())
      label_node();
    std::unique_lock lock(hb_mu_);
    if (hb_cv_.wait_for(lock, opts_.heartbeat_interval, [this] { return stopping_; }))
      return;
  }
}

void Handler::label_node() {
  auto labels = labels_from_dir(opts_.node_labeller_dir);
  core::Result<bool> applied = labels.ok() ? apply_node_labels(client_, opts_.node_name, *labels)
                                           : core::Result<bool>(labels.error());
  if (!applied.ok()) {
    metrics_.inc("kubevirt_handler_errors_total", {{"kind", "labeller"}});
    core::log::warn("node labelling failed",
                    {{"node", opts_.node_name}, {"error", applied.error().to_string()}});
  } else if (*applied) {
    core::log::info("node labels updated",
                    {{"node", opts_.node_name}, {"labels", std::to_string(labels->size())}});
  }
}

int run(const Options& opts) {
  if (auto st = validate(opts); !st.ok()) {
    core::log::error("bad options", {{"error", st.error().message}});
    return 64;
  }
  kube::KubeconfigOptions ko;
  ko.path = opts.kubeconfig;
  auto cfg = kube::load_default(ko);
  if (!cfg.ok()) {
    core::log::error("no Kubernetes config", {{"error", cfg.error().to_string()}});
    return 1;
  }
  auto client = kube::make_client(*cfg);
  if (!client.ok()) {
    core::log::error("cannot make a Kubernetes client", {{"error", client.error().to_string()}});
    return 1;
  }
  // Signals are taken synchronously by this thread; every other thread blocks them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  // Before anything that lets a launcher pod start here: the kubelet cannot create its
  // containers until their seccomp profile exists.
  std::string seccomp_dir =
      opts.seccomp_dir.empty() ? opts.kubelet_root + "/seccomp" : opts.seccomp_dir;
  auto installed = install_seccomp_profile(seccomp_dir);
  if (!installed.ok()) {
    core::log::error("cannot install the launcher pods' seccomp profile",
                     {{"error", installed.error().to_string()}, {"dir", seccomp_dir}});
    return 1;
  }
  core::log::info(*installed ? "seccomp profile installed" : "seccomp profile up to date",
                  {{"path", seccomp_dir + "/" + kLauncherSeccompProfile}});

  Handler h(**client, opts);
  if (auto st = h.start(); !st.ok()) {
    core::log::error("virt-handler could not start", {{"error", st.error().to_string()}});
    return 1;
  }
  std::optional<deviceplugin::Manager> devices;
  if (!opts.device_plugins.plugin_dir.empty()) {
    deviceplugin::Options dp = opts.device_plugins;
    // The labeller judged the node's own /dev/kvm; a stand-in device root (a test hook) is
    // another device.
    if (dp.kvm_unusable_file.empty() && !opts.node_labeller_dir.empty() && dp.device_root == "/")
      dp.kvm_unusable_file = opts.node_labeller_dir + "/" + std::string(kKvmUnusableFile);
    if (auto st = devices.emplace(dp).start(); !st.ok()) {
      core::log::error("device plugins could not start", {{"error", st.error().to_string()}});
      return 1;
    }
  }
  int sig = 0;
  sigwait(&set, &sig);
  core::log::info("signal: stopping (launchers and VMs keep running)",
                  {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
  h.stop();
  return 0;
}

}  // namespace kv::handler
