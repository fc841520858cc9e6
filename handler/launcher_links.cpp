#include "handler/launcher_links.hpp"

#include "core/log.hpp"
#include "handler/unix_path.hpp"

namespace kv::handler {
namespace asio = boost::asio;
namespace proto = launcher_com::proto;
using core::Errc;
using core::Error;

LauncherLinks::LauncherLinks(asio::io_context& io, Metrics& metrics, Notify notify,
                             std::chrono::milliseconds request_timeout)
    : io_(io), metrics_(metrics), notify_(std::move(notify)), request_timeout_(request_timeout) {
  metrics_.declare("kubevirt_handler_launcher_request_seconds", Metrics::Type::histogram,
                   "Round-trip time of requests to virt-launcher, by command.",
                   {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30});
  metrics_.declare("kubevirt_handler_launcher_errors_total", Metrics::Type::counter,
                   "Failed launcher connections and requests, by kind.");
  metrics_.declare("kubevirt_handler_launcher_events_total", Metrics::Type::counter,
                   "Events received from launchers, by event.");
}

LauncherLinks::~LauncherLinks() {
  close_all();
}

LinkSnapshot LauncherLinks::snapshot(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = links_.find(key);
  return it == links_.end() ? LinkSnapshot{} : it->second.s;
}

std::vector<std::string> LauncherLinks::keys() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [k, _] : links_)
    out.push_back(k);
  return out;
}

void LauncherLinks::connect(const std::string& key, const std::string& socket_path) {
  std::shared_ptr<launcher_com::Client> old;
  std::uint64_t gen = 0;
  {
    std::lock_guard lock(mu_);
    Link& l = links_[key];
    if (l.s.socket_path == socket_path && (l.s.connecting || l.s.view.connected))
      return;
    if (l.s.socket_path != socket_path) {
      // Another launcher pod: nothing the old one said applies.
      old = std::move(l.client);
      l = Link{};
      l.s.socket_path = socket_path;
    }
    l.s.connecting = true;
    l.s.sync_sent = l.s.shutdown_sent = l.s.kill_sent = false;
    gen = l.generation = next_generation_++;
  }
  asio::post(io_, [this, key, socket_path, gen, old] {
    if (old)
      old->close();
    auto client = launcher_com::Client::create(io_);
    client->on_event([this, key, gen](const proto::Event& e) { on_event(key, gen, e); });
    client->on_close([this, key, gen](const Error& e) { on_closed(key, gen, e); });
    {
      std::lock_guard lock(mu_);
      auto it = links_.find(key);
      if (it == links_.end() || it->second.generation != gen)
        return;
      it->second.client = client;
    }
    // The agreed socket path is longer than sun_path: connect through the directory's fd.
    auto short_path = UnixPath::make(socket_path);
    if (!short_path.ok()) {
      {
        std::lock_guard lock(mu_);
        auto it = links_.find(key);
        if (it != links_.end() && it->second.generation == gen)
          it->second.s.connecting = false;
      }
      metrics_.inc("kubevirt_handler_launcher_errors_total", {{"kind", "connect"}});
      notify_(key);
      return;
    }
    auto holder = std::make_shared<UnixPath>(std::move(*short_path));
    client->async_connect(
        holder->path(), [this, key, gen, client, socket_path, holder](core::Status st) {
          bool stale = false;
          {
            std::lock_guard lock(mu_);
            auto it = links_.find(key);
            stale = it == links_.end() || it->second.generation != gen;
            if (!stale) {
              Link& l = it->second;
              l.s.connecting = false;
              if (st.ok()) {
                l.s.view.connected = true;
                l.s.view.ever_connected = true;
              }
            }
          }
          if (stale) {
            // The link was dropped or started afresh meanwhile. Closed outside the lock:
            // close() calls on_closed() at once, which takes the lock itself.
            client->close();
            return;
          }
          if (st.ok()) {
            core::log::info("connected to launcher", {{"vmi", key}, {"socket", socket_path}});
          } else {
            metrics_.inc("kubevirt_handler_launcher_errors_total", {{"kind", "connect"}});
            core::log::debug("launcher not reachable",
                             {{"vmi", key}, {"error", st.error().to_string()}});
          }
          notify_(key);
        });
  });
}

void LauncherLinks::request(const std::string& key, proto::Request req, Done done) {
  asio::post(io_, [this, key, req = std::move(req), done = std::move(done)]() mutable {
    std::shared_ptr<launcher_com::Client> client;
    std::uint64_t gen = 0;
    {
      std::lock_guard lock(mu_);
      auto it = links_.find(key);
      if (it != links_.end() && it->second.s.view.connected) {
        client = it->second.client;
        gen = it->second.generation;
      }
    }
    if (!client) {
      if (done)
        done(Error(Errc::unavailable, "no connection to the launcher of " + key));
      return;
    }
    const std::string command(proto::command_name(req.command));
    const auto start = std::chrono::steady_clock::now();
    // A launcher that does not answer is treated as gone: closing fails the pending request and
    // the reconcile loop reconnects.
    auto timer = std::make_shared<asio::steady_timer>(io_, request_timeout_);
    timer->async_wait([client, key, command, this](boost::system::error_code ec) {
      if (ec)
        return;
      metrics_.inc("kubevirt_handler_launcher_errors_total", {{"kind", "timeout"}});
      core::log::warn("launcher request timed out", {{"vmi", key}, {"command", command}});
      client->close();
    });
    client->async_request(std::move(req), [this, key, gen, command, start, timer,
                                           done =
                                               std::move(done)](core::Result<proto::Response> r) {
      timer->cancel();
      double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      metrics_.observe("kubevirt_handler_launcher_request_seconds", {{"command", command}}, secs);
      if (!r.ok() || !r->ok())
        metrics_.inc("kubevirt_handler_launcher_errors_total", {{"kind", "request"}});
      bool changed = false;
      if (r.ok()) {
        std::lock_guard lock(mu_);
        auto it = links_.find(key);
        if (it != links_.end() && it->second.generation == gen) {
          LauncherView& v = it->second.s.view;
          if (r->status) {
            v.domain = r->status;
            changed = true;
          }
          if (command == "sync") {
            if (r->ok())
              v.sync_error.reset();
            else
              v.sync_error = r->error->message;
            changed = true;
          }
        }
      }
      if (done)
        done(std::move(r));
      if (changed)
        notify_(key);
    });
  });
}

void LauncherLinks::on_event(const std::string& key, std::uint64_t gen, const proto::Event& e) {
  metrics_.inc("kubevirt_handler_launcher_events_total",
               {{"event", std::string(proto::event_name(e.kind))}});
  {
    std::lock_guard lock(mu_);
    auto it = links_.find(key);
    if (it == links_.end() || it->second.generation != gen)
      return;
    LauncherView& v = it->second.s.view;
    v.domain = e.status;
    if (e.kind == proto::EventKind::shutdown || e.kind == proto::EventKind::crashed)
      v.stop_reason = e.reason;
    if (e.kind == proto::EventKind::exiting)
      v.exit_reason = e.reason;
  }
  core::log::info("launcher event", {{"vmi", key},
                                     {"event", proto::event_name(e.kind)},
                                     {"reason", e.reason},
                                     {"state", e.status.state}});
  notify_(key);
}

void LauncherLinks::on_closed(const std::string& key, std::uint64_t gen, const Error& e) {
  {
    std::lock_guard lock(mu_);
    auto it = links_.find(key);
    if (it == links_.end() || it->second.generation != gen)
      return;
    Link& l = it->second;
    if (!l.s.view.connected && !l.s.connecting)
      return;
    l.s.view.connected = false;
    l.s.connecting = false;
    l.client.reset();
  }
  core::log::info("launcher connection closed", {{"vmi", key}, {"reason", e.message}});
  notify_(key);
}

void LauncherLinks::mark_sync_sent(const std::string& key, std::int64_t grace_seconds) {
  std::lock_guard lock(mu_);
  auto& s = links_[key].s;
  s.sync_sent = true;
  s.grace_seconds = grace_seconds;
}

void LauncherLinks::mark_shutdown_sent(const std::string& key) {
  std::lock_guard lock(mu_);
  auto& s = links_[key].s;
  s.shutdown_sent = true;
  s.shutdown_sent_at = std::chrono::steady_clock::now();
}

void LauncherLinks::mark_kill_sent(const std::string& key) {
  std::lock_guard lock(mu_);
  links_[key].s.kill_sent = true;
}

void LauncherLinks::drop(const std::string& key) {
  std::shared_ptr<launcher_com::Client> client;
  {
    std::lock_guard lock(mu_);
    auto it = links_.find(key);
    if (it == links_.end())
      return;
    client = std::move(it->second.client);
    links_.erase(it);
  }
  if (client)
    asio::post(io_, [client] { client->close(); });
}

void LauncherLinks::close_all() {
  std::map<std::string, Link> links;
  {
    std::lock_guard lock(mu_);
    links.swap(links_);
  }
  for (auto& [_, l] : links)
    if (l.client)
      asio::post(io_, [c = l.client] { c->close(); });
}

}  // namespace kv::handler
