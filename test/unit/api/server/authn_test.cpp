// Aggregated-API authentication (api/server/authn): the front proxy's certificate must chain to
// the requestheader CA and carry an allowed CN before X-Remote-* headers are believed.
#include <catch2/catch.hpp>

#include "api/server/authn.hpp"
#include "test/support/test_certs.hpp"

using namespace kv::apiserver;
namespace json = kv::core::json;

namespace {

// A front-proxy CA with a client certificate "front-proxy-client", and another CA's certificate
// with the same CN.
struct Pki {
  std::string ca, client, rogue;
};

const Pki& pki() {
  static const Pki p = [] {
    const auto ca = kv::test::make_ca("fp-ca");
    const auto other = kv::test::make_ca("other");
    return Pki{ca.cert_pem, kv::test::client_cert(ca, "front-proxy-client").cert_pem,
               kv::test::client_cert(other, "front-proxy-client").cert_pem};
  }();
  return p;
}

json::Document configmap(const std::string& data) {
  auto d = json::parse(R"({"metadata":{"name":"extension-apiserver-authentication"},"data":)" +
                       data + "}");
  REQUIRE(d.ok());
  return std::move(*d);
}

Peer verified(const std::string& cn) {
  return {true, cn, ""};
}

}  // namespace

TEST_CASE("certificates are verified against the requestheader CA") {
  auto cn = verify_client_certificate(pki().ca, pki().client, {});
  REQUIRE(cn.ok());
  CHECK(*cn == "front-proxy-client");
  auto rogue = verify_client_certificate(pki().ca, pki().rogue, {});
  REQUIRE_FALSE(rogue.ok());
  CHECK(rogue.error().message.find("does not verify against the requestheader CA") !=
        std::string::npos);
  CHECK_FALSE(verify_client_certificate(pki().ca, "", {}).ok());
}

TEST_CASE("the ConfigMap as kube-apiserver writes it") {
  std::string ca_json;
  for (char c : pki().ca)
    ca_json += c == '\n' ? std::string("\\n") : std::string(1, c);
  auto cm = configmap(R"({"requestheader-client-ca-file":")" + ca_json + R"(",
      "requestheader-allowed-names":"[\"front-proxy-client\"]",
      "requestheader-username-headers":"[\"X-Remote-User\"]",
      "requestheader-group-headers":"[\"X-Remote-Group\"]",
      "requestheader-extra-headers-prefix":"[\"X-Remote-Extra-\"]"})");
  auto c = request_header_config_from(cm);
  REQUIRE(c.ok());
  CHECK(c->client_ca_pem == pki().ca);
  CHECK(c->allowed_names == std::vector<std::string>{"front-proxy-client"});
  CHECK(c->username_headers == std::vector<std::string>{"X-Remote-User"});

  auto none = request_header_config_from(configmap(R"({"client-ca-file":"x"})"));
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().code == kv::core::Errc::not_found);

  auto bad = request_header_config_from(configmap(R"({"requestheader-client-ca-file":")" + ca_json +
                                                  R"(","requestheader-allowed-names":"oops"})"));
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message.find("requestheader-allowed-names") != std::string::npos);
}

TEST_CASE("the user comes from the headers only behind a verified, allowed front proxy") {
  RequestHeaderConfig c;
  c.client_ca_pem = pki().ca;
  c.allowed_names = {"front-proxy-client"};
  const Headers h = {{"x-remote-user", "alice"},
                     {"X-Remote-Group", "devs"},
                     {"X-Remote-Group", "system:authenticated"},
                     {"X-Remote-Extra-Scopes", "a"},
                     {"X-Remote-Extra-Acme.com%2Fproject", "p1"}};

  auto ok = authenticate(c, verified("front-proxy-client"), h, true);
  REQUIRE(std::holds_alternative<UserInfo>(ok));
  const auto& u = std::get<UserInfo>(ok);
  CHECK(u.name == "alice");
  CHECK(u.groups == std::vector<std::string>{"devs", "system:authenticated"});
  CHECK(u.extra.at("scopes") == std::vector<std::string>{"a"});
  CHECK(u.extra.at("acme.com/project") == std::vector<std::string>{"p1"});

  SECTION("no certificate") {
    auto e = authenticate(c, Peer{false, "", "no client certificate"}, h, true);
    REQUIRE(std::holds_alternative<ApiError>(e));
    CHECK(std::get<ApiError>(e).code == 401);
    CHECK(std::get<ApiError>(e).message.find("no client certificate") != std::string::npos);
  }
  SECTION("a CN that is not allowed") {
    auto e = authenticate(c, verified("mallory"), h, true);
    REQUIRE(std::holds_alternative<ApiError>(e));
    CHECK(std::get<ApiError>(e).code == 401);
    CHECK(std::get<ApiError>(e).message.find("\"mallory\" is not in requestheader-allowed-names") !=
          std::string::npos);
  }
  SECTION("an empty allowed list accepts any CN of the CA") {
    c.allowed_names.clear();
    CHECK(std::holds_alternative<UserInfo>(authenticate(c, verified("anyone"), h, true)));
  }
  SECTION("no user: fine for discovery, 401 for actions") {
    CHECK(std::holds_alternative<UserInfo>(
        authenticate(c, verified("front-proxy-client"), {}, false)));
    auto e = authenticate(c, verified("front-proxy-client"), {}, true);
    REQUIRE(std::holds_alternative<ApiError>(e));
    CHECK(std::get<ApiError>(e).message.find("names no user") != std::string::npos);
  }
}
