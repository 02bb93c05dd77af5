#include "tests/support/artifact_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

namespace tether::test {

struct ArtifactServer::State {
  SSL_CTX* ctx = nullptr;
  int listen_fd = -1;
  int port = 0;
  std::atomic<bool> stop{false};
  std::thread thread;
  mutable std::mutex mutex;
  std::map<std::string, std::string> files;
  std::optional<std::uint64_t> cut_after;
  int fail_status = 0;
  int fail_count = 0;
  std::size_t chunk = 16384;
  std::chrono::milliseconds pause{0};
  std::vector<std::uint64_t> ranges;

  ~State() {
    stop = true;
    if (thread.joinable()) thread.join();
    if (listen_fd >= 0) ::close(listen_fd);
    if (ctx != nullptr) SSL_CTX_free(ctx);
  }

  void serve() {
    while (!stop) {
      pollfd p{listen_fd, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      SSL* ssl = SSL_new(ctx);
      SSL_set_fd(ssl, fd);
      if (SSL_accept(ssl) == 1) handle(ssl);
      SSL_shutdown(ssl);
      SSL_free(ssl);
      ::close(fd);
      ERR_clear_error();
    }
  }

  static bool write_all(SSL* ssl, const char* data, std::size_t length) {
    while (length > 0) {
      const int n =
          SSL_write(ssl, data, static_cast<int>(std::min<std::size_t>(length, 1U << 20U)));
      if (n <= 0) return false;
      data += n;
      length -= static_cast<std::size_t>(n);
    }
    return true;
  }

  void handle(SSL* ssl) {
    std::string request;
    char buffer[4096];
    while (request.find("\r\n\r\n") == std::string::npos && request.size() < 65536) {
      const int n = SSL_read(ssl, buffer, sizeof buffer);
      if (n <= 0) return;
      request.append(buffer, static_cast<std::size_t>(n));
    }
    const auto first_space = request.find(' ');
    const auto second_space = request.find(' ', first_space + 1);
    const std::string path = request.substr(first_space + 1, second_space - first_space - 1);
    std::uint64_t start = 0;
    bool ranged = false;
    std::string lower = request;
    std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
    if (auto at = lower.find("\r\nrange: bytes="); at != std::string::npos) {
      start = std::stoull(request.substr(at + 15));
      ranged = true;
    }
    std::string body;
    std::optional<std::uint64_t> cut;
    std::size_t chunk_size = 0;
    std::chrono::milliseconds wait{0};
    int status = 200;
    {
      std::lock_guard lock(mutex);
      ranges.push_back(start);
      if (fail_count > 0) {
        --fail_count;
        status = fail_status;
      } else if (auto it = files.find(path); it == files.end()) {
        status = 404;
      } else if (start > it->second.size()) {
        status = 416;
      } else {
        body = it->second.substr(start);
        status = ranged ? 206 : 200;
        cut = cut_after;
        cut_after.reset();
      }
      chunk_size = chunk;
      wait = pause;
    }
    std::string head = "HTTP/1.1 " + std::to_string(status) + " X\r\nConnection: close\r\n";
    if (status == 200 || status == 206) {
      head += "Content-Length: " + std::to_string(body.size()) + "\r\n";
      if (status == 206) {
        const std::uint64_t total = start + body.size();
        head += "Content-Range: bytes " + std::to_string(start) + "-" +
                std::to_string(total == 0 ? 0 : total - 1) + "/" + std::to_string(total) + "\r\n";
      }
    } else {
      head += "Content-Length: 0\r\n";
    }
    head += "\r\n";
    if (!write_all(ssl, head.data(), head.size())) return;
    std::size_t limit = body.size();
    if (cut) limit = std::min<std::size_t>(limit, *cut);
    for (std::size_t at = 0; at < limit && !stop; at += chunk_size) {
      if (!write_all(ssl, body.data() + at, std::min(chunk_size, limit - at))) return;
      if (wait.count() > 0) std::this_thread::sleep_for(wait);
    }
  }
};

Result<std::unique_ptr<ArtifactServer>> ArtifactServer::start(const std::filesystem::path& cert,
                                                              const std::filesystem::path& key) {
  auto state = std::make_unique<State>();
  state->ctx = SSL_CTX_new(TLS_server_method());
  if (state->ctx == nullptr || SSL_CTX_use_certificate_chain_file(state->ctx, cert.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(state->ctx, key.c_str(), SSL_FILETYPE_PEM) != 1) {
    ERR_clear_error();
    return Error("artifact server: cannot load the certificate");
  }
  state->listen_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (state->listen_fd < 0 ||
      ::bind(state->listen_fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(state->listen_fd, 16) != 0 ||
      ::getsockname(state->listen_fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    return Error("artifact server: cannot listen");
  }
  state->port = ntohs(address.sin_port);
  State* raw = state.get();
  state->thread = std::thread([raw] { raw->serve(); });
  return std::unique_ptr<ArtifactServer>(new ArtifactServer(std::move(state)));
}

ArtifactServer::ArtifactServer(std::unique_ptr<State> state) : state_(std::move(state)) {}
ArtifactServer::~ArtifactServer() = default;

std::string ArtifactServer::url(const std::string& path) const {
  return "https://localhost:" + std::to_string(state_->port) + path;
}

void ArtifactServer::publish(const std::string& path, std::string bytes) {
  std::lock_guard lock(state_->mutex);
  state_->files[path] = std::move(bytes);
}

void ArtifactServer::cut_next_after(std::uint64_t bytes) {
  std::lock_guard lock(state_->mutex);
  state_->cut_after = bytes;
}

void ArtifactServer::fail_next(int status, int count) {
  std::lock_guard lock(state_->mutex);
  state_->fail_status = status;
  state_->fail_count = count;
}

void ArtifactServer::throttle(std::size_t bytes, std::chrono::milliseconds pause) {
  std::lock_guard lock(state_->mutex);
  state_->chunk = std::max<std::size_t>(bytes, 1);
  state_->pause = pause;
}

std::vector<std::uint64_t> ArtifactServer::range_starts() const {
  std::lock_guard lock(state_->mutex);
  return state_->ranges;
}

std::size_t ArtifactServer::requests() const {
  std::lock_guard lock(state_->mutex);
  return state_->ranges.size();
}

}  // namespace tether::test
