// update.public-key: loading every supported key type, refusing others, and
// verifying signatures over the digest made with the openssl command line.
#include <gtest/gtest.h>

#include <openssl/sha.h>

#include "plugins/update/signature_check.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/unit/update/key_tools.hpp"

namespace tether::plugins::update {
namespace {

Sha256Digest digest_of(const std::string& data) {
  Sha256Digest d{};
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), d.data());
  return d;
}

std::span<const std::uint8_t> bytes(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

class SignatureTest : public ::testing::TestWithParam<std::string> {};

TEST_P(SignatureTest, GoodBadAndMissingSignatures) {
  tether::test::TempDir dir;
  const std::string algorithm = GetParam();
  auto pair = test::make_key(dir.path(), algorithm);
  auto key = PublicKey::load(pair.public_key);
  ASSERT_TRUE(key) << key.error().message();
  const std::string artifact = "the artifact " + std::string(5000, 'x');
  auto file = dir.write("artifact", artifact);
  const std::string signature = test::sign_file(pair, file, algorithm);
  ASSERT_FALSE(signature.empty());
  EXPECT_TRUE(key->verify(digest_of(artifact), bytes(signature)));

  // Another artifact's digest, a flipped bit, an empty and a truncated signature.
  EXPECT_FALSE(key->verify(digest_of(artifact + "!"), bytes(signature)));
  std::string flipped = signature;
  flipped[flipped.size() / 2] = static_cast<char>(flipped[flipped.size() / 2] ^ 0x01);
  EXPECT_FALSE(key->verify(digest_of(artifact), bytes(flipped)));
  EXPECT_FALSE(key->verify(digest_of(artifact), {}));
  EXPECT_FALSE(key->verify(digest_of(artifact), bytes(signature.substr(0, 10))));

  // Signed by another key of the same type.
  auto other_dir = std::filesystem::path(dir.path() / "other");
  std::filesystem::create_directories(other_dir);
  auto other = test::make_key(other_dir, algorithm);
  const std::string other_signature = test::sign_file(other, file, algorithm);
  EXPECT_FALSE(key->verify(digest_of(artifact), bytes(other_signature)));
}

INSTANTIATE_TEST_SUITE_P(KeyTypes, SignatureTest, ::testing::Values("ed25519", "p256", "rsa"));

TEST(PublicKeyTest, DescribesTheKey) {
  tether::test::TempDir dir;
  EXPECT_EQ(PublicKey::load(test::make_key(dir.path(), "ed25519").public_key)->description(),
            "Ed25519");
  EXPECT_EQ(PublicKey::load(test::make_key(dir.path(), "p256").public_key)->description(),
            "ECDSA P-256");
  EXPECT_EQ(PublicKey::load(test::make_key(dir.path(), "rsa").public_key)->description(),
            "RSA-2048");
}

TEST(PublicKeyTest, RefusesWhatIsNotAUsablePublicKey) {
  tether::test::TempDir dir;
  EXPECT_FALSE(PublicKey::load(dir.path() / "missing.pem"));
  EXPECT_FALSE(PublicKey::load(dir.write("garbage.pem", "hello\n")));
  EXPECT_FALSE(PublicKey::load(dir.write("empty.pem", "")));
  EXPECT_FALSE(PublicKey::load(
      dir.write("truncated.pem",
                "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n")));
  auto p384 = test::make_key(dir.path(), "p384");
  auto refused = PublicKey::load(p384.public_key);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message().find("P-256"), std::string::npos);
  // A private key is not a public key.
  auto ed = test::make_key(dir.path(), "ed25519");
  EXPECT_FALSE(PublicKey::load(ed.private_key));
  // A directory.
  EXPECT_FALSE(PublicKey::load(dir.path()));
}

}  // namespace
}  // namespace tether::plugins::update
