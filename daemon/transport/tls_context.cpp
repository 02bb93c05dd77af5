#include "daemon/transport/tls_context.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

namespace tether::daemon::transport {
namespace {

// The oldest OpenSSL error, as text; clears the queue.
std::string openssl_error() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown OpenSSL error";
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  return text;
}

}  // namespace

void SslCtxDeleter::operator()(SSL_CTX* ctx) const {
  SSL_CTX_free(ctx);
}

Result<SslCtxPtr> make_client_tls_context(const TlsFiles& files) {
  ERR_clear_error();
  SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) return Error("creating the TLS context failed: " + openssl_error());
  if (SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION) != 1)
    return Error("setting TLS 1.2 as the minimum failed: " + openssl_error());
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);

  if (!files.ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(ctx.get(), files.ca_file.c_str(), nullptr) != 1)
      return Error(ErrorCode::kInvalidArgument, "server.ca-file: no usable CA certificate in '" +
                                                    files.ca_file + "': " + openssl_error());
  } else if (SSL_CTX_set_default_verify_paths(ctx.get()) != 1) {
    return Error("loading the system CA certificates failed: " + openssl_error());
  }

  if (!files.cert_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ctx.get(), files.cert_file.c_str()) != 1)
      return Error(ErrorCode::kInvalidArgument, "server.cert-file: no usable certificate in '" +
                                                    files.cert_file + "': " + openssl_error());
    if (SSL_CTX_use_PrivateKey_file(ctx.get(), files.key_file.c_str(), SSL_FILETYPE_PEM) != 1)
      return Error(ErrorCode::kInvalidArgument, "server.key-file: no usable private key in '" +
                                                    files.key_file + "': " + openssl_error());
    if (SSL_CTX_check_private_key(ctx.get()) != 1)
      return Error(ErrorCode::kInvalidArgument,
                   "server.key-file: the key does not match server.cert-file: " + openssl_error());
  }
  return ctx;
}

}  // namespace tether::daemon::transport
