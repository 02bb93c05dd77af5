#include "plugins/update/update_plugin.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <fstream>
#include <system_error>

#include "daemon/store/durable_store.hpp"
#include "protocol/message.hpp"

namespace tether::plugins::update {
namespace {

using E = UpdateEvent;
using S = UpdateState;

// How often a restarted daemon looks for the status file of an install that was
// under way when the previous one stopped.
constexpr std::chrono::milliseconds kStatusPoll{500};

bool same_hex(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The installer's exit status as its wrapper wrote it, or nullopt when there is none.
std::optional<int> read_status_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  int status = 0;
  if (in >> status) return status;
  return std::nullopt;
}

// Size, SHA-256 and signature of the artifact (wire.md 5.3). Runs on a worker.
Status verify_artifact(const protocol::UpdateOffer& offer, std::uint64_t bytes,
                       const Sha256Digest& digest, const std::optional<PublicKey>& key) {
  if (bytes != offer.size) {
    return Error(ErrorCode::kInvalidArgument, "size mismatch: got " + std::to_string(bytes) +
                                                  " bytes, the offer says " +
                                                  std::to_string(offer.size));
  }
  if (!same_hex(to_hex(digest), offer.sha256)) {
    return Error(ErrorCode::kInvalidArgument,
                 "sha256 mismatch: got " + to_hex(digest) + ", the offer says " + offer.sha256);
  }
  if (!key) return Status::Ok();
  if (!offer.signature) {
    return Error(ErrorCode::kInvalidArgument,
                 "the offer carries no signature and update.public-key is set");
  }
  if (Status s = key->verify(digest, *offer.signature); !s) {
    return s.error().wrap("signature check failed");
  }
  return Status::Ok();
}

}  // namespace

UpdatePlugin::UpdatePlugin(const daemon::PluginContext& context, UpdateOptions options,
                           std::optional<PublicKey> key)
    : loop_(context.loop),
      outbound_(context.outbound),
      log_(context.log),
      store_(*context.store),
      device_(context.device),
      options_(std::move(options)),
      key_(std::move(key)),
      download_dir_(options_.download_dir.empty()
                        ? std::filesystem::path(context.device.state_dir) / "update"
                        : std::filesystem::path(options_.download_dir)),
      status_poll_(context.loop),
      self_(std::make_shared<UpdatePlugin*>(this)) {
  std::error_code ignored;
  std::filesystem::create_directories(download_dir_, ignored);
  if (context.bus != nullptr) {
    auto bus = UpdateBus::create(
        *context.bus, [this] { return view(); },
        [this](const std::string& id, bool accept, std::function<void(Status)> done) {
          respond(id, accept, std::move(done));
        });
    if (bus) {
      bus_ = std::move(bus).value();
    } else {
      log_.error(bus.error().message());
    }
  }
  load();
}

UpdatePlugin::~UpdatePlugin() {
  self_.reset();
  job_.reset();
}

std::function<void()> UpdatePlugin::guarded(std::function<void(UpdatePlugin&)> fn) const {
  return [weak = std::weak_ptr<UpdatePlugin*>(self_), fn = std::move(fn)] {
    if (auto self = weak.lock()) fn(**self);
  };
}

void UpdatePlugin::load() {
  std::weak_ptr<UpdatePlugin*> weak = self_;
  store_.get(kRecordKey, [weak](Result<std::optional<protocol::Bytes>> stored) {
    auto self = weak.lock();
    if (!self) return;
    UpdatePlugin& p = **self;
    p.loaded_ = true;
    if (!stored) {
      p.log_.error("reading the stored update: " + stored.error().message());
      return;
    }
    if (!stored.value()) return;
    auto record = UpdateRecord::decode(*stored.value());
    if (!record) {
      p.log_.error("the stored update is unreadable and is dropped: " + record.error().message());
      p.store_.erase(kRecordKey, [](const Status&) {});
      return;
    }
    p.record_ = std::move(record).value();
    p.log_.info("update " + p.record_->offer.id + " was " +
                std::string(state_name(p.record_->state)) + " when the daemon stopped");
    p.resume();
    if (p.outbound_.connected()) p.report(*p.record_);
  });
}

void UpdatePlugin::resume() {
  switch (record_->state) {
    case S::kDownloading:
      start_download();
      break;
    case S::kVerifying:
      downloaded_.reset();
      start_verify();
      break;
    case S::kAwaitingConsent:
      if (bus_) bus_->consent_requested(record_->offer.id, record_->offer.version, "");
      break;
    case S::kInstalling:
      settle_interrupted_install();
      break;
    default:
      break;
  }
}

Status UpdatePlugin::on_message(const protocol::ProtoMsg& msg) {
  const std::string& typ = msg.hdr.typ;
  if (!loaded_) {
    // Only until the one read at start completes (milliseconds); the backend resends.
    return Error(ErrorCode::kUnavailable, "the update state is still being loaded");
  }
  if (typ == protocol::update::kOffer) {
    auto offer = protocol::UpdateOffer::decode(msg.body);
    if (!offer) return offer.error();
    handle_offer(*offer);
    return Status::Ok();
  }
  if (typ == protocol::update::kConsent) {
    auto consent = protocol::UpdateConsent::decode(msg.body);
    if (!consent) return consent.error();
    // Refused at once (answered with a control error); otherwise the answer is
    // stored and reported by the transition itself.
    if (!record_ || record_->offer.id != consent->id || record_->state != S::kAwaitingConsent) {
      return Error(ErrorCode::kNotFound, "update '" + consent->id + "' is not awaiting consent");
    }
    respond(consent->id, consent->accept, [](const Status&) {});
    return Status::Ok();
  }
  if (typ == protocol::update::kCancel) {
    auto cancel = protocol::UpdateCancel::decode(msg.body);
    if (!cancel) return cancel.error();
    return handle_cancel(cancel->id);
  }
  if (typ == protocol::update::kAck) {
    auto ack = protocol::UpdateAck::decode(msg.body);
    if (!ack) return ack.error();
    handle_ack(ack->id);
    return Status::Ok();
  }
  return Error(ErrorCode::kProtocol, "unknown update typ '" + typ + "'");
}

void UpdatePlugin::on_connected() {
  // The current state, final or not, so the backend knows where the update is; a
  // final one is repeated after every connect until acknowledged.
  if (record_) send_progress(record_->progress());
}

void UpdatePlugin::handle_offer(const protocol::UpdateOffer& offer) {
  if (record_ && !is_final(record_->state)) {
    if (offer.id == record_->offer.id) {
      send_progress(record_->progress());  // a repeated offer: say where it is
      return;
    }
    send_progress({offer.id, protocol::update::kRejected, std::nullopt,
                   "update " + record_->offer.id + " is " +
                       std::string(state_name(record_->state)) + "; one update at a time"});
    return;
  }
  std::string refusal;
  if (options_.installer.empty()) refusal = "no update.installer is configured on this device";
  if (!offer.url.starts_with("https://")) refusal = "the url is not https://";
  if (!refusal.empty()) {
    send_progress({offer.id, protocol::update::kRejected, std::nullopt, refusal});
    return;
  }
  const S from = record_ ? record_->state : S::kIdle;
  if (!next_state(from, E::kOffer)) return;
  job_.reset();
  ++generation_;
  remove_files();
  downloaded_.reset();
  last_reported_percent_ = 0;
  UpdateRecord fresh;
  fresh.offer = offer;
  fresh.state = from;
  record_ = fresh;
  log_.info("update " + offer.id + " offered: version " + offer.version + ", " +
            std::to_string(offer.size) + " bytes");
  transition(
      E::kOffer, [](UpdateRecord& r) { r.percent = 0; },
      [this](const Status& stored) {
        if (stored) start_download();
      });
}

Status UpdatePlugin::handle_cancel(const std::string& id) {
  if (!record_ || record_->offer.id != id) {
    return Error(ErrorCode::kNotFound, "no update '" + id + "' to cancel");
  }
  if (!next_state(record_->state, E::kCancel)) {
    // Installing (too late) or already final: say where it is.
    protocol::UpdateProgress now = record_->progress();
    if (record_->state == S::kInstalling)
      now.message = "the installer is running; too late to cancel";
    send_progress(now);
    return Status::Ok();
  }
  if (job_) job_->cancel();  // its late result is ignored (generation)
  ++generation_;
  status_poll_.cancel();
  transition(
      E::kCancel, [](UpdateRecord& r) { r.message = "cancelled by the backend"; },
      [this](const Status&) { remove_files(); });
  return Status::Ok();
}

void UpdatePlugin::handle_ack(const std::string& id) {
  if (!record_ || record_->offer.id != id || !next_state(record_->state, E::kAcknowledged)) {
    return;  // an ack of something already forgotten, or not final yet: nothing to do
  }
  last_view_ = view();
  record_.reset();
  std::weak_ptr<UpdatePlugin*> weak = self_;
  store_.erase(kRecordKey, [weak](const Status& erased) {
    auto self = weak.lock();
    if (!self) return;
    if (!erased)
      (*self)->log_.error("forgetting the acknowledged update: " + erased.error().message());
    if ((*self)->bus_) (*self)->bus_->changed();
  });
}

void UpdatePlugin::respond(const std::string& id, bool accept, std::function<void(Status)> done) {
  if (!record_ || record_->offer.id != id || record_->state != S::kAwaitingConsent) {
    done(Error(ErrorCode::kNotFound, "update '" + id + "' is not awaiting consent"));
    return;
  }
  const bool moved = transition(
      accept ? E::kAccepted : E::kDeclined,
      [accept](UpdateRecord& r) {
        r.message = accept ? "consent given" : "consent refused";
        if (accept) {
          r.installer_started = true;
          r.installer_started_ms = now_ms();
        }
      },
      [this, accept, done = std::move(done)](const Status& stored) {
        done(stored);
        if (stored && accept) start_install();
      });
  (void)moved;
}

bool UpdatePlugin::transition(UpdateEvent event, const Mutation& mutate,
                              std::function<void(const Status&)> then) {
  if (!record_) return false;
  const auto next = next_state(record_->state, event);
  if (!next) return false;
  UpdateRecord updated = *record_;
  updated.state = *next;
  if (!is_final(*next)) updated.message.reset();
  if (mutate) mutate(updated);
  record_ = updated;
  log_.debug("update " + updated.offer.id + ": " + std::string(event_name(event)) + " -> " +
             std::string(state_name(*next)));
  std::weak_ptr<UpdatePlugin*> weak = self_;
  store_.put(kRecordKey, updated.encode(),
             [weak, updated, then = std::move(then)](const Status& stored) {
               auto self = weak.lock();
               if (!self) return;
               if (!stored) {
                 (*self)->log_.error("storing update " + updated.offer.id + " " +
                                     std::string(state_name(updated.state)) + ": " +
                                     stored.error().message());
               } else {
                 (*self)->report(updated);
               }
               if (then) then(stored);
             });
  return true;
}

void UpdatePlugin::report(const UpdateRecord& record) {
  if (is_final(record.state)) {
    log_.info("update " + record.offer.id + " ended: " + std::string(state_name(record.state)) +
              (record.message ? " (" + *record.message + ")" : ""));
  }
  send_progress(record.progress());
  if (!bus_) return;
  bus_->changed();
  if (record.state == S::kAwaitingConsent) {
    bus_->consent_requested(record.offer.id, record.offer.version,
                            "version " + record.offer.version + " is ready to install");
  }
}

void UpdatePlugin::send_progress(const protocol::UpdateProgress& progress) {
  if (!outbound_.connected()) return;  // said again after the next connect
  const auto msg = protocol::make_msg(protocol::proto::kUpdate, protocol::update::kProgress, "", {},
                                      progress.encode());
  if (Status sent = outbound_.send(msg, daemon::Priority::kControl, "update"); !sent) {
    log_.debug("progress not sent: " + sent.error().message());
  }
}

void UpdatePlugin::fail(const std::string& message) {
  log_.warn("update " + (record_ ? record_->offer.id : std::string()) + " failed: " + message);
  transition(
      E::kFailed, [&message](UpdateRecord& r) { r.message = message; },
      [this](const Status&) { remove_files(); });
}

UpdateView UpdatePlugin::view() const {
  if (!record_) {
    UpdateView idle = last_view_;
    idle.state = "idle";
    return idle;
  }
  return {std::string(state_name(record_->state)), record_->offer.id, record_->offer.version,
          record_->percent.value_or(0), record_->message.value_or("")};
}

void UpdatePlugin::start_download() {
  const std::uint64_t generation = ++generation_;
  DownloadRequest request;
  request.url = record_->offer.url;
  request.size = record_->offer.size;
  request.path = artifact_path();
  request.ca_file = device_.ca_file;
  request.proxy = device_.proxy;
  request.first_backoff = options_.download_backoff;
  request.max_backoff = options_.download_backoff_max;
  request.attempts = static_cast<unsigned>(options_.download_attempts);
  request.stall_timeout =
      std::max(std::chrono::seconds(1),
               std::chrono::duration_cast<std::chrono::seconds>(options_.stall_timeout));
  auto* loop = &loop_;
  auto progress_to = [this, generation](std::uint64_t bytes) {
    return guarded(
        [generation, bytes](UpdatePlugin& p) { p.on_download_progress(generation, bytes); });
  };
  auto done_to = [this, generation](Result<DownloadResult> result) {
    return guarded([generation, result = std::move(result)](UpdatePlugin& p) mutable {
      p.on_downloaded(generation, std::move(result));
    });
  };
  job_ = std::make_unique<BackgroundJob>([request, loop, progress_to, done_to](CancelToken& token) {
    auto result = download_artifact(request, token,
                                    [&](std::uint64_t bytes) { loop->post(progress_to(bytes)); });
    loop->post(done_to(std::move(result)));
  });
}

void UpdatePlugin::on_download_progress(std::uint64_t generation, std::uint64_t bytes) {
  if (generation != generation_ || !record_ || record_->state != S::kDownloading) return;
  const std::uint64_t size = record_->offer.size;
  const std::uint64_t percent = size == 0 ? 100 : std::min<std::uint64_t>(bytes * 100 / size, 100);
  // Every few percent, not per chunk; 100 is said by the move to verifying.
  if (percent >= 100 || percent < last_reported_percent_ + options_.progress_step) return;
  last_reported_percent_ = percent;
  record_->percent = percent;
  send_progress(record_->progress());
  if (bus_) bus_->changed();
}

void UpdatePlugin::on_downloaded(std::uint64_t generation, Result<DownloadResult> result) {
  if (generation != generation_ || !record_ || record_->state != S::kDownloading) return;
  if (!result) {
    fail(result.error().message());
    return;
  }
  log_.info("update " + record_->offer.id + ": downloaded " + std::to_string(result->bytes) +
            " bytes in " + std::to_string(result->attempts) + " attempt(s)");
  downloaded_ = *result;
  transition(
      E::kDownloaded, [](UpdateRecord& r) { r.percent = 100; },
      [this](const Status& stored) {
        if (stored) start_verify();
      });
}

void UpdatePlugin::start_verify() {
  const std::uint64_t generation = ++generation_;
  auto* loop = &loop_;
  auto done_to = [this, generation](Status verdict) {
    return guarded([generation, verdict = std::move(verdict)](UpdatePlugin& p) {
      p.on_verified(generation, verdict);
    });
  };
  job_ =
      std::make_unique<BackgroundJob>([offer = record_->offer, downloaded = downloaded_, key = key_,
                                       path = artifact_path(), loop, done_to](CancelToken&) {
        Status verdict = Status::Ok();
        if (downloaded) {
          verdict = verify_artifact(offer, downloaded->bytes, downloaded->sha256, key);
        } else if (auto hashed = hash_file(path); !hashed) {
          verdict = hashed.error();
        } else {
          verdict = verify_artifact(offer, hashed->first, hashed->second, key);
        }
        loop->post(done_to(std::move(verdict)));
      });
}

void UpdatePlugin::on_verified(std::uint64_t generation, const Status& verdict) {
  if (generation != generation_ || !record_ || record_->state != S::kVerifying) return;
  if (!verdict) {
    fail(verdict.error().message());
    return;
  }
  if (record_->offer.consent.value_or(false)) {
    transition(E::kNeedsConsent, [](UpdateRecord& r) { r.message = "waiting for consent"; });
    return;
  }
  transition(
      E::kVerified,
      [](UpdateRecord& r) {
        r.installer_started = true;
        r.installer_started_ms = now_ms();
      },
      [this](const Status& stored) {
        if (stored) start_install();
      });
}

void UpdatePlugin::start_install() {
  const std::uint64_t generation = ++generation_;
  std::error_code ignored;
  std::filesystem::remove(status_path(), ignored);
  const protocol::UpdateOffer& offer = record_->offer;
  InstallerRequest request;
  request.installer = options_.installer;
  request.artifact = artifact_path().string();
  request.environment = {{"TETHER_UPDATE_ID", offer.id},
                         {"TETHER_UPDATE_VERSION", offer.version},
                         {"TETHER_UPDATE_URL", offer.url},
                         {"TETHER_UPDATE_SIZE", std::to_string(offer.size)},
                         {"TETHER_UPDATE_SHA256", offer.sha256}};
  request.timeout = options_.install_timeout;
  request.max_output = options_.output_tail;
  request.status_file = status_path().string();
  log_.info("update " + offer.id + ": running " + options_.installer);
  auto* loop = &loop_;
  auto done_to = [this, generation](Result<InstallerOutcome> outcome) {
    return guarded([generation, outcome = std::move(outcome)](UpdatePlugin& p) mutable {
      p.on_installed(generation, std::move(outcome));
    });
  };
  job_ = std::make_unique<BackgroundJob>([request, loop, done_to](CancelToken& stop) {
    auto outcome = run_installer(request, stop);
    if (!outcome && stop.cancelled()) return;  // the daemon is stopping: leave it be
    loop->post(done_to(std::move(outcome)));
  });
}

void UpdatePlugin::on_installed(std::uint64_t generation, Result<InstallerOutcome> outcome) {
  if (generation != generation_ || !record_ || record_->state != S::kInstalling) return;
  std::error_code ignored;
  std::filesystem::remove(status_path(), ignored);
  if (!outcome) {
    fail("cannot run the installer: " + outcome.error().message());
    return;
  }
  if (!outcome->success) {
    fail("the installer " + outcome->reason + "; its output ends with: " + outcome->output_tail);
    return;
  }
  transition(
      E::kInstalled, [&](UpdateRecord& r) { r.message = outcome->output_tail; },
      [this](const Status&) { remove_files(); });
}

void UpdatePlugin::settle_interrupted_install() {
  if (!record_ || record_->state != S::kInstalling) return;
  if (auto status = read_status_file(status_path())) {
    std::error_code ignored;
    std::filesystem::remove(status_path(), ignored);
    if (*status == 0) {
      transition(
          E::kInstalled,
          [](UpdateRecord& r) { r.message = "the installer exited 0 while the daemon restarted"; },
          [this](const Status&) { remove_files(); });
    } else {
      fail("the installer exited with status " + std::to_string(*status) +
           " while the daemon restarted");
    }
    return;
  }
  if (!record_->offer.version.empty() && record_->offer.version == device_.version) {
    // The installer replaced tetherd and took the old daemon down with it: this
    // daemon is the new version, which is the outcome the update asked for.
    transition(
        E::kInstalled,
        [this](UpdateRecord& r) {
          r.message = "tetherd restarted running version " + device_.version;
        },
        [this](const Status&) { remove_files(); });
    return;
  }
  const std::int64_t deadline = record_->installer_started_ms + options_.install_timeout.count();
  if (now_ms() >= deadline) {
    fail(
        "the daemon restarted while the installer ran, and the installer left no status within "
        "update.install-timeout");
    return;
  }
  status_poll_.start(kStatusPoll, guarded([](UpdatePlugin& p) { p.settle_interrupted_install(); }));
}

void UpdatePlugin::remove_files() {
  std::error_code ignored;
  std::filesystem::remove(artifact_path(), ignored);
}

Result<std::unique_ptr<daemon::ProtocolHandler>> make_plugin(const daemon::PluginContext& context,
                                                             daemon::OptionReader& reader) {
  UpdateOptions options = read_options(reader);
  if (!reader.ok()) return Error(ErrorCode::kInvalidArgument, "invalid [update] options");
  if (context.store == nullptr) {
    return Error(ErrorCode::kUnavailable, "the update plugin needs the durable store");
  }
  std::optional<PublicKey> key;
  if (!options.public_key.empty()) {
    auto loaded = PublicKey::load(options.public_key);
    if (!loaded) return loaded.error().wrap("update.public-key");
    key = std::move(loaded).value();
  }
  return std::unique_ptr<daemon::ProtocolHandler>(
      std::make_unique<UpdatePlugin>(context, std::move(options), std::move(key)));
}

}  // namespace tether::plugins::update
