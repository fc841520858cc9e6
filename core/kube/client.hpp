#pragma once
// KubeClient: the seam between our components and the Kubernetes API. Controllers, the handler,
// virt-api and virtctl take a KubeClient&; unit tests pass a fake.
//
// Objects are untyped JSON (as client-go's dynamic client): callers read them with core/json.hpp
// and the meta:: accessors of resource.hpp.
//
// Errors map HTTP statuses to Errc: 404 not_found, 409 conflict (stale resourceVersion) or exists
// (AlreadyExists on create), 410 gone, 401/403 unauthorized, 400/422 invalid, 429/5xx unavailable,
// 504 timeout. The context carries http_status, reason, method and path; the message is the
// server's Status message.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/json.hpp"
#include "core/kube/kubeconfig.hpp"
#include "core/kube/resource.hpp"
#include "core/result.hpp"

namespace kv::core::kube {

struct ListOptions {
  std::string label_selector;  // "app=x,tier!=db"
  std::string field_selector;  // "metadata.name=x", "spec.nodeName=n1"
  int64_t limit = 0;           // page size; 0: no paging
  std::string continue_token;
  std::string resource_version;        // "" (most recent, quorum), "0" (any), or a version
  std::string resource_version_match;  // "", "NotOlderThan", "Exact"
  // Watch only.
  bool allow_watch_bookmarks = false;
  std::optional<int> timeout_seconds;  // the server closes the stream after this
  // Watch only: fail with Errc::timeout when no bytes arrive for this long (0: never).
  std::chrono::milliseconds idle_timeout{0};
};

struct ListResult {
  std::vector<json::Document> items;  // each with apiVersion and kind filled in
  std::string resource_version;       // the list's: watch from here
  std::string continue_token;         // "" on the last page
  std::optional<int64_t> remaining_item_count;
};

struct GetOptions {
  std::string subresource;  // "status", "scale", ...
  std::string resource_version;
};

struct WriteOptions {
  std::string subresource;    // "status" for update/patch of the status subresource
  std::string field_manager;  // managedFields owner
  bool dry_run = false;
};

enum class PatchType { json, merge, strategic_merge, apply };

struct PatchOptions : WriteOptions {
  bool force = false;  // server-side apply: take ownership of conflicting fields
};

struct DeleteOptions {
  std::string propagation_policy;  // "", "Foreground", "Background", "Orphan"
  std::optional<int64_t> grace_period_seconds;
  std::string precondition_uid;
  std::string precondition_resource_version;
  bool dry_run = false;
};

enum class WatchEventType { added, modified, deleted, bookmark };
std::string_view watch_event_type_name(WatchEventType t);

struct WatchEvent {
  WatchEventType type = WatchEventType::added;
  json::Document object;  // for bookmarks: only metadata.resourceVersion is meaningful
};

// Called on the watching thread for each event, in order. Return false to end the watch.
using WatchHandler = std::function<bool(WatchEvent& event)>;

// Stops a blocking watch (or any long call that accepts one) from another thread. One-shot.
class Cancel {
 public:
  // Thread-safe; idempotent. Runs the registered hook so a blocked read returns promptly.
  void cancel();
  bool cancelled() const { return cancelled_.load(); }
  // For transports: the hook to run on cancel(); runs at once if already cancelled.
  void set_hook(std::function<void()> hook);
  void clear_hook();

 private:
  std::atomic<bool> cancelled_{false};
  std::mutex mu_;
  std::function<void()> hook_;
};

// Any request, for paths the typed calls do not cover (discovery, /healthz, proxies).
struct RawRequest {
  std::string method = "GET";
  std::string path;  // absolute, without the server's own path prefix: "/apis"
  std::vector<std::pair<std::string, std::string>> query;
  std::string body;
  std::string content_type = "application/json";
};

struct RawResponse {
  int status = 0;
  std::string body;
  std::string content_type;
};

// Blocking and thread-safe: call from any number of worker threads.
class KubeClient {
 public:
  virtual ~KubeClient() = default;

  virtual Result<json::Document> get(const Resource& r, std::string_view ns, std::string_view name,
                                     const GetOptions& opts = {}) = 0;
  // One page (opts.limit) or everything (limit 0).
  virtual Result<ListResult> list(const Resource& r, std::string_view ns,
                                  const ListOptions& opts = {}) = 0;
  // obj's metadata.name or generateName names it; ns overrides metadata.namespace when not empty.
  virtual Result<json::Document> create(const Resource& r, std::string_view ns,
                                        const json::Value& obj, const WriteOptions& opts = {}) = 0;
  // PUT with obj's metadata.resourceVersion: Errc::conflict when it is stale.
  virtual Result<json::Document> update(const Resource& r, std::string_view ns,
                                        const json::Value& obj, const WriteOptions& opts = {}) = 0;
  // body: a JSON patch array, a merge patch, or (apply) the full desired object as JSON.
  // Server-side apply requires opts.field_manager.
  virtual Result<json::Document> patch(const Resource& r, std::string_view ns,
                                       std::string_view name, PatchType type, std::string_view body,
                                       const PatchOptions& opts = {}) = 0;
  // Ok when deleted or deletion started (finalizers); Errc::not_found when absent;
  // Errc::conflict when a precondition fails.
  virtual Status remove(const Resource& r, std::string_view ns, std::string_view name,
                        const DeleteOptions& opts = {}) = 0;
  // Streams events until the server ends the stream (Ok), the handler returns false (Ok), cancel
  // fires (Ok; check cancel->cancelled()), or an error: Errc::gone when resource_version is too
  // old (HTTP 410 or an ERROR event with code 410), Errc::timeout on the idle timeout,
  // Errc::unavailable when the connection drops.
  virtual Status watch(const Resource& r, std::string_view ns, const ListOptions& opts,
                       const WatchHandler& handler, Cancel* cancel = nullptr) = 0;
  // Any path; returns the response whatever its status (errors only for transport failures).
  virtual Result<RawResponse> raw(const RawRequest& req) = 0;
  // Discovery: the resource that serves apiVersion + kind.
  virtual Result<Resource> resolve(std::string_view api_version, std::string_view kind) = 0;
  // The namespace of the config (kubeconfig context or the pod's own).
  virtual std::string default_namespace() const = 0;
};

// Builds the real client (HTTP/1.1 over Beast + OpenSSL, keep-alive pool, QPS limit).
// Fails on an unusable config (bad TLS material, bad server URL).
Result<std::unique_ptr<KubeClient>> make_client(const RestConfig& config);

// Every page of a list, following continue tokens (page size opts.limit, default 500). When a
// continue token expires mid-way (410), restarts once with a full unpaged list, as client-go's
// pager does.
Result<ListResult> list_all(KubeClient& client, const Resource& r, std::string_view ns,
                            ListOptions opts = {});

// Maps an HTTP error response to an Error (used by the client and by fakes).
Error http_error(int http_status, std::string_view body, std::string_view method,
                 std::string_view path);

}  // namespace kv::core::kube
