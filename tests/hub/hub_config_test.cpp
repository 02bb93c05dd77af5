// The config service (proto 0x0011) on its own: a fake device side, a config store
// whose commits the test releases, and the JSON routes called with a Caller of
// each role. Plus the SQL config store on each back end, and on a config.db from
// before the port.
#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "hub/loop_inbox.hpp"
#include "hub/operators/operator_side.hpp"
#include "hub/services/config_json.hpp"
#include "hub/services/config_service.hpp"
#include "hub/services/service_registry.hpp"
#include "hub/store/sql_config_store.hpp"
#include "protocol/codec.hpp"
#include "protocol/config.hpp"
#include "protocol/control.hpp"
#include "tests/hub/command_fakes.hpp"
#include "tests/hub/hub_fakes.hpp"
#include "tests/hub/legacy_sqlite_file.hpp"
#include "tests/support/sql_store.hpp"

namespace tether::hub {
namespace {

using Json = nlohmann::json;
using protocol::ProtoMsg;
namespace proto = protocol::proto;

class ConfigServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(store.put_device("gw", "h", 1).ok());
    ASSERT_TRUE(store.put_device("idle", "h2", 1).ok());
    devices.set_online("gw", true);
    auto added = registry.emplace<ConfigService>({proto::kConfig}, context);
    ASSERT_TRUE(added.ok());
    service = *added;
  }

  HttpResponse call(const std::string& method, const std::string& path,
                    const std::string& body = {}, Role role = Role::kOperator,
                    const std::string& content_type = "application/json") {
    HttpRequest r;
    r.method = method;
    const auto q = path.find('?');
    r.path = path.substr(0, q);
    if (q != std::string::npos) {
      const std::string query = path.substr(q + 1);
      const auto eq = query.find('=');
      r.query[query.substr(0, eq)] = query.substr(eq + 1);
    }
    r.content_type = content_type;
    r.body = body;
    auto res = service->handle(r, Caller{"alice", role});
    EXPECT_TRUE(res.has_value()) << path;
    return res.value_or(HttpResponse{0, {}, {}});
  }
  HttpResponse push(const std::string& body, const std::string& device = "gw") {
    return call("POST", "/api/devices/" + device + "/config", body);
  }
  Json get(const std::string& device = "gw") {
    auto res = call("GET", "/api/devices/" + device + "/config", {}, Role::kViewer);
    EXPECT_EQ(res.status, 200u) << res.body;
    return Json::parse(res.body);
  }
  // Lets the store commit and the loop run the completions.
  void commit() {
    config_store.commit();
    inbox.run_pending();
  }
  void from_dev(const char* typ, protocol::Bytes body, const std::string& device = "gw") {
    ProtoMsg m = protocol::make_msg(proto::kConfig, typ, {}, {}, std::move(body));
    ASSERT_TRUE(registry.device_message(device, m));
  }
  // The `set`s sent to the device (anything else fails the test).
  std::vector<protocol::ConfigSet> sets(const std::string& device = "gw") {
    std::vector<protocol::ConfigSet> out;
    for (const auto& m : devices.take(device)) {
      EXPECT_EQ(m.hdr.proto, proto::kConfig);
      EXPECT_EQ(m.hdr.typ, "set");
      auto set = protocol::ConfigSet::decode(m.body);
      EXPECT_TRUE(set.ok());
      if (set.ok()) out.push_back(*set);
    }
    return out;
  }
  void online(const std::string& device, bool on) {
    devices.set_online(device, on);
    if (on) {
      registry.device_online(device);
    } else {
      registry.device_offline(device);
    }
  }
  static std::string error_of(const HttpResponse& res) {
    auto j = Json::parse(res.body, nullptr, false);
    return j.is_object() && j.contains("error") ? j["error"].get<std::string>() : res.body;
  }

  Limits limits;
  Logger log{LogLevel::kError, kProgramName};
  testing::MemoryStore store;
  testing::HeldMonitoringStore monitoring;
  testing::HeldConfigStore config_store;
  LoopInbox inbox;
  testing::FakeDeviceSide devices;
  ServiceRegistry registry;
  OperatorSide operators{devices, registry, limits, log};
  testing::HeldCommandStore commands;
  ServiceContext context{devices,    operators, store,        limits,  log,
                         monitoring, inbox,     config_store, commands};
  ConfigService* service = nullptr;
};

TEST_F(ConfigServiceTest, APushIsSentAfterItsCommitAndAppliedWhenTheDeviceSaysSo) {
  auto res = push(R"({"values": {"rate": 5, "name": "north", "tags": ["a", 1.5, null]}})");
  ASSERT_EQ(res.status, 202u) << res.body;
  auto answer = Json::parse(res.body);
  EXPECT_EQ(answer["version"], 1);
  EXPECT_EQ(answer["state"], "pending");
  EXPECT_EQ(answer["pushed_by"], "alice");
  inbox.run_pending();
  EXPECT_TRUE(devices.take("gw").empty());  // not before the commit
  commit();
  auto sent = sets();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].version, 1u);
  EXPECT_EQ(sent[0].replace, std::optional<bool>(true));
  EXPECT_EQ(protocol::find(sent[0].values, "rate")->as_int(), 5);
  EXPECT_EQ(*protocol::find(sent[0].values, "name")->as_str(), "north");
  const auto* tags = protocol::find(sent[0].values, "tags")->as_array();
  ASSERT_NE(tags, nullptr);
  EXPECT_EQ((*tags)[1].as_float(), 1.5);
  EXPECT_TRUE((*tags)[2].is_nil());
  EXPECT_EQ(get()["state"], "pending");
  from_dev("applied", protocol::ConfigApplied{1}.encode());
  auto now = get();
  EXPECT_EQ(now["state"], "applied");
  EXPECT_EQ(now["version"], 1);
  EXPECT_EQ(now["document"]["rate"], 5);
  EXPECT_FALSE(now["answered_at"].is_null());
  EXPECT_EQ(now["reported"]["version"], 1);
  EXPECT_EQ(now["reported"]["values"]["name"], "north");
  EXPECT_TRUE(devices.take("gw").empty());
}

TEST_F(ConfigServiceTest, ADeviceErrorIsKeptWithItsReason) {
  ASSERT_EQ(push(R"({"values": {"x": 1}})").status, 202u);
  commit();
  ASSERT_EQ(sets().size(), 1u);
  from_dev("error",
           protocol::ConfigError{1, "values.x: nested deeper than config.max-depth (0)"}.encode());
  auto now = get();
  EXPECT_EQ(now["state"], "error");
  EXPECT_EQ(now["reason"], "values.x: nested deeper than config.max-depth (0)");
  // Not sent again on the next connect: the device answered.
  online("gw", false);
  online("gw", true);
  EXPECT_TRUE(devices.take("gw").empty());
}

TEST_F(ConfigServiceTest, APushWhileOfflineIsDeliveredOnEveryConnectUntilAnswered) {
  online("gw", false);
  ASSERT_EQ(push(R"({"values": {"mode": "eco"}})").status, 202u);
  commit();
  EXPECT_TRUE(devices.take("gw").empty());
  online("gw", true);
  auto sent = sets();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].version, 1u);
  // The link drops before the answer: the next connect sends it again.
  online("gw", false);
  online("gw", true);
  ASSERT_EQ(sets().size(), 1u);
  // `current` of the old version right after connect does not send it twice.
  from_dev("current", protocol::ConfigCurrent{0, {}}.encode());
  EXPECT_TRUE(devices.take("gw").empty());
  from_dev("applied", protocol::ConfigApplied{1}.encode());
  online("gw", false);
  online("gw", true);
  EXPECT_TRUE(devices.take("gw").empty());
  EXPECT_EQ(get()["state"], "applied");
}

TEST_F(ConfigServiceTest, CurrentShowingThePendingVersionMeansItWasApplied) {
  ASSERT_EQ(push(R"({"values": {"a": true}})").status, 202u);
  commit();
  sets();
  online("gw", false);  // the applied answer is lost with the link
  devices.set_online("gw", true);
  from_dev("current", protocol::ConfigCurrent{1, {{"a", true}}}.encode());
  registry.device_online("gw");  // the lease event may come after: nothing to send
  EXPECT_TRUE(devices.take("gw").empty());
  EXPECT_EQ(get()["state"], "applied");
}

TEST_F(ConfigServiceTest, AnswersForOtherVersionsChangeNothing) {
  ASSERT_EQ(push(R"({"values": {"a": 1}})").status, 202u);
  commit();
  from_dev("applied", protocol::ConfigApplied{1}.encode());
  ASSERT_EQ(push(R"({"values": {"a": 2}})").status, 202u);
  commit();
  auto sent = sets();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[1].version, 2u);
  from_dev("applied", protocol::ConfigApplied{1}.encode());  // old answer
  from_dev("error", protocol::ConfigError{1, "late"}.encode());
  from_dev("error", protocol::ConfigError{0, "too many config messages waiting"}.encode());
  EXPECT_EQ(get()["state"], "pending");
  from_dev("applied", protocol::ConfigApplied{2}.encode());
  EXPECT_EQ(get()["state"], "applied");
  // A repeated answer changes nothing either.
  from_dev("error", protocol::ConfigError{2, "late"}.encode());
  EXPECT_EQ(get()["state"], "applied");
}

TEST_F(ConfigServiceTest, ADeviceHoldingANewerVersionMakesThePushAnErrorAndIsAsked) {
  ASSERT_EQ(push(R"({"values": {"a": 1}})").status, 202u);
  commit();
  sets();
  // The device answers with its stored version: it did not apply ours.
  from_dev("applied", protocol::ConfigApplied{9}.encode());
  auto now = get();
  EXPECT_EQ(now["state"], "error");
  EXPECT_NE(now["reason"].get<std::string>().find("version 9"), std::string::npos);
  auto asked = devices.take("gw");
  ASSERT_EQ(asked.size(), 1u);
  EXPECT_EQ(asked[0].hdr.typ, "get");
  from_dev("current", protocol::ConfigCurrent{9, {{"b", "kept"}}}.encode());
  // The next push goes above the device's version and merges into what it holds.
  auto res = push(R"({"values": {"c": 3}})");
  ASSERT_EQ(res.status, 202u) << res.body;
  EXPECT_EQ(Json::parse(res.body)["version"], 10);
  EXPECT_EQ(Json::parse(res.body)["document"], Json::parse(R"({"b": "kept", "c": 3})"));
  commit();
  ASSERT_EQ(sets().at(0).version, 10u);
}

TEST_F(ConfigServiceTest, MergeReplaceDeleteAndVersionsAboveTheDevice) {
  from_dev("current", protocol::ConfigCurrent{7, {{"x", 1}, {"y", "old"}}}.encode());
  auto merged = push(R"({"values": {"y": "new", "z": {"deep": [1, 2]}}})");
  ASSERT_EQ(merged.status, 202u) << merged.body;
  EXPECT_EQ(Json::parse(merged.body)["version"], 8);
  EXPECT_EQ(Json::parse(merged.body)["document"],
            Json::parse(R"({"x": 1, "y": "new", "z": {"deep": [1, 2]}})"));
  auto deleted = push(R"({"values": {"x": null}})");
  EXPECT_EQ(Json::parse(deleted.body)["document"],
            Json::parse(R"({"y": "new", "z": {"deep": [1, 2]}})"));
  auto replaced = push(R"({"values": {"only": 1}, "replace": true})");
  EXPECT_EQ(Json::parse(replaced.body)["version"], 10);
  EXPECT_EQ(Json::parse(replaced.body)["document"], Json::parse(R"({"only": 1})"));
  EXPECT_EQ(Json::parse(replaced.body)["mode"], "replace");
  // Only the newest is delivered; the others were superseded before any answer.
  commit();
  auto sent = sets();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].version, 10u);
  EXPECT_EQ(sent[0].values, (protocol::Map{{"only", 1}}));
  auto history = call("GET", "/api/devices/gw/config/history", {}, Role::kViewer);
  ASSERT_EQ(history.status, 200u);
  auto rows = Json::parse(history.body);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0]["version"], 10);
  EXPECT_EQ(rows[0]["state"], "pending");
  EXPECT_EQ(rows[1]["version"], 9);
  EXPECT_EQ(rows[1]["state"], "superseded");
  EXPECT_EQ(rows[2]["pushed_by"], "alice");
  EXPECT_EQ(rows[2]["mode"], "merge");
  auto limited = call("GET", "/api/devices/gw/config/history?limit=1", {}, Role::kViewer);
  EXPECT_EQ(Json::parse(limited.body).size(), 1u);
}

TEST_F(ConfigServiceTest, ExpectVersionRefusesAConcurrentPush) {
  ASSERT_EQ(push(R"({"values": {"a": 1}, "expect_version": 0})").status, 202u);
  auto stale = push(R"({"values": {"a": 2}, "expect_version": 0})");
  EXPECT_EQ(stale.status, 409u);
  EXPECT_NE(error_of(stale).find("version 1"), std::string::npos);
  EXPECT_EQ(push(R"({"values": {"a": 2}, "expect_version": 1})").status, 202u);
}

TEST_F(ConfigServiceTest, AFailedCommitIsNotSentAndIsForgotten) {
  ASSERT_EQ(push(R"({"values": {"a": 1}})").status, 202u);
  config_store.fail();
  inbox.run_pending();
  EXPECT_TRUE(devices.take("gw").empty());
  EXPECT_EQ(get()["state"], "none");
}

TEST_F(ConfigServiceTest, CompletionsAfterTheServiceIsGoneDoNothing) {
  ASSERT_EQ(push(R"({"values": {"a": 1}})").status, 202u);
  config_store.commit();
  registry = ServiceRegistry();
  EXPECT_EQ(inbox.run_pending(), 1u);
  EXPECT_TRUE(devices.take("gw").empty());
}

TEST_F(ConfigServiceTest, BadBodiesAreRefusedWithASentence) {
  struct Case {
    std::string body;
    std::string says;
  };
  const std::string deep =
      R"({"values": {"d": )" + std::string(17, '[') + std::string(17, ']') + "}}";
  const std::string deeper = std::string(5000, '[') + std::string(5000, ']');
  const std::vector<Case> cases = {
      {"", "not complete JSON"},
      {"garbage", "not valid JSON"},
      {R"({"values": {"a": 1)", "not complete JSON"},      // truncated
      {R"({"values": {"a": "\xff"}})", "not valid JSON"},  // not UTF-8
      {"[1, 2]", "must be a JSON object"},
      {"{}", "values is missing"},
      {R"({"values": [1]})", "values must be a JSON object"},
      {R"({"values": "a=1"})", "values must be a JSON object"},
      {R"({"values": {}, "replace": "yes"})", "replace must be true or false"},
      {R"({"values": {}, "expect_version": -1})", "expect_version"},
      {R"({"values": {}, "expect_version": "1"})", "expect_version"},
      {R"({"values": {}, "merge": true})", "unknown field 'merge'"},
      {R"({"values": {"gone": null}, "replace": true})", "leave the key out of a replace"},
      {deep, "nested deeper than 16"},
      {deeper, "nested deeper than 16"},
      {R"({"values": {")" + std::string(300, 'k') + R"(": 1}})", "longer than 256 bytes"},
      {R"({"values": {"big": ")" + std::string(17000, 'x') + R"("}})", "over the limit of 16384"},
  };
  for (const auto& c : cases) {
    auto res = push(c.body);
    EXPECT_EQ(res.status, 400u) << c.body.substr(0, 80);
    EXPECT_NE(error_of(res).find(c.says), std::string::npos)
        << c.body.substr(0, 80) << " -> " << error_of(res);
  }
  // Depth 16 itself is fine.
  const std::string ok =
      R"({"values": {"d": )" + std::string(16, '[') + std::string(16, ']') + "}}";
  EXPECT_EQ(push(ok).status, 202u);
  // A document that grows over the limit through merges is refused as a whole.
  const std::string chunk(15000, 'x');
  for (int i = 0;; ++i) {
    auto res = push(R"({"values": {"k)" + std::to_string(i) + R"(": ")" + chunk + R"("}})");
    if (res.status != 202u) {
      EXPECT_EQ(res.status, 400u);
      EXPECT_NE(error_of(res).find("over the limit of 65536"), std::string::npos) << res.body;
      break;
    }
    ASSERT_LT(i, 10);
  }
  // Not JSON at all: 415.
  EXPECT_EQ(call("POST", "/api/devices/gw/config", "a=1", Role::kOperator, "text/plain").status,
            415u);
}

TEST_F(ConfigServiceTest, RolesRoutesAndUnknownDevices) {
  auto refused = call("POST", "/api/devices/gw/config", R"({"values": {}})", Role::kViewer);
  EXPECT_EQ(refused.status, 403u);
  EXPECT_EQ(error_of(refused), "forbidden: the operator role is needed");
  EXPECT_TRUE(config_store.versions.empty());
  EXPECT_EQ(call("GET", "/api/devices/gw/config", {}, Role::kViewer).status, 200u);
  EXPECT_EQ(call("GET", "/api/devices/gw/config/history", {}, Role::kViewer).status, 200u);
  EXPECT_EQ(call("GET", "/api/devices/nope/config", {}, Role::kViewer).status, 404u);
  EXPECT_EQ(push(R"({"values": {}})", "nope").status, 404u);
  EXPECT_EQ(push(R"({"values": {}})", "bad%20id").status, 404u);
  EXPECT_EQ(call("DELETE", "/api/devices/gw/config").status, 405u);
  EXPECT_EQ(call("POST", "/api/devices/gw/config/history", "{}").status, 405u);
  EXPECT_EQ(call("GET", "/api/devices/gw/config/history?limit=x", {}, Role::kViewer).status, 400u);
  EXPECT_EQ(call("GET", "/api/devices/gw/config/history?limit=0", {}, Role::kViewer).status, 400u);
  HttpRequest other;
  other.method = "GET";
  other.path = "/api/devices/gw/telemetry";
  EXPECT_FALSE(service->handle(other, Caller{"a", Role::kAdmin}).has_value());
  auto fresh = get("idle");
  EXPECT_EQ(fresh["state"], "none");
  EXPECT_EQ(fresh["version"], 0);
  EXPECT_TRUE(fresh["reported"].is_null());
  EXPECT_FALSE(fresh["online"].get<bool>());
}

TEST_F(ConfigServiceTest, BadDeviceBodiesAreControlErrorsAndChangeNothing) {
  ASSERT_EQ(push(R"({"values": {"a": 1}})").status, 202u);
  commit();
  sets();
  from_dev("applied", {0xc1});
  from_dev("applied", {});
  from_dev("error", {0x81, 0xa7});  // truncated
  from_dev("current", protocol::encode_value(protocol::Value(protocol::Map{{"version", "x"}})));
  from_dev("set", {});
  auto sent = devices.take("gw");
  ASSERT_EQ(sent.size(), 5u);
  for (const auto& m : sent) {
    EXPECT_EQ(m.hdr.proto, proto::kControl);
    auto e = protocol::ControlError::decode(m.body);
    ASSERT_TRUE(e.ok());
    EXPECT_FALSE(e->close);
  }
  EXPECT_EQ(get()["state"], "pending");
  EXPECT_TRUE(config_store.reports.empty());
}

TEST_F(ConfigServiceTest, TheReportedConfigIsShownAsJson) {
  protocol::Map values{{"bin", protocol::Bytes{1, 2, 3}},
                       {"nan", std::numeric_limits<double>::quiet_NaN()},
                       {"big", std::uint64_t{1} << 63U},
                       {"f", 1.0},
                       {"nested", protocol::Map{{"s", "x\xff"}}}};
  from_dev("current", protocol::ConfigCurrent{3, values}.encode());
  auto reported = get()["reported"];
  EXPECT_EQ(reported["version"], 3);
  EXPECT_EQ(reported["values"]["bin"], "AQID");
  EXPECT_TRUE(reported["values"]["nan"].is_null());
  EXPECT_EQ(reported["values"]["big"].get<std::uint64_t>(), std::uint64_t{1} << 63U);
  EXPECT_TRUE(reported["values"]["f"].is_number_float());
  EXPECT_EQ(reported["values"]["nested"]["s"], "x\xef\xbf\xbd");
}

TEST_F(ConfigServiceTest, OperatorsMayNotSendConfigOnTheirSocket) {
  testing::FakeLink alice;
  operators.connected(1, "gw", "alice", alice);
  operators.message(1,
                    protocol::encode(protocol::make_msg(proto::kConfig, "set", {}, {},
                                                        protocol::ConfigSet{1, {}, {}}.encode())));
  EXPECT_TRUE(devices.take("gw").empty());
  auto refused = alice.take();
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(refused[0].hdr.typ, "error");
}

TEST(ConfigJson, DocumentsConvertBothWays) {
  auto values = config_json::to_msgpack(
      R"({"i": -3, "u": 18446744073709551615, "f": 2.5, "b": false, "s": "é", "a": [], "m": {}})");
  ASSERT_TRUE(values.ok());
  EXPECT_EQ(protocol::find(*values, "i")->as_int(), -3);
  EXPECT_EQ(protocol::find(*values, "u")->as_uint(), UINT64_MAX);
  EXPECT_EQ(protocol::find(*values, "f")->as_float(), 2.5);
  EXPECT_EQ(protocol::find(*values, "b")->as_bool(), false);
  EXPECT_TRUE(protocol::find(*values, "a")->is_array());
  EXPECT_TRUE(protocol::find(*values, "m")->is_map());
  EXPECT_EQ(Json::parse(config_json::to_json(*values)),
            Json::parse(R"({"i": -3, "u": 18446744073709551615, "f": 2.5, "b": false, "s": "é",
                           "a": [], "m": {}})"));
  EXPECT_FALSE(config_json::to_msgpack("[1]").ok());
  EXPECT_FALSE(config_json::to_msgpack("{").ok());
}

// ------------------------------------------------------------------ SQL store

class SqlConfigStoreTest : public ::testing::TestWithParam<test::SqlBackend> {
 protected:
  void SetUp() override {
    auto made = test::SqlTestStore::create(GetParam());
    ASSERT_TRUE(made.ok()) << made.error().message();
    scratch = std::move(*made);
  }
  std::unique_ptr<SqlConfigStore> open() {
    auto s = SqlConfigStore::open(scratch->url());
    EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message());
    return s.ok() ? std::move(*s) : nullptr;
  }
  static ConfigVersion version(std::uint64_t v, ConfigState state = ConfigState::kPending) {
    ConfigVersion out;
    out.version = v;
    out.document_json = R"({"v":)" + std::to_string(v) + "}";
    out.mode = "merge";
    out.pushed_by = "alice";
    out.pushed_ms = 1000 + static_cast<std::int64_t>(v);
    out.state = state;
    return out;
  }
  std::unique_ptr<test::SqlTestStore> scratch;
};

INSTANTIATE_TEST_SUITE_P(EachBackEnd, SqlConfigStoreTest, test::kBothSqlBackends,
                         test::sql_backend_name);

TEST_P(SqlConfigStoreTest, ReadsSeeQueuedWritesAndEverythingSurvivesAReopen) {
  {
    auto store = open();
    ASSERT_TRUE(store);
    std::atomic<int> committed{0};
    store->put_version("gw", version(1), [&](const Status& s) {
      EXPECT_TRUE(s.ok());
      ++committed;
    });
    // Read-your-writes, committed or not.
    auto latest = store->latest("gw");
    ASSERT_TRUE(latest.ok());
    ASSERT_TRUE(latest->has_value());
    EXPECT_EQ((*latest)->version, 1u);
    auto applied = version(1, ConfigState::kApplied);
    applied.answered_ms = 5;
    store->put_version("gw", applied, {});
    store->put_version("gw", version(2), {});
    store->put_reported("gw", ReportedConfig{1, R"({"v":1})", 7});
    EXPECT_EQ((*store->latest("gw"))->version, 2u);
    EXPECT_EQ((*store->history("gw", 10))[1].state, ConfigState::kApplied);
    EXPECT_EQ((*store->reported("gw"))->version, 1u);
    ASSERT_TRUE(store->flush().ok());
    EXPECT_EQ(committed.load(), 1);
    EXPECT_FALSE(store->latest("other")->has_value());
    EXPECT_FALSE(store->reported("other")->has_value());
  }
  auto store = open();
  ASSERT_TRUE(store);
  auto rows = store->history("gw", 10);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].version, 2u);
  EXPECT_EQ((*rows)[0].state, ConfigState::kPending);
  EXPECT_EQ((*rows)[1].state, ConfigState::kApplied);
  EXPECT_EQ((*rows)[1].answered_ms, 5);
  EXPECT_EQ((*rows)[1].pushed_by, "alice");
  EXPECT_EQ((*rows)[1].document_json, R"({"v":1})");
  auto reported = store->reported("gw");
  ASSERT_TRUE(reported.ok() && reported->has_value());
  EXPECT_EQ((*reported)->values_json, R"({"v":1})");
  EXPECT_EQ((*reported)->at_ms, 7);
}

TEST_P(SqlConfigStoreTest, HistoryIsBoundedPerDevice) {
  auto store = open();
  ASSERT_TRUE(store);
  const auto n = ConfigStore::kMaxHistory + 5;
  for (std::uint64_t v = 1; v <= n; ++v) store->put_version("gw", version(v), {});
  store->put_version("other", version(1), {});
  ASSERT_TRUE(store->flush().ok());
  auto rows = store->history("gw", 1000);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), ConfigStore::kMaxHistory);
  EXPECT_EQ(rows->front().version, n);
  EXPECT_EQ(rows->back().version, n - ConfigStore::kMaxHistory + 1);
  EXPECT_EQ(store->history("other", 10)->size(), 1u);
}

TEST_P(SqlConfigStoreTest, EveryBitOfAVersionAndAnyTextRoundTrip) {
  // A device may report any 64-bit version; the column is a signed INTEGER.
  const std::uint64_t huge = std::numeric_limits<std::uint64_t>::max();
  ConfigVersion odd = version(1);
  odd.document_json = R"({"q":"it's \"quoted\"; DROP TABLE x; -- é"})";
  odd.reason = "";
  {
    auto store = open();
    ASSERT_TRUE(store);
    store->put_version("gw's", odd, {});
    store->put_reported("gw's", ReportedConfig{huge, "{}", -5});
    ASSERT_TRUE(store->flush().ok());
  }
  auto store = open();
  ASSERT_TRUE(store);
  auto reported = store->reported("gw's");
  ASSERT_TRUE(reported.ok() && reported->has_value());
  EXPECT_EQ((*reported)->version, huge);
  EXPECT_EQ((*reported)->at_ms, -5);
  auto latest = store->latest("gw's");
  ASSERT_TRUE(latest.ok() && latest->has_value());
  EXPECT_EQ((*latest)->document_json, odd.document_json);
  // A newer report replaces the row.
  store->put_reported("gw's", ReportedConfig{2, R"({"b":2})", 9});
  ASSERT_TRUE(store->flush().ok());
  EXPECT_EQ((*store->reported("gw's"))->values_json, R"({"b":2})");
  // A limit beyond what both engines take still reads everything.
  EXPECT_EQ(store->history("gw's", std::numeric_limits<std::size_t>::max())->size(), 1u);
  EXPECT_TRUE(store->history("gw's", 0)->empty());
}

// PostgreSQL restarts under the store: the writer's and the reader's connections
// are gone; the store reconnects and runs the batch and the read once more, so
// neither the operator nor the device sees an error.
TEST(SqlConfigStorePostgres, AServerRestartCostsNoWriteAndNoRead) {
  auto made = test::SqlTestStore::create(test::SqlBackend::kPostgres);
  ASSERT_TRUE(made.ok()) << made.error().message();
  auto store = SqlConfigStore::open((*made)->url());
  ASSERT_TRUE(store.ok()) << store.error().message();
  ConfigVersion v;
  v.version = 1;
  (*store)->put_version("gw", v, {});
  ASSERT_TRUE((*store)->flush().ok());
  ASSERT_TRUE((*store)->latest("gw").ok());
  ASSERT_TRUE((*made)->postgres()->restart().ok());
  std::optional<Status> committed;
  v.version = 2;
  (*store)->put_version("gw", v, [&](const Status& s) { committed = s; });
  ASSERT_TRUE((*store)->flush().ok());
  ASSERT_TRUE(committed.has_value());
  EXPECT_TRUE(committed->ok()) << committed->error().message();
  auto rows = (*store)->history("gw", 10);
  ASSERT_TRUE(rows.ok()) << rows.error().message();
  EXPECT_EQ(rows->size(), 2u);
}

// A state dir from before the SQL port: config.db made by the old code's schema.
TEST(SqlConfigStoreLegacy, AnOldConfigDbOpensWithItsRows) {
  auto made = test::SqlTestStore::create(test::SqlBackend::kSqlite);
  ASSERT_TRUE(made.ok()) << made.error().message();
  const auto& scratch = *made;
  const auto file = std::filesystem::path(scratch->url().sqlite_dir) / "config.db";
  ASSERT_EQ(
      testing::write_legacy_sqlite(
          file, {"PRAGMA journal_mode=WAL",
                 "CREATE TABLE IF NOT EXISTS config_versions ("
                 " device TEXT NOT NULL, version INTEGER NOT NULL, document TEXT NOT NULL,"
                 " mode TEXT NOT NULL, pushed_by TEXT NOT NULL, pushed_ms INTEGER NOT NULL,"
                 " state TEXT NOT NULL, reason TEXT NOT NULL, answered_ms INTEGER NOT NULL,"
                 " PRIMARY KEY(device, version))",
                 "CREATE TABLE IF NOT EXISTS config_reported ("
                 " device TEXT PRIMARY KEY, version INTEGER NOT NULL, vals TEXT NOT NULL,"
                 " at_ms INTEGER NOT NULL)",
                 "INSERT INTO config_versions VALUES('gw', 3, '{\"a\":1}', 'replace', 'bob', 10,"
                 " 'applied', '', 11)",
                 "INSERT INTO config_reported VALUES('gw', 3, '{\"a\":1}', 12)"}),
      "");
  {
    auto store = SqlConfigStore::open(scratch->url());
    ASSERT_TRUE(store.ok()) << store.error().message();
    auto latest = (*store)->latest("gw");
    ASSERT_TRUE(latest.ok() && latest->has_value());
    EXPECT_EQ((*latest)->version, 3u);
    EXPECT_EQ((*latest)->state, ConfigState::kApplied);
    EXPECT_EQ((*latest)->mode, "replace");
    EXPECT_EQ((*(*store)->reported("gw"))->at_ms, 12);
    ConfigVersion next;
    next.version = 4;
    next.mode = "merge";
    (*store)->put_version("gw", next, {});
    ASSERT_TRUE((*store)->flush().ok());
  }
  // Opened again: the migration is not applied twice, and both rows are there.
  auto store = SqlConfigStore::open(scratch->url());
  ASSERT_TRUE(store.ok()) << store.error().message();
  EXPECT_EQ((*store)->history("gw", 10)->size(), 2u);
}

TEST(ConfigStateTest, StatesHaveNames) {
  for (ConfigState s : {ConfigState::kPending, ConfigState::kApplied, ConfigState::kError,
                        ConfigState::kSuperseded}) {
    EXPECT_EQ(parse_config_state(config_state_name(s)), s);
  }
  EXPECT_FALSE(parse_config_state("done").has_value());
}

}  // namespace
}  // namespace tether::hub
