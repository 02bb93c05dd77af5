// fake-mender-auth TOKEN SERVER_URL: plays Mender's authentication daemon on the
// session bus for the server.auth = mender tests. It owns
// io.mender.AuthenticationManager and serves io.mender.Authentication1 from the
// same XML tetherd's proxy is generated from. Every call it receives is printed as
// a line on stdout ("GetJwtToken", "FetchJwtToken") for the test to wait for.
//
// The test steers it with io.tether.test.FakeMender.Set(s token, s server_url) on
// the same object: the new values are stored and JwtTokenStateChange is emitted.
#include <iostream>
#include <string>

#include "dbus/generated/authentication1_adaptor.h"

namespace {

constexpr const char* kName = "io.mender.AuthenticationManager";
constexpr const char* kPath = "/io/mender/AuthenticationManager";

class FakeAuthManager final : public sdbus::AdaptorInterfaces<io::mender::Authentication1_adaptor> {
 public:
  FakeAuthManager(sdbus::IConnection& connection, std::string token, std::string url)
      : AdaptorInterfaces(connection, kPath), token_(std::move(token)), url_(std::move(url)) {
    registerAdaptor();
  }
  ~FakeAuthManager() { unregisterAdaptor(); }
  FakeAuthManager(const FakeAuthManager&) = delete;
  FakeAuthManager& operator=(const FakeAuthManager&) = delete;

  void set(const std::string& token, const std::string& url) {
    token_ = token;
    url_ = url;
    std::cout << "Set '" << token << "' '" << url << "'" << std::endl;
    emitJwtTokenStateChange(token_, url_);
  }

 private:
  std::tuple<std::string, std::string> GetJwtToken() override {
    std::cout << "GetJwtToken" << std::endl;
    return {token_, url_};
  }
  bool FetchJwtToken() override {
    std::cout << "FetchJwtToken" << std::endl;
    return true;
  }

  std::string token_;
  std::string url_;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: fake-mender-auth TOKEN SERVER_URL\n";
    return 2;
  }
  try {
    auto connection = sdbus::createSessionBusConnection();
    FakeAuthManager manager(*connection, argv[1], argv[2]);
    auto control = sdbus::createObject(*connection, kPath);
    control->registerMethod("Set")
        .onInterface("io.tether.test.FakeMender")
        .implementedAs([&manager](const std::string& token, const std::string& url) {
          manager.set(token, url);
        });
    control->finishRegistration();
    connection->requestName(kName);
    std::cout << "ready" << std::endl;
    connection->enterEventLoop();
  } catch (const sdbus::Error& e) {
    std::cerr << "fake-mender-auth: " << e.getName() << ": " << e.getMessage() << "\n";
    return 1;
  }
  return 0;
}
