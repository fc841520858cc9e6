#include "launcher/launcher.hpp"

#include <fcntl.h>
#include <linux/kvm.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <utility>  // before Asio: Boost 1.74 awaitable.hpp uses std::exchange unincluded

#include <boost/asio.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "api/v1/codec.hpp"
#include "core/json.hpp"
#include "core/log.hpp"
#include "launcher/console.hpp"
#include "launcher/disks.hpp"
#include "launcher/domain_builder.hpp"
#include "launcher/domain_manager_impl.hpp"
#include "launcher/domain_supervisor.hpp"
#include "launcher/libvirtd.hpp"
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

Result<std::string> read_file(const std::string& path) {
  std::ifstream f(path);
  if (!f)
    return Error(Errc::not_found, "cannot read " + path).with("path", path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace

int run(const Options& opts) {
  auto level = klog::parse_level(opts.log_level);
  if (!level.ok()) {
    klog::error(level.error().message, {{"flag", "--log-level"}});
    return 1;
  }
  klog::init("virt-launcher", *level);
  if (auto st = start_reaper(); !st.ok()) {
    klog::error("cannot become a child subreaper", {{"error", st.error().to_string()}});
    return 1;
  }
  setenv("LIBVIRT_AUTOSTART", "0", 1);

  // Signals first, so a SIGTERM during start-up is not lost: asio queues it until run().
  asio::io_context io;
  asio::signal_set signals(io, SIGTERM, SIGINT);

  for (const auto* dir : {&opts.socket_dir, &opts.ephemeral_dir}) {
    if (auto st = make_dir(*dir); !st.ok()) {
      klog::error(st.error().message);
      return 1;
    }
  }

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
  env.pod_ip = opts.pod_ip;
  klog::info("pod environment", {{"kvm", env.kvm_usable ? "usable" : "not usable"},
                                 {"allow_emulation", env.allow_emulation ? "true" : "false"},
                                 {"ovmf", env.ovmf_code.empty() ? "absent" : "present"}});

  if (auto st = libvirt::start_event_loop(); !st.ok()) {
    klog::error("cannot start the libvirt event loop", {{"error", st.error().to_string()}});
    return 1;
  }
  LibvirtdOptions lo;
  lo.base_dir = env.ephemeral_dir + "/libvirt";
  lo.cache_dir = opts.libvirt_cache_dir;
  auto daemon = Libvirtd::start(lo);
  if (!daemon.ok()) {
    klog::error("private libvirtd did not start", {{"error", daemon.error().to_string()}});
    kill_remaining_children(2s);
    return 1;
  }
  auto conn = (*daemon)->connect();
  if (!conn.ok()) {
    klog::error("cannot connect to the private libvirtd", {{"error", conn.error().to_string()}});
    return 1;
  }

  // Filled by the first sync; the domain name is known only then, so the manager is created
  // with a name taken from the VMI file or the first sync (one launcher runs one VMI).
  std::unique_ptr<DomainSupervisor> supervisor;
  std::unique_ptr<CommandServer> server;
  std::unique_ptr<ConsoleCopier> console;
  asio::steady_timer grace_timer(io);
  int exit_code = -1;

  // Libvirt's event thread -> our thread.
  auto sink = [&io, &supervisor](const DomainEvent& e) {
    asio::post(io, [&supervisor, e] {
      if (supervisor)
        supervisor->on_domain_event(e);
    });
  };
  auto on_close = [&io, &supervisor] {
    asio::post(io, [&supervisor] {
      if (supervisor)
        supervisor->on_connection_lost();
    });
  };

  // The DomainManager needs the domain's name, which comes with the VMI; a small forwarding
  // manager creates the real one on the first define.
  class LazyDomainManager : public DomainManager {
   public:
    std::function<Result<DomainManager*>(const std::string& xml)> make;
    DomainManager* real = nullptr;
    core::Status define_and_start(const std::string& xml, bool paused) override {
      if (!real) {
        auto m = make(xml);
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
  std::unique_ptr<DomainManagerImpl> impl;
  LazyDomainManager lazy;
  std::string pending_name;
  lazy.make = [&](const std::string&) -> Result<DomainManager*> {
    auto c = (*daemon)->connect();
    if (!c.ok())
      return std::move(c).error();
    auto m = DomainManagerImpl::create(std::move(*c), pending_name, sink, on_close);
    if (!m.ok())
      return std::move(m).error();
    impl = std::move(*m);
    return static_cast<DomainManager*>(impl.get());
  };

  Preparer prepare = [&](const std::string& vmi_json) -> Result<PreparedDomain> {
    auto doc = core::json::parse(vmi_json);
    if (!doc.ok())
      return Error(doc.error()).with("field", "vmi");
    auto vmi = api::v1::decode_vmi(*doc);
    if (!vmi.ok())
      return std::move(vmi).error();
    auto disks = plan_disks(*vmi, env);
    if (!disks.ok())
      return std::move(disks).error();
    auto xml = build_domain_xml(*vmi, env, *disks);  // before any file is made: cheap checks
    if (!xml.ok())
      return std::move(xml).error();
    auto net = plan_network(*vmi);
    if (!net.ok())
      return std::move(net).error();
    PreparedDomain p;
    p.uid = vmi->metadata.uid.value_or(domain_name(*vmi));
    p.grace_period_seconds =
        vmi->spec.termination_grace_period_seconds.value_or(opts.grace_period_seconds);
    p.network = *net;
    p.xml = std::move(*xml);
    if (impl == nullptr) {
      // Disks are made once per launcher: a re-sync of a running VMI must not reset them.
      if (auto st = prepare_disks(*disks); !st.ok())
        return std::move(st).error();
      pending_name = domain_name(*vmi);
    }
    klog::debug("domain XML", {{"xml", p.xml}});
    return p;
  };

  SupervisorHooks hooks;
  hooks.broadcast = [&](const proto::Event& e) {
    if (server)
      server->broadcast(e);
  };
  hooks.arm_grace_timer = [&](std::chrono::seconds s) {
    grace_timer.expires_after(s);
    grace_timer.async_wait([&](boost::system::error_code ec) {
      if (!ec && supervisor)
        supervisor->on_grace_expired();
    });
  };
  hooks.cancel_grace_timer = [&] { grace_timer.cancel(); };
  hooks.domain_started = [&] {
    if (!opts.console_to_stdout || console)
      return;
    auto c = ConsoleCopier::start(serial_log_path(env), STDOUT_FILENO);
    if (c.ok())
      console = std::move(*c);
    else
      klog::warn("cannot copy the serial console", {{"error", c.error().to_string()}});
  };
  hooks.exit = [&](int code) {
    exit_code = code;
    signals.cancel();
    grace_timer.cancel();
    if (server)
      server->shutdown(1s, [&io] { io.stop(); });
    else
      io.stop();
  };
  supervisor = std::make_unique<DomainSupervisor>(lazy, prepare, hooks, opts.grace_period_seconds);

  std::string sock = env.socket_dir + "/" + kCommandSocketName;
  auto srv =
      CommandServer::listen(io, sock, [&](const proto::Request& r, CommandServer::Reply reply) {
        klog::info("command",
                   {{"command", proto::command_name(r.command)}, {"id", std::to_string(r.id)}});
        supervisor->handle(r, reply);
      });
  if (!srv.ok()) {
    klog::error("cannot open the command socket", {{"error", srv.error().to_string()}});
    return 1;
  }
  server = std::move(*srv);
  klog::info("command socket ready", {{"path", sock}});

  std::function<void(boost::system::error_code, int)> on_signal = [&](boost::system::error_code ec,
                                                                      int sig) {
    if (ec)
      return;
    klog::info("signal", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
    supervisor->on_sigterm();
    signals.async_wait(on_signal);
  };
  signals.async_wait(on_signal);

  if (!opts.vmi_file.empty()) {
    asio::post(io, [&] {
      auto text = read_file(opts.vmi_file);
      if (!text.ok()) {
        klog::error("--vmi-file: " + text.error().message);
        hooks.exit(1);
        return;
      }
      proto::Request r;
      r.command = proto::Command::sync;
      r.vmi_json = *text;
      supervisor->handle(r, [&](proto::Response resp) {
        if (!resp.ok()) {
          klog::error("sync of --vmi-file failed", {{"error", resp.error->to_string()}});
          if (supervisor->phase() == Phase::idle)
            hooks.exit(1);
        }
      });
    });
  }

  io.run();

  console.reset();  // copies the last console lines
  if (exit_code < 0)
    exit_code = 1;
  // Whatever happened, nothing we started outlives us: the domain, then the daemon, then any
  // process left (QEMU is our child through subreaping).
  if (impl) {
    auto info = impl->info();
    if (info.ok() && info->state != "shutoff" && info->state != "none") {
      klog::warn("destroying a domain still running at exit");
      (void)impl->destroy();
    }
  }
  server.reset();
  supervisor.reset();
  impl.reset();
  conn->reset();
  (*daemon)->stop();
  kill_remaining_children(2s);
  klog::info("virt-launcher exits", {{"exit_status", std::to_string(exit_code)}});
  return exit_code;
}

}  // namespace kv::launcher
