// The file transfer protocol handler (proto 0x0002, spec/sessions.md section 1),
// byte-compatible with mender-connect: `stat` answers `file_info`, `get_file`
// streams `file_chunk`s within Mender's ack window and ends with an empty chunk,
// `put_file` receives chunks into a temporary file that is renamed onto the target
// once complete. One transfer per sid at a time.
//
// What Mender lacks: every path is resolved for real under filetransfer.root
// (RootedFiles), sizes are capped both ways, overwriting can be refused, and a
// transfer that ends early (error, control close, idle timeout, link loss) leaves
// no file at the target path: its temporary file is removed.
//
// Every refusal is a file transfer `error` (the request's header with typ `error`,
// body {err, msgtype}); the plugin never drops the link over a bad message. Disk
// work runs on the loop's worker threads; the loop only moves chunks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "daemon/plugin_api/plugin_context.hpp"
#include "daemon/plugin_api/protocol_handler.hpp"
#include "plugins/filetransfer/filetransfer_options.hpp"
#include "plugins/filetransfer/rooted_files.hpp"

namespace tether::plugins::filetransfer {

class FileTransferPlugin final : public daemon::ProtocolHandler {
 public:
  FileTransferPlugin(const daemon::PluginContext& context, const FileTransferOptions& options,
                     RootedFiles files);
  // Removes the temporary files of uploads still in progress.
  ~FileTransferPlugin() override;
  FileTransferPlugin(const FileTransferPlugin&) = delete;
  FileTransferPlugin& operator=(const FileTransferPlugin&) = delete;

  Status on_message(const protocol::ProtoMsg& msg) override;
  void on_disconnected() override;
  void on_session_closed(std::string_view sid) override;
  void on_shutdown() override;

  // Transfers in progress (for tests).
  std::size_t transfer_count() const { return transfers_.size(); }

  // Transfers in progress at once, over all sids; stat requests waiting for the disk.
  static constexpr std::size_t kMaxTransfers = 32;
  static constexpr std::size_t kMaxPendingStats = 64;

 private:
  struct Transfer;
  using TransferPtr = std::shared_ptr<Transfer>;

  void handle_stat(const protocol::ProtoMsg& msg);
  void handle_get(const protocol::ProtoMsg& msg);
  void handle_put(const protocol::ProtoMsg& msg);
  void handle_chunk(const protocol::ProtoMsg& msg);
  void handle_ack(const protocol::ProtoMsg& msg);
  void handle_peer_error(const protocol::ProtoMsg& msg);

  // Refuses `msg` unless a new transfer may start on its sid.
  bool may_start(const protocol::ProtoMsg& msg);
  TransferPtr start_transfer(const protocol::ProtoMsg& msg, bool upload);
  void pump_download(const TransferPtr& transfer);
  void flush_upload(const TransferPtr& transfer);
  void touch(const TransferPtr& transfer);
  // Ends a transfer: `error` (when not empty) is sent about `about` first.
  void end_transfer(const TransferPtr& transfer, std::string_view outcome,
                    const protocol::ProtoHdr* about = nullptr, std::string_view error = {});
  void end_all(std::string_view outcome);

  void send(const protocol::ProtoMsg& msg, const std::string& sid);
  void send_error(const protocol::ProtoHdr& about, std::string_view text);

  daemon::EventLoop& loop_;
  daemon::Outbound& outbound_;
  daemon::PluginLogger log_;
  FileTransferOptions options_;
  RootedFiles files_;
  std::map<std::string, TransferPtr, std::less<>> transfers_;
  std::size_t pending_stats_ = 0;
  std::uint32_t temp_counter_ = 0;
  // Worker callbacks hold a weak reference, so one that runs after the plugin is
  // gone does nothing.
  std::shared_ptr<FileTransferPlugin*> self_;
};

// The table row's factory: reads the [filetransfer] section and builds the plugin.
Result<std::unique_ptr<daemon::ProtocolHandler>> make_plugin(const daemon::PluginContext& context,
                                                             daemon::OptionReader& options);

}  // namespace tether::plugins::filetransfer
