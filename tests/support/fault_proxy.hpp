// A TCP proxy on 127.0.0.1 between the daemon and a test server that can break the
// link the ways real networks do: black-hole it (stop forwarding, keep both sockets
// open, so only a keepalive can notice), reset it (RST on every connection), and
// resume. Runs its own thread.
#pragma once

#include <memory>
#include <string>

#include "protocol/result.hpp"

namespace tether::test {

class FaultProxy {
 public:
  enum class Mode {
    kTcp,          // forward bytes as they come
    kHttpConnect,  // act as an HTTP proxy: expect "CONNECT host:port", answer 200, forward
  };

  // Forwards every connection accepted on port() to 127.0.0.1:target_port, whatever
  // host a CONNECT names.
  static Result<std::unique_ptr<FaultProxy>> start(int target_port, Mode mode = Mode::kTcp);
  ~FaultProxy();
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  int port() const;

  // Stops moving bytes in both directions on every connection, present and future.
  // Connections are still accepted; what they send waits in kernel buffers.
  void black_hole();
  // Moves bytes again (what was held back is delivered).
  void resume();
  // Resets every current connection (RST to both sides).
  void reset_all();
  // Connections accepted so far.
  int accepted() const;
  // The request line of the last CONNECT (kHttpConnect), e.g. "CONNECT h:443 HTTP/1.1".
  std::string last_connect_request() const;

  class Impl;

 private:
  explicit FaultProxy(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tether::test
