#include "daemon/transport/server_url.hpp"

#include <gtest/gtest.h>

namespace tether::daemon::transport {
namespace {

TEST(ServerUrlTest, WssDefaultsToPort443AndTheMenderPath) {
  auto url = parse_server_url("wss://backend.example.com");
  ASSERT_TRUE(url.ok());
  EXPECT_TRUE(url->tls);
  EXPECT_EQ(url->host, "backend.example.com");
  EXPECT_EQ(url->port, 443);
  EXPECT_EQ(url->path, "/api/devices/v1/deviceconnect/connect");
  EXPECT_EQ(parse_server_url("wss://b.example/")->path, "/api/devices/v1/deviceconnect/connect");
}

TEST(ServerUrlTest, WsOnlyWhenWrittenSoWithPort80) {
  auto url = parse_server_url("ws://localhost");
  ASSERT_TRUE(url.ok());
  EXPECT_FALSE(url->tls);
  EXPECT_EQ(url->port, 80);
}

TEST(ServerUrlTest, PortPathAndQuery) {
  auto url = parse_server_url("wss://h.example:8443/ws/connect?device=1");
  ASSERT_TRUE(url.ok());
  EXPECT_EQ(url->port, 8443);
  EXPECT_EQ(url->path, "/ws/connect?device=1");
  EXPECT_EQ(url->authority(), "h.example:8443");
  EXPECT_EQ(parse_server_url("wss://h.example?x=1")->path, "/?x=1");
}

TEST(ServerUrlTest, Ipv6Literal) {
  auto url = parse_server_url("wss://[::1]:9000/p");
  ASSERT_TRUE(url.ok());
  EXPECT_EQ(url->host, "::1");
  EXPECT_TRUE(url->host_is_ipv6_literal);
  EXPECT_EQ(url->port, 9000);
  EXPECT_EQ(url->authority(), "[::1]:9000");
  EXPECT_EQ(parse_server_url("wss://[fe80::1]")->port, 443);
}

TEST(ServerUrlTest, Refusals) {
  for (const char* bad :
       {"https://h.example", "h.example", "wss://", "wss://:443", "wss://h.example:0",
        "wss://h.example:65536", "wss://h.example:abc", "wss://h.example:", "wss://user@h.example",
        "wss://[::1", "wss://[zz::1]", "wss://[::1]x", "wss://h.example/#frag", "wss://h ex",
        "WSS://h.example", "wss://h.example/\n"}) {
    EXPECT_FALSE(parse_server_url(bad).ok()) << bad;
  }
}

TEST(ServerUrlTest, PortParsing) {
  EXPECT_EQ(parse_port("1"), std::uint16_t{1});
  EXPECT_EQ(parse_port("65535"), std::uint16_t{65535});
  for (const char* bad : {"", "0", "65536", "-1", "+1", "80a", " 80", "4294967297", "8 0"}) {
    EXPECT_FALSE(parse_port(bad).has_value()) << bad;
  }
}

TEST(ServerUrlTest, ABadUrlIsAnInvalidArgument) {
  for (const char* bad : {"https://x", "wss://", "wss://[::1", "wss://h:99999", "wss://u@h"}) {
    auto url = parse_server_url(bad);
    ASSERT_FALSE(url.ok()) << bad;
    EXPECT_EQ(url.error().code(), ErrorCode::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace tether::daemon::transport
