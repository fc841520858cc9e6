#pragma once
// LauncherLinks: the handler's connections to the launchers on its node, one per VMI (keyed by
// "ns/name"), on the handler's io_context. It keeps what each launcher said (LauncherView, for
// status_mapping) and what the handler already asked of it, and calls `notify(key)` whenever
// either changes so the reconcile loop looks at the VMI again.
//
// Per link:
//
//    (none) --connect()--> connecting --ok--> connected --peer closed / timeout--> lost
//                              |                  ^                                 |
//                              '--fail--> lost ---'------------ connect() ----------'
//
// What the launcher said survives a reconnect (an `exiting` is final); what we asked (sync,
// shutdown) is per connection, so after a reconnect the handler asks again (sync of the same VMI
// is a no-op for the launcher).
//
// Thread-safety: every public method may be called from any thread; callbacks and socket work
// run on the io_context thread.

#include <utility>  // before Asio: Boost 1.74 awaitable.hpp uses std::exchange unincluded

#include <boost/asio.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "handler/metrics.hpp"
#include "handler/status_mapping.hpp"
#include "launcher_com/client.hpp"

namespace kv::handler {

struct LinkSnapshot {
  LauncherView view;
  bool connecting = false;
  std::string socket_path;
  // Per connection: what was already sent on it.
  bool sync_sent = false;
  bool shutdown_sent = false;
  bool kill_sent = false;
  std::chrono::steady_clock::time_point shutdown_sent_at{};
  // The VMI's grace period, remembered at sync: a VMI deleted without a finalizer is gone from
  // the cache by the time we shut its VM down.
  std::int64_t grace_seconds = 30;
};

class LauncherLinks {
 public:
  using Notify = std::function<void(const std::string& key)>;
  using Done = std::function<void(core::Result<launcher_com::proto::Response>)>;

  LauncherLinks(boost::asio::io_context& io, Metrics& metrics, Notify notify,
                std::chrono::milliseconds request_timeout = std::chrono::seconds(30));
  ~LauncherLinks();

  // A snapshot; the default (never connected) when the key is unknown.
  LinkSnapshot snapshot(const std::string& key) const;
  // Connects when not connected or connecting to `socket_path`. A different path (a new launcher
  // pod) starts the link afresh, forgetting what the old launcher said.
  void connect(const std::string& key, const std::string& socket_path);
  // Sends a request on the link's current connection; `done` runs on the io thread (may be
  // empty). Responses carrying a domain status update the view. Errc::unavailable when not
  // connected.
  void request(const std::string& key, launcher_com::proto::Request req, Done done);
  // Marks what was sent (so the reconcile loop sends it once per connection).
  void mark_sync_sent(const std::string& key, std::int64_t grace_seconds);
  void mark_shutdown_sent(const std::string& key);
  void mark_kill_sent(const std::string& key);
  // Closes and forgets the link.
  void drop(const std::string& key);
  // Closes every connection (handler shutdown: the launchers and their VMs keep running).
  void close_all();
  std::vector<std::string> keys() const;

 private:
  struct Link {
    LinkSnapshot s;
    std::shared_ptr<launcher_com::Client> client;
    std::uint64_t generation = 0;  // bumps on every new connection; stale callbacks are ignored
  };
  void on_event(const std::string& key, std::uint64_t gen, const launcher_com::proto::Event& e);
  void on_closed(const std::string& key, std::uint64_t gen, const core::Error& e);

  boost::asio::io_context& io_;
  Metrics& metrics_;
  Notify notify_;
  std::chrono::milliseconds request_timeout_;
  mutable std::mutex mu_;
  std::map<std::string, Link> links_;
  std::uint64_t next_generation_ = 1;
};

}  // namespace kv::handler
