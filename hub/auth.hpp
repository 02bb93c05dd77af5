// Credentials: device tokens (kept only as SHA-256) and the operator's password
// (PBKDF2-HMAC-SHA256 with a random salt). Login sessions are in
// hub/operators/operator_sessions.hpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "protocol/result.hpp"

namespace tether::hub {

// Lower-case hex SHA-256 of `data`.
std::string sha256_hex(std::string_view data);

// `bytes` random bytes from OpenSSL's CSPRNG as lower-case hex.
Result<std::string> random_hex(std::size_t bytes);

// "pbkdf2-sha256$ITERATIONS$SALTHEX$HASHHEX".
Result<std::string> hash_password(std::string_view password, std::uint32_t iterations = 200000);

// Checks `password` against a hash made by hash_password, in constant time with
// respect to the stored hash. A malformed stored hash is an error, not a mismatch.
Result<bool> verify_password(std::string_view password, std::string_view stored);

// Compares two strings without early exit on the first difference.
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace tether::hub
