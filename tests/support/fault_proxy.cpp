#include "tests/support/fault_proxy.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <list>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace tether::test {
namespace {

// Bytes read from one side and not yet written to the other.
struct Direction {
  std::vector<char> pending;
};

struct Link {
  int client = -1;
  int upstream = -1;
  Direction to_upstream;
  Direction to_client;
  bool dead = false;
};

void close_with_reset(int fd) {
  if (fd < 0) return;
  linger hard{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
  ::close(fd);
}

sockaddr_in loopback(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

}  // namespace

class FaultProxy::Impl {
 public:
  int listen_fd = -1;
  int wake_fd = -1;
  int port = 0;
  int target_port = 0;
  std::atomic<bool> running{true};
  std::atomic<bool> holding{false};
  std::atomic<bool> reset_requested{false};
  std::atomic<int> accepted{0};
  FaultProxy::Mode mode = FaultProxy::Mode::kTcp;
  mutable std::mutex connect_mu;
  std::string connect_request;
  std::thread thread;
  std::list<Link> links;  // proxy thread only

  ~Impl() {
    running = false;
    wake();
    if (thread.joinable()) thread.join();
    for (auto& link : links) {
      ::close(link.client);
      ::close(link.upstream);
    }
    if (listen_fd >= 0) ::close(listen_fd);
    if (wake_fd >= 0) ::close(wake_fd);
  }

  void wake() const {
    const std::uint64_t one = 1;
    if (wake_fd >= 0) (void)!::write(wake_fd, &one, sizeof one);
  }

  void accept_one() {
    const int client = ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (client < 0) return;
    if (mode == FaultProxy::Mode::kHttpConnect && !read_connect_request(client)) {
      ::close(client);
      return;
    }
    const int upstream = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr = loopback(target_port);
    if (upstream < 0 || ::connect(upstream, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      close_with_reset(client);
      if (upstream >= 0) ::close(upstream);
      return;
    }
    ::fcntl(upstream, F_SETFL, ::fcntl(upstream, F_GETFL) | O_NONBLOCK);
    if (mode == FaultProxy::Mode::kHttpConnect) {
      static const char kEstablished[] = "HTTP/1.1 200 Connection established\r\n\r\n";
      (void)!::send(client, kEstablished, sizeof kEstablished - 1, MSG_NOSIGNAL);
    }
    const int on = 1;
    setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    setsockopt(upstream, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    links.push_back(Link{client, upstream, {}, {}, false});
    ++accepted;
  }

  // Reads the CONNECT request head (blocking the proxy thread for at most 2 s,
  // which is fine in tests). Reads byte by byte so nothing after the head is eaten.
  bool read_connect_request(int client) {
    std::string head;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (head.size() < 8192 && head.find("\r\n\r\n") == std::string::npos) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      pollfd p{client, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char c;
      const ssize_t n = ::read(client, &c, 1);
      if (n == 0) return false;
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) continue;
        return false;
      }
      head.push_back(c);
    }
    if (head.rfind("CONNECT ", 0) != 0) return false;
    std::lock_guard lock(connect_mu);
    connect_request = head.substr(0, head.find("\r\n"));
    return true;
  }

  // Moves what `from` has into `to` (via the pending buffer); false when the link ended.
  static bool pump(int from, int to, Direction& dir, bool readable) {
    if (readable && dir.pending.size() < (1u << 20)) {
      char buffer[65536];
      const ssize_t n = ::read(from, buffer, sizeof buffer);
      if (n == 0) return false;
      if (n < 0 && errno != EAGAIN && errno != EINTR) return false;
      if (n > 0) dir.pending.insert(dir.pending.end(), buffer, buffer + n);
    }
    if (!dir.pending.empty()) {
      const ssize_t n = ::send(to, dir.pending.data(), dir.pending.size(), MSG_NOSIGNAL);
      if (n < 0 && errno != EAGAIN && errno != EINTR) return false;
      if (n > 0) dir.pending.erase(dir.pending.begin(), dir.pending.begin() + n);
    }
    return true;
  }

  void run() {
    while (running) {
      if (reset_requested.exchange(false)) {
        for (auto& link : links) {
          close_with_reset(link.client);
          close_with_reset(link.upstream);
        }
        links.clear();
      }
      std::vector<pollfd> fds;
      fds.push_back({wake_fd, POLLIN, 0});
      fds.push_back({listen_fd, POLLIN, 0});
      const bool hold = holding;
      for (auto& link : links) {
        short client_events = 0;
        short upstream_events = 0;
        if (!hold) {
          client_events = POLLIN;
          upstream_events = POLLIN;
          if (!link.to_client.pending.empty()) client_events |= POLLOUT;
          if (!link.to_upstream.pending.empty()) upstream_events |= POLLOUT;
        }
        fds.push_back({link.client, client_events, 0});
        fds.push_back({link.upstream, upstream_events, 0});
      }
      if (::poll(fds.data(), fds.size(), 1000) < 0 && errno != EINTR) return;
      if (fds[0].revents & POLLIN) {
        std::uint64_t value;
        (void)!::read(wake_fd, &value, sizeof value);
      }
      if (fds[1].revents & POLLIN) accept_one();
      if (hold) continue;
      std::size_t i = 2;
      for (auto& link : links) {
        if (i + 1 >= fds.size()) break;
        const pollfd& c = fds[i++];
        const pollfd& u = fds[i++];
        const bool client_in = (c.revents & (POLLIN | POLLHUP | POLLERR)) != 0;
        const bool upstream_in = (u.revents & (POLLIN | POLLHUP | POLLERR)) != 0;
        if (!pump(link.client, link.upstream, link.to_upstream, client_in) ||
            !pump(link.upstream, link.client, link.to_client, upstream_in))
          link.dead = true;
      }
      for (auto it = links.begin(); it != links.end();) {
        if (it->dead) {
          ::close(it->client);
          ::close(it->upstream);
          it = links.erase(it);
        } else {
          ++it;
        }
      }
    }
  }
};

FaultProxy::FaultProxy(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
FaultProxy::~FaultProxy() = default;

Result<std::unique_ptr<FaultProxy>> FaultProxy::start(int target_port, Mode mode) {
  auto impl = std::make_unique<Impl>();
  impl->target_port = target_port;
  impl->mode = mode;
  impl->wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  impl->listen_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (impl->wake_fd < 0 || impl->listen_fd < 0) return Error("fault proxy: socket failed");
  const int on = 1;
  setsockopt(impl->listen_fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  sockaddr_in addr = loopback(0);
  if (::bind(impl->listen_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(impl->listen_fd, 64) != 0)
    return Error(std::string("fault proxy: bind/listen failed: ") + std::strerror(errno));
  socklen_t length = sizeof addr;
  ::getsockname(impl->listen_fd, reinterpret_cast<sockaddr*>(&addr), &length);
  impl->port = ntohs(addr.sin_port);
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->run(); });
  return std::unique_ptr<FaultProxy>(new FaultProxy(std::move(impl)));
}

int FaultProxy::port() const {
  return impl_->port;
}

void FaultProxy::black_hole() {
  impl_->holding = true;
  impl_->wake();
}

void FaultProxy::resume() {
  impl_->holding = false;
  impl_->wake();
}

void FaultProxy::reset_all() {
  impl_->reset_requested = true;
  impl_->wake();
}

int FaultProxy::accepted() const {
  return impl_->accepted;
}

std::string FaultProxy::last_connect_request() const {
  std::lock_guard lock(impl_->connect_mu);
  return impl_->connect_request;
}

}  // namespace tether::test
