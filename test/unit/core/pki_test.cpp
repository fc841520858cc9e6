#include "core/pki.hpp"

#include <openssl/evp.h>
#include <algorithm>

#include <catch2/catch.hpp>

using namespace kv::core;
using namespace kv::core::pki;
using namespace std::chrono_literals;

namespace {

KeyPair must_ca(const std::string& cn = "kubevirt-cpp CA") {
  auto ca = make_ca(cn);
  REQUIRE(ca.ok());
  return *ca;
}

LeafSpec api_spec() {
  LeafSpec s;
  s.common_name = "virt-api";
  s.dns_names = {"virt-api", "virt-api.kubevirt.svc"};
  s.ip_addresses = {"10.96.0.10", "fd00::1"};
  s.server_auth = true;
  s.client_auth = true;
  return s;
}

bool contains(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

}  // namespace

TEST_CASE("pki: the CA is a self-signed P-256 CA named kubevirt-cpp CA, valid 10 years") {
  const auto now = Clock::now();
  auto ca = make_ca("kubevirt-cpp CA", Days(3653), now);
  REQUIRE(ca.ok());
  CHECK(ca->cert_pem.rfind("-----BEGIN CERTIFICATE-----", 0) == 0);
  CHECK(ca->key_pem.rfind("-----BEGIN PRIVATE KEY-----", 0) == 0);
  auto info = inspect(ca->cert_pem);
  REQUIRE(info.ok());
  CHECK(info->common_name == "kubevirt-cpp CA");
  CHECK(info->issuer_common_name == "kubevirt-cpp CA");
  CHECK(info->is_ca);
  CHECK(info->not_after - now > Days(3650));
  CHECK(info->not_before <= now);
  // Self-signed: it verifies against itself.
  CHECK(verify(ca->cert_pem, ca->cert_pem).ok());
  CHECK(check_key_matches(ca->cert_pem, ca->key_pem).ok());
  auto key = decode_private_key(ca->key_pem);
  REQUIRE(key.ok());
  CHECK(EVP_PKEY_get_bits(key->get()) == 256);
}

TEST_CASE("pki: a leaf verifies against its CA and not against another CA") {
  auto ca = must_ca();
  auto other = must_ca("another CA");
  auto leaf = issue(ca, api_spec());
  REQUIRE(leaf.ok());
  CHECK(verify(leaf->cert_pem, ca.cert_pem).ok());
  auto wrong = verify(leaf->cert_pem, other.cert_pem);
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.error().code == Errc::invalid);
  CHECK(wrong.error().message.find("unable to get local issuer certificate") != std::string::npos);
  // A bundle holding both CAs trusts it (what a rotated caBundle looks like).
  CHECK(verify(leaf->cert_pem, other.cert_pem + ca.cert_pem).ok());
  CHECK(check_key_matches(leaf->cert_pem, leaf->key_pem).ok());
  CHECK_FALSE(check_key_matches(leaf->cert_pem, ca.key_pem).ok());
}

TEST_CASE("pki: the leaf carries its CN, SANs and EKUs") {
  auto ca = must_ca();
  auto leaf = issue(ca, api_spec());
  REQUIRE(leaf.ok());
  auto info = inspect(leaf->cert_pem);
  REQUIRE(info.ok());
  CHECK(info->common_name == "virt-api");
  CHECK(info->issuer_common_name == "kubevirt-cpp CA");
  CHECK_FALSE(info->is_ca);
  CHECK(info->server_auth);
  CHECK(info->client_auth);
  CHECK(info->dns_names == std::vector<std::string>{"virt-api", "virt-api.kubevirt.svc"});
  CHECK(contains(info->ip_addresses, "10.96.0.10"));
  CHECK(contains(info->ip_addresses, "fd00::1"));

  LeafSpec client_only;
  client_only.common_name = "virtctl";
  client_only.client_auth = true;
  auto c = issue(ca, client_only);
  REQUIRE(c.ok());
  auto ci = inspect(c->cert_pem);
  REQUIRE(ci.ok());
  CHECK(ci->client_auth);
  CHECK_FALSE(ci->server_auth);
  CHECK(ci->dns_names.empty());
}

TEST_CASE("pki: host name checks use the SANs") {
  auto ca = must_ca();
  auto leaf = issue(ca, api_spec());
  REQUIRE(leaf.ok());
  CHECK(verify(leaf->cert_pem, ca.cert_pem, "virt-api.kubevirt.svc").ok());
  CHECK(verify(leaf->cert_pem, ca.cert_pem, "10.96.0.10").ok());
  auto bad = verify(leaf->cert_pem, ca.cert_pem, "virt-api.other.svc");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message.find("hostname mismatch") != std::string::npos);
  CHECK(bad.error().get("hostname") == "virt-api.other.svc");
  CHECK_FALSE(verify(leaf->cert_pem, ca.cert_pem, "10.96.0.11").ok());
}

TEST_CASE("pki: expiry is read back and detected") {
  auto ca = must_ca();
  const auto now = Clock::now();
  auto spec = api_spec();
  spec.validity = Days(10);
  auto leaf = issue(ca, spec, now);
  REQUIRE(leaf.ok());
  auto end = not_after(leaf->cert_pem);
  REQUIRE(end.ok());
  // Whole seconds in the certificate: within a second of now + 10 days.
  CHECK(std::chrono::abs(*end - (now + Days(10))) < 2s);
  CHECK(expires_within(*end, now, Days(30)));
  CHECK_FALSE(expires_within(*end, now, Days(5)));
  CHECK(expires_within(*end, now + Days(11), 0s));

  // Valid now, expired in 11 days, not yet valid before it was issued.
  CHECK(verify(leaf->cert_pem, ca.cert_pem, std::nullopt, now).ok());
  auto expired = verify(leaf->cert_pem, ca.cert_pem, std::nullopt, now + Days(11));
  REQUIRE_FALSE(expired.ok());
  CHECK(expired.error().message.find("expired") != std::string::npos);
  CHECK_FALSE(verify(leaf->cert_pem, ca.cert_pem, std::nullopt, now - Days(1)).ok());
}

TEST_CASE("pki: bad input names the field and what is allowed") {
  auto ca = must_ca();
  auto spec = api_spec();
  spec.dns_names.push_back("Bad_Name");
  auto r = issue(ca, spec);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::invalid);
  CHECK(r.error().message.rfind("dns_names[2]: \"Bad_Name\" is not a DNS name", 0) == 0);

  spec = api_spec();
  spec.ip_addresses = {"300.1.1.1"};
  r = issue(ca, spec);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message == "ip_addresses[0]: \"300.1.1.1\" is not an IPv4 or IPv6 address");

  spec = api_spec();
  spec.server_auth = spec.client_auth = false;
  CHECK(issue(ca, spec).error().message.rfind("server_auth, client_auth:", 0) == 0);

  spec = api_spec();
  spec.common_name.clear();
  CHECK(issue(ca, spec).error().message == "common_name: required");

  KeyPair mismatched{ca.cert_pem, must_ca().key_pem};
  CHECK(issue(mismatched, api_spec()).error().message ==
        "CA key: does not belong to the CA certificate");
  CHECK(
      issue(KeyPair{"junk", ca.key_pem}, api_spec()).error().message.rfind("CA certificate:", 0) ==
      0);
  CHECK(decode_certificate("not pem").error().code == Errc::parse);
  CHECK(decode_private_key(ca.cert_pem).error().code == Errc::parse);
  CHECK(verify("junk", ca.cert_pem).error().message.rfind("certificate:", 0) == 0);
}

TEST_CASE("pki: PEM round-trips") {
  auto ca = must_ca();
  auto cert = decode_certificate(ca.cert_pem);
  REQUIRE(cert.ok());
  auto again = encode_certificate(**cert);
  REQUIRE(again.ok());
  CHECK(*again == ca.cert_pem);
  auto key = decode_private_key(ca.key_pem);
  REQUIRE(key.ok());
  auto key_again = encode_private_key(**key);
  REQUIRE(key_again.ok());
  CHECK(*key_again == ca.key_pem);
}
