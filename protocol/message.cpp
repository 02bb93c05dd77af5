#include "protocol/message.hpp"

#include <limits>
#include <string>
#include <utility>

#include "protocol/fields.hpp"
#include "protocol/writer.hpp"

namespace tether::protocol {
namespace {

constexpr std::string_view kHdr = "hdr";
constexpr std::string_view kBody = "body";
constexpr std::string_view kProto = "proto";
constexpr std::string_view kTyp = "typ";
constexpr std::string_view kSid = "sid";
constexpr std::string_view kProps = "props";
// File transfer's byte offset: the Go peer declares it int64, so it is always
// written as 0xd3 + 8 bytes however small.
constexpr std::string_view kOffsetProp = "offset";

void write_props(Writer& writer, const Map& props) {
  writer.map_header(props.size());
  for (const auto& [key, value] : props) {
    writer.str(key);
    std::optional<std::int64_t> as_int = value.as_int();
    if (key == kOffsetProp && as_int) {
      writer.int64_fixed(*as_int);
    } else {
      writer.value(value);
    }
  }
}

// Decodes the header map leniently; errors name the field as "hdr.<key>".
Result<ProtoHdr> decode_hdr(Map& map) {
  ProtoHdr hdr;
  bool have_proto = false;
  for (auto& [key, value] : map) {
    if (value.is_nil()) continue;  // nil counts as absent for every key
    if (key == kProto) {
      std::optional<std::uint64_t> number = value.as_uint();
      if (!number)
        return Error(ErrorCode::kProtocol,
                     "hdr.proto: " + type_mismatch("an unsigned integer", value));
      if (*number > std::numeric_limits<std::uint16_t>::max()) {
        return Error(ErrorCode::kProtocol, "hdr.proto: " + std::to_string(*number) +
                                               " is not a protocol number (0..65535)");
      }
      hdr.proto = static_cast<std::uint16_t>(*number);
      have_proto = true;
    } else if (key == kTyp || key == kSid) {
      std::string* text = value.as_str();
      if (text == nullptr)
        return Error(ErrorCode::kProtocol, "hdr." + key + ": " + type_mismatch("str", value));
      (key == kTyp ? hdr.typ : hdr.sid) = std::move(*text);
    } else if (key == kProps) {
      Map* props = value.as_map();
      if (props == nullptr)
        return Error(ErrorCode::kProtocol, "hdr.props: " + type_mismatch("a map", value));
      hdr.props = std::move(*props);
    }
  }
  if (!have_proto) return Error(ErrorCode::kProtocol, "hdr.proto: missing");
  return hdr;
}

}  // namespace

std::optional<std::string_view> ProtoHdr::prop_str(std::string_view key) const {
  const Value* value = find(props, key);
  if (value == nullptr || !value->is_str()) return std::nullopt;
  return std::string_view(*value->as_str());
}

std::optional<std::int64_t> ProtoHdr::prop_int(std::string_view key) const {
  const Value* value = find(props, key);
  return value == nullptr ? std::nullopt : value->as_int();
}

std::optional<std::uint64_t> ProtoHdr::prop_uint(std::string_view key) const {
  const Value* value = find(props, key);
  return value == nullptr ? std::nullopt : value->as_uint();
}

std::optional<bool> ProtoHdr::prop_bool(std::string_view key) const {
  const Value* value = find(props, key);
  return value == nullptr ? std::nullopt : value->as_bool();
}

Bytes encode(const ProtoMsg& msg) {
  const ProtoHdr& hdr = msg.hdr;
  Writer writer;
  writer.map_header(msg.body.empty() ? 1 : 2);

  writer.str(kHdr);
  const std::size_t hdr_entries = std::size_t{1} + (hdr.typ.empty() ? 0U : 1U) +
                                  (hdr.sid.empty() ? 0U : 1U) + (hdr.props.empty() ? 0U : 1U);
  writer.map_header(hdr_entries);
  writer.str(kProto);
  writer.uint16_fixed(hdr.proto);
  if (!hdr.typ.empty()) {
    writer.str(kTyp);
    writer.str(hdr.typ);
  }
  if (!hdr.sid.empty()) {
    writer.str(kSid);
    writer.str(hdr.sid);
  }
  if (!hdr.props.empty()) {
    writer.str(kProps);
    write_props(writer, hdr.props);
  }

  if (!msg.body.empty()) {
    writer.str(kBody);
    writer.bin(msg.body);
  }
  return writer.take();
}

Result<ProtoMsg> decode(std::span<const std::uint8_t> data, const DecodeLimits& limits) {
  Result<Value> decoded = decode_value(data, limits);
  if (!decoded) return decoded.error();
  Map* top = decoded->as_map();
  if (top == nullptr)
    return Error(ErrorCode::kProtocol, "message: " + type_mismatch("a map", *decoded));

  ProtoMsg msg;
  bool have_hdr = false;
  for (auto& [key, value] : *top) {
    if (value.is_nil()) continue;
    if (key == kHdr) {
      Map* hdr_map = value.as_map();
      if (hdr_map == nullptr)
        return Error(ErrorCode::kProtocol, "hdr: " + type_mismatch("a map", value));
      Result<ProtoHdr> hdr = decode_hdr(*hdr_map);
      if (!hdr) return hdr.error();
      msg.hdr = std::move(*hdr);
      have_hdr = true;
    } else if (key == kBody) {
      if (Bytes* bin = value.as_bin()) {
        msg.body = std::move(*bin);
      } else if (const std::string* text = value.as_str()) {
        msg.body.assign(text->begin(), text->end());
      } else {
        return Error(ErrorCode::kProtocol, "body: " + type_mismatch("bin or str", value));
      }
    }
  }
  if (!have_hdr) return Error(ErrorCode::kProtocol, "hdr: missing");
  return msg;
}

ProtoMsg make_msg(std::uint16_t proto_number, std::string typ, std::string sid, Map props,
                  Bytes body) {
  ProtoMsg msg;
  msg.hdr.proto = proto_number;
  msg.hdr.typ = std::move(typ);
  msg.hdr.sid = std::move(sid);
  msg.hdr.props = std::move(props);
  msg.body = std::move(body);
  return msg;
}

}  // namespace tether::protocol
