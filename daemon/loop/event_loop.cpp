#include "daemon/loop/event_loop.hpp"

#include <fcntl.h>
#include <libwebsockets.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>

#include "daemon/loop/worker_pool.hpp"

namespace tether::daemon {
namespace {

constexpr const char* kLoopProtocolName = "tether-loop";
constexpr unsigned kLwsFdLimit = 32;

int loop_callback(lws* wsi, lws_callback_reasons reason, void* user, void* in, size_t len);

const lws_protocols kLoopProtocols[] = {
    {kLoopProtocolName, loop_callback, 0, 0, 0, nullptr, 0},
    {nullptr, nullptr, 0, 0, 0, nullptr, 0},
};

}  // namespace

class EventLoop::Impl {
 public:
  explicit Impl(std::size_t workers) : pool(workers) {}

  lws_context* context = nullptr;
  lws_vhost* vhost = nullptr;
  std::atomic<bool> stopping{false};
  // The loop is gone (or going): work finished on a worker is not handed back.
  std::atomic<bool> closed{false};

  std::mutex posted_mu;
  std::deque<std::function<void()>> posted;
  WorkerPool pool;

  // Every FdWatch lives in this epoll set, and lws polls only the set's own fd (see
  // FdWatch in event_loop.hpp for why). Watches are found by id, not by pointer, so
  // that an event for a watch destroyed earlier in the same batch is skipped.
  int epoll_fd = -1;
  std::uint64_t next_watch_id = 1;
  std::unordered_map<std::uint64_t, FdWatch::State*> watches;

  void dispatch_ready();

  void post(std::function<void()> fn) {
    {
      std::lock_guard lock(posted_mu);
      posted.push_back(std::move(fn));
    }
    if (context != nullptr) lws_cancel_service(context);
  }

  void run_posted() {
    std::deque<std::function<void()>> batch;
    {
      std::lock_guard lock(posted_mu);
      batch.swap(posted);
    }
    for (auto& fn : batch) {
      if (fn) fn();
    }
  }
};

// Timer: the lws sul must be reachable from the C callback, which only gets the
// sul's address; a standard-layout holder makes that address convertible back.
struct TimerSul {
  lws_sorted_usec_list_t sul;
  Timer::State* owner;
};

struct Timer::State {
  EventLoop::Impl* loop = nullptr;
  TimerSul holder{};
  std::function<void()> fn;
  bool pending = false;
};

struct FdWatch::State {
  EventLoop::Impl* loop = nullptr;
  int fd = -1;  // our dup of the caller's fd: the registration lives as long as it
  std::uint64_t id = 0;
  Callbacks callbacks;
  bool readable_wanted = true;
  bool writable_wanted = false;
  bool active = false;  // registered in the epoll set

  void update_interest() const {
    if (!active) return;
    epoll_event event{};
    event.events = (readable_wanted ? EPOLLIN : 0U) | (writable_wanted ? EPOLLOUT : 0U);
    event.data.u64 = id;
    ::epoll_ctl(loop->epoll_fd, EPOLL_CTL_MOD, fd, &event);
  }

  void stop() {
    if (!active) return;
    active = false;
    ::epoll_ctl(loop->epoll_fd, EPOLL_CTL_DEL, fd, nullptr);
    loop->watches.erase(id);
  }
};

void EventLoop::Impl::dispatch_ready() {
  std::array<epoll_event, 32> events{};
  const int count = ::epoll_wait(epoll_fd, events.data(), static_cast<int>(events.size()), 0);
  for (int i = 0; i < count; ++i) {
    const epoll_event& event = events[static_cast<std::size_t>(i)];
    const std::uint64_t id = event.data.u64;
    // Looked up again after every callback: a callback may destroy any watch.
    auto find = [this, id]() -> FdWatch::State* {
      auto found = watches.find(id);
      return found == watches.end() ? nullptr : found->second;
    };
    FdWatch::State* state = find();
    if (state != nullptr && (event.events & EPOLLOUT) != 0 && state->writable_wanted) {
      state->writable_wanted = false;
      state->update_interest();
      auto fn = state->callbacks.on_writable;  // copied: the callback may destroy it
      if (fn) fn();
      state = find();
    }
    bool read = false;
    if (state != nullptr && (event.events & EPOLLIN) != 0 && state->readable_wanted) {
      read = true;
      auto fn = state->callbacks.on_readable;
      if (fn) fn();
      state = find();
    }
    // A hangup is reported once the reader has taken what was left (or does not
    // want it): the watch stops, then hears about it.
    if (state != nullptr && (event.events & (EPOLLHUP | EPOLLERR)) != 0 && !read) {
      state->stop();
      auto fn = state->callbacks.on_hangup;
      if (fn) fn();
    }
  }
}

namespace {

void timer_fired(lws_sorted_usec_list_t* sul) {
  auto* holder = reinterpret_cast<TimerSul*>(sul);
  Timer::State* state = holder->owner;
  state->pending = false;
  // Copied: the callback may re-arm or destroy its own timer.
  auto fn = state->fn;
  if (fn) fn();
}

int loop_callback(lws* wsi, lws_callback_reasons reason, void* /*user*/, void* /*in*/,
                  size_t /*len*/) {
  switch (reason) {
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED: {
      auto* impl = static_cast<EventLoop::Impl*>(lws_context_user(lws_get_context(wsi)));
      if (impl != nullptr) impl->run_posted();
      return 0;
    }
    case LWS_CALLBACK_RAW_RX_FILE: {
      // The epoll set has ready watches.
      auto* impl = static_cast<EventLoop::Impl*>(lws_get_opaque_user_data(wsi));
      if (impl != nullptr) impl->dispatch_ready();
      return 0;
    }
    default:
      return 0;
  }
}

}  // namespace

Result<std::unique_ptr<EventLoop>> EventLoop::create(const Options& options) {
  auto impl = std::make_unique<Impl>(options.workers);
  lws_context_creation_info info;
  std::memset(&info, 0, sizeof info);
  // The device never listens on a port.
  info.port = CONTEXT_PORT_NO_LISTEN;
  info.protocols = kLoopProtocols;
  // No TLS options here: the default vhost only holds the epoll set, and with
  // DO_SSL_GLOBAL_INIT lws would give it a client SSL_CTX of its own, loaded with the
  // whole system CA bundle (about 1.4 MiB of heap for nothing). The client vhost
  // (daemon/transport) asks for TLS when it needs it.
  info.gid = -1;
  info.uid = -1;
  // lws holds only a handful of fds itself (the epoll set, its cancel pipe, the
  // server connection while it is replaced); every other fd is in the epoll set.
  // Without a limit lws sizes its fd tables by RLIMIT_NOFILE: 320 KiB at 20000.
  info.fd_limit_per_thread = kLwsFdLimit;
  info.user = impl.get();
  impl->context = lws_create_context(&info);
  if (impl->context == nullptr)
    return Error(ErrorCode::kIo, "creating the libwebsockets context failed");
  impl->vhost = lws_get_vhost_by_name(impl->context, "default");
  if (impl->vhost == nullptr) {
    lws_context_destroy(impl->context);
    return Error(ErrorCode::kIo, "libwebsockets created no default vhost");
  }
  impl->epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
  if (impl->epoll_fd < 0) {
    const std::string reason = std::strerror(errno);
    lws_context_destroy(impl->context);
    return Error(ErrorCode::kIo, "epoll_create1: " + reason);
  }
  // lws closes what it adopts, so it gets a copy of the epoll fd.
  const int copy = ::dup(impl->epoll_fd);
  lws_adopt_desc_t desc;
  std::memset(&desc, 0, sizeof desc);
  desc.vh = impl->vhost;
  desc.type = LWS_ADOPT_RAW_FILE_DESC;
  desc.fd.filefd = copy;
  desc.vh_prot_name = kLoopProtocolName;
  desc.opaque = impl.get();
  if (copy < 0 || lws_adopt_descriptor_vhost_via_info(&desc) == nullptr) {
    ::close(impl->epoll_fd);
    lws_context_destroy(impl->context);
    return Error(ErrorCode::kIo, "watching the loop's epoll set failed");
  }
  return std::unique_ptr<EventLoop>(new EventLoop(std::move(impl)));
}

EventLoop::EventLoop(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

EventLoop::~EventLoop() {
  impl_->closed = true;
  impl_->pool.shutdown();
  lws_context_destroy(impl_->context);
  impl_->context = nullptr;
  if (impl_->epoll_fd >= 0) ::close(impl_->epoll_fd);
}

void EventLoop::run() {
  impl_->run_posted();
  while (!impl_->stopping) {
    if (lws_service(impl_->context, 0) < 0) break;
  }
}

void EventLoop::stop() {
  impl_->stopping = true;
  lws_cancel_service(impl_->context);
}

void EventLoop::post(std::function<void()> fn) {
  impl_->post(std::move(fn));
}

void EventLoop::run_blocking(std::function<void()> work, std::function<void()> done) {
  Impl* impl = impl_.get();
  impl->pool.submit([impl, work = std::move(work), done = std::move(done)]() mutable {
    if (work) work();
    if (!impl->closed && done) impl->post(std::move(done));
  });
}

lws_context* EventLoop::lws() const {
  return impl_->context;
}
lws_vhost* EventLoop::lws_vhost_handle() const {
  return impl_->vhost;
}

Timer::Timer(EventLoop& loop) : state_(std::make_unique<State>()) {
  state_->loop = loop.impl_.get();
  state_->holder.owner = state_.get();
}

Timer::~Timer() {
  cancel();
}

void Timer::start(std::chrono::milliseconds delay, std::function<void()> fn) {
  cancel();
  state_->fn = std::move(fn);
  state_->pending = true;
  const auto usec = std::chrono::duration_cast<std::chrono::microseconds>(delay).count();
  lws_sul_schedule(state_->loop->context, 0, &state_->holder.sul, timer_fired,
                   static_cast<lws_usec_t>(usec < 1 ? 1 : usec));
}

void Timer::cancel() {
  if (state_->pending) lws_sul_cancel(&state_->holder.sul);
  state_->pending = false;
}

bool Timer::pending() const {
  return state_->pending;
}

Result<std::unique_ptr<FdWatch>> FdWatch::create(EventLoop& loop, int fd, Callbacks callbacks) {
  auto state = std::make_unique<State>();
  state->loop = loop.impl_.get();
  state->callbacks = std::move(callbacks);
  state->fd = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (state->fd < 0) {
    return Error(ErrorCode::kIo,
                 "dup of fd " + std::to_string(fd) + " failed: " + std::strerror(errno));
  }
  state->id = state->loop->next_watch_id++;
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = state->id;
  if (::epoll_ctl(state->loop->epoll_fd, EPOLL_CTL_ADD, state->fd, &event) != 0) {
    const std::string reason = std::strerror(errno);
    ::close(state->fd);
    return Error(ErrorCode::kIo, "watching fd " + std::to_string(fd) + " failed: " + reason);
  }
  state->active = true;
  state->loop->watches.emplace(state->id, state.get());
  return std::unique_ptr<FdWatch>(new FdWatch(std::move(state)));
}

FdWatch::FdWatch(std::unique_ptr<State> state) : state_(std::move(state)) {}

FdWatch::~FdWatch() {
  // Safe inside one of this watch's own callbacks: dispatch looks the watch up again
  // by id after every callback.
  state_->stop();
  ::close(state_->fd);
}

void FdWatch::want_readable(bool on) {
  if (state_->readable_wanted == on) return;
  state_->readable_wanted = on;
  state_->update_interest();
}

void FdWatch::want_writable(bool on) {
  if (state_->writable_wanted == on) return;
  state_->writable_wanted = on;
  state_->update_interest();
}

}  // namespace tether::daemon
