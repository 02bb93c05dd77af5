// The update plugin inside a real tetherd (a separate process) against the TLS test
// server as the backend and a local HTTPS artifact server: kill -9 mid-download and
// a restart resume the transfer with a Range request and install a byte-identical
// file; the ConsentRequested signal is seen on a private bus by gdbus monitor, and
// tetherctl's answer lets the install go on.
#include <openssl/sha.h>
#include <signal.h>

#include <filesystem>
#include <fstream>

#include "protocol/message.hpp"
#include "protocol/update.hpp"
#include "tests/integration/dbus/bus_fixture.hpp"
#include "tests/support/artifact_server.hpp"

namespace tether::test {
namespace {

namespace wire = protocol::update;

std::string make_artifact(std::size_t size) {
  std::string data(size, '\0');
  std::uint32_t seed = 99;
  for (auto& c : data) {
    seed = seed * 1103515245U + 12345U;
    c = static_cast<char>(seed >> 24U);
  }
  return data;
}

std::string slurp(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return {};
  std::string data(static_cast<std::size_t>(in.tellg()), '\0');
  in.seekg(0);
  in.read(data.data(), static_cast<std::streamsize>(data.size()));
  return data;
}

class UpdateDaemonTest : public BusTest {
 protected:
  void SetUp() override {
    BusTest::SetUp();
    auto artifacts = ArtifactServer::start(certs_.server_cert, certs_.server_key);
    ASSERT_TRUE(artifacts.ok()) << artifacts.error().message();
    artifacts_ = std::move(artifacts).value();
    artifact_ = make_artifact(512 * 1024);
    artifacts_->publish("/gw.bin", artifact_);
    auto installer = dir_.write("installer", "#!/bin/sh\ncp \"$1\" '" + installed().string() +
                                                 "'\necho \"installed $TETHER_UPDATE_VERSION\"\n");
    std::filesystem::permissions(installer, std::filesystem::perms::owner_all);
  }

  std::filesystem::path installed() const { return dir_.path() / "installed"; }

  std::vector<std::string> update_args() const {
    return {"--device.state-dir=" + (dir_.path() / "state").string(),
            "--update.installer=" + (dir_.path() / "installer").string(),
            "--update.download-backoff=0.05", "--update.download-backoff-max=0.2",
            "--update.progress-step=5"};
  }

  void send_offer(const std::string& id, bool consent) {
    protocol::UpdateOffer offer{id,
                                "2.0",
                                artifacts_->url("/gw.bin"),
                                artifact_.size(),
                                sha256_hex(),
                                std::nullopt,
                                consent ? std::optional<bool>(true) : std::nullopt};
    ASSERT_TRUE(server_->send(
        protocol::make_msg(protocol::proto::kUpdate, wire::kOffer, {}, {}, offer.encode())));
  }

  std::string sha256_hex() const {
    unsigned char d[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(artifact_.data()), artifact_.size(), d);
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    for (unsigned char b : d) {
      out.push_back(kDigits[b >> 4U]);
      out.push_back(kDigits[b & 0xFU]);
    }
    return out;
  }

  // The next update progress from the daemon that satisfies `want`.
  std::optional<protocol::UpdateProgress> next_progress(
      const std::function<bool(const protocol::UpdateProgress&)>& want,
      std::chrono::milliseconds timeout = 15s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto msg = server_->receive_message(std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now()));
      if (!msg) return std::nullopt;
      if (msg->hdr.proto != protocol::proto::kUpdate || msg->hdr.typ != wire::kProgress) continue;
      auto p = protocol::UpdateProgress::decode(msg->body);
      EXPECT_TRUE(p.ok());
      if (p.ok() && want(*p)) return *p;
    }
    return std::nullopt;
  }
  std::optional<protocol::UpdateProgress> next_state(const std::string& state) {
    return next_progress([&](const protocol::UpdateProgress& p) { return p.state == state; });
  }

  std::unique_ptr<ArtifactServer> artifacts_;
  std::string artifact_;
};

TEST_F(UpdateDaemonTest, KillNineMidDownloadThenRestartResumesAndInstallsTheSameBytes) {
  artifacts_->throttle(8192, 20ms);  // about 1.3 s for the whole file
  start_daemon(update_args());
  expect_connection();
  send_offer("k1", false);
  auto midway = next_progress([](const protocol::UpdateProgress& p) {
    return p.state == wire::kDownloading && p.percent.value_or(0) >= 20;
  });
  ASSERT_TRUE(midway) << daemon_->output();
  ASSERT_LT(midway->percent.value_or(100), 100U);
  daemon_->send_signal(SIGKILL);
  ASSERT_EQ(daemon_->wait_for_exit(5s), 128 + SIGKILL);
  EXPECT_FALSE(std::filesystem::exists(installed()));

  artifacts_->throttle(65536, 0ms);
  server_->clear_received();
  start_daemon(update_args());
  expect_connection();
  auto done = next_state(wire::kSuccess);
  ASSERT_TRUE(done) << daemon_->output();
  EXPECT_EQ(done->id, "k1");
  EXPECT_EQ(slurp(installed()), artifact_);
  const auto ranges = artifacts_->range_starts();
  ASSERT_GE(ranges.size(), 2U);
  EXPECT_EQ(ranges.front(), 0U);
  EXPECT_GT(ranges.back(), 0U) << "the restarted daemon resumed with a Range request";
  ASSERT_TRUE(server_->send(protocol::make_msg(protocol::proto::kUpdate, wire::kAck, {}, {},
                                               protocol::UpdateAck{"k1"}.encode())));
}

TEST_F(UpdateDaemonTest, ConsentRequestedIsSignalledOnTheBusAndTetherctlAnswersIt) {
  auto monitor = DaemonProcess::start("/usr/bin/gdbus",
                                      {"monitor", "--session", "--dest", "io.tether.Gateway1"});
  ASSERT_TRUE(monitor.ok()) << monitor.error().message();
  start_on_bus(update_args());
  expect_connection();
  // gdbus subscribes before it watches the name, so once it has seen the owner no
  // signal can be missed (a loaded machine may start it after tetherd).
  ASSERT_TRUE((*monitor)->wait_for_output("is owned by", 10s)) << (*monitor)->output();
  send_offer("c1", true);
  ASSERT_TRUE(next_state(wire::kAwaitingConsent)) << daemon_->output();
  ASSERT_TRUE((*monitor)->wait_for_output("io.tether.Update1.ConsentRequested ('c1', '2.0', ", 5s))
      << (*monitor)->output();
  auto yes = tetherctl({"--bus", "session", "update", "respond", "c1", "yes"});
  EXPECT_EQ(yes.exit_status, 0) << yes.output;
  ASSERT_TRUE(next_state(wire::kSuccess)) << daemon_->output();
  EXPECT_EQ(slurp(installed()), artifact_);
}

}  // namespace
}  // namespace tether::test
