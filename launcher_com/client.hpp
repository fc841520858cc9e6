#pragma once
// Clients of the launcher's command socket (launcher_com/protocol.hpp). No libvirt.
//
//  - Client: asynchronous, on the caller's io_context (virt-handler). All callbacks run on that
//    io_context; the object must outlive its pending operations (hold it in a shared_ptr).
//  - SyncClient: blocking calls with deadlines, on a private io_context thread (tests, bench,
//    tools). Events are queued and taken with wait_event().

#include <utility>  // before Asio: Boost 1.74 awaitable.hpp uses std::exchange unincluded

#include <boost/asio.hpp>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "launcher_com/protocol.hpp"

namespace kv::launcher_com {

class Client : public std::enable_shared_from_this<Client> {
 public:
  using ResponseHandler = std::function<void(core::Result<proto::Response>)>;
  using EventHandler = std::function<void(const proto::Event&)>;
  // Called once when the connection ends (peer closed, garbage, or close()).
  using CloseHandler = std::function<void(const core::Error&)>;

  static std::shared_ptr<Client> create(boost::asio::io_context& io);

  void on_event(EventHandler h) { on_event_ = std::move(h); }
  void on_close(CloseHandler h) { on_close_ = std::move(h); }

  // Connects to the launcher's socket; starts reading on success.
  void async_connect(const std::string& socket_path, std::function<void(core::Status)> done);
  // Sends a request (its id is assigned here); `done` gets the matching response, or an error
  // when the connection ends first.
  void async_request(proto::Request req, ResponseHandler done);
  void close();

 private:
  explicit Client(boost::asio::io_context& io) : socket_(io) {}
  void read_loop();
  void write_next();
  void fail(const core::Error& e);

  boost::asio::local::stream_protocol::socket socket_;
  proto::FrameReader reader_;
  std::array<char, 8192> buf_{};
  std::deque<std::string> out_;
  std::map<std::uint64_t, ResponseHandler> pending_;
  std::uint64_t next_id_ = 1;
  bool closed_ = false;
  EventHandler on_event_;
  CloseHandler on_close_;
};

class SyncClient {
 public:
  SyncClient();
  ~SyncClient();
  SyncClient(const SyncClient&) = delete;
  SyncClient& operator=(const SyncClient&) = delete;

  // Retries until the socket accepts or the deadline passes (the launcher may still be starting).
  core::Status connect(const std::string& socket_path, std::chrono::milliseconds timeout);
  // Sends a request and waits for its response. A response carrying an error is returned as a
  // Response with error set; transport failures and timeouts are errors.
  core::Result<proto::Response> call(proto::Request req, std::chrono::milliseconds timeout);
  core::Result<proto::Response> call(proto::Command c, std::chrono::milliseconds timeout) {
    proto::Request r;
    r.command = c;
    return call(std::move(r), timeout);
  }
  // Takes queued events in order until one matches `pred` (earlier non-matching ones are dropped)
  // or the deadline passes (Errc::timeout). Returns Errc::unavailable when the connection closed.
  core::Result<proto::Event> wait_event(const std::function<bool(const proto::Event&)>& pred,
                                        std::chrono::milliseconds timeout);
  core::Result<proto::Event> wait_event(proto::EventKind kind, std::chrono::milliseconds timeout) {
    return wait_event([kind](const proto::Event& e) { return e.kind == kind; }, timeout);
  }
  // True once the launcher closed the connection.
  bool closed();
  void close();

 private:
  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::thread thread_;
  std::shared_ptr<Client> client_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<proto::Event> events_;
  bool closed_ = false;
};

}  // namespace kv::launcher_com
