// msgpack <-> Value, bounded. The generic codec under the envelope and every body
// schema. Decoding uses msgpack-c's parser with tether's own visitor, because
// msgpack-c's object builder allocates a container's claimed size before it knows
// the bytes exist (a 5-byte message could claim 4 billion entries).
#pragma once

#include <cstdint>
#include <span>

#include "protocol/limits.hpp"
#include "protocol/result.hpp"
#include "protocol/value.hpp"

namespace tether::protocol {

// Decodes exactly one msgpack value that must span all of `data`. Errors on
// truncation, trailing bytes, extension types, non-string map keys, and any
// DecodeLimits bound.
Result<Value> decode_value(std::span<const std::uint8_t> data, const DecodeLimits& limits = {});

// Encodes with msgpack's smallest representation for each value (as the Go peer does).
Bytes encode_value(const Value& value);

}  // namespace tether::protocol
