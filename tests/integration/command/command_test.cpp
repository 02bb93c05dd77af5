// Commands end to end (wire.md 5.4, spec/dbus.md Commands1 and tetherctl serve):
// tetherd on a private bus against the TLS test server, targets served by
// `tetherctl serve` scripts, by a plain sdbus-c++ connection and poked with busctl.
#include <signal.h>

#include <sdbus-c++/sdbus-c++.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "protocol/codec.hpp"
#include "protocol/command.hpp"
#include "protocol/message.hpp"
#include "tests/integration/dbus/bus_fixture.hpp"

namespace tether::test {
namespace {

namespace wire = protocol::command;
using protocol::Array;
using protocol::Map;
using protocol::Value;

// The script behind `tetherctl serve`: logs each run, then acts on TETHER_ACTION.
constexpr const char* kScript = R"(#!/bin/sh
echo "$TETHER_REQUEST_ID $TETHER_ACTION" >> "$RUN_LOG"
args=$(cat)
case "$TETHER_ACTION" in
  echo) printf '{"action":"%s","args":%s}\n' "$TETHER_ACTION" "$args" ;;
  quiet) ;;
  fail) echo "first line" >&2; echo "relay stuck" >&2; exit 3 ;;
  sleep) sleep 30 ;;
  slow) sleep 0.5; echo '{"slow":true}' ;;
  *) echo "unknown action" >&2; exit 1 ;;
esac
)";

class CommandTest : public BusTest {
 protected:
  void SetUp() override {
    BusTest::SetUp();
    script_ = dir_.write("serve.sh", kScript).string();
    std::filesystem::permissions(script_, std::filesystem::perms::owner_all);
    run_log_ = (dir_.path() / "runs.log").string();
    state_dir_ = (dir_.path() / "state").string();
  }
  void TearDown() override {
    servers_.clear();
    BusTest::TearDown();
  }

  DaemonProcess& start(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"--device.state-dir=" + state_dir_, "--command.timeout=2"};
    args.insert(args.end(), extra.begin(), extra.end());
    DaemonProcess& daemon = start_on_bus(args);
    expect_connection();
    return daemon;
  }

  // `tetherctl serve TARGET -- serve.sh`, waiting until the backend hears the target.
  DaemonProcess& serve(const std::string& target) {
    auto process =
        DaemonProcess::start(TETHERCTL_PATH, {"--bus", "session", "serve", target, "--", script_},
                             {"RUN_LOG=" + run_log_});
    EXPECT_TRUE(process.ok());
    servers_.push_back(std::move(process).value());
    EXPECT_TRUE(wait_for_targets_with(target)) << servers_.back()->output();
    return *servers_.back();
  }

  void request(const std::string& id, const std::string& target, const std::string& action,
               Map args = {}, std::optional<std::uint64_t> timeout_s = std::nullopt) {
    wire::Request body{id, target, action, std::move(args), timeout_s};
    ASSERT_TRUE(server_->send(
        protocol::make_msg(protocol::proto::kCommand, wire::kRequest, {}, {}, body.encode())));
  }
  void ack(const std::string& id) {
    ASSERT_TRUE(server_->send(
        protocol::make_msg(protocol::proto::kCommand, wire::kAck, {}, {}, wire::Ack{id}.encode())));
  }

  // The next command message of `typ`; others are kept aside in `seen_`.
  std::optional<protocol::ProtoMsg> next(const std::string& typ,
                                         std::chrono::milliseconds timeout = 8s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      auto msg = server_->receive_message(std::max(left, 1ms));
      if (!msg) continue;
      if (msg->hdr.proto == protocol::proto::kCommand && msg->hdr.typ == typ) return msg;
    }
    return std::nullopt;
  }
  std::optional<wire::ResultBody> result(std::chrono::milliseconds timeout = 8s) {
    auto msg = next(wire::kResult, timeout);
    if (!msg) return std::nullopt;
    auto body = wire::ResultBody::decode(msg->body);
    EXPECT_TRUE(body.ok());
    return body.ok() ? std::optional(*body) : std::nullopt;
  }
  bool wait_for_targets_with(const std::string& target) {
    while (auto msg = next(wire::kTargets)) {
      auto body = wire::Targets::decode(msg->body);
      if (body.ok() &&
          std::find(body->targets.begin(), body->targets.end(), target) != body->targets.end()) {
        return true;
      }
    }
    return false;
  }
  int runs() {
    std::ifstream in(run_log_);
    int lines = 0;
    for (std::string line; std::getline(in, line);) ++lines;
    return lines;
  }

  std::string script_;
  std::string run_log_;
  std::string state_dir_;
  std::vector<std::unique_ptr<DaemonProcess>> servers_;
};

TEST_F(CommandTest, ServedScriptAnswersOkErrorAndTimeout) {
  start();
  serve("relay");
  request("r1", "relay", "echo", Map{{"channel", 2}, {"on", true}});
  auto ok = result();
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->id, "r1");
  EXPECT_EQ(ok->status, wire::kOk);
  ASSERT_TRUE(ok->ret);
  EXPECT_EQ(*ok->ret, (Map{{"action", "echo"}, {"args", Map{{"channel", 2}, {"on", true}}}}));

  request("r2", "relay", "quiet");
  auto quiet = result();
  ASSERT_TRUE(quiet);
  EXPECT_EQ(quiet->status, wire::kOk);
  EXPECT_FALSE(quiet->ret);

  request("r3", "relay", "fail");
  auto failed = result();
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->status, wire::kError);
  EXPECT_EQ(failed->err, std::optional<std::string>("relay stuck"));

  // timeout_s of the request, and the script is killed then: the next request runs.
  request("r4", "relay", "sleep", {}, 1);
  auto late = result();
  ASSERT_TRUE(late);
  EXPECT_EQ(late->id, "r4");
  EXPECT_EQ(late->status, wire::kTimeout);
  request("r5", "relay", "quiet");
  auto after = result(4s);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->id, "r5");
  EXPECT_EQ(after->status, wire::kOk);
}

TEST_F(CommandTest, NoTargetInvalidAndBusy) {
  start({"--command.max-pending=1"});
  request("n1", "nobody", "echo");
  auto none = result();
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, wire::kNoTarget);

  ASSERT_TRUE(server_->send(
      protocol::make_msg(protocol::proto::kCommand, wire::kRequest, {}, {},
                         protocol::encode_value(Value(Map{{"id", "bad1"}, {"target", Array{}}})))));
  auto invalid = result();
  ASSERT_TRUE(invalid);
  EXPECT_EQ(invalid->id, "bad1");
  EXPECT_EQ(invalid->status, wire::kInvalid);

  serve("relay");
  request("b1", "relay", "sleep", {}, 3);
  request("b2", "relay", "sleep", {}, 3);
  auto busy = result();
  ASSERT_TRUE(busy);
  EXPECT_EQ(busy->id, "b2");
  EXPECT_EQ(busy->status, wire::kBusy);
}

TEST_F(CommandTest, SameIdTwiceExecutesOnce) {
  start();
  serve("relay");
  request("d1", "relay", "slow");
  request("d1", "relay", "slow");
  auto first = result();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, wire::kOk);
  request("d1", "relay", "slow");
  auto again = result();
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, *first);
  EXPECT_EQ(runs(), 1);
}

TEST_F(CommandTest, HolderThatDiesMidRequestEndsAsNoTarget) {
  start();
  DaemonProcess& holder = serve("relay");
  request("h1", "relay", "sleep", {}, 20);
  // Once the script runs, kill tetherctl: the daemon sees its unique name leave the bus.
  for (int i = 0; i < 200 && runs() == 0; ++i) std::this_thread::sleep_for(10ms);
  holder.send_signal(SIGKILL);
  // The target goes at once; the result follows once it is stored.
  auto targets = next(wire::kTargets, 5s);
  ASSERT_TRUE(targets);
  EXPECT_TRUE(wire::Targets::decode(targets->body)->targets.empty());
  auto gone = result(5s);
  ASSERT_TRUE(gone);
  EXPECT_EQ(gone->id, "h1");
  EXPECT_EQ(gone->status, wire::kNoTarget);
}

TEST_F(CommandTest, PlainClientRegistersAndRepliesAndOthersCannot) {
  start();
  auto connection = sdbus::createSessionBusConnection();
  auto proxy = sdbus::createProxy(*connection, "io.tether.Gateway1", "/io/tether/Gateway1");
  std::atomic<int> requests{0};
  std::string seen_id;
  std::mutex mutex;
  proxy->uponSignal("Request")
      .onInterface("io.tether.Commands1")
      .call([&](const std::string& id, const std::string&, const std::string&,
                const std::map<std::string, sdbus::Variant>&) {
        std::lock_guard lock(mutex);
        seen_id = id;
        ++requests;
      });
  proxy->finishRegistration();
  connection->enterEventLoopAsync();
  proxy->callMethod("Register")
      .onInterface("io.tether.Commands1")
      .withArguments(std::string("lamp"));
  ASSERT_TRUE(wait_for_targets_with("lamp"));

  // Another connection cannot take the target, nor unregister it.
  auto taken = busctl({"--user", "call", "io.tether.Gateway1", "/io/tether/Gateway1",
                       "io.tether.Commands1", "Register", "s", "lamp"});
  EXPECT_NE(taken.exit_status, 0);
  EXPECT_NE(taken.output.find("held by"), std::string::npos) << taken.output;
  auto not_mine = busctl({"--user", "call", "io.tether.Gateway1", "/io/tether/Gateway1",
                          "io.tether.Commands1", "Unregister", "s", "lamp"});
  EXPECT_NE(not_mine.exit_status, 0);

  request("p1", "lamp", "on", Map{{"level", 3}});
  for (int i = 0; i < 500 && requests == 0; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(requests, 1);
  // A Reply from a connection that does not hold the target: NotFound.
  auto foreign = gdbus({"call", "--session", "--dest", "io.tether.Gateway1", "--object-path",
                        "/io/tether/Gateway1", "--method", "io.tether.Commands1.Reply", "p1",
                        "true", "{}", ""});
  EXPECT_NE(foreign.exit_status, 0);
  EXPECT_NE(foreign.output.find("io.tether.Error.NotFound"), std::string::npos) << foreign.output;

  std::map<std::string, sdbus::Variant> ret{{"level", sdbus::Variant(std::int32_t{3})},
                                            {"label", sdbus::Variant(std::string("on"))}};
  proxy->callMethod("Reply")
      .onInterface("io.tether.Commands1")
      .withArguments(std::string("p1"), true, ret, std::string());
  auto answered = result();
  ASSERT_TRUE(answered);
  EXPECT_EQ(answered->status, wire::kOk);
  EXPECT_EQ(*answered->ret, (Map{{"label", "on"}, {"level", 3}}));
  // Replying twice: NotFound.
  EXPECT_THROW(proxy->callMethod("Reply")
                   .onInterface("io.tether.Commands1")
                   .withArguments(std::string("p1"), true, ret, std::string()),
               sdbus::Error);

  auto targets = busctl({"--user", "get-property", "io.tether.Gateway1", "/io/tether/Gateway1",
                         "io.tether.Commands1", "Targets"});
  EXPECT_NE(targets.output.find("\"lamp\""), std::string::npos) << targets.output;
  connection->leaveEventLoop();
}

TEST_F(CommandTest, ResultSurvivesALinkDropAndIsSentUntilAcked) {
  start();
  serve("relay");
  request("l1", "relay", "slow");
  // Drop the link while the script runs (after it started, before its result).
  for (int i = 0; i < 200 && runs() == 0; ++i) std::this_thread::sleep_for(10ms);
  server_->stop();
  ASSERT_TRUE(server_->start().ok());
  ASSERT_TRUE(server_->wait_for_connection(5s));
  auto resent = result();
  ASSERT_TRUE(resent);
  EXPECT_EQ(resent->id, "l1");
  EXPECT_EQ(resent->status, wire::kOk);
  // Not acked: sent again after the next connect.
  server_->stop();
  ASSERT_TRUE(server_->start().ok());
  ASSERT_TRUE(server_->wait_for_connection(5s));
  auto twice = result();
  ASSERT_TRUE(twice);
  EXPECT_EQ(*twice, *resent);
  ack("l1");
  // Give the ack time to arrive, then reconnect: no result any more.
  request("l2", "nobody", "x");
  ASSERT_TRUE(result());
  ack("l2");
  request("l3", "nobody", "x");
  ASSERT_TRUE(result());
  server_->stop();
  ASSERT_TRUE(server_->start().ok());
  ASSERT_TRUE(server_->wait_for_connection(5s));
  ASSERT_TRUE(next(wire::kTargets));
  auto only = result(2s);
  ASSERT_TRUE(only);
  EXPECT_EQ(only->id, "l3");  // the one never acked
  EXPECT_FALSE(result(1s));
  EXPECT_EQ(runs(), 1);
}

TEST_F(CommandTest, KillNineWithRequestsPendingEndsAsTimeoutAfterRestart) {
  DaemonProcess& daemon = start();
  serve("relay");
  request("k1", "relay", "sleep", {}, 20);
  for (int i = 0; i < 200 && runs() == 0; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(runs(), 1);
  daemon.send_signal(SIGKILL);
  ASSERT_TRUE(daemon.wait_for_exit(5s));
  servers_.clear();
  server_->clear_received();
  start();
  auto ended = result();
  ASSERT_TRUE(ended);
  EXPECT_EQ(ended->id, "k1");
  EXPECT_EQ(ended->status, wire::kTimeout);
}

}  // namespace
}  // namespace tether::test
