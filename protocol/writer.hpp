// A msgpack writer for the encoders in this library. The generic Value encoder
// cannot express "this integer always takes 2 bytes", which the wire contract
// demands in a few places (hdr.proto, the `offset` prop, control's protocol list),
// so the envelope and the body schemas write through this instead.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "protocol/value.hpp"

namespace tether::protocol {

class Writer {
 public:
  // Containers: write the header, then exactly `entries` items (maps: key, value pairs).
  void map_header(std::size_t entries);
  void array_header(std::size_t entries);

  void nil();
  void boolean(bool b);
  // Smallest msgpack form for the number, as the Go peer writes compact ints.
  void int64(std::int64_t i);
  void uint64(std::uint64_t u);
  void float64(double d);
  // Fixed widths, for the places where the wire contract pins the width.
  void uint16_fixed(std::uint16_t u);  // 0xcd + 2 bytes
  void int64_fixed(std::int64_t i);    // 0xd3 + 8 bytes
  void uint32_fixed(std::uint32_t u);  // 0xce + 4 bytes
  void str(std::string_view s);
  void bin(std::span<const std::uint8_t> b);
  // msgpack's timestamp extension (type -1) in the smallest of its three forms, as
  // Go writes a time.Time; `nanoseconds` since the Unix epoch.
  void timestamp(std::int64_t nanoseconds);
  // Any Value, recursively, each integer in its smallest form.
  void value(const Value& v);

  // The bytes written so far; the writer is empty afterwards.
  Bytes take();

 private:
  Bytes out_;
};

}  // namespace tether::protocol
