// The links an operator is working through are read before the fleet's bulk.
//
// The hub's loop serves sockets in passes: one epoll_wait, then every socket it
// reported, each once. At 10 000 devices sending 50 000 records/s a pass that
// follows a hiccup (the loop lost its CPU for a while, a burst of records came in
// at once) reads thousands of sockets and lasts tens of milliseconds; a keystroke
// that arrived meanwhile waited for the end of that pass and then for its turn in
// the next, twice per echo (operator to hub, device to hub).
//
// InteractiveLinks keeps a second, small epoll set: every operator link, and each
// device link the hub sent a session message (shell, file transfer, port forward)
// in the last kHold. The set's descriptor is itself watched by the loop, with
// libev's highest priority, so when it is ready at the start of a pass its links are
// served first. During a pass the lws callback asks check() at each step; at most
// every kCheckInterval it polls the set without waiting, and if one of its links is
// readable, libev runs the high-priority watcher as soon as the current socket's
// service returns (ev_feed_event goes back to the highest pending priority);
// between TlsReadAhead's services after the pass, poll() serves it directly. The
// keystroke then waits for one socket's service, not for a whole pass.
//
// A served link is read as lws reads any socket (lws_service_fd, as if it were
// readable), once per readiness, plus the records OpenSSL already holds for it
// (TlsReadAhead), so a message that shares a read with others is not left behind.
// The same set carries the urgent work other threads hand the loop (an eventfd:
// a session's messages from another hub instance), so those too are taken between
// two sockets' services rather than after the pass.
// The set is bounded by the operator sessions and the hold, and its service: a
// turn serves each ready link once, at most kMaxServedAtOnce of them, and during a
// pass the next check waits at least twice as long as the last turn took, so a
// link that is always readable (a file transfer at full speed) takes about a third
// of the loop from the fleet, not all of it. A link is in the
// epoll set only while it can be read: a paused link (flow control) leaves it
// until it resumes, and a link whose socket lws left readable when served (it is
// closing, say) is parked until the next sweep, so that its socket's readiness cannot make the
// loop spin.
#pragma once

#include <ev.h>
#include <libwebsockets.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <vector>

#include "hub/server/tls_read_ahead.hpp"
#include "protocol/result.hpp"

namespace tether::hub {

class InteractiveLinks {
 public:
  using Clock = std::chrono::steady_clock;
  // How long a device link stays interactive after the hub sent it a session message.
  static constexpr std::chrono::seconds kHold{10};
  // How often, at most, check() polls the set during a pass.
  static constexpr std::chrono::microseconds kCheckInterval{200};

  InteractiveLinks() = default;
  ~InteractiveLinks();
  InteractiveLinks(const InteractiveLinks&) = delete;
  InteractiveLinks& operator=(const InteractiveLinks&) = delete;

  // One WebSocket link's membership. Lives as long as the link (a member of it)
  // and is destroyed from within the link's own lws callback.
  class Link {
   public:
    explicit Link(InteractiveLinks& owner) : owner_(owner) {}
    ~Link();
    Link(const Link&) = delete;
    Link& operator=(const Link&) = delete;

    // At LWS_CALLBACK_ESTABLISHED: the link can join the set from now on.
    // `records` is its read-ahead state, consulted after each service.
    void start(lws* wsi, const TlsReadAhead::Link& records);
    // Joins the set until `until` (later calls extend it); Clock::time_point::max()
    // for good (an operator's own link).
    void hold(Clock::time_point until);
    // Follows the link's flow control: a paused link is not served.
    void set_receiving(bool on);

   private:
    friend class InteractiveLinks;
    // Puts the socket in the epoll set or takes it out, as member_, receiving_
    // and parked_ say.
    void sync();

    InteractiveLinks& owner_;
    lws* wsi_ = nullptr;
    int fd_ = -1;
    const TlsReadAhead::Link* records_ = nullptr;
    Clock::time_point until_{};
    bool member_ = false;  // held: in members_
    bool receiving_ = true;
    bool parked_ = false;      // lws left it readable when served
    bool registered_ = false;  // its socket is in the epoll set
  };

  // Work other threads hand the loop that an operator waits for (LoopInbox's
  // urgent tasks: a session's messages from another hub instance). `run` is
  // called on the loop thread once in the set's next turn, alongside its ready
  // links, with nothing of lws on the stack, and says whether some is left (which
  // then waits for the turn after). Set before start().
  void set_urgent_work(std::function<bool()> run);
  // Any thread, after start(): urgent work is waiting. The set becomes ready (an
  // eventfd in it), so the work runs between two sockets' services of a pass.
  void wake_urgent();

  // Creates the set and its high-priority watcher on `loop`, whose sockets lws
  // serves for `context`.
  Status start(struct ev_loop* loop, lws_context* context);
  // Before the loop is destroyed.
  void stop();
  // From the lws callback, at every step of a pass: when due and some link of the
  // set is readable, has it served right after the current socket's service.
  void check();
  // The same between steps outside libev's pass (TlsReadAhead's services after
  // it), where nothing of lws is on the stack: serves a ready link at once.
  void poll();
  // From the periodic sweep: device links whose hold ran out leave the set, parked
  // links are watched again.
  void sweep(Clock::time_point now);

 private:
  // At most this many links served per readiness of the set, each once; the rest
  // wait for the next check (the set's epoll is level-triggered).
  static constexpr std::size_t kMaxServedAtOnce = 16;
  // Records OpenSSL holds that are served with the read that brought them.
  static constexpr int kMaxHeldRecords = 4;
  static void on_ready(struct ev_loop* loop, ev_io* watcher, int revents);
  // Due for a check, and some link of the set is readable.
  bool ready();
  void serve();
  // Resets the eventfd and runs the urgent work; wakes again if some is left.
  void run_urgent();
  void leave(Link& link);

  struct ev_loop* loop_ = nullptr;
  lws_context* context_ = nullptr;
  int epoll_fd_ = -1;
  // Readable while urgent work waits; in the epoll set with data.ptr == &urgent_fd_.
  int urgent_fd_ = -1;
  // Set by wake_urgent() before it writes the eventfd: lets ready() skip the
  // epoll_wait while no link is a member and nothing was posted.
  std::atomic<bool> urgent_waiting_{false};
  std::function<bool()> run_urgent_;
  ev_io watcher_{};
  std::vector<Link*> members_;
  Clock::time_point next_check_{};
  bool serving_ = false;
  // The link being served; nulled if it goes during its service.
  Link* current_ = nullptr;
};

}  // namespace tether::hub
