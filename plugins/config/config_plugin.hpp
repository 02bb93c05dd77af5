// The config plugin (proto 0x0011, wire.md section 5.2; docs/config.md): keeps the
// config the backend sets in the durable store, one document holding version and
// values (so a power cut leaves the old or the new config, never a mix), and
// serves it to local apps as io.tether.Config1.
//
// Messages are handled one at a time, in arrival order: a `set` that is being
// stored holds back the ones behind it (each merges onto the result of the one
// before), in a bounded inbox.
#pragma once

#include <cstddef>
#include <deque>
#include <memory>
#include <string>

#include "daemon/plugin_api/plugin_context.hpp"
#include "daemon/plugin_api/plugin_row.hpp"
#include "plugins/config/config_document.hpp"
#include "plugins/config/config_options.hpp"

namespace tether::plugins::config {

class ConfigBus;

// The one document key in the durable store.
inline constexpr char kDocumentKey[] = "config";
// Messages waiting behind a `set` being stored; past it a `set` is answered `error`.
inline constexpr std::size_t kMaxInbox = 64;

Result<std::unique_ptr<daemon::ProtocolHandler>> make_plugin(const daemon::PluginContext& context,
                                                             daemon::OptionReader& options);

class ConfigPlugin final : public daemon::ProtocolHandler {
 public:
  // Starts reading the stored config; messages wait until it is loaded.
  ConfigPlugin(const daemon::PluginContext& context, const ConfigOptions& options);
  ~ConfigPlugin() override;
  ConfigPlugin(const ConfigPlugin&) = delete;
  ConfigPlugin& operator=(const ConfigPlugin&) = delete;

  Status on_message(const protocol::ProtoMsg& msg) override;
  void on_connected() override;

  // Registers io.tether.Config1 when the daemon has a bus.
  Status start_bus();

  const ConfigDocument& document() const { return document_; }

 private:
  void loaded(Result<std::optional<protocol::Bytes>> stored);
  void drain();
  void handle(const protocol::ProtoMsg& msg);
  void handle_set(const protocol::ProtoMsg& msg);
  void stored(const ConfigChange& change, const Status& status);
  void send_current();
  void send_error(std::uint64_t version, const std::string& err);
  void send_body(const char* typ, protocol::Bytes body);

  daemon::Outbound& outbound_;
  daemon::PluginLogger log_;
  daemon::store::DurableStore* store_;
  daemon::dbus::BusService* bus_service_;
  ConfigOptions options_;
  ConfigDocument document_;
  std::unique_ptr<ConfigBus> bus_;
  bool loaded_ = false;
  bool storing_ = false;
  std::deque<protocol::ProtoMsg> inbox_;
  // Store callbacks hold a weak copy, so none touches a destroyed plugin.
  std::shared_ptr<ConfigPlugin*> self_;
};

}  // namespace tether::plugins::config
