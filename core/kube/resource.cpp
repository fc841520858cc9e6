#include "core/kube/resource.hpp"

namespace kv::core::kube {

namespace resources {
Resource config_maps() {
  return {"", "v1", "configmaps", "ConfigMap", true};
}
Resource secrets() {
  return {"", "v1", "secrets", "Secret", true};
}
Resource pods() {
  return {"", "v1", "pods", "Pod", true};
}
Resource nodes() {
  return {"", "v1", "nodes", "Node", false};
}
Resource namespaces() {
  return {"", "v1", "namespaces", "Namespace", false};
}
Resource events() {
  return {"", "v1", "events", "Event", true};
}
Resource services() {
  return {"", "v1", "services", "Service", true};
}
Resource leases() {
  return {"coordination.k8s.io", "v1", "leases", "Lease", true};
}
Resource custom_resource_definitions() {
  return {"apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition",
          false};
}
}  // namespace resources

std::string url_escape(std::string_view s) {
  static const char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string resource_path(const Resource& r, std::string_view ns, std::string_view name,
                          std::string_view subresource) {
  std::string p = r.group.empty() ? "/api/" + r.version : "/apis/" + r.group + "/" + r.version;
  if (r.namespaced && !ns.empty())
    p += "/namespaces/" + url_escape(ns);
  p += "/" + r.resource;
  if (!name.empty())
    p += "/" + url_escape(name);
  if (!subresource.empty()) {
    p += "/";
    p += subresource;
  }
  return p;
}

Result<std::vector<Resource>> parse_resource_list(std::string_view body) {
  auto doc = json::parse(body);
  if (!doc.ok())
    return Error(Errc::parse, "discovery document: " + doc.error().message);
  auto gv = json::get_string(*doc, "groupVersion");
  if (!gv)
    return Error(Errc::parse, "discovery document: groupVersion missing");
  std::string group, version(*gv);
  if (auto slash = gv->find('/'); slash != std::string_view::npos) {
    group = std::string(gv->substr(0, slash));
    version = std::string(gv->substr(slash + 1));
  }
  std::vector<Resource> out;
  const json::Value* list = json::find(*doc, "resources");
  if (!list || !list->IsArray())
    return out;
  for (const auto& r : list->GetArray()) {
    auto name = json::get_string(r, "name");
    auto kind = json::get_string(r, "kind");
    if (!name || !kind || name->find('/') != std::string_view::npos)
      continue;
    out.push_back(Resource{group, version, std::string(*name), std::string(*kind),
                           json::get_bool(r, "namespaced").value_or(false)});
  }
  return out;
}

Result<std::vector<Resource>> DiscoveryCache::load_locked(const std::string& api_version) {
  std::string path =
      api_version.find('/') == std::string::npos ? "/api/" + api_version : "/apis/" + api_version;
  auto body = fetch_(path);
  if (!body.ok())
    return body.error();
  return parse_resource_list(*body);
}

Result<Resource> DiscoveryCache::resolve(std::string_view api_version, std::string_view kind) {
  std::lock_guard lock(mu_);
  std::string gv(api_version);
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto it = by_group_version_.find(gv);
    if (it == by_group_version_.end() || attempt == 1) {
      auto loaded = load_locked(gv);
      if (!loaded.ok()) {
        if (loaded.error().code == Errc::not_found)
          return Error(Errc::not_found, "the server does not serve apiVersion " + gv +
                                            " (looking for kind " + std::string(kind) + ")")
              .with("apiVersion", gv);
        return loaded.error();
      }
      it = by_group_version_.insert_or_assign(gv, std::move(*loaded)).first;
    }
    for (const auto& r : it->second)
      if (r.kind == kind)
        return r;
  }
  return Error(Errc::not_found,
               "the server has no kind " + std::string(kind) + " in apiVersion " + gv)
      .with("apiVersion", gv)
      .with("kind", std::string(kind));
}

void DiscoveryCache::invalidate() {
  std::lock_guard lock(mu_);
  by_group_version_.clear();
}

namespace meta {
namespace {
std::string_view meta_string(const json::Value& obj, std::string_view key) {
  const json::Value* m = json::find(obj, "metadata");
  if (!m)
    return {};
  return json::get_string(*m, key).value_or(std::string_view{});
}
std::optional<std::string_view> map_entry(const json::Value& obj, std::string_view map,
                                          std::string_view key) {
  const json::Value* m = json::find_path(obj, {"metadata", map});
  if (!m)
    return std::nullopt;
  return json::get_string(*m, key);
}
}  // namespace

std::string_view name(const json::Value& obj) {
  return meta_string(obj, "name");
}
std::string_view ns(const json::Value& obj) {
  return meta_string(obj, "namespace");
}
std::string_view uid(const json::Value& obj) {
  return meta_string(obj, "uid");
}
std::string_view resource_version(const json::Value& obj) {
  return meta_string(obj, "resourceVersion");
}
std::string_view generate_name(const json::Value& obj) {
  return meta_string(obj, "generateName");
}
std::optional<std::string_view> label(const json::Value& obj, std::string_view key) {
  return map_entry(obj, "labels", key);
}
std::optional<std::string_view> annotation(const json::Value& obj, std::string_view key) {
  return map_entry(obj, "annotations", key);
}
std::string key(std::string_view ns, std::string_view name) {
  if (ns.empty())
    return std::string(name);
  std::string k(ns);
  k += '/';
  k += name;
  return k;
}
std::string key(const json::Value& obj) {
  return key(ns(obj), name(obj));
}
std::pair<std::string, std::string> split_key(std::string_view k) {
  auto slash = k.find('/');
  if (slash == std::string_view::npos)
    return {"", std::string(k)};
  return {std::string(k.substr(0, slash)), std::string(k.substr(slash + 1))};
}
bool has_deletion_timestamp(const json::Value& obj) {
  return !meta_string(obj, "deletionTimestamp").empty();
}

const json::Value* controller_ref(const json::Value& obj, std::string_view kind) {
  const json::Value* refs = json::find_path(obj, {"metadata", "ownerReferences"});
  if (!refs || !refs->IsArray())
    return nullptr;
  for (const auto& r : refs->GetArray())
    if (json::get_string(r, "kind") == kind && json::get_bool(r, "controller").value_or(false))
      return &r;
  return nullptr;
}
}  // namespace meta

}  // namespace kv::core::kube
