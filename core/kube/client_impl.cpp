#include "core/kube/client_impl.hpp"

#include <algorithm>
#include <thread>

#include "core/kube/watch.hpp"
#include "core/log.hpp"

namespace kv::core::kube {

// --- Cancel ---

void Cancel::cancel() {
  std::lock_guard lock(mu_);
  cancelled_.store(true);
  if (hook_)
    hook_();
}

void Cancel::set_hook(std::function<void()> hook) {
  std::lock_guard lock(mu_);
  hook_ = std::move(hook);
  if (cancelled_.load() && hook_)
    hook_();
}

void Cancel::clear_hook() {
  std::lock_guard lock(mu_);
  hook_ = nullptr;
}

std::string_view watch_event_type_name(WatchEventType t) {
  switch (t) {
    case WatchEventType::added:
      return "ADDED";
    case WatchEventType::modified:
      return "MODIFIED";
    case WatchEventType::deleted:
      return "DELETED";
    case WatchEventType::bookmark:
      return "BOOKMARK";
  }
  return "?";
}

// --- errors ---

Error http_error(int http_status, std::string_view body, std::string_view method,
                 std::string_view path) {
  std::string message, reason;
  if (auto doc = json::parse(body); doc.ok() && doc->IsObject()) {
    message = std::string(json::get_string(*doc, "message").value_or(""));
    reason = std::string(json::get_string(*doc, "reason").value_or(""));
  }
  if (message.empty()) {
    message = std::string(body.substr(0, 300));
    if (message.empty())
      message = "HTTP " + std::to_string(http_status);
  }
  Errc code = Errc::internal;
  switch (http_status) {
    case 400:
    case 422:
      code = Errc::invalid;
      break;
    case 401:
    case 403:
      code = Errc::unauthorized;
      break;
    case 404:
      code = Errc::not_found;
      break;
    case 409:
      code = reason == "AlreadyExists" ? Errc::exists : Errc::conflict;
      break;
    case 410:
      code = Errc::gone;
      break;
    case 504:
      code = Errc::timeout;
      break;
    case 429:
    case 500:
    case 502:
    case 503:
      code = Errc::unavailable;
      break;
    default:
      code = http_status >= 500 ? Errc::unavailable : Errc::internal;
  }
  // A watch's "too old resource version" arrives as 410 Expired (or Gone).
  if (reason == "Expired" || reason == "Gone")
    code = Errc::gone;
  std::string prefix;
  if (!method.empty() && !path.empty())
    prefix = std::string(method) + " " + std::string(path) + ": ";
  Error e(code, prefix + message);
  e.with("http_status", std::to_string(http_status));
  if (!reason.empty())
    e.with("reason", reason);
  if (!method.empty())
    e.with("method", std::string(method));
  if (!path.empty())
    e.with("path", std::string(path));
  return e;
}

// --- token bucket ---

TokenBucket::TokenBucket(double qps, int burst)
    : qps_(qps),
      burst_(std::max(1, burst)),
      tokens_(std::max(1, burst)),
      last_(std::chrono::steady_clock::now()) {}

void TokenBucket::acquire() {
  if (qps_ <= 0)
    return;
  std::chrono::steady_clock::time_point wake;
  {
    std::lock_guard lock(mu_);
    auto now = std::chrono::steady_clock::now();
    tokens_ = std::min(burst_, tokens_ + std::chrono::duration<double>(now - last_).count() * qps_);
    last_ = now;
    tokens_ -= 1;  // reserve; may go negative: the debt is this caller's wait
    if (tokens_ >= 0)
      return;
    wake = now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                     std::chrono::duration<double>(-tokens_ / qps_));
  }
  std::this_thread::sleep_until(wake);  // rate limiting is the purpose of this wait
}

// --- query strings ---

namespace {

class Query {
 public:
  void add(std::string_view k, std::string_view v) {
    s_ += s_.empty() ? '?' : '&';
    s_ += k;
    s_ += '=';
    s_ += url_escape(v);
  }
  void add_if(std::string_view k, std::string_view v) {
    if (!v.empty())
      add(k, v);
  }
  const std::string& str() const { return s_; }

 private:
  std::string s_;
};

void add_list_options(Query& q, const ListOptions& o) {
  q.add_if("labelSelector", o.label_selector);
  q.add_if("fieldSelector", o.field_selector);
  if (o.limit > 0)
    q.add("limit", std::to_string(o.limit));
  q.add_if("continue", o.continue_token);
  q.add_if("resourceVersion", o.resource_version);
  q.add_if("resourceVersionMatch", o.resource_version_match);
}

void add_write_options(Query& q, const WriteOptions& o) {
  q.add_if("fieldManager", o.field_manager);
  if (o.dry_run)
    q.add("dryRun", "All");
}

Status need_namespace(const Resource& r, std::string_view ns, const char* op) {
  if (r.namespaced && ns.empty())
    return Error(Errc::invalid, std::string(op) + " " + r.id() +
                                    ": namespace is required for a namespaced resource");
  return {};
}

}  // namespace

// --- client ---

KubeClientImpl::KubeClientImpl(const RestConfig& config)
    : config_(config),
      creds_(config),
      limiter_(config.qps, config.burst),
      discovery_([this](const std::string& path) -> Result<std::string> {
        auto res = call("GET", path, "", "");
        if (!res.ok())
          return res.error();
        return json::to_string(*res);
      }),
      current_cert_(config.client_cert_pem) {}

Result<std::unique_ptr<KubeClientImpl>> KubeClientImpl::create(const RestConfig& config) {
  auto t = HttpTransport::create(config);
  if (!t.ok())
    return t.error();
  std::unique_ptr<KubeClientImpl> c(new KubeClientImpl(config));
  c->transport_ = std::move(*t);
  return c;
}

Result<std::unique_ptr<KubeClient>> make_client(const RestConfig& config) {
  auto c = KubeClientImpl::create(config);
  if (!c.ok())
    return c.error();
  return std::unique_ptr<KubeClient>(std::move(*c));
}

Result<std::string> KubeClientImpl::authorization(bool refresh) {
  if (refresh)
    creds_.invalidate();
  auto cr = creds_.get();
  if (!cr.ok())
    return cr.error();
  {
    std::lock_guard lock(cert_mu_);
    if (cr->client_cert_pem != current_cert_) {
      KV_CHECK(transport_->set_client_certificate(cr->client_cert_pem, cr->client_key_pem));
      current_cert_ = cr->client_cert_pem;
    }
  }
  if (!cr->bearer_token.empty())
    return "Bearer " + cr->bearer_token;
  if (!cr->basic_auth.empty())
    return "Basic " + base64_encode(cr->basic_auth);
  return std::string();
}

Result<HttpResponse> KubeClientImpl::send(HttpRequest req) {
  req.timeout = config_.timeout;
  bool refreshed = false;
  for (int attempt = 0;; ++attempt) {
    auto auth = authorization(false);
    if (!auth.ok())
      return auth.error();
    req.authorization = *auth;
    limiter_.acquire();
    auto res = transport_->send(req);
    if (!res.ok())
      return res;
    if (res->status == 401 && !refreshed && (config_.exec || !config_.token_file.empty())) {
      refreshed = true;
      auto again = authorization(true);
      if (!again.ok())
        return again.error();
      continue;
    }
    if ((res->status == 429 || res->status == 503) && !res->retry_after.empty() && attempt < 3) {
      int secs = std::clamp(std::atoi(res->retry_after.c_str()), 1, 10);
      std::this_thread::sleep_for(std::chrono::seconds(secs));  // the server asked us to wait
      continue;
    }
    return res;
  }
}

Result<json::Document> KubeClientImpl::call(const std::string& method, const std::string& target,
                                            std::string body, const std::string& content_type) {
  HttpRequest req;
  req.method = method;
  req.target = target;
  req.body = std::move(body);
  req.content_type = content_type;
  auto res = send(std::move(req));
  if (!res.ok())
    return res.error();
  std::string path = target.substr(0, target.find('?'));
  if (res->status < 200 || res->status >= 300)
    return http_error(res->status, res->body, method, path);
  auto doc = json::parse(res->body);
  if (!doc.ok())
    return Error(Errc::parse,
                 method + " " + path + ": response is not JSON: " + doc.error().message);
  return doc;
}

Result<json::Document> KubeClientImpl::get(const Resource& r, std::string_view ns,
                                           std::string_view name, const GetOptions& opts) {
  KV_CHECK(need_namespace(r, ns, "get"));
  Query q;
  q.add_if("resourceVersion", opts.resource_version);
  return call("GET", resource_path(r, ns, name, opts.subresource) + q.str(), "", "");
}

Result<ListResult> KubeClientImpl::list(const Resource& r, std::string_view ns,
                                        const ListOptions& opts) {
  Query q;
  add_list_options(q, opts);
  auto doc = call("GET", resource_path(r, ns) + q.str(), "", "");
  if (!doc.ok())
    return doc.error();
  ListResult out;
  if (const json::Value* m = json::find(*doc, "metadata")) {
    out.resource_version = std::string(json::get_string(*m, "resourceVersion").value_or(""));
    out.continue_token = std::string(json::get_string(*m, "continue").value_or(""));
    if (auto n = json::get_int(*m, "remainingItemCount"))
      out.remaining_item_count = *n;
  }
  std::string kind(json::get_string(*doc, "kind").value_or(""));
  if (kind.size() > 4 && kind.compare(kind.size() - 4, 4, "List") == 0)
    kind.resize(kind.size() - 4);
  if (kind.empty())
    kind = r.kind;
  std::string api_version(json::get_string(*doc, "apiVersion").value_or(r.api_version()));
  json::Value* items = json::find(*doc, "items");
  if (items && items->IsArray()) {
    out.items.reserve(items->Size());
    for (auto& item : items->GetArray()) {
      json::Document d;
      // A copy: values cannot move between RapidJSON allocators.
      d.SetObject();
      auto& a = d.GetAllocator();
      if (!json::find(item, "apiVersion"))
        d.AddMember("apiVersion", json::string_value(api_version, a), a);
      if (!json::find(item, "kind"))
        d.AddMember("kind", json::string_value(kind, a), a);
      for (auto& m : item.GetObject())
        d.AddMember(json::Value(m.name, a), json::Value(m.value, a), a);
      out.items.push_back(std::move(d));
    }
  }
  return out;
}

Result<json::Document> KubeClientImpl::create(const Resource& r, std::string_view ns,
                                              const json::Value& obj, const WriteOptions& opts) {
  std::string use_ns(ns.empty() ? meta::ns(obj) : ns);
  KV_CHECK(need_namespace(r, use_ns, "create"));
  Query q;
  add_write_options(q, opts);
  std::string path = opts.subresource.empty()
                         ? resource_path(r, use_ns)
                         : resource_path(r, use_ns, meta::name(obj), opts.subresource);
  return call("POST", path + q.str(), json::to_string(obj), "application/json");
}

Result<json::Document> KubeClientImpl::update(const Resource& r, std::string_view ns,
                                              const json::Value& obj, const WriteOptions& opts) {
  std::string use_ns(ns.empty() ? meta::ns(obj) : ns);
  KV_CHECK(need_namespace(r, use_ns, "update"));
  auto name = meta::name(obj);
  if (name.empty())
    return Error(Errc::invalid, "update " + r.id() + ": metadata.name is required");
  Query q;
  add_write_options(q, opts);
  return call("PUT", resource_path(r, use_ns, name, opts.subresource) + q.str(),
              json::to_string(obj), "application/json");
}

Result<json::Document> KubeClientImpl::patch(const Resource& r, std::string_view ns,
                                             std::string_view name, PatchType type,
                                             std::string_view body, const PatchOptions& opts) {
  KV_CHECK(need_namespace(r, ns, "patch"));
  if (name.empty())
    return Error(Errc::invalid, "patch " + r.id() + ": a name is required");
  std::string ct;
  switch (type) {
    case PatchType::json:
      ct = "application/json-patch+json";
      break;
    case PatchType::merge:
      ct = "application/merge-patch+json";
      break;
    case PatchType::strategic_merge:
      ct = "application/strategic-merge-patch+json";
      break;
    case PatchType::apply:
      ct = "application/apply-patch+yaml";  // JSON is YAML
      if (opts.field_manager.empty())
        return Error(Errc::invalid, "apply " + r.id() + "/" + std::string(name) +
                                        ": field_manager is required for server-side apply");
      break;
  }
  Query q;
  add_write_options(q, opts);
  if (opts.force)
    q.add("force", "true");
  return call("PATCH", resource_path(r, ns, name, opts.subresource) + q.str(), std::string(body),
              ct);
}

Status KubeClientImpl::remove(const Resource& r, std::string_view ns, std::string_view name,
                              const DeleteOptions& opts) {
  KV_CHECK(need_namespace(r, ns, "delete"));
  json::Document d;
  d.SetObject();
  auto& a = d.GetAllocator();
  json::set(d, "apiVersion", "v1", a);
  json::set(d, "kind", "DeleteOptions", a);
  if (!opts.propagation_policy.empty())
    json::set(d, "propagationPolicy", opts.propagation_policy, a);
  if (opts.grace_period_seconds)
    json::set(d, "gracePeriodSeconds", json::Value(*opts.grace_period_seconds), a);
  if (!opts.precondition_uid.empty() || !opts.precondition_resource_version.empty()) {
    json::Value& pre = json::ensure_object(d, "preconditions", a);
    if (!opts.precondition_uid.empty())
      json::set(pre, "uid", opts.precondition_uid, a);
    if (!opts.precondition_resource_version.empty())
      json::set(pre, "resourceVersion", opts.precondition_resource_version, a);
  }
  if (opts.dry_run) {
    json::Value arr(rapidjson::kArrayType);
    arr.PushBack(json::string_value("All", a), a);
    json::set(d, "dryRun", std::move(arr), a);
  }
  auto res = call("DELETE", resource_path(r, ns, name), json::to_string(d), "application/json");
  if (!res.ok())
    return res.error();
  return {};
}

Status KubeClientImpl::watch(const Resource& r, std::string_view ns, const ListOptions& opts,
                             const WatchHandler& handler, Cancel* cancel) {
  Query q;
  q.add("watch", "true");
  add_list_options(q, opts);
  if (opts.allow_watch_bookmarks)
    q.add("allowWatchBookmarks", "true");
  if (opts.timeout_seconds)
    q.add("timeoutSeconds", std::to_string(*opts.timeout_seconds));
  std::string path = resource_path(r, ns);
  HttpRequest req;
  req.target = path + q.str();
  req.timeout = config_.timeout;  // connect + response headers
  auto auth = authorization(false);
  if (!auth.ok())
    return auth.error();
  req.authorization = *auth;
  limiter_.acquire();

  LineSplitter lines;
  std::optional<Error> stream_error;
  std::string error_body;
  auto status = transport_->stream(
      req,
      [&](std::string_view bytes) {
        return lines.feed(bytes, [&](std::string_view line) {
          auto ev = parse_watch_event(line);
          if (!ev.ok()) {
            Error e = ev.error();
            e.message = "watch " + path + ": " + e.message;
            stream_error = std::move(e);
            return false;
          }
          return handler(*ev);
        });
      },
      &error_body, opts.idle_timeout, cancel);
  if (!status.ok())
    return status.error();
  if (cancel && cancel->cancelled())
    return {};
  if (*status == 401)
    creds_.invalidate();
  if (*status != 0 && (*status < 200 || *status >= 300))
    return http_error(*status, error_body, "WATCH", path);
  if (stream_error)
    return *stream_error;
  return {};
}

Result<RawResponse> KubeClientImpl::raw(const RawRequest& rr) {
  Query q;
  for (const auto& [k, v] : rr.query)
    q.add(k, v);
  HttpRequest req;
  req.method = rr.method;
  req.target = rr.path + q.str();
  req.body = rr.body;
  req.content_type = rr.content_type;
  req.accept = "application/json, */*";
  auto res = send(std::move(req));
  if (!res.ok())
    return res.error();
  return RawResponse{res->status, std::move(res->body), std::move(res->content_type)};
}

Result<Resource> KubeClientImpl::resolve(std::string_view api_version, std::string_view kind) {
  return discovery_.resolve(api_version, kind);
}

// --- pagination ---

Result<ListResult> list_all(KubeClient& client, const Resource& r, std::string_view ns,
                            ListOptions opts) {
  if (opts.limit <= 0)
    opts.limit = 500;
  opts.continue_token.clear();
  ListResult all;
  while (true) {
    auto page = client.list(r, ns, opts);
    if (!page.ok()) {
      // The continue token expired (compaction) mid-way: one consistent unpaged list instead.
      if (page.error().code == Errc::gone && !opts.continue_token.empty()) {
        log::info("list continue token expired; falling back to a full list",
                  {{"resource", r.id()}});
        ListOptions full = opts;
        full.limit = 0;
        full.continue_token.clear();
        return client.list(r, ns, full);
      }
      return page.error();
    }
    for (auto& item : page->items)
      all.items.push_back(std::move(item));
    if (all.resource_version.empty())  // every page shares the first page's snapshot
      all.resource_version = page->resource_version;
    if (page->continue_token.empty())
      return all;
    opts.continue_token = page->continue_token;
  }
}

}  // namespace kv::core::kube
