#include "hub/server/interactive_links.hpp"

#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>

namespace tether::hub {

namespace {

// The socket has data, an end of stream or an error waiting.
bool still_readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) > 0;
}

}  // namespace

InteractiveLinks::~InteractiveLinks() {
  if (urgent_fd_ >= 0) ::close(urgent_fd_);
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

void InteractiveLinks::set_urgent_work(std::function<bool()> run) {
  run_urgent_ = std::move(run);
}

void InteractiveLinks::wake_urgent() {
  if (urgent_fd_ < 0) return;
  urgent_waiting_.store(true, std::memory_order_release);
  const std::uint64_t one = 1;
  // Fails only when the counter is full, and then it is readable anyway.
  (void)::write(urgent_fd_, &one, sizeof one);
}

Status InteractiveLinks::start(struct ev_loop* loop, lws_context* context) {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) {
    return Error(std::string("creating the interactive links' epoll set: ") + std::strerror(errno));
  }
  urgent_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  epoll_event interest{};
  interest.events = EPOLLIN;
  interest.data.ptr = &urgent_fd_;
  if (urgent_fd_ < 0 || epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, urgent_fd_, &interest) != 0) {
    return Error(std::string("creating the loop's urgent-work eventfd: ") + std::strerror(errno));
  }
  loop_ = loop;
  context_ = context;
  // What ev_io_init and ev_set_priority do, without their casts.
  watcher_.active = 0;
  watcher_.pending = 0;
  watcher_.priority = EV_MAXPRI;
  watcher_.data = this;
  watcher_.cb = &InteractiveLinks::on_ready;
  watcher_.fd = epoll_fd_;
  watcher_.events = EV_READ | EV__IOFDSET;
  ev_io_start(loop_, &watcher_);
  return Status::Ok();
}

void InteractiveLinks::stop() {
  if (loop_) ev_io_stop(loop_, &watcher_);
  loop_ = nullptr;
}

bool InteractiveLinks::ready() {
  if (serving_ || !loop_) return false;
  if (members_.empty() && !urgent_waiting_.load(std::memory_order_acquire)) return false;
  const auto now = Clock::now();
  if (now < next_check_) return false;
  next_check_ = now + kCheckInterval;
  epoll_event event{};
  return epoll_wait(epoll_fd_, &event, 1, 0) > 0;
}

void InteractiveLinks::check() {
  if (ready()) ev_feed_event(loop_, &watcher_, EV_READ);
}

void InteractiveLinks::poll() {
  if (ready()) serve();
}

void InteractiveLinks::on_ready(struct ev_loop* /*loop*/, ev_io* watcher, int /*revents*/) {
  static_cast<InteractiveLinks*>(watcher->data)->serve();
}

void InteractiveLinks::serve() {
  if (serving_) return;
  serving_ = true;
  const auto began = Clock::now();
  std::array<const Link*, kMaxServedAtOnce> served{};
  bool urgent_ran = false;
  for (std::size_t n = 0; n < served.size(); ++n) {
    // One at a time: serving a link may end another, and a later entry of a
    // longer batch could point at a link already gone.
    epoll_event ready{};
    if (epoll_wait(epoll_fd_, &ready, 1, 0) <= 0) break;
    if (ready.data.ptr == &urgent_fd_) {
      if (urgent_ran) break;
      urgent_ran = true;
      run_urgent();
      continue;
    }
    Link* link = static_cast<Link*>(ready.data.ptr);
    // The set is level-triggered and hands out its ready links in turn: the same
    // one again means every ready link had its turn.
    if (std::find(served.begin(), served.begin() + static_cast<std::ptrdiff_t>(n), link) !=
        served.begin() + static_cast<std::ptrdiff_t>(n)) {
      break;
    }
    served[n] = link;
    current_ = link;
    // Records already inside OpenSSL are served without reading the socket.
    const bool held_before = link->records_->holds_records();
    const std::uint64_t read_before = link->records_->bytes_read();
    lws_pollfd readable{};
    readable.fd = link->fd_;
    readable.events = POLLIN;
    readable.revents = POLLIN;
    lws_service_fd(context_, &readable);
    if (!current_) continue;  // it closed
    if (!held_before && link->records_->bytes_read() == read_before && still_readable(link->fd_)) {
      // lws left the socket as it was (the link is closing, say): watching it
      // would wake the loop for nothing until it goes.
      link->parked_ = true;
      link->sync();
      continue;
    }
    for (int held = 0; held < kMaxHeldRecords && current_ && current_->receiving_ &&
                       current_->records_->holds_records();
         ++held) {
      lws_service_fd(context_, &readable);
    }
  }
  current_ = nullptr;
  serving_ = false;
  // A link that keeps its socket busy (a file transfer at full speed) gets at most
  // a third of the loop while the fleet waits: the next check comes no sooner than
  // twice this service's time.
  const auto now = Clock::now();
  next_check_ = now + std::max<Clock::duration>(kCheckInterval, 2 * (now - began));
}

void InteractiveLinks::run_urgent() {
  std::uint64_t count = 0;
  (void)::read(urgent_fd_, &count, sizeof count);
  // Cleared before the work runs: a post during it wakes the set again.
  urgent_waiting_.store(false, std::memory_order_release);
  if (run_urgent_ && run_urgent_()) wake_urgent();
}

void InteractiveLinks::sweep(Clock::time_point now) {
  std::vector<Link*> ended;
  for (Link* link : members_) {
    if (link->until_ <= now) {
      ended.push_back(link);
    } else if (link->parked_) {
      link->parked_ = false;
      link->sync();
    }
  }
  for (Link* link : ended) leave(*link);
}

void InteractiveLinks::leave(Link& link) {
  if (!link.member_) return;
  link.member_ = false;
  link.sync();
  members_.erase(std::remove(members_.begin(), members_.end(), &link), members_.end());
}

InteractiveLinks::Link::~Link() {
  owner_.leave(*this);
  if (owner_.current_ == this) owner_.current_ = nullptr;
}

void InteractiveLinks::Link::start(lws* wsi, const TlsReadAhead::Link& records) {
  wsi_ = wsi;
  fd_ = lws_get_socket_fd(wsi);
  records_ = &records;
}

void InteractiveLinks::Link::hold(Clock::time_point until) {
  until_ = std::max(until_, until);
  // Only links whose reads TlsReadAhead sees (TLS ones; the hub has no other).
  if (member_ || !records_ || !records_->watching() || owner_.epoll_fd_ < 0) return;
  member_ = true;
  owner_.members_.push_back(this);
  sync();
}

void InteractiveLinks::Link::set_receiving(bool on) {
  if (receiving_ == on) return;
  receiving_ = on;
  sync();
}

void InteractiveLinks::Link::sync() {
  const bool wanted = member_ && receiving_ && !parked_;
  if (wanted == registered_) return;
  if (wanted) {
    epoll_event interest{};
    interest.events = EPOLLIN;
    interest.data.ptr = this;
    registered_ = epoll_ctl(owner_.epoll_fd_, EPOLL_CTL_ADD, fd_, &interest) == 0;
  } else {
    // Fails only if the socket is already closed, which took it out of the set too.
    (void)epoll_ctl(owner_.epoll_fd_, EPOLL_CTL_DEL, fd_, nullptr);
    registered_ = false;
  }
}

}  // namespace tether::hub
