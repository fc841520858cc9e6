// addon/cert_secrets against a real etcd + kube-apiserver. Run through
// test/integration/with_control_plane.sh, which sets KUBECONFIG.
#include "addon/cert_secrets.hpp"

#include <catch2/catch.hpp>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "addon/cert_watch.hpp"

#include "core/kube/client.hpp"

using namespace std::chrono_literals;
using namespace kv::core;
using namespace kv::core::kube;
using namespace kv::addon;

namespace {

KubeClient& api() {
  static std::unique_ptr<KubeClient> client = [] {
    auto cfg = load_kubeconfig();
    REQUIRE(cfg.ok());
    auto c = make_client(*cfg);
    REQUIRE(c.ok());
    return std::move(*c);
  }();
  return *client;
}

// What virt-handler does at start: follow its certificate Secret until it holds a complete
// certificate. The data, or nullopt when none came within `within`.
std::optional<SecretWatch::Data> handler_certificate(const std::string& ns,
                                                     std::chrono::seconds within) {
  std::mutex mu;
  std::condition_variable cv;
  std::optional<SecretWatch::Data> got;
  SecretWatch watch(api(), ns, kHandlerCertsSecretName, {"tls.crt", "tls.key", "ca.crt"},
                    [&](const SecretWatch::Data& d) {
                      std::lock_guard lock(mu);
                      if (!got)
                        got = d;
                      cv.notify_all();
                      return Status{};
                    });
  std::unique_lock lock(mu);
  cv.wait_for(lock, within, [&] { return got.has_value(); });
  auto out = got;
  lock.unlock();
  watch.stop();
  return out;
}

json::Document parse(const std::string& text) {
  auto d = json::parse(text);
  REQUIRE(d.ok());
  return std::move(*d);
}

// A namespace of the test's own, deleted at the end of the test case.
class Namespace {
 public:
  explicit Namespace(std::string name) : name_(std::move(name)) {
    auto r = api().create(resources::namespaces(), "",
                          parse(R"({"metadata":{"name":")" + name_ + R"("}})"));
    REQUIRE(r.ok());
  }
  ~Namespace() { (void)api().remove(resources::namespaces(), "", name_); }
  const std::string& name() const { return name_; }

 private:
  std::string name_;
};

std::string secret_type(const std::string& ns, const std::string& name) {
  auto s = api().get(resources::secrets(), ns, name);
  REQUIRE(s.ok());
  return std::string(json::get_string(*s, "type").value_or(""));
}

}  // namespace

TEST_CASE("cert_secrets it: two runs, one set of Secrets; the handler's wait sees it") {
  Namespace ns("kv-certs-it");
  auto first = ensure_certificates(api(), ns.name());
  REQUIRE(first.ok());
  auto second = ensure_certificates(api(), ns.name());
  REQUIRE(second.ok());
  CHECK(second->ca_pem == first->ca_pem);
  CHECK(second->cert_pem == first->cert_pem);
  CHECK(second->key_pem == first->key_pem);
  CHECK(pki::verify(first->cert_pem, first->ca_pem, "virt-api." + ns.name() + ".svc").ok());
  // The API server itself checks kubernetes.io/tls Secrets for tls.crt and tls.key.
  CHECK(secret_type(ns.name(), kApiCertsSecretName) == "kubernetes.io/tls");
  CHECK(secret_type(ns.name(), kHandlerCertsSecretName) == "kubernetes.io/tls");
  CHECK(secret_type(ns.name(), kCaSecretName) == "Opaque");

  auto data = handler_certificate(ns.name(), 30s);
  REQUIRE(data);
  CHECK(data->at("ca.crt") == first->ca_pem);
  CHECK(pki::verify(data->at("tls.crt"), first->ca_pem, "virt-handler." + ns.name() + ".svc").ok());
  CHECK(pki::check_key_matches(data->at("tls.crt"), data->at("tls.key")).ok());
}

TEST_CASE("cert_secrets it: a handler waiting before virt-api's first run gets the certificate") {
  Namespace ns("kv-certs-it-wait");
  std::optional<SecretWatch::Data> got;
  std::thread handler([&] { got = handler_certificate(ns.name(), 60s); });
  // Two virt-api replicas starting together: both end with the same CA.
  std::optional<Result<ApiCertificates>> a, b;
  std::thread ta([&] { a = ensure_certificates(api(), ns.name()); });
  std::thread tb([&] { b = ensure_certificates(api(), ns.name()); });
  ta.join();
  tb.join();
  handler.join();
  REQUIRE(a->ok());
  REQUIRE(b->ok());
  CHECK((*a)->ca_pem == (*b)->ca_pem);
  REQUIRE(got);
  CHECK(got->at("ca.crt") == (*a)->ca_pem);
  CHECK(pki::verify(got->at("tls.crt"), (*a)->ca_pem).ok());
}

TEST_CASE("cert_secrets it: the CA lands in the APIService and the webhooks, once") {
  const std::string svc = "v1.certs-it.kubevirt.io";
  auto made = api().create(api_service_resource(), "", parse(R"({
      "apiVersion":"apiregistration.k8s.io/v1","kind":"APIService",
      "metadata":{"name":")" + svc + R"("},
      "spec":{"group":"certs-it.kubevirt.io","version":"v1","groupPriorityMinimum":1000,
        "versionPriority":15,"service":{"name":"virt-api","namespace":"default","port":443}}})"));
  REQUIRE(made.ok());
  // Rules on a group nobody serves, so the webhooks never intercept anything of this test.
  auto hooks = api().create(validating_webhook_configuration_resource(), "", parse(R"({
      "apiVersion":"admissionregistration.k8s.io/v1","kind":"ValidatingWebhookConfiguration",
      "metadata":{"name":"certs-it-validator"},
      "webhooks":[
        {"name":"a.certs-it.kubevirt.io","sideEffects":"None","admissionReviewVersions":["v1"],
         "failurePolicy":"Ignore","clientConfig":{"service":{"name":"virt-api","namespace":"default"}},
         "rules":[{"apiGroups":["certs-it.kubevirt.io"],"apiVersions":["v1"],
                   "operations":["CREATE"],"resources":["things"]}]},
        {"name":"b.certs-it.kubevirt.io","sideEffects":"None","admissionReviewVersions":["v1"],
         "failurePolicy":"Ignore","clientConfig":{"url":"https://127.0.0.1:1/validate"},
         "rules":[{"apiGroups":["certs-it.kubevirt.io"],"apiVersions":["v1"],
                   "operations":["CREATE"],"resources":["things"]}]}]})"));
  REQUIRE(hooks.ok());
  struct Cleanup {
    std::string svc;
    ~Cleanup() {
      (void)api().remove(api_service_resource(), "", svc);
      (void)api().remove(validating_webhook_configuration_resource(), "", "certs-it-validator");
    }
  } cleanup{svc};

  auto ca = pki::make_ca();
  REQUIRE(ca.ok());
  auto first =
      inject_ca_bundle(api(), ca->cert_pem, svc, {"certs-it-validator"}, {"certs-it-mutator"});
  REQUIRE(first.ok());
  CHECK(first->patched.size() == 2);
  CHECK(first->missing ==
        std::vector<std::string>{"MutatingWebhookConfiguration/certs-it-mutator"});
  const std::string bundle = base64_encode(ca->cert_pem);
  auto stored = api().get(api_service_resource(), "", svc);
  REQUIRE(stored.ok());
  CHECK(json::get_string(*json::find(*stored, "spec"), "caBundle") == bundle);
  auto stored_hooks =
      api().get(validating_webhook_configuration_resource(), "", "certs-it-validator");
  REQUIRE(stored_hooks.ok());
  for (const auto& h : json::find(*stored_hooks, "webhooks")->GetArray())
    CHECK(json::get_string(*json::find(h, "clientConfig"), "caBundle") == bundle);
  const std::string rv(meta::resource_version(*stored_hooks));

  auto second = inject_ca_bundle(api(), ca->cert_pem, svc, {"certs-it-validator"}, {});
  REQUIRE(second.ok());
  CHECK(second->patched.empty());
  CHECK(second->unchanged.size() == 2);
  auto again = api().get(validating_webhook_configuration_resource(), "", "certs-it-validator");
  REQUIRE(again.ok());
  CHECK(meta::resource_version(*again) == rv);
}
