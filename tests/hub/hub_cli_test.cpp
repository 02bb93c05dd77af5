// The operator CLI's argument rules (hub/cli/cli_options.hpp) without a process:
// remote paths, forward specs, hub URLs, tokens from the environment and from a
// file, and every kind of garbage, truncation and oversize input.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "hub/cli/cli_options.hpp"
#include "hub/cli/operator_link.hpp"

namespace tether::hub::cli {
namespace {

const std::string kToken(64, 'a');

EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

EnvLookup good_env() {
  return env_of({{"TETHER_HUB_URL", "https://hub.example:8443"}, {"TETHER_HUB_TOKEN", kToken}});
}

Result<CliInvocation> parse(std::vector<std::string> args, const EnvLookup& env = good_env()) {
  return parse_cli(args, env);
}

TEST(CliRemotePath, SplitsAtTheFirstColonSlash) {
  auto r = parse_remote_path("gw-01:/srv/x");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->device, "gw-01");
  EXPECT_EQ(r->path, "/srv/x");
  // Device ids may hold ':'; the path is what follows the first ":/".
  r = parse_remote_path("site:gw:7:/a:/b");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->device, "site:gw:7");
  EXPECT_EQ(r->path, "/a:/b");
}

TEST(CliRemotePath, LocalPathsStayLocal) {
  EXPECT_FALSE(parse_remote_path("./file"));
  EXPECT_FALSE(parse_remote_path("/abs/file"));
  EXPECT_FALSE(parse_remote_path("./a:/b"));  // "./a" is no device id
  EXPECT_FALSE(parse_remote_path(":/x"));
  EXPECT_FALSE(parse_remote_path("gw:relative"));
  EXPECT_FALSE(parse_remote_path(""));
  EXPECT_FALSE(parse_remote_path(std::string(129, 'd') + ":/x"));  // id over 128
  EXPECT_FALSE(parse_remote_path("g w:/x"));
}

TEST(CliForwardSpec, ParsesPortsAndHosts) {
  auto f = parse_forward_spec("gw", "8080:127.0.0.1:80");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->local_port, 8080);
  EXPECT_EQ(f->remote_host, "127.0.0.1");
  EXPECT_EQ(f->remote_port, 80);
  f = parse_forward_spec("gw", "0:[::1]:443");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->local_port, 0);
  EXPECT_EQ(f->remote_host, "::1");
  EXPECT_EQ(f->remote_port, 443);
  f = parse_forward_spec("gw", "5020:plc.local:502");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->remote_host, "plc.local");
}

TEST(CliForwardSpec, RefusesGarbage) {
  for (const char* spec :
       {"", "8080", "8080:host", ":host:80", "x:host:80", "-1:host:80", "65536:host:80",
        "8080:host:0", "8080:host:65536", "8080:host:", "8080::80", "8080:[]:80", "8080:a b:80",
        "8080:a/b:80", "8080:host:80x", "99999999999999999999:h:1"}) {
    EXPECT_FALSE(parse_forward_spec("gw", spec)) << spec;
  }
  EXPECT_FALSE(parse_forward_spec("gw", "1:" + std::string(254, 'h') + ":80"));
  EXPECT_TRUE(parse_forward_spec("gw", "1:" + std::string(253, 'h') + ":80"));
  EXPECT_FALSE(parse_forward_spec("bad/id", "1:h:80"));
  EXPECT_FALSE(parse_forward_spec("", "1:h:80"));
}

TEST(CliHubUrl, TakesHttpsAndWssOnly) {
  auto u = parse_hub_url("https://hub.example:8443");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "hub.example");
  EXPECT_EQ(u->port, 8443);
  EXPECT_TRUE(u->tls);
  u = parse_hub_url("https://hub.example/");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->port, 443);
  EXPECT_TRUE(parse_hub_url("wss://[::1]:9000"));
  for (const char* bad :
       {"http://hub", "ws://hub", "hub:8443", "", "https://", "https://h:0", "https://h:70000",
        "https://user@h", "https://h/other/path", "https://h:80#frag", "https://h x"}) {
    EXPECT_FALSE(parse_hub_url(bad)) << bad;
  }
}

TEST(CliParse, CopyDirections) {
  auto up = parse({"cp", "./a", "gw:/srv/a"});
  ASSERT_TRUE(up) << up.error().message();
  EXPECT_EQ(up->kind, CliInvocation::Kind::kCopy);
  EXPECT_TRUE(up->copy.upload);
  EXPECT_EQ(up->copy.local, "./a");
  EXPECT_EQ(up->copy.remote.device, "gw");
  EXPECT_EQ(up->hub.token, kToken);
  EXPECT_EQ(up->hub.url.port, 8443);
  auto down = parse({"cp", "gw:/srv/a", "."});
  ASSERT_TRUE(down);
  EXPECT_FALSE(down->copy.upload);
  EXPECT_EQ(down->copy.local, ".");
}

TEST(CliParse, OptionsWinOverTheEnvironment) {
  auto inv = parse({"forward", "--hub=https://other:1", "--ca-file", "/ca.pem", "gw", "0:h:1"});
  ASSERT_TRUE(inv) << inv.error().message();
  EXPECT_EQ(inv->hub.url.host, "other");
  EXPECT_EQ(inv->hub.ca_file, "/ca.pem");
  inv = parse({"forward", "gw", "0:h:1"}, env_of({{"TETHER_HUB_URL", "https://h"},
                                                  {"TETHER_HUB_TOKEN", kToken},
                                                  {"TETHER_HUB_CA_FILE", "/env-ca.pem"}}));
  ASSERT_TRUE(inv);
  EXPECT_EQ(inv->hub.ca_file, "/env-ca.pem");
  // "--" ends the options: a local file may start with '-'.
  inv = parse({"cp", "--", "-odd", "gw:/x"});
  ASSERT_TRUE(inv) << inv.error().message();
  EXPECT_EQ(inv->copy.local, "-odd");
}

TEST(CliParse, RefusesBadArguments) {
  const std::vector<std::vector<std::string>> cases = {
      {},
      {"ls"},
      {"cp"},
      {"cp", "a"},
      {"cp", "a", "b"},
      {"cp", "a", "gw:/b", "c"},
      {"cp", "gw:/a", "gw:/b"},
      {"cp", "--nope", "a", "gw:/b"},
      {"cp", "a", "gw:/b", "--hub"},
      {"cp", "a", "gw:/b", "--hub="},
      {"cp", "a", "gw:/b", "--hub", "http://h"},
      {"cp", "a", "gw:/" + std::string(5000, 'p')},
      {"forward", "gw"},
      {"forward", "gw", "1:h:1", "extra"},
      {"forward", "gw", "nonsense"},
  };
  for (const auto& args : cases) {
    auto inv = parse(args);
    std::string joined;
    for (const auto& a : args) joined += a.substr(0, 40) + " ";
    ASSERT_FALSE(inv) << joined;
    EXPECT_EQ(inv.error().code(), ErrorCode::kInvalidArgument) << joined;
  }
}

TEST(CliParse, NeedsAHubAndAToken) {
  auto inv = parse({"cp", "a", "gw:/b"}, env_of({{"TETHER_HUB_TOKEN", kToken}}));
  ASSERT_FALSE(inv);
  EXPECT_NE(inv.error().message().find("no hub"), std::string::npos);
  inv = parse({"cp", "a", "gw:/b"}, env_of({{"TETHER_HUB_URL", "https://h"}}));
  ASSERT_FALSE(inv);
  EXPECT_NE(inv.error().message().find("no API token"), std::string::npos);
  inv = parse({"cp", "a", "gw:/b"},
              env_of({{"TETHER_HUB_URL", "https://h"}, {"TETHER_HUB_TOKEN", ""}}));
  EXPECT_FALSE(inv);
}

TEST(CliParse, RefusesTokensThatCouldBendAHeader) {
  for (const std::string& token :
       {std::string("abc\r\nX-Injected: 1"), std::string("a b"), std::string("tok\x01"),
        std::string(257, 'a'), std::string("t\xc3\xa9")}) {
    auto inv = parse({"cp", "a", "gw:/b"},
                     env_of({{"TETHER_HUB_URL", "https://h"}, {"TETHER_HUB_TOKEN", token}}));
    EXPECT_FALSE(inv) << token.substr(0, 20);
  }
  // Surrounding whitespace and a trailing newline are trimmed.
  auto inv = parse({"cp", "a", "gw:/b"},
                   env_of({{"TETHER_HUB_URL", "https://h"}, {"TETHER_HUB_TOKEN", kToken + "\n"}}));
  ASSERT_TRUE(inv);
  EXPECT_EQ(inv->hub.token, kToken);
}

TEST(CliParse, ReadsTheTokenFile) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("tether-cli-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto good = (dir / "good").string();
  const auto empty = (dir / "empty").string();
  const auto huge = (dir / "huge").string();
  std::ofstream(good) << kToken << "\n";
  std::ofstream(empty) << "\n";
  std::ofstream(huge) << std::string(100000, 'a');
  const auto env = env_of({{"TETHER_HUB_URL", "https://h"}});
  auto inv = parse({"cp", "--token-file", good, "a", "gw:/b"}, env);
  ASSERT_TRUE(inv) << inv.error().message();
  EXPECT_EQ(inv->hub.token, kToken);
  EXPECT_FALSE(parse({"cp", "--token-file", empty, "a", "gw:/b"}, env));
  EXPECT_FALSE(parse({"cp", "--token-file", huge, "a", "gw:/b"}, env));
  EXPECT_FALSE(parse({"cp", "--token-file", (dir / "missing").string(), "a", "gw:/b"}, env));
  std::filesystem::remove_all(dir);
}

TEST(CliParse, HelpNeedsNothingElse) {
  auto inv = parse({"forward", "--help"}, env_of({}));
  ASSERT_TRUE(inv);
  EXPECT_EQ(inv->kind, CliInvocation::Kind::kHelp);
  EXPECT_NE(inv->help_text.find("tether-hub forward"), std::string::npos);
  EXPECT_TRUE(is_cli_command("cp"));
  EXPECT_TRUE(is_cli_command("forward"));
  EXPECT_FALSE(is_cli_command("--config"));
}

TEST(CliLink, NamesRefusalsAndPaths) {
  EXPECT_EQ(operator_path("gw-1"), "/api/management/v1/deviceconnect/devices/gw-1/connect");
  EXPECT_NE(describe_refusal(401).find("token"), std::string::npos);
  EXPECT_NE(describe_refusal(404).find("no such device"), std::string::npos);
  EXPECT_NE(describe_refusal(409).find("not connected"), std::string::npos);
  EXPECT_NE(describe_refusal(429).find("too many operators"), std::string::npos);
  EXPECT_NE(describe_refusal(500).find("HTTP 500"), std::string::npos);
}

}  // namespace
}  // namespace tether::hub::cli
