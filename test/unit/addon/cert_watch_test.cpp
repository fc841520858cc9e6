// addon/cert_watch: a SecretWatch against FakeKubeClient hands a certificate Secret's data to its
// callback when the Secret appears and each time it changes, and survives dropped watches.
#include "addon/cert_watch.hpp"

#include <catch2/catch.hpp>
#include <thread>

#include "addon/cert_secrets.hpp"
#include "test/fakes/fake_kube_client.hpp"

using namespace std::chrono_literals;
using namespace kv::core::kube;
using kv::addon::SecretWatch;
using kv::test::FakeKubeClient;
namespace json = kv::core::json;

namespace {

constexpr const char* kNs = "kubevirt";

bool wait_for(const std::function<bool()>& cond, std::chrono::milliseconds timeout = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!cond()) {
    if (std::chrono::steady_clock::now() >= deadline)
      return cond();
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

// Writes Secret kubevirt/<name> with tls.crt/tls.key (creates or updates).
void put_secret(FakeKubeClient& c, const std::string& name, const std::string& crt,
                const std::string& key) {
  auto text = R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":")" + name +
              R"(","namespace":"kubevirt"},"data":{"tls.crt":")" + base64_encode(crt) +
              R"(","tls.key":")" + base64_encode(key) + R"("}})";
  auto doc = json::parse(text);
  REQUIRE(doc.ok());
  auto existing = c.get(resources::secrets(), kNs, name);
  if (existing.ok()) {
    json::set(*doc, "metadata",
              json::Value(*json::find(*existing, "metadata"), doc->GetAllocator()),
              doc->GetAllocator());
    REQUIRE(c.update(resources::secrets(), kNs, *doc).ok());
  } else {
    REQUIRE(c.create(resources::secrets(), kNs, *doc).ok());
  }
}

// What the callback saw, thread-safe.
struct Seen {
  std::mutex mu;
  std::vector<std::string> certs;
  SecretWatch::OnChange callback() {
    return [this](const SecretWatch::Data& d) {
      std::lock_guard lock(mu);
      certs.push_back(d.at("tls.crt"));
      return kv::core::Status{};
    };
  }
  std::vector<std::string> get() {
    std::lock_guard lock(mu);
    return certs;
  }
};

}  // namespace

TEST_CASE("cert_watch: the data as soon as the Secret exists, then on each change") {
  FakeKubeClient client;
  Seen seen;
  SecretWatch watch(client, kNs, "virt-api-certs", {"tls.crt", "tls.key"}, seen.callback());
  REQUIRE(wait_for([&] { return client.open_watches() >= 1; }));
  CHECK(seen.get().empty());

  put_secret(client, "other-secret", "other", "k");  // another Secret: ignored
  put_secret(client, "virt-api-certs", "cert-1", "key-1");
  REQUIRE(wait_for([&] { return seen.get().size() == 1; }));
  CHECK(seen.get()[0] == "cert-1");

  put_secret(client, "virt-api-certs", "cert-2", "key-2");
  REQUIRE(wait_for([&] { return seen.get().size() == 2; }));
  CHECK(seen.get()[1] == "cert-2");

  // A dropped watch re-lists: the unchanged data is not passed again, a change after is.
  client.break_watches();
  put_secret(client, "virt-api-certs", "cert-3", "key-3");
  REQUIRE(wait_for([&] { return seen.get().size() == 3; }));
  CHECK(seen.get()[2] == "cert-3");
  CHECK(watch.changes() == 3);
  watch.stop();
}

TEST_CASE("cert_watch: an existing Secret is passed at once; incomplete data is not") {
  FakeKubeClient client;
  put_secret(client, "virt-handler-certs", "cert-a", "");  // no key yet
  Seen seen;
  SecretWatch watch(client, kNs, "virt-handler-certs", {"tls.crt", "tls.key"}, seen.callback());
  REQUIRE(wait_for([&] { return client.open_watches() >= 1; }));
  CHECK(seen.get().empty());
  put_secret(client, "virt-handler-certs", "cert-a", "key-a");
  REQUIRE(wait_for([&] { return seen.get().size() == 1; }));
  CHECK(seen.get()[0] == "cert-a");
}

TEST_CASE("cert_watch: stop() returns promptly while the watch is open") {
  FakeKubeClient client;
  Seen seen;
  SecretWatch watch(client, kNs, "virt-api-certs", {"tls.crt"}, seen.callback());
  REQUIRE(wait_for([&] { return client.open_watches() >= 1; }));
  const auto t0 = std::chrono::steady_clock::now();
  watch.stop();
  CHECK(std::chrono::steady_clock::now() - t0 < 5s);
  CHECK(client.open_watches() == 0);
}

TEST_CASE("cert_watch: a failed list is retried; another Secret in the namespace is not passed") {
  FakeKubeClient client;
  client.fail_next("list", 1, kv::core::Error(kv::core::Errc::unavailable, "connection refused"));
  put_secret(client, "unrelated", "cert-x", "key-x");
  put_secret(client, "virt-handler-certs", "cert-h", "key-h");
  Seen seen;
  SecretWatch watch(client, kNs, "virt-handler-certs", {"tls.crt", "tls.key"}, seen.callback());
  REQUIRE(wait_for([&] { return seen.get().size() == 1; }));
  CHECK(seen.get()[0] == "cert-h");
  CHECK(client.calls("list") == 2);
  put_secret(client, "unrelated", "cert-y", "key-y");
  put_secret(client, "virt-handler-certs", "cert-h2", "key-h");
  REQUIRE(wait_for([&] { return seen.get().size() == 2; }));
  CHECK(seen.get()[1] == "cert-h2");
}
