// The fixture every tetherd integration test starts from: certificates, a token
// file, a running TLS test server, and a way to start tetherd against it with
// fast keepalive and backoff settings.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/certificates.hpp"
#include "tests/support/daemon_process.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_server.hpp"

namespace tether::test {

using namespace std::chrono_literals;

inline constexpr const char* kToken = "s3cr3t-t0ken-never-logged";

class DaemonTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Options that make tetherd quick to test: 1 s pings, 1 s pong timeout, backoff
  // capped at 0.2 s, no shell, file transfer, port forward or Mender client, no
  // D-Bus, debug logs.
  std::vector<std::string> fast_args(const std::string& url) const;
  // Starts tetherd with fast_args(url) (the test server by default) plus `extra`.
  DaemonProcess& start_daemon(const std::vector<std::string>& extra = {},
                              const std::string& url = "");
  // Fails the test (with tetherd's output) unless the test server sees a connection.
  TestServer::Handshake expect_connection(std::chrono::milliseconds timeout = 5s);

  TempDir dir_;
  CertificateSet certs_;
  std::string token_file_;
  std::unique_ptr<TestServer> server_;
  std::unique_ptr<DaemonProcess> daemon_;
};

}  // namespace tether::test
