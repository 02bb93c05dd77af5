// Wire vectors and hostile input for protocols 2, 3 and 4 (spec/sessions.md,
// wire.md section 2): what the Go peer writes, byte for byte, and clear errors for
// garbage, truncation and wrong types.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "protocol/codec.hpp"
#include "protocol/control.hpp"
#include "protocol/filetransfer.hpp"
#include "protocol/message.hpp"
#include "protocol/portforward.hpp"
#include "tests/unit/protocol/hex.hpp"

namespace tether::protocol {
namespace {

namespace ft = filetransfer;
namespace pf = portforward;
using testing::from_hex;
using testing::to_hex;

TEST(FileTransferWire, FileChunkVector) {
  const auto msg = make_msg(proto::kFileTransfer, "file_chunk", "s1",
                            Map{{"offset", std::int64_t{5}}}, Bytes{'a', 'b', 'c'});
  EXPECT_EQ(to_hex(encode(msg)),
            "82a368647284a570726f746fcd0002a3747970aa66696c655f6368756e6ba3736964a27331a570726f70"
            "7381a66f6666736574d30000000000000005a4626f6479c403616263");
}

TEST(FileTransferWire, EofChunkHasNoBodyKeyAndInt64Offset) {
  const auto msg = make_msg(proto::kFileTransfer, "file_chunk", "s1", Map{{"offset", 0}});
  const std::string hex = to_hex(encode(msg));
  EXPECT_EQ(hex.find("a4626f6479"), std::string::npos) << hex;  // no "body" key
  EXPECT_NE(hex.find("a66f6666736574d30000000000000000"), std::string::npos) << hex;
}

TEST(FileTransferWire, AcceptVector) {
  ControlAccept accept;
  accept.protocols = {1, 2, 3, 4};
  EXPECT_EQ(to_hex(accept.encode()),
            "82a776657273696f6e01a970726f746f636f6c7394cd0001cd0002cd0003cd0004");
}

TEST(FileTransferWire, GoFileModeBits) {
  EXPECT_EQ(ft::go_file_mode(S_IFREG | 0644), 420u);
  EXPECT_EQ(ft::go_file_mode(S_IFDIR | 0755), (1u << 31) | 0755u);
  EXPECT_EQ(ft::go_file_mode(S_IFLNK | 0777), (1u << 27) | 0777u);
  EXPECT_EQ(ft::go_file_mode(S_IFBLK | 0600), (1u << 26) | 0600u);
  EXPECT_EQ(ft::go_file_mode(S_IFCHR | 0600), (1u << 26) | (1u << 21) | 0600u);
  EXPECT_EQ(ft::go_file_mode(S_IFIFO | 0600), (1u << 25) | 0600u);
  EXPECT_EQ(ft::go_file_mode(S_IFSOCK | 0600), (1u << 24) | 0600u);
  EXPECT_EQ(ft::go_file_mode(S_IFREG | S_ISUID | 0755), (1u << 23) | 0755u);
  EXPECT_EQ(ft::go_file_mode(S_IFREG | S_ISGID | 0755), (1u << 22) | 0755u);
  EXPECT_EQ(ft::go_file_mode(S_IFDIR | S_ISVTX | 0777), (1u << 31) | (1u << 20) | 0777u);
}

TEST(FileTransferWire, FileInfoAsGoWritesIt) {
  ft::FileInfo info{"/a", 3, 0, 0, 420, 1'000'000'000};
  // {path, size:int64, uid:uint32, gid:uint32, mode:uint32, modtime: timestamp32(1)},
  // each integer in the fixed width of its Go type, as vmihailenco/msgpack writes it.
  EXPECT_EQ(to_hex(info.encode()),
            "86a470617468a22f61a473697a65d30000000000000003a3756964ce00000000a3676964ce00000000a46d"
            "6f6465ce000001a4a76d6f6474696d65d6ff00000001");
  auto back = ft::FileInfo::decode(info.encode());
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(*back, info);
}

TEST(FileTransferWire, TimestampsInAllThreeForms) {
  for (std::int64_t ns : {std::int64_t{0}, std::int64_t{1'700'000'000'000'000'000},
                          std::int64_t{1'700'000'000'123'456'789}, std::int64_t{-5'000'000'001}}) {
    ft::FileInfo info{"/x", 0, 1, 2, 3, ns};
    auto back = ft::FileInfo::decode(info.encode());
    ASSERT_TRUE(back.ok()) << back.error().message();
    EXPECT_EQ(back->modtime_ns, ns);
  }
  // One second and one nanosecond: the 64-bit form (nanoseconds << 34 | seconds).
  const std::string hex = to_hex(ft::FileInfo{"", 0, 0, 0, 0, 1'000'000'001}.encode());
  EXPECT_NE(hex.find("d7ff0000000400000001"), std::string::npos) << hex;
  // Other extension types stay refused; a timestamp of a bad length too.
  EXPECT_FALSE(decode_value(from_hex("d40100")).ok());
  EXPECT_FALSE(decode_value(from_hex("d5ff0000")).ok());
  // 96-bit form with nanoseconds >= 1e9.
  EXPECT_FALSE(decode_value(from_hex("c70cff3b9aca000000000000000000")).ok());
}

TEST(FileTransferWire, UploadRequestRoundTripAndDefaults) {
  ft::UploadRequest request;
  request.path = "/tmp/x";
  request.mode = 0600;
  request.uid = 7;
  auto back = ft::UploadRequest::decode(request.encode());
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(back->path, "/tmp/x");
  EXPECT_EQ(back->mode, 0600u);
  EXPECT_EQ(back->uid, 7u);
  EXPECT_FALSE(back->gid.has_value());
  EXPECT_FALSE(back->src_path.has_value());
}

TEST(FileTransferWire, GarbageTruncationAndWrongTypesAreClearErrors) {
  auto message = [](const Bytes& body) {
    auto r = ft::UploadRequest::decode(body);
    return r.ok() ? std::string("ok") : r.error().message();
  };
  EXPECT_NE(message(from_hex("ff00")).find("malformed request parameters"), std::string::npos);
  EXPECT_NE(message({}).find("missing"), std::string::npos);
  // Truncated map: claims 2 entries, holds 1.
  EXPECT_NE(message(from_hex("82a470617468a12f")).find("malformed"), std::string::npos);
  // path as an int; mode as a string; uid out of uint32.
  EXPECT_NE(message(encode_value(Value(Map{{"path", 5}}))).find("path"), std::string::npos);
  EXPECT_NE(message(encode_value(Value(Map{{"path", "/a"}, {"mode", "644"}}))).find("mode"),
            std::string::npos);
  EXPECT_NE(
      message(encode_value(Value(Map{{"path", "/a"}, {"uid", std::int64_t{1} << 40}}))).find("uid"),
      std::string::npos);
  // An array body.
  EXPECT_NE(message(encode_value(Value(Array{1}))).find("map"), std::string::npos);
  auto stat = ft::PathRequest::decode(encode_value(Value(Map{{"path", Array{}}})));
  ASSERT_FALSE(stat.ok());
  EXPECT_NE(stat.error().message().find("path"), std::string::npos);
}

TEST(PortForwardWire, NewConnectionNeedsAllFields) {
  pf::NewConnection c{"localhost", 8080, "tcp"};
  auto back = pf::NewConnection::decode(c.encode());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->remote_host, "localhost");
  EXPECT_EQ(back->remote_port, 8080);
  EXPECT_FALSE(pf::NewConnection::decode(encode_value(Value(Map{{"remote_host", "h"}}))).ok());
  auto big = pf::NewConnection::decode(
      encode_value(Value(Map{{"remote_host", "h"}, {"remote_port", 70000}, {"protocol", "tcp"}})));
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.error().message().find("65535"), std::string::npos);
  EXPECT_FALSE(pf::NewConnection::decode(from_hex("83")).ok());
}

}  // namespace
}  // namespace tether::protocol
