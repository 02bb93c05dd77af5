#include "daemon/loop/event_loop.hpp"

#include <libwebsockets.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <deque>
#include <mutex>

#include "daemon/loop/worker_pool.hpp"

namespace tether::daemon {
namespace {

constexpr const char* kLoopProtocolName = "tether-loop";

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
  lws* wsi = nullptr;
  Callbacks callbacks;
  bool writable_wanted = false;
};

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
      auto* state = static_cast<FdWatch::State*>(lws_get_opaque_user_data(wsi));
      if (state != nullptr && state->callbacks.on_readable) {
        auto fn = state->callbacks.on_readable;
        fn();
      }
      return 0;
    }
    case LWS_CALLBACK_RAW_WRITEABLE_FILE: {
      auto* state = static_cast<FdWatch::State*>(lws_get_opaque_user_data(wsi));
      if (state != nullptr && state->writable_wanted && state->callbacks.on_writable) {
        state->writable_wanted = false;
        auto fn = state->callbacks.on_writable;
        fn();
      }
      return 0;
    }
    case LWS_CALLBACK_RAW_CLOSE_FILE: {
      auto* state = static_cast<FdWatch::State*>(lws_get_opaque_user_data(wsi));
      if (state != nullptr) {
        lws_set_opaque_user_data(wsi, nullptr);
        state->wsi = nullptr;
        if (state->callbacks.on_hangup) {
          auto fn = state->callbacks.on_hangup;
          fn();
        }
      }
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
  info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
  info.gid = -1;
  info.uid = -1;
  info.user = impl.get();
  impl->context = lws_create_context(&info);
  if (impl->context == nullptr) return Error("creating the libwebsockets context failed");
  impl->vhost = lws_get_vhost_by_name(impl->context, "default");
  if (impl->vhost == nullptr) {
    lws_context_destroy(impl->context);
    return Error("libwebsockets created no default vhost");
  }
  return std::unique_ptr<EventLoop>(new EventLoop(std::move(impl)));
}

EventLoop::EventLoop(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

EventLoop::~EventLoop() {
  impl_->closed = true;
  impl_->pool.shutdown();
  lws_context_destroy(impl_->context);
  impl_->context = nullptr;
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
  const int copy = ::dup(fd);
  if (copy < 0) return Error("dup of fd " + std::to_string(fd) + " failed");
  lws_adopt_desc_t desc;
  std::memset(&desc, 0, sizeof desc);
  desc.vh = state->loop->vhost;
  desc.type = LWS_ADOPT_RAW_FILE_DESC;
  desc.fd.filefd = copy;
  desc.vh_prot_name = kLoopProtocolName;
  desc.opaque = state.get();
  // On failure lws closes `copy` itself.
  state->wsi = lws_adopt_descriptor_vhost_via_info(&desc);
  if (state->wsi == nullptr) return Error("adopting fd " + std::to_string(fd) + " failed");
  return std::unique_ptr<FdWatch>(new FdWatch(std::move(state)));
}

FdWatch::FdWatch(std::unique_ptr<State> state) : state_(std::move(state)) {}

FdWatch::~FdWatch() {
  if (state_->wsi != nullptr) {
    // Closed on the next loop turn rather than here: this destructor may run
    // inside one of this watch's own callbacks.
    lws_set_opaque_user_data(state_->wsi, nullptr);
    lws_set_timeout(state_->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
  }
}

void FdWatch::want_readable(bool on) {
  if (state_->wsi != nullptr) lws_rx_flow_control(state_->wsi, on ? 1 : 0);
}

void FdWatch::want_writable(bool on) {
  state_->writable_wanted = on;
  if (on && state_->wsi != nullptr) lws_callback_on_writable(state_->wsi);
}

}  // namespace tether::daemon
