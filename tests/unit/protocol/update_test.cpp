// Update bodies (wire.md section 5.3).
#include "protocol/update.hpp"

#include <gtest/gtest.h>

#include "tests/unit/protocol/schema_checks.hpp"

namespace tether::protocol {
namespace {

using testing::check_schema;
using testing::decode_error;
using testing::with;

constexpr char kDigest[] = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

Map valid_offer() {
  return {{"id", "u-1"},       {"version", "2.0"},  {"url", "https://h/a.deb"},
          {"size", 123456789}, {"sha256", kDigest}, {"signature", Bytes{1, 2, 3}},
          {"consent", true}};
}

TEST(Update, OfferSchema) {
  check_schema<UpdateOffer>(valid_offer(), {"signature", "consent"});
}

TEST(Update, ProgressSchema) {
  check_schema<UpdateProgress>(
      Map{{"id", "u-1"}, {"state", "downloading"}, {"percent", 40}, {"message", "40 MB"}},
      {"percent", "message"});
}

TEST(Update, ConsentSchema) {
  check_schema<UpdateConsent>(Map{{"id", "u-1"}, {"accept", false}}, {});
}

TEST(Update, CancelSchema) {
  check_schema<UpdateCancel>(Map{{"id", "u-1"}}, {});
}

TEST(Update, AckSchema) {
  check_schema<UpdateAck>(Map{{"id", "u-1"}}, {});
}

TEST(Update, RoundTrips) {
  UpdateOffer offer{"id", "v", "https://x", 1, kDigest, std::nullopt, std::nullopt};
  Result<UpdateOffer> offer_back = UpdateOffer::decode(offer.encode());
  ASSERT_TRUE(offer_back.ok()) << offer_back.error().message();
  EXPECT_EQ(*offer_back, offer);

  for (std::string_view state : update::kStates) {
    UpdateProgress progress{"id", std::string(state), 100, std::nullopt};
    Result<UpdateProgress> back = UpdateProgress::decode(progress.encode());
    ASSERT_TRUE(back.ok()) << state << ": " << back.error().message();
    EXPECT_EQ(*back, progress);
  }
}

TEST(Update, Sha256MustBe64HexDigits) {
  const std::string upper = "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08";
  EXPECT_TRUE(UpdateOffer::decode(encode_value(Value(with(valid_offer(), "sha256", upper)))).ok());
  std::string short_digest(kDigest, 63);
  EXPECT_EQ(decode_error<UpdateOffer>(with(valid_offer(), "sha256", short_digest)),
            "update offer: sha256: expected 64 hex digits, got \"" + short_digest + "\"");
  std::string not_hex(kDigest);
  not_hex[10] = 'g';
  EXPECT_FALSE(
      UpdateOffer::decode(encode_value(Value(with(valid_offer(), "sha256", not_hex)))).ok());
  EXPECT_FALSE(UpdateOffer::decode(encode_value(Value(with(valid_offer(), "sha256", "")))).ok());
}

TEST(Update, ProgressStateAndPercentAreValidated) {
  Map progress{{"id", "u"}, {"state", "done"}};
  EXPECT_EQ(decode_error<UpdateProgress>(progress),
            "update progress: state: \"done\" is not one of downloading verifying "
            "awaiting-consent installing success failure rejected cancelled");
  EXPECT_EQ(decode_error<UpdateProgress>(Map{{"id", "u"}, {"state", "success"}, {"percent", 101}}),
            "update progress: percent: 101 is more than 100");
}

TEST(Update, FinalStates) {
  EXPECT_TRUE(update::is_final_state("success"));
  EXPECT_TRUE(update::is_final_state("cancelled"));
  EXPECT_FALSE(update::is_final_state("installing"));
  EXPECT_FALSE(update::is_final_state("awaiting-consent"));
}

}  // namespace
}  // namespace tether::protocol
