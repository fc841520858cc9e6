#pragma once
// Watch streams: decoding the newline-delimited JSON events of a watch response as bytes arrive,
// and ListWatcher, the list-then-watch loop that keeps a consumer in step with the server:
//
//        +--------+   ok    +-------+  stream ended normally (timeoutSeconds)  -> watch again
//   ---> |  LIST  | ------> | WATCH | -----------------------------------------+
//        +--------+         +-------+ <---------------------------------------+
//          ^   ^  | error       |  410 Gone / "too old resource version"
//          |   |  v backoff     |-------------------------------------> LIST (relist)
//          |   +--+             |  dropped connection / idle timeout / 5xx
//          |                    +--> backoff --> WATCH from the last resourceVersion seen
//
// The consumer sees a replace(items) after every LIST and each ADDED/MODIFIED/DELETED event in
// order; BOOKMARK events only advance the resourceVersion.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/kube/client.hpp"
#include "core/kube/clock.hpp"
#include "core/result.hpp"

namespace kv::core::kube {

// Splits a byte stream into lines. Bytes are buffered across feed() calls, so an object split
// across chunks is joined, and a chunk holding several objects yields each.
class LineSplitter {
 public:
  // Calls on_line for each complete line (without the '\n'; empty lines skipped). Stops early and
  // returns false when on_line returns false.
  bool feed(std::string_view bytes, const std::function<bool(std::string_view line)>& on_line);
  size_t buffered() const { return partial_.size(); }

 private:
  std::string partial_;
};

// Parses one watch line: {"type":"ADDED","object":{...}}. An ERROR event becomes an Error (code
// from its Status: 410 -> Errc::gone).
Result<WatchEvent> parse_watch_event(std::string_view line);

struct ListWatchOptions {
  std::string ns;  // "" for all namespaces
  std::string label_selector;
  std::string field_selector;
  int64_t page_size = 500;
  // Each watch asks the server to end it after a random time in [min, 2*min], as client-go does,
  // so that connections are rebalanced and a silently stuck stream cannot last forever.
  std::chrono::seconds min_watch_timeout{300};
  // No bytes for this long: the connection is considered dead. Bookmarks arrive about once a
  // minute on a healthy watch.
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(150)};
  std::chrono::milliseconds initial_backoff{200};
  std::chrono::milliseconds max_backoff{std::chrono::seconds(30)};
};

// Callbacks of a ListWatcher, run on its thread, in order.
struct ListWatchSink {
  // A full list: the complete current set of objects (replaces everything seen before).
  std::function<void(std::vector<json::Document> items, const std::string& resource_version)>
      replace;
  // One ADDED, MODIFIED or DELETED event.
  std::function<void(WatchEvent& event)> apply;
};

struct ListWatchStats {
  int64_t lists = 0;    // successful LISTs (the first one included)
  int64_t relists = 0;  // LISTs caused by 410 Gone
  int64_t watches = 0;  // watch requests started
  int64_t errors = 0;   // failed LIST or WATCH requests (retried with backoff)
  int64_t events = 0;   // events applied
};

class ListWatcher {
 public:
  ListWatcher(KubeClient& client, Resource resource, ListWatchOptions opts, ListWatchSink sink,
              const Clock& clock = real_clock());
  // Runs the loop until stop(). Call on a dedicated thread.
  void run();
  // Thread-safe; makes run() return promptly (an in-flight watch is cancelled).
  void stop();
  ListWatchStats stats() const;
  std::string last_resource_version() const;

 private:
  bool wait_backoff(std::chrono::milliseconds d);  // false when stopped meanwhile

  KubeClient& client_;
  Resource resource_;
  ListWatchOptions opts_;
  ListWatchSink sink_;
  const Clock& clock_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;
  Cancel* current_cancel_ = nullptr;
  std::string rv_;
  ListWatchStats stats_;
};

}  // namespace kv::core::kube
