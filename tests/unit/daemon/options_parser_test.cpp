#include "daemon/options/options_parser.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "plugins/command/command_plugin.hpp"
#include "plugins/monitoring/monitoring_options.hpp"
#include "plugins/shell/shell_options.hpp"
#include "plugins/update/update_options.hpp"

namespace tether::daemon {
namespace {

// The plugin sections ([shell], [monitoring], [update], [command]) belong to their
// plugins: the parser declares and checks them as main's plugin table would hand them over.
const std::vector<OptionSection> kPluginSections{
    plugins::shell::option_section(), plugins::monitoring::option_section(),
    plugins::update::option_section(), plugins::command::option_section()};

// The shell plugin's options as its factory would read them.
plugins::shell::ShellOptions shell_of(const ParsedCommandLine& parsed) {
  std::vector<std::string> problems;
  OptionReader reader(parsed.values, "shell", problems);
  return plugins::shell::read_options(reader);
}

plugins::monitoring::MonitoringOptions monitoring_of(const ParsedCommandLine& parsed) {
  std::vector<std::string> problems;
  OptionReader reader(parsed.values, "monitoring", problems);
  return plugins::monitoring::read_options(reader);
}

class OptionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("tether-options-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    machine_id_ = write("machine-id", "0123456789abcdef\n");
    pem_ = write("ca.pem", "-----BEGIN CERTIFICATE-----\n");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& content) {
    const auto path = dir_ / name;
    std::ofstream(path) << content;
    return path.string();
  }

  ParsedCommandLine parse(std::vector<std::string> args) {
    args.insert(args.begin(), "tetherd");
    std::vector<const char*> argv;
    argv.reserve(args.size());
    for (const auto& a : args) argv.push_back(a.c_str());
    return parse_command_line(static_cast<int>(argv.size()), argv.data(), kPluginSections,
                              machine_id_);
  }

  // Parses a valid base plus `args`, expecting exactly one problem naming `option`.
  void expect_problem(const std::vector<std::string>& args, const std::string& option,
                      const std::string& words = "") {
    std::vector<std::string> all{"--server.url=wss://example.com"};
    all.insert(all.end(), args.begin(), args.end());
    const auto parsed = parse(all);
    ASSERT_EQ(parsed.problems.size(), 1u) << "for " << args.front();
    EXPECT_EQ(parsed.problems[0].rfind(option, 0), 0u) << parsed.problems[0];
    EXPECT_NE(parsed.problems[0].find(words), std::string::npos) << parsed.problems[0];
  }

  std::filesystem::path dir_;
  std::string machine_id_;
  std::string pem_;
};

TEST_F(OptionsTest, DefaultsMatchTheSpec) {
  const auto parsed = parse({"--server.url=wss://example.com"});
  ASSERT_TRUE(parsed.problems.empty()) << parsed.problems[0];
  const auto& o = parsed.options;
  const auto shell = shell_of(parsed);
  EXPECT_EQ(o.server.auth, AuthMode::kToken);
  EXPECT_EQ(o.server.ping_interval, std::chrono::seconds(30));
  EXPECT_EQ(o.server.pong_timeout, std::chrono::seconds(15));
  EXPECT_EQ(o.server.backoff_max, std::chrono::seconds(300));
  EXPECT_EQ(o.server.auth_backoff, std::chrono::seconds(60));
  EXPECT_EQ(o.server.max_message, 1048576u);
  EXPECT_EQ(o.device.id, "0123456789abcdef");
  EXPECT_EQ(o.device.state_dir, "/var/lib/tether");
  EXPECT_EQ(o.dbus_bus, BusKind::kSystem);
  EXPECT_TRUE(shell.enabled);
  EXPECT_EQ(shell.command, "/bin/sh");
  EXPECT_EQ(shell.max_sessions, 16u);
  EXPECT_EQ(shell.max_per_user, 4u);
  EXPECT_EQ(shell.idle_timeout, std::chrono::seconds(600));
  EXPECT_EQ(shell.ping_interval, std::chrono::seconds(60));
  EXPECT_EQ(shell.containment, plugins::shell::ContainmentMode::kAuto);
  const auto monitoring = monitoring_of(parsed);
  EXPECT_EQ(monitoring.max_bytes, 16777216u);
  EXPECT_EQ(monitoring.window, 256u);
  EXPECT_EQ(monitoring.max_record, 65536u);
  EXPECT_EQ(monitoring.max_pending_calls, 1024u);
  EXPECT_EQ(monitoring.inventory.directory, "/etc/tether/inventory.d");
  EXPECT_EQ(monitoring.inventory.script_timeout, std::chrono::seconds(10));
  EXPECT_EQ(o.log_level, log::Level::kInfo);
}

TEST_F(OptionsTest, EveryOptionIsAccepted) {
  const auto parsed = parse({"--server.url=ws://10.0.0.1:8080/x",
                             "--server.token-file=/nonexistent",
                             "--server.auth=none",
                             "--server.ca-file=" + pem_,
                             "--server.cert-file=" + pem_,
                             "--server.key-file=" + pem_,
                             "--server.proxy=http://proxy:3128",
                             "--server.ping-interval=0.5",
                             "--server.pong-timeout=2",
                             "--server.backoff-max=10",
                             "--server.auth-backoff=5",
                             "--server.max-message=2048",
                             "--server.stable-after=0",
                             "--device.id=dev1",
                             "--device.state-dir=/tmp/state",
                             "--dbus.bus=session",
                             "--shell.enabled=false",
                             "--shell.command=/bin/bash",
                             "--shell.user=root",
                             "--shell.max-sessions=3",
                             "--shell.max-per-user=1",
                             "--shell.idle-timeout=0",
                             "--shell.ping-interval=0",
                             "--shell.containment=process-tree",
                             "--monitoring.max-bytes=1000",
                             "--monitoring.window=2",
                             "--monitoring.max-record=100",
                             "--monitoring.max-pending-calls=7",
                             "--monitoring.inventory-dir=/tmp/inv",
                             "--monitoring.inventory-timeout=0.5",
                             "--update.installer=/bin/true",
                             "--command.timeout=2.5",
                             "--command.max-pending=3",
                             "--log.level=trace"});
  ASSERT_TRUE(parsed.problems.empty()) << parsed.problems[0];
  const auto& o = parsed.options;
  const auto shell = shell_of(parsed);
  EXPECT_EQ(o.server.ping_interval, std::chrono::milliseconds(500));
  EXPECT_EQ(o.server.auth, AuthMode::kNone);
  EXPECT_EQ(o.server.max_message, 2048u);
  EXPECT_EQ(o.device.id, "dev1");
  EXPECT_EQ(o.dbus_bus, BusKind::kSession);
  EXPECT_FALSE(shell.enabled);
  EXPECT_EQ(shell.user, "root");
  EXPECT_EQ(shell.idle_timeout, std::chrono::seconds(0));
  const auto monitoring = monitoring_of(parsed);
  EXPECT_EQ(monitoring.window, 2u);
  EXPECT_EQ(monitoring.max_bytes, 1000u);
  EXPECT_EQ(monitoring.max_record, 100u);
  EXPECT_EQ(monitoring.max_pending_calls, 7u);
  EXPECT_EQ(monitoring.inventory.directory, "/tmp/inv");
  EXPECT_EQ(monitoring.inventory.script_timeout, std::chrono::milliseconds(500));
  EXPECT_EQ(o.log_level, log::Level::kTrace);
}

TEST_F(OptionsTest, NumbersThatAreNotNumbers) {
  for (const char* option :
       {"server.ping-interval", "server.pong-timeout", "server.backoff-max", "server.auth-backoff",
        "server.max-message", "shell.max-sessions", "shell.max-per-user", "shell.idle-timeout",
        "shell.ping-interval", "monitoring.max-bytes", "monitoring.window", "monitoring.max-record",
        "monitoring.max-pending-calls", "monitoring.inventory-timeout", "command.timeout",
        "command.max-pending"}) {
    for (const char* garbage : {"abc", "12x", "1.2.3", "", "0x10"}) {
      SCOPED_TRACE(std::string(option) + "=" + garbage);
      if (std::string(garbage).empty()) continue;
      expect_problem({"--" + std::string(option) + "=" + garbage}, option);
    }
  }
}

TEST_F(OptionsTest, NegativeCountsAndDurations) {
  for (const char* option :
       {"server.ping-interval", "server.pong-timeout", "server.backoff-max", "server.auth-backoff",
        "server.max-message", "shell.max-sessions", "shell.max-per-user", "shell.idle-timeout",
        "shell.ping-interval", "monitoring.max-bytes", "monitoring.window", "monitoring.max-record",
        "monitoring.max-pending-calls", "monitoring.inventory-timeout", "command.timeout",
        "command.max-pending"}) {
    SCOPED_TRACE(option);
    expect_problem({"--" + std::string(option) + "=-5"}, option, "negative");
  }
}

TEST_F(OptionsTest, ZeroWhereZeroCannotWork) {
  expect_problem({"--server.ping-interval=0"}, "server.ping-interval");
  expect_problem({"--server.backoff-max=0"}, "server.backoff-max");
  expect_problem({"--server.max-message=0"}, "server.max-message");
  expect_problem({"--monitoring.window=0"}, "monitoring.window");
  expect_problem({"--monitoring.max-bytes=0"}, "monitoring.max-bytes");
  expect_problem({"--monitoring.max-pending-calls=0"}, "monitoring.max-pending-calls");
  expect_problem({"--monitoring.inventory-timeout=0"}, "monitoring.inventory-timeout");
  expect_problem({"--monitoring.max-record=10"}, "monitoring.max-record");
  expect_problem({"--monitoring.inventory-dir=relative/dir"}, "monitoring.inventory-dir");
}

TEST_F(OptionsTest, UnknownChoices) {
  expect_problem({"--server.auth=password"}, "server.auth", "unknown choice");
  expect_problem({"--dbus.bus=user"}, "dbus.bus", "unknown choice");
  expect_problem({"--log.level=verbose"}, "log.level", "unknown choice");
  expect_problem({"--shell.containment=namespace"}, "shell.containment", "unknown choice");
  expect_problem({"--shell.enabled=maybe"}, "shell.enabled");
}

TEST_F(OptionsTest, MenderAuthNeedsDbus) {
  expect_problem({"--server.auth=mender", "--dbus.bus=none"}, "server.auth", "dbus.bus");
  for (const char* bus : {"--dbus.bus=system", "--dbus.bus=session"}) {
    const auto parsed = parse({"--server.url=wss://example.com", "--server.auth=mender", bus});
    EXPECT_TRUE(parsed.problems.empty()) << parsed.problems[0];
    EXPECT_EQ(parsed.options.server.auth, AuthMode::kMender);
  }
}

TEST_F(OptionsTest, PathsUsersAndFiles) {
  expect_problem({"--shell.command=sh"}, "shell.command", "absolute");
  expect_problem({"--shell.user=no-such-user-tether"}, "shell.user", "unknown user");
  expect_problem({"--server.ca-file=/nonexistent/ca.pem"}, "server.ca-file");
  expect_problem({"--update.public-key=/nonexistent/key.pem"}, "update.public-key");
  // A file that exists but is not a public key (here: a certificate stub).
  expect_problem({"--update.public-key=" + pem_}, "update.public-key", "not a PEM public key");
  expect_problem({"--update.install-timeout=-1"}, "update.install-timeout");
  expect_problem({"--update.progress-step=0"}, "update.progress-step");
  expect_problem({"--server.cert-file=/nonexistent/c.pem", "--server.key-file=" + pem_},
                 "server.cert-file");
  expect_problem({"--server.cert-file=" + pem_}, "server.cert-file", "without");
  expect_problem({"--update.installer=relative/installer"}, "update.installer", "absolute");
  expect_problem({"--server.ca-file=" + dir_.string()}, "server.ca-file", "regular file");
}

TEST_F(OptionsTest, TheTokenFileMayBeMissing) {
  const auto parsed =
      parse({"--server.url=wss://example.com", "--server.token-file=/nonexistent/token"});
  EXPECT_TRUE(parsed.problems.empty());
}

TEST_F(OptionsTest, BadUrlsAndProxies) {
  auto parsed = parse({"--server.url=https://example.com"});
  ASSERT_EQ(parsed.problems.size(), 1u);
  EXPECT_EQ(parsed.problems[0].rfind("server.url", 0), 0u) << parsed.problems[0];
  parsed = parse({"--server.url=wss://a.example", "--server.url=wss://b.example"});
  EXPECT_EQ(parsed.problems.size(), 1u);  // given twice
  expect_problem({"--server.proxy=socks5://p:1080"}, "server.proxy");
  EXPECT_FALSE(parse({}).problems.empty());  // server.url is required
}

TEST_F(OptionsTest, UnknownOptionsAreErrors) {
  const auto parsed = parse({"--server.url=wss://example.com", "--server.colour=blue", "stray"});
  EXPECT_EQ(parsed.problems.size(), 2u);
  // No prefix guessing: an abbreviation is not an option.
  EXPECT_FALSE(parse({"--server.url=wss://example.com", "--server.ping=5"}).problems.empty());
}

TEST_F(OptionsTest, EveryProblemIsReported) {
  const auto parsed = parse({"--server.url=wss://example.com", "--server.ping-interval=x",
                             "--shell.max-sessions=-1", "--log.level=loud"});
  EXPECT_EQ(parsed.problems.size(), 3u);
  EXPECT_EQ(parsed.action, ParsedCommandLine::Action::kRun);
}

TEST_F(OptionsTest, ConfigFileWithCommandLineWinning) {
  const auto config = write("tetherd.conf",
                            "[server]\nurl = wss://from-file.example\nping-interval = 7\n"
                            "[shell]\nmax-sessions = 5\n");
  const auto parsed = parse({"--config", config, "--server.ping-interval=9", "--check-config"});
  ASSERT_TRUE(parsed.problems.empty()) << parsed.problems[0];
  EXPECT_EQ(parsed.action, ParsedCommandLine::Action::kCheckConfig);
  EXPECT_EQ(parsed.options.server.url, "wss://from-file.example");
  EXPECT_EQ(parsed.options.server.ping_interval, std::chrono::seconds(9));
  EXPECT_EQ(shell_of(parsed).max_sessions, 5u);
}

TEST_F(OptionsTest, ConfigFileProblems) {
  const auto unknown = write("unknown.conf", "[server]\nurl = wss://x.example\ncolour = red\n");
  auto parsed = parse({"--config", unknown});
  ASSERT_EQ(parsed.problems.size(), 1u);
  EXPECT_NE(parsed.problems[0].find("server.colour"), std::string::npos);

  parsed = parse({"--config", (dir_ / "missing.conf").string()});
  ASSERT_FALSE(parsed.problems.empty());
  EXPECT_EQ(parsed.problems[0].rfind("config", 0), 0u);

  const auto broken = write("broken.conf", "[server\nurl\n");
  parsed = parse({"--config", broken});
  EXPECT_FALSE(parsed.problems.empty());
}

TEST_F(OptionsTest, HelpAndVersion) {
  auto parsed = parse({"--help"});
  EXPECT_EQ(parsed.action, ParsedCommandLine::Action::kHelp);
  EXPECT_NE(parsed.help_text.find("server.ping-interval"), std::string::npos);
  parsed = parse({"--version"});
  EXPECT_EQ(parsed.action, ParsedCommandLine::Action::kVersion);
}

TEST_F(OptionsTest, MissingArgumentIsAProblemNotACrash) {
  const auto parsed = parse({"--server.url"});
  EXPECT_FALSE(parsed.problems.empty());
}

}  // namespace
}  // namespace tether::daemon
