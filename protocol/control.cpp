#include "protocol/control.hpp"

#include <limits>

#include "protocol/fields.hpp"
#include "protocol/writer.hpp"

namespace tether::protocol {
namespace {

// Reads an array field whose every item must be an unsigned integer no larger
// than `max`; records a failure naming the item otherwise.
std::vector<std::uint64_t> uint_list(FieldReader& fields, const Array& items, std::string_view key,
                                     std::uint64_t max) {
  std::vector<std::uint64_t> out;
  out.reserve(items.size());
  for (std::size_t i = 0; i < items.size(); ++i) {
    std::optional<std::uint64_t> number = items[i].as_uint();
    const std::string item = std::string(key) + "[" + std::to_string(i) + "]";
    if (!number) {
      fields.fail(item, type_mismatch("an unsigned integer", items[i]));
      return {};
    }
    if (*number > max) {
      fields.fail(item, std::to_string(*number) + " is larger than " + std::to_string(max));
      return {};
    }
    out.push_back(*number);
  }
  return out;
}

}  // namespace

Bytes ControlOpen::encode() const {
  Writer writer;
  writer.map_header(1);
  writer.str("versions");
  writer.array_header(versions.size());
  for (std::uint64_t version : versions) writer.uint64(version);
  return writer.take();
}

Result<ControlOpen> ControlOpen::decode(std::span<const std::uint8_t> body,
                                        const DecodeLimits& limits) {
  Result<Map> map = decode_body_map(body, limits);
  if (!map) return map.error().wrap("control open");
  FieldReader fields(*map);
  ControlOpen open;
  Array versions = fields.array("versions");
  open.versions =
      uint_list(fields, versions, "versions", std::numeric_limits<std::uint64_t>::max());
  if (Status status = fields.status(); !status) return status.error().wrap("control open");
  return open;
}

Bytes ControlAccept::encode() const {
  Writer writer;
  writer.map_header(2);
  writer.str("version");
  writer.uint64(version);
  writer.str("protocols");
  writer.array_header(protocols.size());
  for (std::uint16_t number : protocols) writer.uint16_fixed(number);
  return writer.take();
}

Result<ControlAccept> ControlAccept::decode(std::span<const std::uint8_t> body,
                                            const DecodeLimits& limits) {
  Result<Map> map = decode_body_map(body, limits);
  if (!map) return map.error().wrap("control accept");
  FieldReader fields(*map);
  ControlAccept accept;
  accept.version = fields.uint("version");
  Array protocols = fields.array("protocols");
  for (std::uint64_t number : uint_list(fields, protocols, "protocols", 0xffff)) {
    accept.protocols.push_back(static_cast<std::uint16_t>(number));
  }
  if (Status status = fields.status(); !status) return status.error().wrap("control accept");
  return accept;
}

Bytes ControlError::encode() const {
  Writer writer;
  writer.map_header(2 + (msgproto ? 1U : 0U) + (msgtype ? 1U : 0U) + (msgid ? 1U : 0U));
  writer.str("err");
  writer.str(err);
  writer.str("close");
  writer.boolean(close);
  if (msgproto) {
    writer.str("msgproto");
    writer.uint16_fixed(*msgproto);
  }
  if (msgtype) {
    writer.str("msgtype");
    writer.str(*msgtype);
  }
  if (msgid) {
    writer.str("msgid");
    writer.str(*msgid);
  }
  return writer.take();
}

Result<ControlError> ControlError::decode(std::span<const std::uint8_t> body,
                                          const DecodeLimits& limits) {
  Result<Map> map = decode_body_map(body, limits);
  if (!map) return map.error().wrap("control error");
  FieldReader fields(*map);
  ControlError error;
  error.err = fields.str("err");
  error.close = fields.boolean("close");
  if (std::optional<std::uint64_t> number = fields.opt_uint("msgproto")) {
    if (*number > 0xffff) {
      fields.fail("msgproto", std::to_string(*number) + " is not a protocol number (0..65535)");
    } else {
      error.msgproto = static_cast<std::uint16_t>(*number);
    }
  }
  error.msgtype = fields.opt_str("msgtype");
  error.msgid = fields.opt_str("msgid");
  if (Status status = fields.status(); !status) return status.error().wrap("control error");
  return error;
}

}  // namespace tether::protocol
