// The software-update handler (proto 0x0012, wire.md 5.3; docs/update.md).
//
// One update at a time moves through the transition table of update_state.hpp:
// download (libcurl, on a thread of its own), verification (size, SHA-256, and the
// signature when update.public-key is set), consent when the offer asks for it
// (from the backend or io.tether.Update1.Respond), then update.installer. Every
// transition is written to the durable store and reported only once it is committed,
// so what the backend hears is what a restart finds. After a restart the update goes
// on where it was: a download resumes with a Range request, a verification runs
// again, an install under way when the daemon stopped is settled by the installer's
// status file (docs/update.md, "Restarts"). A final state is re-sent after every
// connect until the backend's `ack`.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "daemon/plugin_api/plugin_context.hpp"
#include "daemon/plugin_api/plugin_row.hpp"
#include "daemon/plugin_api/protocol_handler.hpp"
#include "plugins/update/artifact_download.hpp"
#include "plugins/update/background_job.hpp"
#include "plugins/update/installer_run.hpp"
#include "plugins/update/signature_check.hpp"
#include "plugins/update/update_bus.hpp"
#include "plugins/update/update_options.hpp"
#include "plugins/update/update_record.hpp"

namespace tether::plugins::update {

class UpdatePlugin final : public daemon::ProtocolHandler {
 public:
  // Loads the stored record (asynchronously) and resumes it. `context.store` must not
  // be null; the bus is optional.
  UpdatePlugin(const daemon::PluginContext& context, UpdateOptions options,
               std::optional<PublicKey> key);
  // Stops a download; leaves a running installer alone (it may be replacing tetherd).
  ~UpdatePlugin() override;
  UpdatePlugin(const UpdatePlugin&) = delete;
  UpdatePlugin& operator=(const UpdatePlugin&) = delete;

  Status on_message(const protocol::ProtoMsg& msg) override;
  void on_connected() override;

  // Consent from a local app (D-Bus Respond) or the backend: `done` runs once the
  // answer is stored, or with NotFound when `id` is not awaiting consent.
  void respond(const std::string& id, bool accept, std::function<void(Status)> done);

  // What the bus shows; also for tests.
  UpdateView view() const;
  // True once the stored record has been read at start.
  bool loaded() const { return loaded_; }

  // Where the artifact and the installer's status file go.
  std::filesystem::path artifact_path() const { return download_dir_ / "artifact"; }
  std::filesystem::path status_path() const { return download_dir_ / "installer-status"; }

 private:
  using Mutation = std::function<void(UpdateRecord&)>;

  void load();
  void resume();
  void handle_offer(const protocol::UpdateOffer& offer);
  Status handle_cancel(const std::string& id);
  void handle_ack(const std::string& id);

  // Moves the record by `event` (refused when the table has no row), applies
  // `mutate`, stores it, and once committed reports it and runs `then`.
  bool transition(UpdateEvent event, const Mutation& mutate,
                  std::function<void(const Status&)> then = {});
  void report(const UpdateRecord& record);
  void send_progress(const protocol::UpdateProgress& progress);
  void fail(const std::string& message);

  void start_download();
  void on_download_progress(std::uint64_t generation, std::uint64_t bytes);
  void on_downloaded(std::uint64_t generation, Result<DownloadResult> result);
  void start_verify();
  void on_verified(std::uint64_t generation, const Status& verdict);
  void start_install();
  void on_installed(std::uint64_t generation, Result<InstallerOutcome> outcome);
  void settle_interrupted_install();
  void remove_files();
  // Wraps `fn` so that it does nothing once the plugin is gone (for posts and timers).
  std::function<void()> guarded(std::function<void(UpdatePlugin&)> fn) const;

  daemon::EventLoop& loop_;
  daemon::Outbound& outbound_;
  daemon::PluginLogger log_;
  daemon::store::DurableStore& store_;
  daemon::DeviceIdentity device_;
  UpdateOptions options_;
  std::optional<PublicKey> key_;
  std::filesystem::path download_dir_;
  std::unique_ptr<UpdateBus> bus_;

  bool loaded_ = false;
  std::optional<UpdateRecord> record_;  // nullopt: idle
  // The last update's view after its ack, for Update1.Current.
  UpdateView last_view_;
  std::optional<DownloadResult> downloaded_;
  std::uint64_t last_reported_percent_ = 0;
  // Bumped whenever the running job is abandoned, so its late result is ignored.
  std::uint64_t generation_ = 0;
  std::unique_ptr<BackgroundJob> job_;
  daemon::Timer status_poll_;
  std::shared_ptr<UpdatePlugin*> self_;
};

// The table row's factory: reads [update], loads the public key, builds the plugin.
Result<std::unique_ptr<daemon::ProtocolHandler>> make_plugin(const daemon::PluginContext& context,
                                                             daemon::OptionReader& options);

}  // namespace tether::plugins::update
