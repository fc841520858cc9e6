#include "launcher/launcher.hpp"

#include <fcntl.h>
#include <linux/kvm.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <utility>  // before Asio: Boost 1.74 awaitable.hpp uses std::exchange unincluded

#include <boost/asio.hpp>
#include <csignal>
#include <filesystem>

#include "api/v1/codec.hpp"
#include "core/files.hpp"
#include "core/log.hpp"
#include "launcher/console.hpp"
#include "launcher/disks.hpp"
#include "launcher/domain/domain.hpp"
#include "launcher/domain_builder.hpp"
#include "launcher/domain_manager_impl.hpp"
#include "launcher/domain_supervisor.hpp"
#include "launcher/libvirtd.hpp"
#include "launcher/libvirtd_restart.hpp"
#include "launcher/passt.hpp"
#include "launcher/process.hpp"
#include "launcher_com/command_server.hpp"

namespace kv::launcher {
namespace asio = boost::asio;
namespace fs = std::filesystem;
namespace klog = core::log;
using core::Errc;
using core::Error;
using core::Result;
using launcher_com::CommandServer;
using namespace std::chrono_literals;

namespace {

// /dev/kvm is usable when we can open it and create a VM (a node may have the device without
// access for our uid, as this project's test host does).
bool kvm_usable() {
  int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (fd < 0)
    return false;
  bool ok = ioctl(fd, KVM_GET_API_VERSION, 0) == KVM_API_VERSION;
  if (ok) {
    int vm = ioctl(fd, KVM_CREATE_VM, 0);
    ok = vm >= 0;
    if (vm >= 0)
      close(vm);
  }
  close(fd);
  return ok;
}

std::string existing(const std::string& path) {
  std::error_code ec;
  return fs::exists(path, ec) ? path : std::string();
}

core::Status make_dir(const std::string& path) {
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec)
    return Error(Errc::io, "cannot create " + path + ": " + ec.message()).with("path", path);
  return {};
}

// Logging, subreaping, libvirt's autostart off and SIGPIPE ignored: what the process needs
// before anything else. Logs what failed.
core::Status init_process(const Options& opts) {
  auto level = klog::parse_level(opts.log_level);
  if (!level.ok()) {
    klog::error(level.error().message, {{"flag", "--log-level"}});
    return std::move(level).error();
  }
  klog::init("virt-launcher", *level);
  if (auto st = start_reaper(); !st.ok()) {
    klog::error("cannot become a child subreaper", {{"error", st.error().to_string()}});
    return st;
  }
  setenv("LIBVIRT_AUTOSTART", "0", 1);
  // libvirt's client writes to the daemon's socket with write(2): a daemon that died under a
  // write (a keepalive ping, the close of a dead connection) would kill us with SIGPIPE, silently,
  // instead of failing the call with EPIPE. libvirt asks its applications to ignore it. Children
  // get the default back (core/process.hpp).
  std::signal(SIGPIPE, SIG_IGN);
  return {};
}

PodEnvironment probe_pod_environment(const Options& opts) {
  PodEnvironment env;
  env.kvm_usable = kvm_usable();
  env.allow_emulation = opts.allow_emulation;
  env.ovmf_code = existing("/usr/share/OVMF/OVMF_CODE_4M.fd");
  env.ovmf_vars = existing("/usr/share/OVMF/OVMF_VARS_4M.fd");
  env.ovmf_secboot_code = existing("/usr/share/OVMF/OVMF_CODE_4M.secboot.fd");
  env.ovmf_secboot_vars = existing("/usr/share/OVMF/OVMF_VARS_4M.ms.fd");
  env.socket_dir = fs::absolute(opts.socket_dir).string();
  env.ephemeral_dir = fs::absolute(opts.ephemeral_dir).string();
  env.container_disk_dir = opts.container_disk_dir;
  env.kernel_boot_dir = opts.kernel_boot_dir;
  env.pvc_dir = opts.pvc_dir;
  env.config_map_dir = opts.config_map_dir;
  env.secret_dir = opts.secret_dir;
  env.service_account_dir = opts.service_account_dir;
  env.downward_api_dir = opts.downward_api_dir;
  env.sysprep_dir = opts.sysprep_dir;
  env.pod_ip = opts.pod_ip;
  klog::info("pod environment", {{"kvm", env.kvm_usable ? "usable" : "not usable"},
                                 {"allow_emulation", env.allow_emulation ? "true" : "false"},
                                 {"ovmf", env.ovmf_code.empty() ? "absent" : "present"}});
  return env;
}

// The DomainManager needs the domain's name, which comes with the VMI; this forwarding manager
// creates the real one (with `make`) on the first define.
class LazyDomainManager : public DomainManager {
 public:
  std::function<Result<DomainManager*>()> make;
  DomainManager* real = nullptr;

  core::Status define_and_start(const std::string& xml, bool paused) override {
    if (!real) {
      auto m = make();
      if (!m.ok())
        return std::move(m).error();
      real = *m;
    }
    return real->define_and_start(xml, paused);
  }
#define KV_FORWARD(fn)                                               \
  core::Status fn() override {                                       \
    if (!real)                                                       \
      return Error(Errc::invalid, "no domain has been defined yet"); \
    return real->fn();                                               \
  }
  KV_FORWARD(shutdown)
  KV_FORWARD(destroy)
  KV_FORWARD(pause)
  KV_FORWARD(resume)
  KV_FORWARD(reboot)
  KV_FORWARD(reset)
#undef KV_FORWARD
  Result<DomainInfo> info() override {
    if (!real)
      return DomainInfo{};
    return real->info();
  }
};

// One run of the launcher, step by step: the private libvirtd, the supervisor, the command
// socket, signals, the optional --vmi-file sync, then the exit path; and, when libvirtd goes
// away, its restart (libvirtd_restart.hpp). Everything runs on io_'s thread except libvirt's
// callbacks and the daemon's exit handler, which post to it. Members are declared in the order
// they come up and go down in reverse (the supervisor refers to lazy_).
class Launcher {
 public:
  // Signals first, so a SIGTERM during start-up is not lost: asio queues it until io_.run().
  explicit Launcher(const Options& opts)
      : opts_(opts), signals_(io_, SIGTERM, SIGINT), grace_timer_(io_), restart_timer_(io_) {}

  int run() {
    if (!make_dirs().ok())
      return 1;
    env_ = probe_pod_environment(opts_);
    if (!start_libvirt().ok())
      return 1;
    create_supervisor();
    if (!serve_commands().ok())
      return 1;
    wire_signals();
    if (!opts_.vmi_file.empty())
      asio::post(io_, [this] { sync_vmi_file(); });
    io_.run();
    return finish();
  }

 private:
  core::Status make_dirs() {
    for (const auto* dir : {&opts_.socket_dir, &opts_.ephemeral_dir}) {
      if (auto st = make_dir(*dir); !st.ok()) {
        klog::error(st.error().message);
        return st;
      }
    }
    return {};
  }

  // The event loop, the private libvirtd and our connection to it.
  core::Status start_libvirt() {
    if (auto st = libvirt::start_event_loop(); !st.ok()) {
      klog::error("cannot start the libvirt event loop", {{"error", st.error().to_string()}});
      return st;
    }
    LibvirtdOptions lo;
    lo.base_dir = env_.ephemeral_dir + "/libvirt";
    lo.cache_dir = opts_.libvirt_cache_dir;
    auto daemon = Libvirtd::start(lo);
    if (!daemon.ok()) {
      klog::error("private libvirtd did not start", {{"error", daemon.error().to_string()}});
      kill_remaining_children(2s);
      return std::move(daemon).error();
    }
    daemon_ = std::move(*daemon);
    if (auto st = connect_main(); !st.ok()) {
      klog::error("cannot connect to the private libvirtd", {{"error", st.error().to_string()}});
      return st;
    }
    // Called on the reaper thread: hand over, nothing more.
    daemon_->on_exit([this](int status) {
      std::string why = "libvirtd " + describe_wait_status(status);
      asio::post(io_, [this, why] { on_libvirt_lost(why); });
    });
    return {};
  }

  // The launcher's own connection: it watches the daemon (close callback, keepalive) while no
  // domain exists as well as after.
  core::Status connect_main() {
    auto conn = daemon_->connect();
    if (!conn.ok())
      return std::move(conn).error();
    conn_ = std::move(*conn);
    if (virConnectRegisterCloseCallback(conn_.get(), &Launcher::on_main_connection_closed, this,
                                        nullptr) < 0)
      return libvirt::last_error("register the connection's close callback");
    virConnectSetKeepAlive(conn_.get(), 5, 3);
    return {};
  }

  void disconnect_main() {
    if (!conn_)
      return;
    virConnectUnregisterCloseCallback(conn_.get(), &Launcher::on_main_connection_closed);
    virResetLastError();  // a dead connection fails it: nothing to undo
    conn_.reset();
  }

  // On libvirt's event thread.
  static void on_main_connection_closed(virConnectPtr, int reason, void* opaque) {
    auto* self = static_cast<Launcher*>(opaque);
    std::string why = "connection to libvirtd closed (" + libvirt::close_reason_name(reason) + ")";
    asio::post(self->io_, [self, why] { self->on_libvirt_lost(why); });
  }

  // The daemon, our connection and the domain manager's all answer.
  bool libvirt_healthy() const {
    return daemon_->alive() && conn_ && virConnectIsAlive(conn_.get()) == 1 &&
           (!impl_ || impl_->connected());
  }

  // The daemon exited or a connection to it closed (libvirtd_restart.hpp). Each loss is reported
  // several times (the exit, each connection's close): one starts the restart, the others find
  // it under way or already done.
  void on_libvirt_lost(const std::string& why) {
    if (exiting_ || restarts_.state() != LibvirtdRestarts::State::up || libvirt_healthy())
      return;
    klog::error("lost the private libvirtd; restarting it (QEMU keeps running)",
                {{"why", why}, {"phase", std::string(phase_name(supervisor_->phase()))}});
    schedule_restart(restarts_.lost(std::chrono::steady_clock::now()));
  }

  void schedule_restart(const RestartDecision& d) {
    if (d.give_up) {
      klog::error("libvirtd could not be restarted; giving up, the VM ends as failed",
                  {{"attempts", std::to_string(d.attempt)}});
      supervisor_->on_connection_lost();
      return;
    }
    restart_timer_.expires_after(d.delay);
    restart_timer_.async_wait([this, attempt = d.attempt](boost::system::error_code ec) {
      if (!ec && !exiting_)
        restart_libvirt(attempt);
    });
  }

  void restart_libvirt(int attempt) {
    klog::info("restarting libvirtd",
               {{"attempt", std::to_string(attempt)},
                {"max_attempts", std::to_string(restarts_.policy().max_attempts)}});
    auto st = reconnect_libvirt();
    if (!st.ok()) {
      klog::warn("libvirtd restart failed",
                 {{"attempt", std::to_string(attempt)}, {"error", st.error().to_string()}});
      schedule_restart(restarts_.failed());
      return;
    }
    restarts_.restarted(std::chrono::steady_clock::now());
    klog::info("libvirtd restarted and reconnected",
               {{"pid", std::to_string(daemon_->pid())},
                {"attempt", std::to_string(attempt)},
                {"phase", std::string(phase_name(supervisor_->phase()))}});
  }

  // A new daemon, our connection and the domain manager's to it (callbacks registered again),
  // then the supervisor catches up with the domain's real state.
  core::Status reconnect_libvirt() {
    disconnect_main();
    KV_CHECK(daemon_->restart());
    KV_CHECK(connect_main());
    if (impl_) {
      auto c = daemon_->connect();
      if (!c.ok())
        return std::move(c).error();
      KV_CHECK(impl_->reconnect(std::move(*c)));
      KV_CHECK(impl_->wait_reattached());
    }
    return supervisor_->on_libvirt_reconnected();
  }

  // The domain's manager, on the first define: its own connection, events posted to io_.
  Result<DomainManager*> make_domain_manager() {
    auto c = daemon_->connect();
    if (!c.ok())
      return std::move(c).error();
    auto sink = [this](const DomainEvent& e) {
      asio::post(io_, [this, e] {
        if (supervisor_)
          supervisor_->on_domain_event(e);
      });
    };
    auto on_close = [this] {
      asio::post(io_, [this] { on_libvirt_lost("the domain manager's connection closed"); });
    };
    auto m = DomainManagerImpl::create(std::move(*c), pending_name_, sink, on_close);
    if (!m.ok())
      return std::move(m).error();
    impl_ = std::move(*m);
    return static_cast<DomainManager*>(impl_.get());
  }

  // Sync's preparation: the VMI decoded once from the request's document, its disk and network
  // plans made once, the XML built from them (before any file is made: cheap checks first).
  Result<PreparedDomain> prepare(const core::json::Value& doc) {
    auto vmi = api::v1::decode_vmi(doc);
    if (!vmi.ok())
      return std::move(vmi).error();
    auto disks = plan_disks(*vmi, env_);
    if (!disks.ok())
      return std::move(disks).error();
    auto net = plan_network(*vmi);
    if (!net.ok())
      return std::move(net).error();
    if (*net && (*net)->binding == "passt")
      (*net)->guest_ip = env_.pod_ip;  // passt hands the guest the pod's own address
    auto xml = build_domain_xml(*vmi, env_, *disks, *net);
    if (!xml.ok())
      return std::move(xml).error();
    PreparedDomain p;
    p.uid = vmi->metadata.uid.value_or(domain_name(*vmi));
    p.grace_period_seconds =
        vmi->spec.termination_grace_period_seconds.value_or(opts_.grace_period_seconds);
    p.network = std::move(*net);
    p.xml = std::move(*xml);
    p.accelerator = env_.kvm_usable ? "kvm" : "tcg";  // build_domain_xml's choice (compute.cpp)
    p.start_paused = starts_paused(*vmi);
    if (impl_ == nullptr) {
      // Disks are made once per launcher: a re-sync of a running VMI must not reset them.
      if (auto st = prepare_disks(*disks); !st.ok())
        return std::move(st).error();
      pending_name_ = domain_name(*vmi);
    }
    if (p.network && !passt_) {
      if (auto st = start_passt(*p.network); !st.ok())
        return std::move(st).error();
    }
    klog::debug("domain XML", {{"xml", p.xml}});
    return p;
  }

  // passt before the domain: QEMU connects to its socket at start. Its death ends the VM as
  // failed (the guest would be cut off), with passt's own words in the log and the error.
  core::Status start_passt(const NetworkPlan& net) {
    auto limits = probe_passt_limits(net.binding == "passt" && pod_has_ipv6_route());
    auto ports = passt_ports(net, limits);
    if (ports.narrowed_to > 0)
      klog::warn(
          "not every port can be forwarded: the open-file limit holds sockets for ports "
          "1-" +
              std::to_string(ports.narrowed_to) + " only",
          {{"open_files_limit", std::to_string(limits.open_files)},
           {"tcp_ports", ports.tcp},
           {"udp_ports", ports.udp}});
    PasstOptions po;
    po.socket = domain::passt_socket_path(env_);
    po.log_file = env_.ephemeral_dir + "/passt.log";
    po.args = passt_args(net, po.socket, ports);
    auto on_exit = [this](const std::string& why) {
      asio::post(io_, [this, why] {
        klog::error("passt exited: the guest has no network; ending the VM", {{"error", why}});
        if (supervisor_)
          supervisor_->on_connection_lost();
      });
    };
    auto p = Passt::start(po, on_exit);
    if (!p.ok()) {
      klog::error("passt did not start", {{"error", p.error().to_string()}});
      return Error(p.error().code, "the pod network (passt) did not start: " + p.error().message);
    }
    passt_ = std::move(*p);
    klog::info("passt serves the pod NIC", {{"binding", net.binding},
                                            {"pid", std::to_string(passt_->pid())},
                                            {"tcp_ports", ports.tcp},
                                            {"udp_ports", ports.udp}});
    return {};
  }

  void create_supervisor() {
    lazy_.make = [this] { return make_domain_manager(); };
    SupervisorHooks hooks;
    hooks.broadcast = [this](const proto::Event& e) {
      if (server_)
        server_->broadcast(e);
    };
    hooks.arm_grace_timer = [this](std::chrono::seconds s) {
      grace_timer_.expires_after(s);
      grace_timer_.async_wait([this](boost::system::error_code ec) {
        if (!ec && supervisor_)
          supervisor_->on_grace_expired();
      });
    };
    hooks.cancel_grace_timer = [this] { grace_timer_.cancel(); };
    hooks.domain_started = [this] { copy_console(); };
    hooks.exit = [this](int code) { exit_with(code); };
    supervisor_ = std::make_unique<DomainSupervisor>(
        lazy_, [this](const core::json::Value& vmi) { return prepare(vmi); }, std::move(hooks),
        opts_.grace_period_seconds);
  }

  void copy_console() {
    if (!opts_.console_to_stdout || console_)
      return;
    auto c = ConsoleCopier::start(serial_log_path(env_), STDOUT_FILENO);
    if (c.ok())
      console_ = std::move(*c);
    else
      klog::warn("cannot copy the serial console", {{"error", c.error().to_string()}});
  }

  core::Status serve_commands() {
    std::string sock = env_.socket_dir + "/" + kCommandSocketName;
    auto srv = CommandServer::listen(
        io_, sock, [this](const proto::Request& r, CommandServer::Reply reply) {
          klog::info("command",
                     {{"command", proto::command_name(r.command)}, {"id", std::to_string(r.id)}});
          supervisor_->handle(r, reply);
        });
    if (!srv.ok()) {
      klog::error("cannot open the command socket", {{"error", srv.error().to_string()}});
      return std::move(srv).error();
    }
    server_ = std::move(*srv);
    klog::info("command socket ready", {{"path", sock}});
    return {};
  }

  void wire_signals() {
    signals_.async_wait([this](boost::system::error_code ec, int sig) {
      if (ec)
        return;
      klog::info("signal", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
      supervisor_->on_sigterm();
      wire_signals();
    });
  }

  // --vmi-file: the same sync a client would send; a failure before any VM ends the launcher.
  void sync_vmi_file() {
    auto text = core::read_file(opts_.vmi_file);
    if (!text.ok()) {
      klog::error("--vmi-file: " + text.error().message);
      exit_with(1);
      return;
    }
    proto::Request r;
    r.command = proto::Command::sync;
    auto vmi = proto::parse_vmi(*text);
    if (!vmi.ok()) {
      klog::error("sync of --vmi-file failed",
                  {{"error", Error(vmi.error()).with("field", "vmi").to_string()}});
      exit_with(1);
      return;
    }
    r.vmi = std::move(*vmi);
    supervisor_->handle(r, [this](proto::Response resp) {
      if (!resp.ok()) {
        klog::error("sync of --vmi-file failed", {{"error", resp.error->to_string()}});
        if (supervisor_->phase() == Phase::idle)
          exit_with(1);
      }
    });
  }

  // The supervisor's exit hook: stop listening, let clients read the `exiting` event, stop io_.
  void exit_with(int code) {
    exit_code_ = code;
    exiting_ = true;
    signals_.cancel();
    grace_timer_.cancel();
    restart_timer_.cancel();
    if (server_)
      server_->shutdown(1s, [this] { io_.stop(); });
    else
      io_.stop();
  }

  // After io_ stopped. Whatever happened, nothing we started outlives us: the domain, then the
  // daemon, then any process left (QEMU is our child through subreaping).
  int finish() {
    console_.reset();  // copies the last console lines
    int code = exit_code_ < 0 ? 1 : exit_code_;
    if (impl_) {
      auto info = impl_->info();
      if (info.ok() && info->state != "shutoff" && info->state != "none") {
        klog::warn("destroying a domain still running at exit");
        (void)impl_->destroy();
      }
    }
    server_.reset();
    supervisor_.reset();
    if (passt_)
      passt_->stop();  // after the domain: the guest's network goes last
    impl_.reset();
    disconnect_main();
    daemon_->stop();
    kill_remaining_children(2s);
    klog::info("virt-launcher exits", {{"exit_status", std::to_string(code)}});
    return code;
  }

  const Options& opts_;
  asio::io_context io_;
  asio::signal_set signals_;
  PodEnvironment env_;
  std::unique_ptr<Libvirtd> daemon_;
  libvirt::ConnectPtr conn_;
  std::unique_ptr<DomainSupervisor> supervisor_;
  std::unique_ptr<CommandServer> server_;
  std::unique_ptr<ConsoleCopier> console_;
  asio::steady_timer grace_timer_;
  asio::steady_timer restart_timer_;
  LibvirtdRestarts restarts_;
  bool exiting_ = false;
  int exit_code_ = -1;
  std::unique_ptr<DomainManagerImpl> impl_;
  std::unique_ptr<Passt> passt_;
  LazyDomainManager lazy_;
  std::string pending_name_;  // the domain's name, known from the first sync
};

// --probe-capabilities: a private libvirtd whose cache is libvirt_cache_dir, asked for the
// domain capabilities once, which makes it probe QEMU and write the cache; then it stops. A
// launcher whose cache already holds that file (virt-handler copies it in before the first sync)
// skips the probe: libvirt checks the file against the QEMU and libvirtd binaries' ctimes, their
// versions and /dev/kvm's accessibility, and probes again when any differs. The cache only saves
// time, so a failed probe is logged and still exits 0: virt-handler's pod must start regardless.
int probe_capabilities(const Options& opts) {
  if (opts.libvirt_cache_dir.empty()) {
    klog::error("--probe-capabilities needs --libvirt-cache-dir");
    return 2;
  }
  LibvirtdOptions lo;
  lo.base_dir = fs::absolute(opts.ephemeral_dir).string() + "/libvirt";
  lo.cache_dir = fs::absolute(opts.libvirt_cache_dir).string();
  auto daemon = Libvirtd::start(lo);
  if (!daemon.ok()) {
    klog::error("private libvirtd did not start; launchers will probe QEMU themselves",
                {{"error", daemon.error().to_string()}});
    kill_remaining_children(2s);
    return 0;
  }
  {  // the connection closes before the daemon stops
    auto conn = (*daemon)->connect();
    const char* virt_type = kvm_usable() ? "kvm" : "qemu";
    char* caps = conn.ok() ? virConnectGetDomainCapabilities(conn->get(), nullptr, "x86_64", "q35",
                                                             virt_type, 0)
                           : nullptr;
    if (caps) {
      free(caps);
      klog::info("QEMU capabilities cached", {{"dir", lo.cache_dir}, {"virt_type", virt_type}});
    } else {
      auto err = conn.ok() ? libvirt::last_error("virConnectGetDomainCapabilities") : conn.error();
      klog::error("libvirt could not probe QEMU; launchers will probe it themselves",
                  {{"error", err.to_string()}});
    }
  }
  (*daemon)->stop();
  kill_remaining_children(2s);
  return 0;
}

}  // namespace

int run(const Options& opts) {
  if (!init_process(opts).ok())
    return 1;
  if (opts.probe_capabilities)
    return probe_capabilities(opts);
  Launcher launcher(opts);
  return launcher.run();
}

}  // namespace kv::launcher
