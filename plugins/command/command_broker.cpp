#include "plugins/command/command_broker.hpp"

#include <algorithm>
#include <utility>

#include "protocol/codec.hpp"

namespace tether::plugins::command {
namespace {

namespace wire = protocol::command;
using protocol::Bytes;
using protocol::Map;
using protocol::Value;

constexpr char kKeyPrefix[] = "command/id/";
constexpr char kStatePending[] = "pending";
constexpr char kStateFinished[] = "finished";

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

CommandBroker::CommandBroker(daemon::EventLoop& loop, daemon::store::DurableStore& store,
                             BrokerOptions options, SendFn send)
    : loop_(loop), store_(store), options_(options), send_(std::move(send)) {
  load();
}

CommandBroker::~CommandBroker() {
  *alive_ = false;
}

std::string CommandBroker::key_of(const std::string& id) {
  return kKeyPrefix + id;
}

Bytes CommandBroker::document_of(const Entry& entry) const {
  Map doc{{"order", Value(entry.order)},
          {"state", Value(entry.state == State::kFinished ? kStateFinished : kStatePending)},
          {"acked", Value(entry.acked)},
          {"target", Value(entry.target)}};
  if (entry.state == State::kFinished) doc.emplace_back("result", Value(entry.result));
  return protocol::encode_value(Value(std::move(doc)));
}

void CommandBroker::load() {
  std::weak_ptr<bool> alive = alive_;
  store_.list(kKeyPrefix, [this, alive](Result<std::vector<daemon::store::Document>> docs) {
    if (alive.expired()) return;
    // An unreadable store leaves the broker empty; the ids it held are lost, which is
    // the best it can do (the plugin logs the store's own failures where they occur).
    std::vector<Entry*> interrupted;
    if (docs.ok()) {
      for (daemon::store::Document& doc : docs.value()) {
        Result<Value> value = protocol::decode_value(doc.bytes);
        if (!value.ok() || !value->is_map()) continue;
        std::string id = doc.key.substr(sizeof(kKeyPrefix) - 1);
        const Value* order = value->find("order");
        const Value* state = value->find("state");
        std::optional<std::uint64_t> order_number =
            order != nullptr ? order->as_uint() : std::nullopt;
        const std::string* state_name = state != nullptr ? state->as_str() : nullptr;
        if (!order_number || state_name == nullptr) continue;
        Entry entry;
        entry.id = id;
        entry.order = *order_number;
        const Value* acked = value->find("acked");
        entry.acked = acked != nullptr && acked->as_bool().value_or(false);
        const Value* target = value->find("target");
        if (const std::string* name = target != nullptr ? target->as_str() : nullptr) {
          entry.target = *name;
        }
        const Value* result = value->find("result");
        const Bytes* stored = result != nullptr ? result->as_bin() : nullptr;
        if (*state_name == kStateFinished && stored != nullptr) {
          entry.state = State::kFinished;
          entry.result = *stored;
        } else {
          entry.state = State::kPending;
        }
        next_order_ = std::max(next_order_, entry.order + 1);
        by_order_[entry.order] = id;
        auto [it, inserted] = entries_.emplace(id, std::move(entry));
        if (inserted && it->second.state == State::kPending) interrupted.push_back(&it->second);
      }
    }
    loaded_ = true;
    // A request pending when the daemon stopped (or was killed) ends as timeout.
    for (Entry* entry : interrupted) {
      finish(*entry, wire::kTimeout, std::nullopt,
             std::string("the daemon stopped before the app answered"));
    }
    if (connected_) on_connected();
    std::vector<protocol::ProtoMsg> queued = std::move(queued_at_start_);
    queued_at_start_.clear();
    for (const protocol::ProtoMsg& msg : queued) (void)on_message(msg);
  });
}

Status CommandBroker::on_message(const protocol::ProtoMsg& msg) {
  if (msg.hdr.typ != wire::kRequest && msg.hdr.typ != wire::kAck) {
    return Error(ErrorCode::kProtocol, "command: unknown typ '" + msg.hdr.typ + "'");
  }
  if (!loaded_) {
    if (queued_at_start_.size() >= options_.max_queued_at_start) {
      return Error(ErrorCode::kBusy, "command: still loading its stored state");
    }
    queued_at_start_.push_back(msg);
    return Status::Ok();
  }
  if (msg.hdr.typ == wire::kRequest) {
    handle_request(msg);
  } else {
    handle_ack(msg);
  }
  return Status::Ok();
}

CommandBroker::Entry& CommandBroker::add_entry(const std::string& id) {
  Entry& entry = entries_[id];
  entry.id = id;
  entry.order = next_order_++;
  by_order_[entry.order] = id;
  return entry;
}

void CommandBroker::handle_request(const protocol::ProtoMsg& msg) {
  Result<wire::Request> request = wire::Request::decode(msg.body);
  if (!request.ok()) {
    std::optional<std::string> id = wire::peek_id(msg.body);
    if (!id) {
      send_unremembered("", wire::kInvalid, request.error().message());
      return;
    }
    auto known = entries_.find(*id);
    if (known != entries_.end()) {
      // A seen id is never answered twice, even when the repeat is garbled.
      if (known->second.state == State::kFinished) send_result(known->second, true);
      return;
    }
    finish(add_entry(*id), wire::kInvalid, std::nullopt, request.error().message());
    return;
  }
  auto known = entries_.find(request->id);
  if (known != entries_.end()) {
    if (known->second.state == State::kFinished) send_result(known->second, true);
    return;
  }
  Entry& entry = add_entry(request->id);
  entry.target = request->target;
  auto holder = holders_.find(request->target);
  if (stopping_) {
    finish(entry, wire::kTimeout, std::nullopt, std::string("the daemon is stopping"));
    return;
  }
  if (holder == holders_.end()) {
    finish(entry, wire::kNoTarget, std::nullopt, "no app holds target '" + request->target + "'");
    return;
  }
  // Counted before this entry joins: it is pending itself already.
  if (pending_for(request->target) > options_.max_pending) {
    finish(entry, wire::kBusy, std::nullopt,
           std::to_string(options_.max_pending) + " requests already wait for target '" +
               request->target + "'");
    return;
  }
  entry.holder = holder->second;

  std::chrono::milliseconds timeout = options_.timeout;
  if (request->timeout_s && *request->timeout_s > 0) {
    timeout = std::min<std::chrono::milliseconds>(
        std::chrono::seconds(static_cast<std::int64_t>(std::min<std::uint64_t>(
            *request->timeout_s, static_cast<std::uint64_t>(options_.max_timeout.count())))),
        options_.max_timeout);
  }
  entry.timer = std::make_unique<daemon::Timer>(loop_);
  std::string id = entry.id;
  entry.timer->start(timeout, [this, id] {
    auto it = entries_.find(id);
    if (it == entries_.end() || it->second.state != State::kPending) return;
    if (it->second.delivered && apps_ != nullptr) {
      apps_->ended(it->second.holder, id, wire::kTimeout);
    }
    finish(it->second, wire::kTimeout, std::nullopt, std::string("no answer in time"));
  });

  // Remember the id durably first, then hand the request to the app.
  std::weak_ptr<bool> alive = alive_;
  Map args = request->args.value_or(Map{});
  store_.put(key_of(id), document_of(entry),
             [this, alive, id, target = request->target, action = request->action,
              args = std::move(args)](const Status& stored) {
               if (alive.expired()) return;
               auto it = entries_.find(id);
               if (it == entries_.end() || it->second.state != State::kPending) return;
               Entry& pending = it->second;
               if (!stored) {
                 finish(pending, wire::kError, std::nullopt,
                        "the device could not store the request: " + stored.error().message());
                 return;
               }
               Status sent = apps_ == nullptr
                                 ? Status(Error(ErrorCode::kUnavailable, "no D-Bus service"))
                                 : apps_->deliver(pending.holder, id, target, action, args);
               if (!sent) {
                 finish(pending, wire::kError, std::nullopt,
                        "could not hand the request to the app: " + sent.error().message());
                 return;
               }
               pending.delivered = true;
             });
}

void CommandBroker::handle_ack(const protocol::ProtoMsg& msg) {
  Result<wire::Ack> ack = wire::Ack::decode(msg.body);
  if (!ack.ok()) return;  // nothing to act on; the backend will ack again
  auto it = entries_.find(ack->id);
  if (it == entries_.end() || it->second.state != State::kFinished || it->second.acked) return;
  it->second.acked = true;
  store_.put(key_of(ack->id), document_of(it->second), [](const Status&) {
    // A lost ack is harmless: the result is sent again and acked again.
  });
  forget_old_ids();
}

void CommandBroker::forget_old_ids() {
  std::size_t acked = 0;
  for (const auto& [order, id] : by_order_) {
    if (entries_.at(id).acked) ++acked;
  }
  daemon::store::DocumentChange change;
  for (auto it = by_order_.begin(); it != by_order_.end() && acked > options_.remembered_ids;) {
    Entry& entry = entries_.at(it->second);
    if (!entry.acked) {
      ++it;
      continue;
    }
    change.erases.push_back(key_of(entry.id));
    entries_.erase(it->second);
    it = by_order_.erase(it);
    --acked;
  }
  if (!change.erases.empty()) store_.commit(std::move(change), [](const Status&) {});
}

void CommandBroker::finish(Entry& entry, const char* status, std::optional<Map> ret,
                           std::optional<std::string> err, const Done& done) {
  entry.state = State::kStoring;
  if (entry.timer) entry.timer->cancel();
  wire::ResultBody body;
  body.id = entry.id;
  body.status = status;
  body.ret = std::move(ret);
  body.err = std::move(err);
  body.ts = now_ms();
  entry.result = body.encode();
  Entry staged = {};
  staged.order = entry.order;
  staged.state = State::kFinished;
  staged.target = entry.target;
  staged.result = entry.result;
  std::weak_ptr<bool> alive = alive_;
  std::string id = entry.id;
  // Result and seen-id in one atomic commit: the one document carries both.
  store_.put(key_of(id), document_of(staged), [this, alive, id, done](const Status& stored) {
    if (alive.expired()) return;
    auto it = entries_.find(id);
    if (it != entries_.end()) {
      // Sent even when the store failed, so the outcome reaches the backend now;
      // it then cannot survive a restart, which the caller hears through `done`.
      it->second.state = State::kFinished;
      it->second.timer.reset();
      send_result(it->second);
    }
    if (done) done(stored);
  });
}

void CommandBroker::send_unremembered(const std::string& id, const char* status, std::string err) {
  wire::ResultBody body;
  body.id = id;
  body.status = status;
  body.err = std::move(err);
  body.ts = now_ms();
  if (connected_) {
    (void)send_(
        protocol::make_msg(protocol::proto::kCommand, wire::kResult, {}, {}, body.encode()));
  }
}

void CommandBroker::send_result(const Entry& entry, bool even_if_acked) {
  if (!connected_ || (entry.acked && !even_if_acked)) return;
  // A failure means the link went down; on_connected sends it again.
  (void)send_(protocol::make_msg(protocol::proto::kCommand, wire::kResult, {}, {}, entry.result));
}

void CommandBroker::send_targets() {
  if (!connected_ || !loaded_) return;
  wire::Targets body{targets()};
  (void)send_(protocol::make_msg(protocol::proto::kCommand, wire::kTargets, {}, {}, body.encode()));
}

void CommandBroker::on_connected() {
  connected_ = true;
  if (!loaded_) return;  // load() calls this again when done
  send_targets();
  for (const auto& [order, id] : by_order_) {
    const Entry& entry = entries_.at(id);
    if (entry.state == State::kFinished) send_result(entry);
  }
}

void CommandBroker::on_disconnected() {
  connected_ = false;
}

void CommandBroker::on_shutdown() {
  stopping_ = true;
  std::vector<std::string> pending;
  for (const auto& [id, entry] : entries_) {
    if (entry.state == State::kPending) pending.push_back(id);
  }
  for (const std::string& id : pending) {
    Entry& entry = entries_.at(id);
    if (entry.delivered && apps_ != nullptr) apps_->ended(entry.holder, id, wire::kTimeout);
    finish(entry, wire::kTimeout, std::nullopt, std::string("the daemon stopped"));
  }
}

std::size_t CommandBroker::pending_for(const std::string& target) const {
  return static_cast<std::size_t>(
      std::count_if(entries_.begin(), entries_.end(), [&](const auto& e) {
        return e.second.state == State::kPending && e.second.target == target;
      }));
}

std::size_t CommandBroker::pending_count() const {
  return static_cast<std::size_t>(
      std::count_if(entries_.begin(), entries_.end(),
                    [](const auto& e) { return e.second.state == State::kPending; }));
}

std::vector<std::string> CommandBroker::targets() const {
  std::vector<std::string> out;
  out.reserve(holders_.size());
  for (const auto& [target, holder] : holders_) out.push_back(target);
  return out;
}

Status CommandBroker::register_target(const std::string& holder, const std::string& target) {
  if (target.empty()) return Error(ErrorCode::kInvalidArgument, "the target name is empty");
  if (target.size() > wire::kMaxNameBytes) {
    return Error(ErrorCode::kInvalidArgument, "the target name is longer than " +
                                                  std::to_string(wire::kMaxNameBytes) + " bytes");
  }
  auto it = holders_.find(target);
  if (it != holders_.end()) {
    if (it->second == holder) return Status::Ok();
    return Error(ErrorCode::kBusy, "target '" + target + "' is held by " + it->second);
  }
  if (holders_.size() >= options_.max_targets) {
    return Error(ErrorCode::kBusy,
                 "already " + std::to_string(options_.max_targets) + " targets registered");
  }
  holders_.emplace(target, holder);
  send_targets();
  if (apps_ != nullptr) apps_->targets_changed();
  return Status::Ok();
}

Status CommandBroker::unregister_target(const std::string& holder, const std::string& target) {
  auto it = holders_.find(target);
  if (it == holders_.end() || it->second != holder) {
    return Error(ErrorCode::kNotFound, "the caller does not hold target '" + target + "'");
  }
  holders_.erase(it);
  std::vector<std::string> orphans;
  for (const auto& [id, entry] : entries_) {
    if (entry.state == State::kPending && entry.target == target) orphans.push_back(id);
  }
  for (const std::string& id : orphans) {
    finish(entries_.at(id), wire::kNoTarget, std::nullopt,
           "the app unregistered target '" + target + "'");
  }
  send_targets();
  if (apps_ != nullptr) apps_->targets_changed();
  return Status::Ok();
}

void CommandBroker::holder_left(const std::string& holder) {
  bool changed = false;
  for (auto it = holders_.begin(); it != holders_.end();) {
    if (it->second == holder) {
      it = holders_.erase(it);
      changed = true;
    } else {
      ++it;
    }
  }
  std::vector<std::string> orphans;
  for (const auto& [id, entry] : entries_) {
    if (entry.state == State::kPending && entry.holder == holder) orphans.push_back(id);
  }
  for (const std::string& id : orphans) {
    finish(entries_.at(id), wire::kNoTarget, std::nullopt,
           std::string("the app holding the target left the bus"));
  }
  if (changed) {
    send_targets();
    if (apps_ != nullptr) apps_->targets_changed();
  }
}

Status CommandBroker::reply(const std::string& holder, const std::string& id, bool ok, Map ret,
                            std::string err, const Done& done) {
  auto it = entries_.find(id);
  if (it == entries_.end() || it->second.state != State::kPending || !it->second.delivered ||
      it->second.holder != holder) {
    return Error(ErrorCode::kNotFound, "no request '" + id + "' waits for the caller's answer");
  }
  if (ok) {
    finish(it->second, wire::kOk, ret.empty() ? std::nullopt : std::optional<Map>(std::move(ret)),
           std::nullopt, done);
  } else {
    if (err.empty()) err = "the app reported an error";
    finish(it->second, wire::kError, std::nullopt, std::move(err), done);
  }
  return Status::Ok();
}

}  // namespace tether::plugins::command
