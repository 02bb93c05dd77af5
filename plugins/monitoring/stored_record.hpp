// How a monitoring record sits in the durable store's "monitoring" log. The store
// assigns the seq when it commits, so the stored bytes are the wire body with a
// placeholder seq of 0 (one byte, 0x00, right after the map header and the "seq"
// key, which every record encoder writes first), preceded by one byte naming the
// typ. stamp() replaces the placeholder with the real seq when the record is sent.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "protocol/message.hpp"
#include "protocol/monitoring.hpp"

namespace tether::plugins::monitoring {

enum class RecordKind : std::uint8_t { kData = 1, kAlert = 2, kDropped = 3 };

// Stored form of a record whose seq field is 0.
protocol::Bytes stored_form(RecordKind kind, const protocol::Bytes& body_with_zero_seq);

// The monitoring message for a stored record and its seq; nullopt when the stored
// bytes are not a stored form (a damaged or foreign row).
std::optional<protocol::ProtoMsg> stamp(std::span<const std::uint8_t> stored, std::uint64_t seq);

// Bytes stamp() adds at most to a stored form (a 9-byte uint64 replaces 1 byte, the
// kind byte goes): what the record will weigh on the wire is stored size + this.
inline constexpr std::size_t kStampGrowth = 7;

}  // namespace tether::plugins::monitoring
