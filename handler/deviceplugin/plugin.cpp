#include "handler/deviceplugin/plugin.hpp"

#include <grpcpp/grpcpp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <mutex>

#include "core/log.hpp"
#include "handler/deviceplugin/proto/api.grpc.pb.h"

namespace kv::handler::deviceplugin {

using core::Errc;
using core::Error;

// The DevicePlugin service of one server's lifetime: a new one per Plugin::start(), so a
// restarted server never shares state with the streams of the old one.
class Service final : public v1beta1::DevicePlugin::Service {
 public:
  Service(const Options& opts, const DeviceKind& kind, std::string permissions, bool present)
      : opts_(opts), kind_(kind), permissions_(std::move(permissions)), present_(present) {}

  void set_present(bool present) {
    {
      std::lock_guard lock(mu_);
      if (present_ == present)
        return;
      present_ = present;
      ++generation_;
    }
    cv_.notify_all();
  }

  // Ends every ListAndWatch stream; they send an empty list first.
  void close() {
    {
      std::lock_guard lock(mu_);
      closing_ = true;
    }
    cv_.notify_all();
  }

  grpc::Status GetDevicePluginOptions(grpc::ServerContext*, const v1beta1::Empty*,
                                      v1beta1::DevicePluginOptions* out) override {
    // As upstream: no PreStartContainer call needed, no preferred allocation to ask for (every
    // device of a kind is the same node).
    out->set_pre_start_required(false);
    out->set_get_preferred_allocation_available(false);
    return grpc::Status::OK;
  }

  grpc::Status ListAndWatch(grpc::ServerContext* ctx, const v1beta1::Empty*,
                            grpc::ServerWriter<v1beta1::ListAndWatchResponse>* writer) override {
    std::unique_lock lock(mu_);
    std::uint64_t sent = generation_;
    bool present = present_;
    lock.unlock();
    core::log::info("kubelet watches device plugin",
                    {{"resource", resource_name(kind_)}, {"healthy", present ? "true" : "false"}});
    if (!writer->Write(list(present)))
      return grpc::Status::OK;
    lock.lock();
    while (true) {
      // The kubelet going away cancels the call; check it now and then.
      cv_.wait_for(lock, std::chrono::milliseconds(500),
                   [&] { return closing_ || generation_ != sent || ctx->IsCancelled(); });
      if (closing_ || ctx->IsCancelled())
        break;
      if (generation_ == sent)
        continue;
      sent = generation_;
      present = present_;
      lock.unlock();
      if (!writer->Write(list(present)))
        return grpc::Status::OK;
      lock.lock();
    }
    const bool closing = closing_;
    lock.unlock();
    if (closing)
      writer->Write(v1beta1::ListAndWatchResponse());  // no devices: the kubelet drops them now
    return grpc::Status::OK;
  }

  grpc::Status GetPreferredAllocation(grpc::ServerContext*,
                                      const v1beta1::PreferredAllocationRequest* req,
                                      v1beta1::PreferredAllocationResponse* out) override {
    for (const auto& c : req->container_requests()) {
      std::vector<std::string> available(c.available_deviceids().begin(),
                                         c.available_deviceids().end());
      std::vector<std::string> must(c.must_include_deviceids().begin(),
                                    c.must_include_deviceids().end());
      auto* r = out->add_container_responses();
      for (auto& id : preferred_allocation(available, must, c.allocation_size()))
        r->add_deviceids(std::move(id));
    }
    return grpc::Status::OK;
  }

  grpc::Status Allocate(grpc::ServerContext*, const v1beta1::AllocateRequest* req,
                        v1beta1::AllocateResponse* out) override {
    std::vector<std::vector<std::string>> ids;
    for (const auto& c : req->container_requests())
      ids.emplace_back(c.devices_ids().begin(), c.devices_ids().end());
    auto specs = allocate(opts_, kind_, permissions_, ids);
    if (!specs.ok()) {
      core::log::warn("refused an allocation",
                      {{"resource", resource_name(kind_)}, {"error", specs.error().message}});
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, specs.error().message);
    }
    for (const auto& s : *specs) {
      auto* d = out->add_container_responses()->add_devices();
      d->set_container_path(s.container_path);
      d->set_host_path(s.host_path);
      d->set_permissions(s.permissions);
    }
    core::log::info("allocated", {{"resource", resource_name(kind_)},
                                  {"containers", std::to_string(specs->size())},
                                  {"host_path", specs->empty() ? "" : specs->front().host_path}});
    return grpc::Status::OK;
  }

  grpc::Status PreStartContainer(grpc::ServerContext*, const v1beta1::PreStartContainerRequest*,
                                 v1beta1::PreStartContainerResponse*) override {
    return grpc::Status::OK;
  }

 private:
  v1beta1::ListAndWatchResponse list(bool present) const {
    v1beta1::ListAndWatchResponse r;
    for (const auto& d : device_list(kind_, opts_.max_devices, present)) {
      auto* dev = r.add_devices();
      dev->set_id(d.id);
      dev->set_health(d.health);
    }
    return r;
  }

  const Options opts_;
  const DeviceKind kind_;
  const std::string permissions_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool present_;
  std::uint64_t generation_ = 0;
  bool closing_ = false;
};

namespace {

std::uint64_t inode_of(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0)
    return 0;
  return static_cast<std::uint64_t>(st.st_ino);
}

}  // namespace

Plugin::Plugin(const Options& opts, DeviceKind kind, std::string permissions, bool present)
    : opts_(opts),
      kind_(std::move(kind)),
      permissions_(std::move(permissions)),
      present_(present) {}

Plugin::~Plugin() {
  stop();
}

std::string Plugin::socket_path() const {
  return join_path(opts_.plugin_dir, socket_name(kind_));
}

core::Status Plugin::start() {
  stop();
  const std::string path = socket_path();
  struct stat dir {};
  if (::stat(opts_.plugin_dir.c_str(), &dir) != 0 || !S_ISDIR(dir.st_mode))
    return Error(Errc::not_found, "the device-plugin directory does not exist")
        .with("dir", opts_.plugin_dir);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    return core::errno_error("remove stale socket " + path, errno);
  auto service = std::make_unique<Service>(opts_, kind_, permissions_, present_);
  grpc::ServerBuilder builder;
  int bound = 0;
  builder.AddListeningPort("unix:" + path, grpc::InsecureServerCredentials(), &bound);
  builder.RegisterService(service.get());
  auto server = builder.BuildAndStart();
  if (!server || bound == 0)
    return Error(Errc::io, "cannot serve the device plugin on its socket").with("socket", path);
  service_ = std::move(service);
  server_ = std::move(server);
  socket_ino_ = inode_of(path);
  return {};
}

void Plugin::stop() {
  if (!server_)
    return;
  service_->close();
  // Streams end by themselves once closed (within their 500 ms wake-up); the deadline only
  // bounds a stuck client.
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  server_->Wait();
  server_.reset();
  service_.reset();
  const std::string path = socket_path();
  if (socket_ino_ != 0 && inode_of(path) == socket_ino_)
    ::unlink(path.c_str());
  socket_ino_ = 0;
}

core::Status Plugin::register_with_kubelet(std::chrono::milliseconds timeout) {
  const std::string kubelet = join_path(opts_.plugin_dir, std::string(kKubeletSocket));
  auto channel = grpc::CreateChannel("unix:" + kubelet, grpc::InsecureChannelCredentials());
  auto stub = v1beta1::Registration::NewStub(channel);
  v1beta1::RegisterRequest req;
  req.set_version(std::string(kApiVersion));
  req.set_endpoint(socket_name(kind_));
  req.set_resource_name(resource_name(kind_));
  req.mutable_options()->set_pre_start_required(false);
  req.mutable_options()->set_get_preferred_allocation_available(false);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + timeout);
  v1beta1::Empty out;
  grpc::Status st = stub->Register(&ctx, req, &out);
  if (!st.ok())
    return Error(Errc::unavailable,
                 "the kubelet refused or did not answer Register: " + st.error_message())
        .with("resource", resource_name(kind_))
        .with("grpc_code", std::to_string(static_cast<int>(st.error_code())))
        .with("socket", kubelet);
  return {};
}

void Plugin::set_present(bool present) {
  present_ = present;
  if (service_)
    service_->set_present(present);
}

bool Plugin::present() const {
  return present_;
}

}  // namespace kv::handler::deviceplugin
