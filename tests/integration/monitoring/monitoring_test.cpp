// Monitoring end to end (wire.md 5.1, dbus.md Telemetry1): tetherd on a private bus,
// records submitted with busctl, gdbus, tetherctl and telemetry_flood, as the TLS
// test server (the backend) receives and acknowledges them.
#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "protocol/codec.hpp"
#include "protocol/monitoring.hpp"
#include "tests/integration/dbus/bus_fixture.hpp"
#include "tests/support/body_fields.hpp"

namespace tether::test {
namespace {

using protocol::Value;
namespace wire = protocol::monitoring;

const std::vector<std::string> kTelemetry = {"io.tether.Gateway1", "/io/tether/Gateway1",
                                             "io.tether.Telemetry1"};

struct Received {
  std::string typ;
  std::uint64_t seq = 0;
  Value body;
};

class MonitoringTest : public BusTest {
 protected:
  void SetUp() override {
    BusTest::SetUp();
    state_dir_ = (dir_.path() / "state").string();
    inventory_dir_ = dir_.path() / "inventory.d";
    std::filesystem::create_directories(inventory_dir_);
  }

  DaemonProcess& start_monitoring(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"--device.state-dir=" + state_dir_,
                                     "--monitoring.inventory-dir=" + inventory_dir_.string(),
                                     "--monitoring.inventory-timeout=1"};
    args.insert(args.end(), extra.begin(), extra.end());
    return start_on_bus(args);
  }

  std::vector<std::string> call(const std::string& method, const std::vector<std::string>& args) {
    // "--": negative numbers among the arguments are not options.
    std::vector<std::string> all = {"call", "--"};
    all.insert(all.end(), kTelemetry.begin(), kTelemetry.end());
    all.push_back(method);
    all.insert(all.end(), args.begin(), args.end());
    return all;
  }

  // The next monitoring message (any typ), or nullopt after `timeout`.
  std::optional<Received> next_monitoring(std::chrono::milliseconds timeout = 5s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto msg = server_->receive_message(200ms);
      if (!msg || msg->hdr.proto != protocol::proto::kMonitoring) continue;
      auto body = protocol::decode_value(msg->body);
      EXPECT_TRUE(body.ok());
      Received got{msg->hdr.typ, 0, body ? *body : Value()};
      got.seq = uint_field(got.body, "seq").value_or(0);
      return got;
    }
    return std::nullopt;
  }

  // The next record (skipping status messages).
  std::optional<Received> next_record(std::chrono::milliseconds timeout = 5s) {
    for (;;) {
      auto got = next_monitoring(timeout);
      if (!got || got->typ != wire::kStatus) return got;
    }
  }

  void ack(std::uint64_t seq) {
    ASSERT_TRUE(server_->send(protocol::make_msg(protocol::proto::kMonitoring, wire::kAck, {}, {},
                                                 wire::Ack{seq}.encode())));
  }

  // Runs telemetry_flood to completion.
  CompletedProcess flood(const std::string& stream, std::size_t count, std::size_t concurrency,
                         std::size_t pad = 0) {
    auto done = bus_->run(FLOOD_PATH,
                          {stream, std::to_string(count), std::to_string(concurrency),
                           std::to_string(pad), "--quiet"},
                          60s);
    EXPECT_TRUE(done.ok());
    return done.ok() ? *done : CompletedProcess{};
  }

  std::string state_dir_;
  std::filesystem::path inventory_dir_;
};

// ---- status ----

TEST_F(MonitoringTest, StatusOnlineAfterConnectWithInventoryAndShutdownOnStop) {
  {
    std::ofstream script(inventory_dir_ / "10-site");
    script << "#!/bin/sh\necho site=plant-7\necho rack=a\necho rack=b\necho no-equals-sign\n";
  }
  std::filesystem::permissions(inventory_dir_ / "10-site", std::filesystem::perms::owner_all);
  {
    std::ofstream script(inventory_dir_ / "20-hangs");
    script << "#!/bin/sh\necho late=1\nsleep 30\n";
  }
  std::filesystem::permissions(inventory_dir_ / "20-hangs", std::filesystem::perms::owner_all);
  {
    std::ofstream not_executable(inventory_dir_ / "30-data");
    not_executable << "ignored=1\n";
  }
  auto& daemon = start_monitoring();
  expect_connection();
  auto status = next_monitoring(8s);
  ASSERT_TRUE(status.has_value()) << daemon.output();
  ASSERT_EQ(status->typ, "status");
  auto decoded = wire::Status::decode(protocol::encode_value(status->body));
  ASSERT_TRUE(decoded.ok()) << decoded.error().message();
  EXPECT_EQ(decoded->state, "online");
  EXPECT_EQ(decoded->device_id, "test-device");
  EXPECT_EQ(decoded->version, TETHER_VERSION);
  std::ifstream boot_file("/proc/sys/kernel/random/boot_id");
  std::string boot_id;
  std::getline(boot_file, boot_id);
  EXPECT_EQ(decoded->boot_id, boot_id);
  EXPECT_GT(decoded->uptime_s, 0u);
  const auto& inventory = decoded->inventory;
  for (const char* key : {"os", "kernel", "hostname", "architecture"})
    EXPECT_NE(protocol::find(inventory, key), nullptr) << key;
  ASSERT_NE(protocol::find(inventory, "site"), nullptr);
  EXPECT_EQ(*protocol::find(inventory, "site"), Value("plant-7"));
  EXPECT_EQ(*protocol::find(inventory, "rack"), Value(protocol::Array{"a", "b"}));
  EXPECT_EQ(protocol::find(inventory, "late"), nullptr);  // killed at its timeout
  EXPECT_EQ(protocol::find(inventory, "ignored"), nullptr);
  EXPECT_TRUE(daemon.wait_for_output("20-hangs: killed after 1000 ms", 2s)) << daemon.output();

  server_->stop();  // every connect says online again
  ASSERT_TRUE(server_->start().ok());
  expect_connection();
  auto again = next_monitoring(8s);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(str_field(again->body, "state"), "online");

  daemon.send_signal(SIGTERM);
  auto last = next_monitoring(5s);
  ASSERT_TRUE(last.has_value()) << daemon.output();
  EXPECT_EQ(last->typ, "status");
  EXPECT_EQ(str_field(last->body, "state"), "shutdown");
  EXPECT_EQ(daemon.wait_for_exit(5s), 0);
}

// ---- every method, every type ----

TEST_F(MonitoringTest, EveryVariantTypeArrivesAsItsMsgpackType) {
  start_monitoring();
  expect_connection();
  auto submitted = busctl(call("Submit", {"sa{sv}", "env",   "17",                    //
                                          "b",      "b",     "true",                  //
                                          "y",      "y",     "200",                   //
                                          "n",      "n",     "-300",                  //
                                          "q",      "q",     "60000",                 //
                                          "i",      "i",     "-100000",               //
                                          "u",      "u",     "4000000000",            //
                                          "x",      "x",     "-9000000000",           //
                                          "t",      "t",     "18000000000000000000",  //
                                          "d",      "d",     "1.5",                   //
                                          "s",      "s",     "hello",                 //
                                          "o",      "o",     "/a/b",                  //
                                          "g",      "g",     "a{sv}",                 //
                                          "ay",     "ay",    "3",
                                          "1",      "2",     "255",  //
                                          "as",     "as",    "2",
                                          "p",      "q",  //
                                          "aai",    "aai",   "2",
                                          "1",      "7",     "0",  //
                                          "asv",    "a{sv}", "2",
                                          "k",      "i",     "5",
                                          "l",      "as",    "1",
                                          "z",  //
                                          "asi",    "a{si}", "1",
                                          "one",    "1"}));
  ASSERT_EQ(submitted.exit_status, 0) << submitted.output;
  EXPECT_EQ(submitted.output, "t 1\n");

  auto record = next_record();
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->typ, "data");
  auto data = wire::DataRecord::decode(protocol::encode_value(record->body));
  ASSERT_TRUE(data.ok()) << data.error().message();
  EXPECT_EQ(data->seq, 1u);
  EXPECT_EQ(data->stream, "env");
  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  EXPECT_LE(data->ts, now_ms);
  EXPECT_GT(data->ts, now_ms - 60'000);
  const auto& v = data->values;
  auto at = [&](const char* key) {
    const Value* found = protocol::find(v, key);
    EXPECT_NE(found, nullptr) << key;
    return found != nullptr ? *found : Value();
  };
  EXPECT_TRUE(at("b").is_bool());
  EXPECT_EQ(at("b"), Value(true));
  for (const char* key : {"y", "n", "q", "i", "u", "x", "t"}) EXPECT_TRUE(at(key).is_int()) << key;
  EXPECT_EQ(at("y").as_int(), 200);
  EXPECT_EQ(at("n").as_int(), -300);
  EXPECT_EQ(at("q").as_int(), 60000);
  EXPECT_EQ(at("i").as_int(), -100000);
  EXPECT_EQ(at("u").as_int(), 4000000000LL);
  EXPECT_EQ(at("x").as_int(), -9000000000LL);
  EXPECT_EQ(at("t").as_uint(), 18000000000000000000ULL);
  EXPECT_TRUE(at("d").is_float());
  EXPECT_EQ(at("d").as_float(), 1.5);
  EXPECT_EQ(at("s"), Value("hello"));
  EXPECT_EQ(at("o"), Value("/a/b"));
  EXPECT_EQ(at("g"), Value("a{sv}"));
  EXPECT_TRUE(at("ay").is_bin());
  EXPECT_EQ(at("ay"), Value(protocol::Bytes{1, 2, 255}));
  EXPECT_EQ(at("as"), Value(protocol::Array{"p", "q"}));
  EXPECT_EQ(at("aai"), Value(protocol::Array{protocol::Array{7}, protocol::Array{}}));
  EXPECT_EQ(at("asv"), Value(protocol::Map{{"k", 5}, {"l", protocol::Array{"z"}}}));
  EXPECT_EQ(at("asi"), Value(protocol::Map{{"one", 1}}));
}

TEST_F(MonitoringTest, AlertsWithGdbusAndTetherctl) {
  start_monitoring();
  expect_connection();
  auto raised =
      gdbus({"call", "--session", "--dest", "io.tether.Gateway1", "--object-path",
             "/io/tether/Gateway1", "--method", "io.tether.Telemetry1.RaiseAlert", "door-1",
             "major", "Door open", "{'since': <int64 5>, 'zones': <[1, 2]>, 'ok': <false>}"});
  ASSERT_EQ(raised.exit_status, 0) << raised.output;
  EXPECT_EQ(raised.output, "(uint64 1,)\n");
  auto cleared = tetherctl({"--bus", "session", "alert", "clear", "door-1"});
  ASSERT_EQ(cleared.exit_status, 0) << cleared.output;
  EXPECT_EQ(cleared.output, "2\n");
  auto by_ctl = tetherctl(
      {"--bus", "session", "alert", "raise", "fan", "warning", "Fan slow", "rpm=900", "ok=true"});
  ASSERT_EQ(by_ctl.exit_status, 0) << by_ctl.output;
  EXPECT_EQ(by_ctl.output, "3\n");
  auto submitted = tetherctl({"--bus", "session", "submit", "env", "temp=21.5", "count=-3",
                              "on=true", "off=false", "name=boiler", "ver=1.2.3"});
  ASSERT_EQ(submitted.exit_status, 0) << submitted.output;
  EXPECT_EQ(submitted.output, "4\n");

  auto first = next_record();
  ASSERT_TRUE(first.has_value());
  auto alert = wire::AlertRecord::decode(protocol::encode_value(first->body));
  ASSERT_TRUE(alert.ok()) << alert.error().message();
  EXPECT_EQ(alert->seq, 1u);
  EXPECT_EQ(alert->id, "door-1");
  EXPECT_EQ(alert->severity, "major");
  EXPECT_EQ(alert->state, "raised");
  EXPECT_EQ(alert->summary, "Door open");
  EXPECT_EQ(alert->details,
            (protocol::Map{{"ok", false}, {"since", 5}, {"zones", protocol::Array{1, 2}}}));
  auto second = next_record();
  ASSERT_TRUE(second.has_value());
  auto clear = wire::AlertRecord::decode(protocol::encode_value(second->body));
  ASSERT_TRUE(clear.ok());
  EXPECT_EQ(clear->seq, 2u);
  EXPECT_EQ(clear->state, "cleared");
  EXPECT_EQ(clear->id, "door-1");
  auto third = next_record();
  ASSERT_TRUE(third.has_value());
  EXPECT_EQ(third->seq, 3u);
  EXPECT_EQ(str_field(third->body, "severity"), "warning");
  auto fourth = next_record();
  ASSERT_TRUE(fourth.has_value());
  auto data = wire::DataRecord::decode(protocol::encode_value(fourth->body));
  ASSERT_TRUE(data.ok());
  EXPECT_EQ(data->values, (protocol::Map{{"count", -3},
                                         {"name", "boiler"},
                                         {"off", false},
                                         {"on", true},
                                         {"temp", 21.5},
                                         {"ver", "1.2.3"}}));
}

// ---- refusals ----

TEST_F(MonitoringTest, EveryInvalidArgumentHasASentence) {
  start_monitoring({"--monitoring.max-record=200"});
  expect_connection();
  struct Case {
    std::vector<std::string> gdbus_args;
    std::string words;
  };
  const std::string long_text(300, 'x');
  const std::vector<Case> cases = {
      {{"io.tether.Telemetry1.Submit", "", "{}"}, "stream name is empty"},
      {{"io.tether.Telemetry1.RaiseAlert", "", "major", "s", "{}"}, "alert id is empty"},
      {{"io.tether.Telemetry1.ClearAlert", ""}, "alert id is empty"},
      {{"io.tether.Telemetry1.RaiseAlert", "a", "severe", "s", "{}"}, "unknown severity 'severe'"},
      {{"io.tether.Telemetry1.Submit", "env", "{'t': <'" + long_text + "'>}"},
       "over monitoring.max-record (200 bytes)"},
      {{"io.tether.Telemetry1.RaiseAlert", "a", "info", long_text, "{}"},
       "over monitoring.max-record"},
      {{"io.tether.Telemetry1.Submit", "env", "{'pair': <(1, 'a')>}"}, "values.pair: a struct"},
      {{"io.tether.Telemetry1.Submit", "env", "{'deep': <{'x': <[(1, 2)]>}>}"},
       "values.deep.x[0]: a struct"},
      {{"io.tether.Telemetry1.Submit", "env", "{'byint': <{1: 'a'}>}"}, "keys must be strings"},
      {{"io.tether.Telemetry1.RaiseAlert", "a", "info", "s", "{'p': <(true,)>}"},
       "details.p: a struct"},
  };
  for (const auto& c : cases) {
    std::vector<std::string> args = {
        "call",          "--session",           "--dest",  "io.tether.Gateway1",
        "--object-path", "/io/tether/Gateway1", "--method"};
    args.insert(args.end(), c.gdbus_args.begin(), c.gdbus_args.end());
    auto refused = gdbus(args);
    SCOPED_TRACE(c.gdbus_args.front() + ": " + c.words);
    EXPECT_NE(refused.exit_status, 0) << refused.output;
    EXPECT_NE(refused.output.find("io.tether.Error.InvalidArgument"), std::string::npos)
        << refused.output;
    EXPECT_NE(refused.output.find(c.words), std::string::npos) << refused.output;
  }
  // busctl says the sentence too.
  auto by_busctl = busctl(call("Submit", {"sa{sv}", "", "0"}));
  EXPECT_NE(by_busctl.exit_status, 0);
  EXPECT_NE(by_busctl.output.find("stream name is empty"), std::string::npos) << by_busctl.output;
  auto struct_busctl = busctl(call("Submit", {"sa{sv}", "env", "1", "k", "(ii)", "1", "2"}));
  EXPECT_NE(struct_busctl.exit_status, 0);
  EXPECT_NE(struct_busctl.output.find("values.k: a struct"), std::string::npos)
      << struct_busctl.output;
  // tetherctl: the sentence on stderr, non-zero exit; a bad command line is exit 2.
  auto ctl = tetherctl({"--bus", "session", "alert", "raise", "a", "bad", "summary"});
  EXPECT_EQ(ctl.exit_status, 1);
  EXPECT_NE(ctl.output.find("unknown severity 'bad'"), std::string::npos) << ctl.output;
  EXPECT_EQ(tetherctl({"--bus", "session", "submit", "env", "novalue"}).exit_status, 2);
  EXPECT_EQ(tetherctl({"--bus", "session", "submit"}).exit_status, 2);
  EXPECT_EQ(tetherctl({"--bus", "session", "alert", "clear"}).exit_status, 2);
  EXPECT_EQ(tetherctl({"--bus", "session", "alert", "bogus"}).exit_status, 2);
  // Nothing was stored by any of them.
  EXPECT_EQ(property("PendingRecords"), "t 0");
  auto fine = tetherctl({"--bus", "session", "submit", "env", "t=1"});
  EXPECT_EQ(fine.output, "1\n") << fine.output;
}

// ---- acks, resend, PendingRecords, garbage acks ----

TEST_F(MonitoringTest, AcksEraseAndTheRestIsResentAfterReconnect) {
  start_monitoring();
  expect_connection();
  for (int i = 1; i <= 5; ++i) {
    auto done = tetherctl({"--bus", "session", "submit", "s", "i=" + std::to_string(i)});
    ASSERT_EQ(done.output, std::to_string(i) + "\n");
  }
  for (std::uint64_t seq = 1; seq <= 5; ++seq) {
    auto record = next_record();
    ASSERT_TRUE(record.has_value());
    EXPECT_EQ(record->seq, seq);
  }
  EXPECT_EQ(property("PendingRecords"), "t 5");
  ack(3);
  EXPECT_TRUE(wait_for_property("PendingRecords", "t 2", 5s)) << property("PendingRecords");

  // Garbage acks: each answered with a control error; nothing is lost.
  const std::vector<protocol::Bytes> garbage = {
      {0xc1},                                                      // not msgpack
      protocol::encode_value(Value("seq")),                        // not a map
      protocol::encode_value(Value(protocol::Map{{"seq", "3"}})),  // wrong type
      protocol::encode_value(Value(protocol::Map{{"seq", -1}})),   // negative
      protocol::encode_value(Value(protocol::Map{})),              // missing
      protocol::encode_value(Value(protocol::Map{{"seq", 99}})),   // never sent
      {0x81, 0xa3, 's', 'e'},                                      // truncated
  };
  for (const auto& body : garbage) {
    ASSERT_TRUE(
        server_->send(protocol::make_msg(protocol::proto::kMonitoring, "ack", {}, {}, body)));
    std::optional<protocol::ProtoMsg> error;
    for (int i = 0; i < 10 && !error; ++i) {
      auto msg = server_->receive_message(3s);
      if (!msg) break;
      if (msg->hdr.proto == 0xFFFF && msg->hdr.typ == "error") error = msg;
    }
    ASSERT_TRUE(error.has_value());
  }
  EXPECT_EQ(property("PendingRecords"), "t 2");

  server_->stop();
  ASSERT_TRUE(server_->start().ok());
  expect_connection();
  auto status = next_monitoring();
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->typ, "status");
  for (std::uint64_t seq = 4; seq <= 5; ++seq) {
    auto record = next_record();
    ASSERT_TRUE(record.has_value());
    EXPECT_EQ(record->seq, seq);
  }
  ack(5);
  EXPECT_TRUE(wait_for_property("PendingRecords", "t 0", 5s));
  auto after = tetherctl({"--bus", "session", "submit", "s", "i=6"});
  EXPECT_EQ(after.output, "6\n");
}

TEST_F(MonitoringTest, TheWindowBoundsRecordsInFlight) {
  start_monitoring({"--monitoring.window=4"});
  expect_connection();
  auto flooded = flood("w", 10, 1);
  ASSERT_EQ(flooded.exit_status, 0) << flooded.output;
  for (std::uint64_t seq = 1; seq <= 4; ++seq) {
    auto record = next_record();
    ASSERT_TRUE(record.has_value());
    EXPECT_EQ(record->seq, seq);
  }
  EXPECT_FALSE(next_record(500ms).has_value());  // the window is full
  ack(2);
  for (std::uint64_t seq = 5; seq <= 6; ++seq) {
    auto record = next_record();
    ASSERT_TRUE(record.has_value());
    EXPECT_EQ(record->seq, seq);
  }
  EXPECT_FALSE(next_record(300ms).has_value());
}

// ---- nothing lost ----

TEST_F(MonitoringTest, BackendAwayWhileTenThousandRecordsAreSubmitted) {
  start_monitoring();
  expect_connection();
  server_->stop();
  auto flooded = flood("bulk", 10000, 64);
  ASSERT_EQ(flooded.exit_status, 0) << flooded.output;
  EXPECT_NE(flooded.output.find("ok=10000 failed=0"), std::string::npos) << flooded.output;
  EXPECT_EQ(property("PendingRecords"), "t 10000");

  ASSERT_TRUE(server_->start().ok());
  expect_connection();
  // First connection: acknowledge up to 4000 only, take the window after it (256
  // records, 4001..4256, their acks "lost"), then drop the link.
  std::uint64_t expected = 1;
  while (expected <= 4256) {
    auto record = next_record();
    ASSERT_TRUE(record.has_value()) << "waiting for " << expected;
    ASSERT_EQ(record->seq, expected);
    if (expected % 100 == 0 && expected <= 4000) ack(expected);
    ++expected;
  }
  ASSERT_TRUE(wait_for_property("PendingRecords", "t 6000", 5s)) << property("PendingRecords");
  server_->stop();
  ASSERT_TRUE(server_->start().ok());
  expect_connection();
  // Second connection: 4001.. again (the acks for 4001..4256 were never sent), in order.
  expected = 4001;
  while (expected <= 10000) {
    auto record = next_record();
    ASSERT_TRUE(record.has_value()) << "waiting for " << expected;
    ASSERT_EQ(record->seq, expected);
    ASSERT_EQ(record->typ, "data");
    ASSERT_EQ(record->body.find("values")->find("i")->as_int().has_value(), true);
    if (expected % 200 == 0 || expected == 10000) ack(expected);
    ++expected;
  }
  EXPECT_TRUE(wait_for_property("PendingRecords", "t 0", 5s)) << property("PendingRecords");
}

TEST_F(MonitoringTest, KillNineLosesNothingThatWasAnswered) {
  auto& daemon = start_monitoring();
  expect_connection();
  server_->stop();  // keep every record stored
  auto client = DaemonProcess::start(FLOOD_PATH, {"crash", "3000", "16"});
  ASSERT_TRUE(client.ok());
  ASSERT_TRUE((*client)->wait_for_output("seq 500\n", 30s)) << (*client)->output();
  ::kill(daemon.pid(), SIGKILL);
  ASSERT_EQ(daemon.wait_for_exit(5s), 128 + SIGKILL);
  (*client)->wait_for_exit(5s);
  std::set<std::uint64_t> answered;
  {
    std::istringstream lines((*client)->output());
    std::string word;
    std::uint64_t seq = 0;
    while (lines >> word) {
      if (word == "seq" && (lines >> seq)) answered.insert(seq);
    }
  }
  ASSERT_GE(answered.size(), 500u);

  ASSERT_TRUE(server_->start().ok());
  start_monitoring();
  expect_connection();
  std::set<std::uint64_t> delivered;
  std::uint64_t previous = 0;
  const std::uint64_t highest = *answered.rbegin();
  while (previous < highest) {
    auto record = next_record();
    ASSERT_TRUE(record.has_value()) << "after " << previous;
    ASSERT_EQ(record->seq, previous + 1);  // in order, no gap
    previous = record->seq;
    delivered.insert(record->seq);
    if (previous % 100 == 0) ack(previous);
  }
  for (auto seq : answered) EXPECT_TRUE(delivered.count(seq)) << seq;
  ack(previous);
  // The seq space continues: nothing handed out twice.
  auto next = tetherctl({"--bus", "session", "submit", "after", "x=1"});
  ASSERT_EQ(next.exit_status, 0) << next.output;
  EXPECT_GT(std::stoull(next.output), highest);
}

TEST_F(MonitoringTest, AFullStoreDropsTheOldestAndSaysWhichRange) {
  start_monitoring({"--monitoring.max-bytes=4000"});
  expect_connection();
  server_->stop();
  // ~100-byte records: a few dozen fit; 100 are submitted one after another.
  auto flooded = flood("full", 100, 1, 40);
  ASSERT_EQ(flooded.exit_status, 0) << flooded.output;
  ASSERT_TRUE(server_->start().ok());
  expect_connection();
  // Every seq from 1 on is accounted for: delivered as data, delivered as a marker,
  // or inside the range of a delivered marker; no delivered data record is inside one.
  std::set<std::uint64_t> data_seqs;
  std::set<std::uint64_t> covered;
  std::uint64_t previous = 0;
  std::size_t markers = 0;
  while (true) {
    auto record = next_record(1500ms);
    if (!record) break;
    EXPECT_GT(record->seq, previous);
    previous = record->seq;
    covered.insert(record->seq);
    if (record->typ == "dropped") {
      ++markers;
      const auto first = uint_field(record->body, "first");
      const auto last = uint_field(record->body, "last");
      const auto count = uint_field(record->body, "count");
      ASSERT_TRUE(first && last && count);
      EXPECT_LE(*first, *last);
      EXPECT_LT(*last, record->seq);
      EXPECT_GE(*count, 1u);
      EXPECT_EQ(*first, 1u);
      EXPECT_EQ(*count, *last - *first + 1);  // every seq in the range was lost
      for (auto seq = *first; seq <= *last; ++seq) {
        EXPECT_EQ(data_seqs.count(seq), 0u) << "data record " << seq << " reported lost";
        covered.insert(seq);
      }
    } else {
      data_seqs.insert(record->seq);
    }
    ack(record->seq);
  }
  // The loss happened while nothing was sent: one range, one marker.
  EXPECT_EQ(markers, 1u);
  EXPECT_LT(data_seqs.size(), 100u);
  ASSERT_FALSE(covered.empty());
  EXPECT_EQ(*covered.begin(), 1u);
  EXPECT_EQ(*covered.rbegin(), covered.size());  // no seq unaccounted for
  EXPECT_TRUE(wait_for_property("PendingRecords", "t 0", 5s));
}

}  // namespace
}  // namespace tether::test
