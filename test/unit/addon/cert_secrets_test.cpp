#include "addon/cert_secrets.hpp"

#include <catch2/catch.hpp>
#include <thread>

#include "test/fakes/fake_kube_client.hpp"

using namespace std::chrono_literals;
using namespace kv::core::kube;
using namespace kv::addon;
using kv::core::Errc;
using kv::core::Error;
using kv::test::FakeKubeClient;
namespace json = kv::core::json;
namespace pki = kv::core::pki;

namespace {

constexpr const char* kNs = "kubevirt";

std::map<std::string, std::string> secret_data(FakeKubeClient& c, const std::string& name) {
  auto s = c.get(resources::secrets(), kNs, name);
  REQUIRE(s.ok());
  std::map<std::string, std::string> out;
  for (const auto& m : json::find(*s, "data")->GetObject()) {
    auto dec = base64_decode(m.value.GetString());
    REQUIRE(dec.ok());
    out[m.name.GetString()] = *dec;
  }
  return out;
}

json::Document parse(const std::string& text) {
  auto d = json::parse(text);
  REQUIRE(d.ok());
  return std::move(*d);
}

// Replaces the CA in its Secret, as a person deleting and recreating it would.
std::string replace_ca(FakeKubeClient& c) {
  auto ca = pki::make_ca();
  REQUIRE(ca.ok());
  auto s = c.get(resources::secrets(), kNs, kCaSecretName);
  REQUIRE(s.ok());
  auto& a = s->GetAllocator();
  json::Value& data = *json::find(*s, "data");
  json::set(data, "ca.crt", base64_encode(ca->cert_pem), a);
  json::set(data, "ca.key", base64_encode(ca->key_pem), a);
  REQUIRE(c.update(resources::secrets(), kNs, *s).ok());
  return ca->cert_pem;
}

}  // namespace

TEST_CASE("cert_secrets: the first run creates the CA and both certificates") {
  FakeKubeClient client;
  auto certs = ensure_certificates(client, kNs);
  REQUIRE(certs.ok());
  CHECK(client.count(resources::secrets()) == 3);
  CHECK(client.calls("create") == 3);

  auto ca = secret_data(client, kCaSecretName);
  CHECK(ca.at("ca.crt") == certs->ca_pem);
  CHECK(pki::check_key_matches(ca.at("ca.crt"), ca.at("ca.key")).ok());

  // virt-api's certificate serves its Service names and is what the Secret holds.
  auto api = secret_data(client, kApiCertsSecretName);
  CHECK(api.at("tls.crt") == certs->cert_pem);
  CHECK(api.at("tls.key") == certs->key_pem);
  CHECK(api.at("ca.crt") == certs->ca_pem);
  for (const char* host : {"virt-api", "virt-api.kubevirt", "virt-api.kubevirt.svc",
                           "virt-api.kubevirt.svc.cluster.local"})
    CHECK(pki::verify(certs->cert_pem, certs->ca_pem, std::string_view(host)).ok());
  auto api_info = pki::inspect(certs->cert_pem);
  REQUIRE(api_info.ok());
  CHECK(api_info->common_name == "virt-api");
  CHECK(api_info->server_auth);
  CHECK(api_info->client_auth);

  auto handler = secret_data(client, kHandlerCertsSecretName);
  CHECK(pki::verify(handler.at("tls.crt"), certs->ca_pem, "virt-handler.kubevirt.svc").ok());
  CHECK(pki::check_key_matches(handler.at("tls.crt"), handler.at("tls.key")).ok());
  CHECK(handler.at("ca.crt") == certs->ca_pem);
  auto handler_info = pki::inspect(handler.at("tls.crt"));
  REQUIRE(handler_info.ok());
  CHECK(handler_info->common_name == "virt-handler");
  CHECK(handler_info->client_auth);

  for (const char* name : {kCaSecretName, kApiCertsSecretName, kHandlerCertsSecretName}) {
    auto s = client.get(resources::secrets(), kNs, name);
    REQUIRE(s.ok());
    CHECK(meta::label(*s, kPartOfLabel) == "kubevirt-cpp");
  }
  CHECK(json::get_string(*client.get(resources::secrets(), kNs, kCaSecretName), "type") ==
        "Opaque");
  CHECK(json::get_string(*client.get(resources::secrets(), kNs, kHandlerCertsSecretName), "type") ==
        "kubernetes.io/tls");
}

TEST_CASE("cert_secrets: a second run writes nothing and returns the same PEMs") {
  FakeKubeClient client;
  auto first = ensure_certificates(client, kNs);
  REQUIRE(first.ok());
  auto second = ensure_certificates(client, kNs);
  REQUIRE(second.ok());
  CHECK(second->cert_pem == first->cert_pem);
  CHECK(second->key_pem == first->key_pem);
  CHECK(second->ca_pem == first->ca_pem);
  CHECK(client.calls("create") == 3);
  CHECK(client.calls("update") == 0);
}

TEST_CASE("cert_secrets: losing the race to create the CA adopts the winner's CA") {
  FakeKubeClient client;
  // The other replica's run, complete; then ours, whose first read came before theirs landed.
  auto theirs = ensure_certificates(client, kNs);
  REQUIRE(theirs.ok());
  client.fail_next("get", 1, Error(Errc::not_found, "secrets \"kubevirt-ca\" not found"));
  auto ours = ensure_certificates(client, kNs);
  REQUIRE(ours.ok());
  CHECK(ours->ca_pem == theirs->ca_pem);
  CHECK(pki::verify(ours->cert_pem, theirs->ca_pem, "virt-api.kubevirt.svc").ok());
  CHECK(client.calls("create") == 4);  // theirs 3 + our losing one
  CHECK(client.calls("update") == 0);
}

TEST_CASE("cert_secrets: leaves from an old CA are re-issued from the current one") {
  FakeKubeClient client;
  auto first = ensure_certificates(client, kNs);
  REQUIRE(first.ok());
  const std::string new_ca = replace_ca(client);
  // A lost race on one update is retried.
  client.fail_next("update", 1, Error(Errc::conflict, "the object has been modified"));
  auto again = ensure_certificates(client, kNs);
  REQUIRE(again.ok());
  CHECK(again->ca_pem == new_ca);
  CHECK(again->cert_pem != first->cert_pem);
  CHECK(pki::verify(again->cert_pem, new_ca, "virt-api.kubevirt.svc").ok());
  auto handler = secret_data(client, kHandlerCertsSecretName);
  CHECK(pki::verify(handler.at("tls.crt"), new_ca, "virt-handler.kubevirt.svc").ok());
  CHECK(handler.at("ca.crt") == new_ca);
  CHECK(client.count(resources::secrets()) == 3);
}

TEST_CASE("cert_secrets: a leaf ending within 30 days is re-issued, a younger one is kept") {
  FakeKubeClient client;
  CertificateOptions o;
  auto first = ensure_certificates(client, kNs, o);
  REQUIRE(first.ok());
  o.now += pki::Days(300);  // 65 days left: kept
  auto kept = ensure_certificates(client, kNs, o);
  REQUIRE(kept.ok());
  CHECK(kept->cert_pem == first->cert_pem);
  o.now += pki::Days(40);  // 25 days left: renewed
  auto renewed = ensure_certificates(client, kNs, o);
  REQUIRE(renewed.ok());
  CHECK(renewed->cert_pem != first->cert_pem);
  CHECK(renewed->ca_pem == first->ca_pem);
  auto end = pki::not_after(renewed->cert_pem);
  REQUIRE(end.ok());
  CHECK(*end > o.now + pki::Days(300));
}

TEST_CASE("cert_secrets: leaf_needs_reissue says why") {
  auto ca = pki::make_ca();
  REQUIRE(ca.ok());
  auto spec = handler_leaf_spec("kubevirt");
  auto leaf = pki::issue(*ca, spec);
  REQUIRE(leaf.ok());
  std::map<std::string, std::string> data{
      {"tls.crt", leaf->cert_pem}, {"tls.key", leaf->key_pem}, {"ca.crt", ca->cert_pem}};
  const auto now = pki::Clock::now();
  CHECK_FALSE(leaf_needs_reissue(data, ca->cert_pem, spec, now, pki::Days(30)));

  auto missing = data;
  missing.erase("tls.key");
  CHECK(leaf_needs_reissue(missing, ca->cert_pem, spec, now, pki::Days(30)) == "it has no tls.key");
  // Installed into another namespace: the names no longer match.
  auto why = leaf_needs_reissue(data, ca->cert_pem, handler_leaf_spec("other"), now, 0s);
  REQUIRE(why);
  CHECK(why->find("virt-handler.other.svc") != std::string::npos);
  auto other_key = pki::issue(*ca, spec);
  REQUIRE(other_key.ok());
  auto swapped = data;
  swapped["tls.key"] = other_key->key_pem;
  CHECK(leaf_needs_reissue(swapped, ca->cert_pem, spec, now, 0s)->rfind("tls.key:", 0) == 0);
}

TEST_CASE("cert_secrets: caBundle is written only where it differs; missing objects reported") {
  FakeKubeClient client;
  auto ca = pki::make_ca();
  REQUIRE(ca.ok());
  const std::string bundle = base64_encode(ca->cert_pem);
  REQUIRE(client
              .create(api_service_resource(), "",
                      parse(R"({"apiVersion":"apiregistration.k8s.io/v1","kind":"APIService",
                        "metadata":{"name":"v1.subresources.kubevirt.io"},
                        "spec":{"group":"subresources.kubevirt.io","version":"v1",
                          "service":{"name":"virt-api","namespace":"kubevirt"}}})"))
              .ok());
  REQUIRE(client
              .create(validating_webhook_configuration_resource(), "",
                      parse(R"({"metadata":{"name":"virt-api-validator"},"webhooks":[
                        {"name":"a.kubevirt.io","clientConfig":{"service":{"name":"virt-api"}}},
                        {"name":"b.kubevirt.io","clientConfig":{"caBundle":"b2xk"}}]})"))
              .ok());

  auto first = inject_ca_bundle(client, ca->cert_pem, "v1.subresources.kubevirt.io",
                                {"virt-api-validator"}, {"virt-api-mutator"});
  REQUIRE(first.ok());
  CHECK(first->patched == std::vector<std::string>{"APIService/v1.subresources.kubevirt.io",
                                                   "ValidatingWebhookConfiguration/"
                                                   "virt-api-validator"});
  CHECK(first->missing ==
        std::vector<std::string>{"MutatingWebhookConfiguration/virt-api-mutator"});
  auto svc = client.get(api_service_resource(), "", "v1.subresources.kubevirt.io");
  REQUIRE(svc.ok());
  CHECK(json::get_string(*json::find(*svc, "spec"), "caBundle") == bundle);
  CHECK(json::find_path(*svc, {"spec", "group"})->GetString() ==
        std::string("subresources.kubevirt.io"));
  auto hooks = client.get(validating_webhook_configuration_resource(), "", "virt-api-validator");
  REQUIRE(hooks.ok());
  for (const auto& h : json::find(*hooks, "webhooks")->GetArray())
    CHECK(json::get_string(*json::find(h, "clientConfig"), "caBundle") == bundle);
  CHECK(json::find_path((*hooks)["webhooks"][0], {"clientConfig", "service", "name"}) != nullptr);

  const int patches = client.calls("patch"), updates = client.calls("update");
  auto second = inject_ca_bundle(client, ca->cert_pem, "v1.subresources.kubevirt.io",
                                 {"virt-api-validator"}, {});
  REQUIRE(second.ok());
  CHECK(second->patched.empty());
  CHECK(second->unchanged.size() == 2);
  CHECK(client.calls("patch") == patches);
  CHECK(client.calls("update") == updates);

  // Other API errors are not swallowed.
  client.fail_next("get", 1, Error(Errc::unauthorized, "forbidden"));
  auto denied = inject_ca_bundle(client, ca->cert_pem, "v1.subresources.kubevirt.io", {}, {});
  REQUIRE_FALSE(denied.ok());
  CHECK(denied.error().code == Errc::unauthorized);
}
