#pragma once
// An in-memory KubeClient for unit tests of code above the REST seam (informer, leader election,
// events; controllers may reuse it). It keeps objects with resourceVersions, enforces optimistic
// concurrency (409 on a stale update), supports merge patches, paged lists, label selectors
// (equality only) and watches replayed from an event history that tests can compact (410) or
// break (dropped connection).

#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/json.hpp"
#include "core/kube/client.hpp"

namespace kv::test {

namespace kube = core::kube;
namespace json = core::json;
using core::Errc;
using core::Error;
using core::Result;
using core::Status;

class FakeKubeClient final : public kube::KubeClient {
 public:
  // --- test controls ---
  // Forgets history up to now: watches from an older resourceVersion get 410 Gone.
  void compact() {
    std::lock_guard lock(mu_);
    compacted_ = rv_;
    history_.clear();
  }
  // Ends every open watch with Errc::unavailable (as a dropped connection).
  void break_watches() {
    std::lock_guard lock(mu_);
    ++break_generation_;
    cv_.notify_all();
  }
  // Writes an object directly (no watch event): as if changed while nobody watched.
  void delete_silently(const kube::Resource& r, std::string_view ns, std::string_view name) {
    std::lock_guard lock(mu_);
    objects_.erase(key(r, ns, name));
    ++rv_;
  }
  // Makes the next n calls of `verb` ("get", "update", ...) fail with e.
  void fail_next(const std::string& verb, int n, Error e) {
    std::lock_guard lock(mu_);
    failures_[verb] = {n, std::move(e)};
  }
  int calls(const std::string& verb) const {
    std::lock_guard lock(mu_);
    auto it = calls_.find(verb);
    return it == calls_.end() ? 0 : it->second;
  }
  // The label and field selectors of the last list (or watch, by `verb`) of resource r: what a
  // component asked the API server for.
  std::optional<std::pair<std::string, std::string>> last_selectors(const std::string& verb,
                                                                    const kube::Resource& r) const {
    std::lock_guard lock(mu_);
    auto it = selectors_.find(verb + "|" + r.id());
    if (it == selectors_.end())
      return std::nullopt;
    return it->second;
  }
  int open_watches() const {
    std::lock_guard lock(mu_);
    return open_watches_;
  }
  size_t count(const kube::Resource& r) const {
    std::lock_guard lock(mu_);
    size_t n = 0;
    for (const auto& [k, v] : objects_)
      if (k.rfind(r.id() + "|", 0) == 0)
        ++n;
    return n;
  }

  // --- KubeClient ---
  Result<json::Document> get(const kube::Resource& r, std::string_view ns, std::string_view name,
                             const kube::GetOptions& = {}) override {
    std::lock_guard lock(mu_);
    if (auto e = injected("get"))
      return *e;
    auto it = objects_.find(key(r, ns, name));
    if (it == objects_.end())
      return not_found(r, name);
    return copy(it->second);
  }

  Result<kube::ListResult> list(const kube::Resource& r, std::string_view ns,
                                const kube::ListOptions& opts = {}) override {
    std::lock_guard lock(mu_);
    selectors_["list|" + r.id()] = {opts.label_selector, opts.field_selector};
    if (auto e = injected("list"))
      return *e;
    kube::ListResult out;
    out.resource_version = std::to_string(rv_);
    size_t skip = opts.continue_token.empty() ? 0 : std::stoul(opts.continue_token);
    size_t i = 0;
    for (const auto& [k, v] : objects_) {
      if (k.rfind(r.id() + "|", 0) != 0)
        continue;
      if (!ns.empty() && kube::meta::ns(v) != ns)
        continue;
      if (!matches(v, opts.label_selector))
        continue;
      if (i++ < skip)
        continue;
      if (opts.limit > 0 && static_cast<int64_t>(out.items.size()) == opts.limit) {
        out.continue_token = std::to_string(skip + out.items.size());
        break;
      }
      out.items.push_back(copy(v));
    }
    return out;
  }

  Result<json::Document> create(const kube::Resource& r, std::string_view ns,
                                const json::Value& obj, const kube::WriteOptions& = {}) override {
    return create_object(r, ns, obj, /*watched=*/true);
  }
  // Creates an object without a watch event: as if created while the caches were behind.
  Result<json::Document> create_silently(const kube::Resource& r, std::string_view ns,
                                         const json::Value& obj) {
    return create_object(r, ns, obj, /*watched=*/false);
  }

 private:
  Result<json::Document> create_object(const kube::Resource& r, std::string_view ns,
                                       const json::Value& obj, bool watched) {
    std::lock_guard lock(mu_);
    if (auto e = injected("create"))
      return *e;
    json::Document d;
    d.CopyFrom(obj, d.GetAllocator());
    auto& a = d.GetAllocator();
    json::Value& m = json::ensure_object(d, "metadata", a);
    std::string use_ns(ns.empty() ? kube::meta::ns(d) : ns);
    if (r.namespaced)
      json::set(m, "namespace", use_ns, a);
    std::string name(kube::meta::name(d));
    if (name.empty())
      name = std::string(kube::meta::generate_name(d)) + std::to_string(++generated_);
    json::set(m, "name", name, a);
    if (objects_.count(key(r, use_ns, name)))
      return Error(Errc::exists, "\"" + name + "\" already exists")
          .with("http_status", "409")
          .with("reason", "AlreadyExists");
    json::set(m, "uid", "uid-" + std::to_string(++generated_), a);
    json::set(m, "resourceVersion", std::to_string(++rv_), a);
    if (watched)
      record(r, use_ns, kube::WatchEventType::added, d);
    objects_[key(r, use_ns, name)] = copy(d);
    return d;
  }

 public:
  Result<json::Document> update(const kube::Resource& r, std::string_view ns,
                                const json::Value& obj, const kube::WriteOptions& = {}) override {
    std::lock_guard lock(mu_);
    if (auto e = injected("update"))
      return *e;
    std::string use_ns(ns.empty() ? kube::meta::ns(obj) : ns);
    std::string name(kube::meta::name(obj));
    auto it = objects_.find(key(r, use_ns, name));
    if (it == objects_.end())
      return not_found(r, name);
    auto want = kube::meta::resource_version(obj);
    if (!want.empty() && want != kube::meta::resource_version(it->second))
      return Error(Errc::conflict, "the object has been modified").with("http_status", "409");
    json::Document d;
    d.CopyFrom(obj, d.GetAllocator());
    json::set(json::ensure_object(d, "metadata", d.GetAllocator()), "resourceVersion",
              std::to_string(++rv_), d.GetAllocator());
    json::set(json::ensure_object(d, "metadata", d.GetAllocator()), "uid",
              std::string(kube::meta::uid(it->second)), d.GetAllocator());
    record(r, use_ns, kube::WatchEventType::modified, d);
    it->second = copy(d);
    return d;
  }

  Result<json::Document> patch(const kube::Resource& r, std::string_view ns, std::string_view name,
                               kube::PatchType type, std::string_view body,
                               const kube::PatchOptions& = {}) override {
    std::lock_guard lock(mu_);
    if (auto e = injected("patch"))
      return *e;
    if (type != kube::PatchType::merge)
      return Error(Errc::unsupported, "fake: only merge patches");
    auto it = objects_.find(key(r, ns, name));
    if (it == objects_.end())
      return not_found(r, name);
    auto p = json::parse(body);
    if (!p.ok())
      return p.error();
    merge(it->second, *p, it->second.GetAllocator());
    json::set(json::ensure_object(it->second, "metadata", it->second.GetAllocator()),
              "resourceVersion", std::to_string(++rv_), it->second.GetAllocator());
    record(r, ns, kube::WatchEventType::modified, it->second);
    return copy(it->second);
  }

  Status remove(const kube::Resource& r, std::string_view ns, std::string_view name,
                const kube::DeleteOptions& = {}) override {
    std::lock_guard lock(mu_);
    if (auto e = injected("remove"))
      return *e;
    auto it = objects_.find(key(r, ns, name));
    if (it == objects_.end())
      return not_found(r, name);
    json::set(json::ensure_object(it->second, "metadata", it->second.GetAllocator()),
              "resourceVersion", std::to_string(++rv_), it->second.GetAllocator());
    record(r, ns, kube::WatchEventType::deleted, it->second);
    objects_.erase(it);
    return {};
  }

  Status watch(const kube::Resource& r, std::string_view ns, const kube::ListOptions& opts,
               const kube::WatchHandler& handler, kube::Cancel* cancel = nullptr) override {
    std::unique_lock lock(mu_);
    selectors_["watch|" + r.id()] = {opts.label_selector, opts.field_selector};
    if (auto e = injected("watch"))  // counts the call
      return *e;
    int64_t from = opts.resource_version.empty() ? rv_ : std::stoll(opts.resource_version);
    if (from < compacted_)
      return Error(Errc::gone, "too old resource version").with("http_status", "410");
    int generation = break_generation_;
    ++open_watches_;
    lock.unlock();
    if (cancel)
      cancel->set_hook([this] {
        std::lock_guard l(mu_);
        cv_.notify_all();
      });
    // On every return: count the watch closed, then drop the hook (never holding mu_ while
    // taking the Cancel's lock, which cancel() holds while taking mu_).
    struct Guard {
      std::unique_lock<std::mutex>& lock;
      int& open;
      kube::Cancel* c;
      ~Guard() {
        if (!lock.owns_lock())
          lock.lock();
        --open;
        lock.unlock();
        if (c)
          c->clear_hook();
      }
    } guard{lock, open_watches_, cancel};
    lock.lock();
    while (true) {
      std::vector<std::pair<kube::WatchEventType, std::string>> batch;
      for (const auto& h : history_)
        if (h.rv > from && h.resource == r.id() && (ns.empty() || h.ns == ns))
          batch.emplace_back(h.type, h.object);
      if (!history_.empty())
        from = std::max(from, history_.back().rv);
      if (!batch.empty()) {
        lock.unlock();
        for (auto& [type, text] : batch) {
          kube::WatchEvent ev;
          ev.type = type;
          ev.object.Parse(text.c_str());
          if (!handler(ev))
            return {};
        }
        lock.lock();
        continue;
      }
      if (cancel && cancel->cancelled())
        return {};
      if (break_generation_ != generation)
        return Error(Errc::unavailable, "connection dropped");
      cv_.wait(lock);
    }
  }

  Result<kube::RawResponse> raw(const kube::RawRequest&) override {
    return Error(Errc::unsupported, "fake: raw requests");
  }
  Result<kube::Resource> resolve(std::string_view api_version, std::string_view kind) override {
    for (auto r : {kube::resources::config_maps(), kube::resources::pods(),
                   kube::resources::leases(), kube::resources::events()})
      if (r.api_version() == api_version && r.kind == kind)
        return r;
    return Error(Errc::not_found, "fake: unknown kind " + std::string(kind));
  }
  std::string default_namespace() const override { return "default"; }

 private:
  struct HistoryEvent {
    int64_t rv;
    std::string resource, ns;
    kube::WatchEventType type;
    std::string object;
  };

  static std::string key(const kube::Resource& r, std::string_view ns, std::string_view name) {
    return r.id() + "|" + std::string(ns) + "|" + std::string(name);
  }
  static json::Document copy(const json::Value& v) {
    json::Document d;
    d.CopyFrom(v, d.GetAllocator());
    return d;
  }
  static Error not_found(const kube::Resource& r, std::string_view name) {
    return Error(Errc::not_found, r.id() + " \"" + std::string(name) + "\" not found")
        .with("http_status", "404");
  }
  static bool matches(const json::Value& obj, const std::string& selector) {
    size_t pos = 0;
    while (pos < selector.size()) {
      auto comma = selector.find(',', pos);
      std::string term = selector.substr(pos, comma == std::string::npos ? comma : comma - pos);
      auto eq = term.find('=');
      auto v = kube::meta::label(obj, term.substr(0, eq));
      if (!v || *v != term.substr(eq + 1))
        return false;
      if (comma == std::string::npos)
        break;
      pos = comma + 1;
    }
    return true;
  }
  static void merge(json::Value& target, const json::Value& patch, json::Allocator& a) {
    if (!patch.IsObject()) {
      target.CopyFrom(patch, a);
      return;
    }
    if (!target.IsObject())
      target.SetObject();
    for (const auto& m : patch.GetObject()) {
      std::string_view k(m.name.GetString(), m.name.GetStringLength());
      if (m.value.IsNull()) {
        json::erase(target, k);
      } else if (json::Value* cur = json::find(target, k); cur && m.value.IsObject()) {
        merge(*cur, m.value, a);
      } else {
        json::set(target, k, json::Value(m.value, a), a);
      }
    }
  }
  std::optional<Error> injected(const std::string& verb) {
    ++calls_[verb];
    auto it = failures_.find(verb);
    if (it == failures_.end() || it->second.first <= 0)
      return std::nullopt;
    --it->second.first;
    return it->second.second;
  }
  void record(const kube::Resource& r, std::string_view ns, kube::WatchEventType t,
              const json::Value& obj) {
    history_.push_back({rv_, r.id(), std::string(ns), t, json::to_string(obj)});
    cv_.notify_all();
  }

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, json::Document> objects_;
  std::vector<HistoryEvent> history_;
  std::map<std::string, std::pair<int, Error>> failures_;
  std::map<std::string, int> calls_;
  std::map<std::string, std::pair<std::string, std::string>> selectors_;
  int64_t rv_ = 100;
  int64_t compacted_ = 0;
  int64_t generated_ = 0;
  int break_generation_ = 0;
  int open_watches_ = 0;
};

}  // namespace kv::test
