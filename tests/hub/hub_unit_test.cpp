// Unit tests of the hub's pure parts: credentials, JSON, the device registry (on
// SQLite and PostgreSQL) and store.url, admission, static files, and the core wired together
// (device side, operator side, the built-in services) with fake links instead of sockets. Each
// service on its own, with a fake device side: hub_services_test.cpp.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "hub/auth.hpp"
#include "hub/config.hpp"
#include "hub/core.hpp"
#include "hub/json.hpp"
#include "hub/server/admission.hpp"
#include "hub/server/static_files.hpp"
#include "hub/store/sql_device_store.hpp"
#include "hub/store/storable_text.hpp"
#include "protocol/codec.hpp"
#include "protocol/control.hpp"
#include "protocol/message.hpp"
#include "tests/hub/api_rig.hpp"
#include "tests/hub/command_fakes.hpp"
#include "tests/hub/hub_fakes.hpp"
#include "tests/support/sql_store.hpp"

namespace tether::hub {
namespace {

using protocol::ProtoMsg;
using testing::FakeLink;
using testing::MemoryStore;
namespace proto = protocol::proto;

TEST(Auth, Sha256OfAKnownString) {
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Auth, PasswordHashVerifies) {
  auto hash = hash_password("correct horse", 1000);
  ASSERT_TRUE(hash.ok());
  EXPECT_EQ(hash->rfind("pbkdf2-sha256$1000$", 0), 0u);
  EXPECT_TRUE(*verify_password("correct horse", *hash));
  EXPECT_FALSE(*verify_password("correct horsE", *hash));
  EXPECT_FALSE(verify_password("x", "plain-text").ok());
  EXPECT_FALSE(verify_password("x", "pbkdf2-sha256$10$00$00").ok());
}

TEST(Json, QuotesAndParses) {
  EXPECT_EQ(json::quote("a\"b\\c\n\x01"), "\"a\\\"b\\\\c\\u000a\\u0001\"");
  EXPECT_EQ(json::quote("\xff"), "\"\\ufffd\"");
  auto m = json::parse_flat_object(R"( {"username":"admin","password":"p\u00e4ss\"w"} )");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->at("password"), "p\xc3\xa4ss\"w");
  for (const char* bad : {"", "{", "[]", "{\"a\":1}", "{\"a\":\"b\"} x",
                          "{\"a\":\"b\",\"a\":\"c\"}", "{\"a\":\"\\ud800\"}"}) {
    EXPECT_FALSE(json::parse_flat_object(bad).ok()) << bad;
  }
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/tether-hub-unit-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

using tether::test::SqlBackend;
using tether::test::SqlTestStore;

// The device registry, on each SQL back end: a fresh database per test.
class StoreTest : public ::testing::TestWithParam<SqlBackend> {
 protected:
  void SetUp() override {
    auto db = SqlTestStore::create(GetParam());
    ASSERT_TRUE(db.ok()) << db.error().message();
    database = std::move(*db);
  }
  const sql::StoreUrl& url() const { return database->url(); }

  std::unique_ptr<SqlTestStore> database;
};

TEST_P(StoreTest, RegistersLooksUpAndRecordsStatus) {
  auto store = SqlDeviceStore::open(url());
  ASSERT_TRUE(store.ok()) << store.error().message();
  Store& s = **store;
  ASSERT_TRUE(s.put_device("gw1", sha256_hex("tok1"), 1000).ok());
  EXPECT_EQ(**s.device_for_token(sha256_hex("tok1")), "gw1");
  EXPECT_FALSE(s.device_for_token(sha256_hex("nope"))->has_value());
  // re-provisioning replaces the token
  ASSERT_TRUE(s.put_device("gw1", sha256_hex("tok2"), 2000).ok());
  EXPECT_FALSE(s.device_for_token(sha256_hex("tok1"))->has_value());
  // a token can belong to one device only
  const Status taken = s.put_device("gw2", sha256_hex("tok2"), 2000);
  ASSERT_FALSE(taken.ok());
  EXPECT_EQ(taken.error().code(), ErrorCode::kStorageFailure);
  EXPECT_FALSE(s.get("gw2")->has_value());
  s.record_status("gw1", {"1.0", "online", "boot", 5}, 3000);
  ASSERT_TRUE(s.flush().ok());
  auto rec = s.get("gw1");
  ASSERT_TRUE(rec.ok() && rec->has_value());
  EXPECT_EQ((*rec)->version, "1.0");
  EXPECT_EQ((*rec)->uptime_s, 5);
  EXPECT_EQ((*rec)->last_seen_ms, 3000);
  EXPECT_EQ((*rec)->status_ms, 3000);
  EXPECT_EQ((*rec)->created_ms, 1000);
  EXPECT_EQ(s.list()->size(), 1u);
  // A status never moves last_seen back; an unknown uptime is -1 after the write too.
  s.record_seen("gw1", 9000);
  ASSERT_TRUE(s.flush().ok());
  s.record_status("gw1", {"1.1", "online", "boot", -1}, 4000);
  ASSERT_TRUE(s.flush().ok());
  rec = s.get("gw1");
  EXPECT_EQ((*rec)->last_seen_ms, 9000);
  EXPECT_EQ((*rec)->status_ms, 4000);
  EXPECT_EQ((*rec)->uptime_s, -1);
  EXPECT_EQ((*rec)->version, "1.1");
  EXPECT_FALSE(s.get("nobody")->has_value());
}

TEST_P(StoreTest, BulkRegistrationIsAllOrNothing) {
  auto store = SqlDeviceStore::open(url());
  ASSERT_TRUE(store.ok()) << store.error().message();
  ASSERT_TRUE((*store)->put_device("old", sha256_hex("dup"), 1).ok());
  // The third device's token hash is already taken: none of the three is registered.
  const Status failed = (*store)->put_devices(
      {{"a1", sha256_hex("a1")}, {"a2", sha256_hex("a2")}, {"a3", sha256_hex("dup")}}, 5);
  EXPECT_FALSE(failed.ok());
  EXPECT_EQ((*store)->list()->size(), 1u);
  ASSERT_TRUE((*store)->put_devices({{"a1", sha256_hex("a1")}, {"a2", sha256_hex("a2")}}, 5).ok());
  auto all = (*store)->list();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].id, "a1");
  EXPECT_EQ((*all)[0].created_ms, 5);
  EXPECT_EQ(**(*store)->device_for_token(sha256_hex("a2")), "a2");
}

TEST_P(StoreTest, ReadsSeeQueuedWritesBeforeTheyAreApplied) {
  auto store = SqlDeviceStore::open(url());
  ASSERT_TRUE(store.ok()) << store.error().message();
  SqlDeviceStore& s = **store;
  ASSERT_TRUE(s.put_device("gw1", sha256_hex("t1"), 1).ok());
  ASSERT_TRUE(s.put_device("gw2", sha256_hex("t2"), 1).ok());
  // No flush between the write and the reads: whatever the writer thread has
  // done so far, the reads answer with the newest values.
  s.record_seen("gw1", 500);
  s.record_status("gw2", {"2.0", "shutdown", "b", -1}, 600);
  auto one = s.get("gw1");
  ASSERT_TRUE(one.ok() && one->has_value());
  EXPECT_EQ((*one)->last_seen_ms, 500);
  auto all = s.list();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[1].version, "2.0");
  EXPECT_EQ((*all)[1].state, "shutdown");
  EXPECT_EQ((*all)[1].uptime_s, -1);
  ASSERT_TRUE(s.flush().ok());
  EXPECT_EQ((*s.get("gw2"))->status_ms, 600);
}

TEST_P(StoreTest, WritesAreBatchedAndSurviveReopening) {
  {
    auto store = SqlDeviceStore::open(url());
    ASSERT_TRUE(store.ok()) << store.error().message();
    SqlDeviceStore& s = **store;
    ASSERT_TRUE(s.put_device("gw", sha256_hex("t"), 1).ok());
    for (int i = 1; i <= 2000; ++i) s.record_seen("gw", i);
    ASSERT_TRUE(s.flush().ok());
    // 2000 writes for one device coalesce: far fewer transactions than writes.
    EXPECT_LT(s.batches_written(), 2000u);
    EXPECT_GE(s.batches_written(), 1u);
    s.record_seen("gw", 5000);  // applied by the destructor
  }
  auto again = SqlDeviceStore::open(url());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*(*again)->get("gw"))->last_seen_ms, 5000);
}

class CollectErrors : public WriteErrorSink {
 public:
  void write_failed(const Error& error) override {
    std::lock_guard lock(mutex);
    errors.push_back(error.message());
  }
  std::mutex mutex;
  std::vector<std::string> errors;
};

TEST_P(StoreTest, AFailedBatchIsReportedNotHidden) {
  CollectErrors sink;
  auto store = SqlDeviceStore::open(url(), &sink);
  ASSERT_TRUE(store.ok()) << store.error().message();
  SqlDeviceStore& s = **store;
  ASSERT_TRUE(s.put_device("gw", sha256_hex("t"), 1).ok());
  // Another connection takes the table away under the store.
  auto other = sql::connect(url(), {.sqlite_file = "hub.db"});
  ASSERT_TRUE(other.ok()) << other.error().message();
  ASSERT_TRUE((*other)->exec("DROP TABLE devices").ok());
  s.record_seen("gw", 42);
  const Status flushed = s.flush();
  ASSERT_FALSE(flushed.ok());
  EXPECT_EQ(flushed.error().code(), ErrorCode::kStorageFailure);
  EXPECT_NE(flushed.error().message().find("devices"), std::string::npos)
      << flushed.error().message();
  std::lock_guard lock(sink.mutex);
  EXPECT_EQ(sink.errors.size(), 1u);
}

TEST_P(StoreTest, AStatusThatIsNotUtf8IsStoredReplaced) {
  auto store = SqlDeviceStore::open(url());
  ASSERT_TRUE(store.ok()) << store.error().message();
  ASSERT_TRUE((*store)->put_device("gw", sha256_hex("t"), 1).ok());
  (*store)->record_status("gw", {std::string("v\0\xff", 3), "online", "b\xc3", 1}, 10);
  ASSERT_TRUE((*store)->flush().ok());
  auto rec = (*store)->get("gw");
  ASSERT_TRUE(rec.ok() && rec->has_value());
  EXPECT_EQ((*rec)->version, "v\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ((*rec)->boot_id, "b\xEF\xBF\xBD");
  EXPECT_EQ((*rec)->status_ms, 10);
}

TEST(StorableText, ValidUtf8StaysAndEverythingElseBecomesReplacementCharacters) {
  for (const std::string& ok :
       {std::string(""), std::string("plain"), std::string("\xc3\xa4\xe2\x82\xac\xf0\x9f\x98\x80"),
        std::string("\xed\x9f\xbf"), std::string("\xf4\x8f\xbf\xbf")}) {
    EXPECT_TRUE(is_storable_text(ok)) << ok;
    std::string copy = ok;
    make_storable(copy);
    EXPECT_EQ(copy, ok);
  }
  const std::string r = "\xEF\xBF\xBD";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {std::string("a\0b", 3), "a" + r + "b"},  // NUL
      {"\xff", r},                              // never valid
      {"\xc0\xaf", r + r},                      // overlong '/'
      {"\xe0\x80\xaf", r + r + r},              // overlong, 3 bytes
      {"\xed\xa0\x80", r + r + r},              // a UTF-16 surrogate
      {"\xf4\x90\x80\x80", r + r + r + r},      // past U+10FFFF
      {"ab\xc3", "ab" + r},                     // cut short
      {"\xe2\x82", r + r},                      // cut short, 3 bytes
      {"\x80x", r + "x"},                       // a lone continuation byte
  };
  for (const auto& [in, out] : cases) {
    EXPECT_FALSE(is_storable_text(in));
    std::string s = in;
    make_storable(s);
    EXPECT_EQ(s, out);
    EXPECT_TRUE(is_storable_text(s));
  }
}

// A state directory written before the SQL layer (hub.db with the devices table
// and no schema_migrations) opens unchanged, its devices intact.
TEST(SqliteStateDir, AStateDirFromBeforeMigrationsOpens) {
  TempDir dir;
  sql::StoreUrl url;
  url.sqlite_dir = dir.path();
  url.redacted = "sqlite:" + dir.path();
  {
    auto db = sql::connect(url, {.sqlite_file = "hub.db"});
    ASSERT_TRUE(db.ok()) << db.error().message();
    ASSERT_TRUE((*db)
                    ->exec("CREATE TABLE devices (id TEXT PRIMARY KEY,"
                           " token_sha256 TEXT NOT NULL UNIQUE, created_ms INTEGER NOT NULL,"
                           " last_seen_ms INTEGER, version TEXT, state TEXT, boot_id TEXT,"
                           " uptime_s INTEGER, status_ms INTEGER);"
                           "INSERT INTO devices(id, token_sha256, created_ms)"
                           " VALUES('old-gw', 'abc', 7)")
                    .ok());
  }
  auto store = SqlDeviceStore::open(url);
  ASSERT_TRUE(store.ok()) << store.error().message();
  auto old = (*store)->get("old-gw");
  ASSERT_TRUE(old.ok() && old->has_value());
  EXPECT_EQ((*old)->created_ms, 7);
  EXPECT_EQ(**(*store)->device_for_token("abc"), "old-gw");
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest, tether::test::kBothSqlBackends,
                         tether::test::sql_backend_name);

// store.url on the command line: the two schemes, its default, and refusals that
// name the option without echoing what may be a password.
Result<Invocation> parse_args(std::vector<std::string> args) {
  args.insert(args.begin(), "tether-hub");
  std::vector<const char*> argv;
  argv.reserve(args.size());
  for (const auto& a : args) argv.push_back(a.c_str());
  return parse_command_line(static_cast<int>(argv.size()), argv.data());
}

TEST(StoreUrlOption, DefaultsToSqliteInTheStateDir) {
  auto inv = parse_args({"--hub.state-dir=/srv/hub-state"});
  ASSERT_TRUE(inv.ok()) << inv.error().message();
  EXPECT_EQ(inv->config.store.dialect, sql::Dialect::kSqlite);
  EXPECT_EQ(inv->config.store.sqlite_dir, "/srv/hub-state");
  auto plain = parse_args({});
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->config.store.sqlite_dir, "/var/lib/tether-hub");
}

TEST(StoreUrlOption, TakesSqliteAndPostgresql) {
  auto lite = parse_args({"--store.url=sqlite:/tmp/elsewhere", "--hub.state-dir=/srv/x"});
  ASSERT_TRUE(lite.ok()) << lite.error().message();
  EXPECT_EQ(lite->config.store.dialect, sql::Dialect::kSqlite);
  EXPECT_EQ(lite->config.store.sqlite_dir, "/tmp/elsewhere");
  auto pg = parse_args({"--store.url=postgresql://hub:s3cret@db.example:5432/tether"});
  ASSERT_TRUE(pg.ok()) << pg.error().message();
  EXPECT_EQ(pg->config.store.dialect, sql::Dialect::kPostgres);
  EXPECT_EQ(pg->config.store.postgres, "postgresql://hub:s3cret@db.example:5432/tether");
  EXPECT_EQ(pg->config.store.redacted.find("s3cret"), std::string::npos)
      << pg->config.store.redacted;
}

TEST(StoreUrlOption, RefusesGarbageNamingTheOptionAndNeverThePassword) {
  for (const std::string& bad :
       {std::string("sqlite:"), std::string("mysql://root:s3cret@db/x"), std::string("s3cret"),
        std::string("nats://s3cret@h:4222"), std::string("\x01\xff"),
        std::string("postgresql:s3cret"), std::string(5000, 'x') + "s3cret"}) {
    auto inv = parse_args({"--store.url=" + bad});
    ASSERT_FALSE(inv.ok()) << bad;
    EXPECT_EQ(inv.error().code(), ErrorCode::kInvalidArgument)
        << bad << ": " << inv.error().message();
    EXPECT_NE(inv.error().message().find("store.url"), std::string::npos) << inv.error().message();
    EXPECT_EQ(inv.error().message().find("s3cret"), std::string::npos) << inv.error().message();
  }
  // A bad PostgreSQL URL is named with its password masked.
  auto pg = parse_args({"--store.url=postgresql://hub:s3cret@db/x?no_such_option=1"});
  ASSERT_FALSE(pg.ok());
  EXPECT_NE(pg.error().message().find("store.url"), std::string::npos);
  EXPECT_EQ(pg.error().message().find("s3cret"), std::string::npos) << pg.error().message();
}

// An empty url in the config file ([store] url =) is refused too (the command
// line cannot give an empty value: Boost refuses `--store.url=` itself).
TEST(StoreUrlOption, AnEmptyUrlInTheConfigFileIsRefused) {
  TempDir dir;
  const std::string path = dir.path() + "/hub.conf";
  std::ofstream(path) << "[store]\nurl =\n";
  auto inv = parse_args({"--config=" + path});
  ASSERT_FALSE(inv.ok());
  EXPECT_EQ(inv.error().code(), ErrorCode::kInvalidArgument) << inv.error().message();
  EXPECT_NE(inv.error().message().find("store.url"), std::string::npos) << inv.error().message();
  std::ofstream(path) << "[store]\nurl = sqlite:" << dir.path() << "/db\n";
  auto ok = parse_args({"--config=" + path});
  ASSERT_TRUE(ok.ok()) << ok.error().message();
  EXPECT_EQ(ok->config.store.sqlite_dir, dir.path() + "/db");
}

TEST(Store, ValidDeviceIds) {
  EXPECT_TRUE(valid_device_id("gw-01.site_a:x"));
  EXPECT_FALSE(valid_device_id(""));
  EXPECT_FALSE(valid_device_id("a/b"));
  EXPECT_FALSE(valid_device_id("../x"));
  EXPECT_FALSE(valid_device_id(std::string(129, 'a')));
}

TEST(StaticFiles, OnlySafePathsAndKnownTypes) {
  EXPECT_TRUE(safe_static_path("/app.js"));
  EXPECT_FALSE(safe_static_path("/../etc/passwd"));
  EXPECT_FALSE(safe_static_path("/.git/config"));
  EXPECT_FALSE(safe_static_path("//x.js"));
  EXPECT_FALSE(safe_static_path("/a b.js"));
  EXPECT_FALSE(safe_static_path(""));
  EXPECT_STREQ(mime_type("/index.html"), "text/html; charset=utf-8");
  EXPECT_EQ(mime_type("/secret.db"), nullptr);
  TempDir dir;
  std::ofstream(dir.path() + "/index.html") << "<!doctype html>";
  std::filesystem::create_directory(dir.path() + "/sub.js");
  auto index = resolve_static(dir.path(), "/");
  ASSERT_TRUE(index);
  EXPECT_EQ(index->path, dir.path() + "/index.html");
  EXPECT_FALSE(resolve_static(dir.path(), "/missing.js"));
  EXPECT_FALSE(resolve_static(dir.path(), "/sub.js"));  // a directory
}

// The core wired together: LocalDevices, OperatorSide and the built-in services.
class CoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(store.put_device("gw", sha256_hex("t"), 1).ok());
    auto c = HubCore::create(store, monitoring, config_store, commands, limits, log);
    ASSERT_TRUE(c.ok());
    core = std::move(*c);
    core->devices().connected(1, "gw", dev);
  }
  void from_op(ConnId id, const ProtoMsg& m) { core->operators().message(id, protocol::encode(m)); }
  void from_dev(const ProtoMsg& m) { core->devices().message(1, protocol::encode(m)); }

  Limits limits;
  Logger log{LogLevel::kError, kProgramName};
  MemoryStore store;
  testing::HeldMonitoringStore monitoring;
  testing::HeldConfigStore config_store;
  testing::HeldCommandStore commands;
  std::unique_ptr<HubCore> core;
  FakeLink dev, op1, op2;
};

TEST_F(CoreTest, SlowOperatorPausesTheDeviceUntilItDrains) {
  core->operators().connected(10, "gw", "alice", op1);
  from_op(10, protocol::make_msg(proto::kShell, "new", "s"));
  op1.queued = limits.queue_high_water + 1;
  from_dev(protocol::make_msg(proto::kShell, "shell", "s", {{"status", 1}}, {'x'}));
  EXPECT_FALSE(dev.receiving);
  op1.queued = 0;
  core->operators().wrote(10);
  EXPECT_TRUE(dev.receiving);
}

// The device link an operator works through is read ahead of the fleet's bulk
// (hub/server/interactive_links.hpp): every session message the hub sends it says
// so; what the services send (acks, config, commands) does not.
TEST_F(CoreTest, SessionMessagesMarkTheDeviceLinkInteractiveAndServiceMessagesDoNot) {
  ASSERT_TRUE(
      core->device_side().send("gw", protocol::make_msg(proto::kConfig, "x", ""), false).ok());
  ASSERT_TRUE(
      core->device_side().send("gw", protocol::make_msg(proto::kMonitoring, "ack", ""), true).ok());
  EXPECT_EQ(dev.interactive_marks, 0);
  core->operators().connected(10, "gw", "alice", op1);
  from_op(10, protocol::make_msg(proto::kShell, "new", "s"));
  EXPECT_EQ(dev.interactive_marks, 1);
  from_op(10, protocol::make_msg(proto::kShell, "shell", "s", {}, {'l', 's'}));
  EXPECT_EQ(dev.interactive_marks, 2);
  for (const auto p : {proto::kFileTransfer, proto::kPortForward}) {
    ASSERT_TRUE(core->device_side().send("gw", protocol::make_msg(p, "x", "s"), false).ok());
  }
  EXPECT_EQ(dev.interactive_marks, 4);
}

TEST_F(CoreTest, OperatorGoneStopsItsShellsOnly) {
  core->operators().connected(10, "gw", "alice", op1);
  core->operators().connected(11, "gw", "bob", op2);
  from_op(10, protocol::make_msg(proto::kShell, "new", "a"));
  from_op(11, protocol::make_msg(proto::kShell, "new", "b"));
  dev.take();
  core->operators().closed(10);
  auto sent = dev.take();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].hdr.typ, "stop");
  EXPECT_EQ(sent[0].hdr.sid, "a");
  EXPECT_EQ(sent[0].hdr.prop_str("user_id"), "alice");
  EXPECT_EQ(op2.closed, 0);
}

TEST_F(CoreTest, DeviceGoneTellsAndClosesOperators) {
  core->operators().connected(10, "gw", "alice", op1);
  from_op(10, protocol::make_msg(proto::kShell, "new", "a"));
  from_op(10, protocol::make_msg(proto::kControl, "open", "r"));
  EXPECT_EQ(dev.take().size(), 2u);
  core->devices().closed(1);
  auto sent = op1.take();
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_EQ(sent[0].hdr.typ, "stop");  // sid "a"
  EXPECT_EQ(sent[0].hdr.prop_int("status"), 2);
  // The routed session ends with the reason on its sid, not a bare `close`.
  EXPECT_EQ(sent[1].hdr.proto, proto::kControl);
  EXPECT_EQ(sent[1].hdr.typ, "error");
  EXPECT_EQ(sent[1].hdr.sid, "r");
  auto ended = protocol::ControlError::decode(sent[1].body);
  ASSERT_TRUE(ended.ok());
  EXPECT_EQ(ended->err, "device disconnected");
  EXPECT_TRUE(ended->close);
  EXPECT_EQ(sent[2].hdr.proto, proto::kControl);
  EXPECT_EQ(sent[2].hdr.typ, "error");
  auto err = protocol::ControlError::decode(sent[2].body);
  ASSERT_TRUE(err.ok());
  EXPECT_EQ(err->err, "device disconnected");
  EXPECT_TRUE(err->close);
  EXPECT_EQ(op1.closed, close_code::kGoingAway);
  EXPECT_FALSE(core->devices().online("gw"));
  EXPECT_EQ(core->operators().operators_of("gw"), 0u);
  core->operators().closed(10);  // later close callback: harmless
  EXPECT_TRUE(dev.take().empty());
}

TEST_F(CoreTest, ANewerLinkTakesTheLease) {
  core->operators().connected(10, "gw", "alice", op1);
  from_op(10, protocol::make_msg(proto::kShell, "new", "a"));
  dev.take();
  FakeLink dev2;
  core->devices().connected(2, "gw", dev2);
  EXPECT_EQ(dev.closed, close_code::kNormal);
  auto told = op1.take();
  ASSERT_EQ(told.size(), 2u);
  auto err = protocol::ControlError::decode(told[1].body);
  ASSERT_TRUE(err.ok());
  EXPECT_EQ(err->err, "device reconnected");
  EXPECT_EQ(op1.closed, close_code::kGoingAway);
  // the old link's late close does not take the device offline
  core->devices().closed(1);
  EXPECT_TRUE(core->devices().online("gw"));
  // and messages go to the new link only
  ASSERT_TRUE(core->devices().send("gw", protocol::make_msg(proto::kControl, "ping"), true).ok());
  EXPECT_EQ(dev2.take().size(), 1u);
  EXPECT_TRUE(dev.take().empty());
}

TEST_F(CoreTest, GarbageAndUnknownProtocolsAreAnsweredAndTheLinkStays) {
  const protocol::Bytes garbage{0xc1, 0x00};
  core->devices().message(1, garbage);
  from_dev(protocol::make_msg(0x7777, "x"));
  auto sent = dev.take();
  ASSERT_EQ(sent.size(), 2u);
  auto malformed = protocol::ControlError::decode(sent[0].body);
  ASSERT_TRUE(malformed.ok());
  EXPECT_EQ(malformed->err.rfind("malformed message", 0), 0u);
  auto unknown = protocol::ControlError::decode(sent[1].body);
  ASSERT_TRUE(unknown.ok());
  EXPECT_EQ(unknown->err, "unknown proto 30583");
  EXPECT_EQ(unknown->msgproto, 0x7777);
  EXPECT_EQ(dev.closed, 0);
  EXPECT_TRUE(core->devices().online("gw"));
}

TEST_F(CoreTest, PresenceIsRecorded) {
  EXPECT_GT(store.devices["gw"].last_seen_ms, 0);
  store.devices["gw"].last_seen_ms = 0;
  core->devices().closed(1);
  EXPECT_GT(store.devices["gw"].last_seen_ms, 0);
}

TEST_F(CoreTest, OperatorsCannotAttachBeyondTheLimitOrToAnOfflineDevice) {
  limits.operators_per_device = 1;
  EXPECT_EQ(core->operators().check_attach("gw"), AttachCheck::kOk);
  core->operators().connected(10, "gw", "alice", op1);
  EXPECT_EQ(core->operators().check_attach("gw"), AttachCheck::kTooManyOperators);
  core->operators().connected(11, "gw", "bob", op2);
  EXPECT_EQ(op2.closed, close_code::kPolicy);
  EXPECT_EQ(core->operators().check_attach("elsewhere"), AttachCheck::kOffline);
}

// Admission decides from headers alone.
class AdmissionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(store.put_device("gw", sha256_hex("tok"), 1).ok());
    ASSERT_TRUE(store.put_device("idle", sha256_hex("tok2"), 1).ok());
    auto c = HubCore::create(store, monitoring, config_store, commands, config.limits, log);
    ASSERT_TRUE(c.ok());
    core = std::move(*c);
    rig = std::make_unique<testing::ApiRig>(store, core->devices(), core->operators(),
                                            core->services(), core->audit(), log);
    admission = std::make_unique<AdmissionControl>(store, rig->api, core->operators(), log);
    core->devices().connected(1, "gw", dev);
    cookie = rig->session_for("admin");
  }
  UpgradeRequest op(const std::string& device) {
    UpgradeRequest r;
    r.uri = "/api/management/v1/deviceconnect/devices/" + device + "/connect";
    r.session_cookie = cookie;
    r.origin = "https://hub:1";
    r.host = "hub:1";
    return r;
  }

  HubConfig config;
  Logger log{LogLevel::kError, kProgramName};
  MemoryStore store;
  testing::HeldMonitoringStore monitoring;
  testing::HeldConfigStore config_store;
  testing::HeldCommandStore commands;
  std::unique_ptr<HubCore> core;
  std::unique_ptr<testing::ApiRig> rig;
  std::unique_ptr<AdmissionControl> admission;
  FakeLink dev;
  std::string cookie;
};

TEST_F(AdmissionTest, Devices) {
  UpgradeRequest r;
  r.uri = "/api/devices/v1/deviceconnect/connect";
  EXPECT_EQ(admission->admit(r).status, 401u);
  r.authorization = "Bearer tok";
  const Admission a = admission->admit(r);
  EXPECT_EQ(a.status, 0u);
  EXPECT_EQ(a.kind, PeerKind::kDevice);
  EXPECT_EQ(a.device_id, "gw");
  for (const char* bad : {"Bearer nope", "Bearer ", "Bearer    ", "Basic tok", "bearer tok"}) {
    r.authorization = bad;
    EXPECT_EQ(admission->admit(r).status, 401u) << bad;
  }
  r.uri = "/api/devices/v1/other";
  EXPECT_EQ(admission->admit(r).status, 404u);
  EXPECT_EQ(admission->admit(UpgradeRequest{}).status, 404u);
}

TEST_F(AdmissionTest, Operators) {
  Admission a = admission->admit(op("gw"));
  EXPECT_EQ(a.status, 0u);
  EXPECT_EQ(a.kind, PeerKind::kOperator);
  EXPECT_EQ(a.user, "admin");
  EXPECT_EQ(a.role, Role::kAdmin);
  EXPECT_EQ(a.device_id, "gw");
  EXPECT_EQ(admission->admit(op("idle")).status, 409u);
  EXPECT_EQ(admission->admit(op("nope")).status, 404u);
  EXPECT_EQ(admission->admit(op("..")).status, 404u);
  UpgradeRequest r = op("gw");
  r.origin = "https://evil";
  EXPECT_EQ(admission->admit(r).status, 403u);
  r = op("gw");
  r.origin.reset();  // not a browser: no Origin to check
  EXPECT_EQ(admission->admit(r).status, 0u);
  r.session_cookie = "forged";
  EXPECT_EQ(admission->admit(r).status, 401u);
  for (std::size_t i = 0; i < config.limits.operators_per_device; ++i) {
    core->operators().connected(100 + i, "gw", "admin", dev);
  }
  EXPECT_EQ(admission->admit(op("gw")).status, 429u);
}

}  // namespace
}  // namespace tether::hub
