#include "hub/cli/port_forward.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "protocol/filetransfer.hpp"
#include "protocol/portforward.hpp"

namespace tether::hub::cli {

namespace {

namespace pf = protocol::portforward;

// Local connections open at once; more wait in the kernel's backlog. The device
// has its own bound (portforward.max-connections, 32 by default).
constexpr std::size_t kMaxConnections = 128;
constexpr int kAcceptPerTurn = 16;
// A device sends one chunk (4 KiB) and waits for its ack; anything beyond this in
// hand is a peer that ignores the window. 128 connections x 256 KiB bounds it all.
constexpr std::size_t kMaxPendingWrite = 262144;

std::string errno_text(int error) {
  return std::strerror(error);
}

}  // namespace

struct PortForward::Connection {
  std::string id;
  int fd = -1;
  std::unique_ptr<daemon::FdWatch> watch;
  bool established = false;   // the device's `new` reply came
  bool awaiting_ack = false;  // a `forward` of ours is in flight
  bool close_after_flush = false;
  bool closed = false;
  protocol::Bytes pending;  // device bytes not yet written locally
  std::size_t written = 0;  // of `pending`

  ~Connection() {
    watch.reset();
    if (fd >= 0) ::close(fd);
  }
};

PortForward::PortForward(daemon::EventLoop& loop, const HubAccess& hub, ForwardCommand command,
                         std::function<void(const std::string&)> report,
                         std::function<void(const Status&)> done)
    : loop_(loop),
      command_(std::move(command)),
      report_(std::move(report)),
      session_(loop, hub, command_.device, protocol::proto::kPortForward, "port forward",
               {[this] { on_ready(); }, [this](const protocol::ProtoMsg& m) { on_message(m); },
                [this, done = std::move(done)](const Status& s) {
                  listen_watch_.reset();
                  for (auto& [id, c] : connections_) c->closed = true;
                  connections_.clear();
                  awaiting_new_.clear();
                  done(s);
                }}) {}

PortForward::~PortForward() {
  listen_watch_.reset();
  connections_.clear();
  if (listen_fd_ >= 0) ::close(listen_fd_);
}

Status PortForward::start() {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) return Error(ErrorCode::kIo, "socket: " + errno_text(errno));
  const int one = 1;
  (void)::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(command_.local_port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listen_fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    return Error(ErrorCode::kBusy,
                 "cannot listen on 127.0.0.1:" + std::to_string(command_.local_port) + ": " +
                     errno_text(errno));
  }
  if (::listen(listen_fd_, 64) != 0) {
    return Error(ErrorCode::kIo, "listen: " + errno_text(errno));
  }
  socklen_t length = sizeof address;
  if (::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    return Error(ErrorCode::kIo, "getsockname: " + errno_text(errno));
  }
  local_port_ = ntohs(address.sin_port);
  return session_.start();
}

void PortForward::on_ready() {
  auto watch = daemon::FdWatch::create(loop_, listen_fd_,
                                       {[this] { accept_connections(); }, nullptr, nullptr});
  if (!watch.ok()) {
    session_.end(watch.error().wrap("watching the local port"));
    return;
  }
  listen_watch_ = std::move(watch).value();
  report_("forwarding 127.0.0.1:" + std::to_string(local_port_) + " to " + command_.remote_host +
          ":" + std::to_string(command_.remote_port) + " on device " + command_.device);
}

void PortForward::accept_connections() {
  for (int i = 0; i < kAcceptPerTurn; ++i) {
    if (connections_.size() >= kMaxConnections) {
      listen_watch_->want_readable(false);
      return;
    }
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
        report_("accepting a local connection failed: " + errno_text(errno));
      }
      return;
    }
    auto c = std::make_shared<Connection>();
    c->fd = fd;
    c->id = "c" + std::to_string(next_id_++);
    std::weak_ptr<Connection> weak = c;
    auto watch = daemon::FdWatch::create(loop_, fd,
                                         {[this, weak] {
                                            if (auto p = weak.lock()) on_local_readable(p);
                                          },
                                          [this, weak] {
                                            if (auto p = weak.lock()) on_local_writable(p);
                                          },
                                          [this, weak] {
                                            if (auto p = weak.lock()) close_connection(p, true);
                                          }});
    if (!watch.ok()) {
      report_("watching a local connection failed: " + watch.error().message());
      continue;  // `c` closes the socket
    }
    c->watch = std::move(watch).value();
    c->watch->want_readable(false);  // until the device's `new` reply
    connections_[c->id] = c;
    awaiting_new_.push_back(c->id);
    pf::NewConnection request{command_.remote_host, command_.remote_port, "tcp"};
    session_.send(std::string(pf::typ::kNew), {{std::string(pf::kConnectionIdProp), c->id}},
                  request.encode());
  }
}

PortForward::ConnectionPtr PortForward::find(const protocol::ProtoMsg& msg) {
  const auto id = msg.hdr.prop_str(pf::kConnectionIdProp);
  if (!id) return nullptr;
  auto it = connections_.find(std::string(*id));
  return it == connections_.end() ? nullptr : it->second;
}

void PortForward::on_message(const protocol::ProtoMsg& msg) {
  const std::string& typ = msg.hdr.typ;
  if (typ == pf::typ::kError) {
    auto error = protocol::filetransfer::TransferError::decode(msg.body);
    const std::string text = error.ok() ? error->err : "an undecodable error";
    const std::string about = error.ok() ? error->msgtype : "";
    if (about == pf::typ::kNew && !awaiting_new_.empty()) {
      const std::string id = awaiting_new_.front();
      awaiting_new_.pop_front();
      report_("the device refused a connection to " + command_.remote_host + ":" +
              std::to_string(command_.remote_port) + ": " + text);
      if (auto it = connections_.find(id); it != connections_.end()) {
        close_connection(it->second, false);
      }
    } else {
      report_("the device reported an error: " + text);
    }
    return;
  }
  ConnectionPtr c = find(msg);
  if (!c) {
    // Not (or no longer) ours: a late message after a local close.
    if (typ == pf::typ::kNew) {
      if (const auto id = msg.hdr.prop_str(pf::kConnectionIdProp)) {
        session_.send(std::string(pf::typ::kStop),
                      {{std::string(pf::kConnectionIdProp), std::string(*id)}});
      }
    }
    return;
  }
  if (typ == pf::typ::kNew) {
    if (c->established) return;
    c->established = true;
    std::erase(awaiting_new_, c->id);
    c->watch->want_readable(!c->awaiting_ack);
  } else if (typ == pf::typ::kAck) {
    c->awaiting_ack = false;
    if (c->established && !c->close_after_flush) c->watch->want_readable(true);
  } else if (typ == pf::typ::kForward) {
    if (c->pending.size() - c->written + msg.body.size() > kMaxPendingWrite) {
      report_("the device sent more than its window on connection " + c->id);
      close_connection(c, true);
      return;
    }
    c->pending.insert(c->pending.end(), msg.body.begin(), msg.body.end());
    on_local_writable(c);
  } else if (typ == pf::typ::kStop) {
    c->close_after_flush = true;
    c->watch->want_readable(false);
    on_local_writable(c);
  }
}

void PortForward::on_local_readable(const ConnectionPtr& c) {
  if (c->closed || !c->established || c->awaiting_ack) return;
  std::uint8_t buffer[pf::kChunkSize];
  const ssize_t n = ::read(c->fd, buffer, sizeof buffer);
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) return;
    close_connection(c, true);
    return;
  }
  if (n == 0) {
    close_connection(c, true);
    return;
  }
  c->awaiting_ack = true;
  c->watch->want_readable(false);
  session_.send(std::string(pf::typ::kForward), {{std::string(pf::kConnectionIdProp), c->id}},
                protocol::Bytes(buffer, buffer + n));
}

void PortForward::on_local_writable(const ConnectionPtr& c) {
  if (c->closed) return;
  while (c->written < c->pending.size()) {
    const ssize_t n =
        ::send(c->fd, c->pending.data() + c->written, c->pending.size() - c->written, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) break;
      close_connection(c, true);
      return;
    }
    c->written += static_cast<std::size_t>(n);
  }
  const bool flushed = c->written == c->pending.size();
  c->watch->want_writable(!flushed);
  if (!flushed) return;
  const bool had_data = !c->pending.empty();
  c->pending.clear();
  c->written = 0;
  if (c->close_after_flush) {
    close_connection(c, false);
    return;
  }
  if (had_data) {
    session_.send(std::string(pf::typ::kAck), {{std::string(pf::kConnectionIdProp), c->id}});
  }
}

void PortForward::close_connection(const ConnectionPtr& c, bool tell_device) {
  if (c->closed) return;
  c->closed = true;
  if (tell_device) {
    session_.send(std::string(pf::typ::kStop), {{std::string(pf::kConnectionIdProp), c->id}});
  }
  std::erase(awaiting_new_, c->id);
  c->watch.reset();
  if (c->fd >= 0) {
    ::close(c->fd);
    c->fd = -1;
  }
  connections_.erase(c->id);
  if (listen_watch_ && !stopping_) listen_watch_->want_readable(true);
}

void PortForward::stop() {
  if (stopping_) return;
  stopping_ = true;
  listen_watch_.reset();
  while (!connections_.empty()) close_connection(connections_.begin()->second, true);
  session_.end(Status::Ok());
}

}  // namespace tether::hub::cli
