#include "launcher_com/command_server.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <deque>

#include "core/log.hpp"

namespace kv::launcher_com {
namespace asio = boost::asio;
using core::Errc;
using core::Error;
using core::Result;
using stream = asio::local::stream_protocol;

class CommandServer::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(stream::socket s, CommandServer* server) : socket_(std::move(s)), server_(server) {}

  void start() { read(); }

  void send(std::string bytes) {
    if (closed_)
      return;
    out_.push_back(std::move(bytes));
    if (out_.size() == 1)
      write();
  }

  bool idle() const { return out_.empty(); }

  void close() {
    if (closed_)
      return;
    closed_ = true;
    boost::system::error_code ec;
    socket_.shutdown(stream::socket::shutdown_both, ec);
    socket_.close(ec);
    if (server_)
      server_->sessions_.erase(shared_from_this());
  }

  // The server is going away: never touch it again.
  void detach() { server_ = nullptr; }

  // Closes after the queued writes are sent (garbage from the peer).
  void close_after_flush() {
    closing_ = true;
    if (out_.empty())
      close();
  }

 private:
  void read() {
    auto self = shared_from_this();
    socket_.async_read_some(asio::buffer(buf_), [self](boost::system::error_code ec, size_t n) {
      if (ec) {
        self->close();
        return;
      }
      self->reader_.feed(std::string_view(self->buf_.data(), n));
      if (!self->drain())
        return;
      self->read();
    });
  }

  // Handles every complete frame; false when the peer was cut off.
  bool drain() {
    for (;;) {
      if (closed_ || closing_)
        return false;
      auto body = reader_.next();
      if (!body.ok())
        return reject(body.error());
      if (!*body)
        return true;
      auto msg = proto::decode(**body);
      if (!msg.ok())
        return reject(msg.error());
      auto* req = std::get_if<proto::Request>(&*msg);
      if (!req)
        return reject(Error(Errc::invalid, "type: clients may only send requests"));
      if (!server_)
        return false;
      std::weak_ptr<Session> weak = shared_from_this();
      server_->handler_(*req, [weak](proto::Response r) {
        if (auto s = weak.lock())
          s->send(proto::frame(r));
      });
    }
  }

  bool reject(const Error& e) {
    core::log::warn("dropping a command-socket client that sent garbage", {{"error", e.message}});
    proto::Response r;
    r.id = 0;
    r.error = e;
    send(proto::frame(r));
    close_after_flush();
    return false;
  }

  void write() {
    auto self = shared_from_this();
    asio::async_write(socket_, asio::buffer(out_.front()),
                      [self](boost::system::error_code ec, size_t) {
                        if (ec) {
                          self->out_.clear();
                          self->close();
                          return;
                        }
                        self->out_.pop_front();
                        if (!self->out_.empty())
                          self->write();
                        else if (self->closing_)
                          self->close();
                      });
  }

  stream::socket socket_;
  CommandServer* server_;
  proto::FrameReader reader_;
  std::array<char, 8192> buf_{};
  std::deque<std::string> out_;
  bool closed_ = false;
  bool closing_ = false;
};

CommandServer::CommandServer(asio::io_context& io, std::string path, Handler h)
    : io_(io), path_(std::move(path)), handler_(std::move(h)), acceptor_(io) {}

Result<std::unique_ptr<CommandServer>> CommandServer::listen(asio::io_context& io,
                                                             const std::string& path,
                                                             Handler handler) {
  if (path.size() >= sizeof(sockaddr_un::sun_path))
    return Error(Errc::invalid, "command socket path is too long for a unix socket")
        .with("path", path);
  ::unlink(path.c_str());
  std::unique_ptr<CommandServer> s(new CommandServer(io, path, std::move(handler)));
  boost::system::error_code ec;
  s->acceptor_.open(stream(), ec);
  if (!ec)
    s->acceptor_.bind(stream::endpoint(path), ec);
  if (!ec)
    s->acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return Error(Errc::io, "cannot listen on command socket: " + ec.message()).with("path", path);
  ::chmod(path.c_str(), 0660);
  s->accept();
  return s;
}

CommandServer::~CommandServer() {
  *alive_ = false;
  boost::system::error_code ec;
  acceptor_.close(ec);
  for (const auto& s : std::set<std::shared_ptr<Session>>(sessions_)) {
    s->detach();
    s->close();
  }
  ::unlink(path_.c_str());
}

void CommandServer::accept() {
  std::weak_ptr<bool> alive = alive_;
  acceptor_.async_accept([this, alive](boost::system::error_code ec, stream::socket sock) {
    if (alive.expired() || !*alive.lock())
      return;
    if (ec) {
      if (ec == asio::error::operation_aborted)
        return;
      core::log::warn("command socket accept failed", {{"error", ec.message()}});
    } else {
      auto s = std::make_shared<Session>(std::move(sock), this);
      sessions_.insert(s);
      core::log::info("command-socket client connected",
                      {{"clients", std::to_string(sessions_.size())}});
      s->start();
    }
    accept();
  });
}

void CommandServer::broadcast(const proto::Event& e) {
  std::string bytes = proto::frame(e);
  for (const auto& s : std::set<std::shared_ptr<Session>>(sessions_))
    s->send(bytes);
}

void CommandServer::shutdown(std::chrono::milliseconds timeout, std::function<void()> done) {
  boost::system::error_code ec;
  acceptor_.close(ec);
  ::unlink(path_.c_str());
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto timer = std::make_shared<asio::steady_timer>(io_);
  // Polls the write queues; they drain within a few loop turns unless a client stopped reading.
  auto check = std::make_shared<std::function<void()>>();
  std::weak_ptr<bool> alive = alive_;
  *check = [this, alive, deadline, timer, check, done]() {
    if (alive.expired()) {
      done();
      return;
    }
    bool idle = true;
    for (const auto& s : sessions_)
      idle = idle && s->idle();
    if (idle || std::chrono::steady_clock::now() >= deadline) {
      for (const auto& s : std::set<std::shared_ptr<Session>>(sessions_))
        s->close();
      auto finish = done;
      *check = nullptr;  // breaks the self-reference; no capture is used after this
      finish();
      return;
    }
    timer->expires_after(std::chrono::milliseconds(10));
    timer->async_wait([check](boost::system::error_code) {
      if (*check)
        (*check)();
    });
  };
  (*check)();
}

}  // namespace kv::launcher_com
