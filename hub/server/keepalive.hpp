// WebSocket keepalive for every link of the hub with ONE timer, instead of one
// timer per connection.
//
// Why: libwebsockets 4.1 keeps all its timers in one sorted list, and its
// retry/idle policy re-arms a per-connection validity timer on every frame
// received; each re-arm walks that list, so with thousands of links every
// message costs O(links) and the hub stalls (perf: lws_dll2_add_sorted at 56 %
// of the CPU at ~4 000 devices, docs/performance.md "Fleet size"). Here each link
// sits in a list ordered by when it was last heard from: hearing from it moves
// it to the back in O(1), and one periodic sweep walks only the front, the links
// silent for at least `ping_after`: each gets one ping, and a link that has not
// answered it (nor sent anything) hang_up_after - ping_after later is hung up.
// A link is never hung up without a ping and that full wait for its pong, however
// the sweeps fall against its silence.
//
// Pure bookkeeping (no lws, no clock of its own): the server calls heard() from
// its receive callbacks and sweep() from its one timer; tests drive it with
// their own time.
#pragma once

#include <chrono>
#include <cstddef>
#include <list>
#include <vector>

namespace tether::hub {

class Keepalive {
 public:
  using Clock = std::chrono::steady_clock;

  // What the sweep does to a link. Both may be called from sweep() only; neither
  // may remove the link from the Keepalive (the server removes it when lws
  // reports the close).
  class Peer {
   public:
    // Queue one WebSocket ping.
    virtual void send_ping() = 0;
    // Close the link without a closing handshake: a silent peer would not
    // answer it either.
    virtual void hang_up() = 0;

   protected:
    ~Peer() = default;
  };

 private:
  struct Entry {
    Peer* peer;
    Clock::time_point heard;
    Clock::time_point pinged_at{};
    bool pinged = false;
    bool hung_up = false;
  };

 public:
  // Where a link sits in the list; stays valid until remove().
  using Handle = std::list<Entry>::iterator;

  // hang_up_after must exceed ping_after (a ping must have time for its pong).
  Keepalive(std::chrono::milliseconds ping_after, std::chrono::milliseconds hang_up_after)
      : ping_after_(ping_after), hang_up_after_(hang_up_after) {}

  // A new link, heard from `now` (its upgrade).
  Handle add(Peer& peer, Clock::time_point now);
  // The link is gone.
  void remove(Handle handle);
  // Anything arrived on the link (a message, a fragment, a pong): O(1).
  void heard(Handle handle, Clock::time_point now);

  // Pings every link silent for ping_after that has not been pinged since it
  // was last heard, and hangs up every link pinged hang_up_after - ping_after ago
  // or longer without a word since. Walks only the silent links (plus one).
  void sweep(Clock::time_point now);

  std::size_t size() const { return order_.size(); }

 private:
  std::chrono::milliseconds ping_after_;
  std::chrono::milliseconds hang_up_after_;
  std::list<Entry> order_;         // least recently heard first
  std::vector<Peer*> to_hang_up_;  // scratch of sweep()
};

}  // namespace tether::hub
