// The hub's keepalive sweep (hub/server/keepalive.hpp) with a test clock: a link
// that stops answering is pinged once and hung up within the configured time,
// a link that answers (or talks) is kept, and a sweep looks at the silent links
// only.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <vector>

#include "hub/server/keepalive.hpp"

namespace tether::hub {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

struct FakePeer final : Keepalive::Peer {
  int pings = 0;
  int hang_ups = 0;
  void send_ping() override { ++pings; }
  void hang_up() override { ++hang_ups; }
};

class KeepaliveTest : public ::testing::Test {
 protected:
  // hub.ping-interval = 5 s: ping after 5 s of silence, hang up after 10 s.
  Keepalive keepalive_{seconds(5), seconds(10)};
  Keepalive::Clock::time_point t0_ = Keepalive::Clock::now();
  Keepalive::Clock::time_point at(milliseconds ms) const { return t0_ + ms; }
};

TEST_F(KeepaliveTest, ADeadLinkIsPingedOnceThenHungUpWithinTheConfiguredTime) {
  FakePeer dead;
  keepalive_.add(dead, t0_);
  // A sweep a second, as the server runs it.
  for (int s = 1; s <= 4; ++s) keepalive_.sweep(at(seconds(s)));
  EXPECT_EQ(dead.pings, 0) << "pinged before ping-interval";
  for (int s = 5; s <= 9; ++s) keepalive_.sweep(at(seconds(s)));
  EXPECT_EQ(dead.pings, 1) << "one ping per silence, not one per sweep";
  EXPECT_EQ(dead.hang_ups, 0) << "hung up before twice ping-interval";
  keepalive_.sweep(at(seconds(10)));
  EXPECT_EQ(dead.hang_ups, 1);
  // Until lws reports the close, further sweeps do not hang it up again.
  keepalive_.sweep(at(seconds(11)));
  EXPECT_EQ(dead.hang_ups, 1);
}

TEST_F(KeepaliveTest, ALinkThatAnswersPingsIsKept) {
  FakePeer live;
  const auto handle = keepalive_.add(live, t0_);
  int answered = 0;
  for (int s = 1; s <= 60; ++s) {
    keepalive_.sweep(at(seconds(s)));
    // Each ping's pong arrives 100 ms after the sweep that sent it.
    if (live.pings > answered) {
      answered = live.pings;
      keepalive_.heard(handle, at(milliseconds(s * 1000 + 100)));
    }
  }
  EXPECT_GE(live.pings, 10);
  EXPECT_EQ(live.hang_ups, 0);
}

TEST_F(KeepaliveTest, ALinkThatTalksIsNeverPinged) {
  FakePeer talker;
  const auto handle = keepalive_.add(talker, t0_);
  for (int s = 1; s <= 60; ++s) {
    keepalive_.heard(handle, at(milliseconds(s * 1000 - 500)));
    keepalive_.sweep(at(seconds(s)));
  }
  EXPECT_EQ(talker.pings, 0);
  EXPECT_EQ(talker.hang_ups, 0);
}

TEST_F(KeepaliveTest, OneDeadLinkAmongLiveOnesIsTheOnlyOneHungUp) {
  std::vector<std::unique_ptr<FakePeer>> peers;
  std::vector<Keepalive::Handle> handles;
  for (int i = 0; i < 100; ++i) {
    peers.push_back(std::make_unique<FakePeer>());
    handles.push_back(keepalive_.add(*peers.back(), t0_));
  }
  const std::size_t dead = 42;
  for (int s = 1; s <= 30; ++s) {
    keepalive_.sweep(at(seconds(s)));
    for (std::size_t i = 0; i < 100; ++i) {
      if (i != dead && peers[i]->pings > 0) keepalive_.heard(handles[i], at(seconds(s)));
    }
  }
  for (std::size_t i = 0; i < 100; ++i) {
    EXPECT_EQ(peers[i]->hang_ups, i == dead ? 1 : 0) << "peer " << i;
  }
}

// Heard just after one sweep, the link is 1 ms short of ping-interval at the
// next; a late sweep after that finds it past twice ping-interval. It must still
// get its ping and the full wait for the pong before it is hung up.
TEST_F(KeepaliveTest, ALinkIsNeverHungUpWithoutAPingAndTimeToAnswerIt) {
  FakePeer peer;
  const auto handle = keepalive_.add(peer, t0_);
  keepalive_.heard(handle, at(milliseconds(1)));
  keepalive_.sweep(at(milliseconds(5000)));  // silent 4.999 s: nothing yet
  EXPECT_EQ(peer.pings, 0);
  keepalive_.sweep(at(milliseconds(10002)));  // silent 10.001 s, never pinged
  EXPECT_EQ(peer.pings, 1);
  EXPECT_EQ(peer.hang_ups, 0);
  keepalive_.heard(handle, at(milliseconds(10050)));  // the pong
  keepalive_.sweep(at(milliseconds(15003)));
  EXPECT_EQ(peer.hang_ups, 0);
  EXPECT_EQ(peer.pings, 1);  // silent 4.953 s: not yet
}

TEST_F(KeepaliveTest, RemovedLinksAreForgotten) {
  FakePeer a, b;
  const auto ha = keepalive_.add(a, t0_);
  keepalive_.add(b, t0_);
  keepalive_.remove(ha);
  EXPECT_EQ(keepalive_.size(), 1U);
  keepalive_.sweep(at(seconds(6)));
  keepalive_.sweep(at(seconds(11)));
  EXPECT_EQ(a.pings + a.hang_ups, 0);
  EXPECT_EQ(b.pings, 1);
  EXPECT_EQ(b.hang_ups, 1);
}

// The sweep stops at the first link heard within ping-interval: with everyone
// talking, a sweep touches one link, whatever the fleet's size.
TEST_F(KeepaliveTest, ASweepWalksOnlyTheSilentLinks) {
  struct CountingPeer final : Keepalive::Peer {
    int* touched;
    explicit CountingPeer(int* t) : touched(t) {}
    void send_ping() override { ++*touched; }
    void hang_up() override { ++*touched; }
  };
  int touched = 0;
  std::vector<std::unique_ptr<CountingPeer>> peers;
  std::vector<Keepalive::Handle> handles;
  for (int i = 0; i < 10000; ++i) {
    peers.push_back(std::make_unique<CountingPeer>(&touched));
    handles.push_back(keepalive_.add(*peers.back(), t0_));
  }
  // Three went silent at t0; the rest spoke at 4 s.
  for (std::size_t i = 3; i < handles.size(); ++i) keepalive_.heard(handles[i], at(seconds(4)));
  keepalive_.sweep(at(seconds(6)));
  EXPECT_EQ(touched, 3);
}

}  // namespace
}  // namespace tether::hub
