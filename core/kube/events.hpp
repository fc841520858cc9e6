#pragma once
// EventRecorder: core/v1 Events about our objects (what `kubectl describe` shows), aggregated as
// client-go's recorder does: the same event (object, type, reason, message, source) recorded again
// bumps `count` and `lastTimestamp` of the existing Event instead of creating another.
//
// record() never blocks on the API: events go to a bounded queue written by a background thread;
// when the queue is full events are dropped (and counted). Thread-safe.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <list>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "core/kube/client.hpp"
#include "core/kube/clock.hpp"

namespace kv::core::kube {

struct ObjectReference {
  std::string api_version, kind, ns, name, uid, resource_version, field_path;
};
// The reference to obj (apiVersion, kind, metadata.namespace/name/uid/resourceVersion).
ObjectReference reference_to(const json::Value& obj);

struct EventSource {
  std::string component;  // "virt-controller"
  std::string host;       // node name, optional
};

struct EventRecorderOptions {
  size_t queue_size = 1000;
  size_t cache_size = 4096;  // distinct events remembered for aggregation (LRU)
  const Clock* clock = nullptr;
};

class EventRecorder {
 public:
  EventRecorder(KubeClient& client, EventSource source, EventRecorderOptions opts = {});
  ~EventRecorder();  // writes what is queued (bounded by the client's timeouts), then stops

  // type: "Normal" or "Warning"; reason: UpperCamelCase ("Started"); message: for humans.
  void record(const ObjectReference& ref, std::string_view type, std::string_view reason,
              std::string_view message);
  // Waits until everything recorded so far was written (or failed); false on timeout.
  bool flush(std::chrono::milliseconds timeout);
  int64_t dropped() const;

 private:
  struct Pending {
    ObjectReference ref;
    std::string type, reason, message;
    std::chrono::system_clock::time_point at;
  };
  struct Seen {
    std::string event_name, event_ns;
    int64_t count = 0;
    std::string first_timestamp;
    std::list<std::string>::iterator lru;
  };
  void loop();
  void write(const Pending& p);

  KubeClient& client_;
  EventSource source_;
  EventRecorderOptions opts_;
  const Clock& clock_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable idle_cv_;
  std::deque<Pending> queue_;
  bool writing_ = false;
  bool stopping_ = false;
  int64_t dropped_ = 0;
  // Aggregation cache: only the writer thread touches it.
  std::unordered_map<std::string, Seen> seen_;
  std::list<std::string> lru_;
  std::thread thread_;
};

}  // namespace kv::core::kube
