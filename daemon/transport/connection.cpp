#include "daemon/transport/connection.hpp"

#include <arpa/inet.h>
#include <libwebsockets.h>
#include <netdb.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cstring>
#include <iterator>
#include <sstream>
#include <vector>

#include "daemon/transport/backoff.hpp"
#include "daemon/transport/credential_source.hpp"
#include "daemon/transport/message_assembler.hpp"
#include "daemon/transport/tls_context.hpp"
#include "daemon/transport/vhost_binding.hpp"
#include "daemon/transport/websocket_frame.hpp"

namespace tether::daemon::transport {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr const char* kClientProtocolName = "tether-client";
// libwebsockets hands received data over in pieces of at most this size.
constexpr std::size_t kReceiveChunk = 65536;
// How long shutdown waits for the close handshake before dropping the socket.
constexpr milliseconds kCloseGrace{1500};

const lws_protocols kClientProtocols[] = {
    {kClientProtocolName, VhostBinding<Connection::Impl>::callback, 0, kReceiveChunk, 0, nullptr,
     0},
    {nullptr, nullptr, 0, 0, 0, nullptr, 0},
};

// Why a dial ended, which decides the wait before the next one.
enum class Failure { kTransient, kRefusedCredentials, kNoToken };

std::string describe(milliseconds d) {
  std::ostringstream out;
  if (d.count() % 1000 == 0) {
    out << d.count() / 1000 << " s";
  } else {
    out << static_cast<double>(d.count()) / 1000.0 << " s";
  }
  return out.str();
}

// Addresses of `host`, IPv4 first: many device networks have IPv6 addresses on
// paper and no IPv6 route; a failed dial moves on to the next address.
Result<std::vector<std::string>> resolve(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_ADDRCONFIG;
  addrinfo* found = nullptr;
  const int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &found);
  if (rc != 0) return Error(std::string(gai_strerror(rc)));
  std::vector<std::string> v4;
  std::vector<std::string> v6;
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    // getnameinfo instead of casting ai_addr to sockaddr_in*: the cast raises the
    // alignment, which 32-bit ARM builds (-Wcast-align) rightly refuse.
    char text[INET6_ADDRSTRLEN] = {};
    if (a->ai_family != AF_INET && a->ai_family != AF_INET6) continue;
    if (::getnameinfo(a->ai_addr, a->ai_addrlen, text, sizeof text, nullptr, 0, NI_NUMERICHOST) !=
        0)
      continue;
    auto& list = a->ai_family == AF_INET ? v4 : v6;
    if (std::find(list.begin(), list.end(), text) == list.end()) list.emplace_back(text);
  }
  ::freeaddrinfo(found);
  v4.insert(v4.end(), v6.begin(), v6.end());
  if (v4.empty()) return Error("no IPv4 or IPv6 address");
  return v4;
}

bool is_address_literal(const std::string& host) {
  in6_addr v6{};
  in_addr v4{};
  return inet_pton(AF_INET, host.c_str(), &v4) == 1 || inet_pton(AF_INET6, host.c_str(), &v6) == 1;
}

}  // namespace

class Connection::Impl {
 public:
  Impl(EventLoop& loop, Settings settings, const log::Logger& logger)
      : loop_(loop),
        settings_(std::move(settings)),
        log_(logger),
        url_(settings_.url),
        token_file_(settings_.server.token_file),
        backoff_({milliseconds(1000), settings_.server.backoff_max, milliseconds(100)}),
        queue_(
            settings_.outbound_limits,
            [&loop](std::function<void()> fn) { loop.post(std::move(fn)); },
            [this] { wake_writer(); }),
        retry_timer_(loop),
        connect_timer_(loop),
        ping_timer_(loop),
        pong_timer_(loop),
        stable_timer_(loop),
        close_timer_(loop) {}

  ~Impl() {
    *alive_ = false;
    VhostBinding<Impl>::release(binding_, vhost_);
  }

  Status init() {
    // A ws:// server needs no TLS context: not building one keeps OpenSSL's
    // algorithm tables and the CA store out of memory.
    // With server.auth = mender the server URL may come from Mender, and with it wss://.
    if (settings_.url.tls || settings_.server.auth == AuthMode::kMender) {
      auto tls = make_client_tls_context(
          {settings_.server.ca_file, settings_.server.cert_file, settings_.server.key_file});
      if (!tls) return tls.error();
      tls_ = std::move(tls).value();
    }

    lws_context_creation_info info;
    std::memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = kClientProtocols;
    info.vhost_name = "tether-client";
    if (tls_) {
      info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
      info.provided_client_ssl_ctx = tls_.get();
    }
    binding_ = VhostBinding<Impl>::attach(this);
    info.user = binding_;
    info.gid = -1;
    info.uid = -1;
    std::string proxy_address;
    if (settings_.proxy) {
      proxy_address = settings_.proxy->credentials.empty()
                          ? settings_.proxy->host
                          : settings_.proxy->credentials + "@" + settings_.proxy->host;
      info.http_proxy_address = proxy_address.c_str();
      info.http_proxy_port = settings_.proxy->port;
    }
    vhost_ = lws_create_vhost(loop_.lws(), &info);
    if (vhost_ == nullptr) return Error("creating the client vhost failed");
    return {};
  }

  // --- state machine -------------------------------------------------------

  void start() {
    if (settings_.proxy)
      log_.info("using HTTP proxy " + settings_.proxy->host + ":" +
                std::to_string(settings_.proxy->port));
    dial();
  }

  void dial() {
    if (stopping_) return;
    ++attempt_;
    last_tls_error_.clear();
    token_.clear();
    url_ = settings_.url;
    std::string no_credentials;  // why this dial cannot start, when it cannot
    if (settings_.server.auth != AuthMode::kNone) {
      CredentialSource& source = credential_source_ != nullptr ? *credential_source_ : token_file_;
      auto credentials = source.credentials();
      if (!credentials) {
        no_credentials = "no token: " + source.missing_reason();
      } else if (auto url = credentials->server_url.empty()
                                ? Result<ServerUrl>(settings_.url)
                                : url_from_credentials(credentials->server_url);
                 !url) {
        no_credentials =
            "the server URL from the credentials is unusable: " + url.error().message();
      } else {
        url_ = std::move(url).value();
        token_ = std::move(credentials->token);
      }
    }
    set_state(LinkState::kConnecting, "connecting to " + server_name());
    if (!no_credentials.empty()) {
      log_.warn(no_credentials + "; retrying in " + describe(settings_.server.auth_backoff));
      fail(Failure::kNoToken);
      return;
    }
    connect_timer_.start(settings_.connect_timeout, [this, attempt = attempt_] {
      if (attempt != attempt_ || state_ != LinkState::kConnecting) return;
      log_.warn("connecting to " + server_name() + " timed out after " +
                describe(settings_.connect_timeout));
      abandon_wsi();
      fail(Failure::kTransient);
    });
    const std::string& host = url_.host;
    if (settings_.proxy || is_address_literal(host)) {
      connect_to(host);
      return;
    }
    // Debian's libwebsockets resolves with a blocking getaddrinfo: resolve on a
    // worker and hand lws an address literal, keeping the name for TLS and Host.
    auto result = std::make_shared<Result<std::vector<std::string>>>(Error("not resolved"));
    std::weak_ptr<bool> alive = alive_;
    loop_.run_blocking([result, host] { *result = resolve(host); },
                       [this, alive, result, host, attempt = attempt_] {
                         if (alive.expired() || attempt != attempt_ || stopping_) return;
                         if (!*result) {
                           log_.warn("resolving " + host + " failed: " + result->error().message());
                           connect_timer_.cancel();
                           fail(Failure::kTransient);
                           return;
                         }
                         addresses_ = std::move(*result).value();
                         connect_to(addresses_[next_address_ % addresses_.size()]);
                       });
  }

  void connect_to(const std::string& address) {
    address_ = address;
    lws_client_connect_info ci;
    std::memset(&ci, 0, sizeof ci);
    ci.context = loop_.lws();
    ci.vhost = vhost_;
    ci.address = address_.c_str();
    ci.port = url_.port;
    ci.path = url_.path.c_str();
    // The name, not the address: lws uses .host for the Host header, SNI and the
    // certificate's host name check.
    ci.host = url_.host.c_str();
    ci.origin = url_.host.c_str();
    ci.ssl_connection = url_.tls ? LCCSCF_USE_SSL : 0;
    ci.local_protocol_name = kClientProtocolName;
    ci.ietf_version_or_minus_one = -1;
    log_.debug("dialling " + server_name() + " at " + address_);
    in_connect_call_ = true;
    lws* wsi = lws_client_connect_via_info(&ci);
    in_connect_call_ = false;
    if (attempt_finished_in_connect_call_) {
      attempt_finished_in_connect_call_ = false;
      return;  // the failure was already handled from inside the call
    }
    if (wsi == nullptr) {
      log_.warn("connecting to " + server_name() + " (" + address_ + ") failed at once");
      connect_timer_.cancel();
      fail(Failure::kTransient);
      return;
    }
    wsi_ = wsi;
  }

  // Every end of a dial or a link comes through here exactly once per attempt.
  // Ends the current attempt or link: its timers stop and, if it was online, the
  // listener hears that the link is down. Returns whether it was online.
  bool end_attempt() {
    const bool was_online = state_ == LinkState::kOnline;
    wsi_ = nullptr;
    connect_timer_.cancel();
    ping_timer_.cancel();
    pong_timer_.cancel();
    stable_timer_.cancel();
    ping_due_ = false;
    token_.assign(token_.size(), '\0');
    token_.clear();
    if (was_online) {
      queue_.set_connected(false);
      if (listener_ != nullptr) listener_->on_link_down();
    }
    return was_online;
  }

  void fail(Failure failure) {
    const bool was_online = end_attempt();
    if (stopping_) {
      finish_shutdown();
      return;
    }
    milliseconds wait{};
    switch (failure) {
      case Failure::kRefusedCredentials:
      case Failure::kNoToken:
        wait = settings_.server.auth_backoff;
        break;
      case Failure::kTransient:
        if (!was_online) ++next_address_;
        wait = backoff_.next_delay();
        break;
    }
    set_state(LinkState::kOffline, "offline; next dial in " + describe(wait));
    log_.info("reconnecting to " + server_name() + " in " + describe(wait));
    retry_timer_.start(wait, [this] { dial(); });
  }

  // Drops the current wsi without waiting for lws to tell us: its later
  // callbacks carry an old attempt number and are ignored.
  void abandon_wsi() {
    if (wsi_ != nullptr) lws_set_timeout(wsi_, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    wsi_ = nullptr;
  }

  void reconnect_now() {
    if (stopping_) return;
    log_.info("dropping the connection to " + server_name() + " and dialling again now");
    abandon_wsi();
    end_attempt();
    retry_timer_.cancel();
    dial();
  }

  // server.auth = mender: the URL Mender reports (https://host[:port][/prefix])
  // becomes wss://host[:port]/prefix + server.url's path.
  Result<ServerUrl> url_from_credentials(const std::string& text) const {
    std::string ws = text;
    if (ws.rfind("https://", 0) == 0) {
      ws = "wss://" + ws.substr(8);
    } else if (ws.rfind("http://", 0) == 0) {
      ws = "ws://" + ws.substr(7);
    }
    while (!ws.empty() && ws.back() == '/') ws.pop_back();
    auto url = parse_server_url(ws + settings_.url.path);
    if (!url) return url.error();
    return std::move(url).value();
  }

  void shutdown(std::function<void()> done) {
    shutdown_done_ = std::move(done);
    stopping_ = true;
    retry_timer_.cancel();
    if (state_ == LinkState::kOnline && wsi_ != nullptr) {
      closing_ = true;
      lws_callback_on_writable(wsi_);
      close_timer_.start(kCloseGrace, [this] {
        abandon_wsi();
        fail(Failure::kTransient);
      });
      return;
    }
    abandon_wsi();
    if (state_ == LinkState::kConnecting) {
      fail(Failure::kTransient);
    } else {
      finish_shutdown();
    }
  }

  void finish_shutdown() {
    close_timer_.cancel();
    connect_timer_.cancel();
    retry_timer_.cancel();
    set_state(LinkState::kStopped, "stopped");
    if (shutdown_done_) {
      auto done = std::move(shutdown_done_);
      shutdown_done_ = nullptr;
      loop_.post(std::move(done));
    }
  }

  // --- lws events ----------------------------------------------------------

  // Whether `wsi` is the connection of the current attempt. Abandoned wsis (dead
  // link, timeout, shutdown) keep calling back until lws has closed them; they no
  // longer equal wsi_ and are ignored. While lws_client_connect_via_info runs,
  // wsi_ is not assigned yet and the only wsi that can call back is the new one.
  // Pointer identity is safe: an abandoned wsi is still allocated while it calls
  // back, so no newer wsi can have its address.
  bool is_current(lws* wsi) const { return wsi == wsi_ || (in_connect_call_ && wsi_ == nullptr); }

  void on_connection_error(lws* wsi, const char* reason) {
    const std::string why = reason != nullptr ? reason : "unknown error";
    int status = static_cast<int>(lws_http_client_http_response(wsi));
    if (why.find("unauthorized") != std::string::npos) status = 401;
    if (in_connect_call_) attempt_finished_in_connect_call_ = true;
    // lws' own text for a failed handshake is an opaque OpenSSL error; the
    // certificate check's verdict is what an operator needs to read.
    if (SSL* ssl = lws_get_ssl(wsi); ssl != nullptr) {
      const long verdict = SSL_get_verify_result(ssl);
      if (verdict != X509_V_OK) last_tls_error_ = X509_verify_cert_error_string(verdict);
    }
    if (status == 401 || status == 403) {
      log_.warn("server " + server_name() + " refused the credentials (HTTP " +
                std::to_string(status) + "); re-reading the token and waiting at least " +
                describe(settings_.server.auth_backoff));
      if (credential_source_ != nullptr) credential_source_->refused();
      fail(Failure::kRefusedCredentials);
      return;
    }
    std::string line = "connection to " + server_name() + " (" + address_ + ") failed: ";
    if (!last_tls_error_.empty()) {
      line += "TLS certificate verify failed for host " + url_.host + ": " + last_tls_error_;
    } else if (status > 0) {
      line += "HTTP " + std::to_string(status) + " (" + why + ")";
    } else {
      line += why;
    }
    log_.warn(line);
    fail(Failure::kTransient);
  }

  void on_established() {
    connect_timer_.cancel();
    token_.assign(token_.size(), '\0');
    token_.clear();
    rx_.reset();
    queue_.set_connected(true);
    set_state(LinkState::kOnline, "online: connected to " + server_name());
    log_.info("connected to " + server_name() + " (" + address_ + ")");
    schedule_ping();
    stable_timer_.start(settings_.server.stable_after, [this] {
      log_.debug("connection stable; backoff reset");
      backoff_.reset();
    });
    if (listener_ != nullptr) listener_->on_link_up();
  }

  void schedule_ping() {
    ping_timer_.start(settings_.server.ping_interval, [this] {
      if (state_ != LinkState::kOnline || wsi_ == nullptr) return;
      ping_due_ = true;
      lws_callback_on_writable(wsi_);
      schedule_ping();
    });
  }

  void saw_traffic() { pong_timer_.cancel(); }

  // Returns nonzero to close the connection (after lws_close_reason).
  int on_receive(lws* wsi, const void* in, std::size_t len) {
    saw_traffic();
    const Fragment fragment{lws_is_first_fragment(wsi) != 0, lws_frame_is_binary(wsi) != 0,
                            lws_is_final_fragment(wsi) != 0, lws_remaining_packet_payload(wsi)};
    const auto outcome = rx_.add({static_cast<const std::uint8_t*>(in), len}, fragment,
                                 settings_.server.max_message);
    if (outcome == MessageAssembler::Outcome::kNotBinary) {
      log_.warn("server sent a text message; closing with 1003 (binary msgpack only)");
      static const char kReason[] = "binary messages only";
      lws_close_reason(wsi, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE,
                       reinterpret_cast<unsigned char*>(const_cast<char*>(kReason)),
                       sizeof kReason - 1);
      return -1;
    }
    if (outcome == MessageAssembler::Outcome::kTooBig) {
      log_.warn("server sent a message over server.max-message (" +
                std::to_string(settings_.server.max_message) + " bytes); closing with 1009");
      static const char kReason[] = "message too big";
      lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE,
                       reinterpret_cast<unsigned char*>(const_cast<char*>(kReason)),
                       sizeof kReason - 1);
      return -1;
    }
    if (outcome != MessageAssembler::Outcome::kComplete) return 0;
    protocol::Bytes message = rx_.take();
    auto decoded = protocol::decode(message);
    if (!decoded) {
      log_.debug("undecodable message (" + std::to_string(message.size()) +
                 " bytes): " + decoded.error().message());
      if (listener_ != nullptr) listener_->on_link_garbage(decoded.error());
    } else if (listener_ != nullptr) {
      listener_->on_link_message(decoded.value());
    }
    return 0;
  }

  int on_writable(lws* wsi) {
    // Last words queued by on_shutdown go out before the close frame.
    if (closing_ && queue_.empty()) {
      static const char kReason[] = "device shutting down";
      lws_close_reason(wsi, LWS_CLOSE_STATUS_GOINGAWAY,
                       reinterpret_cast<unsigned char*>(const_cast<char*>(kReason)),
                       sizeof kReason - 1);
      return -1;
    }
    if (ping_due_) {
      ping_due_ = false;
      unsigned char frame[LWS_PRE + 4];
      if (lws_write(wsi, frame + LWS_PRE, 0, LWS_WRITE_PING) < 0) return -1;
      // The deadline runs from the first unanswered ping: re-arming it on every ping
      // would push it out forever whenever pong-timeout >= ping-interval.
      if (!pong_timer_.pending())
        pong_timer_.start(settings_.server.pong_timeout, [this] {
          log_.warn("no pong or frame from " + server_name() + " within " +
                    describe(settings_.server.pong_timeout) + " after a ping; the link is dead");
          abandon_wsi();
          fail(Failure::kTransient);
        });
      if (!queue_.empty()) lws_callback_on_writable(wsi);
      return 0;
    }
    auto next = queue_.pop();
    if (!next) return 0;
    // Data frames are framed and masked here (websocket_frame.hpp says why) and
    // go through lws untouched; pings and the close frame stay with lws.
    auto key = mask_keys_.next();
    if (!key) {
      log_.warn("framing a message for " + server_name() + ": " + key.error().message());
      return -1;
    }
    out_.resize(kMaxClientFrameHeader + next->size());
    std::copy(next->begin(), next->end(), out_.begin() + kMaxClientFrameHeader);
    const auto frame = frame_client_binary(out_, kMaxClientFrameHeader, *key);
    const int written =
        frame.empty() ? -1 : lws_write(wsi, frame.data(), frame.size(), LWS_WRITE_RAW);
    if (written < static_cast<int>(frame.size())) {
      log_.warn("writing to " + server_name() + " failed");
      return -1;
    }
    if (!queue_.empty() || ping_due_ || closing_) lws_callback_on_writable(wsi);
    return 0;
  }

  void on_closed() {
    log_.info("connection to " + server_name() + " closed" +
              (peer_close_code_ != 0
                   ? " by the server (code " + std::to_string(peer_close_code_) + ")"
                   : ""));
    peer_close_code_ = 0;
    fail(Failure::kTransient);
  }

  int dispatch(lws* wsi, lws_callback_reasons reason, void* in, std::size_t len) {
    switch (reason) {
      case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
        if (!is_current(wsi) || token_.empty()) return 0;
        auto** position = static_cast<unsigned char**>(in);
        unsigned char* end = *position + len;
        const std::string value = "Bearer " + token_;
        if (lws_add_http_header_by_name(wsi,
                                        reinterpret_cast<const unsigned char*>("authorization:"),
                                        reinterpret_cast<const unsigned char*>(value.data()),
                                        static_cast<int>(value.size()), position, end) != 0)
          return -1;
        return 0;
      }
      case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (is_current(wsi)) on_connection_error(wsi, static_cast<const char*>(in));
        return 0;
      case LWS_CALLBACK_CLIENT_ESTABLISHED:
        if (!is_current(wsi)) return -1;
        on_established();
        return 0;
      case LWS_CALLBACK_CLIENT_RECEIVE:
        if (!is_current(wsi)) return -1;
        return on_receive(wsi, in, len);
      case LWS_CALLBACK_CLIENT_RECEIVE_PONG:
        if (is_current(wsi)) saw_traffic();
        return 0;
      case LWS_CALLBACK_CLIENT_WRITEABLE:
        if (!is_current(wsi)) return -1;
        return on_writable(wsi);
      case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (is_current(wsi) && len >= 2) {
          const auto* code = static_cast<const std::uint8_t*>(in);
          peer_close_code_ = (code[0] << 8) | code[1];
        }
        return 0;
      case LWS_CALLBACK_CLIENT_CLOSED:
        if (is_current(wsi)) on_closed();
        return 0;
      default:
        return 0;
    }
  }

  // --- helpers -------------------------------------------------------------

  void wake_writer() {
    if (wsi_ != nullptr && state_ == LinkState::kOnline) lws_callback_on_writable(wsi_);
  }

  std::string server_name() const {
    return std::string(url_.tls ? "wss://" : "ws://") + url_.authority();
  }

  void set_state(LinkState state, const std::string& sentence) {
    state_ = state;
    observers_.notify(state, sentence);
  }

  EventLoop& loop_;
  Settings settings_;
  const log::Logger& log_;
  ServerUrl url_;  // the URL of the current dial: server.url, or from the credentials
  TokenFileCredentials token_file_;
  CredentialSource* credential_source_ = nullptr;  // null: token_file_
  LinkListener* listener_ = nullptr;
  Backoff backoff_;
  OutboundQueue queue_;
  Timer retry_timer_;
  Timer connect_timer_;
  Timer ping_timer_;
  Timer pong_timer_;
  Timer stable_timer_;
  Timer close_timer_;
  SslCtxPtr tls_;
  lws_vhost* vhost_ = nullptr;
  VhostBinding<Impl>* binding_ = nullptr;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);

  LinkState state_ = LinkState::kOffline;
  LinkObservers observers_;
  std::uint64_t attempt_ = 0;  // counts dials, to ignore stale timers and DNS results
  lws* wsi_ = nullptr;
  bool in_connect_call_ = false;
  bool attempt_finished_in_connect_call_ = false;
  std::vector<std::string> addresses_;
  std::size_t next_address_ = 0;
  std::string address_;
  std::string token_;
  std::string last_tls_error_;
  int peer_close_code_ = 0;
  bool ping_due_ = false;
  bool closing_ = false;
  bool stopping_ = false;
  std::function<void()> shutdown_done_;
  MessageAssembler rx_;
  std::vector<unsigned char> out_;
  MaskKeySource mask_keys_;  // one per frame written
};

Result<Connection::Settings> Connection::settings_from(const ServerOptions& options) {
  Settings s;
  s.server = options;
  auto url = parse_server_url(options.url);
  if (!url) return url.error().wrap("server.url");
  s.url = std::move(url).value();
  auto proxy = choose_proxy(options.proxy, s.url.host);
  if (!proxy) return proxy.error();
  s.proxy = std::move(proxy).value();
  s.connect_timeout = options.ping_interval + options.pong_timeout;
  return s;
}

Result<std::unique_ptr<Connection>> Connection::create(EventLoop& loop, Settings settings,
                                                       const log::Logger& logger) {
  auto impl = std::make_unique<Impl>(loop, std::move(settings), logger);
  if (auto status = impl->init(); !status) return status.error();
  return std::unique_ptr<Connection>(new Connection(std::move(impl)));
}

Connection::Connection(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Connection::~Connection() = default;

void Connection::set_listener(LinkListener& listener) {
  impl_->listener_ = &listener;
}
void Connection::start() {
  impl_->start();
}
void Connection::shutdown(std::function<void()> done) {
  impl_->shutdown(std::move(done));
}
Outbound& Connection::outbound() {
  return impl_->queue_;
}
LinkState Connection::state() const {
  return impl_->state_;
}
void Connection::set_credential_source(CredentialSource& source) {
  impl_->credential_source_ = &source;
}
void Connection::reconnect_now() {
  impl_->reconnect_now();
}
std::string Connection::server_url() const {
  const ServerUrl& url = impl_->url_;
  return std::string(url.tls ? "wss://" : "ws://") + url.authority() + url.path;
}
LinkObservers& Connection::observers() {
  return impl_->observers_;
}

}  // namespace tether::daemon::transport
