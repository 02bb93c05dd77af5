// The client TLS context, built by tether rather than by libwebsockets from file
// names, so that (1) the minimum version is pinned to TLS 1.2, (2) "no CA file"
// means exactly the system CAs, and (3) a bad certificate or key is reported with
// the option that names it. There is deliberately no way to turn verification off:
// libwebsockets verifies the chain and the host name on every connection.
#pragma once

#include <memory>
#include <string>

#include "protocol/result.hpp"

typedef struct ssl_ctx_st SSL_CTX;

namespace tether::daemon::transport {

struct SslCtxDeleter {
  void operator()(SSL_CTX* ctx) const;
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxDeleter>;

struct TlsFiles {
  std::string ca_file;    // empty: the system's default CA store
  std::string cert_file;  // both or neither
  std::string key_file;
};

Result<SslCtxPtr> make_client_tls_context(const TlsFiles& files);

}  // namespace tether::daemon::transport
