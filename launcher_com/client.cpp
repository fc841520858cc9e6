#include "launcher_com/client.hpp"

#include <future>

namespace kv::launcher_com {
namespace asio = boost::asio;
using core::Errc;
using core::Error;
using core::Result;
using core::Status;

std::shared_ptr<Client> Client::create(asio::io_context& io) {
  return std::shared_ptr<Client>(new Client(io));
}

void Client::async_connect(const std::string& socket_path, std::function<void(Status)> done) {
  auto self = shared_from_this();
  socket_.async_connect(
      asio::local::stream_protocol::endpoint(socket_path),
      [self, done = std::move(done), socket_path](boost::system::error_code ec) {
        if (ec) {
          done(Error(Errc::unavailable, "connect to launcher socket: " + ec.message())
                   .with("path", socket_path));
          return;
        }
        self->read_loop();
        done(Status{});
      });
}

void Client::read_loop() {
  auto self = shared_from_this();
  socket_.async_read_some(asio::buffer(buf_), [self](boost::system::error_code ec, size_t n) {
    if (ec) {
      self->fail(Error(Errc::unavailable, "launcher connection closed: " + ec.message()));
      return;
    }
    self->reader_.feed(std::string_view(self->buf_.data(), n));
    for (;;) {
      auto body = self->reader_.next();
      if (!body.ok()) {
        self->fail(body.error());
        return;
      }
      if (!*body)
        break;
      auto msg = proto::decode(**body);
      if (!msg.ok()) {
        self->fail(msg.error());
        return;
      }
      if (auto* r = std::get_if<proto::Response>(&*msg)) {
        auto it = self->pending_.find(r->id);
        if (it != self->pending_.end()) {
          auto h = std::move(it->second);
          self->pending_.erase(it);
          h(std::move(*r));
        }
      } else if (auto* e = std::get_if<proto::Event>(&*msg)) {
        if (self->on_event_)
          self->on_event_(*e);
      }
      if (self->closed_)
        return;
    }
    self->read_loop();
  });
}

void Client::async_request(proto::Request req, ResponseHandler done) {
  if (closed_) {
    done(Error(Errc::unavailable, "launcher connection is closed"));
    return;
  }
  req.id = next_id_++;
  pending_.emplace(req.id, std::move(done));
  out_.push_back(proto::frame(req));
  if (out_.size() == 1)
    write_next();
}

void Client::write_next() {
  auto self = shared_from_this();
  asio::async_write(socket_, asio::buffer(out_.front()),
                    [self](boost::system::error_code ec, size_t) {
                      if (ec) {
                        self->fail(Error(Errc::unavailable, "write to launcher: " + ec.message()));
                        return;
                      }
                      self->out_.pop_front();
                      if (!self->out_.empty())
                        self->write_next();
                    });
}

void Client::fail(const Error& e) {
  if (closed_)
    return;
  closed_ = true;
  boost::system::error_code ignored;
  socket_.close(ignored);
  out_.clear();
  auto pending = std::move(pending_);
  pending_.clear();
  for (auto& [_, h] : pending)
    h(e);
  if (on_close_)
    on_close_(e);
}

void Client::close() {
  fail(Error(Errc::unavailable, "closed by client"));
}

SyncClient::SyncClient() : work_(asio::make_work_guard(io_)), thread_([this] { io_.run(); }) {}

SyncClient::~SyncClient() {
  close();
  work_.reset();
  io_.stop();
  thread_.join();
}

Status SyncClient::connect(const std::string& socket_path, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  Error last(Errc::timeout, "connect: no attempt made");
  while (std::chrono::steady_clock::now() < deadline) {
    std::promise<Status> p;
    auto fut = p.get_future();
    asio::post(io_, [&] {
      auto c = Client::create(io_);
      c->on_event([this](const proto::Event& e) {
        std::lock_guard l(mu_);
        events_.push_back(e);
        cv_.notify_all();
      });
      c->on_close([this](const Error&) {
        std::lock_guard l(mu_);
        closed_ = true;
        cv_.notify_all();
      });
      c->async_connect(socket_path, [&p, c, this](Status s) {
        if (s.ok())
          client_ = c;
        p.set_value(std::move(s));
      });
    });
    Status s = fut.get();
    if (s.ok()) {
      std::lock_guard l(mu_);
      closed_ = false;
      return s;
    }
    last = s.error();
    // The socket file appears when the launcher is ready to accept; poll it at a short interval.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return Error(Errc::timeout, "launcher socket did not accept within " +
                                  std::to_string(timeout.count()) + " ms: " + last.message)
      .with("path", socket_path);
}

Result<proto::Response> SyncClient::call(proto::Request req, std::chrono::milliseconds timeout) {
  auto p = std::make_shared<std::promise<Result<proto::Response>>>();
  auto fut = p->get_future();
  asio::post(io_, [this, p, req = std::move(req)]() mutable {
    if (!client_) {
      p->set_value(Error(Errc::unavailable, "not connected"));
      return;
    }
    client_->async_request(std::move(req),
                           [p](Result<proto::Response> r) { p->set_value(std::move(r)); });
  });
  if (fut.wait_for(timeout) != std::future_status::ready)
    return Error(Errc::timeout,
                 "no response from the launcher within " + std::to_string(timeout.count()) + " ms");
  return fut.get();
}

Result<proto::Event> SyncClient::wait_event(const std::function<bool(const proto::Event&)>& pred,
                                            std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock l(mu_);
  for (;;) {
    while (!events_.empty()) {
      proto::Event e = std::move(events_.front());
      events_.pop_front();
      if (pred(e))
        return e;
    }
    if (closed_)
      return Error(Errc::unavailable, "launcher connection closed before the event arrived");
    if (cv_.wait_until(l, deadline) == std::cv_status::timeout && events_.empty())
      return Error(Errc::timeout,
                   "no matching event within " + std::to_string(timeout.count()) + " ms");
  }
}

bool SyncClient::closed() {
  std::lock_guard l(mu_);
  return closed_;
}

void SyncClient::close() {
  std::promise<void> p;
  auto fut = p.get_future();
  asio::post(io_, [&] {
    if (client_)
      client_->close();
    client_.reset();
    p.set_value();
  });
  fut.wait();
}

}  // namespace kv::launcher_com
