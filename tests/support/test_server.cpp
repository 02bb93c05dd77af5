#include "tests/support/test_server.hpp"

#include <libwebsockets.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

namespace tether::test {
namespace {

using Clock = std::chrono::steady_clock;
using Bytes = std::vector<std::uint8_t>;

struct Outgoing {
  enum class Kind { kBinary, kText, kClose } kind = Kind::kBinary;
  Bytes data;
  int close_code = 1000;
};

struct Connection {
  std::deque<Outgoing> out;
  Bytes rx;
  int peer_close_code = 0;
};

std::string header(lws* wsi, lws_token_indexes token) {
  const int length = lws_hdr_total_length(wsi, token);
  if (length <= 0) return {};
  std::string value(static_cast<std::size_t>(length) + 1, '\0');
  const int copied = lws_hdr_copy(wsi, value.data(), length + 1, token);
  value.resize(copied > 0 ? static_cast<std::size_t>(copied) : 0);
  return value;
}

// The request's query ("a=1&b=2"); lws keeps each argument as a fragment.
std::string query(lws* wsi) {
  std::string out;
  char buffer[1024];
  for (int i = 0;; ++i) {
    const int n = lws_hdr_copy_fragment(wsi, buffer, sizeof buffer, WSI_TOKEN_HTTP_URI_ARGS, i);
    if (n <= 0) break;
    if (!out.empty()) out += '&';
    out.append(buffer, static_cast<std::size_t>(n));
  }
  return out;
}

int server_callback(lws* wsi, lws_callback_reasons reason, void* user, void* in, size_t len);

const lws_protocols kProtocols[] = {
    {"tether-test", server_callback, 0, 65536, 0, nullptr, 0},
    {nullptr, nullptr, 0, 0, 0, nullptr, 0},
};

}  // namespace

class TestServer::Impl {
 public:
  explicit Impl(Options o) : options(std::move(o)), port(options.port) {}

  Options options;
  int port = 0;

  // Shared between the test thread and the server thread.
  mutable std::mutex mu;
  std::condition_variable cv;
  std::deque<Handshake> handshakes;
  std::deque<Handshake> connections;
  std::deque<Bytes> messages;
  std::deque<int> closes;
  std::deque<Outgoing> commands;
  int connection_total = 0;
  int open_connections = 0;
  int reject_status = 0;

  std::atomic<bool> running{false};
  lws_context* context = nullptr;
  std::thread thread;

  // Server thread only.
  std::map<lws*, Connection> live;
  std::map<lws*, Handshake> upgrading;
  lws* newest = nullptr;

  template <typename T>
  std::optional<T> pop(std::deque<T>& queue, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu);
    if (!cv.wait_for(lock, timeout, [&] { return !queue.empty(); })) return std::nullopt;
    T value = std::move(queue.front());
    queue.pop_front();
    return value;
  }

  bool command(Outgoing outgoing) {
    {
      std::lock_guard lock(mu);
      if (open_connections == 0 || context == nullptr) return false;
      commands.push_back(std::move(outgoing));
    }
    lws_cancel_service(context);
    return true;
  }

  int on_event(lws* wsi, lws_callback_reasons reason, void* in, size_t len) {
    switch (reason) {
      case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE: {
        Handshake hs;
        hs.path = header(wsi, WSI_TOKEN_GET_URI);
        if (auto q = query(wsi); !q.empty()) hs.path += "?" + q;
        hs.at = Clock::now();
        if (auto v = header(wsi, WSI_TOKEN_HTTP_AUTHORIZATION); !v.empty())
          hs.headers["authorization"] = v;
        if (auto v = header(wsi, WSI_TOKEN_HOST); !v.empty()) hs.headers["host"] = v;
        if (auto v = header(wsi, WSI_TOKEN_ORIGIN); !v.empty()) hs.headers["origin"] = v;
        int reject = 0;
        {
          std::lock_guard lock(mu);
          reject = reject_status;
          hs.http_status = reject != 0 ? reject : 101;
          handshakes.push_back(hs);
        }
        cv.notify_all();
        if (reject != 0) {
          lws_return_http_status(wsi, static_cast<unsigned int>(reject), nullptr);
          return -1;
        }
        upgrading[wsi] = hs;
        return 0;
      }
      case LWS_CALLBACK_HTTP:
        lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, nullptr);
        return -1;
      case LWS_CALLBACK_ESTABLISHED: {
        live[wsi] = Connection{};
        newest = wsi;
        Handshake hs = upgrading[wsi];
        upgrading.erase(wsi);
        {
          std::lock_guard lock(mu);
          connections.push_back(hs);
          ++connection_total;
          open_connections = static_cast<int>(live.size());
        }
        cv.notify_all();
        return 0;
      }
      case LWS_CALLBACK_RECEIVE: {
        auto it = live.find(wsi);
        if (it == live.end()) return 0;
        const auto* bytes = static_cast<const std::uint8_t*>(in);
        it->second.rx.insert(it->second.rx.end(), bytes, bytes + len);
        if (lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0) {
          Bytes message = std::move(it->second.rx);
          it->second.rx.clear();
          if (lws_frame_is_binary(wsi)) {
            std::lock_guard lock(mu);
            messages.push_back(std::move(message));
          }
          cv.notify_all();
        }
        return 0;
      }
      case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE: {
        auto it = live.find(wsi);
        if (it != live.end() && len >= 2) {
          const auto* bytes = static_cast<const std::uint8_t*>(in);
          it->second.peer_close_code = (bytes[0] << 8) | bytes[1];
        }
        return 0;
      }
      case LWS_CALLBACK_CLOSED: {
        auto it = live.find(wsi);
        if (it == live.end()) return 0;
        const int code = it->second.peer_close_code != 0 ? it->second.peer_close_code : 1006;
        live.erase(it);
        if (newest == wsi) newest = live.empty() ? nullptr : live.rbegin()->first;
        {
          std::lock_guard lock(mu);
          closes.push_back(code);
          open_connections = static_cast<int>(live.size());
        }
        cv.notify_all();
        return 0;
      }
      case LWS_CALLBACK_EVENT_WAIT_CANCELLED: {
        std::deque<Outgoing> moved;
        {
          std::lock_guard lock(mu);
          moved.swap(commands);
        }
        if (newest == nullptr) return 0;
        auto& conn = live[newest];
        for (auto& o : moved) conn.out.push_back(std::move(o));
        if (!conn.out.empty()) lws_callback_on_writable(newest);
        return 0;
      }
      case LWS_CALLBACK_SERVER_WRITEABLE: {
        auto it = live.find(wsi);
        if (it == live.end() || it->second.out.empty()) return 0;
        Outgoing next = std::move(it->second.out.front());
        it->second.out.pop_front();
        if (next.kind == Outgoing::Kind::kClose) {
          lws_close_reason(wsi, static_cast<lws_close_status>(next.close_code), nullptr, 0);
          return -1;
        }
        std::vector<unsigned char> buffer(LWS_PRE + next.data.size());
        std::copy(next.data.begin(), next.data.end(), buffer.begin() + LWS_PRE);
        const auto mode = next.kind == Outgoing::Kind::kText ? LWS_WRITE_TEXT : LWS_WRITE_BINARY;
        if (lws_write(wsi, buffer.data() + LWS_PRE, next.data.size(), mode) <
            static_cast<int>(next.data.size()))
          return -1;
        if (!it->second.out.empty()) lws_callback_on_writable(wsi);
        return 0;
      }
      default:
        return 0;
    }
  }
};

namespace {
int server_callback(lws* wsi, lws_callback_reasons reason, void* /*user*/, void* in, size_t len) {
  auto* impl = static_cast<TestServer::Impl*>(lws_context_user(lws_get_context(wsi)));
  if (impl == nullptr) return 0;
  return impl->on_event(wsi, reason, in, len);
}
}  // namespace

TestServer::TestServer(Options options) : impl_(std::make_unique<Impl>(std::move(options))) {}

TestServer::~TestServer() {
  stop();
}

Status TestServer::start() {
  if (impl_->running) return {};
  lws_set_log_level(LLL_ERR, nullptr);
  lws_context_creation_info info;
  std::memset(&info, 0, sizeof info);
  info.port = impl_->port;
  info.iface = "127.0.0.1";
  info.protocols = kProtocols;
  info.user = impl_.get();
  info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
  info.timeout_secs = 5;
  if (impl_->options.tls) {
    info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.ssl_cert_filepath = impl_->options.cert_file.c_str();
    info.ssl_private_key_filepath = impl_->options.key_file.c_str();
    if (!impl_->options.client_ca_file.empty()) {
      info.ssl_ca_filepath = impl_->options.client_ca_file.c_str();
      info.options |= LWS_SERVER_OPTION_REQUIRE_VALID_OPENSSL_CLIENT_CERT;
    }
  }
  lws_context* context = lws_create_context(&info);
  if (context == nullptr) return Error("test server: lws_create_context failed");
  lws_vhost* vhost = lws_get_vhost_by_name(context, "default");
  if (vhost != nullptr && impl_->port == 0) impl_->port = lws_get_vhost_listen_port(vhost);
  {
    std::lock_guard lock(impl_->mu);
    impl_->context = context;
  }
  impl_->running = true;
  impl_->thread = std::thread([impl = impl_.get(), context] {
    while (impl->running) lws_service(context, 0);
  });
  return {};
}

void TestServer::stop() {
  if (!impl_->running) return;
  impl_->running = false;
  lws_context* context = impl_->context;
  lws_cancel_service(context);
  impl_->thread.join();
  {
    std::lock_guard lock(impl_->mu);
    impl_->context = nullptr;
  }
  lws_context_destroy(context);
  std::lock_guard lock(impl_->mu);
  impl_->live.clear();
  impl_->upgrading.clear();
  impl_->newest = nullptr;
  impl_->open_connections = 0;
  impl_->commands.clear();
}

bool TestServer::running() const {
  return impl_->running;
}
int TestServer::port() const {
  return impl_->port;
}

std::string TestServer::url(const std::string& path) const {
  return std::string(impl_->options.tls ? "wss" : "ws") +
         "://localhost:" + std::to_string(impl_->port) + path;
}

void TestServer::reject_upgrades_with(int http_status) {
  std::lock_guard lock(impl_->mu);
  impl_->reject_status = http_status == 101 ? 0 : http_status;
}

std::optional<TestServer::Handshake> TestServer::wait_for_handshake(
    std::chrono::milliseconds timeout) {
  return impl_->pop(impl_->handshakes, timeout);
}

std::optional<TestServer::Handshake> TestServer::wait_for_connection(
    std::chrono::milliseconds timeout) {
  return impl_->pop(impl_->connections, timeout);
}

int TestServer::connection_count() const {
  std::lock_guard lock(impl_->mu);
  return impl_->connection_total;
}

bool TestServer::connected() const {
  std::lock_guard lock(impl_->mu);
  return impl_->open_connections > 0;
}

bool TestServer::send_binary(std::vector<std::uint8_t> bytes) {
  return impl_->command({Outgoing::Kind::kBinary, std::move(bytes), 0});
}

bool TestServer::send_text(std::string text) {
  return impl_->command({Outgoing::Kind::kText, Bytes(text.begin(), text.end()), 0});
}

bool TestServer::send(const protocol::ProtoMsg& msg) {
  return send_binary(protocol::encode(msg));
}

bool TestServer::close(int code) {
  return impl_->command({Outgoing::Kind::kClose, {}, code});
}

std::optional<std::vector<std::uint8_t>> TestServer::receive(std::chrono::milliseconds timeout) {
  return impl_->pop(impl_->messages, timeout);
}

std::optional<protocol::ProtoMsg> TestServer::receive_message(std::chrono::milliseconds timeout) {
  auto bytes = receive(timeout);
  if (!bytes) return std::nullopt;
  auto decoded = protocol::decode(*bytes);
  if (!decoded) return std::nullopt;
  return std::move(decoded).value();
}

std::optional<int> TestServer::wait_for_close(std::chrono::milliseconds timeout) {
  return impl_->pop(impl_->closes, timeout);
}

void TestServer::clear_received() {
  std::lock_guard lock(impl_->mu);
  impl_->messages.clear();
}

}  // namespace tether::test
