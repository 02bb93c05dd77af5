// `tether-hub cp`: one file to or from a device over a routed file transfer
// session (proto 2, sessions.md section 1), speaking as Mender's deviceconnect
// does, so the device cannot tell the CLI from a Mender server:
//
// - download: `stat` (a directory or special file is refused here), `get_file`,
//   then `file_chunk`s at increasing int64 offsets, an `ack` with the byte count
//   every 10 chunks and once after the EOF chunk. The bytes go to a temporary file
//   next to the target, renamed over it only once the EOF chunk is in; any failure
//   removes it, so no partial file is ever at the target path.
// - upload: `put_file` {src_path, path, size, mode}, the device's `ack` 0, then
//   4096-byte `file_chunk`s with at most 20 of them (81920 bytes) beyond the last
//   ack, the empty EOF chunk, and the device's final ack (offset = total).
//
// Memory stays bounded by one 4096-byte chunk plus the window, whatever the size
// of the file: it is read and written a chunk at a time. Local file I/O runs on
// the loop: this process does nothing else while it copies.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "daemon/loop/event_loop.hpp"
#include "hub/cli/cli_options.hpp"
#include "hub/cli/routed_session.hpp"

namespace tether::hub::cli {

class FileCopy {
 public:
  // `umask` applies to the mode of a downloaded file; `done` gets the outcome.
  FileCopy(daemon::EventLoop& loop, const HubAccess& hub, CopyCommand command, unsigned umask,
           std::function<void(const Status&)> done);
  ~FileCopy();
  FileCopy(const FileCopy&) = delete;
  FileCopy& operator=(const FileCopy&) = delete;

  Status start();

 private:
  enum class Step { kOpening, kStat, kDownload, kUploadWaitFirstAck, kUpload, kDone };

  void on_ready();
  void on_message(const protocol::ProtoMsg& msg);
  void on_file_info(const protocol::ProtoMsg& msg);
  void on_chunk(const protocol::ProtoMsg& msg);
  void on_upload_ack(const protocol::ProtoMsg& msg);
  void begin_upload();
  void pump_upload();
  void fail(const Error& error);
  void succeed();
  void remove_temp();
  std::string remote_name() const;

  CopyCommand command_;
  unsigned umask_;
  std::function<void(const Status&)> done_;
  RoutedSession session_;
  Step step_ = Step::kOpening;
  int fd_ = -1;
  std::string temp_path_;
  std::string target_path_;
  std::uint32_t remote_mode_ = 0;
  std::int64_t offset_ = 0;  // bytes received (download) or sent (upload)
  std::int64_t acked_ = 0;
  std::uint64_t chunks_ = 0;
  bool eof_sent_ = false;
};

}  // namespace tether::hub::cli
