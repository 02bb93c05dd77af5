#include "daemon/dbus/mender_auth.hpp"

namespace tether::daemon::dbus {

Result<std::unique_ptr<MenderAuth>> MenderAuth::create(BusService& bus, const log::Logger& logger,
                                                       std::function<void()> changed) {
  try {
    std::unique_ptr<MenderAuth> auth(new MenderAuth(bus, logger, std::move(changed)));
    return auth;
  } catch (const sdbus::Error& e) {
    return Error(ErrorCode::kUnavailable, "server.auth=mender: subscribing to " +
                                              std::string(kServiceName) +
                                              " signals failed: " + e.getMessage());
  }
}

MenderAuth::MenderAuth(BusService& bus, const log::Logger& logger, std::function<void()> changed)
    : ProxyInterfaces(bus.connection(), kServiceName, kObjectPath),
      bus_(bus),
      log_(logger),
      changed_(std::move(changed)) {
  registerProxy();
}

MenderAuth::~MenderAuth() {
  unregisterProxy();
  token_.assign(token_.size(), '\0');
}

void MenderAuth::start() {
  ask_token();
}

std::optional<transport::Credentials> MenderAuth::credentials() {
  if (token_.empty()) {
    handed_out_.reset();
    // Nothing to use: ask again (Mender may have started since), and ask Mender to
    // authenticate once it has answered that it has no token.
    if (!asking_) ask_token();
    return std::nullopt;
  }
  handed_out_ = transport::Credentials{token_, server_url_};
  return handed_out_;
}

std::string MenderAuth::missing_reason() const {
  return last_problem_;
}

void MenderAuth::refused() {
  fetch_token();
}

void MenderAuth::ask_token() {
  asking_ = true;
  const Status sent = bus_.send([this] { GetJwtToken(); });
  if (!sent) {
    asking_ = false;
    last_problem_ =
        "asking " + std::string(kServiceName) + " for a token: " + sent.error().message();
  }
}

void MenderAuth::fetch_token() {
  if (fetching_) return;
  fetching_ = true;
  const Status sent = bus_.send([this] { FetchJwtToken(); });
  if (!sent) {
    fetching_ = false;
    log_.warn("asking " + std::string(kServiceName) +
              " to fetch a new token failed: " + sent.error().message());
  }
}

void MenderAuth::onGetJwtTokenReply(const std::string& token, const std::string& server_url,
                                    const sdbus::Error* error) {
  asking_ = false;
  if (error != nullptr) {
    last_problem_ = std::string(kServiceName) + " did not answer GetJwtToken: " + error->getName() +
                    ": " + error->getMessage();
    log_.warn(last_problem_);
    return;
  }
  update(token, server_url);
  if (token.empty()) fetch_token();
}

void MenderAuth::onJwtTokenStateChange(const std::string& token, const std::string& server_url) {
  log_.info(std::string(kServiceName) + " reports a " + (token.empty() ? "lost" : "new") +
            " token for " + (server_url.empty() ? std::string("no server") : server_url));
  update(token, server_url);
}

void MenderAuth::onFetchJwtTokenReply(const bool& success, const sdbus::Error* error) {
  fetching_ = false;
  if (error != nullptr) {
    log_.warn(std::string(kServiceName) + " did not answer FetchJwtToken: " + error->getName() +
              ": " + error->getMessage());
  } else if (!success) {
    log_.warn(std::string(kServiceName) + " could not start fetching a new token");
  }
  // The new token itself arrives with JwtTokenStateChange.
}

void MenderAuth::update(const std::string& token, const std::string& server_url) {
  token_.assign(token_.size(), '\0');
  token_ = token;
  server_url_ = server_url;
  if (token_.empty()) last_problem_ = std::string(kServiceName) + " has no token (not authorized)";
  const bool differs = token_.empty() ? handed_out_.has_value()
                                      : !handed_out_ || handed_out_->token != token_ ||
                                            handed_out_->server_url != server_url_;
  if (token_.empty()) handed_out_.reset();
  if (differs && changed_) changed_();
}

}  // namespace tether::daemon::dbus
