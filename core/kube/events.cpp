#include "core/kube/events.hpp"

#include <cstdio>

#include "core/log.hpp"

namespace kv::core::kube {

ObjectReference reference_to(const json::Value& obj) {
  ObjectReference r;
  r.api_version = std::string(json::get_string(obj, "apiVersion").value_or(""));
  r.kind = std::string(json::get_string(obj, "kind").value_or(""));
  r.ns = std::string(meta::ns(obj));
  r.name = std::string(meta::name(obj));
  r.uid = std::string(meta::uid(obj));
  r.resource_version = std::string(meta::resource_version(obj));
  return r;
}

EventRecorder::EventRecorder(KubeClient& client, EventSource source, EventRecorderOptions opts)
    : client_(client),
      source_(std::move(source)),
      opts_(opts),
      clock_(opts.clock ? *opts.clock : real_clock()) {
  thread_ = std::thread([this] { loop(); });
}

EventRecorder::~EventRecorder() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    cv_.notify_all();
  }
  thread_.join();
}

void EventRecorder::record(const ObjectReference& ref, std::string_view type,
                           std::string_view reason, std::string_view message) {
  std::lock_guard lock(mu_);
  if (queue_.size() >= opts_.queue_size) {
    ++dropped_;
    return;
  }
  queue_.push_back(Pending{ref, std::string(type), std::string(reason), std::string(message),
                           clock_.wall_now()});
  cv_.notify_all();
}

bool EventRecorder::flush(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return idle_cv_.wait_for(lock, timeout, [this] { return queue_.empty() && !writing_; });
}

int64_t EventRecorder::dropped() const {
  std::lock_guard lock(mu_);
  return dropped_;
}

void EventRecorder::loop() {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty() && stopping_)
      return;
    Pending p = std::move(queue_.front());
    queue_.pop_front();
    writing_ = true;
    lock.unlock();
    write(p);
    lock.lock();
    writing_ = false;
    if (queue_.empty())
      idle_cv_.notify_all();
  }
}

void EventRecorder::write(const Pending& p) {
  const Resource events = resources::events();
  // Events about cluster-scoped objects live in "default", as client-go puts them.
  std::string ns = p.ref.ns.empty() ? "default" : p.ref.ns;
  std::string key = p.ref.api_version + "\x1f" + p.ref.kind + "\x1f" + ns + "\x1f" + p.ref.name +
                    "\x1f" + p.ref.uid + "\x1f" + p.type + "\x1f" + p.reason + "\x1f" + p.message +
                    "\x1f" + source_.component + "\x1f" + source_.host;
  std::string stamp = format_rfc3339(p.at);

  auto it = seen_.find(key);
  if (it != seen_.end()) {
    Seen& s = it->second;
    lru_.splice(lru_.begin(), lru_, s.lru);
    json::Document patch;
    patch.SetObject();
    auto& a = patch.GetAllocator();
    json::set(patch, "count", json::Value(static_cast<int64_t>(s.count + 1)), a);
    json::set(patch, "lastTimestamp", stamp, a);
    auto res =
        client_.patch(events, s.event_ns, s.event_name, PatchType::merge, json::to_string(patch));
    if (res.ok()) {
      ++s.count;
      return;
    }
    if (res.error().code != Errc::not_found) {
      log::warn("cannot update event", {{"event", s.event_name}, {"error", res.error().message}});
      return;
    }
    // The Event expired (the API server drops them after an hour): start a new one.
    lru_.erase(s.lru);
    seen_.erase(it);
  }

  auto nanos =
      std::chrono::duration_cast<std::chrono::nanoseconds>(p.at.time_since_epoch()).count();
  char suffix[32];
  std::snprintf(suffix, sizeof suffix, ".%llx", static_cast<unsigned long long>(nanos));
  std::string name = (p.ref.name.empty() ? "event" : p.ref.name) + suffix;
  json::Document d;
  d.SetObject();
  auto& a = d.GetAllocator();
  json::set(d, "apiVersion", "v1", a);
  json::set(d, "kind", "Event", a);
  json::Value& m = json::ensure_object(d, "metadata", a);
  json::set(m, "name", name, a);
  json::set(m, "namespace", ns, a);
  json::Value& io = json::ensure_object(d, "involvedObject", a);
  auto set_if = [&](json::Value& o, const char* k, const std::string& v) {
    if (!v.empty())
      json::set(o, k, v, a);
  };
  set_if(io, "apiVersion", p.ref.api_version);
  set_if(io, "kind", p.ref.kind);
  set_if(io, "namespace", p.ref.ns);
  set_if(io, "name", p.ref.name);
  set_if(io, "uid", p.ref.uid);
  set_if(io, "resourceVersion", p.ref.resource_version);
  set_if(io, "fieldPath", p.ref.field_path);
  json::set(d, "type", p.type, a);
  json::set(d, "reason", p.reason, a);
  json::set(d, "message", p.message, a);
  json::set(d, "count", json::Value(1), a);
  json::set(d, "firstTimestamp", stamp, a);
  json::set(d, "lastTimestamp", stamp, a);
  json::Value& src = json::ensure_object(d, "source", a);
  set_if(src, "component", source_.component);
  set_if(src, "host", source_.host);
  set_if(d, "reportingComponent", source_.component);
  set_if(d, "reportingInstance", source_.host);
  auto res = client_.create(events, ns, d);
  if (!res.ok()) {
    log::warn("cannot create event", {{"reason", p.reason},
                                      {"object", p.ref.kind + " " + ns + "/" + p.ref.name},
                                      {"error", res.error().message}});
    return;
  }
  lru_.push_front(key);
  Seen s;
  s.event_name = name;
  s.event_ns = ns;
  s.count = 1;
  s.first_timestamp = stamp;
  s.lru = lru_.begin();
  seen_.emplace(key, std::move(s));
  while (seen_.size() > opts_.cache_size) {
    seen_.erase(lru_.back());
    lru_.pop_back();
  }
}

}  // namespace kv::core::kube
