// The device manager against a stand-in kubelet: the real gRPC API on unix sockets in a temp
// directory, the kubelet side played by a Registration server (the seam) and a DevicePlugin
// client as the kubelet uses it. Device nodes are plain files under a temp device root.
#include "handler/deviceplugin/manager.hpp"

#include <grpcpp/grpcpp.h>
#include <stdlib.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>

#include "handler/deviceplugin/proto/api.grpc.pb.h"

using namespace kv::handler::deviceplugin;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

class TempDir {
 public:
  TempDir() {
    char t[] = "/tmp/dp-test-XXXXXX";
    path_ = ::mkdtemp(t);
  }
  ~TempDir() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The kubelet's Registration service on <dir>/kubelet.sock: records every Register.
class FakeKubelet final : public v1beta1::Registration::Service {
 public:
  explicit FakeKubelet(const std::string& dir) {
    grpc::ServerBuilder b;
    b.AddListeningPort("unix:" + dir + "/kubelet.sock", grpc::InsecureServerCredentials());
    b.RegisterService(this);
    server_ = b.BuildAndStart();
    REQUIRE(server_);
  }
  ~FakeKubelet() override {
    server_->Shutdown();
    server_->Wait();
  }

  grpc::Status Register(grpc::ServerContext*, const v1beta1::RegisterRequest* req,
                        v1beta1::Empty*) override {
    std::lock_guard lock(mu_);
    requests_.push_back(*req);
    cv_.notify_all();
    return grpc::Status::OK;
  }

  // The resource names registered, once there are `n` requests (or the deadline passed).
  std::vector<v1beta1::RegisterRequest> wait_requests(std::size_t n) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, 20s, [&] { return requests_.size() >= n; });
    return requests_;
  }

 private:
  std::unique_ptr<grpc::Server> server_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<v1beta1::RegisterRequest> requests_;
};

// The kubelet's side of one plugin: a ListAndWatch stream and Allocate calls.
class PluginClient {
 public:
  PluginClient(const std::string& dir, const std::string& endpoint)
      : stub_(v1beta1::DevicePlugin::NewStub(grpc::CreateChannel(
            "unix:" + dir + "/" + endpoint, grpc::InsecureChannelCredentials()))) {}

  void watch() {
    watch_ctx_.set_deadline(std::chrono::system_clock::now() + 30s);
    stream_ = stub_->ListAndWatch(&watch_ctx_, v1beta1::Empty());
  }
  // The next list the plugin sends; nullopt when the stream ended.
  std::optional<std::vector<std::pair<std::string, std::string>>> next() {
    v1beta1::ListAndWatchResponse r;
    if (!stream_->Read(&r))
      return std::nullopt;
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& d : r.devices())
      out.emplace_back(d.id(), d.health());
    return out;
  }
  grpc::Status allocate(const std::vector<std::string>& ids, v1beta1::AllocateResponse* out) {
    v1beta1::AllocateRequest req;
    auto* c = req.add_container_requests();
    for (const auto& id : ids)
      c->add_devices_ids(id);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 10s);
    return stub_->Allocate(&ctx, req, out);
  }
  v1beta1::DevicePluginOptions options() {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 10s);
    v1beta1::DevicePluginOptions out;
    REQUIRE(stub_->GetDevicePluginOptions(&ctx, v1beta1::Empty(), &out).ok());
    return out;
  }

 private:
  std::unique_ptr<v1beta1::DevicePlugin::Stub> stub_;
  grpc::ClientContext watch_ctx_;
  std::unique_ptr<grpc::ClientReader<v1beta1::ListAndWatchResponse>> stream_;
};

std::set<std::string> resources(const std::vector<v1beta1::RegisterRequest>& reqs,
                                std::size_t from = 0) {
  std::set<std::string> out;
  for (std::size_t i = from; i < reqs.size(); ++i)
    out.insert(reqs[i].resource_name());
  return out;
}

void touch(const fs::path& p) {
  fs::create_directories(p.parent_path());
  std::ofstream(p).put('\0');
}

using List = std::vector<std::pair<std::string, std::string>>;

const std::set<std::string> kAll = {"devices.kubevirt.io/kvm", "devices.kubevirt.io/tun",
                                    "devices.kubevirt.io/vhost-net"};

}  // namespace

TEST_CASE("device plugins register, advertise what exists and hand out the device node") {
  TempDir plugins, root;
  touch(root.path() + "/dev/kvm");
  fs::create_directories(root.path() + "/dev/net");  // no tun, no vhost-net
  FakeKubelet kubelet(plugins.path());

  Options o{.plugin_dir = plugins.path(),
            .device_root = root.path(),
            .node_root = "/",
            .max_devices = 3,
            .kvm_unusable_file = ""};
  Manager m(o, /*cgroup_v2=*/false);
  REQUIRE(m.start().ok());

  auto reqs = kubelet.wait_requests(3);
  REQUIRE(reqs.size() == 3);
  CHECK(resources(reqs) == kAll);
  for (const auto& r : reqs) {
    CHECK(r.version() == "v1beta1");
    CHECK(r.endpoint() == "kubevirt-" + r.resource_name().substr(20) + ".sock");
    CHECK(fs::exists(plugins.path() + "/" + r.endpoint()));
  }

  PluginClient kvm(plugins.path(), "kubevirt-kvm.sock");
  CHECK_FALSE(kvm.options().pre_start_required());
  kvm.watch();
  CHECK(kvm.next() == List{{"kvm0", "Healthy"}, {"kvm1", "Healthy"}, {"kvm2", "Healthy"}});
  PluginClient tun(plugins.path(), "kubevirt-tun.sock");
  tun.watch();
  CHECK(tun.next() == List{{"tun0", "Unhealthy"}, {"tun1", "Unhealthy"}, {"tun2", "Unhealthy"}});

  v1beta1::AllocateResponse resp;
  REQUIRE(kvm.allocate({"kvm1"}, &resp).ok());
  REQUIRE(resp.container_responses_size() == 1);
  REQUIRE(resp.container_responses(0).devices_size() == 1);
  const auto& spec = resp.container_responses(0).devices(0);
  CHECK(spec.container_path() == "/dev/kvm");
  CHECK(spec.host_path() == root.path() + "/dev/kvm");
  CHECK(spec.permissions() == "rw");
  v1beta1::AllocateResponse refused;
  auto st = kvm.allocate({"kvm7"}, &refused);
  CHECK(st.error_code() == grpc::StatusCode::INVALID_ARGUMENT);

  SECTION("a device that goes away turns Unhealthy; one that appears turns Healthy") {
    fs::remove(root.path() + "/dev/kvm");
    CHECK(kvm.next() == List{{"kvm0", "Unhealthy"}, {"kvm1", "Unhealthy"}, {"kvm2", "Unhealthy"}});
    touch(root.path() + "/dev/net/tun");
    CHECK(tun.next() == List{{"tun0", "Healthy"}, {"tun1", "Healthy"}, {"tun2", "Healthy"}});
  }

  SECTION("stopping ends the streams with an empty list and removes the sockets") {
    m.stop();
    CHECK(kvm.next() == List{});
    CHECK(kvm.next() == std::nullopt);
    CHECK_FALSE(fs::exists(plugins.path() + "/kubevirt-kvm.sock"));
    CHECK_FALSE(fs::exists(plugins.path() + "/kubevirt-tun.sock"));
  }
}

TEST_CASE("device plugins register again after a kubelet restart, without a restart of theirs") {
  TempDir plugins, root;
  fs::create_directories(root.path() + "/dev/net");
  touch(root.path() + "/dev/net/tun");
  Options o{.plugin_dir = plugins.path(),
            .device_root = root.path(),
            .node_root = "/",
            .max_devices = 2,
            .kvm_unusable_file = ""};
  Manager m(o, /*cgroup_v2=*/true);

  auto kubelet = std::make_unique<FakeKubelet>(plugins.path());
  REQUIRE(m.start().ok());
  REQUIRE(resources(kubelet->wait_requests(3)) == kAll);

  // What a starting kubelet does: its old socket gone, every file in the directory removed,
  // then a new kubelet.sock.
  kubelet.reset();
  for (const auto& e : fs::directory_iterator(plugins.path()))
    fs::remove(e.path());
  kubelet = std::make_unique<FakeKubelet>(plugins.path());

  auto again = kubelet->wait_requests(3);
  CHECK(resources(again) == kAll);
  PluginClient tun(plugins.path(), "kubevirt-tun.sock");
  tun.watch();
  CHECK(tun.next() == List{{"tun0", "Healthy"}, {"tun1", "Healthy"}});
  v1beta1::AllocateResponse resp;
  REQUIRE(tun.allocate({"tun0"}, &resp).ok());
  CHECK(resp.container_responses(0).devices(0).permissions() == "rwm");
}

TEST_CASE("device plugins wait for a kubelet that is not there yet") {
  TempDir plugins, root;
  Options o{.plugin_dir = plugins.path(),
            .device_root = root.path(),
            .node_root = "/",
            .max_devices = 1,
            .kvm_unusable_file = ""};
  Manager m(o, false);
  REQUIRE(m.start().ok());
  CHECK(m.registrations() == 0);
  FakeKubelet kubelet(plugins.path());
  CHECK(resources(kubelet.wait_requests(3)) == kAll);
}
