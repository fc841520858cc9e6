// HTTP as our servers and our Kubernetes client read it. The parsing of the bytes is Beast's
// (configured as core/serve and core/kube configure it); what follows is ours and is what this
// target is for:
//  - a request (input not starting with "HTTP/"): core/serve's Router (path patterns, {params},
//    405 with Allow), virt-api's route() and the bodies of its actions (dry-run and lifecycle
//    options), and the front-proxy authentication from the X-Remote-* headers;
//  - a response ("HTTP/..."): read as core::async_read_response reads it (the header first), then
//    the Kubernetes client's error mapping (http_error) and the watch stream (LineSplitter +
//    parse_watch_event over the body).

#include <boost/beast/http.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "api/server/actions.hpp"
#include "api/server/authn.hpp"
#include "api/server/lifecycle.hpp"
#include "api/server/routes.hpp"
#include "core/kube/client.hpp"
#include "core/kube/watch.hpp"
#include "core/serve/server.hpp"
#include "test/fuzz/check.hpp"

using namespace kv;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

std::string_view sv(beast::string_view s) {
  return {s.data(), s.size()};
}

// Feeds the whole input to a Beast parser; true when a complete message came out of it. With
// header_first, as core::async_read_response reads: the header alone (not eager), then the body.
template <typename Parser>
bool parse(Parser& p, std::string_view bytes, bool header_first = false) {
  beast::error_code ec;
  if (header_first) {
    p.eager(false);
    while (!bytes.empty() && !p.is_header_done()) {
      auto used = p.put(boost::asio::buffer(bytes.data(), bytes.size()), ec);
      if (ec == http::error::need_more)
        return false;  // the header never ended: a read would wait, then fail
      if (ec)
        return false;
      bytes.remove_prefix(used);
    }
  }
  p.eager(true);
  while (!bytes.empty() && !p.is_done()) {
    auto used = p.put(boost::asio::buffer(bytes.data(), bytes.size()), ec);
    if (ec == http::error::need_more)
      break;
    if (ec)
      return false;
    bytes.remove_prefix(used);
  }
  if (!p.is_done() && p.got_some())
    p.put_eof(ec);  // the peer closed: the end of a body without a length (as http::read does)
  return !ec && p.is_done();
}

// The request as a core/serve handler gets it (the seam Router::dispatch takes).
class FuzzExchange final : public core::serve::Exchange {
 public:
  explicit FuzzExchange(core::serve::Request r) : req_(std::move(r)) {}
  const core::serve::Request& request() const override { return req_; }
  const core::serve::PeerCertificates& peer() const override { return peer_; }
  void respond(core::serve::Response r) override {
    fuzz::check(!answered_, "a request was answered twice");
    answered_ = true;
    status = r.status;
  }
  void upgrade(std::function<void(core::serve::Upgraded)>) override { answered_ = true; }
  boost::asio::any_io_executor executor() override { return {}; }
  int status = 0;

 private:
  core::serve::Request req_;
  core::serve::PeerCertificates peer_;
  bool answered_ = false;
};

const core::serve::Router& router() {
  static const core::serve::Router r = [] {
    core::serve::Router r;
    auto ok = [](const std::shared_ptr<core::serve::Exchange>& ex) { ex->respond({200, "ok"}); };
    auto named = [](const std::shared_ptr<core::serve::Exchange>& ex) {
      fuzz::check(!ex->params().at("namespace").empty() && !ex->params().at("name").empty(),
                  "a {param} matched an empty segment", ex->path());
      ex->respond({200, "ok"});
    };
    r.add("GET", "/healthz", ok)
        .add("GET", "/metrics", ok)
        .add("PUT", "/v1/namespaces/{namespace}/virtualmachineinstances/{name}/pause", named)
        .add("GET", "/v1/namespaces/{namespace}/virtualmachineinstances/{name}/console", named)
        .add("GET", "/v1/namespaces/{namespace}/virtualmachineinstances/{name}/portforward/*",
             named)
        .add("*", "/static/*", ok);
    return r;
  }();
  return r;
}

void request(std::string_view bytes) {
  http::request_parser<http::string_body> p;
  p.body_limit(1 << 20);  // core/serve's default body_limit
  if (!parse(p, bytes))
    return;
  auto req = p.release();
  const auto method = sv(req.method_string());
  const auto target = sv(req.target());

  auto ex = std::make_shared<FuzzExchange>(req);
  router().dispatch(ex);
  fuzz::check(ex->status == 200 || ex->status == 404 || ex->status == 405,
              "the router answered neither a route, 404 nor 405", target);

  auto r = apiserver::route(method, target);
  if (r.kind == apiserver::RouteKind::vm_action || r.kind == apiserver::RouteKind::vmi_action ||
      r.kind == apiserver::RouteKind::vmi_stream)
    fuzz::check(!r.ns.empty() && !r.name.empty() && !r.action.empty(),
                "an action route without namespace, name or action", target);
  if (r.kind == apiserver::RouteKind::port_forward)
    fuzz::check(r.port >= 1 && r.port <= 65535 && (r.protocol == "tcp" || r.protocol == "udp"),
                "a port-forward route with a port or protocol outside the allowed ones", target);
  if (r.kind == apiserver::RouteKind::vmi_action)
    (void)apiserver::parse_vmi_action_dry_run(r.action, req.body());
  if (r.kind == apiserver::RouteKind::vm_action)
    if (auto action = apiserver::vm_action_from(r.action))
      (void)apiserver::parse_lifecycle_options(*action, req.body());

  apiserver::Headers headers;
  for (const auto& f : req)
    headers.emplace_back(sv(f.name_string()), sv(f.value()));
  apiserver::Peer peer{true, "front-proxy-client", ""};
  (void)apiserver::authenticate(apiserver::RequestHeaderConfig{}, peer, headers,
                                r.needs_authorization());
}

void response(std::string_view bytes) {
  http::response_parser<http::string_body> p;
  p.body_limit(std::uint64_t{1} << 31);  // core/kube's limits
  p.header_limit(1 << 20);
  if (!parse(p, bytes, true))
    return;
  const auto& res = p.get();
  const auto status = static_cast<int>(res.result_int());
  if (status >= 400) {
    auto e = core::kube::http_error(status, res.body(), "GET", "/api/v1/pods");
    fuzz::check(!e.message.empty(), "an HTTP error mapped to an empty message", res.body());
    return;
  }
  core::kube::LineSplitter lines;
  const std::string& body = res.body();
  const size_t half = body.size() / 2;
  for (auto piece : {std::string_view(body).substr(0, half), std::string_view(body).substr(half)})
    lines.feed(piece, [](std::string_view line) {
      (void)core::kube::parse_watch_event(line);
      return true;
    });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  if (bytes.substr(0, 5) == "HTTP/")
    response(bytes);
  else
    request(bytes);
  return 0;
}
