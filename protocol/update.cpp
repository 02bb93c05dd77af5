#include "protocol/update.hpp"

#include <algorithm>

#include "protocol/fields.hpp"
#include "protocol/writer.hpp"

namespace tether::protocol {
namespace {

template <typename T, typename Read>
Result<T> decode_with(std::span<const std::uint8_t> body, const DecodeLimits& limits,
                      const char* typ, Read read) {
  return decode_schema<T>(body, limits, std::string("update ") + typ, read);
}

bool is_sha256_hex(std::string_view text) {
  return text.size() == 64 && std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
         });
}

// The id-only bodies (cancel, ack) share one shape.
Bytes encode_id(const std::string& id) {
  Writer writer;
  writer.map_header(1);
  writer.str("id");
  writer.str(id);
  return writer.take();
}

}  // namespace

bool update::is_final_state(std::string_view state) {
  return state == kSuccess || state == kFailure || state == kRejected || state == kCancelled;
}

Bytes UpdateOffer::encode() const {
  Writer writer;
  writer.map_header(5 + (signature ? 1U : 0U) + (consent ? 1U : 0U));
  writer.str("id");
  writer.str(id);
  writer.str("version");
  writer.str(version);
  writer.str("url");
  writer.str(url);
  writer.str("size");
  writer.uint64(size);
  writer.str("sha256");
  writer.str(sha256);
  if (signature) {
    writer.str("signature");
    writer.bin(*signature);
  }
  if (consent) {
    writer.str("consent");
    writer.boolean(*consent);
  }
  return writer.take();
}

Result<UpdateOffer> UpdateOffer::decode(std::span<const std::uint8_t> body,
                                        const DecodeLimits& limits) {
  return decode_with<UpdateOffer>(body, limits, update::kOffer, [](FieldReader& fields) {
    UpdateOffer offer;
    offer.id = fields.str("id");
    offer.version = fields.str("version");
    offer.url = fields.str("url");
    offer.size = fields.uint("size");
    offer.sha256 = fields.str("sha256");
    if (fields.status() && !is_sha256_hex(offer.sha256)) {
      fields.fail("sha256", "expected 64 hex digits, got \"" + offer.sha256.substr(0, 80) + "\"");
    }
    offer.signature = fields.opt_bin("signature");
    offer.consent = fields.opt_bool("consent");
    return offer;
  });
}

Bytes UpdateProgress::encode() const {
  Writer writer;
  writer.map_header(2 + (percent ? 1U : 0U) + (message ? 1U : 0U));
  writer.str("id");
  writer.str(id);
  writer.str("state");
  writer.str(state);
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

Result<UpdateProgress> UpdateProgress::decode(std::span<const std::uint8_t> body,
                                              const DecodeLimits& limits) {
  return decode_with<UpdateProgress>(body, limits, update::kProgress, [](FieldReader& fields) {
    UpdateProgress progress;
    progress.id = fields.str("id");
    progress.state = fields.str("state");
    if (fields.status() && std::find(update::kStates.begin(), update::kStates.end(),
                                     progress.state) == update::kStates.end()) {
      fields.fail("state",
                  not_one_of(progress.state,
                             {update::kDownloading, update::kVerifying, update::kAwaitingConsent,
                              update::kInstalling, update::kSuccess, update::kFailure,
                              update::kRejected, update::kCancelled}));
    }
    progress.percent = fields.opt_uint("percent");
    if (progress.percent && *progress.percent > 100) {
      fields.fail("percent", std::to_string(*progress.percent) + " is more than 100");
    }
    progress.message = fields.opt_str("message");
    return progress;
  });
}

Bytes UpdateConsent::encode() const {
  Writer writer;
  writer.map_header(2);
  writer.str("id");
  writer.str(id);
  writer.str("accept");
  writer.boolean(accept);
  return writer.take();
}

Result<UpdateConsent> UpdateConsent::decode(std::span<const std::uint8_t> body,
                                            const DecodeLimits& limits) {
  return decode_with<UpdateConsent>(body, limits, update::kConsent, [](FieldReader& fields) {
    UpdateConsent consent;
    consent.id = fields.str("id");
    consent.accept = fields.boolean("accept");
    return consent;
  });
}

Bytes UpdateCancel::encode() const {
  return encode_id(id);
}

Result<UpdateCancel> UpdateCancel::decode(std::span<const std::uint8_t> body,
                                          const DecodeLimits& limits) {
  return decode_with<UpdateCancel>(body, limits, update::kCancel, [](FieldReader& fields) {
    return UpdateCancel{fields.str("id")};
  });
}

Bytes UpdateAck::encode() const {
  return encode_id(id);
}

Result<UpdateAck> UpdateAck::decode(std::span<const std::uint8_t> body,
                                    const DecodeLimits& limits) {
  return decode_with<UpdateAck>(body, limits, update::kAck,
                                [](FieldReader& fields) { return UpdateAck{fields.str("id")}; });
}

}  // namespace tether::protocol
