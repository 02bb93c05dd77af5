#include "protocol/command.hpp"

#include <algorithm>
#include <string>

#include "protocol/fields.hpp"
#include "protocol/writer.hpp"

namespace tether::protocol::command {
namespace {

template <typename T, typename Read>
tether::Result<T> decode_with(std::span<const std::uint8_t> body, const DecodeLimits& limits,
                              const char* typ, Read read) {
  return decode_schema<T>(body, limits, std::string("command ") + typ, read);
}

// Checks a required name: not empty and at most `max` bytes.
void check_name(FieldReader& fields, std::string_view key, const std::string& value,
                std::size_t max) {
  if (!fields.status()) return;
  if (value.empty()) {
    fields.fail(key, "is empty");
  } else if (value.size() > max) {
    fields.fail(key, "is longer than " + std::to_string(max) + " bytes");
  }
}

}  // namespace

Bytes Request::encode() const {
  Writer writer;
  writer.map_header(3 + (args ? 1U : 0U) + (timeout_s ? 1U : 0U));
  writer.str("id");
  writer.str(id);
  writer.str("target");
  writer.str(target);
  writer.str("action");
  writer.str(action);
  if (args) {
    writer.str("args");
    writer.value(*args);
  }
  if (timeout_s) {
    writer.str("timeout_s");
    writer.uint64(*timeout_s);
  }
  return writer.take();
}

tether::Result<Request> Request::decode(std::span<const std::uint8_t> body,
                                        const DecodeLimits& limits) {
  return decode_with<Request>(body, limits, kRequest, [](FieldReader& fields) {
    Request request;
    request.id = fields.str("id");
    check_name(fields, "id", request.id, kMaxIdBytes);
    request.target = fields.str("target");
    check_name(fields, "target", request.target, kMaxNameBytes);
    request.action = fields.str("action");
    check_name(fields, "action", request.action, kMaxNameBytes);
    request.args = fields.opt_map("args");
    request.timeout_s = fields.opt_uint("timeout_s");
    return request;
  });
}

std::optional<std::string> peek_id(std::span<const std::uint8_t> body, const DecodeLimits& limits) {
  tether::Result<Map> map = decode_body_map(body, limits);
  if (!map) return std::nullopt;
  const Value* id = find(map.value(), "id");
  if (id == nullptr) return std::nullopt;
  const std::string* text = id->as_str();
  if (text == nullptr || text->empty() || text->size() > kMaxIdBytes) return std::nullopt;
  return *text;
}

Bytes ResultBody::encode() const {
  Writer writer;
  writer.map_header(3 + (ret ? 1U : 0U) + (err ? 1U : 0U));
  writer.str("id");
  writer.str(id);
  writer.str("status");
  writer.str(status);
  if (ret) {
    writer.str("ret");
    writer.value(*ret);
  }
  if (err) {
    writer.str("err");
    writer.str(*err);
  }
  writer.str("ts");
  writer.int64(ts);
  return writer.take();
}

tether::Result<ResultBody> ResultBody::decode(std::span<const std::uint8_t> body,
                                              const DecodeLimits& limits) {
  return decode_with<ResultBody>(body, limits, kResult, [](FieldReader& fields) {
    ResultBody result;
    result.id = fields.str("id");
    result.status = fields.str("status");
    if (fields.status() &&
        std::find(kStatuses.begin(), kStatuses.end(), result.status) == kStatuses.end()) {
      fields.fail("status",
                  not_one_of(result.status, {kOk, kError, kNoTarget, kTimeout, kBusy, kInvalid}));
    }
    result.ret = fields.opt_map("ret");
    result.err = fields.opt_str("err");
    result.ts = fields.int64("ts");
    return result;
  });
}

Bytes Ack::encode() const {
  Writer writer;
  writer.map_header(1);
  writer.str("id");
  writer.str(id);
  return writer.take();
}

tether::Result<Ack> Ack::decode(std::span<const std::uint8_t> body, const DecodeLimits& limits) {
  return decode_with<Ack>(body, limits, kAck, [](FieldReader& fields) {
    Ack ack;
    ack.id = fields.str("id");
    check_name(fields, "id", ack.id, kMaxIdBytes);
    return ack;
  });
}

Bytes Targets::encode() const {
  Writer writer;
  writer.map_header(1);
  writer.str("targets");
  writer.array_header(targets.size());
  for (const std::string& target : targets) writer.str(target);
  return writer.take();
}

tether::Result<Targets> Targets::decode(std::span<const std::uint8_t> body,
                                        const DecodeLimits& limits) {
  return decode_with<Targets>(body, limits, kTargets, [](FieldReader& fields) {
    Targets out;
    Array list = fields.array("targets");
    for (Value& entry : list) {
      std::string* name = entry.as_str();
      if (name == nullptr) {
        fields.fail("targets", type_mismatch("an array of str", entry));
        break;
      }
      out.targets.push_back(std::move(*name));
    }
    return out;
  });
}

}  // namespace tether::protocol::command
