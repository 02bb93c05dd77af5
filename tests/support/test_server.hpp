// A scriptable WebSocket server over TLS (libwebsockets, on its own thread) that
// plays the backend in integration tests: it records each handshake, hands the
// test every binary message the client sends, and sends whatever the test asks,
// including things a good backend never would (text frames, oversize messages,
// 401 replies, abrupt stops).
//
// Every wait takes a timeout and returns nullopt/false on expiry, so a test fails
// instead of hanging. Safe to call from the test thread while the server runs.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "protocol/message.hpp"
#include "protocol/result.hpp"

namespace tether::test {

class TestServer {
 public:
  struct Options {
    bool tls = true;
    std::string cert_file;  // PEM server certificate (required with tls)
    std::string key_file;
    // When set, clients must present a certificate that chains to this CA.
    std::string client_ca_file;
    // 0 = an ephemeral port chosen at the first start(); later starts reuse it.
    int port = 0;
  };

  // One WebSocket upgrade request as the server saw it.
  struct Handshake {
    std::string path;
    // Lower-case header names: "authorization", "host", "origin" (when present).
    std::map<std::string, std::string> headers;
    std::chrono::steady_clock::time_point at;
    int http_status = 101;  // what the server answered
  };

  explicit TestServer(Options options);
  ~TestServer();
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  // Starts listening on 127.0.0.1. After stop(), start() listens on the same port
  // again (a "restart" of the backend).
  Status start();
  // Stops abruptly: every connection is dropped without a close frame.
  void stop();
  bool running() const;

  int port() const;
  // "wss://localhost:<port>" (or ws://) with `path` appended.
  std::string url(const std::string& path = "") const;

  // Answer the next upgrade requests with this HTTP status instead of 101
  // (0 or 101 = accept again).
  void reject_upgrades_with(int http_status);

  // The next upgrade request (accepted or not) not yet returned by this call.
  std::optional<Handshake> wait_for_handshake(std::chrono::milliseconds timeout);
  // The next established connection not yet returned by this call.
  std::optional<Handshake> wait_for_connection(std::chrono::milliseconds timeout);
  // Connections established since start (over all restarts).
  int connection_count() const;
  bool connected() const;  // a connection is open right now

  // Sends on the newest open connection; false when there is none.
  bool send_binary(std::vector<std::uint8_t> bytes);
  bool send_text(std::string text);
  bool send(const protocol::ProtoMsg& msg);
  // Closes the newest connection with a close frame carrying `code`.
  bool close(int code);

  // The next complete binary message the client sent, in order.
  std::optional<std::vector<std::uint8_t>> receive(std::chrono::milliseconds timeout);
  // Like receive(), decoded; skips nothing: fails (nullopt) on a message that does not decode.
  std::optional<protocol::ProtoMsg> receive_message(std::chrono::milliseconds timeout);
  // The next connection end: the close code the client sent, or 1006 when the
  // connection ended without a close frame.
  std::optional<int> wait_for_close(std::chrono::milliseconds timeout);
  // Drops every message received so far (for example after a reconnect).
  void clear_received();

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace tether::test
