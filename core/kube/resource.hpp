#pragma once
// Resources (group/version/resource + kind) and the URL paths that address them; API discovery
// from apiVersion + kind; typed read-only views over untyped JSON objects.

#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/json.hpp"
#include "core/result.hpp"

namespace kv::core::kube {

// A group/version/resource with the kind it serves and its scope, as discovery reports them.
struct Resource {
  std::string group;     // "" for the core group
  std::string version;   // "v1"
  std::string resource;  // plural: "configmaps"
  std::string kind;      // "ConfigMap"
  bool namespaced = true;

  // "v1" or "group/version", as objects carry it in apiVersion.
  std::string api_version() const { return group.empty() ? version : group + "/" + version; }
  // "configmaps" or "leases.coordination.k8s.io": for logs and metrics.
  std::string id() const { return group.empty() ? resource : resource + "." + group; }
  bool operator==(const Resource& o) const {
    return group == o.group && version == o.version && resource == o.resource;
  }
};

// Resources this project uses, known without discovery.
namespace resources {
Resource config_maps();
Resource secrets();
Resource pods();
Resource nodes();
Resource namespaces();
Resource events();
Resource services();
Resource leases();
Resource custom_resource_definitions();
}  // namespace resources

// "/api/v1/namespaces/ns/configmaps/name/status" (ns ignored for cluster-scoped resources; empty
// ns on a namespaced resource addresses all namespaces; empty name: the collection).
std::string resource_path(const Resource& r, std::string_view ns, std::string_view name = {},
                          std::string_view subresource = {});
// Percent-encodes a query value or path segment.
std::string url_escape(std::string_view s);

// Caches the server's discovery documents (/api/v1, /apis, /apis/G/V) and maps apiVersion + kind
// to a Resource. Refreshes a group/version once on a miss, so CRDs created after start resolve.
// Thread-safe.
class DiscoveryCache {
 public:
  // fetch(path) returns the body of a GET on path.
  using Fetch = std::function<Result<std::string>(const std::string& path)>;
  explicit DiscoveryCache(Fetch fetch) : fetch_(std::move(fetch)) {}

  // Errc::not_found (message names the apiVersion and kind) when the server does not serve it.
  Result<Resource> resolve(std::string_view api_version, std::string_view kind);
  // Drops everything cached.
  void invalidate();

 private:
  Result<std::vector<Resource>> load_locked(const std::string& api_version);

  Fetch fetch_;
  std::mutex mu_;
  std::map<std::string, std::vector<Resource>> by_group_version_;
};

// Parses an APIResourceList document (the body of /api/v1 or /apis/G/V) into Resources; skips
// subresources ("pods/status").
Result<std::vector<Resource>> parse_resource_list(std::string_view body);

// Read-only accessors for the metadata every object has. All return "" when absent.
namespace meta {
std::string_view name(const json::Value& obj);
std::string_view ns(const json::Value& obj);
std::string_view uid(const json::Value& obj);
std::string_view resource_version(const json::Value& obj);
std::string_view generate_name(const json::Value& obj);
std::optional<std::string_view> label(const json::Value& obj, std::string_view key);
std::optional<std::string_view> annotation(const json::Value& obj, std::string_view key);
// "ns/name", or "name" for cluster-scoped objects: the informer's and work queue's key.
std::string key(const json::Value& obj);
std::string key(std::string_view ns, std::string_view name);
// Splits a key back into namespace and name.
std::pair<std::string, std::string> split_key(std::string_view key);
bool has_deletion_timestamp(const json::Value& obj);
// The owner reference of `kind` that is the controller (controller: true), or null.
const json::Value* controller_ref(const json::Value& obj, std::string_view kind);
}  // namespace meta

}  // namespace kv::core::kube
