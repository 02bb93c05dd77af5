// The operator side of one hub instance among several on a message bus. Each
// instance keeps accounts, API tokens and a session cache in memory, in front of
// the shared operator store; this keeps those views in step:
//
// - A change made here (an account created, disabled, deleted, its role or
//   password changed; a token made or revoked) is published on tether.operators
//   as {k: "accounts", from}; the other instances read accounts and tokens again
//   and end the sessions and sockets of the accounts now deleted, disabled or of
//   another role (OperatorAuth::refresh).
// - A logout here is published as {k: "logout", from, s: SHA-256 of the cookie};
//   the others drop that session from their caches. Ending every session of an
//   account here is {k: "logout-user", from, u: account}: the others drop that
//   account's sessions from their caches and close its sockets (this holds even
//   when a later change, such as enabling the account again, is all a reload
//   would see).
// - After each (re)connection to the bus, news may have been missed: the instance
//   reads accounts and tokens again and drops its whole session cache.
//
// The notices say only that something changed, never what: the store is the
// truth, so a lost or repeated notice costs a reload, not a wrong answer.
// All on the loop thread.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "hub/cluster/bus.hpp"
#include "hub/config.hpp"
#include "hub/operators/operator_auth.hpp"
#include "hub/operators/operator_news.hpp"

namespace tether::hub::cluster {

// Largest operator notice decoded (they are tens of bytes).
inline constexpr std::size_t kMaxOperatorNotice = 1024;

struct OperatorNotice {
  enum class Kind { kAccounts, kLogout, kLogoutUser };
  Kind kind = Kind::kAccounts;
  std::string from;            // the instance that made the change
  std::string session_sha256;  // kLogout: 64 lower-case hex digits
  std::string user;            // kLogoutUser: an account name (valid_account_name)
};

protocol::Bytes encode_operator_notice(const OperatorNotice& notice);
// Errors on garbage, truncation, oversize, unknown kinds and missing or wrongly
// typed fields.
Result<OperatorNotice> decode_operator_notice(std::span<const std::uint8_t> data);

class BusOperators final : public BusHandler, public OperatorNews {
 public:
  // `instance_id`: this instance's name on the bus (valid_instance_id).
  BusOperators(Bus& bus, std::string instance_id, const Logger& log);

  // Subscribes to tether.operators and makes `auth` tell its changes here.
  void bind(OperatorAuth& auth);

  // --- OperatorNews (changes made here) ---
  void accounts_changed() override;
  void session_ended(const std::string& session_sha256) override;
  void sessions_of_user_ended(const std::string& user) override;

  // --- BusHandler ---
  void bus_message(const std::string& subject, const protocol::Bytes& data) override;
  void bus_connected() override;
  void bus_disconnected() override {}
  void bus_tick() override {}

  // Reloads done on news or reconnection (tests, logs).
  std::uint64_t refreshes() const { return refreshes_; }

 private:
  void publish(const OperatorNotice& notice);
  void refresh(bool forget_sessions, const std::string& why);

  Bus& bus_;
  const std::string self_;
  const Logger& log_;
  OperatorAuth* auth_ = nullptr;
  std::uint64_t refreshes_ = 0;
};

}  // namespace tether::hub::cluster
