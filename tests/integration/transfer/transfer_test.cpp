// File transfer (proto 2) and the routed-session handshake inside the real tetherd.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "protocol/codec.hpp"
#include "protocol/control.hpp"
#include "tests/integration/transfer/transfer_fixture.hpp"
#include "tests/support/body_fields.hpp"

namespace tether::test {
namespace {

namespace ft = protocol::filetransfer;
using protocol::proto::kFileTransfer;
namespace fs = std::filesystem;

ft::UploadRequest put(const fs::path& path) {
  ft::UploadRequest request;
  request.path = path.string();
  return request;
}

// Waits until `dir` holds exactly `names` (temporary files removed off the loop).
bool dir_becomes(const fs::path& dir, const std::vector<std::string>& names) {
  for (int i = 0; i < 100; ++i) {
    if (list_dir(dir) == names) return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

TEST_F(TransferTest, AcceptListsEnabledProtocolsAndRefusesOtherVersions) {
  start({"--shell.enabled=true"});
  auto accept = open_session("s1");
  ASSERT_TRUE(accept.has_value());
  ASSERT_EQ(accept->hdr.typ, "accept");
  auto body = protocol::ControlAccept::decode(accept->body);
  ASSERT_TRUE(body.ok()) << body.error().message();
  EXPECT_EQ(body->version, 1u);
  auto protocols = body->protocols;
  std::sort(protocols.begin(), protocols.end());
  EXPECT_EQ(protocols, (std::vector<std::uint16_t>{1, 2, 3, 4}));

  auto refused = open_session("s2", 2);
  ASSERT_TRUE(refused.has_value());
  ASSERT_EQ(refused->hdr.typ, "error");
  auto error = protocol::ControlError::decode(refused->body);
  ASSERT_TRUE(error.ok());
  EXPECT_EQ(error->err, "handshake rejected: require version 1");
  EXPECT_TRUE(error->close);

  // Per-session control ping.
  ASSERT_TRUE(server_->send(protocol::make_msg(protocol::proto::kControl, "ping", "s1")));
  auto pong = next(protocol::proto::kControl, "s1");
  ASSERT_TRUE(pong.has_value());
  EXPECT_EQ(pong->hdr.typ, "pong");
}

TEST_F(TransferTest, DisabledProtocolsAreNotListed) {
  start({"--portforward.enabled=false", "--menderclient.enabled=false"});
  auto accept = open_session("s1");
  ASSERT_TRUE(accept.has_value());
  auto body = protocol::ControlAccept::decode(accept->body);
  ASSERT_TRUE(body.ok());
  EXPECT_EQ(body->protocols, (std::vector<std::uint16_t>{2}));
}

TEST_F(TransferTest, StatAnswersFileInfoWithGoModeBits) {
  start();
  write_file(root_ / "a.txt", pattern(10));
  ::chmod((root_ / "a.txt").c_str(), 0644);
  ASSERT_TRUE(send_ft("stat", "s1", ft::PathRequest{(root_ / "a.txt").string()}.encode(),
                      {{"user_id", "u1"}}));
  auto reply = next(kFileTransfer, "s1");
  ASSERT_TRUE(reply.has_value());
  ASSERT_EQ(reply->hdr.typ, "file_info") << error_text(*reply);
  auto info = ft::FileInfo::decode(reply->body);
  ASSERT_TRUE(info.ok()) << info.error().message();
  EXPECT_EQ(info->path, (root_ / "a.txt").string());
  EXPECT_EQ(info->size, 10);
  EXPECT_EQ(info->mode, 420u);
  EXPECT_EQ(info->uid, ::getuid());
  struct stat st {};
  ::stat((root_ / "a.txt").c_str(), &st);
  EXPECT_EQ(info->modtime_ns, st.st_mtim.tv_sec * 1'000'000'000LL + st.st_mtim.tv_nsec);

  ASSERT_TRUE(send_ft("stat", "s1", ft::PathRequest{root_.string()}.encode()));
  reply = next(kFileTransfer, "s1");
  ASSERT_TRUE(reply.has_value());
  info = ft::FileInfo::decode(reply->body);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->mode & ft::mode::kDir, ft::mode::kDir);

  ASSERT_TRUE(send_ft("stat", "s1", ft::PathRequest{(root_ / "missing").string()}.encode(),
                      {{"user_id", "u1"}}));
  reply = next(kFileTransfer, "s1");
  ASSERT_TRUE(reply.has_value());
  ASSERT_EQ(reply->hdr.typ, "error");
  // The request's header comes back, props included; body {err, msgtype}.
  EXPECT_EQ(reply->hdr.prop_str("user_id"), "u1");
  auto body = protocol::decode_value(reply->body);
  ASSERT_TRUE(body.ok());
  EXPECT_EQ(str_field(*body, "msgtype"), "stat");
  EXPECT_NE(str_field(*body, "err").value_or("").find("No such file"), std::string::npos);
}

TEST_F(TransferTest, RoundTripsAreByteIdenticalBothWays) {
  start();
  // 50 MB runs in a few seconds over loopback TLS in an optimised build; under the
  // sanitizers (ten times slower) the large file is 8 MB.
#ifdef __SANITIZE_ADDRESS__
  constexpr std::size_t kLarge = 8 * 1000 * 1000;
#else
  constexpr std::size_t kLarge = 50 * 1000 * 1000;
#endif
  const std::vector<std::size_t> sizes = {0, 1, 4096, 4097, 81920, 81921, kLarge};
  int n = 0;
  for (std::size_t size : sizes) {
    SCOPED_TRACE("size " + std::to_string(size));
    const auto data = pattern(size, static_cast<std::uint32_t>(size + 7));
    const fs::path up = root_ / ("up" + std::to_string(n));
    const std::string sid = "sid-" + std::to_string(n++);
    ASSERT_EQ(upload(sid, put(up), data), "");
    EXPECT_TRUE(read_file(up) == data);
    std::string error;
    auto back = download(sid, up.string(), error);
    ASSERT_EQ(error, "");
    EXPECT_TRUE(back == data) << back.size();
  }
  // Nothing but the targets is left behind.
  EXPECT_EQ(list_dir(root_).size(), sizes.size());
}

TEST_F(TransferTest, UploadKeepsModeOwnerAndGroup) {
  start();
  auto request = put(root_ / "owned");
  request.mode = 0640;
  request.uid = 1234;
  request.gid = 2345;
  ASSERT_EQ(upload("s1", request, pattern(5000)), "");
  struct stat st {};
  ASSERT_EQ(::stat((root_ / "owned").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_EQ(st.st_uid, 1234u);
  EXPECT_EQ(st.st_gid, 2345u);
  // Defaults: 0644 and the daemon's own user.
  ASSERT_EQ(upload("s2", put(root_ / "plain"), pattern(3)), "");
  ASSERT_EQ(::stat((root_ / "plain").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);
  EXPECT_EQ(st.st_uid, ::getuid());
}

TEST_F(TransferTest, UploadIntoADirectoryTakesTheSourceName) {
  start();
  fs::create_directories(root_ / "d");
  auto request = put(root_ / "d");
  request.src_path = "/home/op/report.csv";
  ASSERT_EQ(upload("s1", request, pattern(10)), "");
  EXPECT_TRUE(read_file(root_ / "d" / "report.csv") == pattern(10));
  EXPECT_EQ(upload("s2", put(root_ / "d"), pattern(10)),
            "conflicting file path: cannot overwrite directory");
}

TEST_F(TransferTest, PathsCannotEscapeTheRoot) {
  const fs::path outside = dir_.path() / "outside";
  fs::create_directories(outside);
  write_file(outside / "secret", pattern(100));
  fs::create_directories(root_ / "sub");
  fs::create_directory_symlink(outside, root_ / "sub" / "link-dir");
  fs::create_symlink(outside / "secret", root_ / "link-file");
  fs::create_symlink(root_ / "inside-target", root_ / "link-inside");
  write_file(root_ / "inside-target", pattern(7));
  start();

  const std::string dotdot = (root_ / "sub" / ".." / ".." / "outside" / "secret").string();
  for (const std::string& path : {dotdot, (root_ / "sub" / "link-dir" / "secret").string(),
                                  (root_ / "link-file").string(), std::string("/etc/hostname")}) {
    SCOPED_TRACE(path);
    std::string error;
    download("d", path, error);
    EXPECT_NE(error.find("outside filetransfer.root"), std::string::npos) << error;
    ASSERT_TRUE(send_ft("stat", "d", ft::PathRequest{path}.encode()));
    auto reply = next(kFileTransfer, "d");
    ASSERT_TRUE(reply.has_value());
    EXPECT_EQ(reply->hdr.typ, "error");
  }
  for (const fs::path& target : {root_ / "sub" / ".." / ".." / "outside" / "new",
                                 root_ / "sub" / "link-dir" / "new", root_ / "link-file"}) {
    SCOPED_TRACE(target.string());
    EXPECT_NE(upload("u", put(target), pattern(10)).find("outside filetransfer.root"),
              std::string::npos);
  }
  EXPECT_EQ(list_dir(outside), std::vector<std::string>{"secret"});
  EXPECT_TRUE(read_file(outside / "secret") == pattern(100));
  // A symlink that stays inside the root is followed.
  std::string error;
  EXPECT_TRUE(download("d", (root_ / "link-inside").string(), error) == pattern(7));
  EXPECT_EQ(error, "");
  // Relative paths are refused.
  download("d", "root/x", error);
  EXPECT_NE(error.find("must be absolute"), std::string::npos) << error;
}

TEST_F(TransferTest, SizeLimitBothWays) {
  start({"--filetransfer.max-file-size=10000"});
  write_file(root_ / "big", pattern(10001));
  std::string error;
  download("s1", (root_ / "big").string(), error);
  EXPECT_NE(error.find("max-file-size"), std::string::npos) << error;
  // Declared size too large: refused before anything is written.
  auto request = put(root_ / "declared");
  request.size = 20000;
  EXPECT_NE(upload("s2", request, pattern(20000)).find("max-file-size"), std::string::npos);
  // Undeclared: refused once the bytes pass the limit; nothing left behind.
  EXPECT_NE(upload("s3", put(root_ / "streamed"), pattern(20000)).find("max-file-size"),
            std::string::npos);
  EXPECT_TRUE(dir_becomes(root_, {"big"}));
  // At the limit is fine.
  EXPECT_EQ(upload("s4", put(root_ / "exact"), pattern(10000)), "");
}

TEST_F(TransferTest, OverwriteRefusedWhenDisallowed) {
  start({"--filetransfer.allow-overwrite=false"});
  write_file(root_ / "existing", pattern(5));
  EXPECT_NE(upload("s1", put(root_ / "existing"), pattern(50)).find("allow-overwrite"),
            std::string::npos);
  EXPECT_TRUE(read_file(root_ / "existing") == pattern(5));
  EXPECT_EQ(upload("s2", put(root_ / "fresh"), pattern(50)), "");
}

TEST_F(TransferTest, IrregularTargetsAreRefused) {
  start();
  ASSERT_EQ(::mkfifo((root_ / "fifo").c_str(), 0600), 0);
  EXPECT_EQ(upload("s1", put(root_ / "fifo"), pattern(5)),
            "conflicting file path: cannot overwrite irregular file");
  std::string error;
  download("s2", (root_ / "fifo").string(), error);
  EXPECT_NE(error.find("not a regular file"), std::string::npos) << error;
  download("s3", root_.string(), error);
  EXPECT_NE(error.find("not a regular file"), std::string::npos) << error;
}

TEST_F(TransferTest, OneTransferPerSidAndStrayMessages) {
  start();
  // Stray ack and chunk with nothing in progress.
  ASSERT_TRUE(send_ft("ack", "s1", {}, {{"offset", std::int64_t{0}}}));
  auto reply = next(kFileTransfer, "s1");
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(error_text(*reply), "no file transfer in progress");
  ASSERT_TRUE(send_ft("file_chunk", "s1", {1}, {{"offset", std::int64_t{0}}}));
  reply = next(kFileTransfer, "s1");
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(error_text(*reply), "no file transfer in progress");

  ASSERT_TRUE(send_ft("put_file", "s1", put(root_ / "x").encode()));
  reply = next(kFileTransfer, "s1");
  ASSERT_TRUE(reply.has_value());
  ASSERT_EQ(reply->hdr.typ, "ack");
  ASSERT_TRUE(send_ft("get_file", "s1", ft::PathRequest{(root_ / "x").string()}.encode()));
  reply = next(kFileTransfer, "s1");
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(error_text(*reply), "another file transfer is in progress");
  // A chunk at the wrong offset ends the upload; its temporary file goes.
  ASSERT_TRUE(send_ft("file_chunk", "s1", {1, 2}, {{"offset", std::int64_t{5}}}));
  reply = next(kFileTransfer, "s1");
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(error_text(*reply), "received unexpected chunk offset");
  EXPECT_TRUE(dir_becomes(root_, {}));
  // A chunk without an offset.
  ASSERT_TRUE(send_ft("put_file", "s1", put(root_ / "y").encode()));
  ASSERT_EQ(next(kFileTransfer, "s1")->hdr.typ, "ack");
  ASSERT_TRUE(send_ft("file_chunk", "s1", {1}));
  reply = next(kFileTransfer, "s1");
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(error_text(*reply), "invalid file chunk message: missing offset property");
  EXPECT_TRUE(dir_becomes(root_, {}));
}

TEST_F(TransferTest, BadBodiesGetClearErrors) {
  start();
  struct Case {
    std::string typ;
    protocol::Bytes body;
    std::string expect;
  };
  const std::vector<Case> cases = {
      {"stat", {0xc1}, "malformed request parameters"},
      {"stat", {}, "malformed request parameters"},
      {"get_file", {0x82, 0xa4, 'p', 'a', 't', 'h'}, "malformed request parameters"},
      {"put_file", protocol::encode_value(protocol::Value(protocol::Map{{"path", 1}})), "path"},
      {"put_file",
       protocol::encode_value(protocol::Value(protocol::Map{{"path", "/x"}, {"mode", "rw"}})),
       "mode"},
      {"stat", protocol::encode_value(protocol::Value(protocol::Map{{"path", ""}})),
       "cannot be blank"},
      {"stat",
       protocol::encode_value(protocol::Value(protocol::Map{{"path", std::string(5000, 'a')}})),
       "must be absolute"},
      {"frobnicate", {}, "not supported"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.typ + " -> " + c.expect);
    ASSERT_TRUE(send_ft(c.typ, "s1", c.body));
    auto reply = next(kFileTransfer, "s1");
    ASSERT_TRUE(reply.has_value());
    ASSERT_EQ(reply->hdr.typ, "error");
    EXPECT_NE(error_text(*reply).find(c.expect), std::string::npos) << error_text(*reply);
  }
  // The link survived all of it.
  EXPECT_EQ(server_->connection_count(), 1);
}

TEST_F(TransferTest, LinkCutMidUploadLeavesNoFile) {
  start();
  const auto data = pattern(400 * 1024);
  EXPECT_EQ(upload("s1", put(root_ / "cut"), data, 200 * 1024), "stopped");
  // The temporary file exists while the upload runs ...
  EXPECT_EQ(list_dir(root_).size(), 1u);
  server_->stop();
  // ... and is removed when the link drops; no file appears at the target.
  EXPECT_TRUE(dir_becomes(root_, {}));
  EXPECT_TRUE(daemon_->wait_for_output("outcome=\"link lost\"", 5s).has_value());
}

TEST_F(TransferTest, ControlCloseAndIdleTimeoutEndAnUpload) {
  start({"--filetransfer.idle-timeout=0.5"});
  EXPECT_EQ(upload("s1", put(root_ / "closed"), pattern(50000), 8192), "stopped");
  ASSERT_TRUE(server_->send(protocol::make_msg(protocol::proto::kControl, "close", "s1")));
  EXPECT_TRUE(dir_becomes(root_, {}));

  EXPECT_EQ(upload("s2", put(root_ / "idle"), pattern(50000), 8192), "stopped");
  // Acks of the chunks sent may come first.
  auto reply = next(kFileTransfer, "s2");
  while (reply && reply->hdr.typ == "ack") reply = next(kFileTransfer, "s2");
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(error_text(*reply), "file transfer timed out");
  EXPECT_TRUE(dir_becomes(root_, {}));
}

TEST_F(TransferTest, PeerErrorAbortsADownloadSilently) {
  start();
  write_file(root_ / "f", pattern(500000));
  ASSERT_TRUE(send_ft("get_file", "s1", ft::PathRequest{(root_ / "f").string()}.encode()));
  auto chunk = next(kFileTransfer, "s1");
  ASSERT_TRUE(chunk.has_value());
  ASSERT_EQ(chunk->hdr.typ, "file_chunk");
  ASSERT_TRUE(send_ft("error", "s1", ft::TransferError{"client gave up", "file_chunk"}.encode()));
  EXPECT_TRUE(daemon_->wait_for_output("client gave up", 5s).has_value());
  // Chunks sent before the abort may still be on their way; nothing follows them.
  while (next(kFileTransfer, "s1", 500ms)) {
  }
  // The sid is free again.
  std::string error;
  write_file(root_ / "g", pattern(3));
  EXPECT_TRUE(download("s1", (root_ / "g").string(), error) == pattern(3)) << error;
}

// Mender client (proto 4): the configured client command runs; status 1 or 2.
TEST_F(TransferTest, MenderClientRunsTheClientCommand) {
  const fs::path marker = dir_.path() / "ran";
  const fs::path client =
      dir_.write("mender-update",
                 "#!/bin/sh\necho \"$1\" >> " + marker.string() +
                     "\n[ \"$1\" = send-inventory ] && { echo no daemon; exit 3; }\nexit 0\n");
  ::chmod(client.c_str(), 0755);
  start({"--menderclient.client=" + client.string()});
  ASSERT_TRUE(server_->send(
      protocol::make_msg(protocol::proto::kClient, "check-update", "", {{"user_id", "u1"}})));
  auto reply = next(protocol::proto::kClient, "");
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->hdr.typ, "check-update");
  EXPECT_EQ(reply->hdr.prop_int("status"), 1);
  EXPECT_TRUE(reply->body.empty());

  ASSERT_TRUE(server_->send(protocol::make_msg(protocol::proto::kClient, "send-inventory", "")));
  reply = next(protocol::proto::kClient, "");
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->hdr.typ, "send-inventory");
  EXPECT_EQ(reply->hdr.prop_int("status"), 2);
  const std::string text(reply->body.begin(), reply->body.end());
  EXPECT_NE(text.find("status 3"), std::string::npos) << text;
  EXPECT_NE(text.find("no daemon"), std::string::npos) << text;
  const auto ran = read_file(marker);
  EXPECT_EQ(std::string(ran.begin(), ran.end()), "check-update\nsend-inventory\n");

  ASSERT_TRUE(server_->send(protocol::make_msg(protocol::proto::kClient, "reboot", "")));
  reply = next(protocol::proto::kClient, "");
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->hdr.prop_int("status"), 2);
  EXPECT_EQ(std::string(reply->body.begin(), reply->body.end()), "unknown message type");
}

TEST_F(TransferTest, MenderClientMissingIsStatus2) {
  start({"--menderclient.client=/nonexistent/mender-update"});
  ASSERT_TRUE(server_->send(protocol::make_msg(protocol::proto::kClient, "check-update", "")));
  auto reply = next(protocol::proto::kClient, "");
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->hdr.prop_int("status"), 2);
  EXPECT_NE(std::string(reply->body.begin(), reply->body.end()).find("cannot start"),
            std::string::npos);
}

TEST_F(TransferTest, BadOptionsAreNamed) {
  auto result = run_to_completion(
      TETHERD_PATH,
      {"--check-config", "--server.url=wss://x", "--filetransfer.root=/nonexistent-dir",
       "--filetransfer.max-file-size=-1", "--portforward.allow=nohostport",
       "--portforward.max-connections=0", "--filetransfer.idle-timeout=abc"},
      10s);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->exit_status, 2);
  for (const char* option : {"filetransfer.root", "filetransfer.max-file-size", "portforward.allow",
                             "portforward.max-connections", "filetransfer.idle-timeout"}) {
    EXPECT_NE(result->output.find(option), std::string::npos) << option << "\n" << result->output;
  }
}

}  // namespace
}  // namespace tether::test
