#include "plugins/portforward/portforward_plugin.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "protocol/portforward.hpp"

namespace tether::plugins::portforward {
namespace {

namespace pf = protocol::portforward;
using protocol::ProtoMsg;

struct Address {
  sockaddr_storage storage{};
  socklen_t length = 0;
};

// The numeric form of a literal address, or nothing when `host` is a name.
std::optional<Address> literal_address(const std::string& host, std::uint16_t port) {
  Address a;
  auto* in = reinterpret_cast<sockaddr_in*>(&a.storage);
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
  std::string bare = host;
  if (bare.size() >= 2 && bare.front() == '[' && bare.back() == ']')
    bare = bare.substr(1, bare.size() - 2);
  if (::inet_pton(AF_INET, bare.c_str(), &in->sin_addr) == 1) {
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    a.length = sizeof(sockaddr_in);
    return a;
  }
  if (::inet_pton(AF_INET6, bare.c_str(), &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    a.length = sizeof(sockaddr_in6);
    return a;
  }
  return std::nullopt;
}

std::string errno_text(int error) {
  return std::strerror(error);  // NOLINT(concurrency-mt-unsafe): glibc's is thread-safe
}

}  // namespace

struct PortForwardPlugin::Connection {
  explicit Connection(daemon::EventLoop& loop) : idle(loop), connect_timer(loop) {}
  ~Connection() {
    watch.reset();
    if (fd >= 0) ::close(fd);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  std::string sid;
  std::string id;
  std::string user_id;
  std::string host;
  std::uint16_t port = 0;
  bool allowed_by_name = false;
  std::vector<Address> addresses;
  std::size_t next_address = 0;
  int fd = -1;
  std::unique_ptr<daemon::FdWatch> watch;
  daemon::Timer idle;
  daemon::Timer connect_timer;
  bool connected = false;
  bool closed = false;
  bool awaiting_ack = false;  // a `forward` to the peer is not acked yet
  protocol::Bytes pending_write;
  bool ack_owed = false;  // the peer's last `forward` is not fully written yet
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
};

PortForwardPlugin::PortForwardPlugin(const daemon::PluginContext& context,
                                     const PortForwardOptions& options, AllowList allow)
    : loop_(context.loop),
      outbound_(context.outbound),
      log_(context.log),
      options_(options),
      allow_(std::move(allow)),
      self_(std::make_shared<PortForwardPlugin*>(this)) {}

PortForwardPlugin::~PortForwardPlugin() = default;

Status PortForwardPlugin::on_message(const ProtoMsg& msg) {
  const std::string& typ = msg.hdr.typ;
  if (typ == pf::typ::kNew) {
    handle_new(msg);
  } else if (typ == pf::typ::kForward) {
    handle_forward(msg);
  } else if (typ == pf::typ::kAck) {
    handle_ack(msg);
  } else if (typ == pf::typ::kStop) {
    handle_stop(msg);
  } else if (typ == pf::typ::kError) {
    log_.info("peer reported an error on sid '" + msg.hdr.sid.substr(0, 128) + "'");
    if (auto id = msg.hdr.prop_str(pf::kConnectionIdProp)) {
      auto it = connections_.find({msg.hdr.sid, std::string(*id)});
      if (it != connections_.end()) close(it->second, false, "peer error");
    }
  } else {
    send_error(msg.hdr.sid, typ, "unknown message type '" + typ.substr(0, 64) + "'");
  }
  return {};
}

void PortForwardPlugin::send(const ConnectionPtr& connection, std::string_view typ,
                             protocol::Bytes body) {
  auto msg =
      protocol::make_msg(protocol::proto::kPortForward, std::string(typ), connection->sid,
                         {{std::string(pf::kConnectionIdProp), connection->id}}, std::move(body));
  const auto priority =
      typ == pf::typ::kForward ? daemon::Priority::kBulk : daemon::Priority::kControl;
  if (auto status = outbound_.send(msg, priority, "portforward/" + connection->sid); !status)
    log_.debug("not sent: " + status.error().message());
}

void PortForwardPlugin::send_error(const std::string& sid, std::string_view msgtype,
                                   std::string_view text) {
  pf::ForwardError error{std::string(text), std::string(msgtype)};
  auto msg = protocol::make_msg(protocol::proto::kPortForward, std::string(pf::typ::kError), sid,
                                {}, error.encode());
  if (auto status = outbound_.send(msg, daemon::Priority::kControl); !status)
    log_.debug("error not sent: " + status.error().message());
}

PortForwardPlugin::ConnectionPtr PortForwardPlugin::find(const ProtoMsg& msg) {
  auto id = msg.hdr.prop_str(pf::kConnectionIdProp);
  if (id) {
    auto it = connections_.find({msg.hdr.sid, std::string(*id)});
    if (it != connections_.end()) return it->second;
  }
  send_error(msg.hdr.sid, msg.hdr.typ, "unknown connection");
  return nullptr;
}

void PortForwardPlugin::handle_new(const ProtoMsg& msg) {
  auto id = msg.hdr.prop_str(pf::kConnectionIdProp);
  auto request = pf::NewConnection::decode(msg.body);
  if (!id || id->empty() || !request) {
    std::string text =
        "invalid port-forward message: missing connection_id, remote_port or protocol";
    if (id && !id->empty() && !msg.body.empty() && !request) text = request.error().message();
    send_error(msg.hdr.sid, msg.hdr.typ, text);
    return;
  }
  if (request->protocol != "tcp") {
    send_error(msg.hdr.sid, msg.hdr.typ,
               request->protocol == "udp"
                   ? "protocol udp is not supported (tcp only)"
                   : "invalid port-forward message: protocol must be tcp or udp");
    return;
  }
  if (request->remote_host.empty() || request->remote_host.size() > 255) {
    send_error(msg.hdr.sid, msg.hdr.typ, "invalid port-forward message: bad remote_host");
    return;
  }
  Key key{msg.hdr.sid, std::string(*id)};
  if (connections_.count(key) != 0) {
    send_error(msg.hdr.sid, msg.hdr.typ, "connection already exists");
    return;
  }
  if (connections_.size() >= options_.max_connections) {
    send_error(msg.hdr.sid, msg.hdr.typ,
               "too many forwarded connections (portforward.max-connections is " +
                   std::to_string(options_.max_connections) + ")");
    return;
  }
  auto connection = std::make_shared<Connection>(loop_);
  connection->sid = msg.hdr.sid;
  connection->id = key.second;
  connection->user_id = std::string(msg.hdr.prop_str("user_id").value_or(""));
  connection->host = request->remote_host;
  connection->port = request->remote_port;
  connection->allowed_by_name = allow_.allows_name(request->remote_host, request->remote_port);
  const std::string target = request->remote_host + ":" + std::to_string(request->remote_port);
  const std::string refused = "remote " + target + " is not allowed by portforward.allow";

  if (auto literal = literal_address(request->remote_host, request->remote_port)) {
    if (!connection->allowed_by_name &&
        !allow_.allows_address(literal->storage, connection->port)) {
      log_.info("refused " + target + " for sid '" + connection->sid.substr(0, 128) + "'");
      send_error(msg.hdr.sid, msg.hdr.typ, refused);
      return;
    }
    connection->addresses.push_back(*literal);
    connections_[key] = connection;
    dial(connection);
    return;
  }
  // A name: resolve it on a worker thread, then dial only addresses the list allows.
  connections_[key] = connection;
  auto resolved = std::make_shared<std::vector<Address>>();
  auto failure = std::make_shared<std::string>();
  loop_.run_blocking(
      [host = connection->host, port = connection->port, resolved, failure] {
        addrinfo hints{};
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        addrinfo* result = nullptr;
        const int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &result);
        if (rc != 0) {
          *failure = ::gai_strerror(rc);
          return;
        }
        for (addrinfo* ai = result; ai != nullptr && resolved->size() < 16; ai = ai->ai_next) {
          Address a;
          if (ai->ai_addrlen > sizeof a.storage) continue;
          std::memcpy(&a.storage, ai->ai_addr, ai->ai_addrlen);
          a.length = ai->ai_addrlen;
          if (a.storage.ss_family == AF_INET)
            reinterpret_cast<sockaddr_in*>(&a.storage)->sin_port = htons(port);
          else if (a.storage.ss_family == AF_INET6)
            reinterpret_cast<sockaddr_in6*>(&a.storage)->sin6_port = htons(port);
          else
            continue;
          resolved->push_back(a);
        }
        ::freeaddrinfo(result);
      },
      [this, weak = std::weak_ptr(self_), connection, resolved, failure, target, refused] {
        if (!weak.lock() || connection->closed) return;
        if (!failure->empty()) {
          send_error(connection->sid, pf::typ::kNew, "cannot resolve " + target + ": " + *failure);
          close(connection, false, "unresolved");
          return;
        }
        for (const auto& a : *resolved) {
          if (connection->allowed_by_name || allow_.allows_address(a.storage, connection->port))
            connection->addresses.push_back(a);
        }
        if (connection->addresses.empty()) {
          log_.info("refused " + target + " for sid '" + connection->sid.substr(0, 128) + "'");
          send_error(connection->sid, pf::typ::kNew, refused);
          close(connection, false, "refused");
          return;
        }
        dial(connection);
      });
}

void PortForwardPlugin::dial(const ConnectionPtr& connection) {
  while (connection->next_address < connection->addresses.size()) {
    const Address& a = connection->addresses[connection->next_address++];
    const int fd = ::socket(a.storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&a.storage), a.length) != 0 &&
        errno != EINPROGRESS) {
      ::close(fd);
      continue;
    }
    connection->watch.reset();
    if (connection->fd >= 0) ::close(connection->fd);
    connection->fd = fd;
    std::weak_ptr<Connection> weak = connection;
    auto watch = daemon::FdWatch::create(loop_, fd,
                                         {[this, weak] {
                                            if (auto c = weak.lock()) on_readable(c);
                                          },
                                          [this, weak] {
                                            if (auto c = weak.lock()) on_writable(c);
                                          },
                                          [this, weak] {
                                            auto c = weak.lock();
                                            if (!c) return;
                                            if (!c->connected) {
                                              dial(c);
                                              return;
                                            }
                                            close(c, true, "local socket hung up");
                                          }});
    if (!watch) {
      ::close(fd);
      connection->fd = -1;
      continue;
    }
    connection->watch = std::move(watch).value();
    connection->watch->want_readable(false);
    connection->watch->want_writable(true);
    connection->connect_timer.start(options_.connect_timeout, [this, weak] {
      if (auto c = weak.lock(); c && !c->connected) dial(c);
    });
    return;
  }
  send_error(connection->sid, pf::typ::kNew,
             "failed to connect to " + connection->host + ":" + std::to_string(connection->port));
  close(connection, false, "connect failed");
}

void PortForwardPlugin::connection_established(const ConnectionPtr& connection) {
  connection->connected = true;
  connection->connect_timer.cancel();
  log_.audit("open", {{"sid", connection->sid},
                      {"user_id", connection->user_id},
                      {"connection_id", connection->id},
                      {"remote", connection->host + ":" + std::to_string(connection->port)}});
  send(connection, pf::typ::kNew);
  connection->watch->want_readable(true);
  connection->watch->want_writable(!connection->pending_write.empty());
  arm_idle(connection);
}

void PortForwardPlugin::arm_idle(const ConnectionPtr& connection) {
  connection->idle.start(options_.idle_timeout,
                         [this, weak = std::weak_ptr<Connection>(connection)] {
                           if (auto c = weak.lock()) close(c, true, "idle");
                         });
}

void PortForwardPlugin::on_readable(const ConnectionPtr& connection) {
  if (connection->closed || !connection->connected || connection->awaiting_ack) return;
  protocol::Bytes buffer(pf::kChunkSize);
  const ssize_t n = ::read(connection->fd, buffer.data(), buffer.size());
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) return;
    close(connection, true, "read failed: " + errno_text(errno));
    return;
  }
  if (n == 0) {
    close(connection, true, "local end of stream");
    return;
  }
  buffer.resize(static_cast<std::size_t>(n));
  connection->bytes_out += buffer.size();
  connection->awaiting_ack = true;
  connection->watch->want_readable(false);
  arm_idle(connection);
  send(connection, pf::typ::kForward, std::move(buffer));
}

void PortForwardPlugin::on_writable(const ConnectionPtr& connection) {
  if (connection->closed) return;
  if (!connection->connected) {
    int error = 0;
    socklen_t length = sizeof error;
    ::getsockopt(connection->fd, SOL_SOCKET, SO_ERROR, &error, &length);
    if (error != 0) {
      dial(connection);
      return;
    }
    connection_established(connection);
    return;
  }
  auto& pending = connection->pending_write;
  while (!pending.empty()) {
    const ssize_t n = ::send(connection->fd, pending.data(), pending.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) break;
      close(connection, true, "write failed: " + errno_text(errno));
      return;
    }
    pending.erase(pending.begin(), pending.begin() + n);
  }
  connection->watch->want_writable(!pending.empty());
  if (pending.empty() && connection->ack_owed) {
    connection->ack_owed = false;
    send(connection, pf::typ::kAck);
  }
}

void PortForwardPlugin::handle_forward(const ProtoMsg& msg) {
  auto connection = find(msg);
  if (!connection) return;
  if (connection->pending_write.size() + msg.body.size() > kMaxPendingWrite) {
    send_error(msg.hdr.sid, msg.hdr.typ, "too much unacknowledged data");
    close(connection, true, "peer overran its window");
    return;
  }
  connection->bytes_in += msg.body.size();
  connection->pending_write.insert(connection->pending_write.end(), msg.body.begin(),
                                   msg.body.end());
  connection->ack_owed = true;
  if (connection->connected) on_writable(connection);
}

void PortForwardPlugin::handle_ack(const ProtoMsg& msg) {
  auto connection = find(msg);
  if (!connection) return;
  connection->awaiting_ack = false;
  if (connection->connected && connection->watch) connection->watch->want_readable(true);
}

void PortForwardPlugin::handle_stop(const ProtoMsg& msg) {
  auto connection = find(msg);
  if (!connection) return;
  close(connection, false, "stopped by peer");
  send(connection, pf::typ::kStop);
}

void PortForwardPlugin::close(const ConnectionPtr& connection, bool notify, std::string_view why) {
  if (connection->closed) return;
  connection->closed = true;
  connection->idle.cancel();
  connection->connect_timer.cancel();
  connection->watch.reset();
  if (connection->fd >= 0) {
    ::close(connection->fd);
    connection->fd = -1;
  }
  if (notify) send(connection, pf::typ::kStop);
  if (connection->connected) {
    log_.audit("close", {{"sid", connection->sid},
                         {"user_id", connection->user_id},
                         {"connection_id", connection->id},
                         {"remote", connection->host + ":" + std::to_string(connection->port)},
                         {"bytes_in", std::to_string(connection->bytes_in)},
                         {"bytes_out", std::to_string(connection->bytes_out)},
                         {"reason", std::string(why)}});
  }
  auto it = connections_.find({connection->sid, connection->id});
  if (it != connections_.end() && it->second == connection) connections_.erase(it);
}

void PortForwardPlugin::on_disconnected() {
  auto all = connections_;
  for (auto& [key, connection] : all) close(connection, false, "link lost");
}

void PortForwardPlugin::on_session_closed(std::string_view sid) {
  auto all = connections_;
  for (auto& [key, connection] : all) {
    if (key.first == sid) close(connection, false, "session closed");
  }
}

void PortForwardPlugin::on_shutdown() {
  auto all = connections_;
  for (auto& [key, connection] : all) close(connection, true, "shutdown");
}

Result<std::unique_ptr<daemon::ProtocolHandler>> make_plugin(const daemon::PluginContext& context,
                                                             daemon::OptionReader& options) {
  const PortForwardOptions pf_options = read_options(options);
  if (!options.ok()) return Error(ErrorCode::kInvalidArgument, "invalid [portforward] options");
  auto allow = AllowList::parse(pf_options.allow);
  if (!allow) return allow.error().wrap("portforward.allow");
  context.log.info("may dial: " + pf_options.allow);
  return std::unique_ptr<daemon::ProtocolHandler>(
      std::make_unique<PortForwardPlugin>(context, pf_options, std::move(allow).value()));
}

}  // namespace tether::plugins::portforward
