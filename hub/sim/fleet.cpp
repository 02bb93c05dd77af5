#include "hub/sim/fleet.hpp"

#include <ev.h>
#include <libwebsockets.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <functional>
#include <queue>
#include <random>
#include <sstream>

#include "daemon/transport/backoff.hpp"
#include "daemon/transport/message_assembler.hpp"
#include "daemon/transport/tls_context.hpp"
#include "daemon/transport/websocket_frame.hpp"

namespace tether::sim {

namespace {

namespace transport = daemon::transport;
using protocol::Bytes;

constexpr char kProtocolName[] = "tether-sim";
constexpr char kSignalProtocolName[] = "tether-sim-signal";
// What one link may receive in one message (the daemon's server.max-message default).
constexpr std::size_t kMaxMessage = 1 << 20;
// Bytes of frames coalesced into one write.
constexpr std::size_t kMaxWriteBatch = std::size_t{16} * 1024;
// Records fall due on a tick; each tick visits one slice of the links (every
// kTickSlices-th), so a link is visited every kTick * kTickSlices = 100 ms as
// before but the records of a second leave in 100 small bursts instead of 10 of
// thousands each (a burst of 5 000 records kept the hub's loop busy for ~100 ms,
// which an operator's shell echo waited behind).
constexpr std::chrono::milliseconds kTick{10};
constexpr std::size_t kTickSlices = 10;
constexpr std::chrono::milliseconds kKeepaliveSweep{1000};
// Dials in progress (TCP + TLS + upgrade) at most; the rest wait their turn. lws
// 4.1 gives each connection in progress timers in its one sorted list, which
// every step of every other connection walks: 10 000 at once made each step
// O(10 000) and the simulator, not the hub, the bottleneck.
constexpr std::size_t kMaxConnecting = 200;

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

lws_usec_t usec(std::chrono::milliseconds ms) {
  return static_cast<lws_usec_t>(ms.count()) * 1000;
}

std::string json_quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

int callback(lws* wsi, lws_callback_reasons reason, void* user, void* in, std::size_t len);
int signal_callback(lws* wsi, lws_callback_reasons reason, void* user, void* in, std::size_t len);

}  // namespace

Result<std::vector<DeviceIdentity>> read_tokens(const std::string& path, std::size_t max_devices) {
  std::ifstream in(path);
  if (!in) return Error(ErrorCode::kNotFound, "cannot open " + path);
  std::vector<DeviceIdentity> out;
  std::string line;
  std::size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    DeviceIdentity d;
    std::string extra;
    if (!(fields >> d.id >> d.token) || (fields >> extra) || d.id.size() > 128 ||
        d.token.size() > 512) {
      return Error(ErrorCode::kInvalidArgument,
                   path + " line " + std::to_string(number) + ": expected 'ID TOKEN'");
    }
    out.push_back(std::move(d));
    if (max_devices != 0 && out.size() == max_devices) break;
  }
  if (out.empty()) return Error(ErrorCode::kInvalidArgument, path + " lists no device");
  if (max_devices != 0 && out.size() < max_devices) {
    return Error(ErrorCode::kInvalidArgument, path + " lists " + std::to_string(out.size()) +
                                                  " devices, fewer than --devices " +
                                                  std::to_string(max_devices));
  }
  return out;
}

// One device's link.
struct Link {
  enum class State { kIdle, kConnecting, kOnline };

  Link(Fleet::Impl& f, DeviceIdentity identity, const DeviceBehaviour& behaviour,
       const transport::Backoff::Options& backoff_options, std::uint64_t seed)
      : fleet(f),
        device(identity.id, behaviour, seed),
        token(std::move(identity.token)),
        backoff(backoff_options, seed) {}

  Fleet::Impl& fleet;
  SimulatedDevice device;
  std::string token;
  transport::Backoff backoff;
  // The local address this link dials from (--source-addresses); empty: any.
  std::string source_address;
  // Bumped whenever a dial is scheduled: an older entry of the dial queue for
  // this link is stale.
  std::uint64_t dial_generation = 0;
  bool waiting_turn = false;  // in Fleet::Impl::waiting_turn_
  State state = State::kIdle;
  lws* wsi = nullptr;
  bool auth_refused = false;
  std::int64_t online_since_ms = 0;
  std::deque<Bytes> out;
  transport::MessageAssembler rx;
  double credit = 0;  // records due, carried between ticks (starts at a random phase)
  // Keepalive (Fleet::Impl::keepalive()): when the link last heard anything, and
  // whether a ping went out since.
  std::chrono::steady_clock::time_point heard{};
  std::chrono::steady_clock::time_point pinged_at{};
  bool pinged = false;
  bool ping_due = false;
  // lws_callback_on_writable() asked for and its callback not run yet: frames
  // wait in `out` for it. Otherwise they are written at once (Fleet::Impl::flush).
  bool write_requested = false;
  std::uint64_t connects = 0;
  std::uint64_t disconnects = 0;
  std::uint64_t refusals = 0;
};

class Fleet::Impl {
 public:
  Impl(const SimOptions& options) : options_(options) {}
  ~Impl();

  Status start(std::vector<DeviceIdentity> identities);
  int run();

  void dial(Link& link);
  void failed(Link& link);
  int on_event(lws* wsi, lws_callback_reasons reason, void* in, std::size_t len);
  void on_signal();

 private:
  int on_writable(Link& link);
  void request_writable(Link& link);
  int on_receive(Link& link, const void* in, std::size_t len);
  void flush(Link& link, std::vector<Bytes>& produced);
  void tick();
  void keepalive(std::chrono::steady_clock::time_point now);
  void write_stats(std::int64_t elapsed_ms);
  Status write_summary() const;
  bool all_acked() const;

  void schedule_dial(Link& link, std::chrono::milliseconds delay);
  void left_connecting();
  std::size_t connecting_ = 0;
  std::deque<Link*> waiting_turn_;  // due dials beyond kMaxConnecting, in order
  bool admitting_ = false;
  void arm_dial_timer();
  static void dial_due(lws_sorted_usec_list_t* sul);
  static void tick_due(lws_sorted_usec_list_t* sul);

  // Dials to make, earliest first, behind ONE lws timer: lws 4.1 keeps its
  // timers in one sorted list that each insertion walks, so a timer per link
  // (10 000 pending dials) made every other timer insertion O(links).
  struct DialAt {
    std::chrono::steady_clock::time_point at;
    Link* link;
    std::uint64_t generation;
    bool operator>(const DialAt& o) const { return at > o.at; }
  };
  std::priority_queue<DialAt, std::vector<DialAt>, std::greater<>> dials_;
  struct DialTimer {
    lws_sorted_usec_list_t sul{};
    Impl* fleet = nullptr;
  } dial_timer_;
  std::chrono::steady_clock::time_point dial_timer_at_{};
  bool dial_timer_armed_ = false;

  SimOptions options_;
  transport::SslCtxPtr tls_;
  lws_protocols protocols_[3]{};
  // All zero: no per-link validity timer in lws (see keepalive()); explicit, so
  // that lws does not fall back to a default policy.
  lws_retry_bo_t no_validity_{};
  // The epoll loop lws runs on (ours to run and destroy): lws's own poll() loop
  // walks every descriptor on every pass, too slow with 10 000 links.
  struct ev_loop* loop_ = nullptr;
  void* foreign_loops_[1] = {nullptr};
  lws_context* context_ = nullptr;
  std::vector<std::unique_ptr<Link>> links_;
  struct TickTimer {
    lws_sorted_usec_list_t sul{};
    Impl* fleet = nullptr;
  } tick_timer_;
  int signal_fd_ = -1;
  bool stop_ = false;
  bool paused_ = false;  // no records made (SIGUSR1 toggles)
  int exit_status_ = 0;
  std::chrono::steady_clock::time_point started_;
  std::array<std::chrono::steady_clock::time_point, kTickSlices> slice_ticked_{};
  std::size_t next_slice_ = 0;
  std::chrono::steady_clock::time_point next_stats_;
  std::chrono::steady_clock::time_point next_keepalive_;
  std::FILE* stats_ = nullptr;
  std::vector<Bytes> produced_;         // scratch: what a device queued in one call
  std::vector<std::uint8_t> frame_;     // scratch: one frame being masked
  std::vector<std::uint8_t> batch_;     // scratch: frames of one write
  transport::MaskKeySource mask_keys_;  // one per frame written
};

namespace {

int callback(lws* wsi, lws_callback_reasons reason, void* /*user*/, void* in, std::size_t len) {
  auto* fleet = static_cast<Fleet::Impl*>(lws_context_user(lws_get_context(wsi)));
  if (fleet == nullptr) return lws_callback_http_dummy(wsi, reason, nullptr, in, len);
  return fleet->on_event(wsi, reason, in, len);
}

int signal_callback(lws* wsi, lws_callback_reasons reason, void* /*user*/, void* /*in*/,
                    std::size_t /*len*/) {
  if (reason != LWS_CALLBACK_RAW_RX_FILE) return 0;
  auto* fleet = static_cast<Fleet::Impl*>(lws_context_user(lws_get_context(wsi)));
  if (fleet != nullptr) fleet->on_signal();
  return 0;
}

}  // namespace

Fleet::Impl::~Impl() {
  if (context_ != nullptr) lws_context_destroy(context_);
  if (loop_ != nullptr) ev_loop_destroy(loop_);
  if (signal_fd_ >= 0) ::close(signal_fd_);
  if (stats_ != nullptr) std::fclose(stats_);
}

Status Fleet::Impl::start(std::vector<DeviceIdentity> identities) {
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGUSR1);
  if (pthread_sigmask(SIG_BLOCK, &mask, nullptr) != 0) return Error("blocking signals failed");
  signal(SIGPIPE, SIG_IGN);
  signal_fd_ = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  if (signal_fd_ < 0) return Error(std::string("signalfd: ") + std::strerror(errno));

  if (!options_.stats_file.empty()) {
    stats_ = std::fopen(options_.stats_file.c_str(), "w");
    if (stats_ == nullptr) {
      return Error(ErrorCode::kIo, "option '--stats': cannot write " + options_.stats_file + ": " +
                                       std::strerror(errno));
    }
    std::fputs("elapsed_s,online,connects,disconnects,records_made,records_sent,records_acked\n",
               stats_);
  }
  if (options_.url.tls) {
    auto tls = transport::make_client_tls_context({options_.ca_file, {}, {}});
    if (!tls.ok()) return tls.error().wrap("TLS");
    tls_ = std::move(tls).value();
    // Thousands of idle links: give each link's TLS buffers back while it is idle.
    SSL_CTX_set_mode(tls_.get(), SSL_MODE_RELEASE_BUFFERS);
  }

  protocols_[0] = {kProtocolName, &callback, 0, 0, 0, nullptr, 0};
  protocols_[1] = {kSignalProtocolName, &signal_callback, 0, 0, 0, nullptr, 0};
  protocols_[2] = {nullptr, nullptr, 0, 0, 0, nullptr, 0};

  lws_set_log_level(LLL_ERR, nullptr);
  loop_ =
      ev_loop_new(static_cast<unsigned>(EVBACKEND_EPOLL) | static_cast<unsigned>(EVFLAG_NOSIGMASK));
  if (loop_ == nullptr) return Error("creating the epoll event loop failed");
  foreign_loops_[0] = loop_;

  lws_context_creation_info info{};
  info.port = CONTEXT_PORT_NO_LISTEN;
  info.protocols = protocols_;
  info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT | LWS_SERVER_OPTION_LIBEV;
  info.foreign_loops = foreign_loops_;
  info.provided_client_ssl_ctx = tls_.get();
  info.user = this;
  info.gid = -1;
  info.uid = -1;
  info.timeout_secs =
      static_cast<unsigned>(std::max<std::int64_t>(1, options_.connect_timeout.count() / 1000));
  info.retry_and_idle_policy = &no_validity_;
  context_ = lws_create_context(&info);
  if (context_ == nullptr) {
    return Error(
        "creating the libwebsockets context failed (is lws's libev plugin, package "
        "libwebsockets-evlib-ev, installed?)");
  }

  lws_sock_file_fd_type fd{};
  fd.filefd = signal_fd_;
  lws_vhost* vhost = lws_get_vhost_by_name(context_, "default");
  if (vhost == nullptr || lws_adopt_descriptor_vhost(vhost, LWS_ADOPT_RAW_FILE_DESC, fd,
                                                     kSignalProtocolName, nullptr) == nullptr) {
    return Error("adopting the signalfd failed");
  }

  std::uint64_t seed = options_.seed != 0 ? options_.seed : std::random_device{}();
  const transport::Backoff::Options backoff{options_.backoff_base, options_.backoff_max,
                                            std::chrono::milliseconds(100)};
  links_.reserve(identities.size());
  for (auto& identity : identities) {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    links_.push_back(
        std::make_unique<Link>(*this, std::move(identity), options_.behaviour, backoff, seed));
    // A random phase in [0, 1): each device's records fall due at its own point of
    // the second, as a real fleet's do, instead of every device on the same tick.
    links_.back()->credit = static_cast<double>(seed >> 11) * 0x1.0p-53;
    if (!options_.source_addresses.empty()) {
      const auto& pool = options_.source_addresses;
      links_.back()->source_address = pool[(links_.size() - 1) % pool.size()];
    }
  }
  paused_ = options_.start_paused;
  started_ = std::chrono::steady_clock::now();
  slice_ticked_.fill(started_);
  next_stats_ = started_;
  next_keepalive_ = started_;
  // The first dial at once (the daemon's rule), or spread over the ramp.
  dial_timer_.fleet = this;
  const std::size_t n = links_.size();
  for (std::size_t i = 0; i < n; ++i) {
    const auto at = options_.ramp * static_cast<std::int64_t>(i) / static_cast<std::int64_t>(n);
    schedule_dial(*links_[i], at);
  }
  tick_timer_.fleet = this;
  lws_sul_schedule(context_, 0, &tick_timer_.sul, &Impl::tick_due, usec(kTick));
  return Status::Ok();
}

void Fleet::Impl::schedule_dial(Link& link, std::chrono::milliseconds delay) {
  ++link.dial_generation;
  dials_.push(DialAt{std::chrono::steady_clock::now() + delay, &link, link.dial_generation});
  arm_dial_timer();
}

void Fleet::Impl::arm_dial_timer() {
  if (dials_.empty()) return;
  const auto at = dials_.top().at;
  if (dial_timer_armed_ && dial_timer_at_ <= at) return;
  const auto wait =
      std::chrono::duration_cast<std::chrono::microseconds>(at - std::chrono::steady_clock::now());
  dial_timer_armed_ = true;
  dial_timer_at_ = at;
  lws_sul_schedule(context_, 0, &dial_timer_.sul, &Impl::dial_due,
                   std::max<lws_usec_t>(0, static_cast<lws_usec_t>(wait.count())));
}

void Fleet::Impl::dial_due(lws_sorted_usec_list_t* sul) {
  Impl& self = *reinterpret_cast<DialTimer*>(sul)->fleet;
  self.dial_timer_armed_ = false;
  const auto now = std::chrono::steady_clock::now();
  while (!self.dials_.empty() && self.dials_.top().at <= now) {
    const DialAt due = self.dials_.top();
    self.dials_.pop();
    if (due.generation == due.link->dial_generation) self.dial(*due.link);
  }
  self.arm_dial_timer();
}

void Fleet::Impl::tick_due(lws_sorted_usec_list_t* sul) {
  auto* timer = reinterpret_cast<TickTimer*>(sul);
  timer->fleet->tick();
}

void Fleet::Impl::left_connecting() {
  --connecting_;
  // Not re-entered from a dial that fails inside lws_client_connect_via_info:
  // the outer loop goes on.
  if (admitting_) return;
  admitting_ = true;
  while (connecting_ < kMaxConnecting && !waiting_turn_.empty() && !stop_) {
    Link* next = waiting_turn_.front();
    waiting_turn_.pop_front();
    next->waiting_turn = false;
    dial(*next);
  }
  admitting_ = false;
}

void Fleet::Impl::dial(Link& link) {
  if (stop_ || link.state != Link::State::kIdle || link.waiting_turn) return;
  if (connecting_ >= kMaxConnecting) {
    link.waiting_turn = true;
    waiting_turn_.push_back(&link);
    return;
  }
  ++connecting_;
  link.state = Link::State::kConnecting;
  link.wsi = nullptr;
  link.auth_refused = false;
  link.rx.reset();
  lws_client_connect_info ci{};
  ci.context = context_;
  ci.address = options_.url.host.c_str();
  ci.port = options_.url.port;
  ci.path = options_.url.path.c_str();
  ci.host = options_.url.host.c_str();
  ci.origin = options_.url.host.c_str();
  ci.ssl_connection = options_.url.tls ? LCCSCF_USE_SSL : 0;
  ci.local_protocol_name = kProtocolName;
  ci.ietf_version_or_minus_one = -1;
  ci.opaque_user_data = &link;
  ci.retry_and_idle_policy = &no_validity_;
  if (!link.source_address.empty()) ci.iface = link.source_address.c_str();
  lws* wsi = lws_client_connect_via_info(&ci);
  // A failure inside the call has already been handled (the state moved on).
  if (link.state != Link::State::kConnecting) return;
  if (wsi == nullptr) {
    failed(link);
    return;
  }
  link.wsi = wsi;
}

void Fleet::Impl::failed(Link& link) {
  const bool was_online = link.state == Link::State::kOnline;
  const bool was_connecting = link.state == Link::State::kConnecting;
  link.state = Link::State::kIdle;
  link.wsi = nullptr;
  link.out.clear();
  link.write_requested = false;
  if (was_online) {
    ++link.disconnects;
    link.device.disconnected();
    if (wall_ms() - link.online_since_ms >= options_.stable_after.count()) link.backoff.reset();
  }
  if (!stop_) {
    auto delay = link.backoff.next_delay();
    if (link.auth_refused) delay = std::max(delay, options_.auth_backoff);
    schedule_dial(link, delay);
  }
  if (was_connecting) left_connecting();
}

int Fleet::Impl::on_event(lws* wsi, lws_callback_reasons reason, void* in, std::size_t len) {
  auto* link = static_cast<Link*>(lws_get_opaque_user_data(wsi));
  // A wsi of an attempt given up on calls back until lws has closed it: ignore it.
  const bool current = link != nullptr && (link->wsi == wsi || link->wsi == nullptr) &&
                       link->state != Link::State::kIdle;
  switch (reason) {
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
      if (!current || in == nullptr) return 0;
      auto** p = static_cast<unsigned char**>(in);
      const std::string value = "Bearer " + link->token;
      if (lws_add_http_header_by_name(wsi, reinterpret_cast<const unsigned char*>("authorization:"),
                                      reinterpret_cast<const unsigned char*>(value.data()),
                                      static_cast<int>(value.size()), p, *p + len) != 0) {
        return -1;
      }
      return 0;
    }
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR: {
      if (!current) return 0;
      const std::string why = in != nullptr ? static_cast<const char*>(in) : "";
      const unsigned status = lws_http_client_http_response(wsi);
      if (status == 401 || status == 403 || why.find("unauthorized") != std::string::npos) {
        link->auth_refused = true;
        ++link->refusals;
      }
      failed(*link);
      return 0;
    }
    case LWS_CALLBACK_CLIENT_ESTABLISHED: {
      if (!current) return -1;
      link->wsi = wsi;
      link->state = Link::State::kOnline;
      left_connecting();
      link->online_since_ms = wall_ms();
      link->heard = std::chrono::steady_clock::now();
      link->pinged = false;
      link->ping_due = false;
      link->write_requested = false;
      ++link->connects;
      produced_.clear();
      link->device.connected(wall_ms(), produced_);
      flush(*link, produced_);
      return 0;
    }
    case LWS_CALLBACK_CLIENT_RECEIVE:
      if (!current || link->state != Link::State::kOnline) return -1;
      link->heard = std::chrono::steady_clock::now();
      link->pinged = false;
      return on_receive(*link, in, len);
    case LWS_CALLBACK_CLIENT_RECEIVE_PONG:
      if (current && link->state == Link::State::kOnline) {
        link->heard = std::chrono::steady_clock::now();
        link->pinged = false;
      }
      return 0;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
      if (!current || link->state != Link::State::kOnline) return -1;
      link->write_requested = false;
      return on_writable(*link);
    case LWS_CALLBACK_CLIENT_CLOSED:
      if (current) failed(*link);
      return 0;
    default:
      break;
  }
  return lws_callback_http_dummy(wsi, reason, nullptr, in, len);
}

int Fleet::Impl::on_receive(Link& link, const void* in, std::size_t len) {
  const transport::Fragment fragment{
      lws_is_first_fragment(link.wsi) != 0, lws_frame_is_binary(link.wsi) != 0,
      lws_is_final_fragment(link.wsi) != 0, lws_remaining_packet_payload(link.wsi)};
  using Outcome = transport::MessageAssembler::Outcome;
  switch (link.rx.add({static_cast<const std::uint8_t*>(in), len}, fragment, kMaxMessage)) {
    case Outcome::kIncomplete:
      return 0;
    case Outcome::kNotBinary:
      lws_close_reason(link.wsi, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE, nullptr, 0);
      return -1;
    case Outcome::kTooBig:
      lws_close_reason(link.wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, nullptr, 0);
      return -1;
    case Outcome::kComplete:
      break;
  }
  const Bytes message = link.rx.take();
  produced_.clear();
  link.device.message(message, wall_ms(), produced_);
  flush(link, produced_);
  return 0;
}

void Fleet::Impl::flush(Link& link, std::vector<Bytes>& produced) {
  if (produced.empty() || link.state != Link::State::kOnline) return;
  for (auto& m : produced) link.out.push_back(std::move(m));
  produced.clear();
  if (link.write_requested) return;
  // Nothing waits for a writable callback: write now. A round trip through
  // lws_callback_on_writable() cost two epoll_ctl calls and a loop pass per record
  // (most of the simulator's system time); lws keeps whatever the socket does not
  // take and sends it before anything written later.
  if (on_writable(link) < 0) lws_set_timeout(link.wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

void Fleet::Impl::request_writable(Link& link) {
  link.write_requested = true;
  lws_callback_on_writable(link.wsi);
}

int Fleet::Impl::on_writable(Link& link) {
  if (link.ping_due) {
    link.ping_due = false;
    // With a payload: lws 4.1 does not report an empty pong to the callback.
    unsigned char ping[LWS_PRE + 4] = {};
    std::memcpy(ping + LWS_PRE, "tka", 4);
    if (lws_write(link.wsi, ping + LWS_PRE, 4, LWS_WRITE_PING) < 4) return -1;
    if (!link.out.empty()) request_writable(link);
    return 0;
  }
  batch_.clear();
  while (!link.out.empty() && batch_.size() < kMaxWriteBatch) {
    const Bytes& payload = link.out.front();
    const std::size_t header = transport::client_frame_header_size(payload.size());
    frame_.resize(header + payload.size());
    std::copy(payload.begin(), payload.end(), frame_.begin() + static_cast<std::ptrdiff_t>(header));
    auto key = mask_keys_.next();
    if (!key.ok()) return -1;
    const auto frame = transport::frame_client_binary(frame_, header, *key);
    if (frame.empty()) return -1;
    batch_.insert(batch_.end(), frame.begin(), frame.end());
    link.out.pop_front();
  }
  if (batch_.empty()) return 0;
  const int written = lws_write(link.wsi, batch_.data(), batch_.size(), LWS_WRITE_RAW);
  if (written < static_cast<int>(batch_.size())) return -1;
  if (!link.out.empty()) request_writable(link);
  return 0;
}

void Fleet::Impl::tick() {
  const auto now = std::chrono::steady_clock::now();
  const std::size_t slice = next_slice_;
  next_slice_ = (next_slice_ + 1) % kTickSlices;
  const double elapsed = std::chrono::duration<double>(now - slice_ticked_[slice]).count();
  slice_ticked_[slice] = now;
  if (options_.records_per_second > 0 && !paused_) {
    const std::int64_t ts = wall_ms();
    for (std::size_t i = slice; i < links_.size(); i += kTickSlices) {
      Link& link = *links_[i];
      link.credit += options_.records_per_second * elapsed;
      auto n = static_cast<std::uint64_t>(link.credit);
      if (n == 0) continue;
      link.credit -= static_cast<double>(n);
      if (options_.records_per_device != 0) {
        const std::uint64_t made = link.device.counters().records_made;
        n = std::min(n, options_.records_per_device - std::min(made, options_.records_per_device));
        if (n == 0) continue;
      }
      produced_.clear();
      link.device.make_records(static_cast<std::size_t>(n), ts, produced_);
      flush(link, produced_);
    }
  }
  const auto since_start =
      std::chrono::duration_cast<std::chrono::milliseconds>(now - started_).count();
  if (now >= next_keepalive_) {
    next_keepalive_ = now + kKeepaliveSweep;
    keepalive(now);
  }
  if (now >= next_stats_) {
    next_stats_ += options_.stats_interval;
    if (next_stats_ < now) next_stats_ = now + options_.stats_interval;
    write_stats(since_start);
  }
  if (options_.exit_when_acked && all_acked()) {
    stop_ = true;
    exit_status_ = 0;
  } else if (options_.duration_s > 0 &&
             static_cast<double>(since_start) >= options_.duration_s * 1000) {
    stop_ = true;
    exit_status_ = options_.exit_when_acked ? 1 : 0;
  }
  if (stop_) {
    lws_cancel_service(context_);
    return;
  }
  lws_sul_schedule(context_, 0, &tick_timer_.sul, &Impl::tick_due, usec(kTick));
}

// One pass over the links once a second instead of a validity timer per link:
// lws 4.1 keeps its timers in one sorted list and re-arms a link's validity
// timer on every frame received, which walks that list (O(links) per message;
// the simulator stalled at ~4 000 links). A link silent for ping-interval gets
// one ping; with no pong nor anything else pong-timeout after it, it is dropped
// like a dead link of the daemon's (docs/connection.md).
void Fleet::Impl::keepalive(std::chrono::steady_clock::time_point now) {
  for (auto& l : links_) {
    Link& link = *l;
    if (link.state != Link::State::kOnline || link.wsi == nullptr) continue;
    if (now - link.heard < options_.ping_interval) continue;
    if (!link.pinged) {
      link.pinged = true;
      link.pinged_at = now;
      link.ping_due = true;
      request_writable(link);
    } else if (now - link.pinged_at >= options_.pong_timeout) {
      lws_set_timeout(link.wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    }
  }
}

bool Fleet::Impl::all_acked() const {
  return std::all_of(links_.begin(), links_.end(), [&](const auto& l) {
    return l->device.last_seq() >= options_.records_per_device &&
           l->device.acked_seq() == l->device.last_seq();
  });
}

void Fleet::Impl::write_stats(std::int64_t elapsed_ms) {
  std::uint64_t online = 0, connects = 0, disconnects = 0, made = 0, sent = 0, acked = 0;
  for (const auto& l : links_) {
    online += l->state == Link::State::kOnline ? 1U : 0U;
    connects += l->connects;
    disconnects += l->disconnects;
    made += l->device.counters().records_made;
    sent += l->device.counters().records_sent;
    acked += l->device.acked_seq();
  }
  char line[256];
  std::snprintf(line, sizeof line, "%.3f,%llu,%llu,%llu,%llu,%llu,%llu\n",
                static_cast<double>(elapsed_ms) / 1000, static_cast<unsigned long long>(online),
                static_cast<unsigned long long>(connects),
                static_cast<unsigned long long>(disconnects), static_cast<unsigned long long>(made),
                static_cast<unsigned long long>(sent), static_cast<unsigned long long>(acked));
  if (stats_ != nullptr) {
    std::fputs(line, stats_);
    std::fflush(stats_);
  }
  if (!options_.quiet) {
    std::fprintf(stderr, "tether-sim: %.1f s: %llu of %zu online, %llu records acked\n",
                 static_cast<double>(elapsed_ms) / 1000, static_cast<unsigned long long>(online),
                 links_.size(), static_cast<unsigned long long>(acked));
  }
}

Status Fleet::Impl::write_summary() const {
  if (options_.summary_file.empty()) return Status::Ok();
  std::ofstream out(options_.summary_file, std::ios::trunc);
  if (!out) return Error(ErrorCode::kIo, "cannot write " + options_.summary_file);
  std::uint64_t online = 0;
  for (const auto& l : links_) online += l->state == Link::State::kOnline ? 1U : 0U;
  out << "{\"devices\":" << links_.size() << ",\"online\":" << online << ",\"per_device\":[";
  bool first = true;
  for (const auto& l : links_) {
    const DeviceCounters& c = l->device.counters();
    out << (first ? "" : ",") << "{\"id\":" << json_quote(l->device.id())
        << ",\"online\":" << (l->state == Link::State::kOnline ? "true" : "false")
        << ",\"connects\":" << l->connects << ",\"disconnects\":" << l->disconnects
        << ",\"refusals\":" << l->refusals << ",\"last_seq\":" << l->device.last_seq()
        << ",\"acked_seq\":" << l->device.acked_seq() << ",\"records_sent\":" << c.records_sent
        << ",\"records_skipped\":" << c.records_skipped << ",\"acks\":" << c.acks
        << ",\"shell_bytes_echoed\":" << c.shell_bytes_echoed
        << ",\"configs_applied\":" << c.configs_applied
        << ",\"command_results\":" << c.command_results
        << ",\"errors_received\":" << c.errors_received << ",\"bad_messages\":" << c.bad_messages
        << "}";
    first = false;
  }
  out << "]}\n";
  if (!out) return Error(ErrorCode::kIo, "writing " + options_.summary_file + " failed");
  return Status::Ok();
}

void Fleet::Impl::on_signal() {
  signalfd_siginfo si;
  while (::read(signal_fd_, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
    if (si.ssi_signo == SIGUSR1) {
      paused_ = !paused_;
    } else {
      stop_ = true;
    }
  }
  lws_cancel_service(context_);
}

int Fleet::Impl::run() {
  // One pass at a time, so that stop_ ends the loop between passes (whoever sets
  // it wakes the loop with lws_cancel_service).
  while (!stop_) {
    if (ev_run(loop_, EVRUN_ONCE) == 0) {
      std::fprintf(stderr, "tether-sim: the event loop has nothing left to watch\n");
      return 1;
    }
  }
  write_stats(std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - started_)
                  .count());
  if (auto s = write_summary(); !s.ok()) {
    std::fprintf(stderr, "tether-sim: %s\n", s.error().message().c_str());
    return 1;
  }
  return exit_status_;
}

Result<std::unique_ptr<Fleet>> Fleet::create(const SimOptions& options,
                                             std::vector<DeviceIdentity> identities) {
  auto impl = std::make_unique<Impl>(options);
  if (auto s = impl->start(std::move(identities)); !s.ok()) return s.error();
  return std::unique_ptr<Fleet>(new Fleet(std::move(impl)));
}

Fleet::Fleet(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Fleet::~Fleet() = default;
int Fleet::run() {
  return impl_->run();
}

}  // namespace tether::sim
