// Where the connection gets the bearer token (and, optionally, the server URL) for
// each dial: a token file (server.auth = token) or Mender's authentication manager
// on D-Bus (server.auth = mender, daemon/dbus/mender_auth.hpp). Called on the loop.
#pragma once

#include <optional>
#include <string>

namespace tether::daemon::transport {

struct Credentials {
  std::string token;  // never empty; never logged
  // A server URL that replaces server.url's scheme and authority for this dial
  // (https:// → wss://, http:// → ws://); empty keeps server.url.
  std::string server_url;
};

class CredentialSource {
 public:
  virtual ~CredentialSource() = default;
  // The credentials for the dial about to start; nullopt when there are none now.
  // The connection then waits server.auth-backoff, or until the source asks for a
  // reconnect (Connection::reconnect_now) because credentials arrived.
  virtual std::optional<Credentials> credentials() = 0;
  // Why credentials() had none, for the log (never the token itself).
  virtual std::string missing_reason() const = 0;
  // The server refused the last credentials (HTTP 401 or 403).
  virtual void refused() {}
};

// server.auth = token: the file is re-read on every dial; its trailing newline and
// spaces are ignored. A missing or empty file means no credentials yet.
class TokenFileCredentials final : public CredentialSource {
 public:
  explicit TokenFileCredentials(std::string path);
  std::optional<Credentials> credentials() override;
  std::string missing_reason() const override;

 private:
  std::string path_;
};

}  // namespace tether::daemon::transport
