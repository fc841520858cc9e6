#pragma once
// Informer: a local, always-current cache of one resource (list + watch through ListWatcher),
// with indexes and add/update/delete callbacks, as client-go's shared informer.
//
// Threads: start() runs the list/watch loop on its own thread; callbacks run on that thread (and
// on the resync timer thread), never two at once, always after the cache reflects the change.
// Callbacks must be quick (typically: enqueue the key on a WorkQueue). The cache (Indexer) may be
// read from any thread. Cached objects are immutable and shared: never modify one; clone it.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/kube/client.hpp"
#include "core/kube/clock.hpp"
#include "core/kube/watch.hpp"

namespace kv::core::kube {

using ObjectPtr = std::shared_ptr<const json::Document>;

// Maps an object to the index values it is filed under (none, one or several).
using IndexFunc = std::function<std::vector<std::string>(const json::Value& obj)>;

// Index functions for the usual needs.
IndexFunc index_by_namespace();
IndexFunc index_by_label(std::string label_key);
// The string at a path, e.g. {"status", "nodeName"} or {"spec", "nodeName"}.
IndexFunc index_by_field(std::vector<std::string> path);

// A thread-safe key -> object map with secondary indexes. Keys are meta::key(obj).
class Indexer {
 public:
  // Adds an index (existing objects are indexed at once). Name must be new.
  void add_index(const std::string& name, IndexFunc fn);

  ObjectPtr get(const std::string& key) const;
  std::vector<ObjectPtr> list() const;
  std::vector<std::string> keys() const;
  size_t size() const;
  // Objects whose index `name` contains value; empty when the index does not exist.
  std::vector<ObjectPtr> by_index(const std::string& name, const std::string& value) const;
  std::vector<std::string> index_values(const std::string& name) const;

  // Mutations (the informer's): return the previous object, or null.
  ObjectPtr upsert(ObjectPtr obj);
  ObjectPtr remove(const std::string& key);
  // Replaces everything; returns the previous contents.
  std::unordered_map<std::string, ObjectPtr> replace(std::vector<ObjectPtr> objs);

 private:
  void index_locked(const std::string& key, const json::Value& obj);
  void unindex_locked(const std::string& key, const json::Value& obj);

  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, ObjectPtr> items_;
  std::map<std::string, IndexFunc> index_funcs_;
  // index name -> value -> keys
  std::map<std::string, std::unordered_map<std::string, std::unordered_set<std::string>>> indexes_;
};

struct EventHandlers {
  std::function<void(const ObjectPtr& obj)> on_add;
  std::function<void(const ObjectPtr& old_obj, const ObjectPtr& new_obj)> on_update;
  // obj is the last state known (from the DELETED event, or the cache when a relist found the
  // object gone).
  std::function<void(const ObjectPtr& obj)> on_delete;
};

// Handlers that call f with the object on every add, update (its new state) and delete: what a
// controller that only queues the object's key needs.
EventHandlers on_every_change(std::function<void(const ObjectPtr& obj)> f);

struct InformerOptions {
  ListWatchOptions list_watch;
  // Every period, on_update(obj, obj) for every cached object (0: never), so controllers
  // re-check objects whose reconcile depends on something outside the cache.
  std::chrono::milliseconds resync_period{0};
  const Clock* clock = nullptr;  // null: the real clock
};

class Informer {
 public:
  Informer(KubeClient& client, Resource resource, InformerOptions opts = {});
  ~Informer();  // stops
  Informer(const Informer&) = delete;
  Informer& operator=(const Informer&) = delete;

  // Handlers added after the first sync get on_add for every object already cached.
  void add_handlers(EventHandlers h);
  void add_index(const std::string& name, IndexFunc fn) { store_.add_index(name, std::move(fn)); }

  // Starts the list/watch (and resync) threads. Once per Informer: it cannot be restarted.
  void start();
  // Stops the threads and waits for them; callbacks are not called after stop() returns.
  void stop();

  // True once the first LIST has been stored and its callbacks delivered.
  bool has_synced() const { return synced_.load(); }
  // Waits (real time) until has_synced() or the timeout; returns has_synced().
  bool wait_for_sync(std::chrono::milliseconds timeout);

  const Indexer& store() const { return store_; }
  const Resource& resource() const { return resource_; }
  ListWatchStats stats() const { return lw_.stats(); }
  std::string last_resource_version() const { return lw_.last_resource_version(); }

 private:
  void on_replace(std::vector<json::Document> items, const std::string& rv);
  void on_event(WatchEvent& ev);
  void resync_loop();

  KubeClient& client_;
  Resource resource_;
  InformerOptions opts_;
  const Clock& clock_;
  Indexer store_;
  ListWatcher lw_;
  std::mutex handlers_mu_;  // held while calling handlers: serializes them
  std::vector<EventHandlers> handlers_;
  std::atomic<bool> synced_{false};
  std::mutex sync_mu_;
  std::condition_variable sync_cv_;
  std::mutex resync_mu_;
  std::condition_variable resync_cv_;
  bool stopping_ = false;
  std::thread watch_thread_, resync_thread_;
};

}  // namespace kv::core::kube
