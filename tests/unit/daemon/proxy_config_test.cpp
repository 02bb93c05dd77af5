#include "daemon/transport/proxy_config.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

namespace tether::daemon::transport {
namespace {

TEST(ProxyConfigTest, ParsesHttpUrlsAndHostPort) {
  auto p = parse_proxy_url("http://proxy.lan:8080/");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->host, "proxy.lan");
  EXPECT_EQ(p->port, 8080);
  EXPECT_TRUE(p->credentials.empty());
  p = parse_proxy_url("http://user:pw@10.1.1.1:3128");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->credentials, "user:pw");
  EXPECT_EQ(p->host, "10.1.1.1");
  EXPECT_EQ(parse_proxy_url("proxy:81")->port, 81);
  EXPECT_EQ(parse_proxy_url("http://proxy")->port, 3128);
  EXPECT_EQ(parse_proxy_url("http://[::1]:99")->host, "::1");
}

TEST(ProxyConfigTest, Refusals) {
  for (const char* bad :
       {"socks5://p:1", "https://p:1", "http://", "http://p:0", "http://p:x", "http://p:1/path"})
    EXPECT_FALSE(parse_proxy_url(bad).ok()) << bad;
}

TEST(ProxyConfigTest, NoProxyMatching) {
  EXPECT_TRUE(no_proxy_matches("*", "anything"));
  EXPECT_TRUE(no_proxy_matches("a.example, backend.example.com", "backend.example.com"));
  EXPECT_TRUE(no_proxy_matches(".example.com", "backend.example.com"));
  EXPECT_TRUE(no_proxy_matches("example.com", "backend.example.com"));
  EXPECT_TRUE(no_proxy_matches("example.com:443", "example.com"));
  EXPECT_FALSE(no_proxy_matches("ample.com", "backend.example.com"));
  EXPECT_FALSE(no_proxy_matches("", "backend.example.com"));
  EXPECT_FALSE(no_proxy_matches("other.org", "backend.example.com"));
}

TEST(ProxyConfigTest, OptionBeatsEnvironmentAndNoProxyExempts) {
  ::setenv("https_proxy", "http://env-proxy:1111", 1);
  ::setenv("no_proxy", "internal.example", 1);
  auto chosen = choose_proxy("", "backend.example.com");
  ASSERT_TRUE(chosen.ok());
  ASSERT_TRUE(chosen->has_value());
  EXPECT_EQ((*chosen)->host, "env-proxy");
  chosen = choose_proxy("", "internal.example");
  ASSERT_TRUE(chosen.ok());
  EXPECT_FALSE(chosen->has_value());
  chosen = choose_proxy("http://opt-proxy:2222", "internal.example");
  ASSERT_TRUE(chosen.ok());
  ASSERT_TRUE(chosen->has_value());
  EXPECT_EQ((*chosen)->port, 2222);
  ::unsetenv("https_proxy");
  ::unsetenv("no_proxy");
  chosen = choose_proxy("", "backend.example.com");
  ASSERT_TRUE(chosen.ok());
  EXPECT_FALSE(chosen->has_value());
}

}  // namespace
}  // namespace tether::daemon::transport
