// Port forward (proto 3) inside the real tetherd: the test server plays
// mender-cli, a local echo server and a local HTTP server are the far ends.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "protocol/portforward.hpp"
#include "tests/integration/transfer/transfer_fixture.hpp"

namespace tether::test {
namespace {

namespace pf = protocol::portforward;
using protocol::proto::kPortForward;

// A TCP listener on 127.0.0.1 (ephemeral port).
int listen_local(int& port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  ::listen(fd, 64);
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  port = ntohs(address.sin_port);
  return fd;
}

// Echoes every connection back until the peer closes; one thread per connection.
class EchoServer {
 public:
  EchoServer() : fd_(listen_local(port_)) {
    thread_ = std::thread([this] {
      for (;;) {
        const int client = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (client < 0) return;
        ++accepted_;
        {
          std::lock_guard lock(mutex_);
          clients_.push_back(client);
        }
        workers_.emplace_back([client] {
          char buffer[8192];
          for (;;) {
            const ssize_t n = ::read(client, buffer, sizeof buffer);
            if (n <= 0) break;
            if (::send(client, buffer, static_cast<std::size_t>(n), MSG_NOSIGNAL) != n) break;
          }
          ::shutdown(client, SHUT_RDWR);
        });
      }
    });
  }
  ~EchoServer() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
    {
      // Connections the daemon still holds: end them so the workers return.
      std::lock_guard lock(mutex_);
      for (int client : clients_) ::shutdown(client, SHUT_RDWR);
    }
    for (auto& w : workers_) w.join();
    for (int client : clients_) ::close(client);
  }
  int port() const { return port_; }
  int accepted() const { return accepted_; }

 private:
  int port_ = 0;
  int fd_;
  std::atomic<int> accepted_{0};
  std::thread thread_;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::vector<int> clients_;
};

class PortForwardTest : public TransferTest {
 protected:
  bool send_pf(const std::string& typ, const std::string& id, protocol::Bytes body = {}) {
    protocol::Map props;
    if (!id.empty()) props.emplace_back("connection_id", id);
    return server_->send(
        protocol::make_msg(kPortForward, typ, "pf", std::move(props), std::move(body)));
  }
  bool open_connection(const std::string& id, const std::string& host, int port,
                       std::string* error = nullptr) {
    pf::NewConnection c{host, static_cast<std::uint16_t>(port), "tcp"};
    if (!send_pf("new", id, c.encode())) return false;
    auto reply = next(kPortForward, "pf");
    if (!reply) return false;
    if (reply->hdr.typ == "error") {
      if (error != nullptr) *error = error_text(*reply);
      return false;
    }
    return reply->hdr.typ == "new" && reply->hdr.prop_str("connection_id") == id;
  }
  static std::string text(const protocol::Bytes& b) { return std::string(b.begin(), b.end()); }
};

TEST_F(PortForwardTest, EchoThroughOneConnection) {
  EchoServer echo;
  start();
  ASSERT_TRUE(open_connection("c1", "127.0.0.1", echo.port()));
  ASSERT_TRUE(send_pf("forward", "c1", {'h', 'e', 'l', 'l', 'o'}));
  std::string got;
  bool acked = false;
  while (got.size() < 5 || !acked) {
    auto msg = next(kPortForward, "pf");
    ASSERT_TRUE(msg.has_value()) << got;
    EXPECT_EQ(msg->hdr.prop_str("connection_id"), "c1");
    if (msg->hdr.typ == "ack") {
      acked = true;
    } else {
      ASSERT_EQ(msg->hdr.typ, "forward");
      got += text(msg->body);
      ASSERT_TRUE(send_pf("ack", "c1"));
    }
  }
  EXPECT_EQ(got, "hello");
  ASSERT_TRUE(send_pf("stop", "c1"));
  auto stop = next(kPortForward, "pf");
  ASSERT_TRUE(stop.has_value());
  EXPECT_EQ(stop->hdr.typ, "stop");
  EXPECT_EQ(stop->hdr.prop_str("connection_id"), "c1");
  // Unknown connection now.
  ASSERT_TRUE(send_pf("forward", "c1", {'x'}));
  auto error = next(kPortForward, "pf");
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->hdr.typ, "error");
  EXPECT_TRUE(error->hdr.props.empty());
  EXPECT_EQ(error_text(*error), "unknown connection");
}

TEST_F(PortForwardTest, ManyConnectionsAtOnceWithOneChunkInFlight) {
  EchoServer echo;
  start();
  constexpr int kConnections = 16;
  constexpr std::size_t kBytes = 64 * 1024;
  std::map<std::string, protocol::Bytes> sent;
  std::map<std::string, protocol::Bytes> got;
  std::map<std::string, std::size_t> offset;
  for (int i = 0; i < kConnections; ++i) {
    const std::string id = "c" + std::to_string(i);
    ASSERT_TRUE(open_connection(id, "localhost", echo.port())) << id;
    sent[id] = pattern(kBytes, static_cast<std::uint32_t>(i + 100));
    offset[id] = 0;
  }
  // Send one 4096-byte chunk per connection, the next after its ack; ack every
  // forward that comes back. The device must never have two in flight.
  auto send_next = [&](const std::string& id) {
    if (offset[id] >= kBytes) return;
    const auto from = sent[id].begin() + static_cast<std::ptrdiff_t>(offset[id]);
    send_pf("forward", id, protocol::Bytes(from, from + 4096));
    offset[id] += 4096;
  };
  for (auto& [id, data] : sent) send_next(id);
  std::map<std::string, bool> awaiting_our_ack;
  std::size_t complete = 0;
  while (complete < static_cast<std::size_t>(kConnections)) {
    auto msg = next(kPortForward, "pf", 10s);
    ASSERT_TRUE(msg.has_value()) << complete << " complete";
    const std::string id(msg->hdr.prop_str("connection_id").value_or(""));
    if (msg->hdr.typ == "ack") {
      send_next(id);
    } else if (msg->hdr.typ == "forward") {
      EXPECT_FALSE(awaiting_our_ack[id]) << "two forwards in flight on " << id;
      got[id].insert(got[id].end(), msg->body.begin(), msg->body.end());
      EXPECT_LE(msg->body.size(), pf::kChunkSize);
      send_pf("ack", id);
      if (got[id].size() == kBytes) ++complete;
    } else {
      FAIL() << "unexpected " << msg->hdr.typ << " " << error_text(*msg);
    }
  }
  for (auto& [id, data] : sent) EXPECT_TRUE(got[id] == data) << id;
  EXPECT_EQ(echo.accepted(), kConnections);
}

TEST_F(PortForwardTest, HostsOutsideTheAllowListAreNeverDialled) {
  EchoServer echo;
  start({"--portforward.allow=127.0.0.1:" + std::to_string(echo.port() + 1)});
  std::string error;
  EXPECT_FALSE(open_connection("c1", "127.0.0.1", echo.port(), &error));
  EXPECT_NE(error.find("not allowed by portforward.allow"), std::string::npos) << error;
  EXPECT_FALSE(open_connection("c2", "10.1.2.3", 80, &error));
  EXPECT_NE(error.find("not allowed"), std::string::npos) << error;
  // A name that resolves to an allowed address, but on a port not allowed.
  EXPECT_FALSE(open_connection("c3", "localhost", echo.port(), &error));
  EXPECT_NE(error.find("not allowed"), std::string::npos) << error;
  EXPECT_EQ(echo.accepted(), 0);
  // Missing fields and udp.
  ASSERT_TRUE(send_pf("new", "", pf::NewConnection{"127.0.0.1", 1, "tcp"}.encode()));
  auto reply = next(kPortForward, "pf");
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(error_text(*reply),
            "invalid port-forward message: missing connection_id, remote_port or protocol");
  EXPECT_FALSE(open_connection("c4", "127.0.0.1", echo.port() + 1, &error) && error.empty());
}

TEST_F(PortForwardTest, MaxConnectionsAndRefusedPort) {
  EchoServer echo;
  start({"--portforward.max-connections=2"});
  ASSERT_TRUE(open_connection("a", "127.0.0.1", echo.port()));
  ASSERT_TRUE(open_connection("b", "127.0.0.1", echo.port()));
  std::string error;
  EXPECT_FALSE(open_connection("c", "127.0.0.1", echo.port(), &error));
  EXPECT_NE(error.find("max-connections"), std::string::npos) << error;
  ASSERT_TRUE(send_pf("stop", "a"));
  ASSERT_EQ(next(kPortForward, "pf")->hdr.typ, "stop");
  // Nothing listens on this port: the dial fails with an error.
  int closed_port = 0;
  ::close(listen_local(closed_port));
  EXPECT_FALSE(open_connection("d", "127.0.0.1", closed_port, &error));
  EXPECT_NE(error.find("failed to connect"), std::string::npos) << error;
}

TEST_F(PortForwardTest, IdleConnectionIsStopped) {
  EchoServer echo;
  start({"--portforward.idle-timeout=0.3"});
  ASSERT_TRUE(open_connection("c1", "127.0.0.1", echo.port()));
  auto stop = next(kPortForward, "pf", 3s);
  ASSERT_TRUE(stop.has_value());
  EXPECT_EQ(stop->hdr.typ, "stop");
  EXPECT_EQ(stop->hdr.prop_str("connection_id"), "c1");
  EXPECT_TRUE(daemon_->wait_for_output("reason=idle", 2s).has_value());
}

TEST_F(PortForwardTest, CurlThroughAForwardedPortReachesALocalWebServer) {
  if (::access("/usr/bin/curl", X_OK) != 0 || ::access("/usr/bin/python3", X_OK) != 0)
    GTEST_FAIL() << "needs curl and python3 (scripts/setup installs them)";
  int http_port = 0;
  ::close(listen_local(http_port));
  write_file(root_ / "index.html", pattern(100000));
  auto http = DaemonProcess::start("/usr/bin/python3",
                                   {"-m", "http.server", "--bind", "127.0.0.1", "--directory",
                                    root_.string(), std::to_string(http_port)});
  ASSERT_TRUE(http.ok());
  start();
  // Wait until the web server listens.
  for (int i = 0; i < 100; ++i) {
    const int probe = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(http_port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool up = ::connect(probe, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(probe);
    if (up) break;
    std::this_thread::sleep_for(50ms);
  }
  // The operator's side of the forward: a local port that curl connects to, bridged
  // over the protocol as mender-cli (and tether-hub forward) does.
  int local_port = 0;
  const int listener = listen_local(local_port);
  std::thread bridge([&] {
    const int client = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) return;
    if (!open_connection("web", "localhost", http_port)) {
      ::close(client);
      return;
    }
    bool awaiting_ack = false;
    bool done = false;
    while (!done) {
      pollfd p{client, static_cast<short>(awaiting_ack ? 0 : POLLIN), 0};
      if (::poll(&p, 1, 5) > 0 && (p.revents & (POLLIN | POLLHUP)) != 0) {
        char buffer[4096];
        const ssize_t n = ::read(client, buffer, sizeof buffer);
        if (n <= 0) {
          send_pf("stop", "web");
          break;
        }
        send_pf("forward", "web", protocol::Bytes(buffer, buffer + n));
        awaiting_ack = true;
      }
      while (auto msg = server_->receive_message(1ms)) {
        if (msg->hdr.proto != kPortForward) continue;
        if (msg->hdr.typ == "ack") {
          awaiting_ack = false;
        } else if (msg->hdr.typ == "forward") {
          (void)::send(client, msg->body.data(), msg->body.size(), MSG_NOSIGNAL);
          send_pf("ack", "web");
        } else if (msg->hdr.typ == "stop") {
          done = true;
          break;
        }
      }
    }
    ::close(client);
  });
  const std::string out = (dir_.path() / "fetched").string();
  auto curl = run_to_completion("/usr/bin/curl",
                                {"-sS", "--max-time", "20", "-o", out,
                                 "http://127.0.0.1:" + std::to_string(local_port) + "/index.html"},
                                30s);
  ::shutdown(listener, SHUT_RDWR);
  bridge.join();
  ::close(listener);
  ASSERT_TRUE(curl.ok());
  EXPECT_EQ(curl->exit_status, 0) << curl->output;
  EXPECT_TRUE(read_file(out) == pattern(100000));
}

}  // namespace
}  // namespace tether::test

namespace tether::test {
namespace {

TEST_F(PortForwardTest, SigtermWithAForwardAndAnUploadInFlightExitsCleanly) {
  EchoServer echo;
  start();
  ASSERT_TRUE(open_connection("c1", "127.0.0.1", echo.port()));
  protocol::filetransfer::UploadRequest request;
  request.path = (root_ / "half").string();
  EXPECT_EQ(upload("up", request, pattern(100000), 16384), "stopped");
  daemon_->send_signal(SIGTERM);
  EXPECT_EQ(daemon_->wait_for_exit(5s), 0);
  // The forward was told to stop; the half upload left nothing behind.
  EXPECT_EQ(list_dir(root_), std::vector<std::string>{});
}

}  // namespace
}  // namespace tether::test
