#include "api/server/authn.hpp"

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <memory>

namespace kv::apiserver {
namespace json = core::json;
using core::Errc;
using core::Error;

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

bool istarts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

core::Result<std::vector<std::string>> string_list(const json::Value& data, const char* key,
                                                   std::vector<std::string> fallback) {
  auto text = json::get_string(data, key);
  if (!text || text->empty())
    return fallback;
  auto doc = json::parse(*text);
  if (!doc.ok() || !doc->IsArray())
    return Error(Errc::invalid, std::string(kAuthConfigMapName) + " data." + key +
                                    ": must be a JSON list of strings, got \"" +
                                    std::string(*text) + "\"");
  std::vector<std::string> out;
  for (const auto& v : doc->GetArray()) {
    if (!v.IsString())
      return Error(Errc::invalid, std::string(kAuthConfigMapName) + " data." + key +
                                      ": must be a JSON list of strings");
    out.emplace_back(v.GetString(), v.GetStringLength());
  }
  return out;
}

// "%2F" -> "/", as kube-apiserver unescapes extra keys.
std::string percent_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct StoreFree {
  void operator()(X509_STORE* s) const { X509_STORE_free(s); }
};
struct CtxFree {
  void operator()(X509_STORE_CTX* c) const { X509_STORE_CTX_free(c); }
};
struct StackFree {
  void operator()(STACK_OF(X509) * s) const { sk_X509_pop_free(s, X509_free); }
};
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};

std::vector<std::unique_ptr<X509, X509Free>> read_certs(const std::string& pem) {
  std::vector<std::unique_ptr<X509, X509Free>> out;
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr))
    out.emplace_back(x);
  return out;
}

}  // namespace

core::Result<RequestHeaderConfig> request_header_config_from(const json::Value& configmap) {
  const json::Value* data = json::find(configmap, "data");
  auto ca = data ? json::get_string(*data, "requestheader-client-ca-file") : std::nullopt;
  if (!ca || ca->empty())
    return Error(Errc::not_found, std::string(kAuthConfigMapNamespace) + "/" + kAuthConfigMapName +
                                      " has no requestheader-client-ca-file: kube-apiserver runs "
                                      "without --requestheader-client-ca-file");
  RequestHeaderConfig c;
  c.client_ca_pem = std::string(*ca);
  if (read_certs(c.client_ca_pem).empty())
    return Error(Errc::invalid, std::string(kAuthConfigMapName) +
                                    " data.requestheader-client-ca-file: no PEM certificate");
  auto names = string_list(*data, "requestheader-allowed-names", {});
  KV_CHECK(names);
  c.allowed_names = std::move(*names);
  auto users = string_list(*data, "requestheader-username-headers", c.username_headers);
  KV_CHECK(users);
  c.username_headers = std::move(*users);
  auto groups = string_list(*data, "requestheader-group-headers", c.group_headers);
  KV_CHECK(groups);
  c.group_headers = std::move(*groups);
  auto extra = string_list(*data, "requestheader-extra-headers-prefix", c.extra_prefixes);
  KV_CHECK(extra);
  c.extra_prefixes = std::move(*extra);
  return c;
}

core::Result<std::string> verify_client_certificate(const std::string& ca_pem,
                                                    const std::string& cert_pem,
                                                    const std::vector<std::string>& chain_pem) {
  auto cas = read_certs(ca_pem);
  if (cas.empty())
    return Error(Errc::invalid, "the requestheader CA bundle holds no certificate");
  auto leaf = read_certs(cert_pem);
  if (leaf.empty())
    return Error(Errc::unauthorized, "no client certificate");
  std::unique_ptr<X509_STORE, StoreFree> store(X509_STORE_new());
  for (auto& c : cas)
    X509_STORE_add_cert(store.get(), c.get());
  std::unique_ptr<STACK_OF(X509), StackFree> untrusted(sk_X509_new_null());
  for (const auto& p : chain_pem)
    for (auto& c : read_certs(p))
      sk_X509_push(untrusted.get(), c.release());
  std::unique_ptr<X509_STORE_CTX, CtxFree> ctx(X509_STORE_CTX_new());
  if (!ctx || X509_STORE_CTX_init(ctx.get(), store.get(), leaf[0].get(), untrusted.get()) != 1)
    return Error(Errc::internal, "cannot set up certificate verification");
  X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_CLIENT);
  if (X509_verify_cert(ctx.get()) != 1)
    return Error(Errc::unauthorized,
                 std::string("the client certificate does not verify against the requestheader "
                             "CA: ") +
                     X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get())));
  char cn[256] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(leaf[0].get()), NID_commonName, cn, sizeof cn);
  return std::string(cn);
}

std::variant<UserInfo, ApiError> authenticate(const RequestHeaderConfig& config, const Peer& peer,
                                              const Headers& headers, bool require_user) {
  if (!peer.verified)
    return unauthorized(
        "Unauthorized: virt-api serves subresources.kubevirt.io only through kube-apiserver's "
        "aggregation layer (" +
        (peer.error.empty() ? std::string("no front-proxy client certificate") : peer.error) + ")");
  if (!config.allowed_names.empty() &&
      std::find(config.allowed_names.begin(), config.allowed_names.end(), peer.common_name) ==
          config.allowed_names.end()) {
    std::string allowed;
    for (const auto& n : config.allowed_names)
      allowed += (allowed.empty() ? "" : ", ") + n;
    return unauthorized("Unauthorized: client certificate CN \"" + peer.common_name +
                        "\" is not in requestheader-allowed-names (" + allowed + ")");
  }
  UserInfo u;
  for (const auto& h : config.username_headers) {
    for (const auto& [k, v] : headers)
      if (iequals(k, h) && !v.empty()) {
        u.name = v;
        break;
      }
    if (!u.name.empty())
      break;
  }
  if (u.name.empty() && require_user)
    return unauthorized("Unauthorized: the front-proxy request names no user (header " +
                        (config.username_headers.empty() ? std::string("X-Remote-User")
                                                         : config.username_headers[0]) +
                        ")");
  for (const auto& h : config.group_headers)
    for (const auto& [k, v] : headers)
      if (iequals(k, h))
        u.groups.push_back(v);
  for (const auto& prefix : config.extra_prefixes)
    for (const auto& [k, v] : headers)
      if (istarts_with(k, prefix) && k.size() > prefix.size()) {
        std::string key = percent_decode(std::string_view(k).substr(prefix.size()));
        std::transform(key.begin(), key.end(), key.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        u.extra[key].push_back(v);
      }
  return u;
}

}  // namespace kv::apiserver
