#include "hub/auth.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <charconv>
#include <optional>
#include <vector>

namespace tether::hub {

namespace {

std::string to_hex(const unsigned char* data, std::size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(kDigits[data[i] >> 4]);
    out.push_back(kDigits[data[i] & 0x0f]);
  }
  return out;
}

std::optional<std::vector<unsigned char>> from_hex(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  std::vector<unsigned char> out(hex.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i) {
    unsigned v = 0;
    auto [p, ec] = std::from_chars(hex.data() + 2 * i, hex.data() + 2 * i + 2, v, 16);
    if (ec != std::errc() || p != hex.data() + 2 * i + 2) return std::nullopt;
    out[i] = static_cast<unsigned char>(v);
  }
  return out;
}

Result<std::vector<unsigned char>> pbkdf2(std::string_view password,
                                          const std::vector<unsigned char>& salt,
                                          std::uint32_t iterations, std::size_t length) {
  std::vector<unsigned char> out(length);
  if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), salt.data(),
                        static_cast<int>(salt.size()), static_cast<int>(iterations), EVP_sha256(),
                        static_cast<int>(length), out.data()) != 1) {
    return Error("PBKDF2 failed");
  }
  return out;
}

}  // namespace

std::string sha256_hex(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return to_hex(digest, sizeof digest);
}

Result<std::string> random_hex(std::size_t bytes) {
  std::vector<unsigned char> buf(bytes);
  if (RAND_bytes(buf.data(), static_cast<int>(buf.size())) != 1) {
    return Error("the random number generator failed");
  }
  return to_hex(buf.data(), buf.size());
}

Result<std::string> hash_password(std::string_view password, std::uint32_t iterations) {
  std::vector<unsigned char> salt(16);
  if (RAND_bytes(salt.data(), static_cast<int>(salt.size())) != 1) {
    return Error("the random number generator failed");
  }
  auto key = pbkdf2(password, salt, iterations, 32);
  if (!key.ok()) return key.error();
  return "pbkdf2-sha256$" + std::to_string(iterations) + "$" + to_hex(salt.data(), salt.size()) +
         "$" + to_hex(key->data(), key->size());
}

Result<bool> verify_password(std::string_view password, std::string_view stored) {
  // pbkdf2-sha256$ITER$SALT$HASH
  constexpr std::string_view kScheme = "pbkdf2-sha256$";
  if (stored.substr(0, kScheme.size()) != kScheme) {
    return Error(
        "operator.password-hash: not a pbkdf2-sha256 hash (make one with --hash-password)");
  }
  std::string_view rest = stored.substr(kScheme.size());
  const auto d1 = rest.find('$');
  const auto d2 = d1 == std::string_view::npos ? d1 : rest.find('$', d1 + 1);
  if (d2 == std::string_view::npos) return Error("operator.password-hash: malformed");
  std::uint32_t iterations = 0;
  auto [p, ec] = std::from_chars(rest.data(), rest.data() + d1, iterations);
  if (ec != std::errc() || p != rest.data() + d1 || iterations < 1000 || iterations > 10000000) {
    return Error("operator.password-hash: bad iteration count");
  }
  auto salt = from_hex(rest.substr(d1 + 1, d2 - d1 - 1));
  auto expected = from_hex(rest.substr(d2 + 1));
  if (!salt || !expected || salt->empty() || expected->size() < 16 || expected->size() > 64) {
    return Error("operator.password-hash: malformed salt or hash");
  }
  auto key = pbkdf2(password, *salt, iterations, expected->size());
  if (!key.ok()) return key.error();
  return CRYPTO_memcmp(key->data(), expected->data(), expected->size()) == 0;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace tether::hub
