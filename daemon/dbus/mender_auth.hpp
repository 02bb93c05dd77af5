// server.auth = mender: the bearer token and the server URL come from Mender's
// authentication daemon (io.mender.AuthenticationManager, interface
// io.mender.Authentication1), which makes tetherd a drop-in for mender-connect.
//
// Every call is asynchronous. The token is asked for at start (GetJwtToken) and
// followed through JwtTokenStateChange; a changed token or URL makes the
// connection dial again at once, an empty token makes it drop the link and wait.
// FetchJwtToken asks Mender for a new token when there is none or the server
// refused it (HTTP 401/403). The token is never logged.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "daemon/dbus/bus_service.hpp"
#include "daemon/log/logger.hpp"
#include "daemon/transport/credential_source.hpp"
#include "dbus/generated/authentication1_proxy.h"

namespace tether::daemon::dbus {

class MenderAuth final : public sdbus::ProxyInterfaces<io::mender::Authentication1_proxy>,
                         public transport::CredentialSource {
 public:
  static constexpr const char* kServiceName = "io.mender.AuthenticationManager";
  static constexpr const char* kObjectPath = "/io/mender/AuthenticationManager";

  // `changed` runs when the credentials differ from the ones last handed out (new
  // token, new URL, or the token is gone); main points it at reconnect_now().
  //
  // Subscribing to JwtTokenStateChange is the one synchronous bus call in tetherd
  // (sdbus-c++ 1.2 has no asynchronous AddMatch): build this before the loop runs.
  static Result<std::unique_ptr<MenderAuth>> create(BusService& bus, const log::Logger& logger,
                                                    std::function<void()> changed);
  ~MenderAuth();
  MenderAuth(const MenderAuth&) = delete;
  MenderAuth& operator=(const MenderAuth&) = delete;

  // Asks for the current token (GetJwtToken).
  void start();

  // transport::CredentialSource
  std::optional<transport::Credentials> credentials() override;
  std::string missing_reason() const override;
  void refused() override;

 private:
  MenderAuth(BusService& bus, const log::Logger& logger, std::function<void()> changed);

  void onJwtTokenStateChange(const std::string& token, const std::string& server_url) override;
  void onGetJwtTokenReply(const std::string& token, const std::string& server_url,
                          const sdbus::Error* error) override;
  void onFetchJwtTokenReply(const bool& success, const sdbus::Error* error) override;

  void ask_token();
  void fetch_token();
  void update(const std::string& token, const std::string& server_url);

  BusService& bus_;
  const log::Logger& log_;
  std::function<void()> changed_;
  std::string token_;
  std::string server_url_;
  bool asking_ = false;
  bool fetching_ = false;
  std::string last_problem_ = "no answer from io.mender.AuthenticationManager yet";
  // What credentials() last handed out, to tell a real change from a repeat.
  std::optional<transport::Credentials> handed_out_;
};

}  // namespace tether::daemon::dbus
