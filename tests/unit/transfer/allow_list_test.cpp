// portforward.allow: parsing and matching of names, addresses, CIDR blocks, ports.
#include "plugins/portforward/allow_list.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstring>

namespace tether::plugins::portforward {
namespace {

sockaddr_storage address(const char* text) {
  sockaddr_storage s{};
  auto* in = reinterpret_cast<sockaddr_in*>(&s);
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&s);
  if (::inet_pton(AF_INET, text, &in->sin_addr) == 1) {
    in->sin_family = AF_INET;
  } else if (::inet_pton(AF_INET6, text, &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
  }
  return s;
}

TEST(AllowList, DefaultAllowsLoopbackOnly) {
  auto list = AllowList::parse("127.0.0.1:*, [::1]:*, localhost:*");
  ASSERT_TRUE(list.ok()) << list.error().message();
  EXPECT_EQ(list->size(), 3u);
  EXPECT_TRUE(list->allows_address(address("127.0.0.1"), 80));
  EXPECT_TRUE(list->allows_address(address("::1"), 22));
  EXPECT_FALSE(list->allows_address(address("127.0.0.2"), 80));
  EXPECT_FALSE(list->allows_address(address("10.0.0.1"), 80));
  EXPECT_TRUE(list->allows_name("LocalHost", 8080));
  EXPECT_FALSE(list->allows_name("example.com", 80));
}

TEST(AllowList, CidrPortsAndRanges) {
  auto list = AllowList::parse("10.0.0.0/8:80,192.168.1.0/24:8000-8100, [fd00::]/8:443,gw.lan:22");
  ASSERT_TRUE(list.ok()) << list.error().message();
  EXPECT_TRUE(list->allows_address(address("10.200.3.4"), 80));
  EXPECT_FALSE(list->allows_address(address("10.200.3.4"), 81));
  EXPECT_FALSE(list->allows_address(address("11.0.0.1"), 80));
  EXPECT_TRUE(list->allows_address(address("192.168.1.77"), 8050));
  EXPECT_FALSE(list->allows_address(address("192.168.2.77"), 8050));
  EXPECT_FALSE(list->allows_address(address("192.168.1.77"), 8101));
  EXPECT_TRUE(list->allows_address(address("fd12::1"), 443));
  EXPECT_FALSE(list->allows_address(address("fe80::1"), 443));
  EXPECT_TRUE(list->allows_name("gw.lan", 22));
  EXPECT_FALSE(list->allows_name("gw.lan", 23));
  // A name pattern never matches an address, and vice versa.
  EXPECT_FALSE(list->allows_name("10.0.0.1", 80));
}

TEST(AllowList, AnyRestoresDialAnything) {
  auto list = AllowList::parse("*:*");
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(list->allows_address(address("8.8.8.8"), 53));
  EXPECT_TRUE(list->allows_address(address("2001:db8::1"), 1));
  auto empty = AllowList::parse("");
  ASSERT_TRUE(empty.ok());
  EXPECT_FALSE(empty->allows_address(address("127.0.0.1"), 80));
}

TEST(AllowList, BadPatternsAreNamed) {
  for (const char* bad : {"localhost", "host:abc", "host:70000", "10.0.0.0/33:80", "[zz]:1",
                          "*/8:80", "ho st:80", "h:90-80", "name/8:1"}) {
    auto list = AllowList::parse(std::string("127.0.0.1:*,") + bad);
    ASSERT_FALSE(list.ok()) << bad;
    EXPECT_NE(list.error().message().find(bad), std::string::npos) << list.error().message();
  }
}

}  // namespace
}  // namespace tether::plugins::portforward
