// What the crash child writes, so that the parent can check every byte it finds:
// a record's content follows from (writer, n) alone, a document's from (group, n).
#pragma once

#include <cstdint>
#include <string>

#include "protocol/value.hpp"

namespace tether::store_test {

// "w<writer> n<n> " followed by a filler whose length and bytes depend on both, so
// that a torn or mixed-up record cannot pass for another one.
inline protocol::Bytes record_payload(int writer, std::uint64_t n) {
  const std::string head = "w" + std::to_string(writer) + " n" + std::to_string(n) + " ";
  protocol::Bytes bytes(head.begin(), head.end());
  const std::size_t filler = 16 + (static_cast<std::size_t>(writer) * 131 + n * 17) % 600;
  for (std::size_t i = 0; i < filler; ++i) {
    bytes.push_back(
        static_cast<std::uint8_t>('a' + (i + n + static_cast<std::size_t>(writer)) % 26));
  }
  return bytes;
}

inline std::string document_key(int group, const std::string& name) {
  return "g" + std::to_string(group) + "/" + name;
}

// Big enough that a commit spans several pages.
inline protocol::Bytes document_value(int group, std::uint64_t n) {
  const std::string head = std::to_string(n) + ":";
  protocol::Bytes bytes(head.begin(), head.end());
  bytes.resize(head.size() + 3000,
               static_cast<std::uint8_t>('A' + (n + static_cast<std::uint64_t>(group)) % 26));
  return bytes;
}

}  // namespace tether::store_test
