#include "plugins/config/config_plugin.hpp"

#include <utility>

#include "daemon/store/durable_store.hpp"
#include "plugins/config/config_bus.hpp"
#include "protocol/codec.hpp"
#include "protocol/config.hpp"
#include "protocol/message.hpp"

namespace tether::plugins::config {

namespace wire = protocol::config;

namespace {

// The `version` of a body that failed the schema, when it is a map holding one.
std::uint64_t version_of(const protocol::Bytes& body) {
  Result<protocol::Value> value = protocol::decode_value(body);
  if (!value) return 0;
  const protocol::Value* version = value->find("version");
  return version != nullptr ? version->as_uint().value_or(0) : 0;
}

}  // namespace

Result<std::unique_ptr<daemon::ProtocolHandler>> make_plugin(const daemon::PluginContext& context,
                                                             daemon::OptionReader& options) {
  const ConfigOptions config_options = read_options(options);
  if (!options.ok()) return Error(ErrorCode::kInvalidArgument, "invalid [config] options");
  auto plugin = std::make_unique<ConfigPlugin>(context, config_options);
  if (Status bus = plugin->start_bus(); !bus) return bus.error();
  return std::unique_ptr<daemon::ProtocolHandler>(std::move(plugin));
}

ConfigPlugin::ConfigPlugin(const daemon::PluginContext& context, const ConfigOptions& options)
    : outbound_(context.outbound),
      log_(context.log),
      store_(context.store),
      bus_service_(context.bus),
      options_(options),
      self_(std::make_shared<ConfigPlugin*>(this)) {
  if (store_ == nullptr) {
    // Nothing can be stored durably: every set is refused (see handle_set).
    log_.warn("no durable store: config from the backend will be refused");
    loaded_ = true;
    return;
  }
  std::weak_ptr<ConfigPlugin*> weak = self_;
  store_->get(kDocumentKey, [weak](Result<std::optional<protocol::Bytes>> stored) {
    if (auto self = weak.lock()) (*self)->loaded(std::move(stored));
  });
}

ConfigPlugin::~ConfigPlugin() = default;

Status ConfigPlugin::start_bus() {
  if (bus_service_ == nullptr || bus_) return {};
  Result<std::unique_ptr<ConfigBus>> bus = ConfigBus::create(*bus_service_, document_);
  if (!bus) return bus.error();
  bus_ = std::move(bus).value();
  return {};
}

void ConfigPlugin::loaded(Result<std::optional<protocol::Bytes>> stored) {
  loaded_ = true;
  if (!stored) {
    // The store is unusable; sets will fail there too, and say so.
    log_.error("reading the stored config: " + stored.error().message());
  } else if (stored->has_value()) {
    Result<ConfigDocument> document = ConfigDocument::decode(**stored);
    if (document) {
      document_ = std::move(document).value();
      log_.info("config version " + std::to_string(document_.version) + " loaded, " +
                std::to_string(document_.values.size()) + " keys");
    } else {
      // Only a bug or a foreign writer gets here; starting empty lets the backend
      // set it again instead of wedging the device.
      log_.error(document.error().message() + "; starting from an empty config");
    }
  }
  drain();
}

Status ConfigPlugin::on_message(const protocol::ProtoMsg& msg) {
  const std::string& typ = msg.hdr.typ;
  if (typ != wire::kSet && typ != wire::kGet)
    return Error(ErrorCode::kProtocol, "config: unknown typ '" + typ + "'");
  if (inbox_.size() >= kMaxInbox) {
    if (typ == wire::kSet) send_error(0, "too many config messages waiting; try again later");
    return {};
  }
  inbox_.push_back(msg);
  drain();
  return {};
}

void ConfigPlugin::on_connected() {
  if (!loaded_ || storing_) {
    // Sent once the load or the store finishes, so it is never stale.
    protocol::ProtoMsg get;
    get.hdr.proto = protocol::proto::kConfig;
    get.hdr.typ = wire::kGet;
    if (inbox_.size() < kMaxInbox) inbox_.push_back(std::move(get));
    return;
  }
  send_current();
}

void ConfigPlugin::drain() {
  while (loaded_ && !storing_ && !inbox_.empty()) {
    protocol::ProtoMsg msg = std::move(inbox_.front());
    inbox_.pop_front();
    handle(msg);
  }
}

void ConfigPlugin::handle(const protocol::ProtoMsg& msg) {
  if (msg.hdr.typ == wire::kGet) {
    send_current();
  } else {
    handle_set(msg);
  }
}

void ConfigPlugin::handle_set(const protocol::ProtoMsg& msg) {
  protocol::DecodeLimits limits;
  // The body map and `values` are two levels of their own.
  limits.max_depth = options_.limits.max_depth + 2;
  Result<protocol::ConfigSet> set = protocol::ConfigSet::decode(msg.body, limits);
  if (!set) {
    // Say which version was refused when the body is at least a map with a
    // version; 0 when even that cannot be read.
    log_.warn("refused a set: " + set.error().message());
    send_error(version_of(msg.body), set.error().message());
    return;
  }
  if (set->version <= document_.version) {
    log_.debug("set version " + std::to_string(set->version) + " is not newer than " +
               std::to_string(document_.version) + "; not applied again");
    send_body(wire::kApplied, protocol::ConfigApplied{document_.version}.encode());
    return;
  }
  Result<ConfigChange> change = apply_set(document_, *set, options_.limits);
  if (!change) {
    log_.warn("refused set version " + std::to_string(set->version) + ": " +
              change.error().message());
    send_error(set->version, change.error().message());
    return;
  }
  if (store_ == nullptr) {
    send_error(set->version, "the device has no durable store; config is not kept");
    return;
  }
  storing_ = true;
  auto pending = std::make_shared<ConfigChange>(std::move(change).value());
  std::weak_ptr<ConfigPlugin*> weak = self_;
  store_->put(kDocumentKey, pending->next.encode(), [weak, pending](const Status& status) {
    if (auto self = weak.lock()) (*self)->stored(*pending, status);
  });
}

void ConfigPlugin::stored(const ConfigChange& change, const Status& status) {
  storing_ = false;
  if (!status) {
    log_.error("storing config version " + std::to_string(change.next.version) + ": " +
               status.error().message());
    send_error(change.next.version, "storing the config: " + status.error().message());
  } else {
    const bool moved = change.next.version != document_.version;
    document_ = change.next;
    log_.info("config version " + std::to_string(document_.version) +
              " stored: " + std::to_string(change.changed.size()) + " keys set, " +
              std::to_string(change.removed.size()) + " removed");
    if (bus_) {
      if (Status announced = bus_->announce(change, moved); !announced)
        log_.warn("announcing config on D-Bus: " + announced.error().message());
    }
    send_body(wire::kApplied, protocol::ConfigApplied{document_.version}.encode());
  }
  drain();
}

void ConfigPlugin::send_current() {
  send_body(wire::kCurrent, protocol::ConfigCurrent{document_.version, document_.values}.encode());
}

void ConfigPlugin::send_error(std::uint64_t version, const std::string& err) {
  send_body(wire::kError, protocol::ConfigError{version, err}.encode());
}

void ConfigPlugin::send_body(const char* typ, protocol::Bytes body) {
  // Offline, the reply is lost; the backend learns the state from `current` after
  // the next connect.
  (void)outbound_.send(protocol::make_msg(protocol::proto::kConfig, typ, {}, {}, std::move(body)),
                       daemon::Priority::kControl);
}

}  // namespace tether::plugins::config
