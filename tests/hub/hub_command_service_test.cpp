// The command service (proto 0x0013) on its own: a fake device side, a command
// store whose commits happen when the test says so, and the JSON API called
// directly with callers of each role. Plus the SQL command store on each back end,
// and on a commands.db from before the port.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "hub/loop_inbox.hpp"
#include "hub/operators/operator_side.hpp"
#include "hub/services/command_service.hpp"
#include "hub/services/service_registry.hpp"
#include "hub/store/sql_command_store.hpp"
#include "protocol/codec.hpp"
#include "protocol/command.hpp"
#include "protocol/control.hpp"
#include "tests/hub/command_fakes.hpp"
#include "tests/hub/hub_fakes.hpp"
#include "tests/hub/legacy_sqlite_file.hpp"
#include "tests/support/sql_store.hpp"

namespace tether::hub {
namespace {

using nlohmann::json;
using protocol::Map;
using protocol::ProtoMsg;
using protocol::Value;
namespace proto = protocol::proto;
namespace wire = protocol::command;

class CommandServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    devices.set_online("gw", true);
    ASSERT_TRUE(store.put_device("gw", "hash", 1).ok());
    ASSERT_TRUE(store.put_device("idle", "hash2", 1).ok());
    start();
  }
  // (Re)creates the service from the store, as a hub restart does.
  void start() {
    registry = std::make_unique<ServiceRegistry>();
    operators = std::make_unique<OperatorSide>(devices, *registry, limits, log);
    context = std::make_unique<ServiceContext>(ServiceContext{
        devices, *operators, store, limits, log, monitoring, inbox, config_store, commands});
    auto added = registry->emplace<CommandService>({proto::kCommand}, *context);
    ASSERT_TRUE(added.ok());
    service = *added;
  }
  // The store commits what it holds and the loop runs the completions.
  void commit() {
    commands.commit();
    inbox.run_pending();
  }
  void from_dev(const ProtoMsg& m) {
    ProtoMsg copy = m;
    ASSERT_TRUE(registry->device_message("gw", copy));
  }
  void result(const std::string& id, const std::string& status, std::optional<Map> ret = {},
              std::optional<std::string> err = {}) {
    from_dev(protocol::make_msg(
        proto::kCommand, wire::kResult, {}, {},
        wire::ResultBody{id, status, std::move(ret), std::move(err), 1234}.encode()));
  }
  void drop() {
    devices.set_online("gw", false);
    registry->device_offline("gw");
  }
  void reconnect() {
    devices.set_online("gw", true);
    registry->device_online("gw");
  }

  HttpResponse call(const std::string& method, const std::string& path,
                    const std::string& body = "", Role role = Role::kOperator,
                    const std::string& type = "application/json") {
    HttpRequest req{method, path, std::nullopt, type, body};
    auto pos = path.find('?');
    if (pos != std::string::npos) {
      req.path = path.substr(0, pos);
      const std::string q = path.substr(pos + 1);
      const auto eq = q.find('=');
      req.query[q.substr(0, eq)] = q.substr(eq + 1);
    }
    auto res = service->handle(req, Caller{role == Role::kViewer ? "vera" : "otto", role});
    EXPECT_TRUE(res.has_value()) << path;
    return res.value_or(HttpResponse{0, "", ""});
  }
  // POSTs a command and returns its id.
  std::string post(const json& body, const std::string& device = "gw") {
    auto res = call("POST", "/api/devices/" + device + "/commands", body.dump());
    EXPECT_EQ(res.status, 202u) << res.body;
    return json::parse(res.body).value("id", "");
  }
  json get(const std::string& id) {
    auto res = call("GET", "/api/devices/gw/commands/" + id, "", Role::kViewer);
    EXPECT_EQ(res.status, 200u) << res.body;
    return json::parse(res.body, nullptr, false);
  }
  // What the device was sent, decoded by typ.
  std::vector<wire::Request> requests() {
    std::vector<wire::Request> out;
    for (const auto& m : devices.take("gw")) {
      EXPECT_EQ(m.hdr.typ, wire::kRequest);
      auto r = wire::Request::decode(m.body);
      EXPECT_TRUE(r.ok());
      if (r.ok()) out.push_back(*r);
    }
    return out;
  }
  std::vector<std::string> acks() {
    std::vector<std::string> out;
    for (const auto& m : devices.take("gw")) {
      EXPECT_EQ(m.hdr.typ, wire::kAck);
      auto a = wire::Ack::decode(m.body);
      EXPECT_TRUE(a.ok());
      if (a.ok()) out.push_back(a->id);
    }
    return out;
  }
  // Posts and delivers one request; returns its id.
  std::string sent(const std::string& action = "on") {
    const std::string id = post({{"target", "relay"}, {"action", action}});
    commit();
    EXPECT_EQ(requests().size(), 1u);
    return id;
  }

  Limits limits;
  Logger log{LogLevel::kError, kProgramName};
  testing::MemoryStore store;
  testing::HeldMonitoringStore monitoring;
  testing::HeldConfigStore config_store;
  testing::HeldCommandStore commands;
  LoopInbox inbox;
  testing::FakeDeviceSide devices;
  std::unique_ptr<ServiceRegistry> registry;
  std::unique_ptr<OperatorSide> operators;
  std::unique_ptr<ServiceContext> context;
  CommandService* service = nullptr;
};

TEST_F(CommandServiceTest, ARequestIsStoredBeforeItIsSent) {
  const std::string id =
      post({{"target", "relay"}, {"action", "on"}, {"args", {{"channel", 2}}}, {"timeout_s", 5}});
  EXPECT_EQ(id.size(), 32u);
  EXPECT_TRUE(devices.take("gw").empty());  // held by the store: not sent yet
  EXPECT_EQ(get(id)["status"], "pending");
  EXPECT_EQ(get(id)["user"], "otto");
  commands.commit();
  EXPECT_TRUE(devices.take("gw").empty());  // the loop sends, when it runs the completion
  inbox.run_pending();
  auto sent = devices.take("gw");
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].hdr.proto, proto::kCommand);
  EXPECT_EQ(sent[0].hdr.prop_str("user_id"), "otto");
  auto req = wire::Request::decode(sent[0].body);
  ASSERT_TRUE(req.ok());
  EXPECT_EQ(req->id, id);
  EXPECT_EQ(req->target, "relay");
  EXPECT_EQ(req->action, "on");
  EXPECT_EQ(req->args, std::optional<Map>(Map{{"channel", 2}}));
  EXPECT_EQ(req->timeout_s, std::optional<std::uint64_t>(5));
  const CommandRecord& row = commands.rows.at({"gw", id});
  EXPECT_EQ(row.outcome.status, "pending");
  EXPECT_EQ(row.user, "otto");
  EXPECT_EQ(row.args_json, R"({"channel":2})");
  EXPECT_GT(row.created_ms, 0);
  EXPECT_EQ(service->pending("gw"), 1u);
  // Two requests get two ids.
  EXPECT_NE(post({{"target", "relay"}, {"action", "on"}}), id);
}

TEST_F(CommandServiceTest, EveryOutcomeIsStoredThenAcked) {
  struct Case {
    const char* status;
    std::optional<Map> ret;
    std::optional<std::string> err;
  };
  const std::vector<Case> cases = {
      {"ok", Map{{"on", true}, {"volts", 12.5}}, std::nullopt},
      {"error", std::nullopt, "relay stuck"},
      {"timeout", std::nullopt, "no reply within 5 s"},
      {"busy", std::nullopt, "16 requests wait for relay"},
      {"no-target", std::nullopt, "no app holds relay"},
      {"invalid", std::nullopt, "args: expected map"},
  };
  for (const Case& c : cases) {
    const std::string id = sent();
    result(id, c.status, c.ret, c.err);
    inbox.run_pending();
    EXPECT_TRUE(devices.take("gw").empty()) << c.status << ": acked before its commit";
    EXPECT_EQ(get(id)["status"], "pending") << "an outcome shows once it is stored";
    commit();
    EXPECT_EQ(acks(), std::vector<std::string>{id}) << c.status;
    json shown = get(id);
    EXPECT_EQ(shown["status"], c.status);
    EXPECT_EQ(shown["ts"], 1234);
    if (c.ret) {
      EXPECT_EQ(shown["ret"], json({{"on", true}, {"volts", 12.5}}));
    } else {
      EXPECT_TRUE(shown["ret"].is_null());
    }
    if (c.err) {
      EXPECT_EQ(shown["err"], *c.err);
    } else {
      EXPECT_TRUE(shown["err"].is_null());
    }
  }
  EXPECT_EQ(commands.finishes, static_cast<int>(cases.size()));
  EXPECT_EQ(service->pending("gw"), 0u);
}

TEST_F(CommandServiceTest, ARepeatedResultIsAckedAgainAndRecordedOnce) {
  const std::string id = sent();
  result(id, "ok", Map{{"n", 1}});
  result(id, "ok", Map{{"n", 1}});  // while the first commit is in flight
  commit();
  EXPECT_EQ(acks(), std::vector<std::string>{id});  // that commit's ack covers both
  // The ack was lost; the device reconnects and sends it again.
  drop();
  reconnect();
  EXPECT_TRUE(devices.take("gw").empty());  // nothing pending is sent again
  result(id, "error", std::nullopt, "a different story");
  EXPECT_EQ(acks(), std::vector<std::string>{id});  // acked again, at once
  commit();
  EXPECT_EQ(commands.finishes, 1);
  EXPECT_EQ(get(id)["status"], "ok");
}

TEST_F(CommandServiceTest, PendingRequestsAreSentAgainWhenTheDeviceReconnects) {
  const std::string first = sent("on");
  // Stored while the device is away: sent when it comes back.
  const std::string second = post({{"target", "relay"}, {"action", "off"}});
  drop();
  commit();
  EXPECT_TRUE(devices.take("gw").empty());
  reconnect();
  auto again = requests();
  ASSERT_EQ(again.size(), 2u);
  EXPECT_EQ(again[0].id, first);
  EXPECT_EQ(again[1].id, second);
  // The device had run the first one before the drop: its result comes now, once.
  result(first, "ok");
  commit();
  EXPECT_EQ(acks(), std::vector<std::string>{first});
  // A restarted hub reads the still-pending one back and sends it on connect.
  drop();
  start();
  EXPECT_EQ(service->pending("gw"), 1u);
  reconnect();
  again = requests();
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].id, second);
  EXPECT_EQ(again[0].action, "off");
  result(second, "ok");
  commit();
  EXPECT_EQ(acks(), std::vector<std::string>{second});
  EXPECT_EQ(get(second)["user"], "otto");
}

TEST_F(CommandServiceTest, AFailedCommitIsNotAcked) {
  const std::string id = sent();
  result(id, "ok");
  commands.fail();
  inbox.run_pending();
  EXPECT_TRUE(devices.take("gw").empty());
  EXPECT_EQ(get(id)["status"], "pending");
  // The device sends it again (after a reconnect); this time it is stored.
  result(id, "ok");
  commit();
  EXPECT_EQ(acks(), std::vector<std::string>{id});
  EXPECT_EQ(get(id)["status"], "ok");
}

TEST_F(CommandServiceTest, ARequestThatCouldNotBeStoredIsNeverSent) {
  const std::string id = post({{"target", "relay"}, {"action", "on"}});
  commands.fail();
  inbox.run_pending();
  EXPECT_TRUE(devices.take("gw").empty());
  json shown = get(id);
  EXPECT_EQ(shown["status"], "failed");
  EXPECT_EQ(service->pending("gw"), 0u);
}

TEST_F(CommandServiceTest, AResultForAnUnknownIdIsKeptAndAcked) {
  result("made-elsewhere", "ok", Map{{"x", 1}});
  EXPECT_TRUE(devices.take("gw").empty());
  commit();
  EXPECT_EQ(acks(), std::vector<std::string>{"made-elsewhere"});
  EXPECT_EQ(get("made-elsewhere")["status"], "ok");
  result("made-elsewhere", "ok", Map{{"x", 1}});
  EXPECT_EQ(acks(), std::vector<std::string>{"made-elsewhere"});
  EXPECT_TRUE(commands.held.empty());
  // A result whose id the device could not read is not acked (nothing to match).
  result("", "invalid", std::nullopt, "no id");
  commit();
  EXPECT_TRUE(devices.take("gw").empty());
}

TEST_F(CommandServiceTest, APendingRowTheServiceDidNotTrackIsFinishedOnce) {
  // As if reading the pending rows at start had failed: the row is only in the store.
  CommandRecord row;
  row.id = "late";
  row.device = "gw";
  row.target = "relay";
  row.action = "on";
  row.user = "otto";
  commands.rows.emplace(std::make_pair("gw", "late"), row);
  commands.order.emplace_back("gw", "late");
  result("late", "ok", Map{{"on", true}});
  inbox.run_pending();
  EXPECT_TRUE(devices.take("gw").empty());  // not acked before its commit
  commit();
  EXPECT_EQ(acks(), std::vector<std::string>{"late"});
  EXPECT_EQ(commands.finishes, 1);
  EXPECT_EQ(get("late")["status"], "ok");
  EXPECT_EQ(get("late")["user"], "otto");  // the request's details stay
  EXPECT_EQ(service->pending("gw"), 0u);
}

// Several hub instances share the store: another instance finishes a request this
// one made (the device's link is there), or makes one for a device that then
// connects here. The store row decides.
TEST_F(CommandServiceTest, ARequestFinishedByAnotherInstanceIsDroppedHere) {
  const std::string id = sent();
  EXPECT_EQ(service->pending("gw"), 1u);
  // The other instance's commit, straight into the shared store.
  commands.rows.at({"gw", id}).outcome = CommandOutcome{"ok", R"({"n":1})", std::nullopt, 5, 6};
  json shown = get(id);
  EXPECT_EQ(shown["status"], "ok");
  EXPECT_EQ(shown["ret"], json({{"n", 1}}));
  EXPECT_EQ(shown["user"], "otto");
  EXPECT_EQ(service->pending("gw"), 0u);
  // The history drops them too, and the limit asks the store before refusing.
  std::vector<std::string> ids;
  for (std::size_t i = 0; i < CommandService::kMaxPendingPerDevice; ++i) ids.push_back(sent());
  EXPECT_EQ(service->pending("gw"), CommandService::kMaxPendingPerDevice);
  commands.rows.at({"gw", ids[0]}).outcome = CommandOutcome{"ok", std::nullopt, std::nullopt, 1, 1};
  EXPECT_EQ(call("GET", "/api/devices/gw/commands?limit=200", "", Role::kViewer).status, 200u);
  EXPECT_EQ(service->pending("gw"), CommandService::kMaxPendingPerDevice - 1);
  (void)sent();
  for (const std::string& other : ids) {
    commands.rows.at({"gw", other}).outcome =
        CommandOutcome{"ok", std::nullopt, std::nullopt, 1, 1};
  }
  const std::string more = post({{"target", "relay"}, {"action", "on"}});
  EXPECT_FALSE(more.empty());
  EXPECT_EQ(service->pending("gw"), 2u);  // the one before and this one
}

TEST_F(CommandServiceTest, PendingRowsMadeElsewhereAreSentWhenTheDeviceConnectsHere) {
  const std::string mine = post({{"target", "relay"}, {"action", "on"}});
  drop();
  commit();
  CommandRecord row;
  row.id = "made-on-another-instance";
  row.device = "gw";
  row.target = "relay";
  row.action = "off";
  row.user = "otto";
  row.created_ms = now_ms() + 1000;
  wire::Request req;
  req.id = row.id;
  req.target = row.target;
  req.action = row.action;
  row.request = req.encode();
  commands.rows.emplace(std::make_pair("gw", row.id), row);
  commands.order.emplace_back("gw", row.id);
  reconnect();
  auto again = requests();
  ASSERT_EQ(again.size(), 2u);
  EXPECT_EQ(again[0].id, mine);  // in the order they were made
  EXPECT_EQ(again[1].id, row.id);
  EXPECT_EQ(again[1].action, "off");
  EXPECT_EQ(service->pending("gw"), 2u);
  result(row.id, "ok");
  commit();
  EXPECT_EQ(acks(), std::vector<std::string>{row.id});
  EXPECT_EQ(get(row.id)["status"], "ok");
  EXPECT_EQ(service->pending("gw"), 1u);
}

TEST_F(CommandServiceTest, BadMessagesFromTheDeviceAreControlErrors) {
  const auto refused = [&](ProtoMsg m) {
    from_dev(m);
    auto sent = devices.take("gw");
    ASSERT_EQ(sent.size(), 1u) << m.hdr.typ;
    EXPECT_EQ(sent[0].hdr.proto, proto::kControl);
    EXPECT_EQ(sent[0].hdr.typ, "error");
  };
  refused(protocol::make_msg(proto::kCommand, wire::kResult, {}, {}, {0xc1}));        // garbage
  refused(protocol::make_msg(proto::kCommand, wire::kResult, {}, {}, {0x84, 0xa2}));  // truncated
  refused(protocol::make_msg(proto::kCommand, wire::kResult));                        // no body
  refused(protocol::make_msg(proto::kCommand, wire::kResult, {}, {},
                             protocol::encode_value(Value(Map{{"id", 7}, {"status", "ok"}}))));
  refused(protocol::make_msg(
      proto::kCommand, wire::kResult, {}, {},
      protocol::encode_value(Value(Map{{"id", "x"}, {"status", "maybe"}, {"ts", 1}}))));  // status
  refused(protocol::make_msg(proto::kCommand, wire::kTargets, {}, {},
                             protocol::encode_value(Value(Map{{"targets", "relay"}}))));
  refused(protocol::make_msg(proto::kCommand, wire::kRequest));  // not for the hub
  refused(protocol::make_msg(proto::kCommand, "telemetry"));
  EXPECT_TRUE(commands.held.empty());
}

TEST_F(CommandServiceTest, OversizedOutcomesAreBounded) {
  const std::string id = sent();
  result(id, "ok", Map{{"blob", std::string(CommandService::kMaxRetJson, 'x')}},
         std::string(CommandService::kMaxErrBytes + 10, 'e'));
  commit();
  EXPECT_EQ(acks(), std::vector<std::string>{id});
  json shown = get(id);
  EXPECT_TRUE(shown["ret"].is_null());
  EXPECT_NE(shown["err"].get<std::string>().find("did not keep ret"), std::string::npos);
}

TEST_F(CommandServiceTest, TargetsAreRemembered) {
  auto res = call("GET", "/api/devices/gw/command-targets", "", Role::kViewer);
  EXPECT_EQ(res.status, 200u);
  EXPECT_EQ(json::parse(res.body)["targets"], json::array());
  from_dev(protocol::make_msg(proto::kCommand, wire::kTargets, {}, {},
                              wire::Targets{{"relay", "valve", std::string(300, 'x')}}.encode()));
  res = call("GET", "/api/devices/gw/command-targets", "", Role::kViewer);
  json t = json::parse(res.body);
  EXPECT_EQ(t["targets"], json({"relay", "valve"}));  // the over-long name is not kept
  EXPECT_EQ(t["online"], true);
  EXPECT_TRUE(t["at"].is_number());
  drop();
  t = json::parse(call("GET", "/api/devices/gw/command-targets", "", Role::kViewer).body);
  EXPECT_EQ(t["online"], false);
  EXPECT_EQ(t["targets"], json({"relay", "valve"}));  // the last list the device sent
  std::vector<std::string> many;
  for (std::size_t i = 0; i < CommandService::kMaxTargets + 5; ++i)
    many.push_back(std::to_string(i));
  from_dev(
      protocol::make_msg(proto::kCommand, wire::kTargets, {}, {}, wire::Targets{many}.encode()));
  t = json::parse(call("GET", "/api/devices/gw/command-targets", "", Role::kViewer).body);
  EXPECT_EQ(t["targets"].size(), CommandService::kMaxTargets);
}

TEST_F(CommandServiceTest, TheApiRefusesBadRequestsWithASentence) {
  const auto refused = [&](const std::string& body, const std::string& says,
                           unsigned status = 400) {
    auto res = call("POST", "/api/devices/gw/commands", body);
    EXPECT_EQ(res.status, status) << body << " -> " << res.body;
    EXPECT_NE(res.body.find(says), std::string::npos) << body << " -> " << res.body;
  };
  refused("", "not JSON");
  refused("garbage", "not JSON");
  refused(R"({"target": "relay", "action": "o)", "not JSON");  // truncated
  refused(R"([1, 2])", "must be a JSON object");
  refused(R"({"action": "on"})", "target is required");
  refused(R"({"target": "relay"})", "action is required");
  refused(R"({"target": 7, "action": "on"})", "target must be a string");
  refused(R"({"target": "relay", "action": ["on"]})", "action must be a string");
  refused(R"({"target": "", "action": "on"})", "target must be 1..256 bytes");
  refused(json({{"target", std::string(257, 't')}, {"action", "on"}}).dump(), "1..256 bytes");
  refused(R"({"target": "relay", "action": "on", "args": [1]})", "args must be a JSON object");
  refused(R"({"target": "relay", "action": "on", "args": "x"})", "args must be a JSON object");
  refused(R"({"target": "relay", "action": "on", "timeout_s": "5"})", "timeout_s must be");
  refused(R"({"target": "relay", "action": "on", "timeout_s": 0})", "timeout_s must be");
  refused(R"({"target": "relay", "action": "on", "timeout_s": -3})", "timeout_s must be");
  refused(R"({"target": "relay", "action": "on", "timeout_s": 1.5})", "timeout_s must be");
  refused(R"({"target": "relay", "action": "on", "timeout_s": 86401})", "timeout_s must be");
  refused(R"({"target": "relay", "action": "on", "user": "mallory"})", "unknown field 'user'");
  refused(json({{"target", "relay"},
                {"action", "on"},
                {"args", {{"blob", std::string(CommandService::kMaxArgsBytes, 'x')}}}})
              .dump(),
          "over 8192");
  std::string deep = "1";
  for (int i = 0; i < 20; ++i) deep = "[" + deep + "]";
  refused(R"({"target": "relay", "action": "on", "args": {"a": )" + deep + "}}", "deeper than");
  auto res = call("POST", "/api/devices/gw/commands", R"({"target":"r","action":"a"})",
                  Role::kOperator, "text/plain");
  EXPECT_EQ(res.status, 415u);
  EXPECT_TRUE(commands.held.empty());  // nothing of it was stored
}

TEST_F(CommandServiceTest, RolesDevicesAndMethods) {
  const std::string body = R"({"target":"relay","action":"on"})";
  auto res = call("POST", "/api/devices/gw/commands", body, Role::kViewer);
  EXPECT_EQ(res.status, 403u);
  EXPECT_NE(res.body.find("the operator role is needed"), std::string::npos);
  EXPECT_TRUE(commands.held.empty());
  const std::string id = post(json::parse(body));
  EXPECT_EQ(call("GET", "/api/devices/gw/commands", "", Role::kViewer).status, 200u);
  EXPECT_EQ(call("GET", "/api/devices/gw/commands/" + id, "", Role::kViewer).status, 200u);
  EXPECT_EQ(call("GET", "/api/devices/gw/commands/nope", "", Role::kViewer).status, 404u);
  EXPECT_EQ(call("GET", "/api/devices/ghost/commands", "", Role::kViewer).status, 404u);
  EXPECT_EQ(call("POST", "/api/devices/ghost/commands", body).status, 404u);
  EXPECT_EQ(call("POST", "/api/devices/bad%20id/commands", body).status, 404u);
  res = call("POST", "/api/devices/idle/commands", body);
  EXPECT_EQ(res.status, 409u);  // offline: refused, not queued
  EXPECT_NE(res.body.find("offline"), std::string::npos);
  EXPECT_EQ(call("DELETE", "/api/devices/gw/commands").status, 405u);
  EXPECT_EQ(call("POST", "/api/devices/gw/command-targets", "{}").status, 405u);
  EXPECT_EQ(call("POST", "/api/devices/gw/commands/" + id, "{}").status, 405u);
  HttpRequest other{"GET", "/api/devices/gw/telemetry", std::nullopt, "", ""};
  EXPECT_FALSE(service->handle(other, Caller{"v", Role::kViewer}).has_value());
}

TEST_F(CommandServiceTest, PendingRequestsPerDeviceAreBounded) {
  for (std::size_t i = 0; i < CommandService::kMaxPendingPerDevice; ++i)
    post({{"target", "t"}, {"action", "a"}});
  auto res = call("POST", "/api/devices/gw/commands", R"({"target":"t","action":"a"})");
  EXPECT_EQ(res.status, 429u);
  commit();
  auto sent = requests();
  ASSERT_EQ(sent.size(), CommandService::kMaxPendingPerDevice);
  result(sent[0].id, "ok");
  commit();
  acks();
  EXPECT_EQ(call("POST", "/api/devices/gw/commands", R"({"target":"t","action":"a"})").status,
            202u);
}

TEST_F(CommandServiceTest, HistoryIsNewestFirstWithWhoSentIt) {
  const std::string a = sent("on");
  result(a, "ok", Map{{"on", true}});
  commit();
  acks();
  const std::string b = post({{"target", "relay"}, {"action", "off"}});  // not committed yet
  auto res = call("GET", "/api/devices/gw/commands", "", Role::kViewer);
  ASSERT_EQ(res.status, 200u);
  json list = json::parse(res.body);
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0]["id"], b);
  EXPECT_EQ(list[0]["status"], "pending");
  EXPECT_EQ(list[1]["id"], a);
  EXPECT_EQ(list[1]["status"], "ok");
  EXPECT_EQ(list[1]["user"], "otto");
  EXPECT_EQ(list[1]["ret"], json({{"on", true}}));
  EXPECT_EQ(
      json::parse(call("GET", "/api/devices/gw/commands?limit=1", "", Role::kViewer).body).size(),
      1u);
  EXPECT_EQ(call("GET", "/api/devices/gw/commands?limit=x", "", Role::kViewer).status, 400u);
}

// ------------------------------------------------------------------ SQL store

CommandRecord record(const std::string& id, const std::string& device = "gw") {
  CommandRecord r;
  r.id = id;
  r.device = device;
  r.target = "relay";
  r.action = "on";
  r.args_json = R"({"a":1})";
  r.timeout_s = 9;
  r.request = {0x80};
  r.user = "otto";
  r.created_ms = 5;
  return r;
}

class SqlCommandStoreTest : public ::testing::TestWithParam<test::SqlBackend> {
 protected:
  void SetUp() override {
    auto made = test::SqlTestStore::create(GetParam());
    ASSERT_TRUE(made.ok()) << made.error().message();
    scratch = std::move(*made);
  }
  std::unique_ptr<test::SqlTestStore> scratch;
};

INSTANTIATE_TEST_SUITE_P(EachBackEnd, SqlCommandStoreTest, test::kBothSqlBackends,
                         test::sql_backend_name);

TEST_P(SqlCommandStoreTest, RowsSurviveAReopenAndFinishOnce) {
  {
    auto store = SqlCommandStore::open(scratch->url());
    ASSERT_TRUE(store.ok()) << store.error().message();
    bool committed = false;
    (*store)->add(record("c1"), [&](const Status& s) { committed = s.ok(); });
    (*store)->add(record("c2"), {});
    (*store)->add(record("c1"), {});  // the same id again: left as it is
    ASSERT_TRUE((*store)->flush().ok());
    EXPECT_TRUE(committed);
    (*store)->finish("gw", "c1", CommandOutcome{"ok", R"({"on":true})", std::nullopt, 77, 88}, {});
    (*store)->finish("gw", "c1", CommandOutcome{"error", std::nullopt, "later", 1, 2}, {});
    ASSERT_TRUE((*store)->flush().ok());
  }
  auto store = SqlCommandStore::open(scratch->url());
  ASSERT_TRUE(store.ok()) << store.error().message();
  auto c1 = (*store)->get("gw", "c1");
  ASSERT_TRUE(c1.ok() && c1->has_value());
  EXPECT_EQ((*c1)->outcome.status, "ok");
  EXPECT_EQ((*c1)->outcome.ret_json, std::optional<std::string>(R"({"on":true})"));
  EXPECT_EQ((*c1)->outcome.device_ts, 77);
  EXPECT_EQ((*c1)->timeout_s, std::optional<std::uint64_t>(9));
  EXPECT_EQ((*c1)->request, (protocol::Bytes{0x80}));
  EXPECT_EQ((*c1)->user, "otto");
  auto pending = (*store)->pending();
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ(pending->at(0).id, "c2");
  auto of_gw = (*store)->pending_of("gw");
  ASSERT_TRUE(of_gw.ok());
  ASSERT_EQ(of_gw->size(), 1u);
  EXPECT_EQ(of_gw->at(0).id, "c2");
  EXPECT_TRUE((*store)->pending_of("other")->empty());
  auto history = (*store)->history("gw", 10);
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->size(), 2u);
  EXPECT_EQ(history->at(0).id, "c2");  // newest first
  EXPECT_FALSE((*store)->get("other", "c1")->has_value());
}

TEST_P(SqlCommandStoreTest, HistoryIsCappedButPendingRowsStay) {
  auto store = SqlCommandStore::open(scratch->url(), 3);
  ASSERT_TRUE(store.ok()) << store.error().message();
  (*store)->add(record("keep-pending"), {});
  for (int i = 0; i < 6; ++i) {
    const std::string id = "d" + std::to_string(i);
    (*store)->add(record(id), {});
    (*store)->finish("gw", id, CommandOutcome{"ok", std::nullopt, std::nullopt, 1, 1}, {});
  }
  (*store)->add(record("x", "other"), {});
  ASSERT_TRUE((*store)->flush().ok());
  auto history = (*store)->history("gw", 100);
  ASSERT_TRUE(history.ok());
  std::vector<std::string> ids;
  for (const auto& r : *history) ids.push_back(r.id);
  EXPECT_EQ(ids, (std::vector<std::string>{"d5", "d4", "d3", "keep-pending"}));
  EXPECT_EQ((*store)->history("other", 100)->size(), 1u);
}

TEST_P(SqlCommandStoreTest, NullsBytesAndHugeNumbersRoundTrip) {
  auto store = SqlCommandStore::open(scratch->url());
  ASSERT_TRUE(store.ok()) << store.error().message();
  CommandRecord bare = record("bare");
  bare.timeout_s.reset();
  bare.request.clear();
  CommandRecord big = record("big");
  big.timeout_s = std::numeric_limits<std::uint64_t>::max();  // stored as INT64_MAX
  big.request = {0x00, 0xff, 0x00, 0x27, 0x5c};
  big.user = "o'brien";
  (*store)->add(bare, {});
  (*store)->add(big, {});
  ASSERT_TRUE((*store)->flush().ok());
  (*store)->finish("gw", "big", CommandOutcome{"error", std::nullopt, "no\nway", -1, 3}, {});
  ASSERT_TRUE((*store)->flush().ok());
  auto got_bare = (*store)->get("gw", "bare");
  ASSERT_TRUE(got_bare.ok() && got_bare->has_value());
  EXPECT_FALSE((*got_bare)->timeout_s.has_value());
  EXPECT_TRUE((*got_bare)->request.empty());
  EXPECT_FALSE((*got_bare)->outcome.ret_json.has_value());
  EXPECT_EQ((*got_bare)->outcome.status, kCommandPending);
  auto got_big = (*store)->get("gw", "big");
  ASSERT_TRUE(got_big.ok() && got_big->has_value());
  EXPECT_EQ((*got_big)->timeout_s,
            std::optional<std::uint64_t>(std::numeric_limits<std::int64_t>::max()));
  EXPECT_EQ((*got_big)->request, big.request);
  EXPECT_EQ((*got_big)->user, "o'brien");
  EXPECT_EQ((*got_big)->outcome.err, std::optional<std::string>("no\nway"));
  EXPECT_FALSE((*got_big)->outcome.ret_json.has_value());
  EXPECT_EQ((*got_big)->outcome.device_ts, -1);
  // A limit beyond what both engines take reads everything; zero reads nothing.
  EXPECT_EQ((*store)->history("gw", std::numeric_limits<std::size_t>::max())->size(), 2u);
  EXPECT_TRUE((*store)->history("gw", 0)->empty());
  auto pending = (*store)->pending();
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ(pending->at(0).id, "bare");
}

// PostgreSQL restarts under the store: the next batch and read reconnect (the
// store runs them once more). While the server is down, a write's completion says
// so, and nothing is half-written.
TEST(SqlCommandStorePostgres, ARestartIsInvisibleAndAnOutageIsAnErrorThatPasses) {
  auto made = test::SqlTestStore::create(test::SqlBackend::kPostgres);
  ASSERT_TRUE(made.ok()) << made.error().message();
  test::PostgresServer& server = *(*made)->postgres();
  auto store = SqlCommandStore::open((*made)->url());
  ASSERT_TRUE(store.ok()) << store.error().message();
  (*store)->add(record("c1"), {});
  ASSERT_TRUE((*store)->flush().ok());
  ASSERT_TRUE((*store)->pending().ok());
  ASSERT_TRUE(server.restart().ok());
  std::optional<Status> finished;
  (*store)->finish("gw", "c1", CommandOutcome{"ok", std::nullopt, std::nullopt, 1, 2},
                   [&](const Status& s) { finished = s; });
  ASSERT_TRUE((*store)->flush().ok());
  ASSERT_TRUE(finished.has_value() && finished->ok()) << finished->error().message();
  auto c1 = (*store)->get("gw", "c1");
  ASSERT_TRUE(c1.ok()) << c1.error().message();
  EXPECT_EQ((*c1)->outcome.status, "ok");

  ASSERT_TRUE(server.stop().ok());
  std::optional<Status> added;
  (*store)->add(record("c2"), [&](const Status& s) { added = s; });
  const Status flushed = (*store)->flush();
  ASSERT_FALSE(flushed.ok());
  EXPECT_EQ(flushed.error().code(), ErrorCode::kUnavailable) << flushed.error().message();
  ASSERT_TRUE(added.has_value());
  EXPECT_FALSE(added->ok());
  EXPECT_FALSE((*store)->pending().ok());
  ASSERT_TRUE(server.start_again().ok());
  (*store)->add(record("c2"), {});
  ASSERT_TRUE((*store)->flush().ok());
  auto pending = (*store)->pending();
  ASSERT_TRUE(pending.ok()) << pending.error().message();
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ(pending->at(0).id, "c2");
}

// A state dir from before the SQL port: commands.db made by the old code's schema
// (seq INTEGER PRIMARY KEY AUTOINCREMENT), with a pending row.
TEST(SqlCommandStoreLegacy, AnOldCommandsDbOpensWithItsRows) {
  auto made = test::SqlTestStore::create(test::SqlBackend::kSqlite);
  ASSERT_TRUE(made.ok()) << made.error().message();
  const auto& scratch = *made;
  const auto file = std::filesystem::path(scratch->url().sqlite_dir) / "commands.db";
  ASSERT_EQ(testing::write_legacy_sqlite(
                file, {"PRAGMA journal_mode=WAL",
                       "CREATE TABLE IF NOT EXISTS commands ("
                       " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
                       " id TEXT NOT NULL, device TEXT NOT NULL, target TEXT NOT NULL,"
                       " action TEXT NOT NULL, args TEXT NOT NULL, timeout_s INTEGER, request BLOB,"
                       " user TEXT NOT NULL, created_ms INTEGER NOT NULL, status TEXT NOT NULL,"
                       " ret TEXT, err TEXT, device_ts INTEGER NOT NULL DEFAULT 0,"
                       " finished_ms INTEGER NOT NULL DEFAULT 0, UNIQUE(device, id))",
                       "CREATE INDEX IF NOT EXISTS commands_pending ON commands(status) "
                       "WHERE status = 'pending'",
                       "INSERT INTO commands(id, device, target, action, args, timeout_s, request,"
                       " user, created_ms, status) VALUES('old', 'gw', 'relay', 'on', '{}', NULL,"
                       " x'80', 'otto', 1, 'pending')"}),
            "");
  auto store = SqlCommandStore::open(scratch->url());
  ASSERT_TRUE(store.ok()) << store.error().message();
  auto pending = (*store)->pending();
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ(pending->at(0).id, "old");
  EXPECT_EQ(pending->at(0).user, "otto");
  EXPECT_EQ(pending->at(0).request, (protocol::Bytes{0x80}));
  // New rows go after it, and it finishes as any other.
  (*store)->add(record("new"), {});
  (*store)->finish("gw", "old", CommandOutcome{"ok", "{}", std::nullopt, 2, 3}, {});
  ASSERT_TRUE((*store)->flush().ok());
  auto history = (*store)->history("gw", 10);
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->size(), 2u);
  EXPECT_EQ(history->at(0).id, "new");
  EXPECT_EQ(history->at(1).outcome.status, "ok");
}

}  // namespace
}  // namespace tether::hub
