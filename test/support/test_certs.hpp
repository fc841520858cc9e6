#pragma once
// Certificates for tests, made in-process by the project's own CA code (core/pki) instead of the
// openssl CLI: no shell, no half-written extension files, and a failure says what could not be
// made. Keys are ECDSA P-256 as in production. Every function throws std::runtime_error on
// failure: a test cannot go on without its certificates, and fixtures built outside a test case
// (a function-local static) cannot use REQUIRE.

#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "core/pki.hpp"

namespace kv::test {

using core::pki::KeyPair;

// A self-signed CA named `common_name`.
inline KeyPair make_ca(const std::string& common_name) {
  auto ca = core::pki::make_ca(common_name);
  if (!ca.ok())
    throw std::runtime_error("test CA " + common_name + ": " + ca.error().message);
  return std::move(*ca);
}

// A leaf signed by `ca`; the spec says its CN, SANs and extended key usages.
inline KeyPair issue_cert(const KeyPair& ca, const core::pki::LeafSpec& spec) {
  auto leaf = core::pki::issue(ca, spec);
  if (!leaf.ok())
    throw std::runtime_error("test certificate " + spec.common_name + ": " + leaf.error().message);
  return std::move(*leaf);
}

// A serving certificate (extendedKeyUsage serverAuth) for the given DNS names and IP addresses.
inline KeyPair server_cert(const KeyPair& ca, const std::string& common_name,
                           std::vector<std::string> dns_names,
                           std::vector<std::string> ip_addresses) {
  core::pki::LeafSpec spec;
  spec.common_name = common_name;
  spec.dns_names = std::move(dns_names);
  spec.ip_addresses = std::move(ip_addresses);
  spec.server_auth = true;
  return issue_cert(ca, spec);
}

// A client certificate (extendedKeyUsage clientAuth); its CN is the user or proxy name a server
// reads from it.
inline KeyPair client_cert(const KeyPair& ca, const std::string& common_name) {
  core::pki::LeafSpec spec;
  spec.common_name = common_name;
  spec.client_auth = true;
  return issue_cert(ca, spec);
}

// The whole of a text file someone else wrote (e.g. the local cluster's CA).
inline std::string read_text(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in)
    throw std::runtime_error("cannot read " + file.string());
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A certificate and its key from PEM files, e.g. a CA to issue more certificates from.
inline KeyPair read_key_pair(const std::filesystem::path& cert_file,
                             const std::filesystem::path& key_file) {
  return {read_text(cert_file), read_text(key_file)};
}

// For options that take file paths: writes <dir>/<name>.pem (certificate) and <dir>/<name>.key.
inline void write_key_pair(const std::filesystem::path& dir, const std::string& name,
                           const KeyPair& pair) {
  for (const auto& [file, text] : {std::pair{dir / (name + ".pem"), &pair.cert_pem},
                                   std::pair{dir / (name + ".key"), &pair.key_pem}}) {
    std::ofstream out(file);
    out << *text;
    out.close();
    if (!out)
      throw std::runtime_error("cannot write " + file.string());
  }
}

}  // namespace kv::test
