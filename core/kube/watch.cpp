#include "core/kube/watch.hpp"

#include <random>

#include "core/log.hpp"

namespace kv::core::kube {

bool LineSplitter::feed(std::string_view bytes,
                        const std::function<bool(std::string_view line)>& on_line) {
  while (!bytes.empty()) {
    auto nl = bytes.find('\n');
    if (nl == std::string_view::npos) {
      partial_.append(bytes);
      return true;
    }
    std::string_view line;
    if (partial_.empty()) {
      line = bytes.substr(0, nl);
    } else {
      partial_.append(bytes.substr(0, nl));
      line = partial_;
    }
    bytes.remove_prefix(nl + 1);
    if (!line.empty() && line.back() == '\r')
      line.remove_suffix(1);
    bool keep_going = line.empty() || on_line(line);
    partial_.clear();
    if (!keep_going) {
      partial_.assign(bytes);  // keep the rest in case the caller resumes
      return false;
    }
  }
  return true;
}

Result<WatchEvent> parse_watch_event(std::string_view line) {
  auto doc = json::parse(line);
  if (!doc.ok())
    return Error(Errc::parse, "watch event: " + doc.error().message);
  auto type = json::get_string(*doc, "type");
  json::Value* object = json::find(*doc, "object");
  if (!type || !object || !object->IsObject())
    return Error(Errc::parse, "watch event: needs a string \"type\" and an object \"object\"");
  WatchEvent ev;
  if (*type == "ADDED") {
    ev.type = WatchEventType::added;
  } else if (*type == "MODIFIED") {
    ev.type = WatchEventType::modified;
  } else if (*type == "DELETED") {
    ev.type = WatchEventType::deleted;
  } else if (*type == "BOOKMARK") {
    ev.type = WatchEventType::bookmark;
  } else if (*type == "ERROR") {
    int code = static_cast<int>(json::get_int(*object, "code").value_or(500));
    return http_error(code, json::to_string(*object), "WATCH", "");
  } else {
    return Error(Errc::parse, "watch event: unknown type \"" + std::string(*type) + "\"");
  }
  // Move the object out into its own document (its allocator is doc's; deep copy is needed).
  ev.object.CopyFrom(*object, ev.object.GetAllocator());
  return ev;
}

ListWatcher::ListWatcher(KubeClient& client, Resource resource, ListWatchOptions opts,
                         ListWatchSink sink, const Clock& clock)
    : client_(client),
      resource_(std::move(resource)),
      opts_(std::move(opts)),
      sink_(std::move(sink)),
      clock_(clock) {}

void ListWatcher::stop() {
  std::lock_guard lock(mu_);
  stopped_ = true;
  if (current_cancel_)
    current_cancel_->cancel();
  cv_.notify_all();
}

ListWatchStats ListWatcher::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

std::string ListWatcher::last_resource_version() const {
  std::lock_guard lock(mu_);
  return rv_;
}

bool ListWatcher::wait_backoff(std::chrono::milliseconds d) {
  std::unique_lock lock(mu_);
  auto deadline = clock_.now() + d;
  while (!stopped_ && clock_.now() < deadline)
    clock_.wait_until(lock, cv_, deadline);
  return !stopped_;
}

void ListWatcher::run() {
  std::mt19937_64 rng(std::random_device{}());
  bool need_list = true;
  auto backoff = opts_.initial_backoff;
  auto next_backoff = [&] {
    auto d = backoff;
    // Full jitter in [d/2, d] so many clients do not retry in lock-step.
    std::uniform_int_distribution<int64_t> j(d.count() / 2, d.count());
    backoff = std::min(backoff * 2, opts_.max_backoff);
    return std::chrono::milliseconds(j(rng));
  };
  std::string last_error;  // log a failure streak once, not every retry
  auto note_error = [&](const Error& e, const char* what) {
    {
      std::lock_guard lock(mu_);
      ++stats_.errors;
    }
    std::string msg = e.to_string();
    if (msg != last_error)
      log::warn(std::string(what) + " failed; retrying with backoff",
                {{"resource", resource_.id()}, {"error", msg}});
    last_error = msg;
  };

  while (true) {
    {
      std::lock_guard lock(mu_);
      if (stopped_)
        return;
    }
    if (need_list) {
      ListOptions lo;
      lo.label_selector = opts_.label_selector;
      lo.field_selector = opts_.field_selector;
      lo.limit = opts_.page_size;
      auto list = list_all(client_, resource_, opts_.ns, lo);
      if (!list.ok()) {
        note_error(list.error(), "list");
        if (!wait_backoff(next_backoff()))
          return;
        continue;
      }
      std::string rv = list->resource_version;
      sink_.replace(std::move(list->items), rv);
      {
        std::lock_guard lock(mu_);
        rv_ = rv;
        ++stats_.lists;
      }
      need_list = false;
      last_error.clear();
    }

    Cancel cancel;
    {
      std::lock_guard lock(mu_);
      if (stopped_)
        return;
      current_cancel_ = &cancel;
      ++stats_.watches;
    }
    ListOptions wo;
    wo.label_selector = opts_.label_selector;
    wo.field_selector = opts_.field_selector;
    wo.resource_version = last_resource_version();
    wo.allow_watch_bookmarks = true;
    std::uniform_int_distribution<int64_t> t(opts_.min_watch_timeout.count(),
                                             2 * opts_.min_watch_timeout.count());
    wo.timeout_seconds = static_cast<int>(t(rng));
    wo.idle_timeout = opts_.idle_timeout;
    int64_t events = 0;
    auto started = std::chrono::steady_clock::now();
    Status st = client_.watch(
        resource_, opts_.ns, wo,
        [&](WatchEvent& ev) {
          std::string rv(meta::resource_version(ev.object));
          if (ev.type != WatchEventType::bookmark) {
            sink_.apply(ev);
            ++events;
          }
          std::lock_guard lock(mu_);
          if (!rv.empty())
            rv_ = std::move(rv);
          if (ev.type != WatchEventType::bookmark)
            ++stats_.events;
          return !stopped_;
        },
        &cancel);
    {
      std::lock_guard lock(mu_);
      current_cancel_ = nullptr;
      if (stopped_)
        return;
    }
    if (st.ok()) {
      // A stream the server ended at once with nothing in it is treated as a failure, so a
      // misbehaving server cannot make us spin.
      if (events == 0 && std::chrono::steady_clock::now() - started < std::chrono::seconds(1)) {
        if (!wait_backoff(next_backoff()))
          return;
      } else {
        backoff = opts_.initial_backoff;
        last_error.clear();
      }
      continue;
    }
    if (st.error().code == Errc::gone) {
      log::info("watch resourceVersion expired; relisting",
                {{"resource", resource_.id()}, {"error", st.error().message}});
      std::lock_guard lock(mu_);
      ++stats_.relists;
      need_list = true;
      continue;
    }
    note_error(st.error(), "watch");
    if (!wait_backoff(next_backoff()))
      return;
  }
}

}  // namespace kv::core::kube
