#include "hub/services/update_service.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <string_view>

#include "hub/auth.hpp"
#include "hub/devices/device_side.hpp"
#include "hub/json.hpp"
#include "hub/services/control_messages.hpp"
#include "hub/store/store.hpp"
#include "protocol/update.hpp"

namespace tether::hub {

namespace {

namespace wire = protocol::update;
using Json = nlohmann::json;

constexpr const char* kQueued = "queued";
constexpr const char* kOffered = "offered";

bool is_final(std::string_view state) {
  return wire::is_final_state(state);
}

HttpResponse error(unsigned status, const std::string& message) {
  return HttpResponse{status, "{\"error\":" + json::quote(message) + "}", {}};
}

HttpResponse from_error(const Error& e) {
  switch (e.code()) {
    case ErrorCode::kNotFound:
      return error(404, e.message());
    case ErrorCode::kBusy:
      return error(409, e.message());
    case ErrorCode::kUnavailable:
      return error(503, e.message());
    case ErrorCode::kInvalidArgument:
      return error(400, e.message());
    case ErrorCode::kAccessDenied:
      return error(403, e.message());
    default:
      return error(500, e.message());
  }
}

// The body as a JSON object whose keys are all in `allowed`; else a 400 sentence.
Result<Json> parse_body(const HttpRequest& r, std::initializer_list<std::string_view> allowed) {
  if (r.body.empty())
    return Error(ErrorCode::kInvalidArgument, "the body is empty; send a JSON object");
  Json body = Json::parse(r.body, nullptr, false);
  if (body.is_discarded()) {
    return Error(ErrorCode::kInvalidArgument, "the body is not valid JSON (garbage or cut short)");
  }
  if (!body.is_object())
    return Error(ErrorCode::kInvalidArgument, "the body must be a JSON object");
  for (const auto& item : body.items()) {
    if (std::find(allowed.begin(), allowed.end(), item.key()) == allowed.end()) {
      return Error(ErrorCode::kInvalidArgument, "unknown field '" + item.key() + "'");
    }
  }
  return body;
}

Result<std::string> string_field(const Json& body, const char* key, bool required) {
  const auto it = body.find(key);
  if (it == body.end() || it->is_null()) {
    if (required)
      return Error(ErrorCode::kInvalidArgument, std::string("'") + key + "' is required");
    return std::string();
  }
  if (!it->is_string()) {
    return Error(ErrorCode::kInvalidArgument, std::string("'") + key + "' must be a string");
  }
  return it->get<std::string>();
}

Result<bool> bool_field(const Json& body, const char* key, bool required) {
  const auto it = body.find(key);
  if (it == body.end() || it->is_null()) {
    if (required)
      return Error(ErrorCode::kInvalidArgument, std::string("'") + key + "' is required");
    return false;
  }
  if (!it->is_boolean()) {
    return Error(ErrorCode::kInvalidArgument, std::string("'") + key + "' must be true or false");
  }
  return it->get<bool>();
}

std::string optional_percent(std::int64_t p) {
  return p < 0 ? std::string("null") : std::to_string(p);
}

bool valid_version(const std::string& v) {
  if (v.empty() || v.size() > UpdateService::kMaxVersion) return false;
  return std::all_of(v.begin(), v.end(),
                     [](char c) { return static_cast<unsigned char>(c) >= 0x20 && c != 0x7f; });
}

}  // namespace

UpdateService* UpdateService::in(const ServiceRegistry& registry) {
  return dynamic_cast<UpdateService*>(registry.find(protocol::proto::kUpdate));
}

UpdateService::~UpdateService() {
  // The store's writer posts completions that capture `this`: drain them first.
  if (store_) store_->flush();
}

Status UpdateService::configure(const UpdateSettings& settings, const sql::StoreUrl& store_url,
                                const std::string& default_url) {
  auto store = UpdateStore::open(store_url, context_.inbox);
  if (!store.ok()) return store.error();
  auto updates = (*store)->load_updates();
  if (!updates.ok()) return updates.error();
  auto campaigns = (*store)->load_campaigns();
  if (!campaigns.ok()) return campaigns.error();
  if (!settings.artifact_dir.empty()) {
    std::optional<ArtifactSigner> signer;
    if (!settings.signing_key.empty()) {
      auto loaded = ArtifactSigner::load(settings.signing_key);
      if (!loaded.ok()) return loaded.error();
      signer = std::move(*loaded);
    }
    // After each scan, queued offers whose artifact was still being hashed go out.
    auto library = ArtifactLibrary::open(
        settings.artifact_dir, std::move(signer),
        [this, inbox = &context_.inbox] { inbox->post(guarded([this] { deliver_queued(); })); });
    if (!library.ok()) return library.error();
    library_ = std::move(*library);
  } else if (!settings.signing_key.empty()) {
    return Error(ErrorCode::kInvalidArgument,
                 "option 'update.signing-key' needs 'update.artifact-dir'");
  }
  std::string url = settings.public_url.empty() ? default_url : settings.public_url;
  while (!url.empty() && url.back() == '/') url.pop_back();
  if (url.rfind("https://", 0) != 0) {
    return Error(ErrorCode::kInvalidArgument,
                 "option 'update.public-url': '" + url + "' is not an https:// URL");
  }
  base_url_ = url;
  store_ = std::move(*store);
  for (auto& e : *updates) {
    auto entry = std::make_unique<UpdateEntry>(std::move(e));
    updates_[entry->id] = std::move(entry);
  }
  campaigns_ = std::move(*campaigns);
  if (campaigns_.size() > kMaxCampaigns) {
    campaigns_.erase(campaigns_.begin(), campaigns_.end() - kMaxCampaigns);
  }
  return Status::Ok();
}

// ------------------------------------------------------------------ device side

void UpdateService::on_device_message(const std::string& device_id, protocol::ProtoMsg& msg) {
  if (msg.hdr.typ != wire::kProgress) {
    (void)context_.devices.send(
        device_id,
        control_error("update " + msg.hdr.typ + " is not for the backend", false, &msg.hdr), true);
    return;
  }
  auto progress = protocol::UpdateProgress::decode(msg.body);
  if (!progress.ok()) {
    (void)context_.devices.send(device_id,
                                control_error(progress.error().message(), false, &msg.hdr), true);
    return;
  }
  const bool final = is_final(progress->state);
  auto ack = [this, device_id, id = progress->id] {
    protocol::UpdateAck a{id};
    (void)context_.devices.send(
        device_id, protocol::make_msg(protocol::proto::kUpdate, wire::kAck, {}, {}, a.encode()),
        false);
  };
  // The offer may have been made on another instance: the store has it.
  UpdateEntry* found = store_ ? refresh(progress->id) : nullptr;
  if (found == nullptr || found->device != device_id) {
    // Not one of the hub's offers (another backend's, or forgotten): a final state
    // is acknowledged all the same, or the device would repeat it forever.
    context_.log.info("device " + device_id + ": update " + progress->id + " is " +
                      progress->state + " (not an offer of this hub)");
    if (final) ack();
    return;
  }
  UpdateEntry& entry = *found;
  const std::int64_t percent =
      progress->percent
          ? static_cast<std::int64_t>(std::min<std::uint64_t>(*progress->percent, 100))
          : -1;
  if (is_final(entry.state) && entry.state == progress->state) {
    // The device repeats a final state (after a reconnect): the ack was lost. While
    // this instance's commit of it is in flight, its completion acks it; once the
    // store has it, it is acked again at once.
    if (entry.acked) {
      ack();
      return;
    }
    if (in_flight(entry.id)) return;
    ack();
    entry.acked = true;
    begin_write(entry.id, entry.state);
    store_->set_acked(entry.id, guarded([this, id = entry.id](const Status&) { end_write(id); }));
    return;
  }
  UpdateChange change;
  change.state = progress->state;
  change.percent = percent;
  record(entry, std::move(change), progress->message.value_or(""),
         [this, final, ack, id = entry.id](const Status& saved, bool /*changed*/) {
           if (!saved.ok()) {
             context_.log.error(saved.error().wrap("storing update " + id).message());
             return;  // not acknowledged: the device sends it again after a reconnect
           }
           if (!final) return;
           ack();
           auto it = updates_.find(id);
           if (it != updates_.end() && !it->second->acked) {
             it->second->acked = true;
             begin_write(id, it->second->state);
             store_->set_acked(id, guarded([this, id](const Status&) { end_write(id); }));
           }
         });
}

void UpdateService::deliver_queued() {
  if (!store_) return;
  std::vector<std::string> queued;
  for (const auto& [id, entry] : updates_) {
    if (entry->state == kQueued && context_.devices.online(entry->device)) queued.push_back(id);
  }
  for (const auto& id : queued) {
    // The instance the device connected to may have sent it already.
    UpdateEntry* entry = refresh(id);
    if (entry != nullptr && entry->state == kQueued) deliver(*entry);
  }
}

void UpdateService::on_device_online(const std::string& device_id) {
  if (!store_) return;
  // Offers made on any instance while the device was away wait in the store.
  if (!sync_device(device_id, false)) {
    context_.log.error("reading the updates of " + device_id +
                       " failed; only offers this instance knows are sent");
  }
  std::vector<UpdateEntry*> queued;
  for (auto& [id, entry] : updates_) {
    if (entry->device == device_id && entry->state == kQueued) queued.push_back(entry.get());
  }
  for (UpdateEntry* entry : queued) deliver(*entry);
}

void UpdateService::deliver(UpdateEntry& entry) {
  if (!context_.devices.online(entry.device)) return;  // stays queued until it connects
  const auto info = library_ ? library_->find(entry.artifact) : std::nullopt;
  // Still being hashed (the hub just started): the end of the scan delivers it.
  if (info && !info->ready() && info->error.empty()) return;
  if (!info || info->sha256 != entry.sha256) {
    UpdateChange failed;
    failed.state = wire::kFailure;
    failed.only_from = kQueued;
    record(entry, std::move(failed),
           "the hub no longer has artifact " + entry.artifact + " as offered; offer it again");
    return;
  }
  // A fresh grant per delivery: only its hash is kept.
  auto grant = random_hex(16);
  if (!grant.ok()) {
    context_.log.error(grant.error().wrap("making a download grant").message());
    return;
  }
  protocol::UpdateOffer offer;
  offer.id = entry.id;
  offer.version = entry.version;
  offer.url = base_url_ + "/artifacts/" + entry.artifact + "?grant=" + *grant;
  offer.size = entry.size;
  offer.sha256 = entry.sha256;
  if (!info->signature.empty()) offer.signature = info->signature;
  if (entry.consent) offer.consent = true;
  last_url_ = offer.url;
  // Stored before it is sent: a device that downloads always finds its grant. Only
  // from queued: when two instances deliver it at once, one of them sends it.
  UpdateChange offered;
  offered.state = kOffered;
  offered.grant_hash = sha256_hex(*grant);
  offered.only_from = kQueued;
  record(entry, std::move(offered), "offered to the device",
         [this, device = entry.device,
          msg = protocol::make_msg(protocol::proto::kUpdate, wire::kOffer, {}, {}, offer.encode())](
             const Status& saved, bool changed) {
           if (!saved.ok()) {
             context_.log.error(saved.error().wrap("storing an offer").message());
             return;
           }
           if (!changed) return;  // another instance sent it, or it ended meanwhile
           if (auto s = context_.devices.send(device, msg, false); !s.ok()) {
             context_.log.info("device " + device +
                               ": the offer was not sent: " + s.error().message());
           }
         });
}

void UpdateService::create(UpdateEntry& entry, const std::string& state,
                           const std::string& message) {
  const std::int64_t now = now_ms();
  entry.state = state;
  entry.percent = -1;
  entry.message = message;
  entry.updated_ms = now;
  UpdateEvent event{now, state, -1, message};
  entry.events.assign(1, event);
  begin_write(entry.id, "");
  store_->save(entry, event, guarded([this, id = entry.id](const Status& saved) {
                 if (!saved.ok()) {
                   context_.log.error(saved.error().wrap("storing update " + id).message());
                 }
                 end_write(id);
               }));
}

void UpdateService::record(UpdateEntry& entry, UpdateChange change, const std::string& message,
                           UpdateStore::Changed then) {
  const std::int64_t now = now_ms();
  const bool final = is_final(change.state);
  begin_write(entry.id, entry.state);
  // Download percentages between transitions keep the state's message.
  if (!message.empty() || final) {
    change.message = message;
    entry.message = message;
  }
  change.updated_ms = now;
  entry.state = change.state;
  entry.percent = change.percent;
  entry.updated_ms = now;
  if (change.acked) entry.acked = *change.acked;
  if (change.grant_hash) entry.grant_hash = *change.grant_hash;
  UpdateEvent event{now, change.state, change.percent, message};
  entry.events.push_back(event);
  while (entry.events.size() > UpdateStore::kMaxEvents) entry.events.pop_front();
  store_->change(
      entry.id, std::move(change), event,
      guarded([this, id = entry.id, then = std::move(then)](const Status& saved, bool changed) {
        end_write(id);
        // Not applied (the row moved on elsewhere): the store's row it is.
        if (saved.ok() && !changed) (void)refresh(id);
        if (then) then(saved, changed);
      }));
}

void UpdateService::begin_write(const std::string& id, const std::string& stored_state) {
  auto [it, fresh] = writing_.try_emplace(id);
  if (fresh) it->second.stored_state = stored_state;
  ++it->second.writes;
}

void UpdateService::end_write(const std::string& id) {
  auto it = writing_.find(id);
  if (it != writing_.end() && --it->second.writes <= 0) writing_.erase(it);
}

UpdateEntry* UpdateService::adopt(UpdateEntry row, bool with_events) {
  auto it = updates_.find(row.id);
  if (in_flight(row.id)) return it == updates_.end() ? nullptr : it->second.get();
  if (it == updates_.end()) {
    std::string id = row.id;
    it = updates_.emplace(std::move(id), std::make_unique<UpdateEntry>(std::move(row))).first;
    return it->second.get();
  }
  if (!with_events) row.events = std::move(it->second->events);
  *it->second = std::move(row);
  return it->second.get();
}

UpdateEntry* UpdateService::refresh(const std::string& update_id) {
  auto it = updates_.find(update_id);
  if (in_flight(update_id)) return it == updates_.end() ? nullptr : it->second.get();
  auto row = store_->get(update_id);
  if (!row.ok()) {
    // The copy in memory is all there is until the store answers again.
    context_.log.error(row.error().wrap("reading update " + update_id).message());
    return it == updates_.end() ? nullptr : it->second.get();
  }
  if (!row->has_value()) {
    if (it != updates_.end()) updates_.erase(it);
    return nullptr;
  }
  return adopt(std::move(**row), true);
}

bool UpdateService::sync_device(const std::string& device, bool with_events) {
  auto rows = store_->of_device(device, with_events);
  if (!rows.ok()) {
    context_.log.error(rows.error().wrap("reading the updates of " + device).message());
    return false;
  }
  std::set<std::string> stored;
  for (const UpdateEntry& e : *rows) stored.insert(e.id);
  std::erase_if(updates_, [&](const auto& item) {
    return item.second->device == device && !stored.contains(item.first) && !in_flight(item.first);
  });
  for (UpdateEntry& e : *rows) (void)adopt(std::move(e), with_events);
  return true;
}

bool UpdateService::sync_campaign(const std::string& campaign) {
  auto rows = store_->of_campaign(campaign);
  if (!rows.ok()) {
    context_.log.error(rows.error().wrap("reading the updates of campaign " + campaign).message());
    return false;
  }
  std::set<std::string> stored;
  for (const UpdateEntry& e : *rows) stored.insert(e.id);
  std::erase_if(updates_, [&](const auto& item) {
    return item.second->campaign == campaign && !stored.contains(item.first) &&
           !in_flight(item.first);
  });
  for (UpdateEntry& e : *rows) (void)adopt(std::move(e), false);
  return true;
}

UpdateEntry* UpdateService::running(const std::string& device) {
  for (auto& [id, entry] : updates_) {
    if (entry->device == device && !is_final(entry->state)) return entry.get();
  }
  return nullptr;
}

void UpdateService::forget_old(const std::string& device) {
  std::vector<UpdateEntry*> mine;
  for (auto& [id, entry] : updates_) {
    if (entry->device == device) mine.push_back(entry.get());
  }
  if (mine.size() <= kKeepPerDevice) return;
  std::sort(mine.begin(), mine.end(), [](const UpdateEntry* a, const UpdateEntry* b) {
    return a->created_ms < b->created_ms;
  });
  std::size_t extra = mine.size() - kKeepPerDevice;
  for (UpdateEntry* e : mine) {
    if (extra == 0) break;
    if (!is_final(e->state)) continue;
    const std::string id = e->id;
    store_->erase(id, {});
    updates_.erase(id);
    --extra;
  }
}

// ------------------------------------------------------------------ actions

Result<std::string> UpdateService::offer(const OfferRequest& request) {
  if (!store_) return Error(ErrorCode::kUnavailable, "software update is not configured");
  if (!library_) {
    return Error(ErrorCode::kUnavailable,
                 "the hub has no artifact folder (option 'update.artifact-dir')");
  }
  if (!valid_device_id(request.device)) return Error(ErrorCode::kNotFound, "no such device");
  auto known = context_.store.get(request.device);
  if (!known.ok()) return known.error();
  if (!known->has_value()) return Error(ErrorCode::kNotFound, "no such device: " + request.device);
  if (!valid_artifact_name(request.artifact)) {
    return Error(ErrorCode::kInvalidArgument,
                 "'artifact' must be a file name (1-128 of A-Z a-z 0-9 . _ + -, not starting "
                 "with a dot)");
  }
  const std::string version = request.version.empty() ? request.artifact : request.version;
  if (!valid_version(version)) {
    return Error(ErrorCode::kInvalidArgument, "'version' must be 1-128 printable characters");
  }
  library_->rescan();
  const auto info = library_->find(request.artifact);
  if (!info) return Error(ErrorCode::kNotFound, "no artifact named " + request.artifact);
  if (!info->ready()) {
    return Error(ErrorCode::kUnavailable,
                 info->error.empty() ? "artifact " + request.artifact +
                                           " is still being hashed; try again in a moment"
                                     : "artifact " + request.artifact + ": " + info->error);
  }
  // An update made on another instance counts: the store says what runs.
  // (Without events: a campaign offers to each of its devices in turn.)
  if (!sync_device(request.device, false)) {
    return Error(ErrorCode::kUnavailable, "the hub cannot read its update store; try again");
  }
  if (const UpdateEntry* busy = running(request.device)) {
    return Error(ErrorCode::kBusy, "device " + request.device + " has update " + busy->id +
                                       " in state " + busy->state +
                                       "; cancel it or wait for its end");
  }
  auto id = random_hex(8);
  if (!id.ok()) return id.error();
  auto entry = std::make_unique<UpdateEntry>();
  entry->id = *id;
  entry->device = request.device;
  entry->artifact = request.artifact;
  entry->version = version;
  entry->size = info->size;
  entry->sha256 = info->sha256;
  entry->consent = request.consent;
  entry->campaign = request.campaign;
  entry->created_by = request.user;
  entry->created_ms = now_ms();
  UpdateEntry& e = *entry;
  updates_[e.id] = std::move(entry);
  create(e, kQueued, "offered by " + request.user);
  deliver(e);
  forget_old(request.device);
  return *id;
}

Status UpdateService::consent(const std::string& update_id, bool accept, const std::string& user) {
  // The device may report to another instance: the store says whether it waits.
  UpdateEntry* found = store_ ? refresh(update_id) : nullptr;
  if (found == nullptr) return Error(ErrorCode::kNotFound, "no such update: " + update_id);
  UpdateEntry& e = *found;
  if (e.state != wire::kAwaitingConsent) {
    return Error(ErrorCode::kBusy,
                 "update " + update_id + " is " + e.state + ", not awaiting-consent");
  }
  protocol::UpdateConsent body{update_id, accept};
  if (auto s = context_.devices.send(
          e.device,
          protocol::make_msg(protocol::proto::kUpdate, wire::kConsent, {}, {}, body.encode()),
          false);
      !s.ok()) {
    return Error(ErrorCode::kUnavailable, "device " + e.device + " is not connected");
  }
  e.events.push_back(
      UpdateEvent{now_ms(), e.state, -1, (accept ? "accepted by " : "declined by ") + user});
  begin_write(e.id, e.state);
  store_->add_event(e.id, e.events.back(),
                    guarded([this, id = e.id](const Status&) { end_write(id); }));
  return Status::Ok();
}

Status UpdateService::cancel(const std::string& update_id, const std::string& user) {
  UpdateEntry* found = store_ ? refresh(update_id) : nullptr;
  if (found == nullptr) return Error(ErrorCode::kNotFound, "no such update: " + update_id);
  UpdateEntry& e = *found;
  if (is_final(e.state)) {
    return Error(ErrorCode::kBusy, "update " + update_id + " has ended (" + e.state + ")");
  }
  UpdateChange cancelled;
  cancelled.state = wire::kCancelled;
  cancelled.acked = true;
  if (e.state == kQueued) {
    // The device never saw it: the hub alone ends it.
    record(e, std::move(cancelled), "cancelled by " + user + " before it reached the device");
    return Status::Ok();
  }
  if (e.state == kOffered) {
    // Sent, but the device has not answered: it may never have received it (the
    // link dropped). The hub ends it (its download grant with it) and tells the
    // device, which reports `cancelled` itself if it had started.
    const std::string device = e.device;
    record(e, std::move(cancelled), "cancelled by " + user + " before the device answered");
    protocol::UpdateCancel body{update_id};
    (void)context_.devices.send(
        device, protocol::make_msg(protocol::proto::kUpdate, wire::kCancel, {}, {}, body.encode()),
        false);
    return Status::Ok();
  }
  protocol::UpdateCancel body{update_id};
  if (auto s = context_.devices.send(
          e.device,
          protocol::make_msg(protocol::proto::kUpdate, wire::kCancel, {}, {}, body.encode()),
          false);
      !s.ok()) {
    return Error(ErrorCode::kUnavailable, "device " + e.device + " is not connected");
  }
  e.events.push_back(UpdateEvent{now_ms(), e.state, -1, "cancel asked by " + user});
  begin_write(e.id, e.state);
  store_->add_event(e.id, e.events.back(),
                    guarded([this, id = e.id](const Status&) { end_write(id); }));
  return Status::Ok();
}

Result<std::string> UpdateService::create_campaign(const std::vector<std::string>& devices,
                                                   const OfferRequest& request) {
  if (!store_ || !library_) {
    return Error(ErrorCode::kUnavailable,
                 "the hub has no artifact folder (option 'update.artifact-dir')");
  }
  if (devices.empty()) return Error(ErrorCode::kInvalidArgument, "choose at least one device");
  if (devices.size() > kMaxCampaignDevices) {
    return Error(ErrorCode::kInvalidArgument,
                 "at most " + std::to_string(kMaxCampaignDevices) + " devices per campaign");
  }
  std::set<std::string> unique;
  for (const auto& d : devices) {
    if (!valid_device_id(d)) return Error(ErrorCode::kInvalidArgument, "no such device: " + d);
    auto known = context_.store.get(d);
    if (!known.ok()) return known.error();
    if (!known->has_value()) return Error(ErrorCode::kInvalidArgument, "no such device: " + d);
    unique.insert(d);
  }
  // The artifact is checked once, before anything is recorded.
  if (!valid_artifact_name(request.artifact)) {
    return Error(ErrorCode::kInvalidArgument, "'artifact' must be a file name");
  }
  library_->rescan();
  const auto info = library_->find(request.artifact);
  if (!info) return Error(ErrorCode::kNotFound, "no artifact named " + request.artifact);
  if (!info->ready()) {
    return Error(ErrorCode::kUnavailable,
                 "artifact " + request.artifact + " is still being hashed; try again in a moment");
  }
  auto id = random_hex(8);
  if (!id.ok()) return id.error();
  Campaign c{"c" + *id,
             request.artifact,
             request.version.empty() ? request.artifact : request.version,
             request.consent,
             request.user,
             now_ms()};
  if (!valid_version(c.version)) {
    return Error(ErrorCode::kInvalidArgument, "'version' must be 1-128 printable characters");
  }
  campaigns_.push_back(c);
  if (campaigns_.size() > kMaxCampaigns) campaigns_.erase(campaigns_.begin());
  store_->save(c, {});
  for (const auto& device : unique) {
    OfferRequest one = request;
    one.device = device;
    one.version = c.version;
    one.campaign = c.id;
    auto offered = offer(one);
    if (offered.ok()) continue;
    // Recorded as rejected by the hub, so the campaign's counts include the device.
    auto rid = random_hex(8);
    if (!rid.ok()) return rid.error();
    auto entry = std::make_unique<UpdateEntry>();
    entry->id = *rid;
    entry->device = device;
    entry->artifact = c.artifact;
    entry->version = c.version;
    entry->size = info->size;
    entry->sha256 = info->sha256;
    entry->consent = c.consent;
    entry->campaign = c.id;
    entry->created_by = c.created_by;
    entry->created_ms = now_ms();
    entry->acked = true;
    UpdateEntry& e = *entry;
    updates_[e.id] = std::move(entry);
    create(e, wire::kRejected, "not offered: " + offered.error().message());
  }
  return c.id;
}

const UpdateEntry* UpdateService::find(const std::string& update_id) {
  return store_ ? refresh(update_id) : nullptr;
}

std::vector<const UpdateEntry*> UpdateService::device_updates(const std::string& device) {
  if (store_) (void)sync_device(device);  // else the copy in memory is all there is
  std::vector<const UpdateEntry*> out;
  for (const auto& [id, entry] : updates_) {
    if (entry->device == device) out.push_back(entry.get());
  }
  std::sort(out.begin(), out.end(), [](const UpdateEntry* a, const UpdateEntry* b) {
    return a->created_ms != b->created_ms ? a->created_ms > b->created_ms : a->id > b->id;
  });
  return out;
}

std::optional<AuthorisedArtifact> UpdateService::authorise_download(const std::string& name,
                                                                    const std::string& grant) {
  if (!library_ || !store_ || !valid_artifact_name(name) || grant.size() != 32) {
    return std::nullopt;
  }
  // The offer may have been made on another instance: its grant is in the store
  // (committed before the offer went out). A copy with this instance's writes in
  // flight (a cancel, say) is newer than the row.
  const std::string hash = sha256_hex(grant);
  auto row = store_->by_grant(hash);
  if (!row.ok()) {
    context_.log.error(row.error().wrap("looking up a download grant").message());
    return std::nullopt;
  }
  if (!row->has_value()) return std::nullopt;
  const UpdateEntry& e = **row;
  if (e.artifact != name || is_final(e.state)) return std::nullopt;
  // This instance's own change not committed yet may end it (a cancel); a pending
  // delivery of its own (which will not apply) does not take the stored grant away.
  if (in_flight(e.id)) {
    auto mine = updates_.find(e.id);
    if (mine != updates_.end() && is_final(mine->second->state)) return std::nullopt;
  }
  const std::string sha256 = e.sha256;
  (void)adopt(std::move(**row), false);
  auto info = library_->find(name);
  if (!info || info->sha256 != sha256) return std::nullopt;
  return AuthorisedArtifact{library_->path_of(name), std::move(*info)};
}

// ------------------------------------------------------------------ JSON

std::string UpdateService::entry_json(const UpdateEntry& e, bool events) const {
  std::string out =
      "{\"id\":" + json::quote(e.id) + ",\"device\":" + json::quote(e.device) +
      ",\"artifact\":" + json::quote(e.artifact) + ",\"version\":" + json::quote(e.version) +
      ",\"size\":" + std::to_string(e.size) + ",\"sha256\":" + json::quote(e.sha256) +
      ",\"consent\":" + (e.consent ? "true" : "false") +
      ",\"campaign\":" + json::quote(e.campaign) + ",\"created_by\":" + json::quote(e.created_by) +
      ",\"created\":" + std::to_string(e.created_ms) + ",\"state\":" + json::quote(e.state) +
      ",\"percent\":" + optional_percent(e.percent) + ",\"message\":" + json::quote(e.message) +
      ",\"updated\":" + std::to_string(e.updated_ms) + ",\"acked\":" + (e.acked ? "true" : "false");
  if (events) {
    out += ",\"events\":[";
    bool first = true;
    for (const auto& ev : e.events) {
      if (!first) out += ",";
      first = false;
      out += "{\"at\":" + std::to_string(ev.at_ms) + ",\"state\":" + json::quote(ev.state) +
             ",\"percent\":" + optional_percent(ev.percent) +
             ",\"message\":" + json::quote(ev.message) + "}";
    }
    out += "]";
  }
  return out + "}";
}

std::string UpdateService::campaign_json(const Campaign& c,
                                         const std::map<std::string, std::size_t>* given) const {
  const bool devices = given == nullptr;
  std::map<std::string, std::size_t> counted;
  std::string list;
  if (devices) {
    for (const auto& [id, e] : updates_) {
      if (e->campaign != c.id) continue;
      ++counted[e->state];
      if (!list.empty()) list += ",";
      list += entry_json(*e, false);
    }
  }
  const auto& counts = devices ? counted : *given;
  std::size_t total = 0;
  for (const auto& [state, n] : counts) total += n;
  std::string out = "{\"id\":" + json::quote(c.id) + ",\"artifact\":" + json::quote(c.artifact) +
                    ",\"version\":" + json::quote(c.version) +
                    ",\"consent\":" + (c.consent ? "true" : "false") +
                    ",\"created_by\":" + json::quote(c.created_by) +
                    ",\"created\":" + std::to_string(c.created_ms) +
                    ",\"total\":" + std::to_string(total) + ",\"counts\":{";
  bool first = true;
  for (const auto& [state, n] : counts) {
    if (!first) out += ",";
    first = false;
    out += json::quote(state) + ":" + std::to_string(n);
  }
  out += "}";
  if (devices) out += ",\"updates\":[" + list + "]";
  return out + "}";
}

std::optional<HttpResponse> UpdateService::handle(const HttpRequest& r, const Caller& caller) {
  const std::string& path = r.path;
  if (path == "/api/updates/artifacts") {
    if (r.method != "GET") return error(405, "use GET");
    return list_artifacts();
  }
  if (path == "/api/update-campaigns" || path.rfind("/api/update-campaigns/", 0) == 0) {
    return campaign_route(r, caller);
  }
  constexpr std::string_view kUpdates = "/api/updates/";
  if (path.rfind(kUpdates, 0) == 0) {
    return update_route(r, path.substr(kUpdates.size()), caller);
  }
  constexpr std::string_view kDevices = "/api/devices/";
  if (path.rfind(kDevices, 0) != 0) return std::nullopt;
  const std::string rest = path.substr(kDevices.size());
  const auto slash = rest.find('/');
  if (slash == std::string::npos || rest.substr(slash) != "/updates") return std::nullopt;
  return offer_route(r, rest.substr(0, slash), caller);
}

HttpResponse UpdateService::list_artifacts() {
  std::string out = "{\"signing\":";
  if (!library_)
    return HttpResponse{200, "{\"signing\":\"\",\"enabled\":false,\"artifacts\":[]}", {}};
  library_->rescan();
  for (const auto& p : library_->take_problems()) context_.log.warn("update artifacts: " + p);
  out += json::quote(library_->signing()) + ",\"enabled\":true,\"artifacts\":[";
  bool first = true;
  for (const auto& a : library_->list()) {
    if (!first) out += ",";
    first = false;
    out += "{\"name\":" + json::quote(a.name) + ",\"size\":" + std::to_string(a.size) +
           ",\"sha256\":" + (a.ready() ? json::quote(a.sha256) : std::string("null")) +
           ",\"signed\":" + (a.signature.empty() ? "false" : "true") +
           ",\"error\":" + json::quote(a.error) + "}";
  }
  return HttpResponse{200, out + "]}", {}};
}

HttpResponse UpdateService::offer_route(const HttpRequest& r, const std::string& device,
                                        const Caller& caller) {
  if (!valid_device_id(device)) return error(404, "no such device");
  auto known = context_.store.get(device);
  if (!known.ok()) return error(500, "internal error");
  if (!known->has_value()) return error(404, "no such device");
  if (r.method == "GET") {
    std::string out = "[";
    for (const UpdateEntry* e : device_updates(device)) {
      if (out.size() > 1) out += ",";
      out += entry_json(*e, true);
    }
    return HttpResponse{200, out + "]", {}};
  }
  if (r.method != "POST") return error(405, "use GET or POST");
  if (!caller.may(Role::kOperator)) return forbidden(Role::kOperator);
  auto body = parse_body(r, {"artifact", "version", "consent"});
  if (!body.ok()) return from_error(body.error());
  auto artifact = string_field(*body, "artifact", true);
  if (!artifact.ok()) return from_error(artifact.error());
  auto version = string_field(*body, "version", false);
  if (!version.ok()) return from_error(version.error());
  auto consent = bool_field(*body, "consent", false);
  if (!consent.ok()) return from_error(consent.error());
  auto id = offer(OfferRequest{device, *artifact, *version, *consent, caller.user, ""});
  if (!id.ok()) return from_error(id.error());
  const UpdateEntry* made = find(*id);
  if (made == nullptr) return error(500, "internal error");
  return HttpResponse{201, entry_json(*made, true), {}};
}

HttpResponse UpdateService::update_route(const HttpRequest& r, const std::string& rest,
                                         const Caller& caller) {
  const auto slash = rest.find('/');
  const std::string id = rest.substr(0, slash);
  const std::string action = slash == std::string::npos ? "" : rest.substr(slash + 1);
  const UpdateEntry* e = find(id);
  if (e == nullptr) return error(404, "no such update");
  if (action.empty()) {
    if (r.method != "GET") return error(405, "use GET");
    return HttpResponse{200, entry_json(*e, true), {}};
  }
  if (action != "consent" && action != "cancel") return error(404, "no such route");
  if (r.method != "POST") return error(405, "use POST");
  if (!caller.may(Role::kOperator)) return forbidden(Role::kOperator);
  Status done = Status::Ok();
  if (action == "consent") {
    auto body = parse_body(r, {"accept"});
    if (!body.ok()) return from_error(body.error());
    auto accept = bool_field(*body, "accept", true);
    if (!accept.ok()) return from_error(accept.error());
    done = consent(id, *accept, caller.user);
  } else {
    if (!r.body.empty()) {
      auto body = parse_body(r, {});
      if (!body.ok()) return from_error(body.error());
    }
    done = cancel(id, caller.user);
  }
  if (!done.ok()) return from_error(done.error());
  const UpdateEntry* now = find(id);
  if (now == nullptr) return error(404, "no such update");
  return HttpResponse{200, entry_json(*now, true), {}};
}

std::optional<Campaign> UpdateService::find_campaign(const std::string& id) {
  auto stored = store_->campaign(id);
  if (!stored.ok()) {
    context_.log.error(stored.error().wrap("reading campaign " + id).message());
  } else if (stored->has_value()) {
    return **stored;
  }
  // Made here, its commit still in flight (or the store cannot be read).
  for (const auto& c : campaigns_) {
    if (c.id == id) return c;
  }
  return std::nullopt;
}

HttpResponse UpdateService::campaign_route(const HttpRequest& r, const Caller& caller) {
  constexpr std::string_view kBase = "/api/update-campaigns";
  if (r.path.size() > kBase.size()) {
    const std::string id = r.path.substr(kBase.size() + 1);
    if (r.method != "GET") return error(405, "use GET");
    if (!store_) return error(404, "no such campaign");
    const auto c = find_campaign(id);
    if (!c) return error(404, "no such campaign");
    (void)sync_campaign(id);
    return HttpResponse{200, campaign_json(*c, nullptr), {}};
  }
  if (r.method == "GET") {
    if (!store_) return HttpResponse{200, "[]", {}};
    // Every instance's campaigns from the store, with the ones made here whose
    // commit is in flight; the counts from the store, with this instance's
    // uncommitted changes in place of the states they replace.
    std::map<std::string, Campaign> listed;
    auto stored = store_->recent_campaigns(kMaxCampaigns);
    auto counts = store_->campaign_counts();
    if (!stored.ok() || !counts.ok()) {
      context_.log.error((stored.ok() ? counts.error() : stored.error()).message());
      return error(503, "the hub cannot read its update store; try again");
    }
    for (const auto& c : *stored) listed.emplace(c.id, c);
    for (const auto& c : campaigns_) listed.emplace(c.id, c);
    for (const auto& [id, writing] : writing_) {
      auto it = updates_.find(id);
      if (it == updates_.end() || it->second->campaign.empty()) continue;
      auto& states = (*counts)[it->second->campaign];
      if (auto was = states.find(writing.stored_state); was != states.end() && was->second > 0) {
        if (--was->second == 0) states.erase(was);
      }
      ++states[it->second->state];
    }
    std::vector<const Campaign*> order;
    order.reserve(listed.size());
    for (const auto& [id, c] : listed) order.push_back(&c);
    std::sort(order.begin(), order.end(), [](const Campaign* a, const Campaign* b) {
      return a->created_ms != b->created_ms ? a->created_ms > b->created_ms : a->id > b->id;
    });
    if (order.size() > kMaxCampaigns) order.resize(kMaxCampaigns);
    static const std::map<std::string, std::size_t> kNone;
    std::string out = "[";
    for (const Campaign* c : order) {
      if (out.size() > 1) out += ",";
      const auto n = counts->find(c->id);
      out += campaign_json(*c, n == counts->end() ? &kNone : &n->second);
    }
    return HttpResponse{200, out + "]", {}};
  }
  if (r.method != "POST") return error(405, "use GET or POST");
  if (!caller.may(Role::kAdmin)) return forbidden(Role::kAdmin);
  auto body = parse_body(r, {"devices", "all", "artifact", "version", "consent"});
  if (!body.ok()) return from_error(body.error());
  auto artifact = string_field(*body, "artifact", true);
  if (!artifact.ok()) return from_error(artifact.error());
  auto version = string_field(*body, "version", false);
  if (!version.ok()) return from_error(version.error());
  auto consent = bool_field(*body, "consent", false);
  if (!consent.ok()) return from_error(consent.error());
  auto all = bool_field(*body, "all", false);
  if (!all.ok()) return from_error(all.error());
  std::vector<std::string> devices;
  const auto list = body->find("devices");
  const bool has_list = list != body->end() && !list->is_null();
  if (*all == has_list) return error(400, "give either 'devices' (a list of ids) or \"all\": true");
  if (has_list) {
    if (!list->is_array()) return error(400, "'devices' must be a list of device ids");
    for (const auto& d : *list) {
      if (!d.is_string()) return error(400, "'devices' must be a list of device ids (strings)");
      devices.push_back(d.get<std::string>());
    }
  } else {
    auto everyone = context_.store.list();
    if (!everyone.ok()) return error(500, "internal error");
    for (const auto& d : *everyone) devices.push_back(d.id);
  }
  auto id =
      create_campaign(devices, OfferRequest{"", *artifact, *version, *consent, caller.user, ""});
  if (!id.ok()) return from_error(id.error());
  for (const auto& c : campaigns_) {
    if (c.id == *id) return HttpResponse{201, campaign_json(c, nullptr), {}};
  }
  return error(500, "internal error");
}

}  // namespace tether::hub
