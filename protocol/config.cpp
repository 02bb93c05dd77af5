#include "protocol/config.hpp"

#include "protocol/fields.hpp"
#include "protocol/writer.hpp"

namespace tether::protocol {
namespace {

template <typename T, typename Read>
Result<T> decode_with(std::span<const std::uint8_t> body, const DecodeLimits& limits,
                      const char* typ, Read read) {
  return decode_schema<T>(body, limits, std::string("config ") + typ, read);
}

}  // namespace

Bytes ConfigSet::encode() const {
  Writer writer;
  writer.map_header(replace ? 3 : 2);
  writer.str("version");
  writer.uint64(version);
  writer.str("values");
  writer.value(values);
  if (replace) {
    writer.str("replace");
    writer.boolean(*replace);
  }
  return writer.take();
}

Result<ConfigSet> ConfigSet::decode(std::span<const std::uint8_t> body,
                                    const DecodeLimits& limits) {
  return decode_with<ConfigSet>(body, limits, config::kSet, [](FieldReader& fields) {
    ConfigSet set;
    set.version = fields.uint("version");
    set.values = fields.map("values");
    set.replace = fields.opt_bool("replace");
    return set;
  });
}

Bytes ConfigApplied::encode() const {
  Writer writer;
  writer.map_header(1);
  writer.str("version");
  writer.uint64(version);
  return writer.take();
}

Result<ConfigApplied> ConfigApplied::decode(std::span<const std::uint8_t> body,
                                            const DecodeLimits& limits) {
  return decode_with<ConfigApplied>(body, limits, config::kApplied, [](FieldReader& fields) {
    ConfigApplied applied;
    applied.version = fields.uint("version");
    return applied;
  });
}

Bytes ConfigCurrent::encode() const {
  Writer writer;
  writer.map_header(2);
  writer.str("version");
  writer.uint64(version);
  writer.str("values");
  writer.value(values);
  return writer.take();
}

Result<ConfigCurrent> ConfigCurrent::decode(std::span<const std::uint8_t> body,
                                            const DecodeLimits& limits) {
  return decode_with<ConfigCurrent>(body, limits, config::kCurrent, [](FieldReader& fields) {
    ConfigCurrent current;
    current.version = fields.uint("version");
    current.values = fields.map("values");
    return current;
  });
}

Bytes ConfigError::encode() const {
  Writer writer;
  writer.map_header(2);
  writer.str("version");
  writer.uint64(version);
  writer.str("err");
  writer.str(err);
  return writer.take();
}

Result<ConfigError> ConfigError::decode(std::span<const std::uint8_t> body,
                                        const DecodeLimits& limits) {
  return decode_with<ConfigError>(body, limits, config::kError, [](FieldReader& fields) {
    ConfigError error;
    error.version = fields.uint("version");
    error.err = fields.str("err");
    return error;
  });
}

}  // namespace tether::protocol
