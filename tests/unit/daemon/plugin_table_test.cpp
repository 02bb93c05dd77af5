// A fake plugin added through main's table alone: one PluginRow, nothing else. Its
// options appear in --help and are checked by --check-config (tetherd_main, as the
// real binary runs it), and once built from the table it receives its protocol's
// messages, link up/down, session close and shutdown through the router.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "daemon/app/tetherd_main.hpp"
#include "daemon/router/plugin_table.hpp"
#include "protocol/codec.hpp"
#include "protocol/control.hpp"

namespace tether::daemon {
namespace {

constexpr std::uint16_t kFakeProto = 0x0042;
constexpr std::uint16_t kControl = 0xFFFF;

// What the fake handler saw, kept outside it so the test can look after the table
// built it.
struct Seen {
  int built = 0;
  std::size_t window = 0;
  std::string device_id;
  std::string version;
  bool had_store = true;
  bool had_bus = true;
  std::vector<std::string> events;
};

class FakeHandler final : public ProtocolHandler {
 public:
  FakeHandler(const PluginContext& context, Seen& seen) : seen_(seen), log_(context.log) {
    // A plugin may observe the link itself, beyond on_connected/on_disconnected.
    link_ = context.link.subscribe([this](LinkState state, std::string_view) {
      seen_.events.push_back("link " + std::string(link_state_name(state)));
    });
  }
  Status on_message(const protocol::ProtoMsg& msg) override {
    seen_.events.push_back("message " + msg.hdr.typ + " " + msg.hdr.sid);
    log_.info("got " + msg.hdr.typ);
    return {};
  }
  void on_connected() override { seen_.events.emplace_back("connected"); }
  void on_disconnected() override { seen_.events.emplace_back("disconnected"); }
  void on_session_closed(std::string_view sid) override {
    seen_.events.push_back("closed " + std::string(sid));
  }
  void on_shutdown() override { seen_.events.emplace_back("shutdown"); }

 private:
  Seen& seen_;
  PluginLogger log_;
  LinkObservers::Subscription link_;
};

struct FakeOptions {
  std::size_t window = 8;
  std::string mode = "fast";
};

FakeOptions read_fake(OptionReader& reader) {
  FakeOptions o;
  bool enabled = true;
  reader.boolean("enabled", enabled);
  reader.count("window", o.window, 1, 100);
  reader.choice<std::string>("mode", o.mode, {{"fast", "fast"}, {"slow", "slow"}});
  return o;
}

// The one row a new handler costs.
PluginRow fake_row(Seen& seen, bool factory_fails = false) {
  return PluginRow{
      kFakeProto, true,
      OptionSection{"fake",
                    {{"enabled", "true", "serve fakes"},
                     {"window", "8", "fakes in flight"},
                     {"mode", "fast", "fast or slow"}},
                    [](OptionReader& reader) { (void)read_fake(reader); }},
      [&seen, factory_fails](const PluginContext& context,
                             OptionReader& options) -> Result<std::unique_ptr<ProtocolHandler>> {
        const FakeOptions o = read_fake(options);
        if (factory_fails) return Error(ErrorCode::kIo, "cannot open /dev/fake: No such device");
        ++seen.built;
        seen.window = o.window;
        seen.device_id = context.device.id;
        seen.version = context.device.version;
        seen.had_store = context.store != nullptr;
        seen.had_bus = context.bus != nullptr;
        return std::unique_ptr<ProtocolHandler>(std::make_unique<FakeHandler>(context, seen));
      }};
}

struct RunResult {
  int code;
  std::string out;
  std::string err;
};

RunResult run_tetherd(std::vector<std::string> args, const std::vector<PluginRow>& rows) {
  args.insert(args.begin(), "tetherd");
  std::vector<const char*> argv;
  argv.reserve(args.size());
  for (const auto& a : args) argv.push_back(a.c_str());
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  const int code = tetherd_main(static_cast<int>(argv.size()), argv.data(), rows);
  RunResult result{code, ::testing::internal::GetCapturedStdout(),
                   ::testing::internal::GetCapturedStderr()};
  return result;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST(PluginTableTest, TheRowsOptionsAppearInHelp) {
  Seen seen;
  const auto result = run_tetherd({"--help"}, {fake_row(seen)});
  EXPECT_EQ(result.code, kExitOk);
  EXPECT_TRUE(contains(result.out, "--fake.window")) << result.out;
  EXPECT_TRUE(contains(result.out, "fakes in flight [8]")) << result.out;
  EXPECT_TRUE(contains(result.out, "--fake.mode")) << result.out;
  EXPECT_TRUE(contains(result.out, "--server.url")) << result.out;  // and the daemon's own
  EXPECT_EQ(seen.built, 0);
}

TEST(PluginTableTest, CheckConfigValidatesTheRowsOptionsWithoutBuildingIt) {
  Seen seen;
  auto result = run_tetherd({"--check-config", "--server.url=wss://example.com",
                             "--fake.window=abc", "--fake.mode=medium"},
                            {fake_row(seen)});
  EXPECT_EQ(result.code, kExitBadConfig);
  EXPECT_TRUE(contains(result.err, "tetherd: fake.window: not a number: 'abc'")) << result.err;
  EXPECT_TRUE(contains(result.err, "fake.mode: unknown choice 'medium' (one of: fast, slow)"))
      << result.err;

  result = run_tetherd({"--check-config", "--server.url=wss://example.com", "--fake.window=-1"},
                       {fake_row(seen)});
  EXPECT_EQ(result.code, kExitBadConfig);
  EXPECT_TRUE(contains(result.err, "fake.window: must not be negative")) << result.err;

  result = run_tetherd({"--check-config", "--server.url=wss://example.com", "--fake.window=101"},
                       {fake_row(seen)});
  EXPECT_EQ(result.code, kExitBadConfig);
  EXPECT_TRUE(contains(result.err, "fake.window: too large")) << result.err;

  result = run_tetherd({"--check-config", "--server.url=wss://example.com", "--fake.window=5"},
                       {fake_row(seen)});
  EXPECT_EQ(result.code, kExitOk) << result.err;
  EXPECT_EQ(seen.built, 0);

  // Without the row, its options are unknown.
  result = run_tetherd({"--check-config", "--server.url=wss://example.com", "--fake.window=5"}, {});
  EXPECT_EQ(result.code, kExitBadConfig);
  EXPECT_TRUE(contains(result.err, "unknown option")) << result.err;
}

TEST(PluginTableTest, AFactoryErrorIsALogLineAndExit1) {
  Seen seen;
  // The daemon fails before its first dial, so the address is never used.
  const auto result =
      run_tetherd({"--server.url=wss://127.0.0.1:9", "--server.auth=none", "--dbus.bus=none"},
                  {fake_row(seen, true)});
  EXPECT_EQ(result.code, kExitFailure);
  EXPECT_TRUE(contains(result.err, "plugin fake: cannot open /dev/fake: No such device"))
      << result.err;
}

// The RecordingOutbound of router_test, smaller: the control replies the router sends.
class CountingOutbound final : public Outbound {
 public:
  Status send(const protocol::ProtoMsg& msg, Priority, std::string_view) override {
    sent.push_back(msg);
    return {};
  }
  std::size_t queued_bytes(std::string_view) const override { return 0; }
  std::size_t total_queued_bytes() const override { return 0; }
  void when_drained(std::string_view, std::size_t, std::size_t, std::function<void()>) override {}
  void cancel_drained(std::string_view) override {}
  bool connected() const override { return true; }
  std::vector<protocol::ProtoMsg> sent;
};

class PluginTableBuildTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loop = EventLoop::create();
    ASSERT_TRUE(loop.ok());
    loop_ = std::move(loop).value();
  }

  Result<PluginHandlers> build(const std::vector<PluginRow>& rows, const OptionValues& values) {
    const PluginEnvironment environment{
        .loop = *loop_,
        .outbound = outbound_,
        .logger = logger_,
        .link = link_,
        .device = {.id = "dev-1", .state_dir = "/var/lib/tether", .version = "9.9.9"},
    };
    return build_plugins(rows, values, environment, router_);
  }

  std::vector<std::string> lines_;
  log::Logger logger_{log::Level::kInfo,
                      [this](log::Level, std::string_view message, std::span<const log::Field>) {
                        lines_.emplace_back(message);
                      }};
  std::unique_ptr<EventLoop> loop_;
  CountingOutbound outbound_;
  LinkObservers link_;
  Router router_{outbound_, logger_};
};

TEST_F(PluginTableBuildTest, TheBuiltPluginReceivesEverythingOfItsProtocol) {
  Seen seen;
  auto handlers = build({fake_row(seen)}, {{"fake.window", "3"}});
  ASSERT_TRUE(handlers.ok()) << handlers.error().message();
  ASSERT_EQ(handlers->size(), 1u);
  EXPECT_EQ(seen.built, 1);
  EXPECT_EQ(seen.window, 3u);
  EXPECT_EQ(seen.device_id, "dev-1");
  EXPECT_EQ(seen.version, "9.9.9");
  EXPECT_FALSE(seen.had_store);  // null when not configured
  EXPECT_FALSE(seen.had_bus);
  // Session-based: listed in accept.
  EXPECT_EQ(router_.session_protocols(), std::vector<std::uint16_t>{kFakeProto});

  link_.notify(LinkState::kOnline, "online");
  router_.on_link_up();
  router_.on_link_message(protocol::make_msg(kFakeProto, "hello", "s1"));
  router_.on_link_message(protocol::make_msg(0x0043, "other", "s1"));  // not its protocol
  router_.on_link_message(protocol::make_msg(kControl, "close", "s1"));
  protocol::ControlError error;
  error.err = "gone";
  error.close = true;
  router_.on_link_message(protocol::make_msg(kControl, "error", "s2", {}, error.encode()));
  router_.on_link_down();
  link_.notify(LinkState::kOffline, "offline");
  router_.shutdown();

  EXPECT_EQ(seen.events,
            (std::vector<std::string>{"link online", "connected", "message hello s1", "closed s1",
                                      "closed s2", "disconnected", "link offline", "shutdown"}));
  // Its logger is prefixed with its name.
  EXPECT_NE(std::find(lines_.begin(), lines_.end(), "fake: got hello"), lines_.end());
}

TEST_F(PluginTableBuildTest, ADisabledPluginIsNotBuilt) {
  Seen seen;
  auto handlers = build({fake_row(seen, true)}, {{"fake.enabled", "false"}});
  ASSERT_TRUE(handlers.ok()) << handlers.error().message();  // the failing factory never ran
  EXPECT_TRUE(handlers->empty());
  EXPECT_EQ(seen.built, 0);
  EXPECT_TRUE(router_.session_protocols().empty());
  router_.on_link_message(protocol::make_msg(kFakeProto, "hello", "s1"));
  ASSERT_EQ(outbound_.sent.size(), 1u);  // unknown protocol now: a control error
  EXPECT_EQ(outbound_.sent[0].hdr.typ, "error");

  // A row whose section declares enabled = false by default is off unless enabled.
  PluginRow off = fake_row(seen);
  off.options.options[0].default_text = "false";
  auto none = build({off}, {});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST_F(PluginTableBuildTest, FactoryErrorsAndDuplicateProtocolsNameThePlugin) {
  Seen seen;
  auto failed = build({fake_row(seen, true)}, {});
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().message(), "plugin fake: cannot open /dev/fake: No such device");
  EXPECT_EQ(failed.error().code(), ErrorCode::kIo);

  Seen twice;
  PluginRow second = fake_row(twice);
  second.options.name = "fake2";
  auto duplicate = build({fake_row(twice), second}, {});
  ASSERT_FALSE(duplicate.ok());
  EXPECT_EQ(duplicate.error().message().rfind("plugin fake2: ", 0), 0u)
      << duplicate.error().message();
}

TEST_F(PluginTableBuildTest, SectionsComeFromTheRows) {
  Seen seen;
  const std::vector<PluginRow> rows{fake_row(seen)};
  const auto sections = plugin_sections(rows);
  ASSERT_EQ(sections.size(), 1u);
  EXPECT_EQ(sections[0].name, "fake");
  EXPECT_EQ(sections[0].options.size(), 3u);
  EXPECT_TRUE(plugin_enabled(rows[0], {}));
  EXPECT_FALSE(plugin_enabled(rows[0], {{"fake.enabled", "off"}}));
}

}  // namespace
}  // namespace tether::daemon
