#include "protocol/writer.hpp"

#include <msgpack.hpp>

#include <bit>
#include <type_traits>
#include <utility>
#include <variant>

namespace tether::protocol {
namespace {

// msgpack::packer writes into anything with write(const char*, size_t).
class ByteSink {
 public:
  explicit ByteSink(Bytes& out) : out_(out) {}
  void write(const char* data, std::size_t size) {
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(data);
    out_.insert(out_.end(), bytes, bytes + size);
  }

 private:
  Bytes& out_;
};

// msgpack lengths are 32-bit; nothing tether encodes comes near 4 GiB, because
// every inbound message is capped far below that (server.max-message).
std::uint32_t wire_length(std::size_t n) {
  return static_cast<std::uint32_t>(n);
}

}  // namespace

void Writer::map_header(std::size_t entries) {
  ByteSink sink(out_);
  msgpack::packer<ByteSink>(sink).pack_map(wire_length(entries));
}

void Writer::array_header(std::size_t entries) {
  ByteSink sink(out_);
  msgpack::packer<ByteSink>(sink).pack_array(wire_length(entries));
}

void Writer::nil() {
  ByteSink sink(out_);
  msgpack::packer<ByteSink>(sink).pack_nil();
}

void Writer::boolean(bool b) {
  ByteSink sink(out_);
  if (b) {
    msgpack::packer<ByteSink>(sink).pack_true();
  } else {
    msgpack::packer<ByteSink>(sink).pack_false();
  }
}

void Writer::int64(std::int64_t i) {
  ByteSink sink(out_);
  msgpack::packer<ByteSink>(sink).pack_int64(i);
}

void Writer::uint64(std::uint64_t u) {
  ByteSink sink(out_);
  msgpack::packer<ByteSink>(sink).pack_uint64(u);
}

void Writer::float64(double d) {
  // Not msgpack::packer::pack_double: msgpack-c 4.x writes a double that holds a
  // whole number (1.0) as an integer, which changes its type on the wire. The Go
  // peer always writes float64 as 0xcb + 8 big-endian bytes, and so does this.
  auto bits = std::bit_cast<std::uint64_t>(d);
  out_.push_back(0xcb);
  for (int shift = 56; shift >= 0; shift -= 8) {
    out_.push_back(static_cast<std::uint8_t>(bits >> shift));
  }
}

void Writer::uint16_fixed(std::uint16_t u) {
  ByteSink sink(out_);
  msgpack::packer<ByteSink>(sink).pack_fix_uint16(u);
}

void Writer::uint32_fixed(std::uint32_t u) {
  ByteSink sink(out_);
  msgpack::packer<ByteSink>(sink).pack_fix_uint32(u);
}

void Writer::int64_fixed(std::int64_t i) {
  ByteSink sink(out_);
  msgpack::packer<ByteSink>(sink).pack_fix_int64(i);
}

void Writer::timestamp(std::int64_t nanoseconds) {
  constexpr std::int64_t kBillion = 1'000'000'000;
  std::int64_t seconds = nanoseconds / kBillion;
  std::int64_t nanos = nanoseconds % kBillion;
  if (nanos < 0) {
    nanos += kBillion;
    seconds -= 1;
  }
  auto put = [this](std::uint64_t v, int bytes) {
    for (int i = bytes - 1; i >= 0; --i) out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  };
  const auto secs = static_cast<std::uint64_t>(seconds);
  if (seconds >= 0 && (secs >> 34) == 0) {
    const std::uint64_t packed = (static_cast<std::uint64_t>(nanos) << 34) | secs;
    if ((packed >> 32) == 0) {
      out_.insert(out_.end(), {0xd6, 0xff});
      put(packed, 4);
    } else {
      out_.insert(out_.end(), {0xd7, 0xff});
      put(packed, 8);
    }
    return;
  }
  out_.insert(out_.end(), {0xc7, 12, 0xff});
  put(static_cast<std::uint64_t>(nanos), 4);
  put(secs, 8);
}

void Writer::str(std::string_view s) {
  ByteSink sink(out_);
  msgpack::packer<ByteSink> packer(sink);
  packer.pack_str(wire_length(s.size()));
  packer.pack_str_body(s.data(), wire_length(s.size()));
}

void Writer::bin(std::span<const std::uint8_t> b) {
  ByteSink sink(out_);
  msgpack::packer<ByteSink> packer(sink);
  packer.pack_bin(wire_length(b.size()));
  packer.pack_bin_body(reinterpret_cast<const char*>(b.data()), wire_length(b.size()));
}

void Writer::value(const Value& v) {
  std::visit(
      [this](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::monostate>) {
          nil();
        } else if constexpr (std::is_same_v<T, bool>) {
          boolean(x);
        } else if constexpr (std::is_same_v<T, std::int64_t>) {
          int64(x);
        } else if constexpr (std::is_same_v<T, std::uint64_t>) {
          uint64(x);
        } else if constexpr (std::is_same_v<T, double>) {
          float64(x);
        } else if constexpr (std::is_same_v<T, std::string>) {
          str(x);
        } else if constexpr (std::is_same_v<T, Bytes>) {
          bin(x);
        } else if constexpr (std::is_same_v<T, Array>) {
          array_header(x.size());
          for (const Value& item : x) value(item);
        } else {
          static_assert(std::is_same_v<T, Map>);
          map_header(x.size());
          for (const auto& [key, item] : x) {
            str(key);
            value(item);
          }
        }
      },
      v.storage());
}

Bytes Writer::take() {
  return std::exchange(out_, {});
}

}  // namespace tether::protocol
