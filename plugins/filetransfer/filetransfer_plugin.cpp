#include "plugins/filetransfer/filetransfer_plugin.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <utility>
#include <vector>

#include "protocol/filetransfer.hpp"

namespace tether::plugins::filetransfer {
namespace {

namespace ft = protocol::filetransfer;
using protocol::ProtoHdr;
using protocol::ProtoMsg;

// Chunks an uploading peer may have sent beyond the last ack before it is
// misbehaving: Mender's sender stops at 20; twice that leaves room for timing.
constexpr std::size_t kMaxQueuedChunks = 2 * ft::kWindowChunks + 2;

std::string user_of(const ProtoHdr& hdr) {
  return std::string(hdr.prop_str("user_id").value_or(""));
}

}  // namespace

struct FileTransferPlugin::Transfer {
  Transfer(daemon::EventLoop& loop, std::string sid_, ProtoHdr request_, bool upload_)
      : sid(std::move(sid_)), request(std::move(request_)), upload(upload_), idle(loop) {}

  std::string sid;
  ProtoHdr request;  // get_file / put_file, for errors and the audit log
  bool upload;
  bool ready = false;  // the file is open
  bool busy = false;   // a worker is reading or writing for it
  bool ended = false;
  daemon::Timer idle;
  std::chrono::steady_clock::time_point opened = std::chrono::steady_clock::now();
  std::string resolved;

  // Download.
  std::shared_ptr<DownloadSource> source;
  std::int64_t sent = 0;
  std::int64_t acked = 0;
  bool eof_sent = false;

  // Upload.
  std::shared_ptr<UploadTarget> target;
  ft::UploadRequest params;
  struct Chunk {
    ProtoHdr hdr;
    protocol::Bytes body;
  };
  std::deque<Chunk> queued;
  std::int64_t received = 0;  // bytes accepted, written or queued
  bool eof_received = false;
};

FileTransferPlugin::FileTransferPlugin(const daemon::PluginContext& context,
                                       const FileTransferOptions& options, RootedFiles files)
    : loop_(context.loop),
      outbound_(context.outbound),
      log_(context.log),
      options_(options),
      files_(std::move(files)),
      self_(std::make_shared<FileTransferPlugin*>(this)) {}

FileTransferPlugin::~FileTransferPlugin() {
  for (auto& [sid, transfer] : transfers_) {
    if (transfer->target) discard_upload(*transfer->target);
  }
}

Status FileTransferPlugin::on_message(const ProtoMsg& msg) {
  const std::string& typ = msg.hdr.typ;
  if (typ == ft::typ::kStat) {
    handle_stat(msg);
  } else if (typ == ft::typ::kGetFile) {
    handle_get(msg);
  } else if (typ == ft::typ::kPutFile) {
    handle_put(msg);
  } else if (typ == ft::typ::kChunk) {
    handle_chunk(msg);
  } else if (typ == ft::typ::kAck) {
    handle_ack(msg);
  } else if (typ == ft::typ::kError) {
    handle_peer_error(msg);
  } else {
    send_error(msg.hdr,
               "session: filetransfer message type '" + typ.substr(0, 64) + "' not supported");
  }
  return {};
}

void FileTransferPlugin::send(const ProtoMsg& msg, const std::string& sid) {
  if (auto status = outbound_.send(msg, daemon::Priority::kBulk, "filetransfer/" + sid); !status)
    log_.debug("not sent: " + status.error().message());
}

void FileTransferPlugin::send_error(const ProtoHdr& about, std::string_view text) {
  ft::TransferError error;
  error.err = std::string(text);
  error.msgtype = about.typ;
  ProtoMsg reply;
  reply.hdr = about;
  reply.hdr.typ = std::string(ft::typ::kError);
  reply.body = error.encode();
  if (auto status = outbound_.send(reply, daemon::Priority::kControl); !status)
    log_.debug("error not sent: " + status.error().message());
}

void FileTransferPlugin::handle_stat(const ProtoMsg& msg) {
  auto request = ft::PathRequest::decode(msg.body);
  if (!request) {
    send_error(msg.hdr, request.error().message());
    return;
  }
  if (pending_stats_ >= kMaxPendingStats) {
    send_error(msg.hdr, "too many requests in progress");
    return;
  }
  ++pending_stats_;
  auto info = std::make_shared<Result<ft::FileInfo>>(Error(ErrorCode::kInternal, "not run"));
  loop_.run_blocking([files = files_, path = request->path, info] { *info = files.stat(path); },
                     [weak = std::weak_ptr(self_), hdr = msg.hdr, info] {
                       auto self = weak.lock();
                       if (!self) return;
                       FileTransferPlugin& plugin = **self;
                       --plugin.pending_stats_;
                       if (!*info) {
                         plugin.send_error(hdr, info->error().message());
                         return;
                       }
                       plugin.send(protocol::make_msg(protocol::proto::kFileTransfer,
                                                      std::string(ft::typ::kFileInfo), hdr.sid, {},
                                                      info->value().encode()),
                                   hdr.sid);
                     });
}

bool FileTransferPlugin::may_start(const ProtoMsg& msg) {
  if (transfers_.count(msg.hdr.sid) != 0) {
    send_error(msg.hdr, "another file transfer is in progress");
    return false;
  }
  if (transfers_.size() >= kMaxTransfers) {
    send_error(msg.hdr, "too many file transfers in progress");
    return false;
  }
  return true;
}

FileTransferPlugin::TransferPtr FileTransferPlugin::start_transfer(const ProtoMsg& msg,
                                                                   bool upload) {
  auto transfer = std::make_shared<Transfer>(loop_, msg.hdr.sid, msg.hdr, upload);
  transfers_[msg.hdr.sid] = transfer;
  touch(transfer);
  return transfer;
}

void FileTransferPlugin::touch(const TransferPtr& transfer) {
  transfer->idle.start(options_.idle_timeout, [this, weak = std::weak_ptr(transfer)] {
    auto t = weak.lock();
    if (!t || t->ended) return;
    end_transfer(t, "timeout", &t->request, "file transfer timed out");
  });
}

void FileTransferPlugin::handle_get(const ProtoMsg& msg) {
  auto request = ft::PathRequest::decode(msg.body);
  if (!request) {
    send_error(msg.hdr, request.error().message());
    return;
  }
  if (!may_start(msg)) return;
  auto transfer = start_transfer(msg, false);
  transfer->busy = true;
  auto opened = std::make_shared<Result<DownloadSource>>(Error(ErrorCode::kInternal, "not run"));
  loop_.run_blocking(
      [files = files_, path = request->path, max = options_.max_file_size, opened] {
        *opened = files.open_for_download(path, max);
      },
      [this, weak = std::weak_ptr(self_), transfer, opened] {
        if (!weak.lock() || transfer->ended) return;
        transfer->busy = false;
        if (!*opened) {
          end_transfer(transfer, "refused", &transfer->request, opened->error().message());
          return;
        }
        transfer->source = std::make_shared<DownloadSource>(std::move(opened->value()));
        transfer->resolved = transfer->source->resolved;
        transfer->ready = true;
        log_.audit("open", {{"sid", transfer->sid},
                            {"user_id", user_of(transfer->request)},
                            {"direction", "download"},
                            {"path", transfer->resolved}});
        pump_download(transfer);
      });
}

void FileTransferPlugin::pump_download(const TransferPtr& transfer) {
  if (transfer->ended || transfer->busy || transfer->eof_sent || !transfer->ready) return;
  const std::int64_t window = std::min<std::int64_t>(
      static_cast<std::int64_t>(ft::kWindowBytes),
      transfer->acked + static_cast<std::int64_t>(ft::kWindowBytes) - transfer->sent);
  if (window <= 0) return;  // wait for an ack
  transfer->busy = true;
  auto data = std::make_shared<Result<protocol::Bytes>>(Error(ErrorCode::kInternal, "not run"));
  loop_.run_blocking(
      [source = transfer->source, offset = transfer->sent, window, data] {
        *data = read_at(source->fd.get(), offset, static_cast<std::size_t>(window));
      },
      [this, weak = std::weak_ptr(self_), transfer, window, data] {
        if (!weak.lock() || transfer->ended) return;
        transfer->busy = false;
        if (!*data) {
          end_transfer(transfer, "failed", &transfer->request,
                       "failed to copy file chunk to session: " + data->error().message());
          return;
        }
        const protocol::Bytes& bytes = data->value();
        for (std::size_t at = 0; at < bytes.size(); at += ft::kChunkSize) {
          const std::size_t n = std::min(ft::kChunkSize, bytes.size() - at);
          const auto first = bytes.begin() + static_cast<std::ptrdiff_t>(at);
          send(protocol::make_msg(protocol::proto::kFileTransfer, std::string(ft::typ::kChunk),
                                  transfer->sid, {{"offset", transfer->sent}},
                                  protocol::Bytes(first, first + static_cast<std::ptrdiff_t>(n))),
               transfer->sid);
          transfer->sent += static_cast<std::int64_t>(n);
        }
        if (static_cast<std::int64_t>(bytes.size()) < window) {
          // End of file: an empty chunk whose offset is the total.
          send(protocol::make_msg(protocol::proto::kFileTransfer, std::string(ft::typ::kChunk),
                                  transfer->sid, {{"offset", transfer->sent}}),
               transfer->sid);
          transfer->eof_sent = true;
          if (transfer->acked >= transfer->sent) end_transfer(transfer, "done");
          return;
        }
        pump_download(transfer);
      });
}

void FileTransferPlugin::handle_ack(const ProtoMsg& msg) {
  auto it = transfers_.find(msg.hdr.sid);
  if (it == transfers_.end()) {
    send_error(msg.hdr, "no file transfer in progress");
    return;
  }
  TransferPtr transfer = it->second;
  if (transfer->upload) {
    end_transfer(transfer, "failed", &msg.hdr,
                 "received unexpected message type 'ack' during file upload");
    return;
  }
  touch(transfer);
  const protocol::Value* offset = protocol::find(msg.hdr.props, ft::kOffsetProp);
  if (offset == nullptr) {
    end_transfer(transfer, "failed", &msg.hdr, "ack message: offset property cannot be blank");
    return;
  }
  auto value = offset->as_int();
  if (!value) {
    end_transfer(transfer, "failed", &msg.hdr, "invalid offset data type: require int64");
    return;
  }
  if (*value < transfer->acked || *value > transfer->sent) {
    end_transfer(transfer, "failed", &msg.hdr,
                 "ack offset " + std::to_string(*value) + " is outside what was sent (" +
                     std::to_string(transfer->acked) + ".." + std::to_string(transfer->sent) + ")");
    return;
  }
  transfer->acked = *value;
  if (transfer->eof_sent && transfer->acked >= transfer->sent) {
    end_transfer(transfer, "done");
    return;
  }
  pump_download(transfer);
}

void FileTransferPlugin::handle_put(const ProtoMsg& msg) {
  auto request = ft::UploadRequest::decode(msg.body);
  if (!request) {
    send_error(msg.hdr, request.error().message());
    return;
  }
  if (!may_start(msg)) return;
  auto transfer = start_transfer(msg, true);
  transfer->params = *request;
  transfer->busy = true;
  auto prepared = std::make_shared<Result<std::shared_ptr<UploadTarget>>>(
      Error(ErrorCode::kInternal, "not run"));
  loop_.run_blocking(
      [files = files_, params = *request, overwrite = options_.allow_overwrite,
       max = options_.max_file_size, counter = ++temp_counter_,
       prepared] { *prepared = files.prepare_upload(params, overwrite, max, counter); },
      [this, weak = std::weak_ptr(self_), transfer, prepared] {
        if (!weak.lock()) return;
        if (transfer->ended) {
          // Ended while the temporary file was being made: remove it.
          if (*prepared)
            loop_.run_blocking([target = prepared->value()] { discard_upload(*target); }, [] {});
          return;
        }
        transfer->busy = false;
        if (!*prepared) {
          end_transfer(transfer, "refused", &transfer->request, prepared->error().message());
          return;
        }
        transfer->target = prepared->value();
        transfer->resolved = transfer->target->resolved;
        transfer->ready = true;
        log_.audit("open", {{"sid", transfer->sid},
                            {"user_id", user_of(transfer->request)},
                            {"direction", "upload"},
                            {"path", transfer->resolved}});
        send(protocol::make_msg(protocol::proto::kFileTransfer, std::string(ft::typ::kAck),
                                transfer->sid, {{"offset", std::int64_t{0}}}),
             transfer->sid);
        flush_upload(transfer);
      });
}

void FileTransferPlugin::handle_chunk(const ProtoMsg& msg) {
  auto it = transfers_.find(msg.hdr.sid);
  if (it == transfers_.end()) {
    send_error(msg.hdr, "no file transfer in progress");
    return;
  }
  TransferPtr transfer = it->second;
  if (!transfer->upload) {
    end_transfer(transfer, "failed", &msg.hdr,
                 "received unexpected message type 'file_chunk'; expected 'ack'");
    return;
  }
  touch(transfer);
  const protocol::Value* offset = protocol::find(msg.hdr.props, ft::kOffsetProp);
  if (offset == nullptr || !offset->as_int()) {
    end_transfer(transfer, "failed", &msg.hdr,
                 "invalid file chunk message: missing offset property");
    return;
  }
  if (*offset->as_int() != transfer->received) {
    end_transfer(transfer, "failed", &msg.hdr, "received unexpected chunk offset");
    return;
  }
  if (transfer->eof_received) {
    end_transfer(transfer, "failed", &msg.hdr, "received a file chunk after the end of file");
    return;
  }
  if (transfer->queued.size() >= kMaxQueuedChunks) {
    end_transfer(transfer, "failed", &msg.hdr, "too many unacknowledged file chunks");
    return;
  }
  const auto size = static_cast<std::int64_t>(msg.body.size());
  if (options_.max_file_size > 0 &&
      static_cast<std::uint64_t>(transfer->received + size) > options_.max_file_size) {
    end_transfer(transfer, "refused", &msg.hdr,
                 "failed to write file chunk: file exceeds filetransfer.max-file-size (" +
                     std::to_string(options_.max_file_size) + ")");
    return;
  }
  transfer->received += size;
  if (size == 0) transfer->eof_received = true;
  transfer->queued.push_back({msg.hdr, msg.body});
  flush_upload(transfer);
}

void FileTransferPlugin::flush_upload(const TransferPtr& transfer) {
  if (transfer->ended || transfer->busy || !transfer->ready || transfer->queued.empty()) return;
  // Up to Mender's ack batch of chunks in one write; the ack echoes the last one's
  // header (its start offset; after the end of file, the total).
  protocol::Bytes data;
  ProtoHdr last;
  bool eof = false;
  for (std::size_t n = 0; n < ft::kAckEveryChunks && !transfer->queued.empty(); ++n) {
    auto& chunk = transfer->queued.front();
    data.insert(data.end(), chunk.body.begin(), chunk.body.end());
    last = std::move(chunk.hdr);
    eof = chunk.body.empty();
    transfer->queued.pop_front();
    if (eof) break;
  }
  transfer->busy = true;
  const std::uint32_t mode = transfer->params.mode.value_or(0644);
  const std::uint32_t uid = transfer->params.uid.value_or(static_cast<std::uint32_t>(::getuid()));
  const std::uint32_t gid = transfer->params.gid.value_or(static_cast<std::uint32_t>(::getgid()));
  auto status = std::make_shared<Status>();
  loop_.run_blocking(
      [target = transfer->target, data = std::move(data), eof, mode, uid, gid, status] {
        *status = write_all(*target, data);
        if (*status && eof) *status = commit_upload(*target, mode, uid, gid);
      },
      [this, weak = std::weak_ptr(self_), transfer, last = std::move(last), eof, status] {
        if (!weak.lock() || transfer->ended) return;
        transfer->busy = false;
        if (!*status) {
          end_transfer(transfer, "failed", &last, status->error().message());
          return;
        }
        ProtoMsg ack;
        ack.hdr = last;
        ack.hdr.typ = std::string(ft::typ::kAck);
        send(ack, transfer->sid);
        if (eof) {
          end_transfer(transfer, "done");
          return;
        }
        flush_upload(transfer);
      });
}

void FileTransferPlugin::handle_peer_error(const ProtoMsg& msg) {
  std::string text = "(malformed error)";
  if (auto error = ft::TransferError::decode(msg.body); error) text = error->err.substr(0, 512);
  auto it = transfers_.find(msg.hdr.sid);
  if (it == transfers_.end()) {
    log_.info("peer reported an error (sid '" + msg.hdr.sid.substr(0, 128) + "'): " + text);
    return;
  }
  log_.info("peer aborted the transfer on sid '" + msg.hdr.sid.substr(0, 128) + "': " + text);
  end_transfer(it->second, "aborted by peer");
}

void FileTransferPlugin::end_transfer(const TransferPtr& transfer, std::string_view outcome,
                                      const ProtoHdr* about, std::string_view error) {
  if (transfer->ended) return;
  transfer->ended = true;
  transfer->idle.cancel();
  if (about != nullptr && !error.empty()) send_error(*about, error);
  if (transfer->target) {
    loop_.run_blocking([target = transfer->target] { discard_upload(*target); }, [] {});
  }
  if (transfer->ready) {
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(
                             std::chrono::steady_clock::now() - transfer->opened)
                             .count();
    log_.audit("close",
               {{"sid", transfer->sid},
                {"user_id", user_of(transfer->request)},
                {"direction", transfer->upload ? "upload" : "download"},
                {"path", transfer->resolved},
                {"bytes", std::to_string(transfer->upload ? transfer->received : transfer->sent)},
                {"seconds", std::to_string(seconds)},
                {"outcome", std::string(outcome)}});
  } else if (!error.empty()) {
    log_.info("refused on sid '" + transfer->sid.substr(0, 128) + "': " + std::string(error));
  }
  auto it = transfers_.find(transfer->sid);
  if (it != transfers_.end() && it->second == transfer) transfers_.erase(it);
}

void FileTransferPlugin::end_all(std::string_view outcome) {
  auto transfers = transfers_;
  for (auto& [sid, transfer] : transfers) end_transfer(transfer, outcome);
}

void FileTransferPlugin::on_disconnected() {
  end_all("link lost");
}

void FileTransferPlugin::on_session_closed(std::string_view sid) {
  auto it = transfers_.find(sid);
  if (it != transfers_.end()) end_transfer(it->second, "session closed");
}

void FileTransferPlugin::on_shutdown() {
  end_all("shutdown");
}

Result<std::unique_ptr<daemon::ProtocolHandler>> make_plugin(const daemon::PluginContext& context,
                                                             daemon::OptionReader& options) {
  const FileTransferOptions ft_options = read_options(options);
  if (!options.ok()) return Error(ErrorCode::kInvalidArgument, "invalid [filetransfer] options");
  auto files = RootedFiles::open(ft_options.root);
  if (!files) return files.error();
  context.log.info("paths confined to " + files->root());
  return std::unique_ptr<daemon::ProtocolHandler>(
      std::make_unique<FileTransferPlugin>(context, ft_options, std::move(files).value()));
}

}  // namespace tether::plugins::filetransfer
