// server.auth = mender against a fake of Mender's authentication daemon on the
// private bus: the token and URL it hands out, a new token, a 401, no token.
#include <string>
#include <thread>

#include "tests/integration/dbus/bus_fixture.hpp"

namespace tether::test {
namespace {

constexpr const char* kMenderToken = "mender-jwt-aaaa";
constexpr const char* kNewToken = "mender-jwt-bbbb";
constexpr const char* kThirdToken = "mender-jwt-cccc";

class MenderAuthTest : public BusTest {
 protected:
  // What Mender reports as its server: the test server's authority over https.
  std::string mender_url() const { return "https://localhost:" + std::to_string(server_->port()); }

  DaemonProcess& start_fake(const std::string& token) {
    auto fake = DaemonProcess::start(FAKE_MENDER_AUTH_PATH, {token, mender_url()});
    EXPECT_TRUE(fake.ok());
    fake_ = std::move(fake).value();
    EXPECT_TRUE(fake_->wait_for_output("ready", 5s)) << fake_->output();
    return *fake_;
  }

  // tetherd with server.auth = mender. server.url names a host that does not exist
  // and the token file holds another token: only Mender's URL and token can work.
  DaemonProcess& start_mender_daemon() {
    return start_on_bus({"--server.auth=mender", "--server.url=wss://no-such-host.invalid:9/x"});
  }

  void set_token(const std::string& token) {
    auto call = gdbus({"call", "--session", "--dest", "io.mender.AuthenticationManager",
                       "--object-path", "/io/mender/AuthenticationManager", "--method",
                       "io.tether.test.FakeMender.Set", token, mender_url()});
    ASSERT_EQ(call.exit_status, 0) << call.output;
  }

  void TearDown() override {
    if (fake_ && HasFailure()) std::cerr << "---- fake Mender ----\n" << fake_->output();
    BusTest::TearDown();
    fake_.reset();
  }

  std::unique_ptr<DaemonProcess> fake_;
};

TEST_F(MenderAuthTest, ConnectsWithMendersTokenAndServer) {
  start_fake(kMenderToken);
  DaemonProcess& daemon = start_mender_daemon();
  auto handshake = expect_connection();
  EXPECT_EQ(handshake.headers["authorization"], std::string("Bearer ") + kMenderToken);
  EXPECT_EQ(handshake.path, "/x");
  EXPECT_TRUE(wait_for_property(
      "ServerUrl", "s \"wss://localhost:" + std::to_string(server_->port()) + "/x\"", 3s));
  EXPECT_EQ(daemon.count_in_output(kMenderToken), 0u) << "the token was logged";
}

TEST_F(MenderAuthTest, NewTokenReconnectsWithIt) {
  DaemonProcess& fake = start_fake(kMenderToken);
  DaemonProcess& daemon = start_mender_daemon();
  expect_connection();
  set_token(kNewToken);
  EXPECT_TRUE(server_->wait_for_close(3s).has_value());
  auto handshake = expect_connection(3s);
  EXPECT_EQ(handshake.headers["authorization"], std::string("Bearer ") + kNewToken);
  // The same token again changes nothing.
  const int connections = server_->connection_count();
  set_token(kNewToken);
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(server_->connection_count(), connections);
  EXPECT_EQ(daemon.count_in_output(kNewToken), 0u) << "the token was logged";
  EXPECT_EQ(fake.count_in_output("FetchJwtToken"), 0u);
}

TEST_F(MenderAuthTest, RefusedTokenMakesMenderFetchANewOne) {
  DaemonProcess& fake = start_fake(kMenderToken);
  server_->reject_upgrades_with(401);
  start_mender_daemon();
  auto refused = server_->wait_for_handshake(5s);
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->http_status, 401);
  EXPECT_TRUE(fake.wait_for_output("FetchJwtToken", 5s)) << fake.output();
  // The fresh token arrives by signal and is used at once, not after auth-backoff.
  server_->reject_upgrades_with(0);
  set_token(kNewToken);
  auto handshake = expect_connection(3s);
  EXPECT_EQ(handshake.headers["authorization"], std::string("Bearer ") + kNewToken);
}

TEST_F(MenderAuthTest, EmptyTokenDisconnectsUntilAValidOneArrives) {
  DaemonProcess& fake = start_fake(kMenderToken);
  start_mender_daemon();
  expect_connection();
  ASSERT_TRUE(wait_for_property("State", "s \"online\"", 3s));
  set_token("");
  EXPECT_TRUE(server_->wait_for_close(3s).has_value());
  EXPECT_TRUE(wait_for_property("State", "s \"offline\"", 3s)) << property("State");
  // No dial without a token (not even after server.auth-backoff, 1 s here); Mender
  // is asked to authenticate.
  const int connections = server_->connection_count();
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(server_->connection_count(), connections);
  EXPECT_TRUE(fake.wait_for_output("FetchJwtToken", 3s)) << fake.output();
  set_token(kThirdToken);
  auto handshake = expect_connection(3s);
  EXPECT_EQ(handshake.headers["authorization"], std::string("Bearer ") + kThirdToken);
}

TEST_F(MenderAuthTest, StartsWithoutTokenAndConnectsWhenOneArrives) {
  DaemonProcess& fake = start_fake("");
  DaemonProcess& daemon = start_mender_daemon();
  EXPECT_TRUE(fake.wait_for_output("FetchJwtToken", 5s)) << fake.output();
  EXPECT_TRUE(daemon.wait_for_output("has no token", 3s)) << daemon.output();
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(server_->connection_count(), 0);
  set_token(kMenderToken);
  auto handshake = expect_connection(3s);
  EXPECT_EQ(handshake.headers["authorization"], std::string("Bearer ") + kMenderToken);
}

TEST_F(MenderAuthTest, MenderWithoutDbusIsAConfigurationError) {
  auto args = fast_args(server_->url());
  args.push_back("--server.auth=mender");
  auto run = run_to_completion(TETHERD_PATH, args, 5s);
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(run->exit_status, 2) << run->output;
  EXPECT_NE(run->output.find("server.auth: mender"), std::string::npos) << run->output;
}

}  // namespace
}  // namespace tether::test
