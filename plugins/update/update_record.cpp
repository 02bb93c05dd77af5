#include "plugins/update/update_record.hpp"

#include "protocol/fields.hpp"
#include "protocol/writer.hpp"

namespace tether::plugins::update {

protocol::Bytes UpdateRecord::encode() const {
  protocol::Writer writer;
  writer.map_header(5 + (percent ? 1U : 0U) + (message ? 1U : 0U));
  writer.str("offer");
  writer.bin(offer.encode());
  writer.str("state");
  writer.str(state_name(state));
  writer.str("installer_started");
  writer.boolean(installer_started);
  writer.str("installer_started_ms");
  writer.int64(installer_started_ms);
  writer.str("v");
  writer.uint64(1);
  if (percent) {
    writer.str("percent");
    writer.uint64(*percent);
  }
  if (message) {
    writer.str("message");
    writer.str(*message);
  }
  return writer.take();
}

Result<UpdateRecord> UpdateRecord::decode(std::span<const std::uint8_t> bytes) {
  std::optional<protocol::Bytes> offer_bytes;
  std::string state_text;
  auto record = protocol::decode_schema<UpdateRecord>(
      bytes, {}, "update record", [&](protocol::FieldReader& fields) {
        UpdateRecord r;
        offer_bytes = fields.opt_bin("offer");
        if (!offer_bytes) fields.fail("offer", "missing");
        state_text = fields.str("state");
        r.installer_started = fields.opt_bool("installer_started").value_or(false);
        r.installer_started_ms = fields.int64("installer_started_ms");
        r.percent = fields.opt_uint("percent");
        r.message = fields.opt_str("message");
        return r;
      });
  if (!record) return record.error();
  auto state = state_from_name(state_text);
  if (!state)
    return Error(ErrorCode::kStorageFailure, "update record: unknown state '" + state_text + "'");
  record->state = *state;
  auto offer = protocol::UpdateOffer::decode(*offer_bytes);
  if (!offer) return offer.error().wrap("update record");
  record->offer = std::move(offer.value());
  return record;
}

protocol::UpdateProgress UpdateRecord::progress() const {
  return {offer.id, std::string(state_name(state)), percent, message};
}

}  // namespace tether::plugins::update
