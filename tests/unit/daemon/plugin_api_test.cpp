// The plugin API on its own: link-state observers, option sections read through an
// OptionReader (as a plugin declares them), and the plugin logger's audit lines.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "daemon/plugin_api/link_state.hpp"
#include "daemon/plugin_api/options.hpp"
#include "daemon/plugin_api/plugin_logger.hpp"

namespace tether::daemon {
namespace {

// ---- link-state observers ----------------------------------------------------------

TEST(PluginLinkObserversTest, EveryObserverHearsEveryChangeInOrder) {
  LinkObservers observers;
  std::vector<std::string> heard;
  auto first = observers.subscribe([&](LinkState state, std::string_view sentence) {
    heard.push_back("1:" + std::string(link_state_name(state)) + ":" + std::string(sentence));
  });
  auto second = observers.subscribe([&](LinkState state, std::string_view) {
    heard.push_back("2:" + std::string(link_state_name(state)));
  });
  EXPECT_EQ(observers.size(), 2u);
  observers.notify(LinkState::kConnecting, "connecting to wss://x");
  observers.notify(LinkState::kOnline, "online");
  EXPECT_EQ(heard, (std::vector<std::string>{"1:connecting:connecting to wss://x", "2:connecting",
                                             "1:online:online", "2:online"}));
  EXPECT_EQ(observers.state(), LinkState::kOnline);
  EXPECT_EQ(observers.sentence(), "online");
}

TEST(PluginLinkObserversTest, ASubscriptionEndsWithItsObject) {
  LinkObservers observers;
  int calls = 0;
  {
    auto subscription = observers.subscribe([&](LinkState, std::string_view) { ++calls; });
    EXPECT_TRUE(subscription.active());
    observers.notify(LinkState::kOffline, "offline");
  }
  EXPECT_EQ(observers.size(), 0u);
  observers.notify(LinkState::kOnline, "online");
  EXPECT_EQ(calls, 1);
}

TEST(PluginLinkObserversTest, MovingASubscriptionMovesTheRegistration) {
  LinkObservers observers;
  int calls = 0;
  LinkObservers::Subscription kept;
  EXPECT_FALSE(kept.active());
  {
    auto subscription = observers.subscribe([&](LinkState, std::string_view) { ++calls; });
    kept = std::move(subscription);
  }
  EXPECT_TRUE(kept.active());
  observers.notify(LinkState::kOnline, "online");
  EXPECT_EQ(calls, 1);
  kept.reset();
  observers.notify(LinkState::kOffline, "offline");
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(observers.size(), 0u);
}

TEST(PluginLinkObserversTest, ObserversMayUnsubscribeAndSubscribeDuringANotification) {
  LinkObservers observers;
  std::vector<std::string> heard;
  LinkObservers::Subscription second;
  LinkObservers::Subscription late;
  // The first removes the second (not called any more) and adds a late one (called
  // from the next notification on).
  auto first = observers.subscribe([&](LinkState, std::string_view) {
    heard.emplace_back("first");
    second.reset();
    if (!late.active()) {
      late = observers.subscribe([&](LinkState, std::string_view) { heard.emplace_back("late"); });
    }
  });
  second = observers.subscribe([&](LinkState, std::string_view) { heard.emplace_back("second"); });
  observers.notify(LinkState::kConnecting, "a");
  EXPECT_EQ(heard, std::vector<std::string>{"first"});
  observers.notify(LinkState::kOnline, "b");
  EXPECT_EQ(heard, (std::vector<std::string>{"first", "first", "late"}));
}

TEST(PluginLinkObserversTest, AnObserverMayEndItsOwnSubscription) {
  LinkObservers observers;
  int calls = 0;
  LinkObservers::Subscription self;
  self = observers.subscribe([&](LinkState, std::string_view sentence) {
    ++calls;
    self.reset();
    EXPECT_EQ(sentence, "x");  // still valid after the reset
  });
  observers.notify(LinkState::kOnline, "x");
  observers.notify(LinkState::kOnline, "y");
  EXPECT_EQ(calls, 1);
}

TEST(PluginLinkObserversTest, ASubscriptionMayOutliveTheRegistry) {
  LinkObservers::Subscription orphan;
  {
    LinkObservers observers;
    orphan = observers.subscribe([](LinkState, std::string_view) {});
  }
  EXPECT_FALSE(orphan.active());
  orphan.reset();  // nothing to do, no crash
}

TEST(PluginLinkObserversTest, StateNames) {
  EXPECT_EQ(link_state_name(LinkState::kOffline), "offline");
  EXPECT_EQ(link_state_name(LinkState::kConnecting), "connecting");
  EXPECT_EQ(link_state_name(LinkState::kOnline), "online");
  EXPECT_EQ(link_state_name(LinkState::kStopped), "stopped");
}

// ---- options declared and read by a plugin -----------------------------------------

enum class Mode { kFast, kSlow };

struct FakeOptions {
  bool enabled = true;
  std::size_t window = 8;
  std::chrono::milliseconds timeout{2000};
  std::chrono::seconds idle{60};
  Mode mode = Mode::kFast;
  std::string path = "/tmp";
};

FakeOptions read_fake(OptionReader& reader) {
  FakeOptions o;
  reader.boolean("enabled", o.enabled);
  reader.count("window", o.window, 1, 100);
  reader.seconds("timeout", o.timeout, true);
  reader.whole_seconds("idle", o.idle);
  reader.choice("mode", o.mode, {{"fast", Mode::kFast}, {"slow", Mode::kSlow}});
  reader.absolute_path("path", o.path);
  return o;
}

struct Read {
  FakeOptions options;
  std::vector<std::string> problems;
};

Read read(const OptionValues& values) {
  Read out;
  OptionReader reader(values, "fake", out.problems);
  out.options = read_fake(reader);
  EXPECT_EQ(reader.problem_count(), out.problems.size());
  EXPECT_EQ(reader.ok(), out.problems.empty());
  return out;
}

// One value for `key`, expecting exactly one problem that starts with "fake.<key>: "
// and contains `words`.
void expect_problem(const std::string& key, const std::string& value, const std::string& words) {
  SCOPED_TRACE(key + "=" + value);
  const Read r = read({{"fake." + key, value}});
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_EQ(r.problems[0].rfind("fake." + key + ": ", 0), 0u) << r.problems[0];
  EXPECT_NE(r.problems[0].find(words), std::string::npos) << r.problems[0];
}

TEST(PluginOptionsTest, DefaultsWhenNothingIsGiven) {
  const Read r = read({});
  EXPECT_TRUE(r.problems.empty());
  EXPECT_TRUE(r.options.enabled);
  EXPECT_EQ(r.options.window, 8u);
  EXPECT_EQ(r.options.timeout, std::chrono::seconds(2));
  EXPECT_EQ(r.options.mode, Mode::kFast);
}

TEST(PluginOptionsTest, ValuesAreReadTyped) {
  const Read r = read({{"fake.enabled", "no"},
                       {"fake.window", "100"},
                       {"fake.timeout", "0.25"},
                       {"fake.idle", "0"},
                       {"fake.mode", "slow"},
                       {"fake.path", "/var/x"},
                       {"other.window", "abc"}});  // another section's: not read here
  ASSERT_TRUE(r.problems.empty()) << r.problems[0];
  EXPECT_FALSE(r.options.enabled);
  EXPECT_EQ(r.options.window, 100u);
  EXPECT_EQ(r.options.timeout, std::chrono::milliseconds(250));
  EXPECT_EQ(r.options.idle, std::chrono::seconds(0));
  EXPECT_EQ(r.options.mode, Mode::kSlow);
  EXPECT_EQ(r.options.path, "/var/x");
}

TEST(PluginOptionsTest, Garbage) {
  for (const char* garbage : {"abc", "12x", "1.2.3", "0x10", " 5", "5 ", "+5"}) {
    expect_problem("window", garbage, "not a number: '" + std::string(garbage) + "'");
    expect_problem("idle", garbage, "not a number");
  }
  for (const char* garbage : {"abc", "1.2.3", "1e3", ".", "-", "1-2"})
    expect_problem("timeout", garbage, "not a number of seconds");
  expect_problem("enabled", "maybe", "not a boolean");
  // The exact sentence today's options use.
  const Read r = read({{"fake.window", "abc"}});
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_EQ(r.problems[0], "fake.window: not a number: 'abc'");
}

TEST(PluginOptionsTest, Negative) {
  expect_problem("window", "-5", "must not be negative");
  expect_problem("idle", "-1", "must not be negative");
  expect_problem("timeout", "-0.5", "must not be negative");
}

TEST(PluginOptionsTest, OutOfRange) {
  expect_problem("window", "101", "too large: '101' (at most 100)");
  expect_problem("window", "0", "must be at least 1");
  expect_problem("window", "99999999999999999999999", "too large");
  expect_problem("idle", "999999999999", "too large");
  expect_problem("timeout", "0", "must be greater than 0");
  expect_problem("timeout", "1e400", "not a number of seconds");
  expect_problem("timeout", "999999999999", "too large");
}

TEST(PluginOptionsTest, UnknownChoice) {
  expect_problem("mode", "medium", "unknown choice 'medium' (one of: fast, slow)");
  expect_problem("mode", "FAST", "unknown choice");
}

TEST(PluginOptionsTest, RelativePathsAndMissingFiles) {
  expect_problem("path", "relative/dir", "must be an absolute path");
  std::vector<std::string> problems;
  OptionValues values{{"fake.key", "/nonexistent/key.pem"}, {"fake.dir", "/"}};
  OptionReader reader(values, "fake", problems);
  std::string key;
  std::string dir;
  reader.existing_file("key", key);
  reader.existing_file("dir", dir);
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_EQ(problems[0].rfind("fake.key: cannot use '/nonexistent/key.pem'", 0), 0u) << problems[0];
  EXPECT_EQ(problems[1], "fake.dir: not a regular file: '/'");
}

TEST(PluginOptionsTest, EveryProblemIsReportedAndBadValuesLeaveTheDefault) {
  const Read r = read({{"fake.window", "x"}, {"fake.timeout", "-1"}, {"fake.mode", "?"}});
  EXPECT_EQ(r.problems.size(), 3u);
  EXPECT_EQ(r.options.window, 8u);
  EXPECT_EQ(r.options.timeout, std::chrono::seconds(2));
  EXPECT_EQ(r.options.mode, Mode::kFast);
}

TEST(PluginOptionsTest, SectionKnowsItsDefaults) {
  const OptionSection section{
      "fake", {{"enabled", "false", "serve fakes"}, {"path", std::nullopt, "a path"}}, nullptr};
  EXPECT_EQ(section.default_of("enabled"), "false");
  EXPECT_EQ(section.default_of("path"), std::nullopt);
  EXPECT_EQ(section.default_of("missing"), std::nullopt);
}

// ---- the plugin logger -------------------------------------------------------------

struct Captured {
  log::Level level;
  std::string message;
  std::vector<log::Field> fields;
};

TEST(PluginLoggerTest, LinesArePrefixedWithThePluginAndFilteredByLevel) {
  std::vector<Captured> lines;
  log::Logger logger(log::Level::kInfo, [&](log::Level level, std::string_view message,
                                            std::span<const log::Field> f) {
    lines.push_back({level, std::string(message), {f.begin(), f.end()}});
  });
  PluginLogger plugin(logger, "fake");
  plugin.info("hello");
  plugin.debug("not shown at info");
  plugin.error("bad");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].message, "fake: hello");
  EXPECT_EQ(lines[0].level, log::Level::kInfo);
  EXPECT_EQ(lines[1].message, "fake: bad");
  EXPECT_EQ(lines[1].level, log::Level::kError);
}

TEST(PluginLoggerTest, AuditRecordsAreKeptWhateverTheLevel) {
  std::vector<Captured> lines;
  log::Logger logger(log::Level::kError, [&](log::Level level, std::string_view message,
                                             std::span<const log::Field> f) {
    lines.push_back({level, std::string(message), {f.begin(), f.end()}});
  });
  PluginLogger plugin(logger, "shell");
  plugin.audit("open", {{"sid", "abc-1"}, {"user_id", "ops@example.com"}, {"pid", "42"}});
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].message, "audit: shell open sid=abc-1 user_id=ops@example.com pid=42");
  const std::vector<std::string> expected{"TETHER_AUDIT=1",
                                          "TETHER_PLUGIN=shell",
                                          "TETHER_EVENT=open",
                                          "TETHER_SID=abc-1",
                                          "TETHER_USER_ID=ops@example.com",
                                          "TETHER_PID=42"};
  std::vector<std::string> fields;
  for (const auto& field : lines[0].fields) fields.push_back(field.name + "=" + field.value);
  EXPECT_EQ(fields, expected);
}

TEST(PluginLoggerTest, PeerChosenValuesCannotSplitOrForgeAnAuditLine) {
  EXPECT_EQ(PluginLogger::audit_line("shell", "open", {{"user_id", "a b"}}),
            "audit: shell open user_id=\"a b\"");
  EXPECT_EQ(PluginLogger::audit_line("shell", "open", {{"user_id", "x\nuser_id=root"}}),
            "audit: shell open user_id=\"x\\x0auser_id=root\"");
  EXPECT_EQ(PluginLogger::audit_line("shell", "open", {{"user_id", "q\"\\"}}),
            "audit: shell open user_id=\"q\\\"\\\\\"");
  EXPECT_EQ(PluginLogger::audit_line("shell", "open", {{"user_id", ""}}),
            "audit: shell open user_id=\"\"");
  EXPECT_EQ(PluginLogger::audit_line("shell", "close", {{"sid", "s=1"}}),
            "audit: shell close sid=\"s=1\"");
}

}  // namespace
}  // namespace tether::daemon
