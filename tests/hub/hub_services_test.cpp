// Each protocol service on its own: a fake device side (no sockets, devices are
// "online somewhere"), the real operator side with fake operator links, and a
// registry holding only the service under test. Plus a made-up service that is
// wired in by its registration alone, and reached through the JSON API.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "hub/auth.hpp"
#include "hub/http_api.hpp"
#include "hub/loop_inbox.hpp"
#include "hub/operators/operator_side.hpp"
#include "hub/services/monitoring_intake.hpp"
#include "hub/services/monitoring_json.hpp"
#include "hub/services/passthrough.hpp"
#include "hub/services/routed_sessions.hpp"
#include "hub/services/service_registry.hpp"
#include "hub/services/shell_relay.hpp"
#include "protocol/codec.hpp"
#include "protocol/control.hpp"
#include "protocol/monitoring.hpp"
#include "protocol/shell.hpp"
#include "tests/hub/api_rig.hpp"
#include "tests/hub/command_fakes.hpp"
#include "tests/hub/hub_fakes.hpp"

namespace tether::hub {
namespace {

using protocol::ProtoMsg;
using testing::FakeDeviceSide;
using testing::FakeLink;
using testing::MemoryStore;
namespace proto = protocol::proto;
namespace monitoring = protocol::monitoring;

// The operator side and a registry around a fake device side; `add` registers the
// service under test exactly as registrations.cpp does.
class ServiceTest : public ::testing::Test {
 protected:
  ServiceTest() { devices.set_online("gw", true); }

  template <typename Service>
  Service& add(std::initializer_list<std::uint16_t> protos) {
    auto added = registry.emplace<Service>(protos, context);
    EXPECT_TRUE(added.ok());
    return **added;
  }
  // The device side's part when the device drops: what HubCore does.
  void device_drops(const std::string& why) {
    devices.set_online("gw", false);
    operators.device_gone("gw", why);
    registry.device_offline("gw");
  }
  void from_op(OperatorId op, const ProtoMsg& m) { operators.message(op, protocol::encode(m)); }
  void from_dev(ProtoMsg m) {
    if (!registry.device_message("gw", m)) unrouted.push_back(m);
  }
  static protocol::ControlError error_of(const ProtoMsg& m) {
    EXPECT_EQ(m.hdr.proto, proto::kControl);
    EXPECT_EQ(m.hdr.typ, "error");
    auto e = protocol::ControlError::decode(m.body);
    EXPECT_TRUE(e.ok());
    return e.ok() ? *e : protocol::ControlError{};
  }

  Limits limits;
  Logger log{LogLevel::kError, kProgramName};
  MemoryStore store;
  testing::HeldMonitoringStore monitoring;
  testing::HeldConfigStore config_store;
  testing::HeldCommandStore commands;
  LoopInbox inbox;
  FakeDeviceSide devices;
  ServiceRegistry registry;
  OperatorSide operators{devices, registry, limits, log};
  ServiceContext context{devices,    operators, store,        limits,  log,
                         monitoring, inbox,     config_store, commands};
  FakeLink alice, bob;
  std::vector<ProtoMsg> unrouted;
};

// ------------------------------------------------------------------ shell

class ShellRelayTest : public ServiceTest {
 protected:
  void SetUp() override {
    add<ShellRelay>({proto::kShell});
    operators.connected(1, "gw", "alice", alice);
    operators.connected(2, "gw", "bob", bob);
  }
};

TEST_F(ShellRelayTest, NewClaimsTheSidAndStampsTheOperator) {
  from_op(1, protocol::make_msg(proto::kShell, "new", "s1", {{"terminal_width", 80}}));
  auto sent = devices.take("gw");
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].hdr.sid, "s1");
  EXPECT_EQ(sent[0].hdr.prop_str("user_id"), "alice");
  EXPECT_EQ(sent[0].hdr.prop_int("terminal_width"), 80);
  // output goes to the owner only, as bulk
  from_dev(protocol::make_msg(proto::kShell, "shell", "s1", {{"status", 1}}, {'o', 'k'}));
  auto out = alice.take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].body, (protocol::Bytes{'o', 'k'}));
  EXPECT_TRUE(bob.take().empty());
}

TEST_F(ShellRelayTest, AnEmptySidIsMadeUp) {
  from_op(1, protocol::make_msg(proto::kShell, "new"));
  auto sent = devices.take("gw");
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].hdr.sid.size(), 32u);
}

TEST_F(ShellRelayTest, OperatorsCannotDriveEachOthersShells) {
  from_op(1, protocol::make_msg(proto::kShell, "new", "sa"));
  devices.take("gw");
  for (const char* typ : {"shell", "resize", "stop", "pong"}) {
    from_op(2, protocol::make_msg(proto::kShell, typ, "sa"));
    auto refused = bob.take();
    ASSERT_EQ(refused.size(), 1u) << typ;
    EXPECT_EQ(error_of(refused[0]).err, "session not found");
  }
  from_op(2, protocol::make_msg(proto::kShell, "new", "sa"));
  EXPECT_EQ(error_of(bob.take().at(0)).err, "session id in use");
  from_op(2, protocol::make_msg(proto::kShell, "new", std::string(129, 'x')));
  EXPECT_EQ(error_of(bob.take().at(0)).err, "session id too long");
  EXPECT_TRUE(devices.take("gw").empty());
}

TEST_F(ShellRelayTest, StopWithoutSidStopsOnlyTheSendersShells) {
  from_op(1, protocol::make_msg(proto::kShell, "new", "a1"));
  from_op(1, protocol::make_msg(proto::kShell, "new", "a2"));
  from_op(2, protocol::make_msg(proto::kShell, "new", "b1"));
  devices.take("gw");
  from_op(1, protocol::make_msg(proto::kShell, "stop"));
  auto sent = devices.take("gw");
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0].hdr.sid, "a1");
  EXPECT_EQ(sent[1].hdr.sid, "a2");
  EXPECT_EQ(sent[1].hdr.prop_str("user_id"), "alice");
}

TEST_F(ShellRelayTest, TooManySessionsIsANewWithStatusTwo) {
  limits.sessions_per_operator = 1;
  from_op(1, protocol::make_msg(proto::kShell, "new", "a1"));
  from_op(1, protocol::make_msg(proto::kShell, "new", "a2"));
  EXPECT_EQ(devices.take("gw").size(), 1u);
  auto reply = alice.take();
  ASSERT_EQ(reply.size(), 1u);
  EXPECT_EQ(reply[0].hdr.typ, "new");
  EXPECT_EQ(reply[0].hdr.sid, "a2");
  EXPECT_EQ(reply[0].hdr.prop_int("status"), protocol::shell::status::kError);
}

TEST_F(ShellRelayTest, DeviceSideRules) {
  from_dev(protocol::make_msg(proto::kShell, "ping", "p", {{"status", 3}}));
  from_dev(protocol::make_msg(proto::kShell, "bogus", "p"));
  // output nobody owns: one stop per sid, however much arrives
  from_dev(protocol::make_msg(proto::kShell, "shell", "orphan"));
  from_dev(protocol::make_msg(proto::kShell, "shell", "orphan"));
  from_dev(protocol::make_msg(proto::kShell, "stop", "orphan2"));
  auto sent = devices.take("gw");
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_EQ(sent[0].hdr.typ, "pong");
  EXPECT_EQ(sent[0].hdr.sid, "p");
  EXPECT_EQ(error_of(sent[1]).err, "unknown shell typ 'bogus'");
  EXPECT_EQ(sent[2].hdr.typ, "stop");
  EXPECT_EQ(sent[2].hdr.sid, "orphan");
}

TEST_F(ShellRelayTest, AFailedNewOrAStopEndsTheSession) {
  from_op(1, protocol::make_msg(proto::kShell, "new", "s"));
  from_dev(protocol::make_msg(proto::kShell, "new", "s", {{"status", 2}}));
  EXPECT_EQ(alice.take().size(), 1u);
  EXPECT_FALSE(operators.has_owner("gw", "s"));
  from_op(1, protocol::make_msg(proto::kShell, "new", "t"));
  from_dev(protocol::make_msg(proto::kShell, "stop", "t"));
  EXPECT_FALSE(operators.has_owner("gw", "t"));
}

TEST_F(ShellRelayTest, OperatorGoneStopsItsShellsOnTheDevice) {
  from_op(1, protocol::make_msg(proto::kShell, "new", "a"));
  from_op(2, protocol::make_msg(proto::kShell, "new", "b"));
  devices.take("gw");
  operators.closed(1);
  auto sent = devices.take("gw");
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].hdr.typ, "stop");
  EXPECT_EQ(sent[0].hdr.sid, "a");
  EXPECT_EQ(sent[0].hdr.prop_str("user_id"), "alice");
  EXPECT_TRUE(operators.has_owner("gw", "b"));
}

TEST_F(ShellRelayTest, DeviceGoneStopsEachShellWithStatusTwo) {
  from_op(1, protocol::make_msg(proto::kShell, "new", "a"));
  device_drops("device disconnected");
  auto told = alice.take();
  ASSERT_EQ(told.size(), 2u);
  EXPECT_EQ(told[0].hdr.typ, "stop");
  EXPECT_EQ(told[0].hdr.prop_int("status"), 2);
  EXPECT_EQ(std::string(told[0].body.begin(), told[0].body.end()), "device disconnected");
  EXPECT_TRUE(error_of(told[1]).close);
  EXPECT_EQ(alice.closed, close_code::kGoingAway);
}

TEST_F(ShellRelayTest, ADeviceThatIsNotKeepingUpIsReportedToTheOperator) {
  from_op(1, protocol::make_msg(proto::kShell, "new", "a"));
  devices.take("gw");
  devices.busy = true;
  from_op(1, protocol::make_msg(proto::kShell, "shell", "a", {}, {'x'}));
  EXPECT_EQ(error_of(alice.take().at(0)).err, "device is not keeping up; message dropped");
}

TEST_F(ShellRelayTest, ASlowOperatorPausesTheDevice) {
  from_op(1, protocol::make_msg(proto::kShell, "new", "a"));
  alice.queued = limits.queue_high_water + 1;
  from_dev(protocol::make_msg(proto::kShell, "shell", "a", {}, {'x'}));
  EXPECT_FALSE(devices.receiving["gw"]);
  operators.wrote(1);  // still over a quarter of the mark
  EXPECT_FALSE(devices.receiving["gw"]);
  alice.queued = 0;
  operators.wrote(1);
  EXPECT_TRUE(devices.receiving["gw"]);
  alice.queued = limits.queue_hard_cap + 1;
  from_dev(protocol::make_msg(proto::kShell, "shell", "a", {}, {'x'}));
  EXPECT_EQ(alice.closed, close_code::kPolicy);
}

// ------------------------------------------------------------------ routed sessions

class RoutedSessionsTest : public ServiceTest {
 protected:
  void SetUp() override {
    add<RoutedSessions>({proto::kControl, proto::kFileTransfer, proto::kPortForward});
    operators.connected(1, "gw", "alice", alice);
    operators.connected(2, "gw", "bob", bob);
  }
};

TEST_F(RoutedSessionsTest, OpenAcceptRelayClose) {
  protocol::ControlOpen open{{1}};
  from_op(1, protocol::make_msg(proto::kControl, "open", "r", {}, open.encode()));
  auto sent = devices.take("gw");
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].hdr.prop_str("user_id"), "alice");
  from_dev(protocol::make_msg(proto::kControl, "accept", "r", {},
                              protocol::ControlAccept{1, {proto::kFileTransfer}}.encode()));
  EXPECT_EQ(alice.take().at(0).hdr.typ, "accept");
  // file transfer both ways, for the owner only
  from_op(1, protocol::make_msg(proto::kFileTransfer, "get_file", "r"));
  EXPECT_EQ(devices.take("gw").size(), 1u);
  from_op(2, protocol::make_msg(proto::kFileTransfer, "get_file", "r"));
  EXPECT_EQ(error_of(bob.take().at(0)).err, "session not found");
  EXPECT_TRUE(devices.take("gw").empty());
  from_dev(protocol::make_msg(proto::kFileTransfer, "file_info", "r"));
  EXPECT_EQ(alice.take().size(), 1u);
  from_dev(protocol::make_msg(proto::kPortForward, "data", "nobody"));  // dropped
  EXPECT_TRUE(alice.take().empty());
  EXPECT_TRUE(bob.take().empty());
  // the operator closes
  from_op(1, protocol::make_msg(proto::kControl, "close", "r"));
  EXPECT_EQ(devices.take("gw").at(0).hdr.typ, "close");
  EXPECT_FALSE(operators.has_owner("gw", "r"));
}

TEST_F(RoutedSessionsTest, DeviceErrorEndsTheSessionOnlyWhenItSaysClose) {
  from_op(1, protocol::make_msg(proto::kControl, "open", "r"));
  protocol::ControlError keep{"hiccup", false, {}, {}, {}};
  from_dev(protocol::make_msg(proto::kControl, "error", "r", {}, keep.encode()));
  EXPECT_TRUE(operators.has_owner("gw", "r"));
  protocol::ControlError end{"gone", true, {}, {}, {}};
  from_dev(protocol::make_msg(proto::kControl, "error", "r", {}, end.encode()));
  EXPECT_FALSE(operators.has_owner("gw", "r"));
  EXPECT_EQ(alice.take().size(), 2u);
}

TEST_F(RoutedSessionsTest, PingsAndUnknownTypes) {
  from_dev(protocol::make_msg(proto::kControl, "ping", "k"));
  from_dev(protocol::make_msg(proto::kControl, "pong"));
  from_dev(protocol::make_msg(proto::kControl, "nonsense"));
  auto sent = devices.take("gw");
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0].hdr.typ, "pong");
  EXPECT_EQ(sent[0].hdr.sid, "k");
  EXPECT_EQ(error_of(sent[1]).err, "unknown control typ 'nonsense'");
  from_op(1, protocol::make_msg(proto::kControl, "ping", "q"));
  from_op(1, protocol::make_msg(proto::kControl, "whatever"));
  auto back = alice.take();
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[0].hdr.typ, "pong");
  EXPECT_EQ(back[0].hdr.sid, "q");
  EXPECT_EQ(error_of(back[1]).err, "unknown control typ 'whatever'");
  EXPECT_TRUE(devices.take("gw").empty());
}

TEST_F(RoutedSessionsTest, TooManySessionsIsAClosingError) {
  limits.sessions_per_device = 1;
  from_op(1, protocol::make_msg(proto::kControl, "open", "r1"));
  from_op(2, protocol::make_msg(proto::kControl, "open", "r2"));
  const auto err = error_of(bob.take().at(0));
  EXPECT_EQ(err.err, "too many sessions");
  EXPECT_TRUE(err.close);
  EXPECT_EQ(devices.take("gw").size(), 1u);
}

TEST_F(RoutedSessionsTest, EitherSideGoneClosesTheSessions) {
  from_op(1, protocol::make_msg(proto::kControl, "open", "r1"));
  from_op(2, protocol::make_msg(proto::kControl, "open", "r2"));
  devices.take("gw");
  operators.closed(1);
  auto sent = devices.take("gw");
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].hdr.typ, "close");
  EXPECT_EQ(sent[0].hdr.sid, "r1");
  EXPECT_EQ(sent[0].hdr.prop_str("user_id"), "alice");
  device_drops("device reconnected");
  auto told = bob.take();
  ASSERT_EQ(told.size(), 2u);
  // The session ends with the reason on its sid, then the socket's own error.
  EXPECT_EQ(told[0].hdr.typ, "error");
  EXPECT_EQ(told[0].hdr.sid, "r2");
  EXPECT_EQ(error_of(told[0]).err, "device reconnected");
  EXPECT_TRUE(error_of(told[0]).close);
  EXPECT_EQ(told[1].hdr.sid, "");
  EXPECT_EQ(error_of(told[1]).err, "device reconnected");
}

// ------------------------------------------------------------------ monitoring

class MonitoringIntakeTest : public ServiceTest {
 protected:
  void SetUp() override {
    intake = &add<MonitoringIntake>({proto::kMonitoring});
    ASSERT_TRUE(store.put_device("gw", "hash", 1).ok());
  }
  void data(std::uint64_t seq, std::string stream = "s", protocol::Map values = {},
            const std::string& device = "gw") {
    ProtoMsg m = protocol::make_msg(
        proto::kMonitoring, "data", {}, {},
        monitoring::DataRecord{seq, 1, std::move(stream), std::move(values)}.encode());
    if (!registry.device_message(device, m)) unrouted.push_back(m);
  }
  // Runs what the loop would: the hand-over of this pass's records to the store,
  // the store's commit, then the loop task that takes its completions (one
  // cumulative ack per device per run).
  void commit() {
    while (inbox.run_pending() != 0) {
    }
    monitoring.commit();
    while (inbox.run_pending() != 0) {
    }
  }
  // The hub's once-a-second sweep, then the loop tasks it queued.
  void tick() {
    registry.tick();
    while (inbox.run_pending() != 0) {
    }
  }
  std::vector<std::uint64_t> acks(const std::string& device = "gw") {
    std::vector<std::uint64_t> out;
    for (const auto& m : devices.take(device)) {
      EXPECT_EQ(m.hdr.typ, "ack");
      auto ack = monitoring::Ack::decode(m.body);
      EXPECT_TRUE(ack.ok());
      if (ack.ok()) out.push_back(ack->seq);
    }
    return out;
  }
  static std::vector<std::uint64_t> seqs(const std::vector<MonitoringRecord>& records) {
    std::vector<std::uint64_t> out;
    for (const auto& r : records) out.push_back(r.seq);
    return out;
  }
  MonitoringIntake* intake = nullptr;
};

// What a record's body becomes in the store, for every kind of msgpack value.
TEST(MonitoringJson, EveryKindOfValue) {
  using protocol::Array;
  using protocol::Map;
  using protocol::Value;
  const Map map{
      {"nil", Value()},
      {"yes", Value(true)},
      {"no", Value(false)},
      {"neg", Value(std::int64_t{-42})},
      {"big", Value(std::numeric_limits<std::uint64_t>::max())},
      {"min", Value(std::numeric_limits<std::int64_t>::min())},
      {"pi", Value(3.25)},
      {"nan", Value(std::nan(""))},
      {"inf", Value(-HUGE_VAL)},
      {"text", Value("a\"b\\c\n\x01\xff")},
      {"bin", Value(protocol::Bytes{0x00, 0xff, 0x10, 0x20})},
      {"list", Value(Array{Value(1), Value("x"), Value(Array{}), Value(Map{})})},
      {"map", Value(Map{{"k\"", Value(Map{{"deep", Value(0.5)}})}})},
  };
  EXPECT_EQ(map_json(map),
            R"({"nil":null,"yes":true,"no":false,"neg":-42,"big":18446744073709551615,)"
            R"("min":-9223372036854775808,"pi":3.25,"nan":null,"inf":null,)"
            R"("text":"a\"b\\c\u000a\u0001\ufffd","bin":"AP8QIA==",)"
            R"("list":[1,"x",[],{}],"map":{"k\"":{"deep":0.5}}})");
  EXPECT_EQ(map_json({}), "{}");
  EXPECT_EQ(value_json(Value(Array{Value(1), Value(2)})), "[1,2]");
  std::string out = "prefix ";
  append_map_json(out, Map{{"a", Value(1)}});
  EXPECT_EQ(out, R"(prefix {"a":1})");
}

TEST_F(MonitoringIntakeTest, StatusIsRecorded) {
  monitoring::Status st{"online", "gw", "1.2.3", "boot", 42, {{"os", "debian"}, {"cpus", 4}}};
  from_dev(protocol::make_msg(proto::kMonitoring, "status", {}, {}, st.encode()));
  ASSERT_EQ(store.statuses.size(), 1u);
  EXPECT_EQ(store.statuses[0].first, "gw");
  EXPECT_EQ(store.statuses[0].second.version, "1.2.3");
  EXPECT_EQ(store.statuses[0].second.uptime_s, 42);
  ASSERT_EQ(monitoring.statuses.size(), 1u);
  EXPECT_EQ(monitoring.statuses[0].second.inventory_json, R"({"os":"debian","cpus":4})");
  EXPECT_EQ(monitoring.statuses[0].second.boot_id, "boot");
  EXPECT_TRUE(devices.take("gw").empty());
  // long strings are clipped before they are stored
  st.version = std::string(1000, 'v');
  from_dev(protocol::make_msg(proto::kMonitoring, "status", {}, {}, st.encode()));
  EXPECT_EQ(store.statuses[1].second.version.size(), 256u);
}

TEST_F(MonitoringIntakeTest, NothingIsAcknowledgedBeforeItsCommit) {
  data(7, "env", {{"temp", 21.5}});
  from_dev(protocol::make_msg(
      proto::kMonitoring, "alert", {}, {},
      monitoring::AlertRecord{8, 1, "a", "major", "raised", "hot", {{"zone", 2}}}.encode()));
  from_dev(protocol::make_msg(proto::kMonitoring, "dropped", {}, {},
                              monitoring::DroppedRecord{9, 1, 2, 3, 2}.encode()));
  // Records of one pass wait in the intake until the loop runs the hand-over.
  EXPECT_TRUE(monitoring.held.empty());
  EXPECT_EQ(inbox.run_pending(), 1u);
  EXPECT_TRUE(devices.take("gw").empty());  // held by the store: no ack yet
  ASSERT_EQ(monitoring.held.size(), 1u);    // one append for the device's three records
  const auto& records = monitoring.held[0].records;
  EXPECT_EQ(seqs(records), (std::vector<std::uint64_t>{7, 8, 9}));
  EXPECT_EQ(records.at(0).body_json, R"({"temp":21.5})");
  EXPECT_EQ(records.at(1).severity, "major");
  EXPECT_EQ(records.at(1).body_json, R"({"zone":2})");
  EXPECT_EQ(records.at(2).body_json, R"({"first":2,"last":3,"count":2})");
  // The commit's completion alone does not send: the loop does, when it runs it,
  // and the ack goes from a task of its own, after the completions.
  monitoring.commit();
  EXPECT_TRUE(devices.take("gw").empty());
  EXPECT_EQ(inbox.run_pending(), 1u);
  EXPECT_TRUE(devices.take("gw").empty());
  EXPECT_EQ(inbox.run_pending(), 1u);
  EXPECT_EQ(acks(), (std::vector<std::uint64_t>{9}));  // cumulative: one ack covers 7..9
  EXPECT_FALSE(inbox.has_pending());
  EXPECT_EQ(monitoring.stored.size(), 3u);
}

TEST_F(MonitoringIntakeTest, OneAppendAndOneAckPerDevicePerPass) {
  devices.set_online("gw2", true);
  registry.device_online("gw");
  registry.device_online("gw2");
  data(1);
  data(1, "s", {}, "gw2");
  data(2);
  data(2, "s", {}, "gw2");
  data(3);
  EXPECT_EQ(inbox.run_pending(), 1u);  // one hand-over for the pass
  ASSERT_EQ(monitoring.held.size(), 2u);
  EXPECT_EQ(monitoring.held[0].device, "gw");
  EXPECT_EQ(seqs(monitoring.held[0].records), (std::vector<std::uint64_t>{1, 2, 3}));
  EXPECT_EQ(monitoring.held[1].device, "gw2");
  EXPECT_EQ(seqs(monitoring.held[1].records), (std::vector<std::uint64_t>{1, 2}));
  // The next pass's records are a second append, committed in a later batch.
  data(4);
  EXPECT_EQ(inbox.run_pending(), 1u);
  ASSERT_EQ(monitoring.held.size(), 3u);
  EXPECT_EQ(seqs(monitoring.held[2].records), (std::vector<std::uint64_t>{4}));
  // Both batches' completions come back in one loop task, then one ack per device.
  monitoring.commit();
  EXPECT_EQ(inbox.run_pending(), 1u);
  EXPECT_TRUE(devices.take("gw").empty());
  EXPECT_EQ(inbox.run_pending(), 1u);
  EXPECT_EQ(acks("gw"), (std::vector<std::uint64_t>{4}));
  EXPECT_EQ(acks("gw2"), (std::vector<std::uint64_t>{2}));
  EXPECT_FALSE(inbox.has_pending());
}

// The writer's completions leave one line per device in the mailbox, however many
// of its appends committed meanwhile, and one loop task takes every line. (Taken a
// fixed share per task, a line per append piled up faster than the loop took them
// once the loop lagged, and acks fell behind for good: docs/performance.md.)
TEST_F(MonitoringIntakeTest, OneLoopTaskTakesEveryCompletionAsOneLinePerDevice) {
  constexpr std::size_t kDevices = 3000;
  constexpr std::uint64_t kPasses = 3;
  for (std::size_t i = 0; i < kDevices; ++i) {
    const std::string id = "d" + std::to_string(i);
    devices.set_online(id, true);
    registry.device_online(id);
  }
  for (std::uint64_t seq = 1; seq <= kPasses; ++seq) {
    for (std::size_t i = 0; i < kDevices; ++i) data(seq, "s", {}, "d" + std::to_string(i));
    EXPECT_EQ(inbox.run_pending(), 1u);  // the pass's hand-over
  }
  ASSERT_EQ(monitoring.held.size(), kDevices * kPasses);
  monitoring.commit();
  EXPECT_EQ(inbox.run_pending(1), 1u);  // every completion
  // The acks, kAcksPerTask per task.
  std::size_t ack_tasks = 0;
  while (inbox.run_pending(1) != 0) ++ack_tasks;
  EXPECT_EQ(ack_tasks,
            (kDevices + MonitoringIntake::kAcksPerTask - 1) / MonitoringIntake::kAcksPerTask);
  for (std::size_t i = 0; i < kDevices; ++i) {
    ASSERT_EQ(acks("d" + std::to_string(i)), (std::vector<std::uint64_t>{kPasses})) << i;
  }
  EXPECT_EQ(monitoring.stored.size(), kDevices * kPasses);
}

// Two appends of one device fold into one line: the highest seq, and a failure in
// either stops the acks of the link (a cumulative ack would cover the lost seqs).
TEST_F(MonitoringIntakeTest, ALineOfSeveralCommitsKeepsTheirFailure) {
  data(1);
  inbox.run_pending();
  data(2);
  inbox.run_pending();
  data(3);
  inbox.run_pending();
  ASSERT_EQ(monitoring.held.size(), 3u);
  auto held = std::exchange(monitoring.held, {});
  held[0].done(Status::Ok());
  held[1].done(Error(ErrorCode::kStorageFailure, "disk on fire"));
  held[2].done(Status::Ok());
  while (inbox.run_pending() != 0) {
  }
  EXPECT_TRUE(acks().empty());
  ASSERT_EQ(devices.disconnects["gw"].size(), 1u);
  EXPECT_EQ(devices.disconnects["gw"][0].first, close_code::kInternalError);
  // Commits that all succeed fold into one ack of the highest seq.
  registry.device_offline("gw");
  registry.device_online("gw");
  for (std::uint64_t seq = 1; seq <= 3; ++seq) {
    data(seq);
    inbox.run_pending();
  }
  ASSERT_EQ(monitoring.held.size(), 3u);
  monitoring.commit();
  while (inbox.run_pending() != 0) {
  }
  EXPECT_EQ(acks(), (std::vector<std::uint64_t>{3}));
}

// A device acked less than a second ago has its next ack held until the second is
// up; it goes out from the next flush or tick after that, covering everything
// committed meanwhile. A quiet device's record is acked at once.
TEST_F(MonitoringIntakeTest, AnAckWithinASecondOfTheLastIsHeldUntilItIsDue) {
  std::int64_t now = 5000;
  intake->set_clock([&] { return now; });
  data(1);
  commit();
  EXPECT_EQ(acks(), (std::vector<std::uint64_t>{1}));
  now += 100;
  data(2);
  commit();
  now += 100;
  data(3);
  commit();
  EXPECT_TRUE(acks().empty());
  EXPECT_EQ(monitoring.stored.size(), 3u);
  tick();  // not due yet
  EXPECT_TRUE(acks().empty());
  now = 5000 + MonitoringIntake::kAckIntervalMs;
  tick();
  EXPECT_EQ(acks(), (std::vector<std::uint64_t>{3}));
  // Held again; this time the next commit's flush sends it once it is due.
  data(4);
  commit();
  EXPECT_TRUE(acks().empty());
  now += MonitoringIntake::kAckIntervalMs;
  data(5);
  commit();
  EXPECT_EQ(acks(), (std::vector<std::uint64_t>{5}));
  // Nothing held: a tick sends nothing; a second later a record is acked at once.
  tick();
  EXPECT_TRUE(acks().empty());
  now += MonitoringIntake::kAckIntervalMs;
  data(6);
  commit();
  EXPECT_EQ(acks(), (std::vector<std::uint64_t>{6}));
}

// A device replaying its backlog is not held to one ack a second: an ack goes out
// as soon as kAckAtOnce records wait for it.
TEST_F(MonitoringIntakeTest, AnAckOfKAckAtOnceRecordsIsNotHeld) {
  intake->set_clock([] { return std::int64_t{5000}; });
  data(1);
  commit();
  EXPECT_EQ(acks(), (std::vector<std::uint64_t>{1}));
  const std::uint64_t last = 1 + MonitoringIntake::kAckAtOnce;
  for (std::uint64_t seq = 2; seq < last; ++seq) data(seq);
  commit();
  EXPECT_TRUE(acks().empty());  // one short
  data(last);
  commit();
  EXPECT_EQ(acks(), (std::vector<std::uint64_t>{last}));
}

// A held ack of a link that closed is not sent on the next link, and the entry of
// the gone device is dropped at the tick (under ASan: no use after free).
TEST_F(MonitoringIntakeTest, AHeldAckOfALinkThatClosedIsDropped) {
  std::int64_t now = 5000;
  intake->set_clock([&] { return now; });
  data(1);
  commit();
  EXPECT_EQ(acks(), (std::vector<std::uint64_t>{1}));
  data(2);
  commit();
  registry.device_offline("gw");
  now += MonitoringIntake::kAckIntervalMs;
  tick();
  EXPECT_TRUE(acks().empty());
  registry.device_online("gw");
  tick();
  EXPECT_TRUE(acks().empty());
  data(2);
  data(3);
  commit();
  EXPECT_EQ(acks(), (std::vector<std::uint64_t>{3}));
  EXPECT_EQ(monitoring.stored.size(), 3u);
}

// The ten thousand acks of one commit do not go out in one loop task: a flush
// sends kAcksPerTask and queues the rest behind what the loop queued meanwhile
// (an operator's keystroke waited over 100 ms behind one big flush).
TEST_F(MonitoringIntakeTest, OneLoopTaskSendsAtMostKAcksPerTask) {
  const std::size_t devices_n = MonitoringIntake::kAcksPerTask * 2 + 10;
  std::vector<std::string> ids;
  for (std::size_t i = 0; i < devices_n; ++i) {
    ids.push_back("gw" + std::to_string(i));
    devices.set_online(ids.back(), true);
    registry.device_online(ids.back());
    data(1, "s", {}, ids.back());
  }
  while (inbox.run_pending() != 0) {
  }
  monitoring.commit();
  std::size_t most_in_a_task = 0;
  std::size_t total = 0;
  std::size_t tasks = 0;
  while (inbox.run_pending(1) != 0) {
    ++tasks;
    std::size_t sent = 0;
    for (const auto& id : ids) sent += acks(id).size();
    most_in_a_task = std::max(most_in_a_task, sent);
    total += sent;
  }
  EXPECT_EQ(total, devices_n);
  EXPECT_EQ(most_in_a_task, MonitoringIntake::kAcksPerTask);
  EXPECT_GE(tasks, 4u);  // the completions, then three flushes
}

TEST_F(MonitoringIntakeTest, RecordsOfALinkThatDroppedAreStoredButNotAcknowledged) {
  registry.device_online("gw");
  data(1);
  data(2);
  registry.device_offline("gw");  // before the hand-over
  commit();
  EXPECT_TRUE(acks().empty());
  EXPECT_EQ(monitoring.stored.size(), 2u);
  // The next link starts afresh: its own records are acked, cumulatively.
  registry.device_online("gw");
  data(3);
  commit();
  EXPECT_EQ(acks(), (std::vector<std::uint64_t>{3}));
}

TEST_F(MonitoringIntakeTest, ASeqAlreadyStoredIsStoredOnceAndStillAcknowledged) {
  data(1);
  data(2);
  commit();
  EXPECT_EQ(acks(), (std::vector<std::uint64_t>{2}));
  // The device reconnects and sends both again (their acks were lost).
  registry.device_offline("gw");
  registry.device_online("gw");
  data(1);
  data(2);
  data(3);
  commit();
  EXPECT_EQ(acks(), (std::vector<std::uint64_t>{3}));
  EXPECT_EQ(monitoring.stored.size(), 3u);
  // An old seq on the same link is acked with the cumulative value.
  data(2);
  commit();
  EXPECT_EQ(acks(), (std::vector<std::uint64_t>{3}));
}

TEST_F(MonitoringIntakeTest, AFailedCommitIsNotAcknowledged) {
  data(1);
  inbox.run_pending();
  ASSERT_EQ(monitoring.held.size(), 1u);
  monitoring.fail();
  inbox.run_pending();
  EXPECT_TRUE(devices.take("gw").empty());
  // The link is closed so that the device sends seq 1 again on its next link.
  ASSERT_EQ(devices.disconnects["gw"].size(), 1u);
  EXPECT_EQ(devices.disconnects["gw"][0].first, close_code::kInternalError);
  // A later record of the same link commits, but its cumulative ack would cover
  // seq 1, which was never stored: nothing is acked on this link any more.
  data(2);
  commit();
  EXPECT_TRUE(acks().empty());
  EXPECT_EQ(devices.disconnects["gw"].size(), 1u);  // closed once
  // The device's next link re-sends; now it is stored and acked.
  registry.device_offline("gw");
  registry.device_online("gw");
  data(1);
  data(2);
  commit();
  EXPECT_EQ(acks(), (std::vector<std::uint64_t>{2}));
}

// A commit that came back just before the device's link closed leaves an ack flush
// queued for it: the flush must find the device's entry (it held a pointer to an
// erased one: use after free under ASan), send nothing to the gone link, and
// nothing of the old link's acks to a new link opened meanwhile.
TEST_F(MonitoringIntakeTest, ALinkClosedBetweenACommitAndItsAckIsNotAcked) {
  data(1);
  inbox.run_pending();
  ASSERT_EQ(monitoring.held.size(), 1u);
  monitoring.commit();
  EXPECT_EQ(inbox.run_pending(), 1u);  // the completions; the ack flush is queued
  registry.device_offline("gw");
  while (inbox.run_pending() != 0) {
  }
  EXPECT_TRUE(acks().empty());

  data(2);
  inbox.run_pending();
  monitoring.commit();
  EXPECT_EQ(inbox.run_pending(), 1u);
  registry.device_offline("gw");
  registry.device_online("gw");
  while (inbox.run_pending() != 0) {
  }
  EXPECT_TRUE(acks().empty());
  // The new link's own records are acked as usual.
  data(3);
  commit();
  EXPECT_EQ(acks(), (std::vector<std::uint64_t>{3}));
}

TEST_F(MonitoringIntakeTest, CompletionsAfterTheServiceIsGoneDoNothing) {
  data(1);
  inbox.run_pending();
  ASSERT_EQ(monitoring.held.size(), 1u);
  monitoring.commit();
  registry = ServiceRegistry();  // the service is destroyed with its old registry
  EXPECT_EQ(inbox.run_pending(), 1u);
  EXPECT_TRUE(devices.take("gw").empty());
}

TEST_F(MonitoringIntakeTest, BadBodiesAreErrorsAndNothingIsStored) {
  using protocol::Map;
  using protocol::Value;
  auto raw = [&](const char* typ, const Map& m) {
    from_dev(protocol::make_msg(proto::kMonitoring, typ, {}, {}, protocol::encode_value(Value(m))));
  };
  from_dev(protocol::make_msg(proto::kMonitoring, "status", {}, {}, {0xc1}));      // garbage
  raw("data", {{"seq", "x"}});                                                     // wrong type
  from_dev(protocol::make_msg(proto::kMonitoring, "data"));                        // no body at all
  from_dev(protocol::make_msg(proto::kMonitoring, "data", {}, {}, {0x84, 0xa3}));  // truncated
  from_dev(protocol::make_msg(proto::kMonitoring, "telemetry"));
  data(1, std::string(MonitoringIntake::kMaxName + 1, 's'));  // stream too long
  data(2, "");                                                // no stream
  Map many;
  for (std::size_t i = 0; i <= MonitoringIntake::kMaxFields; ++i) {
    many.emplace_back("f" + std::to_string(i), 1);
  }
  data(3, "s", many);                                                          // too many values
  data(4, "s", {{"blob", std::string(MonitoringIntake::kMaxBodyJson, 'x')}});  // too big
  from_dev(protocol::make_msg(
      proto::kMonitoring, "alert", {}, {},
      monitoring::AlertRecord{5, 1, "a", "apocalyptic", "raised", "", {}}.encode()));
  from_dev(protocol::make_msg(
      proto::kMonitoring, "alert", {}, {},
      monitoring::AlertRecord{
          6, 1, "a", "info", "raised", std::string(MonitoringIntake::kMaxSummary + 1, 'x'), {}}
          .encode()));
  data(std::uint64_t{1} << 63U);  // beyond what the store's int64 keeps
  auto sent = devices.take("gw");
  ASSERT_EQ(sent.size(), 12u);
  for (const auto& m : sent) EXPECT_FALSE(error_of(m).close);
  EXPECT_NE(error_of(sent[1]).err.find("seq"), std::string::npos);
  EXPECT_EQ(error_of(sent[4]).err, "unknown monitoring typ 'telemetry'");
  EXPECT_NE(error_of(sent[5]).err.find("stream"), std::string::npos);
  EXPECT_NE(error_of(sent[7]).err.find("values"), std::string::npos);
  EXPECT_NE(error_of(sent[9]).err.find("severity"), std::string::npos);
  EXPECT_NE(error_of(sent[10]).err.find("summary"), std::string::npos);
  EXPECT_TRUE(store.statuses.empty());
  EXPECT_TRUE(monitoring.held.empty());
  commit();
  EXPECT_TRUE(monitoring.stored.empty());
}

TEST_F(MonitoringIntakeTest, ADeviceWhoseRecordsWaitForCommitsIsPaused) {
  for (std::uint64_t seq = 1; seq <= MonitoringIntake::kMaxUncommitted; ++seq) data(seq);
  EXPECT_EQ(devices.receiving.count("gw"), 0u);
  data(MonitoringIntake::kMaxUncommitted + 1);
  EXPECT_FALSE(devices.receiving.at("gw"));
  commit();
  EXPECT_TRUE(devices.receiving.at("gw"));
  const auto sent = acks();
  ASSERT_FALSE(sent.empty());
  EXPECT_EQ(sent.back(), MonitoringIntake::kMaxUncommitted + 1);
}

TEST_F(MonitoringIntakeTest, PresenceFollowsTheLease) {
  registry.device_online("gw");
  monitoring::Status st{"shutdown", "gw", "1", "b", 1, {}};
  from_dev(protocol::make_msg(proto::kMonitoring, "status", {}, {}, st.encode()));
  registry.device_offline("gw");
  ASSERT_EQ(monitoring.presence_events.size(), 3u);
  EXPECT_EQ(monitoring.presence_events[0].second.event, "online");
  EXPECT_EQ(monitoring.presence_events[1].second.event, "shutdown");
  EXPECT_EQ(monitoring.presence_events[2].second.event, "offline");
}

TEST_F(MonitoringIntakeTest, OperatorsMayNotSendMonitoring) {
  operators.connected(1, "gw", "alice", alice);
  from_op(1, protocol::make_msg(proto::kMonitoring, "ack"));
  EXPECT_EQ(error_of(alice.take().at(0)).err, "proto 16 may not be sent to a device");
  EXPECT_TRUE(devices.take("gw").empty());
}

// ------------------------------------------------------------------ passthrough

TEST_F(ServiceTest, PassthroughForwardsOperatorMessagesAndDropsDeviceOnes) {
  add<Passthrough>({proto::kConfig, proto::kCommand});
  operators.connected(1, "gw", "alice", alice);
  from_op(1, protocol::make_msg(proto::kConfig, "set"));
  auto sent = devices.take("gw");
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].hdr.prop_str("user_id"), "alice");
  from_dev(protocol::make_msg(proto::kCommand, "result"));
  EXPECT_TRUE(devices.take("gw").empty());
  EXPECT_TRUE(alice.take().empty());
  EXPECT_TRUE(unrouted.empty());
}

// ------------------------------------------------------------------ registration

// A protocol the hub has never heard of, added the way a new service would be:
// one class, one registration, nothing else touched.
constexpr std::uint16_t kEcho = 0x7001;

class EchoService final : public ProtocolService, public ApiHandler {
 public:
  explicit EchoService(ServiceContext context) : context_(context) {}

  // Device -> every attached operator? No: to the sid's owner, like the others.
  void on_device_message(const std::string& device_id, ProtoMsg& msg) override {
    ++device_messages;
    if (msg.hdr.typ == "echo") {
      (void)context_.devices.send(device_id, protocol::make_msg(kEcho, "echoed", msg.hdr.sid),
                                  true);
    } else {
      context_.operators.to_owner(device_id, msg, true, true);
    }
  }
  bool on_operator_message(OperatorId op, ProtoMsg& msg) override {
    if (context_.operators.claim(op, msg, *this) == Claim::kClaimed) {
      context_.operators.to_device(op, msg, true);
    }
    return true;
  }
  void on_session_abandoned(const std::string& device_id, const std::string& user,
                            const std::string& sid) override {
    abandoned.push_back(device_id + "/" + user + "/" + sid);
  }
  ApiHandler* api() override { return this; }

  // POST /api/devices/{id}/echo: the API pushes to a device through the service.
  std::optional<HttpResponse> handle(const HttpRequest& request, const Caller& caller) override {
    if (!caller.may(Role::kOperator)) return forbidden(Role::kOperator);
    constexpr std::string_view kPrefix = "/api/devices/";
    constexpr std::string_view kSuffix = "/echo";
    const std::string& p = request.path;
    if (p.size() <= kPrefix.size() + kSuffix.size() || p.rfind(kPrefix, 0) != 0 ||
        p.compare(p.size() - kSuffix.size(), kSuffix.size(), kSuffix) != 0) {
      return std::nullopt;
    }
    const std::string device = p.substr(kPrefix.size(), p.size() - kPrefix.size() - kSuffix.size());
    ProtoMsg msg = protocol::make_msg(kEcho, "poke", {}, {{"user_id", caller.user}});
    if (!context_.devices.send(device, msg, true).ok()) {
      return HttpResponse{409, "{\"error\":\"offline\"}", {}};
    }
    return HttpResponse{202, "{}", {}};
  }

  int device_messages = 0;
  std::vector<std::string> abandoned;

 private:
  ServiceContext context_;
};

TEST_F(ServiceTest, AServiceIsWiredInByItsRegistrationAlone) {
  EchoService& echo = add<EchoService>({kEcho});
  operators.connected(1, "gw", "alice", alice);
  // operator -> service -> device
  from_op(1, protocol::make_msg(kEcho, "start", "e1"));
  auto sent = devices.take("gw");
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].hdr.proto, kEcho);
  EXPECT_EQ(sent[0].hdr.prop_str("user_id"), "alice");
  // device -> service -> device, and device -> service -> owning operator
  from_dev(protocol::make_msg(kEcho, "echo", "e1"));
  EXPECT_EQ(devices.take("gw").at(0).hdr.typ, "echoed");
  from_dev(protocol::make_msg(kEcho, "done", "e1"));
  EXPECT_EQ(alice.take().at(0).hdr.typ, "done");
  EXPECT_EQ(echo.device_messages, 2);
  EXPECT_TRUE(unrouted.empty());
  // its sessions come back to it when the operator leaves
  from_op(1, protocol::make_msg(kEcho, "start", "e2"));
  operators.closed(1);
  EXPECT_EQ(echo.abandoned, std::vector<std::string>{"gw/alice/e2"});
  // a proto nobody registered is not routed
  from_dev(protocol::make_msg(0x7002, "x"));
  EXPECT_EQ(unrouted.size(), 1u);
}

TEST_F(ServiceTest, ARouteRefusesACallerBelowItsRole) {
  EchoService& echo = add<EchoService>({kEcho});
  HttpRequest req{"POST", "/api/devices/gw/echo", std::nullopt, "application/json", "{}"};
  auto refused = echo.handle(req, Caller{"vera", Role::kViewer});
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->status, 403u);
  EXPECT_NE(refused->body.find("the operator role is needed"), std::string::npos);
  EXPECT_TRUE(devices.take("gw").empty());
  EXPECT_EQ(echo.handle(req, Caller{"otto", Role::kOperator})->status, 202u);
}

TEST(Roles, NamesRoundTripAndOrder) {
  for (Role r : {Role::kViewer, Role::kOperator, Role::kAdmin}) {
    EXPECT_EQ(parse_role(role_name(r)), r);
  }
  EXPECT_FALSE(parse_role("root").has_value());
  EXPECT_FALSE(parse_role("").has_value());
  EXPECT_FALSE(parse_role("Admin").has_value());
  EXPECT_TRUE((Caller{"a", Role::kAdmin}.may(Role::kOperator)));
  EXPECT_FALSE((Caller{"v", Role::kViewer}.may(Role::kOperator)));
}

TEST_F(ServiceTest, TheJsonApiReachesAServiceThatSends) {
  add<EchoService>({kEcho});
  testing::ApiRig rig(store, devices, operators, registry, AuditTrail{}, log);
  HttpApi& api = rig.api;
  const std::string cookie = rig.session_for("admin");
  HttpRequest req{"POST", "/api/devices/gw/echo", cookie, "application/json", "{}"};
  EXPECT_EQ(api.handle(req).status, 202u);
  auto sent = devices.take("gw");
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].hdr.typ, "poke");
  EXPECT_EQ(sent[0].hdr.prop_str("user_id"), "admin");
  req.path = "/api/devices/elsewhere/echo";
  EXPECT_EQ(api.handle(req).status, 409u);
  req.session_cookie.reset();
  EXPECT_EQ(api.handle(req).status, 401u);  // the API's login check comes first
}

TEST(ServiceRegistry, OneServicePerNumber) {
  struct Quiet final : ProtocolService {
    void on_device_message(const std::string&, ProtoMsg&) override {}
  };
  ServiceRegistry registry;
  ASSERT_TRUE(registry.add({1, 2}, std::make_unique<Quiet>()).ok());
  auto taken = registry.add({3, 2}, std::make_unique<Quiet>());
  ASSERT_FALSE(taken.ok());
  EXPECT_EQ(taken.error().code(), ErrorCode::kBusy);
  EXPECT_EQ(registry.find(3), nullptr);  // nothing of a refused registration stays
  auto empty = registry.add({}, std::make_unique<Quiet>());
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(registry.services().size(), 1u);
  EXPECT_EQ(registry.find(1), registry.find(2));
}

}  // namespace
}  // namespace tether::hub
