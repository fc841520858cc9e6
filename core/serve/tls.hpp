#pragma once
// A server-side TLS context that can be replaced while the server runs (certificate hot reload).
//
// set_certificate() builds a complete new asio::ssl::context from PEM text and, only when all of
// it loads, swaps it in atomically. A connection takes current() when it is accepted and keeps
// that context for its whole life, so a rotated certificate is served from the next connection
// on, and connections already open are not disturbed.
//
// TLS 1.2 and later only.

#include <utility>  // before Asio: Boost 1.74 awaitable.hpp uses std::exchange unincluded

#include <boost/asio/ssl/context.hpp>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>

#include "core/result.hpp"

namespace kv::core::serve {

// What the server asks of a client's certificate.
enum class ClientAuth {
  none,     // not asked for
  request,  // asked for, any (or none) accepted: the application checks it per request
  require,  // required, and it must chain to the client CA given with the certificate
};

// The part of a certificate set that did not load (Error context key "pem").
inline constexpr const char* kPemCertificate = "certificate";
inline constexpr const char* kPemKey = "key";
inline constexpr const char* kPemClientCa = "client_ca";

class TlsContext {
 public:
  explicit TlsContext(ClientAuth auth = ClientAuth::none) : auth_(auth) {}

  // Builds a context from the certificate chain, its key and (for ClientAuth::require) the CA
  // bundle client certificates must chain to, and makes it the one new connections get. On
  // failure nothing changes; the Error (Errc::invalid) carries OpenSSL's reason as its message
  // and the part that failed under context key "pem" (kPemCertificate, kPemKey, kPemClientCa).
  // Thread-safe.
  Status set_certificate(const std::string& cert_pem, const std::string& key_pem,
                         const std::string& client_ca_pem = "");

  // The context for a new connection; null until set_certificate first succeeded. Thread-safe.
  std::shared_ptr<boost::asio::ssl::context> current() const;
  // How many times a certificate was set (0: never). Thread-safe.
  uint64_t generation() const;
  ClientAuth client_auth() const { return auth_; }

 private:
  const ClientAuth auth_;
  mutable std::mutex mu_;
  std::shared_ptr<boost::asio::ssl::context> current_;
  uint64_t generation_ = 0;
};

// Certificate, key and client CA read from files, re-read when one of them changes (by content).
// Useful where certificates are mounted from a Secret or written by a tool.
class PemFiles {
 public:
  PemFiles(std::filesystem::path cert_file, std::filesystem::path key_file,
           std::filesystem::path client_ca_file = {});
  // Reads the files; when what they hold differs from the last successful load (or on the first
  // call), sets it on `tls`. Returns whether the certificate changed. Errors: Errc::io naming the
  // file that cannot be read, or set_certificate's error. Not thread-safe (one caller).
  Result<bool> reload(TlsContext& tls);

 private:
  std::filesystem::path cert_file_, key_file_, client_ca_file_;
  std::string loaded_;  // the concatenated texts of the last successful load
};

}  // namespace kv::core::serve
