// Several hub cores on one in-process bus (the cluster layer without NATS): the
// bus envelope's decoder, cross-instance sends and replies, presence, the lease
// across instances, flow control and the lease lists exchanged after a
// reconnection. tests/hub/cluster.test.mjs runs real hubs on a real nats-server.
#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "hub/auth.hpp"
#include "hub/cluster/bus_devices.hpp"
#include "hub/cluster/bus_envelope.hpp"
#include "hub/config.hpp"
#include "hub/core.hpp"
#include "protocol/codec.hpp"
#include "protocol/control.hpp"
#include "tests/hub/command_fakes.hpp"
#include "tests/hub/hub_fakes.hpp"

namespace tether::hub {
namespace {

using cluster::BusDevices;
using cluster::BusMessage;
using protocol::ProtoMsg;
using testing::FakeLink;
namespace proto = protocol::proto;

// ------------------------------------------------------------------ the envelope

TEST(BusEnvelope, EveryKindRoundTrips) {
  BusMessage send{BusMessage::Kind::kSend, "a1", "gw.1", true, false, 0, {1, 2, 3}, {}};
  auto back = cluster::decode_bus_message(cluster::encode_bus_message(send));
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(back->kind, BusMessage::Kind::kSend);
  EXPECT_EQ(back->from, "a1");
  EXPECT_EQ(back->device, "gw.1");
  EXPECT_TRUE(back->flag);
  EXPECT_EQ(back->msg, (protocol::Bytes{1, 2, 3}));

  BusMessage leases{BusMessage::Kind::kLeases, "b2", "", true, true, 0, {}, {{"x", 5}, {"y", 7}}};
  back = cluster::decode_bus_message(cluster::encode_bus_message(leases));
  ASSERT_TRUE(back.ok()) << back.error().message();
  ASSERT_EQ(back->leases.size(), 2u);
  EXPECT_EQ(back->leases[1].device, "y");
  EXPECT_EQ(back->leases[1].stamp, 7);
  EXPECT_TRUE(back->last);

  BusMessage alive{BusMessage::Kind::kAlive, "d4", "", false, false, 0, {}, {}};
  back = cluster::decode_bus_message(cluster::encode_bus_message(alive));
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(back->kind, BusMessage::Kind::kAlive);

  BusMessage online{BusMessage::Kind::kOnline, "c3", "gw", false, false, 42, {}, {}};
  back = cluster::decode_bus_message(cluster::encode_bus_message(online));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->stamp, 42);
}

TEST(BusEnvelope, RefusesGarbageTruncationOversizeAndWrongTypes) {
  const auto encode = [](protocol::Map map) { return protocol::encode_value(std::move(map)); };
  const protocol::Bytes good = cluster::encode_bus_message(
      BusMessage{BusMessage::Kind::kOnline, "a1", "gw", false, false, 42, {}, {}});
  EXPECT_FALSE(cluster::decode_bus_message(protocol::Bytes{0xc1, 0x00}).ok());
  EXPECT_FALSE(
      cluster::decode_bus_message(std::span<const std::uint8_t>(good).first(good.size() - 1)).ok());
  EXPECT_FALSE(cluster::decode_bus_message(protocol::Bytes(cluster::kMaxBusMessage + 1, 0)).ok());
  EXPECT_FALSE(cluster::decode_bus_message(encode_value(protocol::Value("x"))).ok());
  EXPECT_FALSE(cluster::decode_bus_message(encode({{"k", "nope"}, {"from", "a1"}})).ok());
  EXPECT_FALSE(cluster::decode_bus_message(encode({{"k", 1}, {"from", "a1"}})).ok());
  EXPECT_FALSE(cluster::decode_bus_message(encode({{"k", "hello"}})).ok());
  EXPECT_FALSE(cluster::decode_bus_message(encode({{"k", "hello"}, {"from", "A B"}})).ok());
  EXPECT_TRUE(cluster::decode_bus_message(encode({{"k", "hello"}, {"from", "a1"}})).ok());
  EXPECT_FALSE(
      cluster::decode_bus_message(encode({{"k", "online"}, {"from", "a1"}, {"d", "gw"}})).ok());
  EXPECT_FALSE(cluster::decode_bus_message(
                   encode({{"k", "online"}, {"from", "a1"}, {"d", "bad id"}, {"t", 1}}))
                   .ok());
  EXPECT_FALSE(
      cluster::decode_bus_message(encode({{"k", "online"}, {"from", "a1"}, {"d", "gw"}, {"t", -1}}))
          .ok());
  EXPECT_FALSE(cluster::decode_bus_message(
                   encode({{"k", "send"}, {"from", "a1"}, {"d", "gw"}, {"m", "text"}, {"f", true}}))
                   .ok());
  EXPECT_FALSE(cluster::decode_bus_message(encode({{"k", "leases"},
                                                   {"from", "a1"},
                                                   {"f", true},
                                                   {"last", true},
                                                   {"l", protocol::Array{protocol::Value(1)}}}))
                   .ok());
  protocol::Array too_many(cluster::kMaxLeasesPerMessage + 1,
                           protocol::Value(protocol::Array{"gw", 1}));
  EXPECT_FALSE(cluster::decode_bus_message(encode({{"k", "leases"},
                                                   {"from", "a1"},
                                                   {"f", true},
                                                   {"last", true},
                                                   {"l", std::move(too_many)}}))
                   .ok());
}

TEST(BusEnvelope, DeviceSubjectsAreSingleTokens) {
  EXPECT_EQ(cluster::bus_subjects::device("a.b"), "tether.device.612e62");
  EXPECT_NE(cluster::bus_subjects::device("a.b"), cluster::bus_subjects::device("a:b"));
}

// What an operator waits for goes ahead of the fleet's traffic on the receiving
// instance; presence (thousands of messages in a restart storm) and operator news
// do not.
TEST(BusEnvelope, OnlyTheDeviceAndInstanceSubjectsAreUrgent) {
  EXPECT_TRUE(cluster::bus_subjects::urgent(cluster::bus_subjects::device("gw-1")));
  EXPECT_TRUE(cluster::bus_subjects::urgent(cluster::bus_subjects::instance("a1b2")));
  EXPECT_FALSE(cluster::bus_subjects::urgent(cluster::bus_subjects::kPresence));
  EXPECT_FALSE(cluster::bus_subjects::urgent(cluster::bus_subjects::kOperators));
  EXPECT_FALSE(cluster::bus_subjects::urgent(""));
  EXPECT_FALSE(cluster::bus_subjects::urgent("tether.device"));
  EXPECT_FALSE(cluster::bus_subjects::urgent("other.tether.device.61"));
}

TEST(BusUrl, OnlyNatsHostPortIsAccepted) {
  const auto parse = [](const std::string& url) {
    const std::string arg = "--bus.url=" + url;
    const char* argv[] = {"tether-hub", arg.c_str()};
    return parse_command_line(2, argv);
  };
  auto ok = parse("nats://127.0.0.1:4222");
  ASSERT_TRUE(ok.ok()) << ok.error().message();
  EXPECT_EQ(ok->config.bus_url, "nats://127.0.0.1:4222");
  EXPECT_TRUE(parse("nats://bus.example:4222").ok());
  for (const char* bad :
       {"127.0.0.1:4222", "http://h:1", "nats://", "nats://h", "nats://h:", "nats://h:0",
        "nats://h:65536", "nats://h:12a", "nats://h h:1", "nats://:4222"}) {
    auto r = parse(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.error().message().find("bus.url"), std::string::npos) << r.error().message();
  }
  EXPECT_FALSE(parse("nats://" + std::string(600, 'h') + ":1").ok());
  const char* none[] = {"tether-hub"};
  EXPECT_EQ(parse_command_line(1, none)->config.bus_url, "");
}

// ------------------------------------------------------------------ an in-process bus

class TestBus;

// Every instance's bus connection; messages wait in one queue until pump().
class TestNetwork {
 public:
  void deliver_later(TestBus* from, std::string subject, protocol::Bytes data) {
    queue_.push_back({from, std::move(subject), std::move(data)});
  }
  void pump();
  std::vector<TestBus*> members;
  std::size_t delivered = 0;

 private:
  struct Pending {
    TestBus* from;
    std::string subject;
    protocol::Bytes data;
  };
  std::deque<Pending> queue_;
};

class TestBus final : public cluster::Bus {
 public:
  explicit TestBus(TestNetwork& network) : network_(network) { network_.members.push_back(this); }
  void add_handler(cluster::BusHandler& handler) override { handlers.push_back(&handler); }
  Status publish(const std::string& subject, const protocol::Bytes& data) override {
    if (down) return Error(ErrorCode::kUnavailable, "down");
    network_.deliver_later(this, subject, data);
    return Status::Ok();
  }
  Status subscribe(const std::string& subject) override {
    subjects.insert(subject);
    return Status::Ok();
  }
  void unsubscribe(const std::string& subject) override { subjects.erase(subject); }

  std::vector<cluster::BusHandler*> handlers;
  std::set<std::string> subjects;
  bool down = false;

 private:
  TestNetwork& network_;
};

void TestNetwork::pump() {
  while (!queue_.empty()) {
    Pending p = std::move(queue_.front());
    queue_.pop_front();
    for (TestBus* bus : members) {
      // No echo, as NatsBus asks of the server.
      if (bus == p.from || bus->down || bus->subjects.count(p.subject) == 0) continue;
      ++delivered;
      for (cluster::BusHandler* h : bus->handlers) h->bus_message(p.subject, p.data);
    }
  }
}

// One hub instance: a core with fake stores, on the test network.
struct Instance {
  Instance(TestNetwork& network, const std::string& id) : bus(network) {
    EXPECT_TRUE(store.put_device("gw", sha256_hex("t"), 1).ok());
    auto c = HubCore::create(store, monitoring, config_store, commands, limits, log);
    EXPECT_TRUE(c.ok());
    core = std::move(*c);
    devices = std::make_unique<BusDevices>(bus, id, log);
    core->insert_device_layer(*devices);
  }
  void from_op(std::uint64_t id, const ProtoMsg& m) {
    core->operators().message(id, protocol::encode(m));
  }

  Limits limits;
  Logger log{LogLevel::kError, kProgramName};
  testing::MemoryStore store;
  testing::HeldMonitoringStore monitoring;
  testing::HeldConfigStore config_store;
  testing::HeldCommandStore commands;
  std::unique_ptr<HubCore> core;
  TestBus bus;
  std::unique_ptr<BusDevices> devices;
};

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    a.devices->bus_connected();
    b.devices->bus_connected();
    network.pump();
  }
  void from_dev(Instance& at, ConnId conn, const ProtoMsg& m) {
    at.core->devices().message(conn, protocol::encode(m));
    network.pump();
  }

  TestNetwork network;
  Instance a{network, "aaaa"};
  Instance b{network, "bbbb"};
  FakeLink dev, dev2, op;
};

TEST_F(ClusterTest, AnOperatorOnOneInstanceDrivesAShellOnAnother) {
  b.core->devices().connected(1, "gw", dev);
  network.pump();
  EXPECT_TRUE(a.core->device_side().online("gw"));
  EXPECT_EQ(a.devices->where("gw"), "bbbb");
  ASSERT_EQ(a.core->operators().check_attach("gw"), AttachCheck::kOk);
  a.core->operators().connected(10, "gw", "alice", op);
  a.from_op(10, protocol::make_msg(proto::kShell, "new", "s1"));
  network.pump();
  auto to_device = dev.take();
  ASSERT_EQ(to_device.size(), 1u);
  EXPECT_EQ(to_device[0].hdr.typ, "new");
  EXPECT_EQ(to_device[0].hdr.sid, "s1");
  EXPECT_EQ(to_device[0].hdr.prop_str("user_id"), "alice");

  from_dev(b, 1, protocol::make_msg(proto::kShell, "new", "s1", {{"status", 1}}));
  from_dev(b, 1, protocol::make_msg(proto::kShell, "shell", "s1", {{"status", 1}}, {'h', 'i'}));
  auto to_op = op.take();
  ASSERT_EQ(to_op.size(), 2u);
  EXPECT_EQ(to_op[1].hdr.typ, "shell");
  EXPECT_EQ(std::string(to_op[1].body.begin(), to_op[1].body.end()), "hi");

  // Keystrokes go the same way; the operator leaving stops the shell on the device.
  a.from_op(10, protocol::make_msg(proto::kShell, "shell", "s1", {}, {'l', 's'}));
  network.pump();
  ASSERT_EQ(dev.take().size(), 1u);
  a.core->operators().closed(10);
  network.pump();
  auto stop = dev.take();
  ASSERT_EQ(stop.size(), 1u);
  EXPECT_EQ(stop[0].hdr.typ, "stop");
}

TEST_F(ClusterTest, MessagesWithoutARemoteSessionStayWhereTheLinkIs) {
  b.core->devices().connected(1, "gw", dev);
  network.pump();
  a.core->operators().connected(10, "gw", "alice", op);
  // An unknown sid: B's shell relay answers the device itself (stop the orphan).
  from_dev(b, 1, protocol::make_msg(proto::kShell, "shell", "zz", {{"status", 1}}, {'x'}));
  EXPECT_TRUE(op.take().empty());
  auto sent = dev.take();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].hdr.typ, "stop");
}

TEST_F(ClusterTest, TheDeviceLeavingClosesOperatorsOnOtherInstances) {
  b.core->devices().connected(1, "gw", dev);
  network.pump();
  a.core->operators().connected(10, "gw", "alice", op);
  b.core->devices().closed(1);
  network.pump();
  EXPECT_FALSE(a.core->device_side().online("gw"));
  EXPECT_EQ(op.closed, close_code::kGoingAway);
  EXPECT_EQ(a.core->operators().operators_of("gw"), 0u);
  EXPECT_EQ(a.core->device_side()
                .send("gw", protocol::make_msg(proto::kShell, "stop", "s"), true)
                .error()
                .code(),
            ErrorCode::kUnavailable);
}

TEST_F(ClusterTest, ReconnectingToAnotherInstanceReplacesTheOldLink) {
  b.core->devices().connected(1, "gw", dev);
  network.pump();
  a.core->operators().connected(10, "gw", "alice", op);
  a.core->devices().connected(2, "gw", dev2);
  network.pump();
  EXPECT_EQ(dev.closed, close_code::kNormal);
  EXPECT_EQ(dev2.closed, 0);
  EXPECT_EQ(op.closed, close_code::kGoingAway);  // its sessions were on the old link
  EXPECT_EQ(a.devices->where("gw"), "aaaa");
  EXPECT_EQ(b.devices->where("gw"), "aaaa");
  EXPECT_FALSE(b.core->devices().online("gw"));
  // B now sends to the device through A.
  ASSERT_TRUE(
      b.core->device_side().send("gw", protocol::make_msg(proto::kShell, "ping", "p"), true).ok());
  network.pump();
  ASSERT_EQ(dev2.take().size(), 1u);
}

TEST_F(ClusterTest, TheNewerLeaseWinsWhenBothInstancesSawAConnection) {
  // Both connect before either hears the other: the later stamp (ties: the larger
  // instance id) keeps its link, the other drops its own.
  a.core->devices().connected(1, "gw", dev);
  b.core->devices().connected(2, "gw", dev2);
  network.pump();
  EXPECT_EQ(dev.closed + dev2.closed, close_code::kNormal);
  const std::string holder = a.devices->where("gw");
  EXPECT_EQ(holder, b.devices->where("gw"));
  EXPECT_TRUE(holder == "aaaa" || holder == "bbbb");
  EXPECT_EQ(holder == "aaaa" ? dev.closed : dev2.closed, 0);
}

TEST_F(ClusterTest, ASlowRemoteOperatorPausesTheDevice) {
  b.core->devices().connected(1, "gw", dev);
  network.pump();
  a.core->operators().connected(10, "gw", "alice", op);
  a.from_op(10, protocol::make_msg(proto::kShell, "new", "s"));
  network.pump();
  op.queued = a.limits.queue_high_water + 1;
  from_dev(b, 1, protocol::make_msg(proto::kShell, "shell", "s", {{"status", 1}}, {'x'}));
  EXPECT_FALSE(dev.receiving);
  op.queued = 0;
  a.core->operators().wrote(10);
  network.pump();
  EXPECT_TRUE(dev.receiving);
}

TEST_F(ClusterTest, ALeaseListAfterAnOutageRetiresWhatWasMissed) {
  b.core->devices().connected(1, "gw", dev);
  network.pump();
  a.core->operators().connected(10, "gw", "alice", op);
  // B loses the bus; the device leaves B meanwhile and its offline news is lost.
  b.bus.down = true;
  b.core->devices().closed(1);
  network.pump();
  EXPECT_TRUE(a.core->device_side().online("gw"));
  b.bus.down = false;
  b.devices->bus_connected();
  network.pump();
  EXPECT_FALSE(a.core->device_side().online("gw"));
  EXPECT_EQ(op.closed, close_code::kGoingAway);
}

TEST_F(ClusterTest, AnInstanceJoiningLateLearnsTheLeases) {
  b.core->devices().connected(1, "gw", dev);
  network.pump();
  Instance c{network, "cccc"};
  c.devices->bus_connected();
  network.pump();
  EXPECT_EQ(c.devices->where("gw"), "bbbb");
}

TEST_F(ClusterTest, InstancesThatKeepTalkingKeepTheirLeases) {
  b.core->devices().connected(1, "gw", dev);
  network.pump();
  for (int i = 0; i < 10; ++i) {
    a.devices->bus_tick();
    b.devices->bus_tick();
    network.pump();
  }
  EXPECT_EQ(a.devices->where("gw"), "bbbb");
}

// The instance whose slow operator paused the device is killed: nothing will
// ever resume the device for it, so the instance holding the link does when it
// takes that instance for dead (else the device's link stays unread for good).
TEST_F(ClusterTest, AnInstanceTakenForDeadNoLongerPausesTheDevice) {
  b.core->devices().connected(1, "gw", dev);
  network.pump();
  a.core->operators().connected(10, "gw", "alice", op);
  a.from_op(10, protocol::make_msg(proto::kShell, "new", "s"));
  network.pump();
  op.queued = a.limits.queue_high_water + 1;
  from_dev(b, 1, protocol::make_msg(proto::kShell, "shell", "s", {{"status", 1}}, {'x'}));
  ASSERT_FALSE(dev.receiving);
  a.bus.down = true;  // killed with its operator still slow
  for (std::uint64_t i = 0; i < BusDevices::kMissedTicks; ++i) {
    b.devices->bus_tick();
    network.pump();
  }
  EXPECT_FALSE(dev.receiving);
  b.devices->bus_tick();
  network.pump();
  EXPECT_TRUE(dev.receiving);
}

TEST_F(ClusterTest, ASilentInstanceLosesItsDevicesElsewhere) {
  b.core->devices().connected(1, "gw", dev);
  network.pump();
  a.core->operators().connected(10, "gw", "alice", op);
  b.bus.down = true;  // killed: no offline news, no heartbeat
  for (std::uint64_t i = 0; i < BusDevices::kMissedTicks; ++i) {
    a.devices->bus_tick();
    network.pump();
  }
  EXPECT_EQ(a.devices->where("gw"), "bbbb");
  a.devices->bus_tick();
  network.pump();
  EXPECT_EQ(a.devices->where("gw"), "");
  EXPECT_FALSE(a.core->device_side().online("gw"));
  EXPECT_EQ(op.closed, close_code::kGoingAway);
  // When it comes back, its lease list makes the device known again.
  b.bus.down = false;
  b.devices->bus_connected();
  network.pump();
  EXPECT_EQ(a.devices->where("gw"), "bbbb");
}

TEST_F(ClusterTest, AnInstanceTakenForDeadThatSpeaksAgainIsAskedForItsLeases) {
  b.core->devices().connected(1, "gw", dev);
  network.pump();
  b.bus.down = true;  // hung, not dead: it keeps its link
  for (std::uint64_t i = 0; i <= BusDevices::kMissedTicks; ++i) {
    a.devices->bus_tick();
    network.pump();
  }
  ASSERT_EQ(a.devices->where("gw"), "");
  b.bus.down = false;
  b.devices->bus_tick();  // its next heartbeat
  network.pump();
  EXPECT_EQ(a.devices->where("gw"), "bbbb");
  EXPECT_EQ(dev.closed, 0);
}

TEST_F(ClusterTest, SilenceWhileCutOffFromTheBusExpiresNothing) {
  b.core->devices().connected(1, "gw", dev);
  network.pump();
  a.devices->bus_disconnected();
  a.bus.down = true;
  for (int i = 0; i < 10; ++i) a.devices->bus_tick();
  EXPECT_EQ(a.devices->where("gw"), "bbbb");
  a.bus.down = false;
  a.devices->bus_connected();
  network.pump();
  a.devices->bus_tick();
  network.pump();
  EXPECT_EQ(a.devices->where("gw"), "bbbb");
}

TEST_F(ClusterTest, GarbageOnTheBusIsIgnored) {
  b.core->devices().connected(1, "gw", dev);
  network.pump();
  b.devices->bus_message(cluster::bus_subjects::device("gw"), protocol::Bytes{1, 2, 3});
  BusMessage bad_inner{BusMessage::Kind::kSend, "aaaa", "gw", true, false, 0, {0xc1}, {}};
  b.devices->bus_message(cluster::bus_subjects::device("gw"),
                         cluster::encode_bus_message(bad_inner));
  EXPECT_TRUE(dev.take().empty());
  EXPECT_EQ(dev.closed, 0);
}

}  // namespace
}  // namespace tether::hub
