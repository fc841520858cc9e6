#include "addon/cert_secrets.hpp"

#include <algorithm>

#include "core/log.hpp"

namespace kv::addon {
using namespace core::kube;
using core::Errc;
using core::Error;
namespace json = core::json;
namespace log = core::log;

namespace {

constexpr int kMaxAttempts = 5;
constexpr const char* kTlsSecretType = "kubernetes.io/tls";

using Data = std::map<std::string, std::string>;

// The Secret's data, base64-decoded. Errc::parse names the key whose value is not base64.
Result<Data> decode_data(const json::Value& secret) {
  Data out;
  const json::Value* data = json::find(secret, "data");
  if (!data || !data->IsObject())
    return out;
  for (const auto& m : data->GetObject()) {
    std::string key(m.name.GetString(), m.name.GetStringLength());
    if (!m.value.IsString())
      return Error(Errc::parse, "data." + key + ": not a string");
    auto dec = base64_decode(std::string_view(m.value.GetString(), m.value.GetStringLength()));
    if (!dec.ok())
      return Error(Errc::parse, "data." + key + ": " + dec.error().message);
    out[key] = std::move(*dec);
  }
  return out;
}

void set_data(json::Document& d, const Data& data) {
  auto& a = d.GetAllocator();
  json::Value obj(rapidjson::kObjectType);
  for (const auto& [k, v] : data)
    json::set(obj, k, base64_encode(v), a);
  json::set(d, "data", std::move(obj), a);
}

void set_labels(json::Document& d, std::string_view component) {
  auto& a = d.GetAllocator();
  json::Value& labels = json::ensure_object(json::ensure_object(d, "metadata", a), "labels", a);
  json::set(labels, kPartOfLabel, kPartOfValue, a);
  json::set(labels, "app.kubernetes.io/component", component, a);
}

json::Document new_secret(std::string_view ns, std::string_view name, std::string_view type,
                          const Data& data) {
  json::Document d;
  d.SetObject();
  auto& a = d.GetAllocator();
  json::set(d, "apiVersion", "v1", a);
  json::set(d, "kind", "Secret", a);
  json::Value& md = json::ensure_object(d, "metadata", a);
  json::set(md, "name", name, a);
  json::set(md, "namespace", ns, a);
  json::set(d, "type", type, a);
  set_labels(d, "certificates");
  set_data(d, data);
  return d;
}

// The existing Secret with new data; keeps metadata.resourceVersion (optimistic concurrency) and
// its type (immutable).
json::Document replaced_secret(const json::Value& old, const Data& data) {
  json::Document d;
  d.CopyFrom(old, d.GetAllocator());
  set_labels(d, "certificates");
  set_data(d, data);
  return d;
}

std::string date_of(pki::Clock::time_point t) {
  return format_rfc3339(t);
}

// Why a CA Secret cannot be used, or nullopt.
std::optional<std::string> ca_problem(const Data& data, pki::Clock::time_point now,
                                      std::chrono::seconds renew_before) {
  for (const char* k : {"ca.crt", "ca.key"})
    if (data.find(k) == data.end())
      return std::string("it has no ") + k;
  auto info = pki::inspect(data.at("ca.crt"));
  if (!info.ok())
    return "ca.crt: " + info.error().message;
  if (!info->is_ca)
    return std::string("ca.crt is not a CA certificate");
  if (auto st = pki::check_key_matches(data.at("ca.crt"), data.at("ca.key")); !st.ok())
    return "ca.key: " + st.error().message;
  if (pki::expires_within(info->not_after, now, renew_before))
    return "it ends on " + date_of(info->not_after);
  return std::nullopt;
}

Result<pki::KeyPair> ensure_ca(KubeClient& client, std::string_view ns,
                               const CertificateOptions& opts) {
  const auto secrets = resources::secrets();
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    auto got = client.get(secrets, ns, kCaSecretName);
    if (!got.ok() && got.error().code != Errc::not_found)
      return std::move(got).error();
    if (got.ok()) {
      auto data = decode_data(*got);
      std::optional<std::string> problem =
          data.ok() ? ca_problem(*data, opts.now, opts.renew_before) : data.error().message;
      if (!problem)
        return pki::KeyPair{(*data)["ca.crt"], (*data)["ca.key"]};
      log::warn("replacing the CA Secret: both certificates are re-issued",
                {{"secret", kCaSecretName}, {"namespace", ns}, {"reason", *problem}});
    }
    auto ca = pki::make_ca("kubevirt-cpp CA", opts.ca_validity, opts.now);
    if (!ca.ok())
      return std::move(ca).error();
    const Data data{{"ca.crt", ca->cert_pem}, {"ca.key", ca->key_pem}};
    if (got.ok()) {
      auto up = client.update(secrets, ns, replaced_secret(*got, data));
      if (up.ok())
        return std::move(*ca);
      if (up.error().code != Errc::conflict)
        return std::move(up).error();
      continue;  // another replica replaced it first: use theirs if it is good
    }
    auto made = client.create(secrets, ns, new_secret(ns, kCaSecretName, "Opaque", data));
    if (made.ok()) {
      log::info("created the CA", {{"secret", kCaSecretName}, {"namespace", ns}});
      return std::move(*ca);
    }
    if (made.error().code != Errc::exists)
      return std::move(made).error();
    // Two virt-api replicas raced and the other won: read back and use its CA.
    log::info("another virt-api created the CA first: using it",
              {{"secret", kCaSecretName}, {"namespace", ns}});
  }
  return Error(Errc::conflict, "Secret " + std::string(ns) + "/" + kCaSecretName +
                                   " kept changing (" + std::to_string(kMaxAttempts) +
                                   " attempts)");
}

Result<pki::KeyPair> ensure_leaf(KubeClient& client, std::string_view ns, std::string_view name,
                                 const pki::LeafSpec& spec, const pki::KeyPair& ca,
                                 const CertificateOptions& opts) {
  const auto secrets = resources::secrets();
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    auto got = client.get(secrets, ns, name);
    if (!got.ok() && got.error().code != Errc::not_found)
      return std::move(got).error();
    if (got.ok()) {
      auto data = decode_data(*got);
      std::optional<std::string> why =
          data.ok() ? leaf_needs_reissue(*data, ca.cert_pem, spec, opts.now, opts.renew_before)
                    : data.error().message;
      if (!why)
        return pki::KeyPair{(*data)["tls.crt"], (*data)["tls.key"]};
      log::info("re-issuing a certificate",
                {{"secret", name}, {"namespace", ns}, {"reason", *why}});
    }
    auto leaf = pki::issue(ca, spec, opts.now);
    if (!leaf.ok())
      return std::move(leaf).error();
    const Data data{
        {"tls.crt", leaf->cert_pem}, {"tls.key", leaf->key_pem}, {"ca.crt", ca.cert_pem}};
    if (got.ok()) {
      auto up = client.update(secrets, ns, replaced_secret(*got, data));
      if (up.ok())
        return std::move(*leaf);
      if (up.error().code != Errc::conflict)
        return std::move(up).error();
      continue;
    }
    auto made = client.create(secrets, ns, new_secret(ns, name, kTlsSecretType, data));
    if (made.ok()) {
      log::info("created a certificate", {{"secret", name}, {"namespace", ns}});
      return std::move(*leaf);
    }
    if (made.error().code != Errc::exists)
      return std::move(made).error();
  }
  return Error(Errc::conflict, "Secret " + std::string(ns) + "/" + std::string(name) +
                                   " kept changing (" + std::to_string(kMaxAttempts) +
                                   " attempts)");
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v)
    out += (out.empty() ? "" : ",") + s;
  return out;
}

// Sets every webhook's clientConfig.caBundle in a Validating/MutatingWebhookConfiguration.
// Returns false when all already carry it.
bool set_webhook_bundles(json::Document& config, const std::string& bundle) {
  json::Value* hooks = json::find(config, "webhooks");
  if (!hooks || !hooks->IsArray())
    return false;
  bool changed = false;
  auto& a = config.GetAllocator();
  for (auto& hook : hooks->GetArray()) {
    if (!hook.IsObject())
      continue;
    json::Value& cc = json::ensure_object(hook, "clientConfig", a);
    if (json::get_string(cc, "caBundle") == bundle)
      continue;
    json::set(cc, "caBundle", bundle, a);
    changed = true;
  }
  return changed;
}

Status inject_webhooks(KubeClient& client, const Resource& r, const std::string& name,
                       const std::string& bundle, CaBundleReport& report) {
  const std::string label = r.kind + "/" + name;
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    auto got = client.get(r, "", name);
    if (!got.ok()) {
      if (got.error().code != Errc::not_found)
        return std::move(got).error();
      report.missing.push_back(label);
      return {};
    }
    if (!set_webhook_bundles(*got, bundle)) {
      report.unchanged.push_back(label);
      return {};
    }
    // A merge patch of the whole list, with the resourceVersion read as its precondition: every
    // webhook changes at once or not at all (a conflict when someone wrote in between), and RBAC
    // needs only `patch`.
    json::Document p;
    p.SetObject();
    auto& a = p.GetAllocator();
    json::set(json::ensure_object(p, "metadata", a), "resourceVersion",
              meta::resource_version(*got), a);
    json::set(p, "webhooks", json::clone(*json::find(*got, "webhooks"), a), a);
    auto up = client.patch(r, "", name, PatchType::merge, json::to_string(p));
    if (up.ok()) {
      report.patched.push_back(label);
      return {};
    }
    if (up.error().code != Errc::conflict)
      return std::move(up).error();
  }
  return Error(Errc::conflict,
               label + " kept changing (" + std::to_string(kMaxAttempts) + " attempts)");
}

}  // namespace

Result<std::map<std::string, std::string>> decode_secret_data(const json::Value& secret) {
  return decode_data(secret);
}

pki::LeafSpec api_leaf_spec(std::string_view ns, pki::Days validity) {
  pki::LeafSpec s;
  s.common_name = "virt-api";
  const std::string n(ns);
  s.dns_names = {"virt-api", "virt-api." + n, "virt-api." + n + ".svc",
                 "virt-api." + n + ".svc.cluster.local"};
  s.server_auth = s.client_auth = true;
  s.validity = validity;
  return s;
}

pki::LeafSpec handler_leaf_spec(std::string_view ns, pki::Days validity) {
  pki::LeafSpec s;
  s.common_name = "virt-handler";
  // virt-api dials handlers by pod IP and checks this name rather than the IP (pod IPs change
  // and are not known when the certificate is made).
  s.dns_names = {"virt-handler." + std::string(ns) + ".svc"};
  s.server_auth = s.client_auth = true;
  s.validity = validity;
  return s;
}

std::optional<std::string> leaf_needs_reissue(const Data& data, const std::string& ca_pem,
                                              const pki::LeafSpec& spec, pki::Clock::time_point now,
                                              std::chrono::seconds renew_before) {
  for (const char* k : {"tls.crt", "tls.key", "ca.crt"})
    if (data.find(k) == data.end())
      return std::string("it has no ") + k;
  const std::string& cert = data.at("tls.crt");
  if (data.at("ca.crt") != ca_pem)
    return std::string("its ca.crt is not the current CA");
  if (auto st = pki::verify(cert, ca_pem, std::nullopt, now); !st.ok())
    return "tls.crt: " + st.error().message;
  if (auto st = pki::check_key_matches(cert, data.at("tls.key")); !st.ok())
    return "tls.key: " + st.error().message;
  auto info = pki::inspect(cert);
  if (!info.ok())
    return "tls.crt: " + info.error().message;
  if (info->common_name != spec.common_name || sorted(info->dns_names) != sorted(spec.dns_names) ||
      sorted(info->ip_addresses) != sorted(spec.ip_addresses) ||
      info->server_auth != spec.server_auth || info->client_auth != spec.client_auth)
    return "it names CN=" + info->common_name + " DNS=" + joined(info->dns_names) +
           ", not the wanted CN=" + spec.common_name + " DNS=" + joined(spec.dns_names);
  if (pki::expires_within(info->not_after, now, renew_before))
    return "it ends on " + date_of(info->not_after);
  return std::nullopt;
}

Result<ApiCertificates> ensure_certificates(KubeClient& client, std::string_view ns,
                                            const CertificateOptions& opts) {
  if (ns.empty())
    return Error(Errc::invalid, "namespace: required (where the certificate Secrets live)");
  auto ca = ensure_ca(client, ns, opts);
  if (!ca.ok())
    return std::move(ca).error();
  auto api = ensure_leaf(client, ns, kApiCertsSecretName, api_leaf_spec(ns, opts.leaf_validity),
                         *ca, opts);
  if (!api.ok())
    return std::move(api).error();
  auto handler = ensure_leaf(client, ns, kHandlerCertsSecretName,
                             handler_leaf_spec(ns, opts.leaf_validity), *ca, opts);
  if (!handler.ok())
    return std::move(handler).error();
  return ApiCertificates{std::move(api->cert_pem), std::move(api->key_pem),
                         std::move(ca->cert_pem)};
}

Resource api_service_resource() {
  return {"apiregistration.k8s.io", "v1", "apiservices", "APIService", false};
}
Resource validating_webhook_configuration_resource() {
  return {"admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations",
          "ValidatingWebhookConfiguration", false};
}
Resource mutating_webhook_configuration_resource() {
  return {"admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations",
          "MutatingWebhookConfiguration", false};
}

Result<CaBundleReport> inject_ca_bundle(
    KubeClient& client, std::string_view ca_pem, std::string_view apiservice_name,
    const std::vector<std::string>& validating_webhook_config_names,
    const std::vector<std::string>& mutating_webhook_config_names) {
  if (ca_pem.empty())
    return Error(Errc::invalid, "ca_pem: required (the CA certificate, PEM)");
  const std::string bundle = base64_encode(ca_pem);
  CaBundleReport report;
  if (!apiservice_name.empty()) {
    const auto r = api_service_resource();
    const std::string label = "APIService/" + std::string(apiservice_name);
    auto got = client.get(r, "", apiservice_name);
    if (!got.ok()) {
      if (got.error().code != Errc::not_found)
        return std::move(got).error();
      report.missing.push_back(label);
    } else if (json::find_path(*got, {"spec", "caBundle"}) &&
               json::get_string(*json::find(*got, "spec"), "caBundle") == bundle) {
      report.unchanged.push_back(label);
    } else {
      // One field of a map: a merge patch needs no resourceVersion and cannot lose a race.
      json::Document p;
      p.SetObject();
      json::set(json::ensure_object(p, "spec", p.GetAllocator()), "caBundle", bundle,
                p.GetAllocator());
      auto patched = client.patch(r, "", apiservice_name, PatchType::merge, json::to_string(p));
      if (!patched.ok())
        return std::move(patched).error();
      report.patched.push_back(label);
    }
  }
  for (const auto& name : validating_webhook_config_names)
    KV_CHECK(
        inject_webhooks(client, validating_webhook_configuration_resource(), name, bundle, report));
  for (const auto& name : mutating_webhook_config_names)
    KV_CHECK(
        inject_webhooks(client, mutating_webhook_configuration_resource(), name, bundle, report));
  return report;
}

}  // namespace kv::addon
