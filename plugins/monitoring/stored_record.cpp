#include "plugins/monitoring/stored_record.hpp"

#include <algorithm>
#include <array>

#include "protocol/writer.hpp"

namespace tether::plugins::monitoring {
namespace {

// A map header (fixmap), the key "seq" (fixstr 3) and the value 0 (fixint).
constexpr std::array<std::uint8_t, 5> kSeqKey = {0xa3, 's', 'e', 'q', 0x00};

const char* typ_of(RecordKind kind) {
  switch (kind) {
    case RecordKind::kData:
      return protocol::monitoring::kData;
    case RecordKind::kAlert:
      return protocol::monitoring::kAlert;
    case RecordKind::kDropped:
      return protocol::monitoring::kDropped;
  }
  return nullptr;
}

}  // namespace

protocol::Bytes stored_form(RecordKind kind, const protocol::Bytes& body_with_zero_seq) {
  protocol::Bytes stored;
  stored.reserve(body_with_zero_seq.size() + 1);
  stored.push_back(static_cast<std::uint8_t>(kind));
  stored.insert(stored.end(), body_with_zero_seq.begin(), body_with_zero_seq.end());
  return stored;
}

std::optional<protocol::ProtoMsg> stamp(std::span<const std::uint8_t> stored, std::uint64_t seq) {
  // kind, fixmap header, then "seq": 0.
  if (stored.size() < 2 + kSeqKey.size()) return std::nullopt;
  const auto kind = static_cast<RecordKind>(stored[0]);
  const char* typ = typ_of(kind);
  if (typ == nullptr || (stored[1] & 0xf0U) != 0x80U) return std::nullopt;
  if (!std::equal(kSeqKey.begin(), kSeqKey.end(), stored.begin() + 2)) return std::nullopt;
  protocol::Writer writer;
  writer.uint64(seq);
  const protocol::Bytes seq_bytes = writer.take();
  protocol::Bytes body;
  body.reserve(stored.size() + kStampGrowth);
  body.push_back(stored[1]);
  body.insert(body.end(), kSeqKey.begin(), kSeqKey.end() - 1);
  body.insert(body.end(), seq_bytes.begin(), seq_bytes.end());
  body.insert(body.end(), stored.begin() + 2 + kSeqKey.size(), stored.end());
  return protocol::make_msg(protocol::proto::kMonitoring, typ, {}, {}, std::move(body));
}

}  // namespace tether::plugins::monitoring
