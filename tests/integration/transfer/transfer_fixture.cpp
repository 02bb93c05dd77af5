#include "tests/integration/transfer/transfer_fixture.hpp"

#include <algorithm>
#include <fstream>
#include <iterator>

#include "protocol/codec.hpp"
#include "protocol/control.hpp"

namespace tether::test {

namespace ft = protocol::filetransfer;
using protocol::proto::kFileTransfer;

void TransferTest::SetUp() {
  DaemonTest::SetUp();
  root_ = dir_.path() / "root";
  std::filesystem::create_directories(root_);
}

void TransferTest::start(const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"--filetransfer.enabled=true",
                                   "--filetransfer.root=" + root_.string(),
                                   "--filetransfer.idle-timeout=10", "--portforward.enabled=true",
                                   "--menderclient.enabled=true"};
  args.insert(args.end(), extra.begin(), extra.end());
  start_daemon(args);
  expect_connection();
}

std::optional<protocol::ProtoMsg> TransferTest::next(std::uint16_t proto, const std::string& sid,
                                                     std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto msg = server_->receive_message(100ms);
    if (msg && msg->hdr.proto == proto && msg->hdr.sid == sid) return msg;
  }
  return std::nullopt;
}

std::optional<protocol::ProtoMsg> TransferTest::open_session(const std::string& sid,
                                                             std::uint64_t version) {
  protocol::ControlOpen open;
  open.versions = {version};
  if (!server_->send(protocol::make_msg(protocol::proto::kControl, "open", sid, {}, open.encode())))
    return std::nullopt;
  return next(protocol::proto::kControl, sid);
}

bool TransferTest::send_ft(const std::string& typ, const std::string& sid, protocol::Bytes body,
                           protocol::Map props) {
  return server_->send(
      protocol::make_msg(kFileTransfer, typ, sid, std::move(props), std::move(body)));
}

std::string TransferTest::error_text(const protocol::ProtoMsg& msg) {
  auto error = ft::TransferError::decode(msg.body);
  return error ? error->err : "(undecodable error: " + error.error().message() + ")";
}

protocol::Bytes TransferTest::download(const std::string& sid, const std::string& path,
                                       std::string& error) {
  protocol::Bytes data;
  error.clear();
  if (!send_ft("get_file", sid, ft::PathRequest{path}.encode())) {
    error = "not sent";
    return data;
  }
  std::size_t chunks = 0;
  for (;;) {
    auto msg = next(kFileTransfer, sid);
    if (!msg) {
      error = "timed out after " + std::to_string(data.size()) + " bytes";
      return data;
    }
    if (msg->hdr.typ == "error") {
      error = error_text(*msg);
      return data;
    }
    if (msg->hdr.typ != "file_chunk") {
      error = "unexpected " + msg->hdr.typ;
      return data;
    }
    const auto offset = msg->hdr.prop_int("offset");
    if (!offset || *offset != static_cast<std::int64_t>(data.size())) {
      error = "chunk at a wrong offset";
      return data;
    }
    const auto total = static_cast<std::int64_t>(data.size());
    if (msg->body.empty()) {
      send_ft("ack", sid, {}, {{"offset", total}});
      return data;
    }
    if (msg->body.size() > ft::kChunkSize) {
      error = "chunk larger than 4096 bytes";
      return data;
    }
    data.insert(data.end(), msg->body.begin(), msg->body.end());
    if (++chunks % 10 == 0)
      send_ft("ack", sid, {}, {{"offset", static_cast<std::int64_t>(data.size())}});
  }
}

std::string TransferTest::upload(const std::string& sid, const ft::UploadRequest& request,
                                 const protocol::Bytes& data, std::int64_t stop_after) {
  if (!send_ft("put_file", sid, request.encode())) return "not sent";
  auto first = next(kFileTransfer, sid);
  if (!first) return "no reply to put_file";
  if (first->hdr.typ == "error") return error_text(*first);
  if (first->hdr.typ != "ack" || first->hdr.prop_int("offset") != 0)
    return "expected ack 0, got " + first->hdr.typ;
  std::int64_t sent = 0;
  std::int64_t acked = 0;
  const auto total = static_cast<std::int64_t>(data.size());
  auto wait_ack = [&]() -> std::string {
    auto msg = next(kFileTransfer, sid);
    if (!msg) return "no ack";
    if (msg->hdr.typ == "error") return error_text(*msg);
    if (msg->hdr.typ != "ack") return "expected ack, got " + msg->hdr.typ;
    auto offset = msg->hdr.prop_int("offset");
    if (!offset) return "ack without offset";
    acked = *offset;
    return {};
  };
  while (sent < total) {
    if (stop_after > 0 && sent >= stop_after) return "stopped";
    while (sent - acked > static_cast<std::int64_t>(ft::kWindowBytes)) {
      if (auto e = wait_ack(); !e.empty()) return e;
    }
    const auto n = std::min<std::int64_t>(static_cast<std::int64_t>(ft::kChunkSize), total - sent);
    const auto from = data.begin() + sent;
    send_ft("file_chunk", sid, protocol::Bytes(from, from + n), {{"offset", sent}});
    sent += n;
  }
  send_ft("file_chunk", sid, {}, {{"offset", sent}});
  // The final ack echoes the EOF chunk: its offset is the total (every earlier ack
  // names a data chunk's start, below the total).
  do {
    if (auto e = wait_ack(); !e.empty()) return e;
  } while (acked != total);
  return {};
}

protocol::Bytes pattern(std::size_t size, std::uint32_t seed) {
  protocol::Bytes out(size);
  std::uint32_t x = seed * 2654435761U + 1;
  for (auto& b : out) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    b = static_cast<std::uint8_t>(x);
  }
  return out;
}

protocol::Bytes read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return protocol::Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_file(const std::filesystem::path& path, const protocol::Bytes& data) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
}

std::vector<std::string> list_dir(const std::filesystem::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir))
    names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace tether::test
