// Config from the backend (wire.md 5.2, dbus.md Config1): a real tetherd on a
// private bus against the TLS test server; busctl, gdbus and tetherctl as clients.
#include <signal.h>

#include <random>
#include <thread>

#include "protocol/config.hpp"
#include "protocol/message.hpp"
#include "tests/integration/dbus/bus_fixture.hpp"

namespace tether::test {
namespace {

using protocol::Array;
using protocol::Bytes;
using protocol::ConfigSet;
using protocol::Map;
using protocol::Value;

class ConfigTest : public BusTest {
 protected:
  std::string state_dir() const { return (dir_.path() / "state").string(); }

  DaemonProcess& start(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"--device.state-dir=" + state_dir()};
    args.insert(args.end(), extra.begin(), extra.end());
    return start_on_bus(args);
  }

  // The next config message of type `typ`, skipping other protocols' messages.
  std::optional<protocol::ProtoMsg> next_config(const std::string& typ,
                                                std::chrono::milliseconds timeout = 5s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto msg = server_->receive_message(std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now()));
      if (!msg) return std::nullopt;
      if (msg->hdr.proto != protocol::proto::kConfig) continue;
      EXPECT_EQ(msg->hdr.typ, typ);
      return msg;
    }
    return std::nullopt;
  }

  protocol::ConfigCurrent expect_current() {
    auto msg = next_config(protocol::config::kCurrent);
    EXPECT_TRUE(msg.has_value()) << "no current";
    if (!msg) return {};
    auto current = protocol::ConfigCurrent::decode(msg->body);
    EXPECT_TRUE(current.ok()) << current.error().message();
    return current.ok() ? *current : protocol::ConfigCurrent{};
  }

  void send_body(Bytes body, const char* typ = protocol::config::kSet) {
    ASSERT_TRUE(
        server_->send(protocol::make_msg(protocol::proto::kConfig, typ, {}, {}, std::move(body))));
  }

  void send_set(std::uint64_t version, Map values, std::optional<bool> replace = std::nullopt) {
    send_body(ConfigSet{version, std::move(values), replace}.encode());
  }

  std::uint64_t expect_applied() {
    auto msg = next_config(protocol::config::kApplied);
    EXPECT_TRUE(msg.has_value()) << "no applied";
    if (!msg) return 0;
    auto applied = protocol::ConfigApplied::decode(msg->body);
    EXPECT_TRUE(applied.ok());
    return applied.ok() ? applied->version : 0;
  }

  protocol::ConfigError expect_error() {
    auto msg = next_config(protocol::config::kError);
    EXPECT_TRUE(msg.has_value()) << "no error";
    if (!msg) return {};
    auto error = protocol::ConfigError::decode(msg->body);
    EXPECT_TRUE(error.ok());
    return error.ok() ? *error : protocol::ConfigError{};
  }

  // busctl's answer to Config1.Get(key), trailing newline removed.
  std::string busctl_get(const std::string& key) {
    auto got = busctl({"call", "io.tether.Gateway1", "/io/tether/Gateway1", "io.tether.Config1",
                       "Get", "s", key});
    std::string out = got.output;
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
  }

  std::string gdbus_get(const std::string& key) {
    auto got = gdbus({"call", "--session", "--dest", "io.tether.Gateway1", "--object-path",
                      "/io/tether/Gateway1", "--method", "io.tether.Config1.Get", key});
    std::string out = got.output;
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
  }

  std::string version_property() {
    auto got = busctl({"get-property", "io.tether.Gateway1", "/io/tether/Gateway1",
                       "io.tether.Config1", "Version"});
    std::string out = got.output;
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
  }

  // `tetherctl config watch`, running, with its match in place.
  std::unique_ptr<DaemonProcess> start_watch() {
    auto watch = DaemonProcess::start(TETHERCTL_PATH, {"--bus=session", "config", "watch"});
    EXPECT_TRUE(watch.ok());
    if (!watch.ok()) return nullptr;
    EXPECT_TRUE((*watch)->wait_for_output("watching config changes", 5s)) << (*watch)->output();
    return std::move(watch).value();
  }
};

TEST_F(ConfigTest, CurrentAfterEveryConnectAndOnGet) {
  start();
  expect_connection();
  EXPECT_EQ(expect_current(), (protocol::ConfigCurrent{0, {}}));
  send_set(3, Map{{"a", 1}});
  EXPECT_EQ(expect_applied(), 3U);
  send_body({}, protocol::config::kGet);
  EXPECT_EQ(expect_current(), (protocol::ConfigCurrent{3, Map{{"a", 1}}}));
  // The backend goes away and comes back: current again, with what is stored.
  server_->stop();
  ASSERT_TRUE(server_->start().ok());
  expect_connection();
  EXPECT_EQ(expect_current(), (protocol::ConfigCurrent{3, Map{{"a", 1}}}));
}

TEST_F(ConfigTest, MergeDeleteReplaceAndChangedSignals) {
  start();
  expect_connection();
  expect_current();
  auto watch = start_watch();
  ASSERT_TRUE(watch);
  auto monitor = DaemonProcess::start(
      "/usr/bin/gdbus", {"monitor", "--session", "--dest", "io.tether.Gateway1", "--object-path",
                         "/io/tether/Gateway1"});
  ASSERT_TRUE(monitor.ok());
  // gdbus subscribes only after it printed the name's owner, without waiting for
  // the bus to confirm: the signals of the next few milliseconds may not reach it
  // (once in CI it missed versions 1 and 2). It is checked against version 3's,
  // sent after several round trips.
  ASSERT_TRUE((*monitor)->wait_for_output("is owned by", 5s)) << (*monitor)->output();

  send_set(1, Map{{"a", 1}, {"b", "x"}, {"n", Map{{"k", Array{1, 2}}}}});
  EXPECT_EQ(expect_applied(), 1U);
  EXPECT_TRUE(watch->wait_for_output(
      R"({"version":1,"values":{"a":1,"b":"x","n":{"k":[1,2]}},"removed":[]})"
      "\n",
      5s))
      << watch->output();

  send_set(2, Map{{"a", nullptr}, {"c", true}, {"b", "x"}});
  EXPECT_EQ(expect_applied(), 2U);
  EXPECT_TRUE(watch->wait_for_output(R"({"version":2,"values":{"c":true},"removed":["a"]})"
                                     "\n",
                                     5s))
      << watch->output();
  EXPECT_EQ(version_property(), "t 2");

  auto all = tetherctl({"--bus=session", "config", "get", "--json"});
  EXPECT_EQ(all.exit_status, 0);
  EXPECT_EQ(all.output, R"({"version":2,"values":{"b":"x","c":true,"n":{"k":[1,2]}}})"
                        "\n");

  send_set(3, Map{{"z", 0.5}}, true);
  EXPECT_EQ(expect_applied(), 3U);
  EXPECT_TRUE(watch->wait_for_output(R"({"version":3,"values":{"z":0.5},"removed":["b","n","c"]})"
                                     "\n",
                                     5s))
      << watch->output();
  auto readable = tetherctl({"--bus=session", "config", "get"});
  EXPECT_EQ(readable.output, "Version: 3\nz = 0.5\n");
  // gdbus sees the same signals, and Version's PropertiesChanged.
  EXPECT_TRUE((*monitor)->wait_for_output(
      "io.tether.Config1.Changed (uint64 3, {'z': <0.5>}, ['b', 'n', 'c'])", 5s))
      << (*monitor)->output();
  EXPECT_TRUE((*monitor)->wait_for_output(
      "org.freedesktop.DBus.Properties.PropertiesChanged ('io.tether.Config1', {'Version': "
      "<uint64 3>}",
      5s))
      << (*monitor)->output();
  // Exactly one line per change (plus the "watching" line on stderr).
  EXPECT_EQ(watch->count_in_output("{\"version\":"), 3U) << watch->output();
  EXPECT_EQ(watch->count_in_output("\n"), 4U) << watch->output();
}

TEST_F(ConfigTest, EveryValueTypeThroughBusctlGdbusAndTetherctl) {
  start();
  expect_connection();
  expect_current();
  send_set(1, Map{{"t", true},
                  {"neg", -3},
                  {"pos", 42},
                  {"big", std::uint64_t{18446744073709551615ULL}},
                  {"f", 2.5},
                  {"s", "hi there"},
                  {"raw", Bytes{1, 255}},
                  {"list", Array{1, "two", nullptr}},
                  {"map", Map{{"in", Map{{"deep", "x"}}}}}});
  EXPECT_EQ(expect_applied(), 1U);

  EXPECT_EQ(busctl_get("t"), "v b true");
  EXPECT_EQ(busctl_get("neg"), "v x -3");
  EXPECT_EQ(busctl_get("pos"), "v x 42");
  EXPECT_EQ(busctl_get("big"), "v t 18446744073709551615");
  EXPECT_EQ(busctl_get("f"), "v d 2.5");
  EXPECT_EQ(busctl_get("s"), "v s \"hi there\"");
  EXPECT_EQ(busctl_get("raw"), "v ay 2 1 255");
  EXPECT_EQ(busctl_get("list"), "v av 3 x 1 s \"two\" av 0");
  EXPECT_EQ(busctl_get("map"), "v a{sv} 1 \"in\" a{sv} 1 \"deep\" s \"x\"");

  EXPECT_EQ(gdbus_get("t"), "(<true>,)");
  EXPECT_EQ(gdbus_get("neg"), "(<int64 -3>,)");
  EXPECT_EQ(gdbus_get("big"), "(<uint64 18446744073709551615>,)");
  EXPECT_EQ(gdbus_get("f"), "(<2.5>,)");
  EXPECT_EQ(gdbus_get("s"), "(<'hi there'>,)");
  EXPECT_EQ(gdbus_get("raw"), "(<[byte 0x01, 0xff]>,)");
  EXPECT_EQ(gdbus_get("map"), "(<{'in': <{'deep': <'x'>}>}>,)");

  EXPECT_EQ(tetherctl({"--bus=session", "config", "get", "s"}).output, "hi there\n");
  EXPECT_EQ(tetherctl({"--bus=session", "config", "get", "s", "--json"}).output, "\"hi there\"\n");
  EXPECT_EQ(tetherctl({"--bus=session", "config", "get", "list", "--json"}).output,
            "[1,\"two\",[]]\n");
  EXPECT_EQ(tetherctl({"--bus=session", "config", "get", "raw", "--json"}).output, "[1,255]\n");

  auto all =
      busctl({"call", "io.tether.Gateway1", "/io/tether/Gateway1", "io.tether.Config1", "GetAll"});
  EXPECT_EQ(all.exit_status, 0);
  EXPECT_EQ(all.output.rfind("a{sv} 9 ", 0), 0U) << all.output;
}

TEST_F(ConfigTest, MissingKeyIsNotFound) {
  start();
  expect_connection();
  auto got = busctl({"call", "io.tether.Gateway1", "/io/tether/Gateway1", "io.tether.Config1",
                     "Get", "s", "nope"});
  EXPECT_NE(got.exit_status, 0);
  auto via_gdbus = gdbus({"call", "--session", "--dest", "io.tether.Gateway1", "--object-path",
                          "/io/tether/Gateway1", "--method", "io.tether.Config1.Get", "nope"});
  EXPECT_NE(via_gdbus.output.find("io.tether.Error.NotFound"), std::string::npos)
      << via_gdbus.output;
  auto ctl = tetherctl({"--bus=session", "config", "get", "nope"});
  EXPECT_EQ(ctl.exit_status, 1);
  EXPECT_NE(ctl.output.find("nope"), std::string::npos) << ctl.output;
  EXPECT_EQ(tetherctl({"--bus=session", "config", "frob"}).exit_status, 2);
  EXPECT_EQ(tetherctl({"--bus=session", "config", "get", "a", "b"}).exit_status, 2);
  EXPECT_EQ(tetherctl({"--bus=session", "config", "watch", "x"}).exit_status, 2);
}

TEST_F(ConfigTest, OldAndEqualVersionsAreNotAppliedAgain) {
  start();
  expect_connection();
  expect_current();
  send_set(5, Map{{"a", 1}});
  EXPECT_EQ(expect_applied(), 5U);
  send_set(5, Map{{"a", 2}});
  EXPECT_EQ(expect_applied(), 5U);
  send_set(4, Map{{"a", 3}}, true);
  EXPECT_EQ(expect_applied(), 5U);
  EXPECT_EQ(busctl_get("a"), "v x 1");
  EXPECT_EQ(version_property(), "t 5");
}

TEST_F(ConfigTest, EveryBadBodyIsAnErrorAndChangesNothing) {
  start({"--config.max-bytes=1024", "--config.max-depth=3"});
  expect_connection();
  expect_current();
  send_set(1, Map{{"keep", "me"}});
  EXPECT_EQ(expect_applied(), 1U);

  Value deep = 1;
  for (int i = 0; i < 4; ++i) deep = Array{deep};
  const std::vector<std::pair<std::string, Bytes>> bad = {
      {"not a map", protocol::encode_value(Value(Array{1, 2}))},
      {"values not a map",
       protocol::encode_value(Value(Map{{"version", 2}, {"values", Array{1}}}))},
      {"values missing", protocol::encode_value(Value(Map{{"version", 2}}))},
      {"version missing", protocol::encode_value(Value(Map{{"values", Map{}}}))},
      {"version negative", protocol::encode_value(Value(Map{{"version", -2}, {"values", Map{}}}))},
      {"replace not bool",
       protocol::encode_value(Value(Map{{"version", 2}, {"values", Map{}}, {"replace", "yes"}}))},
      // {version: 2, values: {k: fixext1}}
      {"extension", Bytes{0x82, 0xa7, 'v', 'e', 'r', 's',  'i',  'o', 'n',  0x02, 0xa6, 'v',
                          'a',  'l',  'u', 'e', 's', 0x81, 0xa1, 'k', 0xd4, 0x01, 0x00}},
      {"garbage", Bytes{0xc1, 0xff, 0x00}},
      {"truncated", Bytes{0x82, 0xa7, 'v', 'e', 'r'}},
      {"empty", Bytes{}},
      {"too deep", ConfigSet{2, Map{{"d", deep}}, std::nullopt}.encode()},
      {"too big", ConfigSet{2, Map{{"big", std::string(2000, 'x')}}, std::nullopt}.encode()},
  };
  for (const auto& [what, body] : bad) {
    SCOPED_TRACE(what);
    send_body(body);
    auto error = expect_error();
    EXPECT_FALSE(error.err.empty());
    // The refused version is named when the body is a map that holds one.
    if (what == "values not a map" || what == "too deep" || what == "too big" ||
        what == "replace not bool") {
      EXPECT_EQ(error.version, 2U) << error.err;
    }
  }
  EXPECT_EQ(version_property(), "t 1");
  EXPECT_EQ(busctl_get("keep"), "v s \"me\"");
  send_body({}, protocol::config::kGet);
  EXPECT_EQ(expect_current(), (protocol::ConfigCurrent{1, Map{{"keep", "me"}}}));
}

TEST_F(ConfigTest, OptionsAreValidated) {
  for (const char* bad :
       {"--config.max-bytes=12", "--config.max-bytes=abc", "--config.max-bytes=99999999999",
        "--config.max-depth=0", "--config.max-depth=31", "--config.enabled=maybe"}) {
    auto args = fast_args(server_->url());
    args.emplace_back(bad);
    args.emplace_back("--check-config");
    auto done = run_to_completion(TETHERD_PATH, args, 10s);
    ASSERT_TRUE(done.ok());
    EXPECT_NE(done->exit_status, 0) << bad;
    EXPECT_NE(done->output.find("config."), std::string::npos) << bad << done->output;
  }
}

TEST_F(ConfigTest, SurvivesARestart) {
  start();
  expect_connection();
  expect_current();
  send_set(7, Map{{"kept", Array{"a", 1}}});
  EXPECT_EQ(expect_applied(), 7U);
  daemon_->send_signal(SIGTERM);
  daemon_->wait_for_exit(5s);
  start();
  expect_connection();
  EXPECT_EQ(expect_current(), (protocol::ConfigCurrent{7, Map{{"kept", Array{"a", 1}}}}));
  EXPECT_EQ(version_property(), "t 7");
}

// kill -9 at random points after a set: the stored config is always one whole
// version, never a mix of two. Every set writes all keys with its own version.
TEST_F(ConfigTest, KillNineRightAfterSetLeavesOldOrNew) {
  std::mt19937 random(std::random_device{}());
  std::uniform_int_distribution<int> delay_us(0, 4000);
  constexpr int kKeys = 20;
  constexpr int kRounds = 12;
  std::uint64_t last = 0;
  int saw_new = 0;
  for (int round = 1; round <= kRounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    start_daemon({"--device.state-dir=" + state_dir()});
    expect_connection();
    auto current = expect_current();
    // What is stored is one whole version: every key holds it.
    ASSERT_TRUE(current.version == last || current.version == last + 1)
        << current.version << " after " << last;
    if (current.version > 0) {
      ASSERT_EQ(current.values.size(), static_cast<std::size_t>(kKeys));
      for (const auto& [key, value] : current.values)
        ASSERT_EQ(value, Value(current.version)) << key;
    }
    if (current.version == last + 1 && round > 1) ++saw_new;
    last = current.version;
    Map values;
    for (int k = 0; k < kKeys; ++k) values.emplace_back("k" + std::to_string(k), Value(last + 1));
    send_set(last + 1, values, round % 2 == 0);
    std::this_thread::sleep_for(std::chrono::microseconds(delay_us(random)));
    daemon_->send_signal(SIGKILL);
    daemon_->wait_for_exit(5s);
    server_->wait_for_close(5s);
    server_->clear_received();
  }
  // Not asserted (timing decides), but printed: how often the kill came after the commit.
  std::cout << "new version survived the kill in " << saw_new << " of " << kRounds - 1
            << " rounds\n";
}

}  // namespace
}  // namespace tether::test
