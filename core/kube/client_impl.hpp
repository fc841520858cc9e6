#pragma once
// The real KubeClient: REST over HttpTransport with credentials, a client-side QPS/burst limit,
// discovery and watch decoding. Construct through make_client() (client.hpp).

#include <chrono>
#include <memory>
#include <mutex>

#include "core/kube/client.hpp"
#include "core/kube/http.hpp"
#include "core/kube/kubeconfig.hpp"
#include "core/kube/resource.hpp"

namespace kv::core::kube {

// Token bucket: `burst` requests at once, refilled at `qps` per second. acquire() blocks the
// calling thread until a token is free. qps <= 0 disables the limit. Thread-safe.
class TokenBucket {
 public:
  TokenBucket(double qps, int burst);
  void acquire();

 private:
  std::mutex mu_;
  double qps_;
  double burst_;
  double tokens_;
  std::chrono::steady_clock::time_point last_;
};

class KubeClientImpl final : public KubeClient {
 public:
  static Result<std::unique_ptr<KubeClientImpl>> create(const RestConfig& config);

  Result<json::Document> get(const Resource& r, std::string_view ns, std::string_view name,
                             const GetOptions& opts = {}) override;
  Result<ListResult> list(const Resource& r, std::string_view ns,
                          const ListOptions& opts = {}) override;
  Result<json::Document> create(const Resource& r, std::string_view ns, const json::Value& obj,
                                const WriteOptions& opts = {}) override;
  Result<json::Document> update(const Resource& r, std::string_view ns, const json::Value& obj,
                                const WriteOptions& opts = {}) override;
  Result<json::Document> patch(const Resource& r, std::string_view ns, std::string_view name,
                               PatchType type, std::string_view body,
                               const PatchOptions& opts = {}) override;
  Status remove(const Resource& r, std::string_view ns, std::string_view name,
                const DeleteOptions& opts = {}) override;
  Status watch(const Resource& r, std::string_view ns, const ListOptions& opts,
               const WatchHandler& handler, Cancel* cancel = nullptr) override;
  Result<RawResponse> raw(const RawRequest& req) override;
  Result<Resource> resolve(std::string_view api_version, std::string_view kind) override;
  std::string default_namespace() const override { return config_.ns; }

  HttpTransport& transport() { return *transport_; }

 private:
  explicit KubeClientImpl(const RestConfig& config);
  // Sends with auth, rate limit and retries (401 once after refreshing credentials; 429/503 with
  // Retry-After up to 3 times). Returns the response whatever its status.
  Result<HttpResponse> send(HttpRequest req);
  // send() + error mapping + JSON decoding of a 2xx body.
  Result<json::Document> call(const std::string& method, const std::string& target,
                              std::string body, const std::string& content_type);
  Result<std::string> authorization(bool refresh_cert);

  RestConfig config_;
  std::unique_ptr<HttpTransport> transport_;
  CredentialSource creds_;
  TokenBucket limiter_;
  DiscoveryCache discovery_;
  std::mutex cert_mu_;
  std::string current_cert_;  // the client certificate the transport uses (exec plugins rotate)
};

}  // namespace kv::core::kube
