// tether-sim's device logic without sockets: what a SimulatedDevice says after a
// connect, how it keeps its record window and re-sends, and how its fake shell,
// config and command handlers answer (good, bad and garbage input); its options
// and its tokens file.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "hub/sim/fleet.hpp"
#include "hub/sim/sim_options.hpp"
#include "hub/sim/simulated_device.hpp"
#include "protocol/command.hpp"
#include "protocol/config.hpp"
#include "protocol/control.hpp"
#include "protocol/message.hpp"
#include "protocol/monitoring.hpp"

namespace tether::sim {
namespace {

using protocol::Bytes;
using protocol::Map;
using protocol::ProtoMsg;
using protocol::Value;
namespace proto = protocol::proto;

std::vector<ProtoMsg> decode_all(const std::vector<Bytes>& out) {
  std::vector<ProtoMsg> msgs;
  for (const auto& b : out) {
    auto m = protocol::decode(b);
    EXPECT_TRUE(m.ok());
    if (m.ok()) msgs.push_back(*m);
  }
  return msgs;
}

std::vector<std::uint64_t> data_seqs(const std::vector<ProtoMsg>& msgs) {
  std::vector<std::uint64_t> seqs;
  for (const auto& m : msgs) {
    if (m.hdr.proto == proto::kMonitoring && m.hdr.typ == "data") {
      seqs.push_back(protocol::monitoring::DataRecord::decode(m.body)->seq);
    }
  }
  return seqs;
}

Bytes ack(std::uint64_t seq) {
  protocol::monitoring::Ack a{seq};
  return protocol::encode(protocol::make_msg(proto::kMonitoring, "ack", {}, {}, a.encode()));
}

struct Device : ::testing::Test {
  DeviceBehaviour behaviour = [] {
    DeviceBehaviour b;
    b.window = 4;
    b.max_unacked = 10;
    return b;
  }();
  SimulatedDevice dev{"sim-1", behaviour, 42};
  std::vector<Bytes> out;

  std::vector<ProtoMsg> take() {
    auto msgs = decode_all(out);
    out.clear();
    return msgs;
  }
  std::vector<ProtoMsg> send(const ProtoMsg& msg) {
    dev.message(protocol::encode(msg), 1000, out);
    return take();
  }
};

TEST_F(Device, AnnouncesItselfAfterEveryConnect) {
  dev.connected(5000, out);
  auto msgs = take();
  ASSERT_EQ(msgs.size(), 3u);
  EXPECT_EQ(msgs[0].hdr.proto, proto::kMonitoring);
  auto status = protocol::monitoring::Status::decode(msgs[0].body);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->state, "online");
  EXPECT_EQ(status->device_id, "sim-1");
  EXPECT_EQ(status->version, "sim-1");
  EXPECT_EQ(status->boot_id.size(), 32u);
  EXPECT_EQ(msgs[1].hdr.typ, "current");
  EXPECT_EQ(msgs[2].hdr.typ, "targets");
  EXPECT_EQ(protocol::command::Targets::decode(msgs[2].body)->targets,
            std::vector<std::string>{"sim"});
}

TEST_F(Device, KeepsTheWindowAndResendsWhatWasNotAcked) {
  dev.make_records(3, 100, out);  // offline: made, not sent
  EXPECT_TRUE(out.empty());
  dev.connected(200, out);
  EXPECT_EQ(data_seqs(take()), (std::vector<std::uint64_t>{1, 2, 3}));
  dev.make_records(4, 300, out);
  EXPECT_EQ(data_seqs(take()), (std::vector<std::uint64_t>{4}));  // window of 4 full
  dev.message(ack(2), 400, out);
  EXPECT_EQ(data_seqs(take()), (std::vector<std::uint64_t>{5, 6}));
  EXPECT_EQ(dev.acked_seq(), 2u);
  dev.disconnected();
  dev.connected(500, out);
  EXPECT_EQ(data_seqs(take()), (std::vector<std::uint64_t>{3, 4, 5, 6}));
  dev.message(ack(7), 600, out);
  EXPECT_EQ(dev.acked_seq(), 7u);
  EXPECT_EQ(dev.last_seq(), 7u);
  // An ack beyond what was made is refused, not believed.
  dev.message(ack(99), 700, out);
  EXPECT_EQ(dev.acked_seq(), 7u);
  EXPECT_EQ(dev.counters().bad_messages, 1u);
  // Unacked records are bounded: past max_unacked, new ones are skipped and counted.
  dev.make_records(15, 800, out);
  EXPECT_EQ(dev.last_seq(), 17u);
  EXPECT_EQ(dev.counters().records_skipped, 5u);
}

TEST_F(Device, FakeShellEchoes) {
  dev.connected(0, out);
  take();
  auto r = send(protocol::make_msg(proto::kShell, "new", "s1"));
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].hdr.prop_int("status"), 1);
  EXPECT_EQ(send(protocol::make_msg(proto::kShell, "new", "s1"))[0].hdr.prop_int("status"), 2);
  r = send(protocol::make_msg(proto::kShell, "shell", "s1", {}, Bytes{'l', 's', '\n'}));
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].hdr.typ, "shell");
  EXPECT_EQ(r[0].body, (Bytes{'l', 's', '\n'}));
  EXPECT_EQ(send(protocol::make_msg(proto::kShell, "shell", "nope"))[0].hdr.prop_int("status"), 2);
  r = send(protocol::make_msg(proto::kShell, "stop", "s1"));
  EXPECT_EQ(r[0].hdr.typ, "stop");
  EXPECT_EQ(r[0].hdr.prop_int("status"), 1);
  EXPECT_EQ(send(protocol::make_msg(proto::kShell, "shell", "s1"))[0].hdr.prop_int("status"), 2);
  r = send(protocol::make_msg(proto::kShell, "bogus", "s1"));
  EXPECT_EQ(r[0].hdr.proto, proto::kControl);
}

TEST_F(Device, ConfigIsAppliedOncePerVersion) {
  protocol::ConfigSet set{3, Map{{"a", Value(1)}}, std::nullopt};
  auto r = send(protocol::make_msg(proto::kConfig, "set", {}, {}, set.encode()));
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].hdr.typ, "applied");
  EXPECT_EQ(protocol::ConfigApplied::decode(r[0].body)->version, 3u);
  set.version = 2;
  r = send(protocol::make_msg(proto::kConfig, "set", {}, {}, set.encode()));
  EXPECT_EQ(protocol::ConfigApplied::decode(r[0].body)->version, 3u);
  EXPECT_EQ(dev.counters().configs_applied, 1u);
  r = send(protocol::make_msg(proto::kConfig, "get"));
  auto current = protocol::ConfigCurrent::decode(r[0].body);
  ASSERT_TRUE(current.ok());
  EXPECT_EQ(current->version, 3u);
  EXPECT_EQ(current->values, (Map{{"a", Value(1)}}));
  r = send(protocol::make_msg(proto::kConfig, "set", {}, {}, Bytes{0xc1}));
  EXPECT_EQ(r[0].hdr.typ, "error");
}

TEST_F(Device, CommandsAreAnsweredOncePerIdUntilAcked) {
  protocol::command::Request req{"c1", "sim", "blink", std::nullopt, std::nullopt};
  auto r = send(protocol::make_msg(proto::kCommand, "request", {}, {}, req.encode()));
  ASSERT_EQ(r.size(), 1u);
  auto result = protocol::command::ResultBody::decode(r[0].body);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->id, "c1");
  EXPECT_EQ(result->status, "ok");
  // The same id again: the stored result, not a second execution.
  r = send(protocol::make_msg(proto::kCommand, "request", {}, {}, req.encode()));
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(dev.counters().command_results, 1u);
  // Re-sent after a connect until acked.
  dev.connected(0, out);
  EXPECT_EQ(take().size(), 4u);
  protocol::command::Ack a{"c1"};
  send(protocol::make_msg(proto::kCommand, "ack", {}, {}, a.encode()));
  dev.connected(0, out);
  EXPECT_EQ(take().size(), 3u);
  req = {"c2", "other", "x", std::nullopt, std::nullopt};
  r = send(protocol::make_msg(proto::kCommand, "request", {}, {}, req.encode()));
  EXPECT_EQ(protocol::command::ResultBody::decode(r[0].body)->status, "no-target");
  // A malformed request (a map with only an id) is answered `invalid`, id echoed.
  r = send(protocol::make_msg(proto::kCommand, "request", {}, {},
                              protocol::command::Ack{"c3"}.encode()));
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(protocol::command::ResultBody::decode(r[0].body)->status, "invalid");
  EXPECT_EQ(protocol::command::ResultBody::decode(r[0].body)->id, "c3");
}

TEST_F(Device, ControlAndGarbage) {
  auto r = send(protocol::make_msg(proto::kControl, "ping", "k"));
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].hdr.typ, "pong");
  EXPECT_EQ(r[0].hdr.sid, "k");
  protocol::ControlOpen open{{1}};
  r = send(protocol::make_msg(proto::kControl, "open", "f1", {}, open.encode()));
  auto err = protocol::ControlError::decode(r[0].body);
  ASSERT_TRUE(err.ok());
  EXPECT_TRUE(err->close);
  r = send(protocol::make_msg(0x0777, "x"));
  err = protocol::ControlError::decode(r[0].body);
  ASSERT_TRUE(err.ok());
  EXPECT_FALSE(err->close);
  EXPECT_EQ(err->msgproto, 0x0777);
  for (const Bytes& garbage :
       {Bytes{}, Bytes{0xc1}, Bytes{0x81, 0xa3, 'h', 'd'}, Bytes{0x93, 1, 2, 3}}) {
    dev.message(garbage, 0, out);
    auto msgs = take();
    ASSERT_EQ(msgs.size(), 1u);
    EXPECT_EQ(msgs[0].hdr.typ, "error");
  }
}

Result<SimInvocation> parse(std::vector<const char*> args) {
  args.insert(args.begin(), "tether-sim");
  return parse_sim_options(static_cast<int>(args.size()), args.data());
}

TEST(SimOptions, RefusesWhatItCannotUse) {
  EXPECT_FALSE(parse({}).ok());
  EXPECT_FALSE(parse({"--url", "wss://h"}).ok());
  EXPECT_FALSE(parse({"--url", "http://h", "--tokens", "t"}).ok());
  EXPECT_FALSE(parse({"--url", "wss://h", "--tokens", "t", "--rate", "-1"}).ok());
  EXPECT_FALSE(parse({"--url", "wss://h", "--tokens", "t", "--rate", "x"}).ok());
  EXPECT_FALSE(parse({"--url", "wss://h", "--tokens", "t", "--window", "0"}).ok());
  EXPECT_FALSE(parse({"--url", "wss://h", "--tokens", "t", "--backoff-max", "0"}).ok());
  EXPECT_FALSE(parse({"--url", "wss://h", "--tokens", "t", "--nope"}).ok());
  EXPECT_FALSE(parse({"--url", "wss://h", "--tokens", "t", "--exit-when-acked"}).ok());
  EXPECT_FALSE(parse({"--url", "wss://h", "--tokens", "t", "--sw-version", ""}).ok());
  auto e = parse({"--url", "wss://h", "--tokens", "t", "--devices", "0"});
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message().find("--devices"), std::string::npos);
}

TEST(SimOptions, ReadsGoodOptions) {
  auto inv = parse({"--url", "wss://hub:8443", "--tokens", "t", "--rate", "2.5", "--ramp", "0.5",
                    "--backoff-max", "30", "--records", "10", "--exit-when-acked"});
  ASSERT_TRUE(inv.ok()) << inv.error().message();
  EXPECT_EQ(inv->options.url.path, "/api/devices/v1/deviceconnect/connect");
  EXPECT_EQ(inv->options.url.port, 8443);
  EXPECT_DOUBLE_EQ(inv->options.records_per_second, 2.5);
  EXPECT_EQ(inv->options.ramp.count(), 500);
  EXPECT_EQ(inv->options.backoff_max.count(), 30000);
  EXPECT_TRUE(inv->options.exit_when_acked);
  EXPECT_TRUE(parse({"--help"})->help);
}

TEST(SimTokens, ReadsIdTokenLines) {
  const std::string path = ::testing::TempDir() + "/sim-tokens";
  {
    std::ofstream f(path);
    f << "# comment\nsim-1 aaaa\n\nsim-2 bbbb\r\n";
  }
  auto ids = read_tokens(path, 0);
  ASSERT_TRUE(ids.ok());
  ASSERT_EQ(ids->size(), 2u);
  EXPECT_EQ((*ids)[1].id, "sim-2");
  EXPECT_EQ((*ids)[1].token, "bbbb");
  EXPECT_EQ(read_tokens(path, 1)->size(), 1u);
  EXPECT_FALSE(read_tokens(path, 3).ok());
  EXPECT_FALSE(read_tokens(path + "-missing", 0).ok());
  {
    std::ofstream f(path);
    f << "sim-1 aaaa extra\n";
  }
  EXPECT_FALSE(read_tokens(path, 0).ok());
  {
    std::ofstream f(path);
    f << "only-an-id\n";
  }
  EXPECT_FALSE(read_tokens(path, 0).ok());
  std::remove(path.c_str());
}

}  // namespace
}  // namespace tether::sim
