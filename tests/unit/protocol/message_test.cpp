// The ProtoMsg envelope against wire.md section 2: every vector decodes to the
// expected fields and re-encodes to the identical bytes; decoding is lenient where
// the contract says so and strict everywhere else.
#include "protocol/message.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

#include "protocol/writer.hpp"
#include "tests/unit/protocol/hex.hpp"

namespace tether::protocol {
namespace {

using testing::from_hex;
using testing::to_hex;
namespace vectors = testing::vectors;

ProtoMsg decode_ok(std::string_view hex) {
  Result<ProtoMsg> msg = decode(from_hex(hex));
  EXPECT_TRUE(msg.ok()) << hex << ": " << (msg.ok() ? "" : msg.error().message());
  return msg.ok() ? *msg : ProtoMsg{};
}

// Every refusal of a peer's bytes is a protocol error (ErrorCode::kProtocol).
std::string error_of(const Bytes& bytes) {
  Result<ProtoMsg> msg = decode(bytes);
  EXPECT_FALSE(msg.ok()) << to_hex(bytes) << " decoded, expected an error";
  if (msg.ok()) return std::string();
  EXPECT_EQ(msg.error().code(), ErrorCode::kProtocol) << msg.error().message();
  return msg.error().message();
}

TEST(Envelope, ShellNewVector) {
  ProtoMsg msg = decode_ok(vectors::kShellNew);
  EXPECT_EQ(msg.hdr.proto, proto::kShell);
  EXPECT_EQ(msg.hdr.typ, "new");
  EXPECT_EQ(msg.hdr.sid, "s1");
  EXPECT_EQ(msg.hdr.prop_str("user_id"), "u1");
  EXPECT_EQ(msg.hdr.props.size(), 1U);
  EXPECT_TRUE(msg.body.empty());
  EXPECT_EQ(to_hex(encode(make_msg(proto::kShell, "new", "s1", Map{{"user_id", "u1"}}))),
            vectors::kShellNew);
}

TEST(Envelope, ShellDataVector) {
  ProtoMsg msg = decode_ok(vectors::kShellData);
  EXPECT_EQ(msg.hdr.proto, proto::kShell);
  EXPECT_EQ(msg.hdr.typ, "shell");
  EXPECT_EQ(msg.hdr.sid, "s1");
  EXPECT_EQ(msg.hdr.prop_int("status"), 1);
  EXPECT_EQ(msg.hdr.prop_uint("status"), 1U);
  EXPECT_EQ(msg.body, (Bytes{'l', 's', '\n'}));
  EXPECT_EQ(to_hex(encode(
                make_msg(proto::kShell, "shell", "s1", Map{{"status", 1}}, Bytes{'l', 's', '\n'}))),
            vectors::kShellData);
}

TEST(Envelope, ShellPingVector) {
  ProtoMsg msg = decode_ok(vectors::kShellPing);
  EXPECT_EQ(msg.hdr.typ, "ping");
  EXPECT_EQ(msg.hdr.prop_int("timeout"), 65);
  EXPECT_EQ(to_hex(encode(make_msg(proto::kShell, "ping", "s1", Map{{"timeout", 65}}))),
            vectors::kShellPing);
}

TEST(Envelope, ControlOpenVector) {
  ProtoMsg msg = decode_ok(vectors::kControlOpen);
  EXPECT_EQ(msg.hdr.proto, proto::kControl);
  EXPECT_EQ(msg.hdr.typ, "open");
  EXPECT_EQ(msg.hdr.sid, "s1");
  EXPECT_TRUE(msg.hdr.props.empty());
  EXPECT_EQ(to_hex(msg.body), "81a876657273696f6e739101");
}

TEST(Envelope, FileChunkVectorKeepsOffsetAsInt64) {
  ProtoMsg msg = decode_ok(vectors::kFileChunk);
  EXPECT_EQ(msg.hdr.proto, proto::kFileTransfer);
  EXPECT_EQ(msg.hdr.typ, "file_chunk");
  EXPECT_EQ(msg.hdr.prop_int("offset"), 5);
  EXPECT_EQ(msg.body, (Bytes{'a', 'b', 'c'}));
  EXPECT_EQ(to_hex(encode(make_msg(proto::kFileTransfer, "file_chunk", "s1", Map{{"offset", 5}},
                                   Bytes{'a', 'b', 'c'}))),
            vectors::kFileChunk);
}

TEST(Envelope, EmptyBodyVector) {
  ProtoMsg msg = decode_ok(vectors::kShellEmptyBody);
  EXPECT_EQ(msg.hdr.proto, proto::kShell);
  EXPECT_TRUE(msg.hdr.typ.empty());
  EXPECT_TRUE(msg.hdr.sid.empty());
  EXPECT_TRUE(msg.body.empty());
  EXPECT_EQ(to_hex(encode(make_msg(proto::kShell, ""))), vectors::kShellEmptyBody);
}

TEST(Envelope, EveryVectorReencodesToIdenticalBytes) {
  for (std::string_view hex : vectors::kEnvelopes) {
    Result<ProtoMsg> msg = decode(from_hex(hex));
    ASSERT_TRUE(msg.ok()) << hex;
    EXPECT_EQ(to_hex(encode(*msg)), hex);
  }
}

TEST(Envelope, ProtoIsAlwaysUint16EvenWhenSmall) {
  EXPECT_EQ(to_hex(encode(make_msg(0, ""))), "81a368647281a570726f746fcd0000");
  EXPECT_EQ(to_hex(encode(make_msg(proto::kControl, ""))), "81a368647281a570726f746fcdffff");
}

TEST(Envelope, OtherPropsUseTheSmallestIntegerForm) {
  ProtoMsg msg = make_msg(proto::kShell, "", "", Map{{"n", 300}, {"m", -1}});
  // "props": {n: 0xcd 012c, m: 0xff}
  EXPECT_EQ(to_hex(encode(msg)), "81a368647282a570726f746fcd0001a570726f707382a16ecd012ca16dff");
}

TEST(Envelope, RoundTripsEveryValueTypeInProps) {
  Map props{{"nil", nullptr},
            {"t", true},
            {"neg", std::int64_t{-5000000000}},
            {"big", std::uint64_t{18446744073709551615ULL}},
            {"f", 1.5},
            {"s", "text"},
            {"b", Bytes{0, 1, 2}},
            {"a", Array{1, "x", Array{}}},
            {"m", Map{{"k", Map{}}}},
            {"offset", std::int64_t{-7}}};
  ProtoMsg msg = make_msg(proto::kFileTransfer, "t", "sid", props, Bytes{9});
  Result<ProtoMsg> back = decode(encode(msg));
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(*back, msg);
}

// Lenient decoding (wire.md "Decoding rules").

// Builds an envelope by hand, so that tests can write what our encoder never would.
Bytes hand_envelope(void (*write_hdr_and_more)(Writer&), std::size_t top_entries) {
  Writer writer;
  writer.map_header(top_entries);
  write_hdr_and_more(writer);
  return writer.take();
}

TEST(EnvelopeLenient, AnyKeyOrderAndUnknownKeys) {
  Bytes bytes = hand_envelope(
      [](Writer& w) {
        w.str("extra");
        w.array_header(1);
        w.int64(1);
        w.str("body");
        w.bin(Bytes{'x'});
        w.str("hdr");
        w.map_header(5);
        w.str("props");
        w.map_header(1);
        w.str("k");
        w.str("v");
        w.str("sid");
        w.str("s9");
        w.str("future");
        w.map_header(0);
        w.str("typ");
        w.str("shell");
        w.str("proto");
        w.uint16_fixed(1);
      },
      3);
  Result<ProtoMsg> msg = decode(bytes);
  ASSERT_TRUE(msg.ok()) << msg.error().message();
  EXPECT_EQ(*msg, make_msg(proto::kShell, "shell", "s9", Map{{"k", "v"}}, Bytes{'x'}));
}

TEST(EnvelopeLenient, NilIsAbsentForEveryOptionalKey) {
  Bytes bytes = hand_envelope(
      [](Writer& w) {
        w.str("hdr");
        w.map_header(4);
        w.str("proto");
        w.uint64(2);
        w.str("typ");
        w.nil();
        w.str("sid");
        w.nil();
        w.str("props");
        w.nil();
        w.str("body");
        w.nil();
      },
      2);
  Result<ProtoMsg> msg = decode(bytes);
  ASSERT_TRUE(msg.ok()) << msg.error().message();
  EXPECT_EQ(*msg, make_msg(proto::kFileTransfer, ""));
}

TEST(EnvelopeLenient, NilPropValueIsAbsentForTheAccessors) {
  ProtoMsg msg = make_msg(1, "", "", Map{{"x", nullptr}});
  EXPECT_EQ(msg.hdr.prop_int("x"), std::nullopt);
  EXPECT_EQ(msg.hdr.prop_str("x"), std::nullopt);
  EXPECT_EQ(msg.hdr.prop_bool("x"), std::nullopt);
}

TEST(EnvelopeLenient, BodyAsStr) {
  Bytes bytes = hand_envelope(
      [](Writer& w) {
        w.str("hdr");
        w.map_header(1);
        w.str("proto");
        w.uint64(1);
        w.str("body");
        w.str("ls\n");
      },
      2);
  Result<ProtoMsg> msg = decode(bytes);
  ASSERT_TRUE(msg.ok()) << msg.error().message();
  EXPECT_EQ(msg->body, (Bytes{'l', 's', '\n'}));
}

// Every msgpack integer encoding of `number`, each as the complete item.
std::vector<std::string> integer_encodings_of_65() {
  return {
      "41",                  // positive fixint
      "cc41",                // uint8
      "cd0041",              // uint16
      "ce00000041",          // uint32
      "cf0000000000000041",  // uint64
      "d041",                // int8
      "d10041",              // int16
      "d200000041",          // int32
      "d30000000000000041",  // int64
  };
}

TEST(EnvelopeLenient, ProtoAndIntegerPropsInEveryWidth) {
  for (const std::string& number : integer_encodings_of_65()) {
    // {hdr: {proto: <65>, props: {timeout: <65>}}}
    std::string hex = "81a368647282a570726f746f";
    hex += number;
    hex += "a570726f707381a774696d656f7574";
    hex += number;
    Result<ProtoMsg> msg = decode(from_hex(hex));
    ASSERT_TRUE(msg.ok()) << hex << ": " << msg.error().message();
    EXPECT_EQ(msg->hdr.proto, 65) << hex;
    EXPECT_EQ(msg->hdr.prop_int("timeout"), 65) << hex;
    EXPECT_EQ(msg->hdr.prop_uint("timeout"), 65U) << hex;
  }
}

TEST(EnvelopeLenient, NegativePropsInEveryWidth) {
  for (std::string number : {"ff", "d0ff", "d1ffff", "d2ffffffff", "d3ffffffffffffffff"}) {
    std::string hex = "81a368647282a570726f746f01a570726f707381a178" + number;
    Result<ProtoMsg> msg = decode(from_hex(hex));
    ASSERT_TRUE(msg.ok()) << hex << ": " << msg.error().message();
    EXPECT_EQ(msg->hdr.prop_int("x"), -1) << hex;
    EXPECT_EQ(msg->hdr.prop_uint("x"), std::nullopt) << hex;
  }
}

TEST(EnvelopeLenient, PropAccessorsRejectOtherTypes) {
  ProtoMsg msg = make_msg(1, "", "", Map{{"s", "1"}, {"i", 1}, {"b", true}});
  EXPECT_EQ(msg.hdr.prop_int("s"), std::nullopt);
  EXPECT_EQ(msg.hdr.prop_str("i"), std::nullopt);
  EXPECT_EQ(msg.hdr.prop_bool("i"), std::nullopt);
  EXPECT_EQ(msg.hdr.prop_int("b"), std::nullopt);
  EXPECT_EQ(msg.hdr.prop_bool("b"), true);
  EXPECT_EQ(msg.hdr.prop_int("missing"), std::nullopt);
}

// Bad input.

TEST(EnvelopeErrors, EveryVectorTruncatedAtEveryOffsetFails) {
  for (std::string_view hex : vectors::kEnvelopes) {
    Bytes full = from_hex(hex);
    for (std::size_t length = 0; length < full.size(); ++length) {
      Bytes cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(length));
      EXPECT_FALSE(decode(cut).ok()) << hex << " cut to " << length << " bytes";
    }
  }
}

TEST(EnvelopeErrors, TrailingBytes) {
  Bytes bytes = from_hex(vectors::kShellEmptyBody);
  bytes.push_back(0xc0);
  EXPECT_NE(error_of(bytes).find("trailing"), std::string::npos);
}

TEST(EnvelopeErrors, TopLevelNotAMap) {
  EXPECT_EQ(error_of(from_hex("9101")), "message: expected a map, got array");
  EXPECT_EQ(error_of(from_hex("c0")), "message: expected a map, got nil");
  EXPECT_EQ(error_of(from_hex("a3616263")), "message: expected a map, got str");
}

TEST(EnvelopeErrors, MissingHdrOrProto) {
  EXPECT_EQ(error_of(from_hex("80")), "hdr: missing");
  EXPECT_EQ(error_of(from_hex("81a3686472c0")), "hdr: missing");
  EXPECT_EQ(error_of(from_hex("81a368647280")), "hdr.proto: missing");
  EXPECT_EQ(error_of(from_hex("81a368647281a570726f746fc0")), "hdr.proto: missing");
}

TEST(EnvelopeErrors, WrongTypes) {
  EXPECT_EQ(error_of(from_hex("81a368647201")), "hdr: expected a map, got int");
  EXPECT_EQ(error_of(from_hex("81a368647281a570726f746fa131")),
            "hdr.proto: expected an unsigned integer, got str");
  EXPECT_EQ(error_of(from_hex("81a368647281a570726f746fff")),
            "hdr.proto: expected an unsigned integer, got negative int -1");
  EXPECT_EQ(error_of(from_hex("81a368647281a570726f746fcb3ff0000000000000")),
            "hdr.proto: expected an unsigned integer, got float");
  EXPECT_EQ(error_of(from_hex("81a368647282a570726f746f01a374797001")),
            "hdr.typ: expected str, got int");
  EXPECT_EQ(error_of(from_hex("81a368647282a570726f746f01a3736964c401aa")),
            "hdr.sid: expected str, got bin");
  EXPECT_EQ(error_of(from_hex("81a368647282a570726f746f01a570726f70739101")),
            "hdr.props: expected a map, got array");
  EXPECT_EQ(error_of(from_hex("82a368647281a570726f746f01a4626f647901")),
            "body: expected bin or str, got int");
}

TEST(EnvelopeErrors, ProtoAboveUint16) {
  EXPECT_EQ(error_of(from_hex("81a368647281a570726f746fce00010000")),
            "hdr.proto: 65536 is not a protocol number (0..65535)");
  EXPECT_FALSE(decode(from_hex("81a368647281a570726f746fcfffffffffffffffff")).ok());
  EXPECT_TRUE(decode(from_hex("81a368647281a570726f746fce0000ffff")).ok());
}

TEST(EnvelopeErrors, ExtensionTypeInProps) {
  // props: {x: fixext1}
  std::string message = error_of(from_hex("81a368647282a570726f746f01a570726f707381a178d40100"));
  EXPECT_NE(message.find("extension"), std::string::npos) << message;
  EXPECT_NE(message.find("hdr.props.x"), std::string::npos) << message;
}

TEST(EnvelopeErrors, NonStringMapKeys) {
  std::string message = error_of(from_hex("81a368647282a570726f746f0101c0"));
  EXPECT_NE(message.find("map key is int, expected str"), std::string::npos) << message;
  message = error_of(from_hex("8190c0"));
  EXPECT_NE(message.find("map key is an array, expected str"), std::string::npos) << message;
}

TEST(EnvelopeErrors, DuplicateKeys) {
  std::string message = error_of(from_hex("82a368647281a570726f746f01a368647280"));
  EXPECT_NE(message.find("duplicate map key \"hdr\""), std::string::npos) << message;
}

TEST(EnvelopeErrors, EmptyInput) {
  EXPECT_FALSE(decode(Bytes{}).ok());
}

}  // namespace
}  // namespace tether::protocol
