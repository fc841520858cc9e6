#pragma once
// The command socket: a unix socket in the shared directory, framed JSON
// (launcher_com/protocol.hpp) over Boost.Asio. Any number of clients; each gets responses to its
// own requests and every event. A client sending garbage gets one error response (id 0) and is
// disconnected; nothing it sends reaches the VM unless it is a well-formed request. Runs on one
// io_context thread.

#include <utility>  // before Asio: Boost 1.74 awaitable.hpp uses std::exchange unincluded

#include <boost/asio.hpp>

#include <functional>
#include <memory>
#include <set>
#include <string>

#include "core/result.hpp"
#include "launcher_com/protocol.hpp"

namespace kv::launcher_com {

class CommandServer {
 public:
  using Reply = std::function<void(proto::Response)>;
  using Handler = std::function<void(const proto::Request&, Reply)>;

  // Binds `path` (a stale socket file is replaced; mode 0660) and starts accepting.
  static core::Result<std::unique_ptr<CommandServer>> listen(boost::asio::io_context& io,
                                                             const std::string& path,
                                                             Handler handler);
  ~CommandServer();

  // Queues the event to every connected client.
  void broadcast(const proto::Event& e);
  size_t client_count() const { return sessions_.size(); }
  // Stops accepting, lets queued writes drain (at most `timeout`), closes every client, removes
  // the socket file, then calls `done`.
  void shutdown(std::chrono::milliseconds timeout, std::function<void()> done);

  class Session;

 private:
  CommandServer(boost::asio::io_context& io, std::string path, Handler h);
  void accept();

  boost::asio::io_context& io_;
  std::string path_;
  Handler handler_;
  boost::asio::local::stream_protocol::acceptor acceptor_;
  std::set<std::shared_ptr<Session>> sessions_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace kv::launcher_com
