// Dialling, the handshake, TLS verification, authentication and reconnecting.
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "tests/integration/daemon/daemon_fixture.hpp"
#include "tests/support/fault_proxy.hpp"

namespace tether::test {
namespace {

using Clock = std::chrono::steady_clock;

TEST_F(DaemonTest, ConnectsWithBearerTokenDefaultPathAndHost) {
  auto& daemon = start_daemon();
  const auto handshake = expect_connection(3s);
  EXPECT_EQ(handshake.path, "/api/devices/v1/deviceconnect/connect");
  EXPECT_EQ(handshake.headers.at("authorization"), std::string("Bearer ") + kToken);
  ASSERT_TRUE(handshake.headers.count("host"));
  EXPECT_EQ(handshake.headers.at("host").rfind("localhost", 0), 0u);
  ASSERT_TRUE(daemon.wait_for_output("connected to", 2s));
  EXPECT_EQ(daemon.output().find(kToken), std::string::npos) << "the token was logged";
}

// Start-up to connected on loopback takes well under a second. The test machine
// may be shared and busy, so the best of three start-ups is what must be < 1 s.
TEST_F(DaemonTest, StartUpToConnectedTakesLessThanOneSecond) {
  auto best = std::chrono::steady_clock::duration::max();
  for (int i = 0; i < 3 && best >= 1s; ++i) {
    const auto started = Clock::now();
    start_daemon();
    expect_connection(3s);
    best = std::min(best, Clock::now() - started);
    daemon_.reset();
    server_->wait_for_close(2s);
  }
  EXPECT_LT(best, 1s) << "best start-up to connected: "
                      << std::chrono::duration_cast<std::chrono::milliseconds>(best).count()
                      << " ms";
}

TEST_F(DaemonTest, UsesThePathFromTheUrl) {
  start_daemon({}, server_->url("/custom/path?x=1"));
  EXPECT_EQ(expect_connection().path, "/custom/path?x=1");
}

TEST_F(DaemonTest, ReconnectsAfterTheServerClosesTheConnection) {
  start_daemon();
  expect_connection();
  ASSERT_TRUE(server_->close(1000));
  expect_connection(3s);
  EXPECT_EQ(server_->connection_count(), 2);
}

TEST_F(DaemonTest, ReconnectsAfterTheServerIsKilledAndRestarted) {
  auto& daemon = start_daemon();
  expect_connection();
  server_->stop();
  ASSERT_TRUE(daemon.wait_for_output("reconnecting", 3s));
  std::this_thread::sleep_for(500ms);  // a few failed dials while it is down
  ASSERT_TRUE(server_->start().ok());
  expect_connection(5s);
}

TEST_F(DaemonTest, WrongCaNeverConnectsLogsClearlyAndKeepsRetrying) {
  auto& daemon = start_daemon({"--server.ca-file=" + certs_.wrong_ca_cert.string()});
  EXPECT_FALSE(server_->wait_for_connection(2s).has_value());
  const std::string line = "TLS certificate verify failed for host localhost";
  ASSERT_TRUE(daemon.wait_for_output(line, 2s)) << daemon.output();
  EXPECT_GE(daemon.count_in_output(line), 2u) << "retries did not continue";
  EXPECT_TRUE(daemon.running());
}

TEST_F(DaemonTest, MutualTlsPresentsTheClientCertificate) {
  server_->stop();
  TestServer::Options options;
  options.cert_file = certs_.server_cert.string();
  options.key_file = certs_.server_key.string();
  options.client_ca_file = certs_.ca_cert.string();
  server_ = std::make_unique<TestServer>(options);
  ASSERT_TRUE(server_->start().ok());
  start_daemon({"--server.cert-file=" + certs_.client_cert.string(),
                "--server.key-file=" + certs_.client_key.string()});
  expect_connection();
}

TEST_F(DaemonTest, RefusedCredentialsWaitAtLeastTheAuthBackoff) {
  server_->reject_upgrades_with(401);
  auto& daemon = start_daemon({"--server.auth-backoff=1.5"});
  auto first = server_->wait_for_handshake(3s);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->http_status, 401);
  auto second = server_->wait_for_handshake(4s);
  ASSERT_TRUE(second.has_value());
  EXPECT_GE(second->at - first->at, 1450ms);
  EXPECT_TRUE(daemon.wait_for_output("refused the credentials (HTTP 401)", 1s));

  server_->reject_upgrades_with(403);
  auto third = server_->wait_for_handshake(4s);
  ASSERT_TRUE(third.has_value());
  auto fourth = server_->wait_for_handshake(4s);
  ASSERT_TRUE(fourth.has_value());
  EXPECT_GE(fourth->at - third->at, 1450ms);

  server_->reject_upgrades_with(0);
  expect_connection(4s);
  EXPECT_EQ(daemon.output().find(kToken), std::string::npos);
}

TEST_F(DaemonTest, MissingTokenIsRetriedUntilItAppears) {
  const auto later = (dir_.path() / "later-token").string();
  auto& daemon = start_daemon({"--server.token-file=" + later});
  ASSERT_TRUE(daemon.wait_for_output("no token", 2s));
  EXPECT_FALSE(server_->wait_for_handshake(500ms).has_value());
  dir_.write("later-token", "provisioned\n");
  const auto handshake = expect_connection(3s);
  EXPECT_EQ(handshake.headers.at("authorization"), "Bearer provisioned");
}

TEST_F(DaemonTest, ConnectsThroughAProxyAndSurvivesAReset) {
  auto proxy = FaultProxy::start(server_->port());
  ASSERT_TRUE(proxy.ok());
  start_daemon({}, "wss://localhost:" + std::to_string((*proxy)->port()));
  expect_connection();
  (*proxy)->reset_all();
  expect_connection(3s);
}

}  // namespace
}  // namespace tether::test

namespace tether::test {
namespace {

TEST_F(DaemonTest, CertificateForAnotherHostIsRefused) {
  server_->stop();
  TestServer::Options options;
  options.cert_file = certs_.other_host_cert.string();
  options.key_file = certs_.other_host_key.string();
  server_ = std::make_unique<TestServer>(options);
  ASSERT_TRUE(server_->start().ok());
  auto& daemon = start_daemon();
  EXPECT_FALSE(server_->wait_for_connection(1500ms).has_value());
  EXPECT_TRUE(
      daemon.wait_for_output("TLS certificate verify failed for host localhost: "
                             "hostname mismatch",
                             2s));
}

TEST_F(DaemonTest, ConnectsThroughAnHttpProxyWithConnect) {
  auto proxy = FaultProxy::start(server_->port(), FaultProxy::Mode::kHttpConnect);
  ASSERT_TRUE(proxy.ok());
  start_daemon({"--server.proxy=http://127.0.0.1:" + std::to_string((*proxy)->port())});
  expect_connection();
  EXPECT_EQ((*proxy)->last_connect_request().rfind(
                "CONNECT localhost:" + std::to_string(server_->port()) + " ", 0),
            0u)
      << (*proxy)->last_connect_request();
}

TEST_F(DaemonTest, HttpsProxyFromTheEnvironmentUnlessNoProxy) {
  auto proxy = FaultProxy::start(server_->port(), FaultProxy::Mode::kHttpConnect);
  ASSERT_TRUE(proxy.ok());
  const std::string env = "https_proxy=http://127.0.0.1:" + std::to_string((*proxy)->port());
  auto process = DaemonProcess::start(TETHERD_PATH, fast_args(server_->url()), {env});
  ASSERT_TRUE(process.ok());
  daemon_ = std::move(process).value();
  expect_connection();
  EXPECT_EQ((*proxy)->accepted(), 1);
  daemon_.reset();

  process =
      DaemonProcess::start(TETHERD_PATH, fast_args(server_->url()), {env, "no_proxy=localhost"});
  ASSERT_TRUE(process.ok());
  daemon_ = std::move(process).value();
  expect_connection();
  EXPECT_EQ((*proxy)->accepted(), 1);
}

}  // namespace
}  // namespace tether::test
