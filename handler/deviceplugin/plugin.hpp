#pragma once
// One device plugin: the kubelet's DevicePlugin gRPC service for one DeviceKind, served on
// <plugin_dir>/kubevirt-<name>.sock, and its Register call to the kubelet. The Manager
// (manager.hpp) decides when to start, restart and register it.
//
// Threads: gRPC's server threads run the RPCs; start(), stop(), register_with_kubelet() and
// set_present() are called by the Manager's thread. ListAndWatch streams block on a condition
// variable and send the device list again whenever set_present() changes it; stop() ends them
// with an empty list (upstream does the same: the kubelet then drops the devices at once rather
// than when it notices the stream is gone).

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "core/result.hpp"
#include "handler/deviceplugin/devices.hpp"

namespace grpc {
class Server;
}  // namespace grpc

namespace kv::handler::deviceplugin {

class Service;

class Plugin {
 public:
  Plugin(const Options& opts, DeviceKind kind, std::string permissions, bool present);
  ~Plugin();  // stop()
  Plugin(const Plugin&) = delete;
  Plugin& operator=(const Plugin&) = delete;

  const DeviceKind& kind() const { return kind_; }
  std::string socket_path() const;

  // Removes a stale socket file and serves on a fresh one. Errors: the directory is missing or
  // the socket cannot be bound.
  core::Status start();
  // Ends the streams (with an empty list), stops the server and removes its socket file (when
  // it is still ours). Idempotent.
  void stop();
  bool serving() const { return server_ != nullptr; }

  // Register with the kubelet on <plugin_dir>/kubelet.sock (deadline `timeout`).
  core::Status register_with_kubelet(std::chrono::milliseconds timeout);

  // Whether the device node exists; a change is sent to every open ListAndWatch stream.
  void set_present(bool present);
  bool present() const;

 private:
  Options opts_;
  DeviceKind kind_;
  std::string permissions_;
  bool present_;
  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
  // The socket's inode once bound: stop() removes the file only when it is still this socket.
  std::uint64_t socket_ino_ = 0;
};

}  // namespace kv::handler::deviceplugin
