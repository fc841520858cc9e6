#pragma once
// virt-handler: the node agent. Owns the VMIs whose status.nodeName is this node from Scheduled
// on, talks to their launchers through the command sockets in the pods' shared directories,
// writes their status (status_mapping.hpp), stops them when they are deleted, keeps the node's
// heartbeat and serves console/VNC streams and launcher commands to virt-api (stream_server.hpp).
// docs/handler.md describes the behaviour; this header the code's shape.
//
// Threads: two informers (VMIs, launcher pods of this node), `workers` reconcile threads fed by a
// WorkQueue, one io_context thread (launcher sockets, stream and metrics servers, timers), one
// heartbeat thread, and, when the certificate comes from a Secret, one thread that waits for it and
// then starts the stream server.

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "addon/cert_watch.hpp"
#include "core/kube/client.hpp"
#include "core/kube/events.hpp"
#include "core/kube/informer.hpp"
#include "core/kube/workqueue.hpp"
#include "core/log.hpp"
#include "core/result.hpp"
#include "handler/deviceplugin/devices.hpp"
#include "handler/launcher_links.hpp"
#include "handler/metrics.hpp"
#include "handler/socket_watch.hpp"

namespace kv::core::serve {
class Server;
}  // namespace kv::core::serve

namespace kv::handler {

struct Options {
  std::string node_name;   // required: this node
  std::string kubeconfig;  // empty: $KUBECONFIG, in-cluster, ~/.kube/config
  // The kubelet's --root-dir: launcher sockets are under
  // <kubelet_root>/pods/<pod uid>/<socket_subpath>/launcher.sock.
  std::string kubelet_root = "/var/lib/kubelet";
  std::string socket_subpath = "volumes/kubernetes.io~empty-dir/sockets";
  // The launcher's --ephemeral-dir, where virt-handler puts the node's QEMU capabilities before
  // the first sync (handler/capabilities_seed.hpp).
  std::string ephemeral_subpath = "volumes/kubernetes.io~empty-dir/ephemeral";
  // The kubelet's seccomp directory, where the launcher pods' Localhost profile is installed at
  // start (handler/seccomp.hpp). Empty: <kubelet_root>/seccomp.
  std::string seccomp_dir;
  // Console/VNC/command server for virt-api (HTTPS, client certificates required). Port 0:
  // disabled.
  std::string listen_address = "0.0.0.0";
  int stream_port = 8186;
  std::string tls_cert_file, tls_key_file;
  std::string client_ca_file;  // CA that signs virt-api's client certificate
  // Without the three files above, the stream server's certificate, key and client CA come
  // from this Secret (tls.crt, tls.key, ca.crt), which virt-api creates at its start
  // (addon/cert_secrets.hpp); the server starts as soon as the Secret is there.
  std::string certs_secret = "virt-handler-certs";
  std::string certs_namespace = "kubevirt";
  // Plain-HTTP /metrics and /healthz. Port 0: disabled.
  std::string metrics_address = "0.0.0.0";
  int metrics_port = 8185;
  std::chrono::seconds heartbeat_interval{60};
  // The node labeller's input directory (handler/node_labeller.hpp); labels are applied with each
  // heartbeat. Empty: no labelling.
  std::string node_labeller_dir;
  std::chrono::seconds resync_period{300};
  // How long after the grace period a launcher that was asked to shut down is killed.
  std::chrono::seconds kill_margin{10};
  int workers = 2;
  std::string log_level = "info";
  // devices.kubevirt.io/{kvm,tun,vhost-net} for the kubelet (handler/deviceplugin/).
  deviceplugin::Options device_plugins;
};

// The label virt-controller puts on a VMI naming its node, as soon as its launcher pod is bound
// (upstream's kubevirt.io/nodeName); the handler lists and watches only the VMIs carrying its
// node's name there (vmi_label_selector).
inline constexpr const char* kVmiNodeNameLabel = "kubevirt.io/nodeName";
std::string vmi_label_selector(const std::string& node_name);

// Validates options: an Error naming the flag and what is allowed.
core::Status validate(const Options& o);

class StreamServer;
struct StreamServerOptions;

class Handler {
 public:
  Handler(core::kube::KubeClient& client, Options opts);
  ~Handler();  // stop()
  Handler(const Handler&) = delete;
  Handler& operator=(const Handler&) = delete;

  // Starts the informers, waits for their first sync, starts the servers, workers and
  // heartbeat. Errors: a server that cannot bind, TLS files that do not load, informers that do
  // not sync within `sync_timeout`. When the certificate comes from a Secret, the stream server
  // starts later, on a background thread, once the Secret is there (stream_server_running()).
  core::Status start(std::chrono::milliseconds sync_timeout = std::chrono::seconds(60));
  // Stops everything and closes launcher connections; launchers and their VMs keep running.
  void stop();

  Metrics& metrics() { return metrics_; }
  // The stream server's bound port once it runs; 0 before (or when disabled).
  int stream_server_port() const;
  LauncherLinks& links() { return *links_; }

  // The launcher socket directory of a pod on this node.
  std::string socket_dir(const std::string& pod_uid) const;
  // <kubelet_root>/pods/<pod uid>/<subpath>: a launcher pod's volume as the node sees it.
  std::string pod_dir(const std::string& pod_uid, const std::string& subpath) const;
  // The launcher pod of a VMI (by its uid) on this node, preferring one not being deleted.
  core::kube::ObjectPtr launcher_pod(const std::string& vmi_uid) const;
  // The VMI "ns/name" from the cache, when it is on this node.
  core::kube::ObjectPtr vmi_on_node(const std::string& key) const;

 private:
  void worker();
  // One pass over a VMI; returns when to look again (nullopt: when something changes).
  core::Result<std::optional<std::chrono::milliseconds>> reconcile(const std::string& key);
  // The node's QEMU capabilities into the launcher pod's libvirt cache, before its first sync.
  void seed_capabilities(const std::string& pod_uid, const core::log::Logger& log);
  // Nothing of the VMI's launcher is kept: its link and any wait for its socket.
  void forget_launcher(const std::string& key);
  // Graceful shutdown through the launcher, then kill after grace + kill_margin.
  core::Result<std::optional<std::chrono::milliseconds>> stop_vm(const std::string& key,
                                                                 const LinkSnapshot& link,
                                                                 std::int64_t grace_seconds);
  core::Status write_status(const std::string& key, const StatusInput& first);
  void heartbeat_loop();
  // The node labeller's round (handler/node_labeller.hpp), on the heartbeat thread.
  void label_node();
  // The stream server with `so`'s TLS material (files or PEMs).
  core::Status start_stream_server(const StreamServerOptions& so);
  // The certificate Secret's data (from cert_watch_'s thread): starts the stream server with it,
  // or, once started, gives it the new certificate for the connections from then on.
  core::Status use_certificate_secret(const std::map<std::string, std::string>& data);
  void enqueue(const std::string& key) { queue_.add(key); }

  core::kube::KubeClient& client_;
  Options opts_;
  Metrics metrics_;
  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::thread io_thread_;
  std::unique_ptr<LauncherLinks> links_;
  std::unique_ptr<SocketWatch> sockets_;  // launcher sockets appearing, by inotify
  std::unique_ptr<core::kube::EventRecorder> recorder_;
  core::kube::WorkQueue queue_;
  std::unique_ptr<core::kube::Informer> vmis_, pods_;
  // Written by start() or the certificate thread, read by stream_server_port(): under stream_mu_.
  mutable std::mutex stream_mu_;
  std::unique_ptr<StreamServer> stream_;
  std::unique_ptr<addon::SecretWatch> cert_watch_;  // one per start()
  std::unique_ptr<core::serve::Server> metrics_server_;
  std::vector<std::thread> workers_;
  std::thread heartbeat_thread_;
  std::mutex hb_mu_;
  std::condition_variable hb_cv_;
  bool stopping_ = false;
  bool started_ = false;
};

// main(): load the kubeconfig, start a Handler, wait for SIGTERM/SIGINT. Returns the exit status.
int run(const Options& opts);

}  // namespace kv::handler
