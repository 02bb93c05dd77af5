// Writes the seed corpora under tests/fuzz/corpus/ (committed; rerun this after a
// schema changes): the wire.md vectors, one encoded sample of every body schema,
// and a few hostile shapes each decoder must refuse.
//   fuzz_make_seeds <tests/fuzz/corpus>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "protocol/command.hpp"
#include "protocol/config.hpp"
#include "protocol/control.hpp"
#include "protocol/filetransfer.hpp"
#include "protocol/message.hpp"
#include "protocol/monitoring.hpp"
#include "protocol/portforward.hpp"
#include "protocol/update.hpp"
#include "tests/unit/protocol/hex.hpp"

namespace {

using namespace tether::protocol;
using testing::from_hex;
namespace vectors = testing::vectors;

void write(const std::filesystem::path& dir, const std::string& name, const Bytes& bytes) {
  std::filesystem::create_directories(dir);
  std::ofstream file(dir / name, std::ios::binary | std::ios::trunc);
  file.write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_ROOT\n", argv[0]);
    return 2;
  }
  const std::filesystem::path root(argv[1]);

  const std::pair<const char*, std::string_view> envelopes[] = {
      {"shell-new", vectors::kShellNew},   {"shell-data", vectors::kShellData},
      {"shell-ping", vectors::kShellPing}, {"control-open", vectors::kControlOpen},
      {"file-chunk", vectors::kFileChunk}, {"shell-empty-body", vectors::kShellEmptyBody}};
  for (const auto& [name, hex] : envelopes) {
    write(root / "envelope", name, from_hex(hex));
    write(root / "value", name, from_hex(hex));
  }
  write(root / "envelope", "lenient-order-nil-str-body",
        from_hex("82a4626f6479a26c73a368647283a3747970c0a570726f746fd30000000000000001a3736964c0"));

  const Bytes control_open_body = ControlOpen{{1}}.encode();
  write(root / "control", "open", control_open_body);
  write(root / "control", "accept", from_hex(vectors::kControlAcceptBody));
  write(root / "control", "error", from_hex(vectors::kControlErrorBody));
  write(root / "control", "error-full",
        ControlError{"unknown typ", false, proto::kMonitoring, "bogus", "m-1"}.encode());

  write(root / "monitoring", "status",
        monitoring::Status{"online", "dev-1", "1.0", "boot", 42, Map{{"os", "debian"}}}.encode());
  write(root / "monitoring", "data",
        monitoring::DataRecord{1, 1700000000000, "temp", Map{{"c", 21.5}, {"n", Array{1, 2}}}}
            .encode());
  write(root / "monitoring", "alert",
        monitoring::AlertRecord{2, 1700000000001, "disk", "major", "raised", "disk full",
                                Map{{"used", 95}}}
            .encode());
  write(root / "monitoring", "dropped", monitoring::DroppedRecord{3, 5, 10, 19, 10}.encode());
  write(root / "monitoring", "ack", monitoring::Ack{3}.encode());

  write(root / "config", "set",
        ConfigSet{4, Map{{"a", 1}, {"b", nullptr}, {"c", Map{{"d", Array{"x"}}}}}, true}.encode());
  write(root / "config", "applied", ConfigApplied{4}.encode());
  write(root / "config", "current", ConfigCurrent{4, Map{{"a", 1}}}.encode());
  write(root / "config", "error", ConfigError{5, "values: not a map"}.encode());

  write(root / "update", "offer",
        UpdateOffer{"u-1", "2.0", "https://h/a.deb", 1024,
                    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                    Bytes{1, 2, 3}, true}
            .encode());
  write(root / "update", "progress", UpdateProgress{"u-1", "downloading", 40, "40%"}.encode());
  write(root / "update", "consent", UpdateConsent{"u-1", true}.encode());
  write(root / "update", "cancel", UpdateCancel{"u-1"}.encode());
  write(root / "update", "ack", UpdateAck{"u-1"}.encode());

  write(root / "command", "request",
        command::Request{"c-1", "valve", "open", Map{{"pct", 40}}, 30}.encode());
  write(root / "command", "result",
        command::ResultBody{"c-1", "ok", Map{{"opened", true}}, std::nullopt, 1700000000000}
            .encode());
  write(root / "command", "ack", command::Ack{"c-1"}.encode());
  write(root / "command", "targets", command::Targets{{"valve", "pump"}}.encode());

  write(
      root / "sessions", "file-info",
      filetransfer::FileInfo{"/data/a.txt", 4097, 1000, 1000, 0644, 1700000000123456789}.encode());
  write(root / "sessions", "path-request", filetransfer::PathRequest{"/data/a.txt"}.encode());
  write(root / "sessions", "put-file",
        filetransfer::UploadRequest{"a.txt", "/data/a.txt", 4097, 1000, 1000, 0644,
                                    1700000000123456789}
            .encode());
  write(root / "sessions", "transfer-error",
        filetransfer::TransferError{"file too large", "put_file"}.encode());
  write(root / "sessions", "forward-new",
        portforward::NewConnection{"127.0.0.1", 8080, "tcp"}.encode());

  // Hostile shapes, for the generic decoder: a depth bomb, huge claims, an extension.
  Bytes deep(40, 0x91);
  deep.push_back(0x90);
  write(root / "value", "depth-bomb", deep);
  write(root / "value", "huge-array-claim", from_hex("ddffffffff010203"));
  write(root / "value", "huge-str-claim", from_hex("dbffffffff616263"));
  write(root / "value", "extension", from_hex("81a16bd40100"));
  write(root / "value", "every-type",
        encode_value(Value(Array{nullptr, true, -1, std::uint64_t{1} << 63, 0.5, "s", Bytes{1},
                                 Map{{"k", Array{}}}})));
  return 0;
}
