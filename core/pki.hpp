#pragma once
// A small certificate authority on the OpenSSL 3 C API: what virt-api needs to bootstrap the
// cluster's TLS without an operator (addon/cert_secrets.hpp stores the results in Secrets).
//
// Keys are ECDSA P-256; certificates are X.509 v3 signed with SHA-256. All functions are pure
// apart from key and serial-number randomness, thread-safe, and take "now" as an argument where
// time matters so tests need no clock tricks. Text in and out is PEM.

#include <openssl/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace kv::core::pki {

using Clock = std::chrono::system_clock;
using Days = std::chrono::duration<int64_t, std::ratio<86400>>;

// RAII owners of OpenSSL objects (the deleters call X509_free / EVP_PKEY_free).
struct X509Deleter {
  void operator()(X509* p) const;
};
struct PkeyDeleter {
  void operator()(EVP_PKEY* p) const;
};
using X509Ptr = std::unique_ptr<X509, X509Deleter>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

// PEM decoding: the first certificate (or private key, any PEM form OpenSSL reads) in the text.
// Errc::parse naming what was expected when there is none.
Result<X509Ptr> decode_certificate(std::string_view pem);
Result<PkeyPtr> decode_private_key(std::string_view pem);
// PEM encoding ("-----BEGIN CERTIFICATE-----", and PKCS#8 "-----BEGIN PRIVATE KEY-----").
Result<std::string> encode_certificate(const X509& cert);
Result<std::string> encode_private_key(const EVP_PKEY& key);

// A certificate with its private key, both PEM.
struct KeyPair {
  std::string cert_pem;
  std::string key_pem;
};

// A self-signed CA: CA:TRUE (critical), keyUsage keyCertSign + cRLSign (critical), subject and
// issuer CN `common_name`, valid from now - 5 minutes (tolerates clock skew between nodes) for
// `validity`.
Result<KeyPair> make_ca(const std::string& common_name = "kubevirt-cpp CA",
                        Days validity = Days(3653), Clock::time_point now = Clock::now());

// What a leaf certificate is for.
struct LeafSpec {
  std::string common_name;                // required
  std::vector<std::string> dns_names;     // subjectAltName DNS entries
  std::vector<std::string> ip_addresses;  // subjectAltName IP entries (IPv4 or IPv6 text)
  bool server_auth = false;               // extendedKeyUsage serverAuth
  bool client_auth = false;               // extendedKeyUsage clientAuth; at least one of the two
  Days validity = Days(365);
};

// Checks a spec: an Error (Errc::invalid) naming the field and what is allowed.
Status validate(const LeafSpec& spec);

// Issues a leaf (new key, CA:FALSE, keyUsage digitalSignature, the spec's EKUs and SANs) signed
// by `ca`. Errors: a bad spec (as validate), a CA that does not parse or whose key does not
// match its certificate.
Result<KeyPair> issue(const KeyPair& ca, const LeafSpec& spec,
                      Clock::time_point now = Clock::now());

// Verifies that `leaf_pem` chains to `ca_pem` (the only trust anchor; no system roots), is
// within its validity at `at`, and, when `hostname` is given, names it (DNS SAN, or IP SAN when
// hostname is an IP address). Errc::invalid with OpenSSL's reason in the message otherwise
// ("certificate has expired", "unable to get local issuer certificate", "hostname mismatch").
Status verify(std::string_view leaf_pem, std::string_view ca_pem,
              std::optional<std::string_view> hostname = std::nullopt,
              Clock::time_point at = Clock::now());

// Ok when `key_pem` is the private key of `cert_pem`.
Status check_key_matches(std::string_view cert_pem, std::string_view key_pem);

// What a certificate says, for decisions and tests.
struct CertificateInfo {
  std::string common_name;
  std::string issuer_common_name;
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_addresses;
  bool is_ca = false;
  bool server_auth = false;
  bool client_auth = false;
  Clock::time_point not_before;
  Clock::time_point not_after;
};
Result<CertificateInfo> inspect(std::string_view cert_pem);

// The end of the certificate's validity.
Result<Clock::time_point> not_after(std::string_view cert_pem);

// True when a certificate valid until `not_after` must be renewed at `now` (it ends within
// `margin`, or has ended).
inline bool expires_within(Clock::time_point not_after, Clock::time_point now,
                           std::chrono::seconds margin) {
  return not_after - now <= margin;
}

}  // namespace kv::core::pki
