#include "tests/integration/daemon/daemon_fixture.hpp"

namespace tether::test {

void DaemonTest::SetUp() {
  auto certs = Certificates::make(dir_.path());
  ASSERT_TRUE(certs.ok()) << certs.error().message();
  certs_ = *certs;
  token_file_ = dir_.write("token", std::string(kToken) + "\n").string();
  TestServer::Options options;
  options.cert_file = certs_.server_cert.string();
  options.key_file = certs_.server_key.string();
  server_ = std::make_unique<TestServer>(options);
  auto started = server_->start();
  ASSERT_TRUE(started.ok()) << started.error().message();
}

void DaemonTest::TearDown() {
  if (daemon_ && HasFailure()) std::cerr << "---- tetherd output ----\n" << daemon_->output();
  daemon_.reset();
  server_.reset();
}

std::vector<std::string> DaemonTest::fast_args(const std::string& url) const {
  return {"--server.url=" + url,
          "--server.token-file=" + token_file_,
          "--server.ca-file=" + certs_.ca_cert.string(),
          "--server.ping-interval=1",
          "--server.pong-timeout=1",
          "--server.backoff-max=0.2",
          "--server.auth-backoff=1",
          "--shell.enabled=false",
          "--filetransfer.enabled=false",
          "--portforward.enabled=false",
          "--menderclient.enabled=false",
          "--dbus.bus=none",
          "--device.id=test-device",
          "--log.level=debug"};
}

DaemonProcess& DaemonTest::start_daemon(const std::vector<std::string>& extra,
                                        const std::string& url) {
  auto args = fast_args(url.empty() ? server_->url() : url);
  // Later options would be "multiple occurrences" errors: extra ones replace.
  for (const auto& e : extra) {
    const auto key = e.substr(0, e.find('='));
    std::erase_if(args, [&](const std::string& a) { return a.substr(0, a.find('=')) == key; });
    args.push_back(e);
  }
  auto process = DaemonProcess::start(TETHERD_PATH, args);
  EXPECT_TRUE(process.ok()) << process.error().message();
  daemon_ = std::move(process).value();
  return *daemon_;
}

TestServer::Handshake DaemonTest::expect_connection(std::chrono::milliseconds timeout) {
  auto handshake = server_->wait_for_connection(timeout);
  EXPECT_TRUE(handshake.has_value()) << "no connection within " << timeout.count() << " ms";
  return handshake.value_or(TestServer::Handshake{});
}

}  // namespace tether::test
