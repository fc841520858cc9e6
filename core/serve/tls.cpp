#include "core/serve/tls.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/ssl/verify_context.hpp>

#include <fstream>
#include <iterator>

namespace kv::core::serve {
namespace ssl = boost::asio::ssl;

Status TlsContext::set_certificate(const std::string& cert_pem, const std::string& key_pem,
                                   const std::string& client_ca_pem) {
  auto fail = [](const char* part, const std::string& why) {
    return Error(Errc::invalid, why).with("pem", part);
  };
  // In order, each checked before the next is looked at: the first part at fault is named.
  if (cert_pem.empty())
    return fail(kPemCertificate, "empty");
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  boost::system::error_code ec;
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                       ssl::context::single_dh_use,
                   ec);
  ctx->use_certificate_chain(boost::asio::buffer(cert_pem), ec);
  if (ec)
    return fail(kPemCertificate, ec.message());
  if (key_pem.empty())
    return fail(kPemKey, "empty");
  ctx->use_private_key(boost::asio::buffer(key_pem), ssl::context::pem, ec);
  if (ec)
    return fail(kPemKey, ec.message());
  switch (auth_) {
    case ClientAuth::none:
      ctx->set_verify_mode(ssl::verify_none);
      break;
    case ClientAuth::request:
      // Ask for a certificate but let any (or none) through: the application checks it.
      ctx->set_verify_mode(ssl::verify_peer);
      ctx->set_verify_callback([](bool, ssl::verify_context&) { return true; });
      break;
    case ClientAuth::require:
      if (client_ca_pem.empty())
        return fail(kPemClientCa, "empty");
      ctx->add_certificate_authority(boost::asio::buffer(client_ca_pem), ec);
      if (ec)
        return fail(kPemClientCa, ec.message());
      ctx->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
      break;
  }
  std::lock_guard lock(mu_);
  current_ = std::move(ctx);
  ++generation_;
  return {};
}

std::shared_ptr<ssl::context> TlsContext::current() const {
  std::lock_guard lock(mu_);
  return current_;
}

uint64_t TlsContext::generation() const {
  std::lock_guard lock(mu_);
  return generation_;
}

PemFiles::PemFiles(std::filesystem::path cert_file, std::filesystem::path key_file,
                   std::filesystem::path client_ca_file)
    : cert_file_(std::move(cert_file)),
      key_file_(std::move(key_file)),
      client_ca_file_(std::move(client_ca_file)) {}

Result<bool> PemFiles::reload(TlsContext& tls) {
  std::string texts[3];
  const std::filesystem::path* files[3] = {&cert_file_, &key_file_, &client_ca_file_};
  for (int i = 0; i < 3; ++i) {
    if (files[i]->empty())
      continue;
    std::ifstream in(*files[i]);
    if (!in)
      return Error(Errc::io, "cannot read \"" + files[i]->string() + "\"")
          .with("path", files[i]->string());
    texts[i].assign(std::istreambuf_iterator<char>(in), {});
  }
  std::string all = texts[0] + '\0' + texts[1] + '\0' + texts[2];
  if (all == loaded_)
    return false;
  KV_CHECK(tls.set_certificate(texts[0], texts[1], texts[2]));
  loaded_ = std::move(all);
  return true;
}

}  // namespace kv::core::serve
