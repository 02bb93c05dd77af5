#include "daemon/transport/credential_source.hpp"

#include <fstream>

namespace tether::daemon::transport {

TokenFileCredentials::TokenFileCredentials(std::string path) : path_(std::move(path)) {}

std::optional<Credentials> TokenFileCredentials::credentials() {
  if (path_.empty()) return std::nullopt;
  std::ifstream in(path_, std::ios::binary);
  if (!in) return std::nullopt;
  // The file is small by contract; reading at most 64 KiB bounds a mistaken path.
  std::string token;
  token.resize(65536);
  in.read(token.data(), static_cast<std::streamsize>(token.size()));
  token.resize(static_cast<std::size_t>(in.gcount()));
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' '))
    token.pop_back();
  if (token.empty()) return std::nullopt;
  return Credentials{std::move(token), {}};
}

std::string TokenFileCredentials::missing_reason() const {
  return "server.token-file '" + path_ + "' is missing or empty";
}

}  // namespace tether::daemon::transport
