#include "core/pki.hpp"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstring>
#include <ctime>

namespace kv::core::pki {

void X509Deleter::operator()(X509* p) const {
  X509_free(p);
}
void PkeyDeleter::operator()(EVP_PKEY* p) const {
  EVP_PKEY_free(p);
}

namespace {

template <auto F>
struct Free {
  template <class T>
  void operator()(T* p) const {
    F(p);
  }
};
using BioPtr = std::unique_ptr<BIO, Free<BIO_free_all>>;
using BnPtr = std::unique_ptr<BIGNUM, Free<BN_free>>;
using StorePtr = std::unique_ptr<X509_STORE, Free<X509_STORE_free>>;
using StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, Free<X509_STORE_CTX_free>>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, Free<GENERAL_NAMES_free>>;
using GeneralNamePtr = std::unique_ptr<GENERAL_NAME, Free<GENERAL_NAME_free>>;
using ExtensionPtr = std::unique_ptr<X509_EXTENSION, Free<X509_EXTENSION_free>>;

// Drains OpenSSL's thread-local error queue into one line, so the next call starts clean.
std::string openssl_error() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty())
      out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

Error ssl_failure(const std::string& what) {
  return Error(Errc::internal, what + ": " + openssl_error());
}

BioPtr memory_bio(std::string_view text) {
  return BioPtr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(n));
}

// Every certificate in a PEM bundle (a CA file may hold several).
Result<std::vector<X509Ptr>> decode_certificates(std::string_view pem) {
  auto bio = memory_bio(pem);
  if (!bio)
    return ssl_failure("BIO_new_mem_buf");
  std::vector<X509Ptr> out;
  while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr))
    out.emplace_back(x);
  ERR_clear_error();  // the read that ends the loop leaves "no start line"
  if (out.empty())
    return Error(Errc::parse, "no PEM certificate (\"-----BEGIN CERTIFICATE-----\") found");
  return out;
}

std::time_t to_time_t(Clock::time_point t) {
  return Clock::to_time_t(t);
}

Result<Clock::time_point> from_asn1(const ASN1_TIME* t) {
  std::tm tm{};
  if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
    return Error(Errc::parse, "certificate has an unreadable validity time");
  return Clock::from_time_t(timegm(&tm));
}

bool is_ip_address(std::string_view s) {
  std::string z(s);
  unsigned char buf[16];
  return inet_pton(AF_INET, z.c_str(), buf) == 1 || inet_pton(AF_INET6, z.c_str(), buf) == 1;
}

// RFC 1123 host names, lower case, optionally with one leading "*." wildcard label.
bool is_dns_name(std::string_view s) {
  if (s.rfind("*.", 0) == 0)
    s.remove_prefix(2);
  if (s.empty() || s.size() > 253)
    return false;
  size_t label = 0;
  char prev = '.';
  for (char c : s) {
    if (c == '.') {
      if (label == 0 || prev == '-')
        return false;
      label = 0;
    } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-') {
      if (label == 0 && c == '-')
        return false;
      if (++label > 63)
        return false;
    } else {
      return false;
    }
    prev = c;
  }
  return label > 0 && prev != '-';
}

Status add_extension(X509* cert, X509V3_CTX* ctx, int nid, const char* value) {
  ExtensionPtr ext(X509V3_EXT_conf_nid(nullptr, ctx, nid, value));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1)
    return ssl_failure(std::string("adding extension ") + OBJ_nid2sn(nid) + "=" + value);
  return {};
}

Status set_common_name(X509_NAME* name, const std::string& cn) {
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1,
                                 0) != 1)
    return ssl_failure("setting the common name");
  return {};
}

// A new certificate with version 3, a random 127-bit serial (positive, unique with
// overwhelming probability, as RFC 5280 asks), subject CN and validity set.
Result<X509Ptr> new_certificate(const std::string& cn, Clock::time_point now, Days validity) {
  X509Ptr cert(X509_new());
  if (!cert)
    return ssl_failure("X509_new");
  if (X509_set_version(cert.get(), X509_VERSION_3) != 1)
    return ssl_failure("X509_set_version");
  BnPtr serial(BN_new());
  if (!serial || BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      !BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())))
    return ssl_failure("making a serial number");
  // Backdated: a node whose clock is a little behind still accepts a fresh certificate.
  const auto from = now - std::chrono::minutes(5);
  const auto until = now + validity;
  if (!ASN1_TIME_set(X509_getm_notBefore(cert.get()), to_time_t(from)) ||
      !ASN1_TIME_set(X509_getm_notAfter(cert.get()), to_time_t(until)))
    return ssl_failure("setting the validity");
  KV_CHECK(set_common_name(X509_get_subject_name(cert.get()), cn));
  return cert;
}

Result<PkeyPtr> new_key() {
  PkeyPtr key(EVP_EC_gen("P-256"));
  if (!key)
    return ssl_failure("generating an ECDSA P-256 key");
  return key;
}

Result<KeyPair> encode_pair(const X509& cert, const EVP_PKEY& key) {
  auto c = encode_certificate(cert);
  if (!c.ok())
    return std::move(c).error();
  auto k = encode_private_key(key);
  if (!k.ok())
    return std::move(k).error();
  return KeyPair{std::move(*c), std::move(*k)};
}

std::string utf8(const ASN1_STRING* s) {
  unsigned char* out = nullptr;
  int n = ASN1_STRING_to_UTF8(&out, s);
  if (n < 0)
    return {};
  std::string text(reinterpret_cast<char*>(out), static_cast<size_t>(n));
  OPENSSL_free(out);
  return text;
}

std::string common_name_of(const X509_NAME* name) {
  int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (i < 0)
    return {};
  return utf8(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)));
}

}  // namespace

Result<X509Ptr> decode_certificate(std::string_view pem) {
  auto all = decode_certificates(pem);
  if (!all.ok())
    return std::move(all).error();
  return std::move(all->front());
}

Result<PkeyPtr> decode_private_key(std::string_view pem) {
  auto bio = memory_bio(pem);
  if (!bio)
    return ssl_failure("BIO_new_mem_buf");
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    ERR_clear_error();
    return Error(Errc::parse,
                 "no PEM private key (\"-----BEGIN PRIVATE KEY-----\" or "
                 "\"-----BEGIN EC PRIVATE KEY-----\") found");
  }
  return key;
}

Result<std::string> encode_certificate(const X509& cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), &cert) != 1)
    return ssl_failure("PEM-encoding a certificate");
  return bio_text(bio.get());
}

Result<std::string> encode_private_key(const EVP_PKEY& key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), &key, nullptr, nullptr, 0, nullptr, nullptr) != 1)
    return ssl_failure("PEM-encoding a private key");
  return bio_text(bio.get());
}

Result<KeyPair> make_ca(const std::string& common_name, Days validity, Clock::time_point now) {
  if (common_name.empty())
    return Error(Errc::invalid, "common_name: required");
  if (validity.count() < 1)
    return Error(Errc::invalid, "validity: must be at least one day");
  auto key = new_key();
  if (!key.ok())
    return std::move(key).error();
  auto cert = new_certificate(common_name, now, validity);
  if (!cert.ok())
    return std::move(cert).error();
  X509* x = cert->get();
  if (X509_set_issuer_name(x, X509_get_subject_name(x)) != 1 || X509_set_pubkey(x, key->get()) != 1)
    return ssl_failure("setting the CA's issuer and key");
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, x, x, nullptr, nullptr, 0);
  KV_CHECK(add_extension(x, &ctx, NID_basic_constraints, "critical,CA:TRUE"));
  KV_CHECK(add_extension(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign"));
  KV_CHECK(add_extension(x, &ctx, NID_subject_key_identifier, "hash"));
  if (X509_sign(x, key->get(), EVP_sha256()) <= 0)
    return ssl_failure("signing the CA certificate");
  return encode_pair(*x, **key);
}

Status validate(const LeafSpec& spec) {
  if (spec.common_name.empty())
    return Error(Errc::invalid, "common_name: required");
  if (!spec.server_auth && !spec.client_auth)
    return Error(Errc::invalid,
                 "server_auth, client_auth: at least one extended key usage is required");
  if (spec.validity.count() < 1)
    return Error(Errc::invalid, "validity: must be at least one day");
  for (size_t i = 0; i < spec.dns_names.size(); ++i)
    if (!is_dns_name(spec.dns_names[i]))
      return Error(Errc::invalid, "dns_names[" + std::to_string(i) + "]: \"" + spec.dns_names[i] +
                                      "\" is not a DNS name (lower-case RFC 1123 labels, "
                                      "optionally starting with \"*.\")");
  for (size_t i = 0; i < spec.ip_addresses.size(); ++i)
    if (!is_ip_address(spec.ip_addresses[i]))
      return Error(Errc::invalid, "ip_addresses[" + std::to_string(i) + "]: \"" +
                                      spec.ip_addresses[i] + "\" is not an IPv4 or IPv6 address");
  return {};
}

Result<KeyPair> issue(const KeyPair& ca, const LeafSpec& spec, Clock::time_point now) {
  KV_CHECK(validate(spec));
  auto ca_cert = decode_certificate(ca.cert_pem);
  if (!ca_cert.ok())
    return Error(Errc::invalid, "CA certificate: " + ca_cert.error().message);
  auto ca_key = decode_private_key(ca.key_pem);
  if (!ca_key.ok())
    return Error(Errc::invalid, "CA key: " + ca_key.error().message);
  if (X509_check_private_key(ca_cert->get(), ca_key->get()) != 1) {
    ERR_clear_error();
    return Error(Errc::invalid, "CA key: does not belong to the CA certificate");
  }

  auto key = new_key();
  if (!key.ok())
    return std::move(key).error();
  auto cert = new_certificate(spec.common_name, now, spec.validity);
  if (!cert.ok())
    return std::move(cert).error();
  X509* x = cert->get();
  if (X509_set_issuer_name(x, X509_get_subject_name(ca_cert->get())) != 1 ||
      X509_set_pubkey(x, key->get()) != 1)
    return ssl_failure("setting the certificate's issuer and key");

  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, ca_cert->get(), x, nullptr, nullptr, 0);
  KV_CHECK(add_extension(x, &ctx, NID_basic_constraints, "critical,CA:FALSE"));
  // ECDSA keys sign; keyEncipherment is for RSA key transport and does not apply.
  KV_CHECK(add_extension(x, &ctx, NID_key_usage, "critical,digitalSignature"));
  std::string eku;
  if (spec.server_auth)
    eku = "serverAuth";
  if (spec.client_auth)
    eku += eku.empty() ? "clientAuth" : ",clientAuth";
  KV_CHECK(add_extension(x, &ctx, NID_ext_key_usage, eku.c_str()));
  KV_CHECK(add_extension(x, &ctx, NID_subject_key_identifier, "hash"));
  KV_CHECK(add_extension(x, &ctx, NID_authority_key_identifier, "keyid:always"));

  if (!spec.dns_names.empty() || !spec.ip_addresses.empty()) {
    // Built as GENERAL_NAMEs rather than a config string, so no name can smuggle in a ",".
    GeneralNamesPtr names(sk_GENERAL_NAME_new_null());
    if (!names)
      return ssl_failure("sk_GENERAL_NAME_new_null");
    for (const auto& dns : spec.dns_names) {
      GeneralNamePtr g(GENERAL_NAME_new());
      ASN1_IA5STRING* s = ASN1_IA5STRING_new();
      if (!g || !s || ASN1_STRING_set(s, dns.data(), static_cast<int>(dns.size())) != 1) {
        ASN1_IA5STRING_free(s);
        return ssl_failure("encoding DNS name " + dns);
      }
      GENERAL_NAME_set0_value(g.get(), GEN_DNS, s);
      if (sk_GENERAL_NAME_push(names.get(), g.get()) <= 0)
        return ssl_failure("sk_GENERAL_NAME_push");
      g.release();
    }
    for (const auto& ip : spec.ip_addresses) {
      GeneralNamePtr g(GENERAL_NAME_new());
      ASN1_OCTET_STRING* bytes = a2i_IPADDRESS(ip.c_str());
      if (!g || !bytes) {
        ASN1_OCTET_STRING_free(bytes);
        return ssl_failure("encoding IP address " + ip);
      }
      GENERAL_NAME_set0_value(g.get(), GEN_IPADD, bytes);
      if (sk_GENERAL_NAME_push(names.get(), g.get()) <= 0)
        return ssl_failure("sk_GENERAL_NAME_push");
      g.release();
    }
    if (X509_add1_ext_i2d(x, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT) != 1)
      return ssl_failure("adding subjectAltName");
  }

  if (X509_sign(x, ca_key->get(), EVP_sha256()) <= 0)
    return ssl_failure("signing the certificate");
  return encode_pair(*x, **key);
}

Status verify(std::string_view leaf_pem, std::string_view ca_pem,
              std::optional<std::string_view> hostname, Clock::time_point at) {
  auto leaf = decode_certificate(leaf_pem);
  if (!leaf.ok())
    return Error(Errc::invalid, "certificate: " + leaf.error().message);
  auto anchors = decode_certificates(ca_pem);
  if (!anchors.ok())
    return Error(Errc::invalid, "CA: " + anchors.error().message);
  StorePtr store(X509_STORE_new());
  if (!store)
    return ssl_failure("X509_STORE_new");
  for (auto& a : *anchors)
    if (X509_STORE_add_cert(store.get(), a.get()) != 1)
      return ssl_failure("adding the CA to the trust store");
  StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!ctx || X509_STORE_CTX_init(ctx.get(), store.get(), leaf->get(), nullptr) != 1)
    return ssl_failure("X509_STORE_CTX_init");
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  X509_VERIFY_PARAM_set_time(param, to_time_t(at));
  if (hostname) {
    std::string host(*hostname);
    int set = is_ip_address(host) ? X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str())
                                  : X509_VERIFY_PARAM_set1_host(param, host.c_str(), 0);
    if (set != 1)
      return ssl_failure("setting the expected host name " + host);
  }
  if (X509_verify_cert(ctx.get()) != 1) {
    int code = X509_STORE_CTX_get_error(ctx.get());
    ERR_clear_error();
    Error e(Errc::invalid,
            std::string("certificate does not verify: ") + X509_verify_cert_error_string(code));
    e.with("x509_error", std::to_string(code));
    if (hostname)
      e.with("hostname", std::string(*hostname));
    return e;
  }
  return {};
}

Status check_key_matches(std::string_view cert_pem, std::string_view key_pem) {
  auto cert = decode_certificate(cert_pem);
  if (!cert.ok())
    return Error(Errc::invalid, "certificate: " + cert.error().message);
  auto key = decode_private_key(key_pem);
  if (!key.ok())
    return Error(Errc::invalid, "key: " + key.error().message);
  if (X509_check_private_key(cert->get(), key->get()) != 1) {
    ERR_clear_error();
    return Error(Errc::invalid, "key: does not belong to the certificate");
  }
  return {};
}

Result<CertificateInfo> inspect(std::string_view cert_pem) {
  auto cert = decode_certificate(cert_pem);
  if (!cert.ok())
    return std::move(cert).error();
  X509* x = cert->get();
  CertificateInfo info;
  info.common_name = common_name_of(X509_get_subject_name(x));
  info.issuer_common_name = common_name_of(X509_get_issuer_name(x));
  info.is_ca = (X509_get_extension_flags(x) & EXFLAG_CA) != 0;
  const uint32_t xku = X509_get_extended_key_usage(x);
  // UINT32_MAX means "no extendedKeyUsage extension": any use, which we never issue.
  info.server_auth = xku != UINT32_MAX && (xku & XKU_SSL_SERVER) != 0;
  info.client_auth = xku != UINT32_MAX && (xku & XKU_SSL_CLIENT) != 0;
  GeneralNamesPtr names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(x, NID_subject_alt_name, nullptr, nullptr)));
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* g = sk_GENERAL_NAME_value(names.get(), i);
    if (g->type == GEN_DNS) {
      info.dns_names.emplace_back(
          reinterpret_cast<const char*>(ASN1_STRING_get0_data(g->d.dNSName)),
          static_cast<size_t>(ASN1_STRING_length(g->d.dNSName)));
    } else if (g->type == GEN_IPADD) {
      const int len = ASN1_STRING_length(g->d.iPAddress);
      char buf[INET6_ADDRSTRLEN] = {};
      if (inet_ntop(len == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(g->d.iPAddress), buf,
                    sizeof buf))
        info.ip_addresses.emplace_back(buf);
    }
  }
  auto from = from_asn1(X509_get0_notBefore(x));
  if (!from.ok())
    return std::move(from).error();
  auto until = from_asn1(X509_get0_notAfter(x));
  if (!until.ok())
    return std::move(until).error();
  info.not_before = *from;
  info.not_after = *until;
  return info;
}

Result<Clock::time_point> not_after(std::string_view cert_pem) {
  auto cert = decode_certificate(cert_pem);
  if (!cert.ok())
    return std::move(cert).error();
  return from_asn1(X509_get0_notAfter(cert->get()));
}

}  // namespace kv::core::pki
