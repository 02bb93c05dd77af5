#include "hub/server/server.hpp"

#include <ev.h>
#include <fcntl.h>
#include <libwebsockets.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/transport/message_assembler.hpp"
#include "hub/auth.hpp"
#include "hub/http_api.hpp"
#include "hub/link.hpp"
#include "hub/operators/accounts_api.hpp"
#include "hub/operators/login_limiter.hpp"
#include "hub/operators/operator_auth.hpp"
#include "hub/operators/password_worker.hpp"
#include "hub/server/admission.hpp"
#include "hub/server/interactive_links.hpp"
#include "hub/server/keepalive.hpp"
#include "hub/server/static_files.hpp"
#include "hub/server/tls_read_ahead.hpp"
#include "hub/services/update_service.hpp"
#include "hub/update/byte_range.hpp"

namespace tether::hub {

namespace {

constexpr std::size_t kMaxHttpBody = std::size_t{16} * 1024;
// Inbox tasks (store completions) run per loop pass before the sockets get a turn:
// enough to keep up with tens of thousands of records a second, few enough that a
// burst costs an operator's keystroke milliseconds, not the whole burst.
constexpr std::size_t kMaxInboxTasksPerPass = 256;
// Urgent inbox tasks (a session's messages from another instance) run per turn of
// the interactive set, which may come several times a pass.
constexpr std::size_t kMaxUrgentTasksPerTurn = 64;
// What lws reads from a socket per event: more than the largest TLS record.
constexpr unsigned kServiceBufferSize = 32 * 1024;
// How often the keepalive sweep runs: a ping goes out at most this late, a dead
// link is hung up at most this late (hub.ping-interval is at least 1 s). The
// services' on_tick() runs with it.
constexpr lws_usec_t kKeepaliveSweepUs = LWS_US_PER_SEC;

// A header of the current request as a string; nullopt when absent or longer than `max`.
std::optional<std::string> header(lws* wsi, lws_token_indexes token, std::size_t max) {
  const int len = lws_hdr_total_length(wsi, token);
  if (len <= 0 || static_cast<std::size_t>(len) > max) return std::nullopt;
  std::string out(static_cast<std::size_t>(len) + 1, '\0');
  const int n = lws_hdr_copy(wsi, out.data(), len + 1, token);
  if (n < 0) return std::nullopt;
  out.resize(static_cast<std::size_t>(n));
  return out;
}

// The query string's key=value pairs; lws hands them over one fragment each,
// already URL-decoded. Bounded: a few dozen pairs of a few hundred bytes.
std::map<std::string, std::string> query_args(lws* wsi) {
  constexpr int kMaxArgs = 32;
  std::map<std::string, std::string> out;
  char buf[512];
  for (int i = 0; i < kMaxArgs; ++i) {
    const int n = lws_hdr_copy_fragment(wsi, buf, sizeof buf, WSI_TOKEN_HTTP_URI_ARGS, i);
    if (n < 0) break;
    const std::string arg(buf, static_cast<std::size_t>(n));
    const auto eq = arg.find('=');
    if (eq == std::string::npos) {
      out[arg] = "";
    } else {
      out[arg.substr(0, eq)] = arg.substr(eq + 1);
    }
  }
  return out;
}

std::optional<std::string> session_cookie(lws* wsi) {
  char buf[160];
  std::size_t len = sizeof buf;
  if (lws_http_cookie_get(wsi, kSessionCookie, buf, &len) != 0) return std::nullopt;
  return std::string(buf, len);
}

// The headers admission looks at, each bounded.
UpgradeRequest upgrade_request(lws* wsi) {
  UpgradeRequest r;
  r.uri = header(wsi, WSI_TOKEN_GET_URI, 512);
  r.authorization = header(wsi, WSI_TOKEN_HTTP_AUTHORIZATION, 1024);
  r.session_cookie = session_cookie(wsi);
  r.origin = header(wsi, WSI_TOKEN_ORIGIN, 512);
  r.host = header(wsi, WSI_TOKEN_HOST, 512);
  return r;
}

}  // namespace

class WsConn;

// A Content-Length value; nullopt unless it is all digits.
std::optional<std::uint64_t> content_length(std::string_view text) {
  std::uint64_t n = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return n;
}

// The client's address as text ("" when lws cannot say).
std::string peer_address(lws* wsi) {
  char buf[64] = {};
  const char* p = lws_get_peer_simple(wsi, buf, sizeof buf);
  return p ? std::string(p) : std::string();
}

// An in-progress HTTP API transaction. The answer may come later (a login):
// `id` finds the connection again, if it is still there.
struct HttpTxn {
  std::uint64_t id = 0;
  HttpRequest request;
  bool too_big = false;
  bool responded = false;  // handed to the API
  std::optional<HttpResponse> response;
  bool headers_written = false;
  std::vector<unsigned char> pending;  // LWS_PRE + body, written on HTTP_WRITEABLE
};

// An artifact download in progress (GET /artifacts/NAME): the file and what is
// left of the range being served.
struct FileTxn {
  static constexpr std::size_t kSlice = 16384;
  int fd = -1;
  std::uint64_t offset = 0;
  std::uint64_t remaining = 0;
  std::vector<unsigned char> buf = std::vector<unsigned char>(LWS_PRE + kSlice);
  ~FileTxn() {
    if (fd >= 0) ::close(fd);
  }
};

// lws's per-connection user data. Plain pointers: lws allocates it zeroed.
struct Pss {
  HttpTxn* http;
  WsConn* ws;
  FileTxn* file;
};

class Server::Impl {
 public:
  Impl(const HubConfig& config, Store& store, Accounts& accounts, SqlOperatorStore& operator_store,
       HubCore& core, const Logger& log)
      : config_(config),
        log_(log),
        core_(core),
        sessions_(operator_store, std::chrono::seconds(config.session_ttl_s),
                  config.limits.max_operator_sessions),
        passwords_(core.inbox(), PasswordWorker::Mode::kThread),
        auth_(accounts, sessions_, passwords_, limiter_, core.operators(), core.audit(),
              config.session_ttl_s, log),
        accounts_api_(accounts, auth_, passwords_, &operator_store, core.audit(), log),
        api_(store, core.device_side(), core.operators(), core.services(), auth_, accounts_api_,
             core.audit(), log),
        admission_(store, api_, core.operators(), log),
        keepalive_(std::chrono::seconds(config.ping_interval_s),
                   std::chrono::seconds(config.ping_interval_s * 2)) {}
  ~Impl();

  Status start();
  int run();
  std::uint16_t port() const { return port_; }
  OperatorAuth& operator_auth() { return auth_; }

  static int callback(lws* wsi, lws_callback_reasons reason, void* user, void* in, std::size_t len);
  static int signal_callback(lws* wsi, lws_callback_reasons reason, void* user, void* in,
                             std::size_t len);
  static void keepalive_due(lws_sorted_usec_list_t* sul);

  bool shutting_down() const { return shutting_down_; }
  Keepalive& keepalive() { return keepalive_; }
  const Logger& log() const { return log_; }
  std::size_t queue_hard_cap() const { return config_.limits.queue_hard_cap; }
  HubCore& core() { return core_; }
  TlsReadAhead& read_ahead() { return read_ahead_; }
  InteractiveLinks& interactive() { return interactive_; }

 private:
  int on_http(lws* wsi, Pss& pss, const char* uri);
  int respond(lws* wsi, HttpTxn& txn);
  int write_response(lws* wsi, HttpTxn& txn);
  int serve_static(lws* wsi, std::string path);
  int serve_artifact(lws* wsi, Pss& pss, const std::string& name);
  static int write_artifact(lws* wsi, Pss& pss);
  int on_ws(lws* wsi, lws_callback_reasons reason, Pss& pss, void* in, std::size_t len);

  const HubConfig& config_;
  const Logger& log_;
  HubCore& core_;
  OperatorSessions sessions_;
  LoginLimiter limiter_;
  PasswordWorker passwords_;
  OperatorAuth auth_;
  AccountsApi accounts_api_;
  HttpApi api_;
  // Transactions waiting for an asynchronous answer, by id.
  std::map<std::uint64_t, lws*> waiting_;
  std::uint64_t next_txn_ = 1;
  AdmissionControl admission_;
  // All zero: no per-connection validity timer in lws (see keepalive.hpp); an
  // explicit policy, so that lws does not fall back to a default one.
  lws_retry_bo_t retry_{};
  Keepalive keepalive_;
  // The one keepalive timer; the entry is the first member so the callback can
  // find the server again.
  struct KeepaliveTimer {
    lws_sorted_usec_list_t sul{};
    Impl* server = nullptr;
  } keepalive_timer_;
  lws_protocols protocols_[3]{};
  // The epoll loop lws runs on (a "foreign" loop: ours to run and to destroy).
  // lws's own poll() loop walks every descriptor on every pass, which at 10 000
  // devices was most of the hub's CPU.
  struct ev_loop* loop_ = nullptr;
  void* foreign_loops_[1] = {nullptr};
  lws_context* context_ = nullptr;
  lws_vhost* vhost_ = nullptr;
  std::uint16_t port_ = 0;
  int signal_fd_ = -1;
  bool stop_ = false;
  bool shutting_down_ = false;
  ConnId next_conn_ = 1;  // device and operator sockets share the numbering
  TlsReadAhead read_ahead_;
  InteractiveLinks interactive_;
};

// One WebSocket: the Link the device side or the operator side talks to.
class WsConn final : public Link, public Keepalive::Peer {
 public:
  WsConn(Server::Impl& server, lws* wsi, const Admission& a)
      : server_(server),
        wsi_(wsi),
        kind_(a.kind),
        device_id_(a.device_id),
        user_(a.user),
        role_(a.role),
        read_ahead_(server.read_ahead()),
        interactive_(server.interactive()) {}

  void send(protocol::Bytes encoded, bool urgent) override {
    if (closing_ || server_.shutting_down()) return;
    // Whatever the operator side's flow control does, a peer that sends but never reads
    // (each bad message earns it an error reply) cannot make this queue grow
    // without bound: past the hard cap it is dropped.
    if (queued_ + encoded.size() > server_.queue_hard_cap()) {
      close(close_code::kPolicy, "not reading");
      return;
    }
    std::vector<unsigned char> frame(LWS_PRE + encoded.size());
    std::memcpy(frame.data() + LWS_PRE, encoded.data(), encoded.size());
    if (urgent_.empty() && bulk_.empty() && !ping_due_ && !lws_send_pipe_choked(wsi_)) {
      write_now(frame);
      return;
    }
    queued_ += encoded.size();
    (urgent ? urgent_ : bulk_).push_back(std::move(frame));
    lws_callback_on_writable(wsi_);
  }
  // Nothing is queued and the socket takes more: the message goes out now, not
  // from a writable callback. That round trip cost two epoll_ctl calls and a loop
  // pass per message (an ack, an echo), and with thousands of busy links a pass
  // is long: an operator's keystroke waited for two of them on its way to the
  // device and back. A failed write closes the link from lws's next pass.
  void write_now(std::vector<unsigned char>& frame) {
    if (!write_frame(frame)) {
      closing_ = true;
      lws_set_timeout(wsi_, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    }
  }
  // Writes one binary frame (LWS_PRE bytes of headroom, then the message); false if
  // lws failed or took less than all of it, which leaves the link unusable.
  bool write_frame(std::vector<unsigned char>& frame) {
    const std::size_t len = frame.size() - LWS_PRE;
    const int n = lws_write(wsi_, frame.data() + LWS_PRE, len, LWS_WRITE_BINARY);
    return n >= 0 && static_cast<std::size_t>(n) == len;
  }
  void close(std::uint16_t code, std::string reason) override {
    if (closing_ || server_.shutting_down()) return;
    closing_ = true;
    close_code_ = code;
    close_reason_ = std::move(reason);
    if (close_reason_.size() > 100) close_reason_.resize(100);
    lws_callback_on_writable(wsi_);
  }
  std::size_t queued_bytes() const override { return queued_; }

  // --- Keepalive::Peer ---
  void send_ping() override {
    if (closing_ || server_.shutting_down()) return;
    ping_due_ = true;
    lws_callback_on_writable(wsi_);
  }
  void hang_up() override {
    server_.log().info((kind_ == PeerKind::kDevice ? "device " + device_id_
                                                   : "operator " + user_ + " on " + device_id_) +
                       ": no answer to a keepalive ping, hanging up");
    // Closed from lws's own loop pass, not from inside the sweep.
    lws_set_timeout(wsi_, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
  }

  // The link joins the keepalive at its upgrade and leaves it at its close.
  void start_keepalive() {
    keepalive_ = server_.keepalive().add(*this, Keepalive::Clock::now());
    in_keepalive_ = true;
  }
  void heard() {
    if (in_keepalive_) server_.keepalive().heard(keepalive_, Keepalive::Clock::now());
  }
  void stop_keepalive() {
    if (in_keepalive_) server_.keepalive().remove(keepalive_);
    in_keepalive_ = false;
  }
  void set_receiving(bool on) override {
    if (server_.shutting_down()) return;
    lws_rx_flow_control(wsi_, on ? 1 : 0);
    read_ahead_.set_receiving(on);
    interactive_.set_receiving(on);
  }
  void mark_interactive() override {
    interactive_.hold(InteractiveLinks::Clock::now() + InteractiveLinks::kHold);
  }
  // At ESTABLISHED. An operator's link is interactive for as long as it lasts.
  void start_reading() {
    read_ahead_.start(wsi_);
    interactive_.start(wsi_, read_ahead_);
    if (kind_ == PeerKind::kOperator) interactive_.hold(InteractiveLinks::Clock::time_point::max());
  }

  // LWS_CALLBACK_SERVER_WRITEABLE: messages while the socket takes them (at most
  // kMaxWritesPerCallback, so one busy peer cannot hold the loop); <0 closes.
  // One message per callback would let a queue of small messages (acks, echoes)
  // drain at one per loop iteration, which with thousands of connections is slow.
  int on_writable() {
    constexpr int kMaxWritesPerCallback = 32;
    if (ping_due_ && !closing_) {
      ping_due_ = false;
      // With a payload: lws 4.1 does not report an empty pong to the callback.
      unsigned char ping[LWS_PRE + 4] = {};
      std::memcpy(ping + LWS_PRE, "tka", 4);
      if (lws_write(wsi_, ping + LWS_PRE, 4, LWS_WRITE_PING) < 4) return -1;
      if (!urgent_.empty() || !bulk_.empty()) lws_callback_on_writable(wsi_);
      return 0;
    }
    if (!urgent_.empty() || !bulk_.empty()) {
      for (int i = 0; i < kMaxWritesPerCallback && (!urgent_.empty() || !bulk_.empty()); ++i) {
        if (i > 0 && lws_send_pipe_choked(wsi_)) break;
        auto& q = !urgent_.empty() ? urgent_ : bulk_;
        auto frame = std::move(q.front());
        q.pop_front();
        queued_ -= frame.size() - LWS_PRE;
        if (!write_frame(frame)) return -1;
        if (kind_ == PeerKind::kOperator) server_.core().operators().wrote(id_);
      }
      if (!urgent_.empty() || !bulk_.empty() || closing_) lws_callback_on_writable(wsi_);
      return 0;
    }
    if (closing_) {
      lws_close_reason(wsi_, static_cast<lws_close_status>(close_code_),
                       reinterpret_cast<unsigned char*>(close_reason_.data()),
                       close_reason_.size());
      return -1;
    }
    return 0;
  }

  // LWS_CALLBACK_RECEIVE: reassembles one message; <0 closes.
  int on_receive(const void* in, std::size_t len, std::size_t max_message) {
    if (closing_) return 0;
    if (discarding_) return discard(len, max_message);
    const daemon::transport::Fragment fragment{
        lws_is_first_fragment(wsi_) != 0, lws_frame_is_binary(wsi_) != 0,
        lws_is_final_fragment(wsi_) != 0, lws_remaining_packet_payload(wsi_)};
    using Outcome = daemon::transport::MessageAssembler::Outcome;
    switch (rx_.add({static_cast<const std::uint8_t*>(in), len}, fragment, max_message)) {
      case Outcome::kIncomplete:
        return 0;
      case Outcome::kNotBinary:
        refuse(close_code::kUnsupportedData, "binary messages only");
        return -1;
      case Outcome::kTooBig:
        // The assembler knows from the frame header that the message is too big
        // before the peer has sent it all. Closing now would leave its bytes unread,
        // and the kernel answers unread data with a reset, so the peer would see a
        // dropped link (1006) instead of 1009: read the rest away first (bounded).
        discarding_ = true;
        return discard(len, max_message);
      case Outcome::kComplete:
        break;
    }
    const protocol::Bytes message = rx_.take();
    if (kind_ == PeerKind::kDevice) {
      server_.core().devices().message(id_, message);
    } else {
      server_.core().operators().message(id_, message);
    }
    return 0;
  }

  // Reads and drops the rest of an oversize message, then closes with 1009. What
  // is dropped is bounded: past twice the limit the link is closed at once.
  int discard(std::size_t len, std::size_t max_message) {
    discarded_ += len;
    const bool message_done =
        lws_is_final_fragment(wsi_) != 0 && lws_remaining_packet_payload(wsi_) == 0;
    if (message_done || discarded_ > 2 * max_message) {
      refuse(close_code::kTooBig, "message too big");
      return -1;
    }
    return 0;
  }

  void refuse(std::uint16_t code, const char* reason) {
    lws_close_reason(wsi_, static_cast<lws_close_status>(code),
                     reinterpret_cast<unsigned char*>(const_cast<char*>(reason)),
                     std::strlen(reason));
  }

  PeerKind kind() const { return kind_; }
  const std::string& device_id() const { return device_id_; }
  const std::string& user() const { return user_; }
  Role role() const { return role_; }
  ConnId id() const { return id_; }
  void set_id(ConnId id) { id_ = id; }
  bool registered() const { return id_ != 0; }

 private:
  Server::Impl& server_;
  lws* wsi_;
  PeerKind kind_;
  std::string device_id_;
  std::string user_;
  Role role_;
  ConnId id_ = 0;
  std::deque<std::vector<unsigned char>> urgent_, bulk_;
  std::size_t queued_ = 0;
  daemon::transport::MessageAssembler rx_;
  // An oversize message is being read away before the 1009 close (see discard()).
  bool discarding_ = false;
  std::size_t discarded_ = 0;
  bool closing_ = false;
  bool ping_due_ = false;
  bool in_keepalive_ = false;
  Keepalive::Handle keepalive_{};
  std::uint16_t close_code_ = close_code::kNormal;
  std::string close_reason_;
  TlsReadAhead::Link read_ahead_;
  InteractiveLinks::Link interactive_;
};

Server::Impl::~Impl() {
  shutting_down_ = true;
  core_.inbox().set_wake({});
  core_.inbox().set_urgent_wake({});
  if (context_) lws_context_destroy(context_);
  interactive_.stop();
  if (loop_) ev_loop_destroy(loop_);
}

Status Server::Impl::start() {
  // SIGINT/SIGTERM arrive through a signalfd adopted into the loop: no handler, no
  // global flag.
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGTERM);
  if (pthread_sigmask(SIG_BLOCK, &mask, nullptr) != 0) return Error("blocking signals failed");
  signal(SIGPIPE, SIG_IGN);
  signal_fd_ = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  if (signal_fd_ < 0) return Error(std::string("signalfd: ") + std::strerror(errno));

  protocols_[0] = {"tether-hub", &Impl::callback, sizeof(Pss), 0, 0, nullptr, 0};
  protocols_[1] = {"tether-signal", &Impl::signal_callback, 0, 0, 0, nullptr, 0};
  protocols_[2] = {nullptr, nullptr, 0, 0, 0, nullptr, 0};

  lws_set_log_level(LLL_ERR | (log_.enabled(LogLevel::kDebug) ? LLL_WARN | LLL_NOTICE : 0),
                    nullptr);

  loop_ =
      ev_loop_new(static_cast<unsigned>(EVBACKEND_EPOLL) | static_cast<unsigned>(EVFLAG_NOSIGMASK));
  if (!loop_) return Error("creating the epoll event loop failed");
  foreign_loops_[0] = loop_;

  lws_context_creation_info info{};
  info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT | LWS_SERVER_OPTION_EXPLICIT_VHOSTS |
                 LWS_SERVER_OPTION_LIBEV;
  info.foreign_loops = foreign_loops_;
  info.user = this;
  info.gid = -1;
  info.uid = -1;
  // Reads of up to a whole TLS record (16 KiB) per readable event. With lws's
  // default of 4 KiB, the rest of a larger record (a device that writes several
  // frames at once, as tetherd and tether-sim do) waits decrypted in OpenSSL's
  // buffer for lws's "forced service", which runs from an idle watcher: on a busy
  // loop there is always a socket ready, so it ran late, and an operator's
  // keystroke echoed back inside such a record waited hundreds of ms
  // (docs/performance.md "Fleet size"). One buffer per service thread, not per link.
  info.pt_serv_buf_size = kServiceBufferSize;
  // No fd_limit_per_thread: lws sizes its descriptor table by the open-file limit,
  // which main sets from limits.max-connections; a smaller table of its own would
  // make lws find each event's connection by a linear search.
  context_ = lws_create_context(&info);
  if (!context_) {
    return Error(
        "creating the libwebsockets context failed (is lws's libev plugin, package "
        "libwebsockets-evlib-ev, installed?)");
  }
  interactive_.set_urgent_work([this] {
    core_.inbox().run_urgent(kMaxUrgentTasksPerTurn);
    return core_.inbox().has_urgent();
  });
  if (Status s = interactive_.start(loop_, context_); !s.ok()) return s;
  // A session's messages from another instance: run between two sockets' services.
  core_.inbox().set_urgent_wake([this] { interactive_.wake_urgent(); });
  // Commits reported by the stores' writer threads: lws_cancel_service may be
  // called from any thread and makes the loop deliver EVENT_WAIT_CANCELLED.
  core_.inbox().set_wake([context = context_] { lws_cancel_service(context); });

  lws_context_creation_info vh{};
  vh.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT | LWS_SERVER_OPTION_FAIL_UPON_UNABLE_TO_BIND;
  if (config_.listen_address.find(':') == std::string::npos) {
    vh.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
  }
  vh.vhost_name = "tether-hub";
  vh.port = config_.listen_port;
  vh.iface = config_.listen_address.c_str();
  vh.protocols = protocols_;
  vh.ssl_cert_filepath = config_.cert_file.c_str();
  vh.ssl_private_key_filepath = config_.key_file.c_str();
  vh.ssl_options_set = SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1;
  // HTTP/1.1 only: WebSocket over h2 (RFC 8441) is not what devices or browsers
  // here expect, and one framing keeps the upgrade path simple.
  vh.alpn = "http/1.1";
  vh.retry_and_idle_policy = &retry_;
  vh.user = this;
  vhost_ = lws_create_vhost(context_, &vh);
  if (!vhost_) {
    return Error("cannot listen on " + config_.listen_address + ":" +
                 std::to_string(config_.listen_port) + " with " + config_.cert_file + " / " +
                 config_.key_file + " (address in use, or bad certificate or key)");
  }
  const int port = lws_get_vhost_listen_port(vhost_);
  port_ = static_cast<std::uint16_t>(port);

  lws_sock_file_fd_type fd{};
  fd.filefd = signal_fd_;
  if (!lws_adopt_descriptor_vhost(vhost_, LWS_ADOPT_RAW_FILE_DESC, fd, "tether-signal", nullptr)) {
    return Error("adopting the signalfd failed");
  }
  keepalive_timer_.server = this;
  lws_sul_schedule(context_, 0, &keepalive_timer_.sul, &Impl::keepalive_due, kKeepaliveSweepUs);
  return Status::Ok();
}

int Server::Impl::run() {
  // One pass at a time, so that a signal (stop_) ends the loop between passes;
  // the signal callback wakes the loop with lws_cancel_service.
  bool records_waiting = false;
  while (!stop_) {
    // While OpenSSL holds records of some link, the next pass polls without waiting.
    if (!ev_run(loop_, records_waiting ? EVRUN_NOWAIT : EVRUN_ONCE)) {
      log_.error("the event loop has nothing left to watch");
      return 1;
    }
    records_waiting = read_ahead_.service([this] { interactive_.poll(); });
  }
  log_.info("stopping");
  shutting_down_ = true;
  return 0;
}

void Server::Impl::keepalive_due(lws_sorted_usec_list_t* sul) {
  auto* self = reinterpret_cast<KeepaliveTimer*>(sul)->server;
  self->keepalive_.sweep(Keepalive::Clock::now());
  self->interactive_.sweep(InteractiveLinks::Clock::now());
  self->core_.services().tick();
  lws_sul_schedule(self->context_, 0, &self->keepalive_timer_.sul, &Impl::keepalive_due,
                   kKeepaliveSweepUs);
}

int Server::Impl::signal_callback(lws* wsi, lws_callback_reasons reason, void*, void*,
                                  std::size_t) {
  if (reason != LWS_CALLBACK_RAW_RX_FILE) return 0;
  auto* self = static_cast<Impl*>(lws_context_user(lws_get_context(wsi)));
  signalfd_siginfo si;
  while (::read(self->signal_fd_, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
    self->log_.info(std::string("received ") + strsignal(static_cast<int>(si.ssi_signo)));
    self->stop_ = true;
  }
  lws_cancel_service(lws_get_context(wsi));
  return 0;
}

int Server::Impl::callback(lws* wsi, lws_callback_reasons reason, void* user, void* in,
                           std::size_t len) {
  auto* self = static_cast<Impl*>(lws_context_user(lws_get_context(wsi)));
  auto* pss = static_cast<Pss*>(user);
  // Every callback is a step of the pass: an operator's link may go next.
  self->interactive_.check();
  switch (reason) {
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
      // A bounded share per pass; what is left runs after the sockets had theirs.
      self->core_.inbox().run_pending(kMaxInboxTasksPerPass);
      if (self->core_.inbox().has_pending()) lws_cancel_service(lws_get_context(wsi));
      return 0;

    case LWS_CALLBACK_HTTP:
      return self->on_http(wsi, *pss, static_cast<const char*>(in));

    case LWS_CALLBACK_HTTP_BODY: {
      if (!pss->http) return -1;
      auto& body = pss->http->request.body;
      if (body.size() + len > kMaxHttpBody) {
        pss->http->too_big = true;
      } else {
        body.append(static_cast<const char*>(in), len);
      }
      return 0;
    }
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
      if (!pss->http) return -1;
      return self->respond(wsi, *pss->http);

    case LWS_CALLBACK_HTTP_WRITEABLE:
      if (pss && pss->file) return write_artifact(wsi, *pss);
      if (pss && pss->http && pss->http->response) {
        HttpTxn& txn = *pss->http;
        if (!txn.headers_written) return self->write_response(wsi, txn);
        auto& p = txn.pending;
        const std::size_t n = p.size() - LWS_PRE;
        if (lws_write(wsi, p.data() + LWS_PRE, n, LWS_WRITE_HTTP_FINAL) < static_cast<int>(n)) {
          return -1;
        }
        self->waiting_.erase(txn.id);
        delete pss->http;
        pss->http = nullptr;
        if (lws_http_transaction_completed(wsi)) return -1;
        return 0;
      }
      break;

    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
      if (pss && pss->http) {
        self->waiting_.erase(pss->http->id);
        delete pss->http;
        pss->http = nullptr;
      }
      if (pss && pss->file) {
        delete pss->file;
        pss->file = nullptr;
      }
      break;

    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE: {
      if (!in || std::strcmp(static_cast<const char*>(in), "websocket") != 0) {
        lws_return_http_status(wsi, HTTP_STATUS_FORBIDDEN, nullptr);
        return 1;
      }
      const Admission a = self->admission_.admit(upgrade_request(wsi));
      if (a.status != 0) {
        if (a.status == 401 || a.status == 500) {
          self->log_.info(a.kind == PeerKind::kDevice
                              ? "refused a device connection (" + std::to_string(a.status) + ")"
                              : "refused an operator connection (" + std::to_string(a.status) +
                                    ")");
        }
        lws_return_http_status(wsi, a.status, nullptr);
        return 1;
      }
      return 0;
    }

    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
      // Same checks again (the per-connection data was reset by the upgrade, and
      // nothing ran in between): keep what they found for ESTABLISHED.
      const Admission a = self->admission_.admit(upgrade_request(wsi));
      if (a.status != 0) return -1;
      pss->ws = new WsConn(*self, wsi, a);
      return 0;
    }

    case LWS_CALLBACK_ESTABLISHED: {
      if (!pss->ws) return -1;
      WsConn& c = *pss->ws;
      c.set_id(self->next_conn_++);
      c.start_keepalive();
      c.start_reading();
      if (c.kind() == PeerKind::kDevice) {
        self->core_.devices().connected(c.id(), c.device_id(), c);
      } else {
        self->core_.operators().connected(c.id(), c.device_id(), c.user(), c, c.role());
      }
      return 0;
    }

    case LWS_CALLBACK_RECEIVE:
      if (!pss->ws) return -1;
      pss->ws->heard();
      return pss->ws->on_receive(in, len, self->config_.limits.max_message);

    case LWS_CALLBACK_RECEIVE_PONG:
      if (pss && pss->ws) pss->ws->heard();
      return 0;

    case LWS_CALLBACK_SERVER_WRITEABLE:
      if (!pss->ws) return -1;
      return pss->ws->on_writable();

    case LWS_CALLBACK_CLOSED:
    case LWS_CALLBACK_WS_SERVER_DROP_PROTOCOL:
      if (pss && pss->ws) {
        WsConn* c = pss->ws;
        pss->ws = nullptr;
        c->stop_keepalive();
        if (c->registered()) {
          if (c->kind() == PeerKind::kDevice) {
            self->core_.devices().closed(c->id());
          } else {
            self->core_.operators().closed(c->id());
          }
        }
        delete c;
      }
      break;

    default:
      break;
  }
  return lws_callback_http_dummy(wsi, reason, user, in, len);
}

int Server::Impl::on_http(lws* wsi, Pss& pss, const char* uri) {
  const std::string path = uri ? uri : "/";
  const bool is_post = lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0;
  const bool is_get = lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0;

  if (path.compare(0, 5, "/api/") == 0 || path == "/api") {
    if (pss.http) waiting_.erase(pss.http->id);
    delete pss.http;
    pss.http = new HttpTxn();
    pss.http->id = next_txn_++;
    HttpRequest& r = pss.http->request;
    r.method = is_post ? "POST" : is_get ? "GET" : "OTHER";
    r.path = path;
    r.query = query_args(wsi);
    r.session_cookie = session_cookie(wsi);
    r.authorization = header(wsi, WSI_TOKEN_HTTP_AUTHORIZATION, 1024);
    r.peer = peer_address(wsi);
    r.content_type = header(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE, 256).value_or("");
    if (is_post) {
      // A POST must say Content-Length (browsers always do, 0 included): without
      // it lws's body state does not line up with keep-alive, so refuse and close.
      auto cl = header(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, 32);
      if (!cl || lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0) {
        lws_return_http_status(wsi, HTTP_STATUS_LENGTH_REQUIRED, nullptr);
        return -1;
      }
      const auto n = content_length(*cl);
      if (!n) {
        lws_return_http_status(wsi, HTTP_STATUS_BAD_REQUEST, nullptr);
        return -1;
      }
      if (*n > kMaxHttpBody) {
        pss.http->too_big = true;
        return respond(wsi, *pss.http);
      }
      // lws calls HTTP_BODY (if any) and then HTTP_BODY_COMPLETION for every POST,
      // even one with an empty body: answer there.
      return 0;
    }
    return respond(wsi, *pss.http);
  }
  if (!is_get) {
    lws_return_http_status(wsi, HTTP_STATUS_METHOD_NOT_ALLOWED, nullptr);
    return lws_http_transaction_completed(wsi) ? -1 : 0;
  }
  constexpr std::string_view kArtifacts = "/artifacts/";
  if (path.compare(0, kArtifacts.size(), kArtifacts) == 0) {
    return serve_artifact(wsi, pss, path.substr(kArtifacts.size()));
  }
  return serve_static(wsi, path);
}

int Server::Impl::respond(lws* wsi, HttpTxn& txn) {
  if (txn.responded) return 0;
  txn.responded = true;
  if (txn.too_big) {
    txn.response = HttpResponse{413, "{\"error\":\"request body too large\"}", {}};
    lws_callback_on_writable(wsi);
    return 0;
  }
  // The answer may come now or later (a login's password check): either way it
  // is written from HTTP_WRITEABLE, if the connection is still there.
  const std::uint64_t id = txn.id;
  waiting_[id] = wsi;
  api_.handle(txn.request, [this, id](HttpResponse res) {
    auto it = waiting_.find(id);
    if (it == waiting_.end()) return;  // the client went away
    auto* pss = static_cast<Pss*>(lws_wsi_user(it->second));
    if (!pss || !pss->http || pss->http->id != id) return;
    pss->http->response = std::move(res);
    lws_callback_on_writable(it->second);
  });
  return 0;
}

int Server::Impl::write_response(lws* wsi, HttpTxn& txn) {
  const HttpResponse& res = *txn.response;
  unsigned char buf[LWS_PRE + 2048];
  unsigned char* start = buf + LWS_PRE;
  unsigned char* p = start;
  unsigned char* end = buf + sizeof buf - 1;
  auto add = [&](const char* name, const std::string& value) {
    return lws_add_http_header_by_name(wsi, reinterpret_cast<const unsigned char*>(name),
                                       reinterpret_cast<const unsigned char*>(value.data()),
                                       static_cast<int>(value.size()), &p, end) == 0;
  };
  if (lws_add_http_common_headers(wsi, res.status, res.content_type.c_str(), res.body.size(), &p,
                                  end) ||
      !add("cache-control:", "no-store") || !add("x-content-type-options:", "nosniff") ||
      (!res.set_cookie.empty() && !add("set-cookie:", res.set_cookie)) ||
      lws_finalize_write_http_header(wsi, start, &p, end)) {
    return -1;
  }
  txn.headers_written = true;
  txn.pending.assign(LWS_PRE, 0);
  txn.pending.insert(txn.pending.end(), res.body.begin(), res.body.end());
  lws_callback_on_writable(wsi);
  return 0;
}

int Server::Impl::serve_static(lws* wsi, std::string path) {
  const auto file = resolve_static(config_.web_root, std::move(path));
  if (!file) {
    lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, nullptr);
    return lws_http_transaction_completed(wsi) ? -1 : 0;
  }
  const int n = lws_serve_http_file(wsi, file->path.c_str(), file->mime, kStaticHeaders,
                                    static_cast<int>(std::strlen(kStaticHeaders)));
  if (n < 0 || (n > 0 && lws_http_transaction_completed(wsi))) return -1;
  return 0;
}

// GET /artifacts/NAME?grant=SECRET (update_service.hpp): only with the grant of a
// live offer of NAME, else 404 (whether or not NAME exists). One range per request
// (byte_range.hpp): 206 with Content-Range, 416 past the end, else 200. The file is
// read in 16 KiB slices as the socket takes them (pread of a local file, like
// lws's own static files): memory stays flat whatever the artifact's size.
int Server::Impl::serve_artifact(lws* wsi, Pss& pss, const std::string& name) {
  auto finish = [wsi](unsigned status) {
    lws_return_http_status(wsi, status, nullptr);
    return lws_http_transaction_completed(wsi) ? -1 : 0;
  };
  auto* updates = UpdateService::in(core_.services());
  const auto query = query_args(wsi);
  const auto grant = query.find("grant");
  const auto allowed = updates != nullptr && grant != query.end()
                           ? updates->authorise_download(name, grant->second)
                           : std::nullopt;
  if (!allowed) return finish(HTTP_STATUS_NOT_FOUND);
  const int fd = ::open(allowed->path.c_str(), O_RDONLY | O_CLOEXEC);
  struct stat st {};
  if (fd < 0 || ::fstat(fd, &st) != 0 ||
      static_cast<std::uint64_t>(st.st_size) != allowed->info.size ||
      static_cast<std::uint64_t>(st.st_ino) != allowed->info.inode) {
    // Replaced since it was hashed: the device retries 5xx with backoff, and the
    // next scan hashes the new file (whose digest no longer matches the offer).
    if (fd >= 0) ::close(fd);
    if (updates->library() != nullptr) updates->library()->rescan();
    return finish(HTTP_STATUS_SERVICE_UNAVAILABLE);
  }
  const std::uint64_t size = allowed->info.size;
  const auto header_value = header(wsi, WSI_TOKEN_HTTP_RANGE, 256);
  const ByteRange range = choose_range(
      header_value ? std::optional<std::string_view>(*header_value) : std::nullopt, size);
  unsigned char buf[LWS_PRE + 1024];
  unsigned char* start = buf + LWS_PRE;
  unsigned char* p = start;
  unsigned char* end = buf + sizeof buf - 1;
  auto add = [&](const char* key, const std::string& value) {
    return lws_add_http_header_by_name(wsi, reinterpret_cast<const unsigned char*>(key),
                                       reinterpret_cast<const unsigned char*>(value.data()),
                                       static_cast<int>(value.size()), &p, end) == 0;
  };
  if (range.kind == ByteRange::Kind::kUnsatisfiable) {
    ::close(fd);
    if (lws_add_http_common_headers(wsi, HTTP_STATUS_REQ_RANGE_NOT_SATISFIABLE, "text/plain", 0, &p,
                                    end) ||
        !add("content-range:", "bytes */" + std::to_string(size)) ||
        lws_finalize_write_http_header(wsi, start, &p, end)) {
      return -1;
    }
    return lws_http_transaction_completed(wsi) ? -1 : 0;
  }
  const bool partial = range.kind == ByteRange::Kind::kPartial;
  if (lws_add_http_common_headers(wsi, partial ? HTTP_STATUS_PARTIAL_CONTENT : HTTP_STATUS_OK,
                                  "application/octet-stream", range.length, &p, end) ||
      !add("accept-ranges:", "bytes") || !add("cache-control:", "no-store") ||
      (partial && !add("content-range:", "bytes " + std::to_string(range.first) + "-" +
                                             std::to_string(range.first + range.length - 1) + "/" +
                                             std::to_string(size))) ||
      lws_finalize_write_http_header(wsi, start, &p, end)) {
    ::close(fd);
    return -1;
  }
  log_.debug("serving artifact " + name + " bytes " + std::to_string(range.first) + "+" +
             std::to_string(range.length));
  if (range.length == 0) {
    ::close(fd);
    return lws_http_transaction_completed(wsi) ? -1 : 0;
  }
  delete pss.file;
  pss.file = new FileTxn;
  pss.file->fd = fd;
  pss.file->offset = range.first;
  pss.file->remaining = range.length;
  lws_callback_on_writable(wsi);
  return 0;
}

int Server::Impl::write_artifact(lws* wsi, Pss& pss) {
  FileTxn& f = *pss.file;
  const std::size_t want =
      static_cast<std::size_t>(std::min<std::uint64_t>(FileTxn::kSlice, f.remaining));
  const ssize_t n = ::pread(f.fd, f.buf.data() + LWS_PRE, want, static_cast<off_t>(f.offset));
  if (n <= 0) return -1;  // shorter than when it was hashed: cut the response
  const auto got = static_cast<std::size_t>(n);
  f.offset += got;
  f.remaining -= got;
  const bool last = f.remaining == 0;
  if (lws_write(wsi, f.buf.data() + LWS_PRE, got, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) <
      static_cast<int>(got)) {
    return -1;
  }
  if (!last) {
    lws_callback_on_writable(wsi);
    return 0;
  }
  delete pss.file;
  pss.file = nullptr;
  return lws_http_transaction_completed(wsi) ? -1 : 0;
}

Result<std::unique_ptr<Server>> Server::create(const HubConfig& config, Store& store,
                                               Accounts& accounts, SqlOperatorStore& operator_store,
                                               HubCore& core, const Logger& log) {
  auto impl = std::make_unique<Impl>(config, store, accounts, operator_store, core, log);
  if (auto s = impl->start(); !s.ok()) return s.error();
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() = default;
std::uint16_t Server::port() const {
  return impl_->port();
}
int Server::run() {
  return impl_->run();
}
OperatorAuth& Server::operator_auth() {
  return impl_->operator_auth();
}

}  // namespace tether::hub
