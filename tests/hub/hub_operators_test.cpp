// Operator accounts, roles, API tokens, the audit trail and the login limits:
// the JSON API and the operator WebSocket (through the core with fake links),
// each role against each route and each message type. Everything that touches
// the operator store runs on both SQL back ends (SQLite and PostgreSQL).
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "hub/cluster/bus_envelope.hpp"
#include "hub/cluster/bus_operators.hpp"
#include "hub/core.hpp"
#include "hub/json.hpp"
#include "hub/operators/login_limiter.hpp"
#include "hub/operators/message_roles.hpp"
#include "hub/operators/operator_sessions.hpp"
#include "protocol/codec.hpp"
#include "protocol/control.hpp"
#include "protocol/message.hpp"
#include "protocol/shell.hpp"
#include "tests/hub/api_rig.hpp"
#include "tests/hub/command_fakes.hpp"
#include "tests/hub/hub_fakes.hpp"
#include "tests/support/sql_store.hpp"

namespace tether::hub {
namespace {

namespace proto = protocol::proto;
using protocol::ProtoMsg;
using testing::FakeLink;
using testing::MemoryStore;
using testing::quick_hash;

using tether::test::SqlBackend;
using tether::test::SqlTestStore;

class OperatorsTest : public ::testing::TestWithParam<SqlBackend> {
 protected:
  void SetUp() override {
    auto db = SqlTestStore::create(GetParam());
    ASSERT_TRUE(db.ok()) << db.error().message();
    database = std::move(*db);
    ASSERT_TRUE(store.put_device("gw", sha256_hex("t"), 1).ok());
    auto c = HubCore::create(store, monitoring, config_store, commands, limits, log);
    ASSERT_TRUE(c.ok());
    core = std::move(*c);
    rig = std::make_unique<testing::ApiRig>(store, core->devices(), core->operators(),
                                            core->services(), core->audit(), log, database->url());
    core->set_audit_sink(&rig->store());
    core->devices().connected(1, "gw", dev);
    ASSERT_TRUE(rig->accounts.create("vera", Role::kViewer, quick_hash("vera-password")).ok());
    ASSERT_TRUE(rig->accounts.create("otto", Role::kOperator, quick_hash("otto-password")).ok());
    ASSERT_TRUE(rig->accounts.create("ada", Role::kAdmin, quick_hash("ada-password")).ok());
  }
  void TearDown() override {
    if (core) core->set_audit_sink(nullptr);
  }

  void from_op(ConnId id, const ProtoMsg& m) { core->operators().message(id, protocol::encode(m)); }
  void from_dev(const ProtoMsg& m) { core->devices().message(1, protocol::encode(m)); }

  std::vector<AuditRecord> audit(const std::string& action) {
    AuditQuery q;
    q.action = action;
    auto r = rig->store().audit(q);
    EXPECT_TRUE(r.ok());
    return r.ok() ? *r : std::vector<AuditRecord>{};
  }
  HttpResponse login(const std::string& user, const std::string& password,
                     const std::string& peer) {
    HttpRequest req{
        "POST", "/api/login", std::nullopt, "application/json",
        "{\"username\":" + json::quote(user) + ",\"password\":" + json::quote(password) + "}"};
    req.peer = peer;
    return rig->api.handle(req);
  }

  std::unique_ptr<SqlTestStore> database;  // first: outlives the rig's store
  Limits limits;
  Logger log{LogLevel::kError, kProgramName};
  MemoryStore store;
  testing::HeldMonitoringStore monitoring;
  testing::HeldConfigStore config_store;
  testing::HeldCommandStore commands;
  std::unique_ptr<HubCore> core;
  std::unique_ptr<testing::ApiRig> rig;
  FakeLink dev, op1, op2;
};

// ------------------------------------------------------------------ the WebSocket

TEST(MessageRoles, TheTable) {
  EXPECT_EQ(role_for_message(proto::kControl, "ping"), Role::kViewer);
  EXPECT_EQ(role_for_message(proto::kControl, "pong"), Role::kViewer);
  EXPECT_EQ(role_for_message(proto::kControl, "open"), Role::kOperator);
  EXPECT_EQ(role_for_message(proto::kControl, "close"), Role::kOperator);
  for (const char* typ : {"new", "shell", "resize", "stop", "pong", ""}) {
    EXPECT_EQ(role_for_message(proto::kShell, typ), Role::kOperator) << typ;
  }
  EXPECT_EQ(role_for_message(proto::kFileTransfer, "get_file"), Role::kOperator);
  EXPECT_EQ(role_for_message(proto::kPortForward, "new"), Role::kOperator);
  EXPECT_EQ(role_for_message(proto::kMonitoring, "anything"), Role::kViewer);
  EXPECT_EQ(role_for_message(0x7777, "whatever"), Role::kOperator);  // unknown: operator
  EXPECT_EQ(role_for_message(proto::kConfig, "set"), Role::kOperator);
}

// Every message type an operator socket can send, as each role: refused below
// the table's role with a control error naming it, passed on otherwise.
TEST_P(OperatorsTest, EachRoleAgainstEachMessageType) {
  struct Case {
    std::uint16_t proto;
    const char* typ;
    Role needed;
  };
  const std::vector<Case> cases{
      {proto::kControl, "ping", Role::kViewer},
      {proto::kControl, "open", Role::kOperator},
      {proto::kControl, "close", Role::kOperator},
      {proto::kShell, "new", Role::kOperator},
      {proto::kShell, "shell", Role::kOperator},
      {proto::kShell, "resize", Role::kOperator},
      {proto::kShell, "stop", Role::kOperator},
      {proto::kFileTransfer, "get_file", Role::kOperator},
      {proto::kPortForward, "new", Role::kOperator},
      {proto::kConfig, "get", Role::kOperator},
      {proto::kCommand, "run", Role::kOperator},
      {0x4242, "x", Role::kOperator},
  };
  ConnId next = 100;
  for (Role role : {Role::kViewer, Role::kOperator, Role::kAdmin}) {
    for (const Case& c : cases) {
      FakeLink link;
      const ConnId id = next++;
      core->operators().connected(id, "gw", "someone", link, role);
      from_op(id, protocol::make_msg(c.proto, c.typ, "sid-" + std::to_string(id)));
      const bool refused = role < c.needed;
      bool got_forbidden = false;
      for (const auto& m : link.take()) {
        if (m.hdr.proto != proto::kControl || m.hdr.typ != "error") continue;
        auto err = protocol::ControlError::decode(m.body);
        ASSERT_TRUE(err.ok());
        if (err->err.find("forbidden") != std::string::npos) {
          got_forbidden = true;
          EXPECT_NE(err->err.find(std::string(role_name(c.needed))), std::string::npos);
        }
      }
      EXPECT_EQ(got_forbidden, refused)
          << role_name(role) << " proto " << c.proto << " typ " << c.typ;
      if (refused) {
        for (const auto& m : dev.take()) {
          EXPECT_NE(m.hdr.sid, "sid-" + std::to_string(id)) << "reached the device";
        }
      }
      core->operators().closed(id);
      dev.take();
    }
  }
}

TEST_P(OperatorsTest, AViewerCannotOpenAShellByCraftingMessages) {
  core->operators().connected(10, "gw", "vera", op1, Role::kViewer);
  dev.take();
  // Every way of asking for a shell, and data for a made-up session.
  from_op(10, protocol::make_msg(proto::kShell, "new", "s1"));
  from_op(10, protocol::make_msg(proto::kShell, "new", ""));
  from_op(10, protocol::make_msg(proto::kShell, "shell", "s1", {}, {'i', 'd', '\n'}));
  from_op(10, protocol::make_msg(proto::kControl, "open", "r1"));
  from_op(10, protocol::make_msg(proto::kFileTransfer, "get_file", "r1"));
  EXPECT_TRUE(dev.take().empty());
  const auto replies = op1.take();
  ASSERT_EQ(replies.size(), 5u);
  for (const auto& m : replies) EXPECT_EQ(m.hdr.typ, "error");
  EXPECT_EQ(audit("message.denied").size(), 5u);
  // The same socket as an operator gets its shell.
  core->operators().connected(11, "gw", "otto", op2, Role::kOperator);
  from_op(11, protocol::make_msg(proto::kShell, "new", "s2"));
  auto sent = dev.take();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].hdr.typ, "new");
  EXPECT_EQ(sent[0].hdr.prop_str("user_id"), "otto");
}

// ------------------------------------------------------------------ the JSON API

TEST_P(OperatorsTest, EachRoleAgainstEachRoute) {
  struct Route {
    const char* method;
    const char* path;
    Role needed;
    const char* body;
  };
  const std::vector<Route> routes{
      {"GET", "/api/session", Role::kViewer, ""},
      {"GET", "/api/devices", Role::kViewer, ""},
      {"GET", "/api/devices/gw", Role::kViewer, ""},
      {"GET", "/api/devices/gw/telemetry", Role::kViewer, ""},
      {"GET", "/api/telemetry/open-alerts", Role::kViewer, ""},
      {"GET", "/api/tokens", Role::kViewer, ""},
      {"GET", "/api/tokens?all", Role::kAdmin, ""},
      {"GET", "/api/accounts", Role::kAdmin, ""},
      {"POST", "/api/accounts", Role::kAdmin, "{}"},
      {"POST", "/api/accounts/nobody/disable", Role::kAdmin, "{}"},
      {"POST", "/api/accounts/nobody/role", Role::kAdmin, "{\"role\":\"admin\"}"},
      {"POST", "/api/accounts/nobody/password", Role::kAdmin, "{\"password\":\"12345678\"}"},
      {"GET", "/api/audit", Role::kAdmin, ""},
      {"POST", "/api/devices/gw/anything", Role::kOperator, "{}"},
  };
  for (const auto& [user, role] : std::vector<std::pair<std::string, Role>>{
           {"vera", Role::kViewer}, {"otto", Role::kOperator}, {"ada", Role::kAdmin}}) {
    const std::string cookie = rig->session_for(user);
    for (const Route& r : routes) {
      std::string path = r.path;
      HttpRequest req{r.method, path, cookie, "application/json", r.body};
      if (auto q = path.find('?'); q != std::string::npos) {
        req.query[path.substr(q + 1)] = "";
        req.path = path.substr(0, q);
      }
      const HttpResponse res = rig->api.handle(req);
      if (role < r.needed) {
        EXPECT_EQ(res.status, 403u) << user << " " << r.method << " " << r.path;
        EXPECT_NE(res.body.find(std::string(role_name(r.needed))), std::string::npos) << res.body;
      } else {
        EXPECT_NE(res.status, 403u) << user << " " << r.method << " " << r.path << res.body;
        EXPECT_NE(res.status, 401u) << user << " " << r.method << " " << r.path;
      }
    }
  }
  HttpRequest anonymous{"GET", "/api/devices", std::nullopt, "", ""};
  EXPECT_EQ(rig->api.handle(anonymous).status, 401u);
}

TEST_P(OperatorsTest, SessionSaysTheRole) {
  const auto res = rig->call("GET", "/api/session", rig->session_for("otto"));
  EXPECT_EQ(res.status, 200u);
  EXPECT_EQ(res.body, R"({"user":"otto","role":"operator"})");
}

TEST_P(OperatorsTest, ATokenIsShownOnceStoredHashedAndLimitedToItsRole) {
  const std::string ada = rig->session_for("ada");
  auto made = rig->call("POST", "/api/tokens", ada, R"({"label":"ci","role":"viewer"})");
  ASSERT_EQ(made.status, 201u) << made.body;
  // The body is not flat (created is a number): find the token by hand.
  const auto at = made.body.find("\"token\":\"");
  ASSERT_NE(at, std::string::npos);
  const std::string token = made.body.substr(at + 9, 64);
  const auto id_at = made.body.find("\"id\":\"");
  const std::string id = made.body.substr(id_at + 6, 16);
  // Only the hash is kept.
  for (const auto& t : rig->accounts.tokens("ada")) {
    EXPECT_EQ(t.token_sha256, sha256_hex(token));
    EXPECT_EQ(t.token_sha256.find(token), std::string::npos);
  }
  auto listed = rig->call("GET", "/api/tokens", ada);
  EXPECT_EQ(listed.body.find(token), std::string::npos);
  // A viewer's token of an admin reads, and nothing more.
  EXPECT_EQ(rig->call_with_token("GET", "/api/devices", token).status, 200u);
  EXPECT_EQ(rig->call_with_token("GET", "/api/accounts", token).status, 403u);
  EXPECT_EQ(rig->call_with_token("POST", "/api/devices/gw/anything", token).status, 403u);
  EXPECT_EQ(rig->call_with_token("GET", "/api/session", token).body,
            R"({"user":"ada","role":"viewer"})");
  // A token makes no tokens.
  EXPECT_EQ(rig->call_with_token("POST", "/api/tokens", token, "{}").status, 403u);
  // Revoked: gone.
  EXPECT_EQ(rig->call("POST", "/api/tokens/" + id + "/revoke", ada).status, 200u);
  EXPECT_EQ(rig->call_with_token("GET", "/api/devices", token).status, 401u);
  // Garbage tokens.
  for (const char* bad :
       {"", "x", "Bearer", "0000000000000000000000000000000000000000000000000000000000000000"}) {
    EXPECT_EQ(rig->call_with_token("GET", "/api/devices", bad).status, 401u) << bad;
  }
  HttpRequest basic{"GET", "/api/devices", std::nullopt, "", ""};
  basic.authorization = "Basic " + token;
  EXPECT_EQ(rig->api.handle(basic).status, 401u);
}

TEST_P(OperatorsTest, ATokenNeverExceedsItsAccount) {
  const std::string otto = rig->session_for("otto");
  EXPECT_EQ(rig->call("POST", "/api/tokens", otto, R"({"role":"admin"})").status, 403u);
  // For someone else: admin only.
  EXPECT_EQ(rig->call("POST", "/api/tokens", otto, R"({"user":"vera"})").status, 403u);
  auto made = rig->accounts.create_token("otto", Role::kOperator, "script");
  ASSERT_TRUE(made.ok());
  EXPECT_EQ(rig->call_with_token("POST", "/api/devices/gw/anything", made->token).status, 405u);
  // The account loses its role: so does the token.
  ASSERT_TRUE(rig->accounts.set_role("otto", Role::kViewer).ok());
  EXPECT_EQ(rig->call_with_token("POST", "/api/devices/gw/anything", made->token).status, 403u);
  // Disabled account: the token stops working.
  ASSERT_TRUE(rig->accounts.set_disabled("otto", true).ok());
  EXPECT_EQ(rig->call_with_token("GET", "/api/devices", made->token).status, 401u);
}

TEST_P(OperatorsTest, AdminManagesAccounts) {
  const std::string ada = rig->session_for("ada");
  auto created = rig->call("POST", "/api/accounts", ada,
                           R"({"name":"nina","role":"operator","password":"nina-secret"})");
  ASSERT_EQ(created.status, 201u) << created.body;
  EXPECT_EQ(rig->call("POST", "/api/accounts", ada,
                      R"({"name":"nina","role":"operator","password":"nina-secret"})")
                .status,
            409u);
  EXPECT_EQ(rig->call("POST", "/api/accounts", ada,
                      R"({"name":"bad name","role":"operator","password":"12345678"})")
                .status,
            400u);
  EXPECT_EQ(
      rig->call("POST", "/api/accounts", ada, R"({"name":"x","role":"root","password":"12345678"})")
          .status,
      400u);
  EXPECT_EQ(
      rig->call("POST", "/api/accounts", ada, R"({"name":"y","role":"viewer","password":"short"})")
          .status,
      400u);
  EXPECT_EQ(rig->call("POST", "/api/accounts", ada, "not json").status, 400u);
  EXPECT_EQ(login("nina", "nina-secret", "10.0.0.1").status, 200u);
  // The config admin is not changeable from the API.
  EXPECT_EQ(rig->call("POST", "/api/accounts/admin/disable", ada).status, 403u);
  EXPECT_EQ(rig->call("POST", "/api/accounts/admin/delete", ada).status, 403u);
  // An admin does not lock themselves out.
  EXPECT_EQ(rig->call("POST", "/api/accounts/ada/disable", ada).status, 400u);
  // Own password: any role.
  const std::string vera = rig->session_for("vera");
  EXPECT_EQ(rig->call("POST", "/api/accounts/vera/password", vera, R"({"password":"new-vera-pw"})")
                .status,
            200u);
  EXPECT_EQ(login("vera", "new-vera-pw", "10.0.0.2").status, 200u);
  EXPECT_EQ(
      rig->call("POST", "/api/accounts/nina/password", vera, R"({"password":"hijacked!"})").status,
      403u);
  EXPECT_EQ(rig->call("POST", "/api/accounts/nina/delete", ada).status, 200u);
  EXPECT_EQ(login("nina", "nina-secret", "10.0.0.1").status, 401u);
  auto listed = rig->call("GET", "/api/accounts", ada);
  EXPECT_NE(listed.body.find("\"name\":\"admin\""), std::string::npos);
  EXPECT_NE(listed.body.find("\"config\":true"), std::string::npos);
  EXPECT_EQ(listed.body.find("nina"), std::string::npos);
  EXPECT_EQ(listed.body.find("pbkdf2"), std::string::npos);  // no hashes leave the hub
  EXPECT_GE(audit("account.").size(), 3u);
}

TEST_P(OperatorsTest, DisablingAnAccountEndsItsSessionsAndShells) {
  const std::string otto = rig->session_for("otto");
  const std::string otto2 = rig->session_for("otto");
  core->operators().connected(10, "gw", "otto", op1, Role::kOperator);
  core->operators().connected(11, "gw", "vera", op2, Role::kViewer);
  from_op(10, protocol::make_msg(proto::kShell, "new", "s1"));
  from_dev(protocol::make_msg(proto::kShell, "new", "s1", {{"status", 1}}));
  dev.take();
  const std::string ada = rig->session_for("ada");
  ASSERT_EQ(rig->call("POST", "/api/accounts/otto/disable", ada).status, 200u);
  // Both login sessions are gone, its socket is closed and its shell stopped.
  EXPECT_EQ(rig->call("GET", "/api/devices", otto).status, 401u);
  EXPECT_EQ(rig->call("GET", "/api/devices", otto2).status, 401u);
  EXPECT_EQ(op1.closed, close_code::kPolicy);
  EXPECT_EQ(op2.closed, 0);
  auto sent = dev.take();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].hdr.typ, "stop");
  EXPECT_EQ(sent[0].hdr.sid, "s1");
  EXPECT_EQ(login("otto", "otto-password", "10.0.0.3").status, 403u);
  EXPECT_EQ(rig->call("POST", "/api/accounts/otto/enable", ada).status, 200u);
  EXPECT_EQ(login("otto", "otto-password", "10.0.0.3").status, 200u);
  auto closes = audit("shell.close");
  ASSERT_EQ(closes.size(), 1u);
  EXPECT_EQ(closes[0].event.user, "otto");
}

TEST_P(OperatorsTest, LoginChecksNameAndPassword) {
  auto ok = login("admin", "admin-password", "10.1.0.1");
  EXPECT_EQ(ok.status, 200u);
  EXPECT_EQ(ok.body, R"({"user":"admin","role":"admin"})");
  EXPECT_NE(ok.set_cookie.find("tether_session="), std::string::npos);
  EXPECT_EQ(login("admin", "wrong", "10.1.0.1").status, 401u);
  EXPECT_EQ(login("nobody", "admin-password", "10.1.0.1").status, 401u);
  EXPECT_EQ(login("Admin", "admin-password", "10.1.0.1").status, 401u);
  HttpRequest bad{"POST", "/api/login", std::nullopt, "text/plain", "{}"};
  EXPECT_EQ(rig->api.handle(bad).status, 415u);
  bad.content_type = "application/json";
  for (const char* body : {"", "{", "[]", R"({"username":"admin"})", R"({"username":1})"}) {
    bad.body = body;
    EXPECT_EQ(rig->api.handle(bad).status, 400u) << body;
  }
  bad.method = "GET";
  EXPECT_EQ(rig->api.handle(bad).status, 405u);
  auto logins = audit("login");
  ASSERT_GE(logins.size(), 4u);
  // Newest first: the failure for "Admin" from its address.
  EXPECT_EQ(logins[0].event.outcome, "failed");
  EXPECT_EQ(logins[0].event.address, "10.1.0.1");
  EXPECT_EQ(logins.back().event.outcome, "ok");
}

// `tether-hub --add-operator` writes the account to the store while the hub runs:
// a login naming an account the hub does not know reads the accounts again first,
// at most once per ten seconds.
TEST_P(OperatorsTest, AnAccountAddedBehindTheHubsBackCanLogInAtOnce) {
  auto cli_store = SqlOperatorStore::open(database->url());
  ASSERT_TRUE(cli_store.ok()) << cli_store.error().message();
  Accounts cli(**cli_store, "admin", quick_hash("admin-password"));
  ASSERT_TRUE(cli.load().ok());
  ASSERT_TRUE(cli.create("carl", Role::kOperator, quick_hash("carl-password")).ok());
  auto carl = login("carl", "carl-password", "10.1.0.7");
  EXPECT_EQ(carl.status, 200u) << carl.body;
  EXPECT_EQ(carl.body, R"({"user":"carl","role":"operator"})");
  // A second one within the ten seconds waits for the next reload.
  ASSERT_TRUE(cli.create("cora", Role::kViewer, quick_hash("cora-password")).ok());
  EXPECT_EQ(login("cora", "cora-password", "10.1.0.7").status, 401u);
  EXPECT_EQ(login("nobody", "cora-password", "10.1.0.8").status, 401u);
}

TEST_P(OperatorsTest, AFloodFromOneAddressLocksOutNeitherAnotherAddressNorAnotherAccount) {
  int limited = 0;
  for (int i = 0; i < 50; ++i) {
    if (login("admin", "guess" + std::to_string(i), "203.0.113.9").status == 429u) ++limited;
  }
  EXPECT_GE(limited, 35);
  // The same account from elsewhere, and another account from elsewhere.
  EXPECT_EQ(login("admin", "admin-password", "198.51.100.1").status, 200u);
  EXPECT_EQ(login("otto", "otto-password", "198.51.100.2").status, 200u);
  EXPECT_FALSE(audit("login").empty());
}

TEST(LoginLimiter, BucketsPerAddressAndAccount) {
  using Clock = LoginLimiter::Clock;
  LoginLimiter limiter({1.0, 3}, {1.0, 5}, 4);
  const auto t0 = Clock::now();
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.begin("a", "x", t0));
  EXPECT_FALSE(limiter.begin("a", "x", t0));
  EXPECT_FALSE(limiter.begin("a", "y", t0));  // the address is spent, whatever the account
  EXPECT_TRUE(limiter.begin("b", "x", t0));   // the account still has some
  EXPECT_TRUE(limiter.begin("c", "x", t0));
  EXPECT_FALSE(limiter.begin("d", "x", t0));  // the account is spent now
  EXPECT_TRUE(limiter.begin("d", "y", t0));
  // Refill.
  EXPECT_TRUE(limiter.begin("a", "z", t0 + std::chrono::seconds(2)));
  // A success gives back what it took.
  limiter.succeeded("d", "y", t0);
  // Bounded: never more than 4 of each.
  for (int i = 0; i < 100; ++i) {
    (void)limiter.begin("addr" + std::to_string(i), "acct" + std::to_string(i), t0);
  }
  EXPECT_LE(limiter.addresses(), 4u);
  EXPECT_LE(limiter.accounts(), 4u);
}

// ------------------------------------------------------------------ the audit trail

TEST_P(OperatorsTest, TheAuditTrailRecordsEachAction) {
  core->operators().connected(10, "gw", "otto", op1, Role::kOperator);
  // A shell: open, then the device ends it with an exit code.
  from_op(10, protocol::make_msg(proto::kShell, "new", "s1"));
  from_dev(protocol::make_msg(proto::kShell, "new", "s1", {{"status", 1}}));
  from_dev(protocol::make_msg(proto::kShell, "stop", "s1", {{"status", 1}, {"exit_code", 3}}));
  // A shell the device refuses.
  from_op(10, protocol::make_msg(proto::kShell, "new", "s2"));
  from_dev(protocol::make_msg(proto::kShell, "new", "s2", {{"status", 2}}, {'n', 'o'}));
  // A routed session with a file download and a port forward.
  from_op(10, protocol::make_msg(proto::kControl, "open", "r1"));
  const protocol::Value path(protocol::Map{{"path", protocol::Value("/etc/hosts")}});
  from_op(10, protocol::make_msg(proto::kFileTransfer, "get_file", "r1", {},
                                 protocol::encode_value(path)));
  from_op(10, protocol::make_msg(proto::kControl, "open", "r2"));
  const protocol::Value to(protocol::Map{{"remote_host", protocol::Value("10.0.0.5")},
                                         {"remote_port", protocol::Value(22)}});
  from_op(10, protocol::make_msg(proto::kPortForward, "new", "r2", {}, protocol::encode_value(to)));
  // Config push, command and update consent over the socket.
  from_op(10, protocol::make_msg(proto::kConfig, "set", ""));
  from_op(10, protocol::make_msg(proto::kCommand, "request", ""));
  from_op(10, protocol::make_msg(proto::kUpdate, "consent", ""));
  // A write through the JSON API to a device (a config push, a command...).
  (void)rig->call("POST", "/api/devices/gw/config", rig->session_for("otto"));

  auto opens = audit("shell.open");
  ASSERT_EQ(opens.size(), 2u);
  EXPECT_EQ(opens[0].event.outcome, "failed");
  EXPECT_EQ(opens[1].event.outcome, "ok");
  EXPECT_EQ(opens[1].event.user, "otto");
  EXPECT_EQ(opens[1].event.device, "gw");
  auto closes = audit("shell.close");
  ASSERT_EQ(closes.size(), 1u);
  EXPECT_NE(closes[0].event.detail.find("exit_code=3"), std::string::npos);
  EXPECT_NE(closes[0].event.detail.find("duration_s="), std::string::npos);
  EXPECT_EQ(audit("session.open").size(), 2u);
  auto files = audit("file.get");
  ASSERT_EQ(files.size(), 1u);
  EXPECT_NE(files[0].event.detail.find("path=/etc/hosts"), std::string::npos);
  auto forwards = audit("forward.open");
  ASSERT_EQ(forwards.size(), 1u);
  EXPECT_NE(forwards[0].event.detail.find("to=10.0.0.5:22"), std::string::npos);
  for (const char* action : {"config.set", "command.request", "update.consent"}) {
    auto recorded = audit(action);
    ASSERT_EQ(recorded.size(), 1u) << action;
    EXPECT_EQ(recorded[0].event.user, "otto");
    EXPECT_EQ(recorded[0].event.device, "gw");
  }
  auto writes = audit("api.write");
  ASSERT_EQ(writes.size(), 1u);
  EXPECT_EQ(writes[0].event.device, "gw");
  EXPECT_EQ(writes[0].event.user, "otto");
  // The outcome is whatever the config service answered; the write is recorded either way.
  EXPECT_NE(writes[0].event.detail.find("POST /api/devices/gw/config -> "), std::string::npos);

  // Filters and the JSON lines export, admin only.
  const std::string ada = rig->session_for("ada");
  HttpRequest req{"GET", "/api/audit", ada, "", ""};
  req.query = {{"user", "otto"}, {"action", "shell."}, {"device", "gw"}};
  auto res = rig->api.handle(req);
  EXPECT_EQ(res.status, 200u);
  EXPECT_NE(res.body.find("shell.close"), std::string::npos);
  EXPECT_EQ(res.body.find("file.get"), std::string::npos);
  req.query = {{"format", "jsonl"}};
  res = rig->api.handle(req);
  EXPECT_EQ(res.status, 200u);
  EXPECT_EQ(res.content_type, "application/x-ndjson");
  std::size_t lines = 0;
  for (char c : res.body) lines += c == '\n' ? 1 : 0;
  EXPECT_GE(lines, 7u);
  req.query = {{"from", "-1"}};
  EXPECT_EQ(rig->api.handle(req).status, 400u);
  req.query = {{"limit", "abc"}};
  EXPECT_EQ(rig->api.handle(req).status, 400u);
  req.query = {{"from", std::to_string(now_ms() + 100000)}};
  EXPECT_EQ(rig->api.handle(req).body, "[]");
}

TEST_P(OperatorsTest, TheAuditLogIsAppendOnly) {
  rig->store().record({"u", "x", "", "ok", "", "", 0});
  ASSERT_TRUE(rig->store().flush().ok());
  // Another connection to the same database, as anyone with access to it would use.
  auto db = sql::connect(rig->url(), {.sqlite_file = "hub.db"});
  ASSERT_TRUE(db.ok()) << db.error().message();
  for (const char* sql :
       {"UPDATE audit_log SET \"user\" = 'someone else'", "DELETE FROM audit_log"}) {
    const Status refused = (*db)->exec(sql);
    ASSERT_FALSE(refused.ok()) << sql;
    EXPECT_NE(refused.error().message().find("append-only"), std::string::npos)
        << refused.error().message();
  }
  // PostgreSQL's statement trigger also refuses TRUNCATE and a DELETE matching
  // nothing (SQLite's row triggers see neither; SQLite has no TRUNCATE).
  if ((*db)->dialect() == sql::Dialect::kPostgres) {
    for (const char* sql : {"TRUNCATE audit_log", "DELETE FROM audit_log WHERE id < 0"}) {
      const Status refused = (*db)->exec(sql);
      ASSERT_FALSE(refused.ok()) << sql;
      EXPECT_NE(refused.error().message().find("append-only"), std::string::npos);
    }
  }
  EXPECT_EQ(audit("x").size(), 1u);
}

class OperatorStoreTest : public ::testing::TestWithParam<SqlBackend> {};

TEST_P(OperatorStoreTest, AccountsAndTokensSurviveAReopen) {
  auto database = SqlTestStore::create(GetParam());
  ASSERT_TRUE(database.ok()) << database.error().message();
  const sql::StoreUrl& url = (*database)->url();
  {
    auto store = SqlOperatorStore::open(url);
    ASSERT_TRUE(store.ok());
    Accounts accounts(**store, "root", quick_hash("root-password"));
    ASSERT_TRUE(accounts.load().ok());
    ASSERT_TRUE(accounts.create("vera", Role::kViewer, quick_hash("pw-vera-1")).ok());
    ASSERT_TRUE(accounts.set_disabled("vera", true).ok());
    ASSERT_TRUE(accounts.create_token("root", Role::kOperator, "ci").ok());
    EXPECT_EQ(accounts.create("root", Role::kViewer, "x").error().code(), ErrorCode::kBusy);
    EXPECT_EQ(accounts.create("", Role::kViewer, "x").error().code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(accounts.create(std::string(65, 'a'), Role::kViewer, "x").error().code(),
              ErrorCode::kInvalidArgument);
    EXPECT_EQ(accounts.create_token("vera", Role::kAdmin, "").error().code(),
              ErrorCode::kAccessDenied);
  }
  auto store = SqlOperatorStore::open(url);
  ASSERT_TRUE(store.ok());
  Accounts accounts(**store, "root", quick_hash("root-password"));
  ASSERT_TRUE(accounts.load().ok());
  ASSERT_NE(accounts.find("vera"), nullptr);
  EXPECT_TRUE(accounts.find("vera")->disabled);
  EXPECT_FALSE(accounts.caller_for_user("vera").has_value());
  ASSERT_EQ(accounts.tokens("root").size(), 1u);
  EXPECT_EQ(accounts.tokens("root")[0].role, Role::kOperator);
  EXPECT_EQ(accounts.list().size(), 2u);
  // Deleting an account takes its tokens with it, and only its own.
  ASSERT_TRUE(
      (*store)->put_token({"tv", "vera", Role::kViewer, "v", sha256_hex("vera-token"), 5}).ok());
  ASSERT_EQ((*store)->tokens()->size(), 2u);
  ASSERT_TRUE((*store)->delete_account("vera").ok());
  auto rows = (*store)->accounts();
  ASSERT_TRUE(rows.ok());
  for (const Account& a : *rows) EXPECT_NE(a.name, "vera");
  auto left = (*store)->tokens();
  ASSERT_TRUE(left.ok());
  ASSERT_EQ(left->size(), 1u);
  EXPECT_EQ(left->at(0).user, "root");
}

// The audit filters, each alone and together, on the store itself.
TEST_P(OperatorStoreTest, AuditFiltersAndPages) {
  auto database = SqlTestStore::create(GetParam());
  ASSERT_TRUE(database.ok()) << database.error().message();
  auto store = SqlOperatorStore::open((*database)->url());
  ASSERT_TRUE(store.ok()) << store.error().message();
  SqlOperatorStore& s = **store;
  s.record({"ann", "shell.open", "gw1", "ok", "", "10.0.0.1", 1000});
  s.record({"ann", "shell.close", "gw1", "ok", "", "10.0.0.1", 2000});
  s.record({"bob", "shellx", "gw2", "ok", "", "10.0.0.2", 3000});
  s.record({"bob", "file.get", "gw1", "denied", "/etc", "10.0.0.2", 4000});
  ASSERT_TRUE(s.flush().ok());
  auto query = [&](AuditQuery q) {
    auto r = s.audit(q);
    EXPECT_TRUE(r.ok()) << r.error().message();
    std::vector<std::string> actions;
    if (r.ok()) {
      for (const auto& rec : *r) actions.push_back(rec.event.action);
    }
    return actions;
  };
  using V = std::vector<std::string>;
  auto with = [](auto set) {
    AuditQuery q;
    set(q);
    return q;
  };
  EXPECT_EQ(query({}), (V{"file.get", "shellx", "shell.close", "shell.open"}));
  EXPECT_EQ(query(with([](AuditQuery& q) { q.user = "bob"; })), (V{"file.get", "shellx"}));
  EXPECT_EQ(query(with([](AuditQuery& q) { q.device = "gw1"; })),
            (V{"file.get", "shell.close", "shell.open"}));
  EXPECT_EQ(query(with([](AuditQuery& q) { q.action = "shell."; })),
            (V{"shell.close", "shell.open"}));
  EXPECT_EQ(query(with([](AuditQuery& q) { q.action = "shellx"; })), (V{"shellx"}));
  EXPECT_EQ(query(with([](AuditQuery& q) {
              q.from_ms = 2000;
              q.to_ms = 3000;
            })),
            (V{"shellx", "shell.close"}));
  EXPECT_EQ(query(with([](AuditQuery& q) {
              q.user = "ann";
              q.device = "gw1";
              q.action = "shell.";
              q.from_ms = 1500;
            })),
            (V{"shell.close"}));
  EXPECT_EQ(query(with([](AuditQuery& q) { q.limit = 1; })), (V{"file.get"}));
  auto all = s.audit({});
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 4u);
  const std::int64_t shellx_id = all->at(1).id;
  EXPECT_EQ(query(with([&](AuditQuery& q) { q.before_id = shellx_id; })),
            (V{"shell.close", "shell.open"}));
  EXPECT_EQ(all->at(3).event.address, "10.0.0.1");
  EXPECT_EQ(all->at(0).event.detail, "/etc");
  EXPECT_EQ(all->at(0).event.at_ms, 4000);
  // An event with text PostgreSQL would refuse is kept, with U+FFFD for the bad
  // bytes, and takes no other event down with it.
  s.record({"ann", "file.get", "gw1", "ok", std::string("/tmp/\0\xff", 7), "10.0.0.1", 5000});
  s.record({"ann", "file.put", "gw1", "ok", "/tmp/ok", "10.0.0.1", 5001});
  ASSERT_TRUE(s.flush().ok());
  auto bad = s.audit(with([](AuditQuery& q) { q.from_ms = 5000; }));
  ASSERT_TRUE(bad.ok()) << bad.error().message();
  ASSERT_EQ(bad->size(), 2u);
  EXPECT_EQ(bad->at(1).event.detail, "/tmp/\xEF\xBF\xBD\xEF\xBF\xBD");
}

// ------------------------------------------------- several instances, one store

// What an instance would tell the others.
struct NewsRecorder final : OperatorNews {
  void accounts_changed() override { ++accounts; }
  void session_ended(const std::string& hash) override { ended.push_back(hash); }
  void sessions_of_user_ended(const std::string& user) override { users.push_back(user); }
  int accounts = 0;
  std::vector<std::string> ended;
  std::vector<std::string> users;
};

TEST_P(OperatorStoreTest, SessionsAreStoredHashedBoundedAndSwept) {
  auto database = SqlTestStore::create(GetParam());
  ASSERT_TRUE(database.ok()) << database.error().message();
  auto store = SqlOperatorStore::open((*database)->url());
  ASSERT_TRUE(store.ok()) << store.error().message();
  SqlOperatorStore& s = **store;
  auto hash = [](int i) { return sha256_hex("cookie" + std::to_string(i)); };
  auto present = [&](int i, std::int64_t now) {
    auto found = s.session(hash(i), now);
    EXPECT_TRUE(found.ok());
    return found.ok() && found->has_value();
  };
  // Two per account, three in all; the oldest go first.
  ASSERT_TRUE(s.put_session({hash(1), "ann", 100, 10'000}, 2, 3, 100).ok());
  ASSERT_TRUE(s.put_session({hash(2), "ann", 101, 10'000}, 2, 3, 101).ok());
  ASSERT_TRUE(s.put_session({hash(3), "ann", 102, 10'000}, 2, 3, 102).ok());
  EXPECT_FALSE(present(1, 200));
  EXPECT_TRUE(present(2, 200));
  EXPECT_TRUE(present(3, 200));
  auto row = s.session(hash(3), 200);
  ASSERT_TRUE(row.ok() && row->has_value());
  EXPECT_EQ((*row)->user, "ann");
  EXPECT_EQ((*row)->created_ms, 102);
  EXPECT_EQ((*row)->expires_ms, 10'000);
  ASSERT_TRUE(s.put_session({hash(4), "bob", 103, 10'000}, 2, 3, 103).ok());
  ASSERT_TRUE(s.put_session({hash(5), "bob", 104, 10'000}, 2, 3, 104).ok());
  EXPECT_FALSE(present(2, 200));  // the oldest of all
  EXPECT_EQ(*s.session_count(), 3u);
  // Expired: not found, and swept by the next login.
  EXPECT_FALSE(present(3, 10'000));
  EXPECT_EQ(*s.session_count(), 3u);
  ASSERT_TRUE(s.put_session({hash(6), "cy", 20'000, 30'000}, 2, 3, 20'000).ok());
  EXPECT_EQ(*s.session_count(), 1u);
  // A duplicate hash is refused, not merged.
  EXPECT_FALSE(s.put_session({hash(6), "eve", 20'001, 30'000}, 2, 3, 20'001).ok());
  // Logout, logging a user out, deleting an account.
  ASSERT_TRUE(s.put_session({hash(7), "cy", 20'001, 30'000}, 2, 3, 20'001).ok());
  ASSERT_TRUE(s.delete_session(hash(7)).ok());
  EXPECT_FALSE(present(7, 20'002));
  ASSERT_TRUE(s.delete_sessions_of("cy").ok());
  EXPECT_EQ(*s.session_count(), 0u);
  ASSERT_TRUE(s.put_account({"dan", Role::kViewer, quick_hash("dan-password"), false, 1}).ok());
  ASSERT_TRUE(s.put_session({hash(8), "dan", 20'002, 30'000}, 2, 3, 20'002).ok());
  ASSERT_TRUE(s.put_session({hash(9), "cy", 20'002, 30'000}, 2, 3, 20'002).ok());
  ASSERT_TRUE(s.delete_account("dan").ok());
  EXPECT_FALSE(present(8, 20'003));
  EXPECT_TRUE(present(9, 20'003));
}

TEST_P(OperatorStoreTest, ASessionMadeOnOneInstanceHoldsOnAnother) {
  auto database = SqlTestStore::create(GetParam());
  ASSERT_TRUE(database.ok()) << database.error().message();
  auto store_a = SqlOperatorStore::open((*database)->url());
  auto store_b = SqlOperatorStore::open((*database)->url());
  ASSERT_TRUE(store_a.ok() && store_b.ok());
  OperatorSessions a(**store_a, std::chrono::seconds(60), 8, 2);
  OperatorSessions b(**store_b, std::chrono::seconds(60), 8, 2);
  NewsRecorder news;
  a.set_news(&news);
  auto cookie = a.create("ann", 1000);
  ASSERT_TRUE(cookie.ok());
  EXPECT_EQ(cookie->size(), 64u);
  EXPECT_EQ(b.cached(), 0u);
  EXPECT_EQ(b.user_of(*cookie, 2000), "ann");  // from the store
  EXPECT_EQ(b.cached(), 1u);
  // The store holds the cookie's hash, never the cookie.
  auto db = (*database)->connect("hub.db");
  ASSERT_TRUE(db.ok());
  auto rows = (*db)->query("SELECT session_sha256, \"user\" FROM operator_sessions");
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ(rows->front().text(0), sha256_hex(*cookie));
  // The instance that made it can die: the session does not depend on it.
  {
    auto store_c = SqlOperatorStore::open((*database)->url());
    ASSERT_TRUE(store_c.ok());
    OperatorSessions c(**store_c, std::chrono::seconds(60), 8, 2);
    EXPECT_EQ(c.user_of(*cookie, 2000), "ann");
  }
  // Logout on A: the row goes, the others are told and drop their copy.
  ASSERT_TRUE(a.remove(*cookie).ok());
  ASSERT_EQ(news.ended.size(), 1u);
  EXPECT_EQ(news.ended[0], sha256_hex(*cookie));
  EXPECT_FALSE(a.user_of(*cookie, 3000));
  b.forget(news.ended[0]);
  EXPECT_FALSE(b.user_of(*cookie, 3000));
  // Sessions live ttl from login.
  auto later = a.create("ann", 10'000);
  ASSERT_TRUE(later.ok());
  EXPECT_EQ(b.user_of(*later, 69'999), "ann");
  EXPECT_FALSE(b.user_of(*later, 70'000));
  // Two per account: a third login of bob ends his first, on every instance.
  auto bob1 = a.create("bob", 20'000);
  auto bob2 = a.create("bob", 20'001);
  auto bob3 = a.create("bob", 20'002);
  ASSERT_TRUE(bob1.ok() && bob2.ok() && bob3.ok());
  EXPECT_FALSE(a.user_of(*bob1, 20'003));
  EXPECT_FALSE(b.user_of(*bob1, 20'003));
  EXPECT_EQ(b.user_of(*bob3, 20'003), "bob");
  // Ending a user's sessions (disabled on A); B checks again after forget_all.
  EXPECT_EQ(b.user_of(*bob2, 20'003), "bob");
  ASSERT_TRUE(a.remove_user("bob").ok());
  EXPECT_FALSE(a.user_of(*bob3, 20'004));
  EXPECT_EQ(news.users, std::vector<std::string>{"bob"});
  EXPECT_EQ(b.user_of(*bob2, 20'004), "bob");  // cached until told
  b.forget_user("bob");
  EXPECT_FALSE(b.user_of(*bob2, 20'004));
  EXPECT_FALSE(b.user_of(*bob3, 20'004));
  b.forget_all();
  EXPECT_EQ(b.cached(), 0u);
  // Garbage cookies are refused without a lookup.
  for (const std::string& bad : {std::string(), std::string("x"), std::string(64, 'g'),
                                 std::string(65, 'a'), std::string(64, 'A'), *bob3 + "0"}) {
    EXPECT_FALSE(b.user_of(bad, 20'004)) << bad;
  }
  // An unknown cookie is looked up once: a row appearing later for it is not
  // read again (a real cookie is stored before anyone has it).
  const std::string unknown(64, 'c');
  EXPECT_FALSE(b.user_of(unknown, 20'005));
  ASSERT_TRUE(
      (*store_a)->put_session({sha256_hex(unknown), "eve", 20'005, 90'000}, 2, 8, 20'005).ok());
  EXPECT_FALSE(b.user_of(unknown, 20'006));
  OperatorSessions fresh(**store_b, std::chrono::seconds(60), 8, 2);
  EXPECT_EQ(fresh.user_of(unknown, 20'006), "eve");
}

TEST_P(OperatorStoreTest, AnotherInstancesAccountChangesArriveOnReload) {
  auto database = SqlTestStore::create(GetParam());
  ASSERT_TRUE(database.ok()) << database.error().message();
  auto store_a = SqlOperatorStore::open((*database)->url());
  auto store_b = SqlOperatorStore::open((*database)->url());
  ASSERT_TRUE(store_a.ok() && store_b.ok());
  Accounts a(**store_a, "root", quick_hash("root-password"));
  Accounts b(**store_b, "root", quick_hash("root-password"));
  ASSERT_TRUE(a.load().ok() && b.load().ok());
  NewsRecorder news;
  a.set_news(&news);
  for (const char* name : {"vera", "otto", "ida"}) {
    ASSERT_TRUE(a.create(name, Role::kViewer, quick_hash("pw-" + std::string(name))).ok());
  }
  auto otto_token = a.create_token("otto", Role::kViewer, "ci");
  auto vera_token = a.create_token("vera", Role::kViewer, "ci");
  ASSERT_TRUE(otto_token.ok() && vera_token.ok());
  EXPECT_EQ(news.accounts, 5);
  EXPECT_EQ(b.find("vera"), nullptr);
  // B has not heard yet: creating the same name there is refused, not an overwrite.
  EXPECT_EQ(b.create("vera", Role::kAdmin, quick_hash("other")).error().code(), ErrorCode::kBusy);
  auto ended = b.reload();
  ASSERT_TRUE(ended.ok());
  EXPECT_TRUE(ended->empty());
  ASSERT_NE(b.find("vera"), nullptr);
  EXPECT_EQ(b.find("vera")->role, Role::kViewer);
  EXPECT_TRUE(b.caller_for_token(otto_token->token).has_value());
  ASSERT_TRUE(a.set_role("vera", Role::kOperator).ok());
  ASSERT_TRUE(a.set_disabled("otto", true).ok());
  ASSERT_TRUE(a.remove("ida").ok());
  ASSERT_TRUE(a.revoke_token(vera_token->record.id).ok());
  ASSERT_TRUE(a.set_password_hash("root", "x").error().code() == ErrorCode::kAccessDenied);
  EXPECT_EQ(news.accounts, 9);
  ended = b.reload();
  ASSERT_TRUE(ended.ok());
  std::map<std::string, std::string> why;
  for (const auto& e : *ended) why[e.name] = e.why;
  EXPECT_EQ(why, (std::map<std::string, std::string>{{"ida", "account deleted"},
                                                     {"otto", "account disabled"},
                                                     {"vera", "account role changed"}}));
  EXPECT_FALSE(b.caller_for_token(otto_token->token).has_value());
  EXPECT_FALSE(b.caller_for_token(vera_token->token).has_value());
  EXPECT_EQ(b.find("ida"), nullptr);
  // Nothing new: nothing ends.
  ended = b.reload();
  ASSERT_TRUE(ended.ok());
  EXPECT_TRUE(ended->empty());
}

TEST(OperatorNotice, RoundTripsAndRefusesWhatIsMalformed) {
  using cluster::OperatorNotice;
  const std::string hash = sha256_hex("x");
  for (const OperatorNotice& n :
       {OperatorNotice{OperatorNotice::Kind::kAccounts, "ab12", {}, {}},
        OperatorNotice{OperatorNotice::Kind::kLogout, "ab12", hash, {}},
        OperatorNotice{OperatorNotice::Kind::kLogoutUser, "ab12", {}, "ann@example.org"}}) {
    const auto bytes = cluster::encode_operator_notice(n);
    auto back = cluster::decode_operator_notice(bytes);
    ASSERT_TRUE(back.ok()) << back.error().message();
    EXPECT_EQ(back->kind, n.kind);
    EXPECT_EQ(back->from, n.from);
    EXPECT_EQ(back->session_sha256, n.session_sha256);
    EXPECT_EQ(back->user, n.user);
    // Every truncation is an error, never a crash.
    for (std::size_t cut = 0; cut < bytes.size(); ++cut) {
      EXPECT_FALSE(cluster::decode_operator_notice({bytes.data(), cut}).ok()) << cut;
    }
  }
  auto encoded = [](protocol::Map map) { return protocol::encode_value(protocol::Value(map)); };
  const std::vector<protocol::Bytes> bad = {
      protocol::Bytes{0xc1},                                // not msgpack
      protocol::encode_value(protocol::Value("accounts")),  // not a map
      encoded({{"from", "ab12"}}),                          // no kind
      encoded({{"k", 7}, {"from", "ab12"}}),                // kind of the wrong type
      encoded({{"k", "reboot"}, {"from", "ab12"}}),         // unknown kind
      encoded({{"k", "accounts"}}),                         // no sender
      encoded({{"k", "accounts"}, {"from", "AB.12"}}),      // not an instance id
      encoded({{"k", "accounts"}, {"from", 12}}),           // sender of the wrong type
      encoded({{"k", "logout"}, {"from", "ab12"}}),         // no session
      encoded({{"k", "logout"}, {"from", "ab12"}, {"s", "abc"}}),
      encoded({{"k", "logout"}, {"from", "ab12"}, {"s", std::string(64, 'G')}}),
      encoded({{"k", "logout"}, {"from", "ab12"}, {"s", protocol::Bytes(64, 'a')}}),
      encoded({{"k", "logout-user"}, {"from", "ab12"}}),  // no account
      encoded({{"k", "logout-user"}, {"from", "ab12"}, {"u", ""}}),
      encoded({{"k", "logout-user"}, {"from", "ab12"}, {"u", "a b"}}),
      encoded({{"k", "logout-user"}, {"from", "ab12"}, {"u", std::string(65, 'a')}}),
      encoded({{"k", "logout-user"}, {"from", "ab12"}, {"u", 5}}),
      encoded({{"k", "accounts"}, {"from", "ab12"}, {"pad", std::string(2000, 'x')}}),
  };
  for (const auto& b : bad) EXPECT_FALSE(cluster::decode_operator_notice(b).ok());
}

// Two instances' buses joined back to back: what one publishes waits until
// deliver() on the other (if it subscribed).
class LoopbackBus final : public cluster::Bus {
 public:
  void add_handler(cluster::BusHandler& handler) override { handlers.push_back(&handler); }
  Status publish(const std::string& subject, const protocol::Bytes& data) override {
    if (down) return Error(ErrorCode::kUnavailable, "down");
    if (peer != nullptr && peer->subjects.count(subject) != 0) {
      peer->pending.emplace_back(subject, data);
    }
    return Status::Ok();
  }
  Status subscribe(const std::string& subject) override {
    subjects.insert(subject);
    return Status::Ok();
  }
  void unsubscribe(const std::string& subject) override { subjects.erase(subject); }
  std::size_t deliver() {
    auto now = std::exchange(pending, {});
    for (const auto& [subject, data] : now) {
      for (cluster::BusHandler* h : handlers) h->bus_message(subject, data);
    }
    return now.size();
  }

  LoopbackBus* peer = nullptr;
  bool down = false;
  std::vector<cluster::BusHandler*> handlers;
  std::set<std::string> subjects;
  std::vector<std::pair<std::string, protocol::Bytes>> pending;
};

// One hub instance's operator side on the shared store, with a device "gw".
struct OperatorInstance {
  OperatorInstance(const sql::StoreUrl& url, const std::string& id) {
    EXPECT_TRUE(store.put_device("gw", sha256_hex("t"), 1).ok());
    auto c = HubCore::create(store, monitoring, config_store, commands, limits, log);
    EXPECT_TRUE(c.ok());
    core = std::move(*c);
    rig = std::make_unique<testing::ApiRig>(store, core->devices(), core->operators(),
                                            core->services(), core->audit(), log, url);
    core->set_audit_sink(&rig->store());
    EXPECT_TRUE(rig->accounts.load().ok());
    core->devices().connected(1, "gw", dev);
    news = std::make_unique<cluster::BusOperators>(bus, id, log);
    news->bind(rig->auth);
  }
  ~OperatorInstance() { core->set_audit_sink(nullptr); }
  HttpResponse login(const std::string& user, const std::string& password) {
    HttpRequest req{
        "POST", "/api/login", std::nullopt, "application/json",
        "{\"username\":" + json::quote(user) + ",\"password\":" + json::quote(password) + "}"};
    req.peer = "10.9.0.1";
    return rig->api.handle(req);
  }
  static std::string cookie_of(const HttpResponse& res) {
    const std::string prefix = std::string(kSessionCookie) + "=";
    if (res.set_cookie.rfind(prefix, 0) != 0) return {};
    return res.set_cookie.substr(prefix.size(), 64);
  }

  Limits limits;
  Logger log{LogLevel::kError, kProgramName};
  MemoryStore store;
  testing::HeldMonitoringStore monitoring;
  testing::HeldConfigStore config_store;
  testing::HeldCommandStore commands;
  std::unique_ptr<HubCore> core;
  std::unique_ptr<testing::ApiRig> rig;
  LoopbackBus bus;
  std::unique_ptr<cluster::BusOperators> news;
  FakeLink dev, op;
};

class TwoInstancesTest : public ::testing::TestWithParam<SqlBackend> {
 protected:
  void SetUp() override {
    auto db = SqlTestStore::create(GetParam());
    ASSERT_TRUE(db.ok()) << db.error().message();
    database = std::move(*db);
    a = std::make_unique<OperatorInstance>(database->url(), "aaaa");
    b = std::make_unique<OperatorInstance>(database->url(), "bbbb");
    a->bus.peer = &b->bus;
    b->bus.peer = &a->bus;
  }
  void deliver() {
    while (a->bus.deliver() + b->bus.deliver() != 0) {
    }
  }

  std::unique_ptr<SqlTestStore> database;  // first: outlives the instances' stores
  std::unique_ptr<OperatorInstance> a, b;
};

TEST_P(TwoInstancesTest, AccountsTokensAndSessionsHoldOnEveryInstance) {
  // Created on A through the API: logs in on B once B has heard.
  const std::string admin_a = a->rig->session_for("admin");
  ASSERT_EQ(a->rig
                ->call("POST", "/api/accounts", admin_a,
                       R"({"name":"otto","role":"operator","password":"otto-password"})")
                .status,
            201u);
  deliver();
  EXPECT_EQ(b->news->refreshes(), 1u);
  auto on_b = b->login("otto", "otto-password");
  ASSERT_EQ(on_b.status, 200u) << on_b.body;
  const std::string otto_b = OperatorInstance::cookie_of(on_b);
  // A cookie from a login on A works on B, and one from B on A.
  const std::string otto_a = OperatorInstance::cookie_of(a->login("otto", "otto-password"));
  EXPECT_EQ(b->rig->call("GET", "/api/session", otto_a).body,
            R"({"user":"otto","role":"operator"})");
  EXPECT_EQ(a->rig->call("GET", "/api/session", otto_b).status, 200u);
  // Tokens made on A work on B; one revoked on A stops working on B.
  auto kept = a->rig->accounts.create_token("otto", Role::kViewer, "kept");
  auto revoked = a->rig->accounts.create_token("otto", Role::kViewer, "revoked");
  ASSERT_TRUE(kept.ok() && revoked.ok());
  deliver();
  EXPECT_EQ(b->rig->call_with_token("GET", "/api/devices", kept->token).status, 200u);
  EXPECT_EQ(b->rig->call_with_token("GET", "/api/devices", revoked->token).status, 200u);
  ASSERT_EQ(a->rig->call("POST", "/api/tokens/" + revoked->record.id + "/revoke", admin_a).status,
            200u);
  deliver();
  EXPECT_EQ(b->rig->call_with_token("GET", "/api/devices", revoked->token).status, 401u);
  EXPECT_EQ(b->rig->call_with_token("GET", "/api/devices", kept->token).status, 200u);
  // Disabled on A: B refuses its cookies and its token and closes its socket there.
  b->core->operators().connected(10, "gw", "otto", b->op, Role::kOperator);
  ASSERT_EQ(a->rig->call("POST", "/api/accounts/otto/disable", admin_a).status, 200u);
  deliver();
  EXPECT_EQ(b->op.closed, close_code::kPolicy);
  EXPECT_EQ(b->rig->call("GET", "/api/devices", otto_a).status, 401u);
  EXPECT_EQ(b->rig->call("GET", "/api/devices", otto_b).status, 401u);
  EXPECT_EQ(b->rig->call_with_token("GET", "/api/devices", kept->token).status, 401u);
  EXPECT_EQ(b->login("otto", "otto-password").status, 403u);
  // Enabled again: a new login is needed (the old sessions are gone from the store).
  ASSERT_EQ(a->rig->call("POST", "/api/accounts/otto/enable", admin_a).status, 200u);
  deliver();
  EXPECT_EQ(b->rig->call("GET", "/api/devices", otto_b).status, 401u);
  EXPECT_EQ(b->login("otto", "otto-password").status, 200u);
  // Disabled and enabled again on A before B hears: a reload alone would see no
  // change, but B is told the sessions ended and refuses the cookie it cached.
  const std::string otto_new = OperatorInstance::cookie_of(b->login("otto", "otto-password"));
  EXPECT_EQ(b->rig->call("GET", "/api/devices", otto_new).status, 200u);
  FakeLink op2;
  b->core->operators().connected(12, "gw", "otto", op2, Role::kOperator);
  ASSERT_EQ(a->rig->call("POST", "/api/accounts/otto/disable", admin_a).status, 200u);
  ASSERT_EQ(a->rig->call("POST", "/api/accounts/otto/enable", admin_a).status, 200u);
  deliver();
  EXPECT_EQ(b->rig->call("GET", "/api/devices", otto_new).status, 401u);
  EXPECT_EQ(op2.closed, close_code::kPolicy);
  // A logout on A ends the session B had cached.
  EXPECT_EQ(b->rig->call("GET", "/api/session", admin_a).status, 200u);
  ASSERT_EQ(a->rig->call("POST", "/api/logout", admin_a).status, 200u);
  deliver();
  EXPECT_EQ(b->rig->call("GET", "/api/session", admin_a).status, 401u);
}

TEST_P(TwoInstancesTest, WhatWasMissedWhileTheBusWasDownArrivesOnReconnection) {
  const std::string admin_a = a->rig->session_for("admin");
  ASSERT_TRUE(a->rig->accounts.create("vera", Role::kViewer, quick_hash("vera-password")).ok());
  deliver();
  const std::string vera = OperatorInstance::cookie_of(a->login("vera", "vera-password"));
  EXPECT_EQ(b->rig->call("GET", "/api/devices", vera).status, 200u);  // cached on B now
  b->core->operators().connected(11, "gw", "vera", b->op, Role::kViewer);
  a->bus.down = true;  // A's news is lost
  ASSERT_TRUE(a->rig->accounts.create("nina", Role::kViewer, quick_hash("nina-password")).ok());
  ASSERT_EQ(a->rig->call("POST", "/api/accounts/vera/delete", admin_a).status, 200u);
  deliver();
  EXPECT_EQ(b->rig->accounts.find("nina"), nullptr);
  EXPECT_EQ(b->op.closed, 0);
  // Reconnected: B reads everything again and drops its session cache.
  a->bus.down = false;
  b->news->bus_connected();
  EXPECT_NE(b->rig->accounts.find("nina"), nullptr);
  EXPECT_EQ(b->op.closed, close_code::kPolicy);
  EXPECT_EQ(b->rig->call("GET", "/api/devices", vera).status, 401u);
  EXPECT_EQ(b->rig->sessions.cached(), 0u);
  // Notices for another subject, or malformed, change nothing.
  const auto before = b->news->refreshes();
  b->news->bus_message("tether.presence", cluster::encode_operator_notice({}));
  b->news->bus_message(cluster::bus_subjects::kOperators, protocol::Bytes{0x01});
  EXPECT_EQ(b->news->refreshes(), before);
}

INSTANTIATE_TEST_SUITE_P(Backends, TwoInstancesTest, tether::test::kBothSqlBackends,
                         tether::test::sql_backend_name);

INSTANTIATE_TEST_SUITE_P(Backends, OperatorsTest, tether::test::kBothSqlBackends,
                         tether::test::sql_backend_name);
INSTANTIATE_TEST_SUITE_P(Backends, OperatorStoreTest, tether::test::kBothSqlBackends,
                         tether::test::sql_backend_name);

}  // namespace
}  // namespace tether::hub
