// BusService in-process, the way a plugin uses it: its own adaptor on
// /io/tether/Gateway1 next to others, an asynchronous method answered later from
// the loop, tether errors mapped to io.tether.Error.<Name>, and the caller's
// unique name. The clients are gdbus processes on a private bus.
#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "daemon/dbus/bus_service.hpp"
#include "daemon/dbus/gateway_service.hpp"
#include "dbus/generated/telemetry1_adaptor.h"
#include "tests/support/private_bus.hpp"

namespace tether::test {
namespace {

using namespace std::chrono_literals;
using daemon::dbus::BusService;

// A Telemetry1 that answers Submit 50 ms later (as if a write had to become
// durable first) and refuses an empty stream with the error the store would give.
class SlowTelemetry final : public sdbus::AdaptorInterfaces<io::tether::Telemetry1_adaptor> {
 public:
  SlowTelemetry(BusService& bus, daemon::EventLoop& loop)
      : AdaptorInterfaces(bus.connection(), BusService::kObjectPath), bus_(bus), timer_(loop) {
    registerAdaptor();
  }
  ~SlowTelemetry() { unregisterAdaptor(); }
  SlowTelemetry(const SlowTelemetry&) = delete;
  SlowTelemetry& operator=(const SlowTelemetry&) = delete;

  std::string last_caller;

 private:
  void Submit(sdbus::Result<std::uint64_t>&& result, std::string stream,
              std::map<std::string, sdbus::Variant> /*values*/) override {
    last_caller = BusService::caller(getObject());
    if (stream.empty()) {
      (void)bus_.reply_error(result, Error(ErrorCode::kInvalidArgument, "stream is empty"));
      return;
    }
    if (stream == "full") {
      (void)bus_.reply_error(result, Error(ErrorCode::kStorageFailure, "the disk is full"));
      return;
    }
    if (stream == "down") {
      (void)bus_.reply_error(result, Error(ErrorCode::kUnavailable, "not connected"));
      return;
    }
    // sdbus::Result is move-only and std::function copies: share it.
    auto pending = std::make_shared<sdbus::Result<std::uint64_t>>(std::move(result));
    timer_.start(50ms, [this, pending] { (void)bus_.reply(*pending, std::uint64_t{++seq_}); });
  }
  void RaiseAlert(sdbus::Result<std::uint64_t>&& result, std::string, std::string, std::string,
                  std::map<std::string, sdbus::Variant>) override {
    // A synchronous failure: throwing the mapped error from the handler.
    throw BusService::to_dbus_error(Error(ErrorCode::kBusy, "too many alerts"));
    (void)result;
  }
  void ClearAlert(sdbus::Result<std::uint64_t>&& result, std::string) override {
    (void)bus_.reply_error(result, Error(ErrorCode::kNotFound, "no such alert"));
  }

  BusService& bus_;
  daemon::Timer timer_;
  std::uint64_t seq_ = 41;
};

// Runs `script` (a shell command line using gdbus) once the name is owned, runs the
// loop until it exits, and returns its exit status and output.
struct ScriptRun {
  int exit_status = -1;
  std::string output;
};

class BusServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto bus = PrivateBus::start();
    ASSERT_TRUE(bus.ok()) << bus.error().message();
    bus_ = std::move(bus).value();
    bus_->export_address();
    auto loop = daemon::EventLoop::create();
    ASSERT_TRUE(loop.ok());
    loop_ = std::move(loop).value();
  }

  ScriptRun run_with_loop(BusService& service, const std::string& script) {
    ScriptRun run;
    std::unique_ptr<DaemonProcess> client;
    daemon::Timer poll(*loop_);
    daemon::Timer deadline(*loop_);
    std::function<void()> check = [&] {
      if (client && !client->running()) {
        run.exit_status = client->wait_for_exit(1s).value_or(-1);
        client->wait_for_output("\x01never\x01", 2s);
        run.output = client->output();
        loop_->stop();
        return;
      }
      poll.start(10ms, check);
    };
    service.own_name([&](const Status& owned) {
      EXPECT_TRUE(owned.ok()) << owned.error().message();
      auto started = DaemonProcess::start("/bin/sh", {"-c", script});
      EXPECT_TRUE(started.ok());
      if (started.ok()) client = std::move(started).value();
    });
    poll.start(10ms, check);
    deadline.start(20s, [&] {
      ADD_FAILURE() << "the client did not finish";
      loop_->stop();
    });
    loop_->run();
    return run;
  }

  std::unique_ptr<PrivateBus> bus_;
  std::unique_ptr<daemon::EventLoop> loop_;
  daemon::log::Logger logger_{daemon::log::Level::kError};
};

const std::string kCall =
    "gdbus call --session --dest io.tether.Gateway1 --object-path /io/tether/Gateway1 --method ";

TEST_F(BusServiceTest, AsyncRepliesErrorsAndCallerReachThePluginsClient) {
  auto opened = BusService::open(*loop_, daemon::BusKind::kSession, logger_);
  ASSERT_TRUE(opened.ok()) << opened.error().message();
  BusService& service = **opened;
  // Gateway1 and a plugin's interface side by side on the one object.
  daemon::dbus::GatewayService gateway(
      service,
      {.device_id = "d", .version = "v", .server_url = {}, .pending_records = {}, .reconnect = {}});
  SlowTelemetry telemetry(service, *loop_);

  const std::string script =
      kCall + "io.tether.Telemetry1.Submit temp \"{'c': <21.5>}\"; echo \"rc=$?\"; " +  //
      kCall + "io.tether.Telemetry1.Submit temp \"{}\"; echo \"rc=$?\"; " +             //
      kCall + "io.tether.Telemetry1.Submit '' \"{}\"; echo \"rc=$?\"; " +               //
      kCall + "io.tether.Telemetry1.Submit full \"{}\"; echo \"rc=$?\"; " +             //
      kCall + "io.tether.Telemetry1.Submit down \"{}\"; echo \"rc=$?\"; " +             //
      kCall + "io.tether.Telemetry1.RaiseAlert a warning s \"{}\"; echo \"rc=$?\"; " +  //
      kCall + "io.tether.Telemetry1.ClearAlert a; echo \"rc=$?\"; " +                   //
      "busctl --user call io.tether.Gateway1 /io/tether/Gateway1 io.tether.Telemetry1 Submit "
      "si x 7; echo \"rc=$?\"; " +  //
      kCall +
      "io.tether.Gateway1.Reconnect; echo \"rc=$?\"; " +  //
      "gdbus introspect --session --dest io.tether.Gateway1 --object-path /io/tether/Gateway1";
  const ScriptRun run = run_with_loop(service, script);
  ASSERT_EQ(run.exit_status, 0) << run.output;
  const std::string& out = run.output;
  // Replies that came 50 ms later, from a timer on the loop, in order.
  EXPECT_NE(out.find("(uint64 42,)\nrc=0\n(uint64 43,)\nrc=0\n"), std::string::npos) << out;
  EXPECT_NE(out.find("GDBus.Error:io.tether.Error.InvalidArgument: stream is empty"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("GDBus.Error:io.tether.Error.StorageFailure: the disk is full"),
            std::string::npos)
      << out;
  // A kind the contract does not name: the generic failure, with the sentence.
  EXPECT_NE(out.find("GDBus.Error:org.freedesktop.DBus.Error.Failed: not connected"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("GDBus.Error:io.tether.Error.Busy: too many alerts"), std::string::npos)
      << out;
  EXPECT_NE(out.find("GDBus.Error:io.tether.Error.NotFound: no such alert"), std::string::npos)
      << out;
  // Wrong argument types are refused by the generated code before the plugin sees them.
  EXPECT_NE(out.find("Invalid arguments 'si' to call io.tether.Telemetry1.Submit()"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("interface io.tether.Telemetry1"), std::string::npos) << out;
  EXPECT_NE(out.find("interface io.tether.Gateway1"), std::string::npos) << out;
  EXPECT_EQ(telemetry.last_caller.rfind(":1.", 0), 0u) << telemetry.last_caller;
  EXPECT_TRUE(service.name_owned());
}

TEST_F(BusServiceTest, ErrorKindsMapToTheContractsNames) {
  struct Case {
    ErrorCode code;
    const char* name;
  };
  for (const Case& c : {Case{ErrorCode::kInvalidArgument, "io.tether.Error.InvalidArgument"},
                        Case{ErrorCode::kNotFound, "io.tether.Error.NotFound"},
                        Case{ErrorCode::kBusy, "io.tether.Error.Busy"},
                        Case{ErrorCode::kStorageFailure, "io.tether.Error.StorageFailure"},
                        Case{ErrorCode::kAccessDenied, "io.tether.Error.AccessDenied"},
                        Case{ErrorCode::kIo, BusService::kFallbackError},
                        Case{ErrorCode::kProtocol, BusService::kFallbackError},
                        Case{ErrorCode::kUnavailable, BusService::kFallbackError},
                        Case{ErrorCode::kInternal, BusService::kFallbackError}}) {
    const sdbus::Error mapped = BusService::to_dbus_error(Error(c.code, "what went wrong"));
    EXPECT_EQ(mapped.getName(), c.name);
    EXPECT_EQ(mapped.getMessage(), "what went wrong");
  }
}

TEST_F(BusServiceTest, OpeningAnUnreachableBusIsAnError) {
  ::setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus", 1);
  auto opened = BusService::open(*loop_, daemon::BusKind::kSession, logger_);
  ASSERT_FALSE(opened.ok());
  EXPECT_NE(opened.error().message().find("cannot connect to the session bus"), std::string::npos)
      << opened.error().message();
}

TEST_F(BusServiceTest, TheBusGoingAwayIsSurvived) {
  auto opened = BusService::open(*loop_, daemon::BusKind::kSession, logger_);
  ASSERT_TRUE(opened.ok()) << opened.error().message();
  BusService& service = **opened;
  daemon::dbus::GatewayService gateway(
      service,
      {.device_id = "d", .version = "v", .server_url = {}, .pending_records = {}, .reconnect = {}});
  daemon::Timer later(*loop_);
  bool owned = false;
  service.own_name([&](const Status& status) {
    owned = status.ok();
    bus_.reset();  // dbus-daemon is killed
    later.start(500ms, [&] {
      // The loop still runs; the service reports the bus gone instead of crashing.
      gateway.set_state("online");
      EXPECT_FALSE(service.send([] {}).ok());
      loop_->stop();
    });
  });
  loop_->run();
  EXPECT_TRUE(owned);
  EXPECT_FALSE(service.name_owned());
}

}  // namespace
}  // namespace tether::test
