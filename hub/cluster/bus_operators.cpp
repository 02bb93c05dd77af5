#include "hub/cluster/bus_operators.hpp"

#include <algorithm>
#include <string_view>

#include "hub/cluster/bus_envelope.hpp"
#include "hub/operators/accounts.hpp"
#include "protocol/codec.hpp"

namespace tether::hub::cluster {

namespace {

using protocol::Value;

constexpr std::string_view kAccountsKind = "accounts";
constexpr std::string_view kLogoutKind = "logout";
constexpr std::string_view kLogoutUserKind = "logout-user";

bool valid_session_hash(const std::string& hash) {
  return hash.size() == 64 && std::all_of(hash.begin(), hash.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

Error bad(const std::string& why) {
  return Error(ErrorCode::kProtocol, "operator notice: " + why);
}

}  // namespace

protocol::Bytes encode_operator_notice(const OperatorNotice& n) {
  std::string_view kind = kAccountsKind;
  if (n.kind == OperatorNotice::Kind::kLogout) kind = kLogoutKind;
  if (n.kind == OperatorNotice::Kind::kLogoutUser) kind = kLogoutUserKind;
  protocol::Map map{{"k", std::string(kind)}, {"from", n.from}};
  if (n.kind == OperatorNotice::Kind::kLogout) map.emplace_back("s", n.session_sha256);
  if (n.kind == OperatorNotice::Kind::kLogoutUser) map.emplace_back("u", n.user);
  return protocol::encode_value(Value(std::move(map)));
}

Result<OperatorNotice> decode_operator_notice(std::span<const std::uint8_t> data) {
  if (data.size() > kMaxOperatorNotice) {
    return bad(std::to_string(data.size()) + " bytes is over the limit");
  }
  auto value = protocol::decode_value(data);
  if (!value.ok()) return bad(value.error().message());
  const protocol::Map* map = value->as_map();
  if (map == nullptr) return bad("not a map");
  OperatorNotice n;
  // A field's text, or nullptr when it is missing or not text.
  auto text = [&](std::string_view key) -> const std::string* {
    const Value* v = protocol::find(*map, key);
    return v == nullptr ? nullptr : v->as_str();
  };
  const std::string* kind = text("k");
  if (kind == nullptr) return bad("no kind");
  if (*kind == kAccountsKind) {
    n.kind = OperatorNotice::Kind::kAccounts;
  } else if (*kind == kLogoutKind) {
    n.kind = OperatorNotice::Kind::kLogout;
  } else if (*kind == kLogoutUserKind) {
    n.kind = OperatorNotice::Kind::kLogoutUser;
  } else {
    return bad("unknown kind '" + kind->substr(0, 32) + "'");
  }
  const std::string* from = text("from");
  if (from == nullptr || !valid_instance_id(*from)) return bad("no valid sender");
  n.from = *from;
  if (n.kind == OperatorNotice::Kind::kLogout) {
    const std::string* session = text("s");
    if (session == nullptr || !valid_session_hash(*session)) return bad("no valid session hash");
    n.session_sha256 = *session;
  }
  if (n.kind == OperatorNotice::Kind::kLogoutUser) {
    const std::string* user = text("u");
    if (user == nullptr || !valid_account_name(*user)) return bad("no valid account name");
    n.user = *user;
  }
  return n;
}

BusOperators::BusOperators(Bus& bus, std::string instance_id, const Logger& log)
    : bus_(bus), self_(std::move(instance_id)), log_(log) {
  bus_.add_handler(*this);
}

void BusOperators::bind(OperatorAuth& auth) {
  auth_ = &auth;
  auth.set_news(this);
  if (auto s = bus_.subscribe(bus_subjects::kOperators); !s.ok()) {
    log_.error(s.error().wrap("bus").message());
  }
}

void BusOperators::publish(const OperatorNotice& notice) {
  if (auto s = bus_.publish(bus_subjects::kOperators, encode_operator_notice(notice)); !s.ok()) {
    // The others catch up when they reconnect to the bus (or restart).
    log_.warn(s.error().wrap("bus: publishing an operator change").message());
  }
}

void BusOperators::accounts_changed() {
  publish({OperatorNotice::Kind::kAccounts, self_, {}, {}});
}

void BusOperators::session_ended(const std::string& session_sha256) {
  publish({OperatorNotice::Kind::kLogout, self_, session_sha256, {}});
}

void BusOperators::sessions_of_user_ended(const std::string& user) {
  publish({OperatorNotice::Kind::kLogoutUser, self_, {}, user});
}

void BusOperators::refresh(bool forget_sessions, const std::string& why) {
  if (auth_ == nullptr) return;
  ++refreshes_;
  if (auto s = auth_->refresh(forget_sessions); !s.ok()) {
    log_.error(s.error().wrap("reloading operator accounts (" + why + ")").message());
  }
}

void BusOperators::bus_message(const std::string& subject, const protocol::Bytes& data) {
  if (subject != bus_subjects::kOperators || auth_ == nullptr) return;
  auto notice = decode_operator_notice(data);
  if (!notice.ok()) {
    log_.warn(notice.error().wrap("bus: on " + subject).message());
    return;
  }
  if (notice->from == self_) return;
  switch (notice->kind) {
    case OperatorNotice::Kind::kAccounts:
      refresh(false, "changed on instance " + notice->from);
      break;
    case OperatorNotice::Kind::kLogout:
      auth_->forget_session(notice->session_sha256);
      break;
    case OperatorNotice::Kind::kLogoutUser:
      auth_->sessions_of_user_ended(notice->user, "logged out on another instance");
      break;
  }
}

void BusOperators::bus_connected() {
  refresh(true, "bus connected");
}

}  // namespace tether::hub::cluster
