// The update plugin on the real EventLoop and the real durable store, fetching from a
// local HTTPS server (certificates and signing keys made at test time), with a
// recording Outbound as the backend and a private dbus-daemon for local consent.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <openssl/sha.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "daemon/dbus/bus_service.hpp"
#include "daemon/store/durable_store.hpp"
#include "plugins/update/update_plugin.hpp"
#include "protocol/message.hpp"
#include "tests/integration/update/recording_outbound.hpp"
#include "tests/support/artifact_server.hpp"
#include "tests/support/certificates.hpp"
#include "tests/support/private_bus.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/unit/shell/loop_thread.hpp"
#include "tests/unit/update/key_tools.hpp"

namespace tether::plugins::update {
namespace {

using namespace std::chrono_literals;
using protocol::UpdateOffer;
using shell::test::LoopThread;
using test::RecordingOutbound;

std::string make_artifact(std::size_t size, std::uint32_t seed = 7) {
  std::string data(size, '\0');
  for (auto& c : data) {
    seed = seed * 1103515245U + 12345U;
    c = static_cast<char>(seed >> 24U);
  }
  return data;
}

std::string hex_sha256(const std::string& data) {
  Sha256Digest d{};
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), d.data());
  return to_hex(d);
}

protocol::Bytes as_bytes(const std::string& s) {
  return {s.begin(), s.end()};
}

class UpdatePluginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto certs = tether::test::Certificates::make(dir_.path());
    ASSERT_TRUE(certs) << certs.error().message();
    certs_ = *certs;
    auto server = tether::test::ArtifactServer::start(certs_.server_cert, certs_.server_key);
    ASSERT_TRUE(server) << server.error().message();
    server_ = std::move(server.value());
    artifact_ = make_artifact(256 * 1024);
    server_->publish("/a.bin", artifact_);
    std::filesystem::create_directories(state_dir());
    write_installer("cp \"$1\" '" + installed().string() +
                    "'\n"
                    "env | grep '^TETHER_UPDATE_' | sort > '" +
                    (dir_.path() / "env").string() +
                    "'\necho \"installed $TETHER_UPDATE_VERSION\"\n");
    options_.installer = (dir_.path() / "installer").string();
    options_.download_backoff = 20ms;
    options_.download_backoff_max = 100ms;
    options_.install_timeout = 10s;
  }

  void TearDown() override { stop(); }

  std::filesystem::path state_dir() const { return dir_.path() / "state"; }
  std::filesystem::path installed() const { return dir_.path() / "installed"; }

  void write_installer(const std::string& body) {
    auto path = dir_.write("installer", "#!/bin/sh\n" + body);
    std::filesystem::permissions(path, std::filesystem::perms::owner_all);
  }

  // (Re)starts the plugin on the same state dir, as a daemon restart would.
  void start(std::optional<PublicKey> key = std::nullopt, daemon::dbus::BusService* bus = nullptr,
             std::string version = "1.0") {
    loop_.call([&] {
      if (!store_) {
        auto store = daemon::store::DurableStore::open(loop_.loop(), {.directory = state_dir()});
        ASSERT_TRUE(store) << store.error().message();
        store_ = std::move(store.value());
      }
      plugin_ = std::make_unique<UpdatePlugin>(
          daemon::PluginContext{.loop = loop_.loop(),
                                .outbound = outbound_,
                                .log = daemon::PluginLogger(logger_, "update"),
                                .link = link_,
                                .device = {.id = "dev",
                                           .state_dir = state_dir().string(),
                                           .version = std::move(version),
                                           .ca_file = certs_.ca_cert.string(),
                                           .proxy = ""},
                                .store = store_.get(),
                                .bus = bus},
          options_, std::move(key));
    });
    ASSERT_TRUE(loop_.wait_until([&] { return plugin_->loaded(); }));
  }

  void stop() {
    loop_.call([&] { plugin_.reset(); });
  }

  UpdateOffer offer(const std::string& id, bool consent = false) const {
    return {id,
            "2.0",
            server_->url("/a.bin"),
            artifact_.size(),
            hex_sha256(artifact_),
            std::nullopt,
            consent ? std::optional<bool>(true) : std::nullopt};
  }

  Status deliver(const std::string& typ, const protocol::Bytes& body) {
    return loop_.call([&] {
      return plugin_->on_message(protocol::make_msg(protocol::proto::kUpdate, typ, "", {}, body));
    });
  }
  void send_offer(const UpdateOffer& o) { ASSERT_TRUE(deliver("offer", o.encode())); }

  bool wait_state(const std::string& id, const std::string& state,
                  std::chrono::milliseconds timeout = 15s) {
    return loop_.wait_until(
        [&] {
          const auto* last = outbound_.last(id);
          return last != nullptr && last->state == state;
        },
        timeout);
  }
  std::vector<std::string> states(const std::string& id) {
    return loop_.call([&] { return outbound_.states(id); });
  }
  protocol::UpdateProgress last(const std::string& id) {
    return loop_.call([&] {
      const auto* p = outbound_.last(id);
      return p != nullptr ? *p : protocol::UpdateProgress{};
    });
  }
  std::string view_state() {
    return loop_.call([&] { return plugin_->view().state; });
  }

  tether::test::TempDir dir_;
  tether::test::CertificateSet certs_;
  std::unique_ptr<tether::test::ArtifactServer> server_;
  std::string artifact_;
  UpdateOptions options_;
  daemon::log::Logger logger_{daemon::log::Level::kWarn};
  daemon::LinkObservers link_;
  RecordingOutbound outbound_;
  LoopThread loop_;
  std::unique_ptr<daemon::store::DurableStore> store_;
  std::unique_ptr<UpdatePlugin> plugin_;
};

TEST_F(UpdatePluginTest, GoodPathReportsEveryStepAndInstalls) {
  start();
  send_offer(offer("u1"));
  ASSERT_TRUE(wait_state("u1", "success"));
  EXPECT_EQ(states("u1"),
            (std::vector<std::string>{"downloading", "verifying", "installing", "success"}));
  EXPECT_EQ(test::slurp(installed()), artifact_);
  EXPECT_EQ(last("u1").message, "installed 2.0\n");
  const std::string env = test::slurp(dir_.path() / "env");
  EXPECT_NE(env.find("TETHER_UPDATE_ID=u1\n"), std::string::npos) << env;
  EXPECT_NE(env.find("TETHER_UPDATE_VERSION=2.0\n"), std::string::npos);
  EXPECT_NE(env.find("TETHER_UPDATE_SIZE=" + std::to_string(artifact_.size()) + "\n"),
            std::string::npos);
  EXPECT_NE(env.find("TETHER_UPDATE_SHA256=" + hex_sha256(artifact_)), std::string::npos);
  EXPECT_NE(env.find("TETHER_UPDATE_URL=" + server_->url("/a.bin")), std::string::npos);
  // Progress every few percent, never per chunk, and never backwards.
  std::vector<std::uint64_t> percents;
  loop_.call([&] {
    for (const auto& p : outbound_.progress()) {
      if (p.state == "downloading" && p.percent) percents.push_back(*p.percent);
    }
  });
  EXPECT_TRUE(std::is_sorted(percents.begin(), percents.end()));
  EXPECT_LE(percents.size(), 21U);
  // The artifact is removed once installed.
  EXPECT_FALSE(std::filesystem::exists(state_dir() / "update" / "artifact"));
}

TEST_F(UpdatePluginTest, FinalStateIsResentAfterEveryConnectUntilAcked) {
  start();
  send_offer(offer("u1"));
  ASSERT_TRUE(wait_state("u1", "success"));
  for (int round = 0; round < 2; ++round) {
    loop_.call([&] {
      outbound_.clear();
      outbound_.set_connected(false);
      plugin_->on_disconnected();
      outbound_.set_connected(true);
      plugin_->on_connected();
    });
    EXPECT_EQ(last("u1").state, "success");
  }
  // A restart does not forget it either.
  stop();
  outbound_.clear();
  start();
  loop_.call([&] { plugin_->on_connected(); });
  EXPECT_EQ(last("u1").state, "success");
  ASSERT_TRUE(deliver("ack", protocol::UpdateAck{"u1"}.encode()));
  ASSERT_TRUE(loop_.wait_until([&] { return plugin_->view().state == "idle"; }));
  stop();
  outbound_.clear();
  start();
  loop_.call([&] { plugin_->on_connected(); });
  EXPECT_TRUE(loop_.call([&] { return outbound_.progress().empty(); }));
  EXPECT_EQ(view_state(), "idle");
}

TEST_F(UpdatePluginTest, ShaMismatchFailsAndInstallsNothing) {
  start();
  auto o = offer("u1");
  o.sha256 = std::string(64, '0');
  send_offer(o);
  ASSERT_TRUE(wait_state("u1", "failure"));
  EXPECT_NE(last("u1").message->find("sha256 mismatch"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(installed()));
}

TEST_F(UpdatePluginTest, SizeMismatchFailsAndInstallsNothing) {
  start();
  auto bigger = offer("u1");
  bigger.size += 10;
  send_offer(bigger);
  ASSERT_TRUE(wait_state("u1", "failure"));
  EXPECT_NE(last("u1").message->find("size mismatch"), std::string::npos);
  ASSERT_TRUE(deliver("ack", protocol::UpdateAck{"u1"}.encode()));
  auto smaller = offer("u2");
  smaller.size -= 10;
  send_offer(smaller);
  ASSERT_TRUE(wait_state("u2", "failure"));
  EXPECT_NE(last("u2").message->find("size mismatch"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(installed()));
}

class SignedUpdateTest : public UpdatePluginTest,
                         public ::testing::WithParamInterface<std::string> {};

TEST_P(SignedUpdateTest, GoodSignatureInstallsMissingOrBadOneFails) {
  const std::string algorithm = GetParam();
  auto pair = test::make_key(dir_.path(), algorithm);
  auto key = PublicKey::load(pair.public_key);
  ASSERT_TRUE(key) << key.error().message();
  const auto file = dir_.write("artifact-copy", artifact_);
  const std::string signature = test::sign_file(pair, file, algorithm);
  start(*key);

  send_offer(offer("missing"));
  ASSERT_TRUE(wait_state("missing", "failure"));
  EXPECT_NE(last("missing").message->find("no signature"), std::string::npos);

  auto bad = offer("bad");
  std::string flipped = signature;
  flipped[5] = static_cast<char>(flipped[5] ^ 0x10);
  bad.signature = as_bytes(flipped);
  send_offer(bad);
  ASSERT_TRUE(wait_state("bad", "failure"));
  EXPECT_NE(last("bad").message->find("signature"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(installed()));

  auto good = offer("good");
  good.signature = as_bytes(signature);
  send_offer(good);
  ASSERT_TRUE(wait_state("good", "success"));
  EXPECT_EQ(test::slurp(installed()), artifact_);
}

INSTANTIATE_TEST_SUITE_P(KeyTypes, SignedUpdateTest, ::testing::Values("ed25519", "p256", "rsa"));

TEST_F(UpdatePluginTest, NoKeyNeedsNoSignature) {
  start();
  auto o = offer("u1");
  o.signature = as_bytes("not checked without a key");
  send_offer(o);
  ASSERT_TRUE(wait_state("u1", "success"));
}

TEST_F(UpdatePluginTest, ConsentFromTheBackendYesAndNo) {
  start();
  send_offer(offer("yes", true));
  ASSERT_TRUE(wait_state("yes", "awaiting-consent"));
  EXPECT_FALSE(std::filesystem::exists(installed()));
  EXPECT_EQ(view_state(), "awaiting-consent");
  ASSERT_TRUE(deliver("consent", protocol::UpdateConsent{"yes", true}.encode()));
  ASSERT_TRUE(wait_state("yes", "success"));
  EXPECT_EQ(test::slurp(installed()), artifact_);
  std::filesystem::remove(installed());

  send_offer(offer("no", true));
  ASSERT_TRUE(wait_state("no", "awaiting-consent"));
  // Consent for another id, or twice, is refused.
  EXPECT_FALSE(deliver("consent", protocol::UpdateConsent{"other", true}.encode()));
  ASSERT_TRUE(deliver("consent", protocol::UpdateConsent{"no", false}.encode()));
  ASSERT_TRUE(wait_state("no", "rejected"));
  EXPECT_FALSE(deliver("consent", protocol::UpdateConsent{"no", true}.encode()));
  EXPECT_FALSE(std::filesystem::exists(installed()));
}

TEST_F(UpdatePluginTest, AwaitingConsentSurvivesARestart) {
  start();
  send_offer(offer("u1", true));
  ASSERT_TRUE(wait_state("u1", "awaiting-consent"));
  stop();
  start();
  EXPECT_EQ(view_state(), "awaiting-consent");
  ASSERT_TRUE(deliver("consent", protocol::UpdateConsent{"u1", true}.encode()));
  ASSERT_TRUE(wait_state("u1", "success"));
}

TEST_F(UpdatePluginTest, SecondOfferWhileBusyIsRejectedWithAReason) {
  server_->throttle(8192, 10ms);
  start();
  send_offer(offer("first"));
  ASSERT_TRUE(wait_state("first", "downloading"));
  send_offer(offer("second"));
  ASSERT_TRUE(wait_state("second", "rejected"));
  EXPECT_NE(last("second").message->find("first"), std::string::npos);
  // The same offer again only repeats where it is.
  send_offer(offer("first"));
  server_->throttle(65536, 0ms);
  ASSERT_TRUE(wait_state("first", "success"));
}

TEST_F(UpdatePluginTest, CancelWhileDownloading) {
  server_->throttle(4096, 20ms);
  start();
  send_offer(offer("u1"));
  ASSERT_TRUE(wait_state("u1", "downloading"));
  ASSERT_TRUE(deliver("cancel", protocol::UpdateCancel{"u1"}.encode()));
  ASSERT_TRUE(wait_state("u1", "cancelled"));
  EXPECT_FALSE(deliver("cancel", protocol::UpdateCancel{"nope"}.encode()));
  std::this_thread::sleep_for(200ms);  // a late download result must change nothing
  EXPECT_EQ(last("u1").state, "cancelled");
  EXPECT_EQ(view_state(), "cancelled");
  EXPECT_FALSE(std::filesystem::exists(installed()));
}

TEST_F(UpdatePluginTest, CancelWhileVerifying) {
  // The cancel is posted to the loop the moment `verifying` is reported: it runs
  // before the verification's result, which is posted later by its worker.
  outbound_.on_progress = [this](const protocol::UpdateProgress& p) {
    if (p.id != "u1" || p.state != "verifying") return;
    loop_.loop().post([this] {
      EXPECT_TRUE(plugin_->on_message(protocol::make_msg(protocol::proto::kUpdate, "cancel", "", {},
                                                         protocol::UpdateCancel{"u1"}.encode())));
    });
  };
  start();
  send_offer(offer("u1"));
  ASSERT_TRUE(wait_state("u1", "cancelled"));
  std::this_thread::sleep_for(200ms);  // a late verification result must change nothing
  EXPECT_EQ(states("u1"), (std::vector<std::string>{"downloading", "verifying", "cancelled"}));
  EXPECT_EQ(view_state(), "cancelled");
  EXPECT_FALSE(std::filesystem::exists(installed()));
  loop_.call([&] { outbound_.on_progress = nullptr; });
}

TEST_F(UpdatePluginTest, CancelWhileAwaitingConsent) {
  start();
  send_offer(offer("u1", true));
  ASSERT_TRUE(wait_state("u1", "awaiting-consent"));
  ASSERT_TRUE(deliver("cancel", protocol::UpdateCancel{"u1"}.encode()));
  ASSERT_TRUE(wait_state("u1", "cancelled"));
  EXPECT_FALSE(deliver("consent", protocol::UpdateConsent{"u1", true}.encode()));
  EXPECT_FALSE(std::filesystem::exists(installed()));
}

TEST_F(UpdatePluginTest, CancelWhileInstallingIsTooLate) {
  write_installer("sleep 0.5; echo done\n");
  start();
  send_offer(offer("u1"));
  ASSERT_TRUE(wait_state("u1", "installing"));
  ASSERT_TRUE(deliver("cancel", protocol::UpdateCancel{"u1"}.encode()));
  ASSERT_TRUE(wait_state("u1", "success"));
  bool told = loop_.call([&] {
    for (const auto& p : outbound_.progress()) {
      if (p.state == "installing" && p.message && p.message->find("too late") != std::string::npos)
        return true;
    }
    return false;
  });
  EXPECT_TRUE(told);
}

TEST_F(UpdatePluginTest, CancelAfterTheEndChangesNothing) {
  start();
  send_offer(offer("u1"));
  ASSERT_TRUE(wait_state("u1", "success"));
  ASSERT_TRUE(deliver("cancel", protocol::UpdateCancel{"u1"}.encode()));
  EXPECT_EQ(last("u1").state, "success");
  EXPECT_EQ(view_state(), "success");
}

TEST_F(UpdatePluginTest, ServerCutHalfWayResumesAndTheFileIsIdentical) {
  server_->cut_next_after(artifact_.size() / 2);
  start();
  send_offer(offer("u1"));
  ASSERT_TRUE(wait_state("u1", "success"));
  EXPECT_EQ(test::slurp(installed()), artifact_);
  const auto ranges = server_->range_starts();
  ASSERT_EQ(ranges.size(), 2U);
  EXPECT_EQ(ranges[1], artifact_.size() / 2);
}

TEST_F(UpdatePluginTest, RestartMidDownloadResumesWhereItWas) {
  server_->throttle(4096, 10ms);
  start();
  send_offer(offer("u1"));
  ASSERT_TRUE(loop_.wait_until([&] {
    const auto* p = outbound_.last("u1");
    return p != nullptr && p->percent.value_or(0) >= 20;
  }));
  stop();  // the daemon goes away mid-download
  server_->throttle(65536, 0ms);
  start();
  ASSERT_TRUE(wait_state("u1", "success"));
  EXPECT_EQ(test::slurp(installed()), artifact_);
  const auto ranges = server_->range_starts();
  ASSERT_GE(ranges.size(), 2U);
  EXPECT_GT(ranges.back(), 0U);
}

TEST_F(UpdatePluginTest, FailingInstallerEndsInFailureWithItsOutput) {
  write_installer("echo 'dpkg: dependency problems'; exit 4\n");
  start();
  send_offer(offer("u1"));
  ASSERT_TRUE(wait_state("u1", "failure"));
  const auto message = *last("u1").message;
  EXPECT_NE(message.find("exited with status 4"), std::string::npos) << message;
  EXPECT_NE(message.find("dpkg: dependency problems"), std::string::npos) << message;
}

TEST_F(UpdatePluginTest, HangingInstallerIsKilledAtTheTimeout) {
  write_installer("echo started; sleep 30\n");
  options_.install_timeout = 500ms;
  start();
  send_offer(offer("u1"));
  ASSERT_TRUE(wait_state("u1", "failure"));
  EXPECT_NE(last("u1").message->find("timed out"), std::string::npos) << *last("u1").message;
}

TEST_F(UpdatePluginTest, NoInstallerOrPlainHttpIsRejected) {
  start();
  auto o = offer("http");
  o.url = "http://localhost/a.bin";
  send_offer(o);
  ASSERT_TRUE(wait_state("http", "rejected"));
  stop();
  options_.installer.clear();
  start();
  send_offer(offer("u1"));
  ASSERT_TRUE(wait_state("u1", "rejected"));
  EXPECT_NE(last("u1").message->find("installer"), std::string::npos);
}

TEST_F(UpdatePluginTest, GarbageMessagesAreErrors) {
  start();
  EXPECT_FALSE(deliver("offer", {0xc1}));
  EXPECT_FALSE(deliver("offer", protocol::Bytes{0x80}));
  EXPECT_FALSE(deliver("bogus", protocol::Bytes{0x80}));
  EXPECT_FALSE(deliver("consent", protocol::UpdateAck{"x"}.encode()));
  auto encoded = offer("u1").encode();
  EXPECT_FALSE(deliver("offer", protocol::Bytes(encoded.begin(), encoded.begin() + 20)));
  EXPECT_EQ(view_state(), "idle");
}

TEST_F(UpdatePluginTest, InstallInterruptedByARestartIsSettledByTheStatusFile) {
  // The installer writes its status only after the daemon that ran it is gone.
  write_installer("sleep 0.5; exit 0\n");
  start();
  send_offer(offer("u1"));
  ASSERT_TRUE(wait_state("u1", "installing"));
  stop();  // the installer runs on
  start();
  ASSERT_TRUE(wait_state("u1", "success"));
  EXPECT_NE(last("u1").message->find("restarted"), std::string::npos);
}

TEST_F(UpdatePluginTest, InstallerThatReplacedTheDaemonEndsInSuccessFromTheNewOne) {
  // The installer "replaces tetherd": it never exits while the old daemon watches.
  write_installer("sleep 30\n");
  start();
  send_offer(offer("u1"));
  ASSERT_TRUE(wait_state("u1", "installing"));
  stop();
  outbound_.clear();
  start(std::nullopt, nullptr, "2.0");  // the new daemon runs the offered version
  ASSERT_TRUE(wait_state("u1", "success"));
  EXPECT_NE(last("u1").message->find("version 2.0"), std::string::npos);
}

TEST_F(UpdatePluginTest, NotEnoughDiskSpaceFailsBeforeDownloading) {
  if (::geteuid() != 0) GTEST_FAIL() << "this test mounts a tmpfs and must run as root";
  const auto small = dir_.path() / "small";
  std::filesystem::create_directories(small);
  ASSERT_EQ(::mount("tmpfs", small.c_str(), "tmpfs", 0, "size=128k"), 0) << std::strerror(errno);
  options_.download_dir = small.string();
  start();
  send_offer(offer("u1"));
  ASSERT_TRUE(wait_state("u1", "failure"));
  EXPECT_NE(last("u1").message->find("not enough disk space"), std::string::npos);
  EXPECT_EQ(server_->requests(), 0U);
  stop();
  ::umount2(small.c_str(), MNT_DETACH);
}

// packaging/installers/dpkg-install for real: a .deb made at test time, installed by
// the plugin into a throwaway dpkg root.
TEST_F(UpdatePluginTest, DpkgInstallerInstallsADebIntoAThrowawayRoot) {
  const auto pkg = dir_.path() / "pkg";
  const auto root = dir_.path() / "root";
  std::filesystem::create_directories(pkg / "DEBIAN");
  std::filesystem::create_directories(pkg / "opt" / "tether-demo");
  std::filesystem::create_directories(root / "var/lib/dpkg/info");
  std::filesystem::create_directories(root / "var/lib/dpkg/updates");
  std::ofstream(root / "var/lib/dpkg/status").close();
  std::ofstream(pkg / "DEBIAN" / "control")
      << "Package: tether-demo\nVersion: 2.0\nArchitecture: all\n"
         "Maintainer: tether <t@example.com>\nDescription: demo\n";
  std::ofstream(pkg / "opt" / "tether-demo" / "hello") << "hello\n";
  const auto deb = dir_.path() / "demo.deb";
  ASSERT_TRUE(test::shell("dpkg-deb --build --root-owner-group '" + pkg.string() + "' '" +
                          deb.string() + "'"));
  artifact_ = test::slurp(deb);
  server_->publish("/a.bin", artifact_);
  ::setenv("TETHER_DPKG_ROOT", root.c_str(), 1);
  options_.installer = std::string(TETHER_SOURCE_DIR) + "/packaging/installers/dpkg-install";
  start();
  send_offer(offer("deb"));
  const bool done = wait_state("deb", "success", 30s);
  ::unsetenv("TETHER_DPKG_ROOT");
  ASSERT_TRUE(done) << last("deb").message.value_or("");
  EXPECT_EQ(test::slurp(root / "opt/tether-demo/hello"), "hello\n");
  EXPECT_NE(last("deb").message->find("installed tether-demo 2.0"), std::string::npos);

  // Anything but a package fails before dpkg runs.
  artifact_ = "not a package";
  server_->publish("/a.bin", artifact_);
  ASSERT_TRUE(deliver("ack", protocol::UpdateAck{"deb"}.encode()));
  send_offer(offer("junk"));
  ASSERT_TRUE(wait_state("junk", "failure", 30s));
  EXPECT_NE(last("junk").message->find("not a .deb"), std::string::npos);
}

// Local consent over D-Bus: ConsentRequested, State and Current, and Respond from busctl.
class UpdateBusTest : public UpdatePluginTest {
 protected:
  void SetUp() override {
    UpdatePluginTest::SetUp();
    auto bus = tether::test::PrivateBus::start();
    ASSERT_TRUE(bus) << bus.error().message();
    private_bus_ = std::move(bus.value());
    private_bus_->export_address();
    loop_.call([&] {
      auto service =
          daemon::dbus::BusService::open(loop_.loop(), daemon::BusKind::kSession, logger_);
      ASSERT_TRUE(service) << service.error().message();
      bus_service_ = std::move(service.value());
      bus_service_->own_name([](const Status&) {});
    });
    ASSERT_TRUE(loop_.wait_until([&] { return bus_service_->name_owned(); }));
    start(std::nullopt, bus_service_.get());
  }
  void TearDown() override {
    stop();
    loop_.call([&] { bus_service_.reset(); });
  }
  tether::test::CompletedProcess busctl(std::vector<std::string> args) {
    args.insert(args.begin(), "--user");
    auto run = private_bus_->run("/usr/bin/busctl", args);
    EXPECT_TRUE(run) << run.error().message();
    return run ? *run : tether::test::CompletedProcess{};
  }
  std::unique_ptr<tether::test::PrivateBus> private_bus_;
  std::unique_ptr<daemon::dbus::BusService> bus_service_;
};

TEST_F(UpdateBusTest, ConsentYesFromBusctl) {
  send_offer(offer("u1", true));
  ASSERT_TRUE(wait_state("u1", "awaiting-consent"));
  auto state = busctl(
      {"get-property", "io.tether.Gateway1", "/io/tether/Gateway1", "io.tether.Update1", "State"});
  EXPECT_EQ(state.output, "s \"awaiting-consent\"\n");
  auto current = busctl({"get-property", "io.tether.Gateway1", "/io/tether/Gateway1",
                         "io.tether.Update1", "Current"});
  EXPECT_NE(current.output.find("\"u1\""), std::string::npos) << current.output;
  auto wrong = busctl({"call", "io.tether.Gateway1", "/io/tether/Gateway1", "io.tether.Update1",
                       "Respond", "sb", "other", "true"});
  EXPECT_NE(wrong.exit_status, 0);
  EXPECT_NE(wrong.output.find("not awaiting consent"), std::string::npos) << wrong.output;
  auto yes = busctl({"call", "io.tether.Gateway1", "/io/tether/Gateway1", "io.tether.Update1",
                     "Respond", "sb", "u1", "true"});
  EXPECT_EQ(yes.exit_status, 0) << yes.output;
  ASSERT_TRUE(wait_state("u1", "success"));
  EXPECT_EQ(test::slurp(installed()), artifact_);
  state = busctl(
      {"get-property", "io.tether.Gateway1", "/io/tether/Gateway1", "io.tether.Update1", "State"});
  EXPECT_EQ(state.output, "s \"success\"\n");
}

TEST_F(UpdateBusTest, ConsentNoFromBusctl) {
  send_offer(offer("u1", true));
  ASSERT_TRUE(wait_state("u1", "awaiting-consent"));
  auto no = busctl({"call", "io.tether.Gateway1", "/io/tether/Gateway1", "io.tether.Update1",
                    "Respond", "sb", "u1", "false"});
  EXPECT_EQ(no.exit_status, 0) << no.output;
  ASSERT_TRUE(wait_state("u1", "rejected"));
  EXPECT_FALSE(std::filesystem::exists(installed()));
  auto bad = busctl({"call", "io.tether.Gateway1", "/io/tether/Gateway1", "io.tether.Update1",
                     "Respond", "s", "u1"});
  EXPECT_NE(bad.exit_status, 0);
}

TEST_F(UpdateBusTest, TetherctlUpdateRespond) {
  send_offer(offer("u1", true));
  ASSERT_TRUE(wait_state("u1", "awaiting-consent"));
  auto usage = private_bus_->run(TETHERCTL_PATH, {"--bus", "session", "update", "respond", "u1"});
  ASSERT_TRUE(usage);
  EXPECT_EQ(usage->exit_status, 2);
  auto unknown =
      private_bus_->run(TETHERCTL_PATH, {"--bus", "session", "update", "respond", "other", "yes"});
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->exit_status, 1);
  EXPECT_NE(unknown->output.find("not awaiting consent"), std::string::npos) << unknown->output;
  auto yes =
      private_bus_->run(TETHERCTL_PATH, {"--bus", "session", "update", "respond", "u1", "yes"});
  ASSERT_TRUE(yes);
  EXPECT_EQ(yes->exit_status, 0) << yes->output;
  ASSERT_TRUE(wait_state("u1", "success"));
}

}  // namespace
}  // namespace tether::plugins::update
