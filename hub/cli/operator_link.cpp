#include "hub/cli/operator_link.hpp"

#include <libwebsockets.h>
#include <netdb.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <deque>
#include <vector>

#include "daemon/transport/message_assembler.hpp"
#include "daemon/transport/tls_context.hpp"
#include "daemon/transport/vhost_binding.hpp"
#include "daemon/transport/websocket_frame.hpp"

namespace tether::hub::cli {

namespace {

namespace transport = daemon::transport;

constexpr const char* kProtocolName = "tether-operator-cli";
constexpr std::size_t kReceiveChunk = 65536;
// wire.md: a message is at most 1 MiB.
constexpr std::size_t kMaxMessage = 1048576;
constexpr std::chrono::milliseconds kConnectTimeout{20'000};
constexpr std::chrono::milliseconds kCloseGrace{2'000};

const lws_protocols kProtocols[] = {
    {kProtocolName, transport::VhostBinding<OperatorLink::Impl>::callback, 0, kReceiveChunk, 0,
     nullptr, 0},
    {nullptr, nullptr, 0, 0, 0, nullptr, 0},
};

// Addresses of `host`, IPv4 first (a hub named "localhost" usually listens on
// 127.0.0.1 only); runs on a worker thread.
Result<std::vector<std::string>> resolve(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &found);
  if (rc != 0) return Error(ErrorCode::kUnavailable, "resolving " + host + ": " + gai_strerror(rc));
  std::vector<std::string> v4;
  std::vector<std::string> v6;
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    if (a->ai_family != AF_INET && a->ai_family != AF_INET6) continue;
    char text[INET6_ADDRSTRLEN] = {};
    if (::getnameinfo(a->ai_addr, a->ai_addrlen, text, sizeof text, nullptr, 0, NI_NUMERICHOST) !=
        0) {
      continue;
    }
    auto& list = a->ai_family == AF_INET ? v4 : v6;
    if (std::find(list.begin(), list.end(), text) == list.end()) list.emplace_back(text);
  }
  ::freeaddrinfo(found);
  v4.insert(v4.end(), v6.begin(), v6.end());
  if (v4.empty()) return Error(ErrorCode::kUnavailable, "resolving " + host + ": no address");
  return v4;
}

}  // namespace

std::string operator_path(const std::string& device) {
  return "/api/management/v1/deviceconnect/devices/" + device + "/connect";
}

std::string describe_refusal(int http_status) {
  switch (http_status) {
    case 401:
      return "the hub refused the API token (HTTP 401): revoked, expired or mistyped";
    case 403:
      return "the hub refused the connection (HTTP 403)";
    case 404:
      return "the hub knows no such device (HTTP 404)";
    case 409:
      return "the device is not connected to the hub (HTTP 409)";
    case 429:
      return "too many operators are attached to the device (HTTP 429)";
    default:
      return "the hub refused the connection (HTTP " + std::to_string(http_status) + ")";
  }
}

class OperatorLink::Impl {
 public:
  Impl(daemon::EventLoop& loop, HubAccess hub, const std::string& device, Events events)
      : loop_(loop),
        hub_(std::move(hub)),
        path_(operator_path(device)),
        events_(std::move(events)),
        connect_timer_(loop),
        close_timer_(loop) {}

  ~Impl() {
    *alive_ = false;
    if (wsi_ != nullptr) lws_set_timeout(wsi_, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    transport::VhostBinding<Impl>::release(binding_, vhost_);
  }

  Status init() {
    auto tls = transport::make_client_tls_context({hub_.ca_file, {}, {}});
    if (!tls.ok()) return tls.error().wrap("option '--ca-file'");
    tls_ = std::move(tls).value();
    lws_context_creation_info info;
    std::memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = kProtocols;
    info.vhost_name = kProtocolName;
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.provided_client_ssl_ctx = tls_.get();
    binding_ = transport::VhostBinding<Impl>::attach(this);
    info.user = binding_;
    info.gid = -1;
    info.uid = -1;
    vhost_ = lws_create_vhost(loop_.lws(), &info);
    if (vhost_ == nullptr) return Error(ErrorCode::kInternal, "creating the client vhost failed");
    return Status::Ok();
  }

  void start() {
    connect_timer_.start(kConnectTimeout, [this] {
      finish(Error(ErrorCode::kUnavailable, "connecting to " + hub_name() + " timed out"));
    });
    auto result = std::make_shared<Result<std::vector<std::string>>>(Error("not resolved"));
    std::weak_ptr<bool> alive = alive_;
    loop_.run_blocking([result, host = hub_.url.host] { *result = resolve(host); },
                       [this, alive, result] {
                         if (alive.expired() || finished_) return;
                         if (!result->ok()) {
                           finish(result->error());
                           return;
                         }
                         addresses_ = std::move(*result).value();
                         dial();
                       });
  }

  void dial() {
    const std::string& address = addresses_[next_address_++];
    lws_client_connect_info ci;
    std::memset(&ci, 0, sizeof ci);
    ci.context = loop_.lws();
    ci.vhost = vhost_;
    ci.address = address.c_str();
    ci.port = hub_.url.port;
    ci.path = path_.c_str();
    // The name, not the address: for the Host header, SNI and the certificate's
    // host name check. No origin: this is not a browser.
    ci.host = hub_.url.host.c_str();
    ci.ssl_connection = LCCSCF_USE_SSL;
    ci.local_protocol_name = kProtocolName;
    ci.ietf_version_or_minus_one = -1;
    in_connect_call_ = true;
    lws* wsi = lws_client_connect_via_info(&ci);
    in_connect_call_ = false;
    if (finished_) return;
    if (dial_failed_in_call_) {
      dial_failed_in_call_ = false;
      return;
    }
    if (wsi == nullptr) {
      finish(Error(ErrorCode::kUnavailable, "connecting to " + hub_name() + " failed"));
      return;
    }
    wsi_ = wsi;
  }

  void send(const protocol::ProtoMsg& msg) {
    if (!open_ || closing_) return;
    protocol::Bytes encoded = protocol::encode(msg);
    queue_.push_back(std::move(encoded));
    if (wsi_ != nullptr) lws_callback_on_writable(wsi_);
  }

  void close() {
    if (finished_) return;
    if (!open_ || wsi_ == nullptr) {
      finish(Status::Ok());
      return;
    }
    closing_ = true;
    lws_callback_on_writable(wsi_);
    close_timer_.start(kCloseGrace, [this] { finish(Status::Ok()); });
  }

  bool is_current(lws* wsi) const {
    return !finished_ && (wsi == wsi_ || (in_connect_call_ && wsi_ == nullptr));
  }

  int dispatch(lws* wsi, lws_callback_reasons reason, void* in, std::size_t len) {
    switch (reason) {
      case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
        if (!is_current(wsi)) return -1;
        auto** position = static_cast<unsigned char**>(in);
        unsigned char* end = *position + len;
        const std::string value = "Bearer " + hub_.token;
        return lws_add_http_header_by_name(wsi,
                                           reinterpret_cast<const unsigned char*>("authorization:"),
                                           reinterpret_cast<const unsigned char*>(value.data()),
                                           static_cast<int>(value.size()), position, end) != 0
                   ? -1
                   : 0;
      }
      case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (is_current(wsi)) on_connection_error(wsi, static_cast<const char*>(in));
        return 0;
      case LWS_CALLBACK_CLIENT_ESTABLISHED:
        if (!is_current(wsi)) return -1;
        connect_timer_.cancel();
        open_ = true;
        if (events_.on_open) events_.on_open();
        return 0;
      case LWS_CALLBACK_CLIENT_RECEIVE:
        if (!is_current(wsi)) return -1;
        return on_receive(wsi, in, len);
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
        if (is_current(wsi)) {
          wsi_ = nullptr;
          if (closing_) {
            finish(Status::Ok());
          } else {
            finish(Error(
                ErrorCode::kUnavailable,
                "the hub closed the connection" +
                    (peer_close_code_ != 0 ? " (code " + std::to_string(peer_close_code_) + ")"
                                           : std::string())));
          }
        }
        return 0;
      default:
        return 0;
    }
  }

 private:
  void on_connection_error(lws* wsi, const char* reason) {
    const std::string why = reason != nullptr ? reason : "unknown error";
    int status = static_cast<int>(lws_http_client_http_response(wsi));
    if (why.find("unauthorized") != std::string::npos) status = 401;
    std::string tls_error;
    if (SSL* ssl = lws_get_ssl(wsi); ssl != nullptr) {
      const long verdict = SSL_get_verify_result(ssl);
      if (verdict != X509_V_OK) tls_error = X509_verify_cert_error_string(verdict);
    }
    if (in_connect_call_) dial_failed_in_call_ = true;
    wsi_ = nullptr;
    if (!tls_error.empty()) {
      finish(Error(ErrorCode::kAccessDenied, "the certificate of " + hub_name() +
                                                 " failed verification: " + tls_error +
                                                 " (is --ca-file the hub's CA?)"));
    } else if (status > 0) {
      finish(
          Error(status == 401 || status == 403 ? ErrorCode::kAccessDenied : ErrorCode::kUnavailable,
                describe_refusal(status)));
    } else if (next_address_ < addresses_.size()) {
      // Not a refusal: the next address may answer. Posted, not called, because lws
      // is still inside this wsi's callback.
      std::weak_ptr<bool> alive = alive_;
      loop_.post([this, alive] {
        if (!alive.expired() && !finished_) dial();
      });
    } else {
      finish(Error(ErrorCode::kUnavailable, "connecting to " + hub_name() + " failed: " + why));
    }
  }

  int on_receive(lws* wsi, const void* in, std::size_t len) {
    const transport::Fragment fragment{
        lws_is_first_fragment(wsi) != 0, lws_frame_is_binary(wsi) != 0,
        lws_is_final_fragment(wsi) != 0, lws_remaining_packet_payload(wsi)};
    const auto outcome =
        rx_.add({static_cast<const std::uint8_t*>(in), len}, fragment, kMaxMessage);
    using Outcome = transport::MessageAssembler::Outcome;
    if (outcome == Outcome::kNotBinary || outcome == Outcome::kTooBig) {
      wsi_ = nullptr;
      finish(Error(ErrorCode::kProtocol, outcome == Outcome::kNotBinary
                                             ? "the hub sent a text message"
                                             : "the hub sent a message over 1 MiB"));
      return -1;
    }
    if (outcome != Outcome::kComplete) return 0;
    auto decoded = protocol::decode(rx_.take());
    if (!decoded.ok()) return 0;  // not ours to judge: the hub relays device messages
    if (events_.on_message) events_.on_message(*decoded);
    return 0;
  }

  int on_writable(lws* wsi) {
    if (queue_.empty()) {
      if (closing_) {
        static const char kReason[] = "done";
        lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL,
                         reinterpret_cast<unsigned char*>(const_cast<char*>(kReason)),
                         sizeof kReason - 1);
        return -1;
      }
      return 0;
    }
    protocol::Bytes next = std::move(queue_.front());
    queue_.pop_front();
    auto key = transport::random_mask_key();
    if (!key.ok()) return -1;
    out_.resize(transport::kMaxClientFrameHeader + next.size());
    std::copy(next.begin(), next.end(), out_.begin() + transport::kMaxClientFrameHeader);
    const auto frame = transport::frame_client_binary(out_, transport::kMaxClientFrameHeader, *key);
    const int written =
        frame.empty() ? -1 : lws_write(wsi, frame.data(), frame.size(), LWS_WRITE_RAW);
    if (written < static_cast<int>(frame.size())) return -1;
    if (!queue_.empty() || closing_) lws_callback_on_writable(wsi);
    return 0;
  }

  // The one end of the link: reports once, on a fresh loop turn (the caller may be
  // inside an lws callback, and on_closed may destroy this object).
  void finish(const Status& status) {
    if (finished_) return;
    finished_ = true;
    open_ = false;
    connect_timer_.cancel();
    close_timer_.cancel();
    if (wsi_ != nullptr) {
      lws_set_timeout(wsi_, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
      wsi_ = nullptr;
    }
    queue_.clear();
    std::weak_ptr<bool> alive = alive_;
    loop_.post([this, alive, status] {
      if (alive.expired()) return;
      if (events_.on_closed) events_.on_closed(status);
    });
  }

  std::string hub_name() const { return "https://" + hub_.url.authority(); }

  daemon::EventLoop& loop_;
  HubAccess hub_;
  std::string path_;
  Events events_;
  daemon::Timer connect_timer_;
  daemon::Timer close_timer_;
  transport::SslCtxPtr tls_;
  lws_vhost* vhost_ = nullptr;
  transport::VhostBinding<Impl>* binding_ = nullptr;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  std::vector<std::string> addresses_;
  std::size_t next_address_ = 0;
  lws* wsi_ = nullptr;
  bool in_connect_call_ = false;
  bool dial_failed_in_call_ = false;
  bool open_ = false;
  bool closing_ = false;
  bool finished_ = false;
  int peer_close_code_ = 0;
  std::deque<protocol::Bytes> queue_;
  transport::MessageAssembler rx_;
  std::vector<std::uint8_t> out_;
};

Result<std::unique_ptr<OperatorLink>> OperatorLink::create(daemon::EventLoop& loop,
                                                           const HubAccess& hub,
                                                           const std::string& device,
                                                           Events events) {
  auto impl = std::make_unique<Impl>(loop, hub, device, std::move(events));
  if (auto s = impl->init(); !s.ok()) return s.error();
  return std::unique_ptr<OperatorLink>(new OperatorLink(std::move(impl)));
}

OperatorLink::OperatorLink(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
OperatorLink::~OperatorLink() = default;

void OperatorLink::start() {
  impl_->start();
}
void OperatorLink::send(const protocol::ProtoMsg& msg) {
  impl_->send(msg);
}
void OperatorLink::close() {
  impl_->close();
}

}  // namespace tether::hub::cli
