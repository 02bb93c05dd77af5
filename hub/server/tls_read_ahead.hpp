// One read() per TLS record on the hub's WebSocket links instead of two.
//
// Without read-ahead OpenSSL reads each record with two system calls, its 5-byte
// header and then its body; at 10 000 devices sending 50 000 records/s that was
// the largest single cost of the hub's loop (docs/performance.md). With read-ahead
// one read takes whatever the socket holds, which may be several records, and
// OpenSSL hands them out one SSL_read at a time. libwebsockets 4.1 makes one
// SSL_read per readable event and looks for records left inside OpenSSL only when
// that read filled its whole buffer, so the records after the first would wait,
// invisible to epoll, until the peer sent something more: a keystroke could sit
// there until the next keepalive.
//
// TlsReadAhead closes that gap. It watches each link's socket BIO: a read that
// returned data marks the link; after each loop pass, every marked link whose
// OpenSSL still holds data is served once more, as if its socket were readable
// (lws_service_fd). One record per link per pass, like lws's own reads, so a peer
// that sends a burst cannot hold the loop; the pass after comes at once (the caller
// does not block while links are due). A link whose buffer holds only part of a
// record (its last read would block) waits for its socket like any other, and a
// link whose receiving is paused (flow control) is served when it resumes.
#pragma once

#include <libwebsockets.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

namespace tether::hub {

class TlsReadAhead {
 public:
  // The read-ahead state of one WebSocket link. Lives as long as the link and is
  // destroyed from within the link's own lws callback (its SSL still exists then).
  class Link {
   public:
    explicit Link(TlsReadAhead& owner) : owner_(owner) {}
    ~Link();
    Link(const Link&) = delete;
    Link& operator=(const Link&) = delete;

    // At LWS_CALLBACK_ESTABLISHED: turns read-ahead on for the link's SSL and
    // starts watching its socket BIO. A link without TLS is left as it is.
    void start(lws* wsi);
    // Follows the link's flow control: a paused link is not served; a resumed one
    // is served at the end of the pass if OpenSSL holds data for it.
    void set_receiving(bool on);
    // The link's reads are watched (it has TLS and start() ran).
    bool watching() const { return ssl_ != nullptr; }
    // Bytes read from the socket so far: a service that left it unchanged took
    // nothing from the socket.
    std::uint64_t bytes_read() const { return bytes_read_; }
    // OpenSSL holds a whole record or more for the link, and it is receiving.
    bool holds_records() const { return due(); }

   private:
    friend class TlsReadAhead;
    // The socket BIO's callback: notes each read's outcome.
    static long on_bio(BIO* bio, int oper, const char* argp, std::size_t len, int argi, long argl,
                       int ret, std::size_t* processed);
    // Served at the end of the pass: receiving, its last read did not block, and
    // OpenSSL holds data for it.
    bool due() const;

    TlsReadAhead& owner_;
    lws* wsi_ = nullptr;
    SSL* ssl_ = nullptr;
    bool receiving_ = true;
    // The last read from the socket would have blocked: what OpenSSL holds is
    // part of a record, and the socket says when the rest arrives.
    bool starved_ = false;
    bool queued_ = false;
    // Forced services left before the next read from the socket. A read of n bytes
    // holds at most n / kMinRecord records, so a link that lws does not drain (it
    // should) cannot make the loop spin.
    std::size_t budget_ = 0;
    std::uint64_t bytes_read_ = 0;
  };

  // After each loop pass: serves every link that is due, once, and calls
  // `between` after each (the hub serves its operators' links there). Returns true
  // when some are due again, in which case the next pass must not wait for events.
  bool service(const std::function<void()>& between);

 private:
  // The smallest TLS record: 5 bytes of header, one of content type, 16 of tag.
  static constexpr std::size_t kMinRecord = 22;
  // OpenSSL's read buffer (~17 KiB) holds at most this many of them.
  static constexpr std::size_t kMaxBudget = 1024;
  void queue(Link& link);
  void forget(const Link& link);

  std::vector<Link*> due_;
  std::vector<Link*> serving_;  // the round in progress; nulled when a link goes
};

}  // namespace tether::hub
