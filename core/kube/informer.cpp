#include "core/kube/informer.hpp"

#include "core/log.hpp"

namespace kv::core::kube {

IndexFunc index_by_namespace() {
  return
      [](const json::Value& obj) { return std::vector<std::string>{std::string(meta::ns(obj))}; };
}

IndexFunc index_by_label(std::string label_key) {
  return [k = std::move(label_key)](const json::Value& obj) {
    std::vector<std::string> out;
    if (auto v = meta::label(obj, k))
      out.emplace_back(*v);
    return out;
  };
}

IndexFunc index_by_field(std::vector<std::string> path) {
  return [p = std::move(path)](const json::Value& obj) {
    std::vector<std::string> out;
    const json::Value* cur = &obj;
    for (const auto& step : p) {
      cur = json::find(*cur, step);
      if (!cur)
        return out;
    }
    if (cur->IsString())
      out.emplace_back(cur->GetString(), cur->GetStringLength());
    return out;
  };
}

// --- Indexer ---

void Indexer::index_locked(const std::string& key, const json::Value& obj) {
  for (const auto& [name, fn] : index_funcs_)
    for (const auto& v : fn(obj))
      indexes_[name][v].insert(key);
}

void Indexer::unindex_locked(const std::string& key, const json::Value& obj) {
  for (const auto& [name, fn] : index_funcs_) {
    auto& idx = indexes_[name];
    for (const auto& v : fn(obj)) {
      auto it = idx.find(v);
      if (it == idx.end())
        continue;
      it->second.erase(key);
      if (it->second.empty())
        idx.erase(it);
    }
  }
}

void Indexer::add_index(const std::string& name, IndexFunc fn) {
  std::unique_lock lock(mu_);
  auto& idx = indexes_[name];
  idx.clear();
  for (const auto& [key, obj] : items_)
    for (const auto& v : fn(*obj))
      idx[v].insert(key);
  index_funcs_[name] = std::move(fn);
}

ObjectPtr Indexer::get(const std::string& key) const {
  std::shared_lock lock(mu_);
  auto it = items_.find(key);
  return it == items_.end() ? nullptr : it->second;
}

std::vector<ObjectPtr> Indexer::list() const {
  std::shared_lock lock(mu_);
  std::vector<ObjectPtr> out;
  out.reserve(items_.size());
  for (const auto& [k, v] : items_)
    out.push_back(v);
  return out;
}

std::vector<std::string> Indexer::keys() const {
  std::shared_lock lock(mu_);
  std::vector<std::string> out;
  out.reserve(items_.size());
  for (const auto& [k, v] : items_)
    out.push_back(k);
  return out;
}

size_t Indexer::size() const {
  std::shared_lock lock(mu_);
  return items_.size();
}

std::vector<ObjectPtr> Indexer::by_index(const std::string& name, const std::string& value) const {
  std::shared_lock lock(mu_);
  std::vector<ObjectPtr> out;
  auto idx = indexes_.find(name);
  if (idx == indexes_.end())
    return out;
  auto it = idx->second.find(value);
  if (it == idx->second.end())
    return out;
  for (const auto& key : it->second)
    if (auto obj = items_.find(key); obj != items_.end())
      out.push_back(obj->second);
  return out;
}

std::vector<std::string> Indexer::index_values(const std::string& name) const {
  std::shared_lock lock(mu_);
  std::vector<std::string> out;
  auto idx = indexes_.find(name);
  if (idx != indexes_.end())
    for (const auto& [v, keys] : idx->second)
      out.push_back(v);
  return out;
}

ObjectPtr Indexer::upsert(ObjectPtr obj) {
  std::string key = meta::key(*obj);
  std::unique_lock lock(mu_);
  ObjectPtr old;
  auto it = items_.find(key);
  if (it != items_.end()) {
    old = it->second;
    unindex_locked(key, *old);
    it->second = obj;
  } else {
    items_.emplace(key, obj);
  }
  index_locked(key, *obj);
  return old;
}

ObjectPtr Indexer::remove(const std::string& key) {
  std::unique_lock lock(mu_);
  auto it = items_.find(key);
  if (it == items_.end())
    return nullptr;
  ObjectPtr old = it->second;
  unindex_locked(key, *old);
  items_.erase(it);
  return old;
}

std::unordered_map<std::string, ObjectPtr> Indexer::replace(std::vector<ObjectPtr> objs) {
  std::unique_lock lock(mu_);
  std::unordered_map<std::string, ObjectPtr> old;
  old.swap(items_);
  for (auto& [name, idx] : indexes_)
    idx.clear();
  items_.reserve(objs.size());
  for (auto& obj : objs) {
    std::string key = meta::key(*obj);
    index_locked(key, *obj);
    items_[key] = std::move(obj);
  }
  return old;
}

// --- Informer ---

Informer::Informer(KubeClient& client, Resource resource, InformerOptions opts)
    : client_(client),
      resource_(std::move(resource)),
      opts_(std::move(opts)),
      clock_(opts_.clock ? *opts_.clock : real_clock()),
      lw_(client_, resource_, opts_.list_watch,
          ListWatchSink{[this](std::vector<json::Document> items, const std::string& rv) {
                          on_replace(std::move(items), rv);
                        },
                        [this](WatchEvent& ev) { on_event(ev); }},
          clock_) {}

Informer::~Informer() {
  stop();
}

EventHandlers on_every_change(std::function<void(const ObjectPtr& obj)> f) {
  return {f, [f](const ObjectPtr&, const ObjectPtr& now) { f(now); }, f};
}

void Informer::add_handlers(EventHandlers h) {
  std::lock_guard lock(handlers_mu_);
  if (synced_.load() && h.on_add)
    for (const auto& obj : store_.list())
      h.on_add(obj);
  handlers_.push_back(std::move(h));
}

void Informer::start() {
  {
    std::lock_guard lock(resync_mu_);
    stopping_ = false;
  }
  watch_thread_ = std::thread([this] { lw_.run(); });
  if (opts_.resync_period.count() > 0)
    resync_thread_ = std::thread([this] { resync_loop(); });
}

void Informer::stop() {
  lw_.stop();
  {
    std::lock_guard lock(resync_mu_);
    stopping_ = true;
    resync_cv_.notify_all();
  }
  if (watch_thread_.joinable())
    watch_thread_.join();
  if (resync_thread_.joinable())
    resync_thread_.join();
}

bool Informer::wait_for_sync(std::chrono::milliseconds timeout) {
  std::unique_lock lock(sync_mu_);
  sync_cv_.wait_for(lock, timeout, [this] { return synced_.load(); });
  return synced_.load();
}

void Informer::on_replace(std::vector<json::Document> items, const std::string& /*rv*/) {
  std::vector<ObjectPtr> objs;
  objs.reserve(items.size());
  for (auto& d : items)
    objs.push_back(std::make_shared<const json::Document>(std::move(d)));
  auto old = store_.replace(objs);
  {
    std::lock_guard lock(handlers_mu_);
    for (const auto& obj : objs) {
      auto it = old.find(meta::key(*obj));
      if (it == old.end()) {
        for (const auto& h : handlers_)
          if (h.on_add)
            h.on_add(obj);
      } else {
        if (meta::resource_version(*it->second) != meta::resource_version(*obj))
          for (const auto& h : handlers_)
            if (h.on_update)
              h.on_update(it->second, obj);
        old.erase(it);
      }
    }
    // Objects deleted while we were not watching (the relist is the only way to learn it).
    for (const auto& [key, obj] : old)
      for (const auto& h : handlers_)
        if (h.on_delete)
          h.on_delete(obj);
  }
  if (!synced_.load()) {
    std::lock_guard lock(sync_mu_);
    synced_.store(true);
    sync_cv_.notify_all();
  }
}

void Informer::on_event(WatchEvent& ev) {
  auto obj = std::make_shared<const json::Document>(std::move(ev.object));
  std::lock_guard lock(handlers_mu_);
  if (ev.type == WatchEventType::deleted) {
    store_.remove(meta::key(*obj));
    for (const auto& h : handlers_)
      if (h.on_delete)
        h.on_delete(obj);
    return;
  }
  auto old = store_.upsert(obj);
  for (const auto& h : handlers_) {
    if (old && h.on_update)
      h.on_update(old, obj);
    else if (!old && h.on_add)
      h.on_add(obj);
  }
}

void Informer::resync_loop() {
  std::unique_lock lock(resync_mu_);
  auto next = clock_.now() + opts_.resync_period;
  while (!stopping_) {
    clock_.wait_until(lock, resync_cv_, next);
    if (stopping_)
      return;
    if (clock_.now() < next)
      continue;
    next = clock_.now() + opts_.resync_period;
    if (!synced_.load())
      continue;
    lock.unlock();
    {
      std::lock_guard hl(handlers_mu_);
      for (const auto& obj : store_.list())
        for (const auto& h : handlers_)
          if (h.on_update)
            h.on_update(obj, obj);
    }
    lock.lock();
  }
}

}  // namespace kv::core::kube
