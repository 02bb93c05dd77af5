// The urgent work InteractiveLinks carries for the loop (hub/server/interactive_links.hpp):
// work another thread posts while the loop is in the middle of a pass over many
// ready sockets runs right after the socket being served, not after the pass;
// an idle loop wakes for it; work left over from a turn gets the next one.
//
// The pass is a real libev loop over pipes, each callback checking the set as the
// hub's lws callback does; no lws context is needed while no link joins the set.
#include <ev.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "hub/server/interactive_links.hpp"

namespace tether::hub {
namespace {

class InteractiveLinksTest : public ::testing::Test {
 protected:
  // One ready "socket" of the pass: a pipe with a byte in it.
  struct Socket {
    ev_io watcher{};
    std::array<int, 2> pipe{-1, -1};
    int id = 0;
    InteractiveLinksTest* test = nullptr;
  };

  void SetUp() override {
    loop_ = ev_loop_new(EVBACKEND_EPOLL);
    ASSERT_NE(loop_, nullptr);
  }
  void TearDown() override {
    links_.stop();
    for (Socket& s : sockets_) {
      if (s.pipe[0] < 0) continue;
      ev_io_stop(loop_, &s.watcher);
      ::close(s.pipe[0]);
      ::close(s.pipe[1]);
    }
    ev_loop_destroy(loop_);
  }

  void start_links() {
    links_.set_urgent_work([this] {
      ran_.emplace_back("urgent");
      return --urgent_turns_left_ > 0;
    });
    ASSERT_TRUE(links_.start(loop_, nullptr).ok());
  }

  // `n` sockets, all readable: the next pass serves every one of them.
  void make_ready_sockets(int n) {
    sockets_.resize(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
      Socket& s = sockets_[static_cast<std::size_t>(i)];
      ASSERT_EQ(::pipe2(s.pipe.data(), O_CLOEXEC | O_NONBLOCK), 0);
      ASSERT_EQ(::write(s.pipe[1], "x", 1), 1);
      s.id = i;
      s.test = this;
      // What ev_io_init does, without its casts.
      s.watcher.data = &s;
      s.watcher.cb = &InteractiveLinksTest::on_socket;
      s.watcher.fd = s.pipe[0];
      s.watcher.events = EV_READ | EV__IOFDSET;
      ev_io_start(loop_, &s.watcher);
    }
  }

  // A socket's service: what lws's callback does first (check the set), then the
  // read. The first socket served is where another thread posts urgent work.
  static void on_socket(struct ev_loop* /*loop*/, ev_io* watcher, int /*revents*/) {
    auto& s = *static_cast<Socket*>(watcher->data);
    InteractiveLinksTest& t = *s.test;
    t.links_.check();
    char byte = 0;
    (void)::read(s.pipe[0], &byte, 1);
    t.ran_.push_back("socket");
    if (t.ran_.size() == 1) {
      std::thread poster([&t] { t.links_.wake_urgent(); });
      poster.join();
      // The next socket's service checks the set no sooner than this.
      std::this_thread::sleep_for(InteractiveLinks::kCheckInterval * 2);
    }
  }

  struct ev_loop* loop_ = nullptr;
  InteractiveLinks links_;
  std::vector<Socket> sockets_;
  std::vector<std::string> ran_;
  int urgent_turns_left_ = 1;
};

TEST_F(InteractiveLinksTest, UrgentWorkPostedDuringAPassRunsBeforeItsOtherSockets) {
  start_links();
  make_ready_sockets(8);
  ev_run(loop_, EVRUN_ONCE);
  ASSERT_EQ(ran_.size(), 9U);
  // The first socket posted it; the second socket's check found it, and libev ran
  // the set's watcher (the loop's highest priority) right after that service.
  EXPECT_EQ(ran_[0], "socket");
  EXPECT_EQ(ran_[1], "socket");
  EXPECT_EQ(ran_[2], "urgent");
}

TEST_F(InteractiveLinksTest, AnIdleLoopWakesForUrgentWork) {
  start_links();
  std::thread poster([this] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    links_.wake_urgent();
  });
  ev_run(loop_, EVRUN_ONCE);  // blocks until the set is ready
  poster.join();
  EXPECT_EQ(ran_, (std::vector<std::string>{"urgent"}));
  // Served: the eventfd was reset, so the loop has nothing to do now.
  ev_run(loop_, EVRUN_NOWAIT);
  EXPECT_EQ(ran_.size(), 1U);
}

TEST_F(InteractiveLinksTest, WorkLeftAfterATurnGetsTheNextTurnNotTheSameOne) {
  urgent_turns_left_ = 3;
  start_links();
  links_.wake_urgent();
  ev_run(loop_, EVRUN_NOWAIT);
  EXPECT_EQ(ran_.size(), 1U);
  ev_run(loop_, EVRUN_NOWAIT);
  ev_run(loop_, EVRUN_NOWAIT);
  EXPECT_EQ(ran_.size(), 3U);
  ev_run(loop_, EVRUN_NOWAIT);
  EXPECT_EQ(ran_.size(), 3U);
}

}  // namespace
}  // namespace tether::hub
