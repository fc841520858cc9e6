#include "addon/cert_watch.hpp"

#include <optional>

#include "addon/cert_secrets.hpp"
#include "core/kube/resource.hpp"
#include "core/log.hpp"

namespace kv::addon {
namespace log = core::log;
namespace meta = core::kube::meta;
using core::kube::ListOptions;
using core::kube::WatchEvent;
using core::kube::WatchEventType;

SecretWatch::SecretWatch(core::kube::KubeClient& client, std::string ns, std::string name,
                         std::vector<std::string> required_keys, OnChange on_change)
    : client_(client),
      ns_(std::move(ns)),
      name_(std::move(name)),
      required_(std::move(required_keys)),
      on_change_(std::move(on_change)) {
  thread_ = std::thread([this] { run(); });
}

SecretWatch::~SecretWatch() {
  stop();
}

void SecretWatch::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  cancel_.cancel();
  if (thread_.joinable())
    thread_.join();
}

int SecretWatch::changes() const {
  std::lock_guard lock(mu_);
  return changes_;
}

bool SecretWatch::sleep_for(std::chrono::milliseconds d) {
  std::unique_lock lock(mu_);
  return !cv_.wait_for(lock, d, [this] { return stopping_; });
}

void SecretWatch::offer(const core::json::Value& secret) {
  if (meta::name(secret) != name_ || meta::ns(secret) != ns_)
    return;
  const std::string key = ns_ + "/" + name_;
  auto data = decode_secret_data(secret);
  if (!data.ok()) {
    log::warn("certificate Secret: unreadable data; keeping the current certificate",
              {{"secret", key}, {"error", data.error().message}});
    return;
  }
  for (const auto& k : required_) {
    auto it = data->find(k);
    if (it == data->end() || it->second.empty())
      return;
  }
  {
    std::lock_guard lock(mu_);
    if (stopping_ || (has_last_ && last_ == *data))
      return;
    last_ = *data;
    has_last_ = true;
    ++changes_;
  }
  if (auto st = on_change_(*data); !st.ok())
    log::error("certificate Secret: cannot use its new content",
               {{"secret", key}, {"error", st.error().to_string()}});
}

void SecretWatch::run() {
  const auto secrets = core::kube::resources::secrets();
  std::chrono::milliseconds backoff(500);
  std::optional<core::Errc> last_error;
  auto failed = [&](const core::Error& e, const char* during) {
    if (last_error != e.code)
      log::warn("certificate Secret: API error, retrying",
                {{"secret", ns_ + "/" + name_}, {"during", during}, {"error", e.to_string()}});
    last_error = e.code;
    const bool go_on = sleep_for(backoff);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(30000));
    return go_on;
  };
  while (!cancel_.cancelled()) {
    ListOptions lo;
    lo.field_selector = "metadata.name=" + name_;
    auto list = client_.list(secrets, ns_, lo);
    if (!list.ok()) {
      if (!failed(list.error(), "list"))
        return;
      continue;
    }
    for (const auto& item : list->items)
      offer(item);
    lo.resource_version = list->resource_version;
    lo.allow_watch_bookmarks = true;
    auto st = client_.watch(
        secrets, ns_, lo,
        [&](WatchEvent& ev) {
          if (ev.type == WatchEventType::added || ev.type == WatchEventType::modified)
            offer(ev.object);
          return !cancel_.cancelled();
        },
        &cancel_);
    if (cancel_.cancelled())
      return;
    if (!st.ok()) {
      // 410 Gone: the list above starts over from now; anything else waits a little.
      if (st.error().code != core::Errc::gone && !failed(st.error(), "watch"))
        return;
      continue;
    }
    backoff = std::chrono::milliseconds(500);
    last_error.reset();
  }
}

}  // namespace kv::addon
