#include "hub/cli/file_copy.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "protocol/filetransfer.hpp"

namespace tether::hub::cli {

namespace {

namespace ft = protocol::filetransfer;

std::string errno_text(int error) {
  return std::strerror(error);
}

// The last path component ("" for "/dir/").
std::string base_name(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string dir_name(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

bool is_directory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// Writes all of `data`; false with errno set on failure.
bool write_all(int fd, const std::uint8_t* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

std::string transfer_error_text(const protocol::ProtoMsg& msg) {
  auto error = ft::TransferError::decode(msg.body);
  if (!error.ok() || error->err.empty()) return "the device reported an error";
  return error->err;
}

}  // namespace

FileCopy::FileCopy(daemon::EventLoop& loop, const HubAccess& hub, CopyCommand command,
                   unsigned umask, std::function<void(const Status&)> done)
    : command_(std::move(command)),
      umask_(umask),
      done_(std::move(done)),
      session_(loop, hub, command_.remote.device, protocol::proto::kFileTransfer, "file transfer",
               {[this] { on_ready(); }, [this](const protocol::ProtoMsg& m) { on_message(m); },
                [this](const Status& s) {
                  if (!s.ok()) remove_temp();
                  done_(s);
                }}) {}

FileCopy::~FileCopy() {
  remove_temp();
  if (fd_ >= 0) ::close(fd_);
}

Status FileCopy::start() {
  if (command_.upload) {
    // Local problems first, before anything goes over the network.
    fd_ = ::open(command_.local.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) {
      return Error(ErrorCode::kNotFound, command_.local + ": " + errno_text(errno));
    }
    struct stat st {};
    if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
      return Error(ErrorCode::kInvalidArgument, command_.local + ": not a regular file");
    }
  } else if (base_name(command_.remote.path).empty()) {
    return Error(ErrorCode::kInvalidArgument,
                 remote_name() + ": names a directory; cp downloads one file");
  }
  return session_.start();
}

std::string FileCopy::remote_name() const {
  return command_.remote.device + ":" + command_.remote.path;
}

void FileCopy::on_ready() {
  if (command_.upload) {
    begin_upload();
    return;
  }
  step_ = Step::kStat;
  session_.send(std::string(ft::typ::kStat), {}, ft::PathRequest{command_.remote.path}.encode());
}

void FileCopy::on_message(const protocol::ProtoMsg& msg) {
  if (step_ == Step::kDone) return;
  if (msg.hdr.typ == ft::typ::kError) {
    fail(Error(ErrorCode::kAccessDenied, remote_name() + ": " + transfer_error_text(msg)));
    return;
  }
  switch (step_) {
    case Step::kStat:
      if (msg.hdr.typ == ft::typ::kFileInfo) on_file_info(msg);
      return;
    case Step::kDownload:
      if (msg.hdr.typ == ft::typ::kChunk) on_chunk(msg);
      return;
    case Step::kUploadWaitFirstAck:
    case Step::kUpload:
      if (msg.hdr.typ == ft::typ::kAck) on_upload_ack(msg);
      return;
    case Step::kOpening:
    case Step::kDone:
      return;
  }
}

void FileCopy::on_file_info(const protocol::ProtoMsg& msg) {
  auto info = ft::FileInfo::decode(msg.body);
  if (!info.ok()) {
    fail(Error(ErrorCode::kProtocol,
               remote_name() + ": file_info does not decode: " + info.error().message()));
    return;
  }
  if ((info->mode & ft::mode::kDir) != 0) {
    fail(Error(ErrorCode::kInvalidArgument,
               remote_name() + ": is a directory; cp downloads one file"));
    return;
  }
  if ((info->mode & ft::mode::kTypeMask) != 0) {
    fail(Error(ErrorCode::kInvalidArgument, remote_name() + ": not a regular file"));
    return;
  }
  remote_mode_ = info->mode & ft::mode::kPerm;
  target_path_ = command_.local;
  if (is_directory(target_path_)) {
    target_path_ += "/" + base_name(command_.remote.path);
    if (is_directory(target_path_)) {
      fail(Error(ErrorCode::kInvalidArgument, target_path_ + ": is a directory"));
      return;
    }
  }
  // The temporary file sits next to the target, so the final rename is atomic.
  std::string temp = dir_name(target_path_) + "/." + base_name(target_path_) + ".tether-XXXXXX";
  fd_ = ::mkostemp(temp.data(), O_CLOEXEC);
  if (fd_ < 0) {
    fail(Error(ErrorCode::kIo,
               "cannot create a file in " + dir_name(target_path_) + ": " + errno_text(errno)));
    return;
  }
  temp_path_ = temp;
  step_ = Step::kDownload;
  session_.send(std::string(ft::typ::kGetFile), {}, ft::PathRequest{command_.remote.path}.encode());
}

void FileCopy::on_chunk(const protocol::ProtoMsg& msg) {
  const auto offset = msg.hdr.prop_int(ft::kOffsetProp);
  if (!offset || *offset != offset_) {
    fail(Error(ErrorCode::kProtocol, remote_name() + ": a chunk came at offset " +
                                         (offset ? std::to_string(*offset) : "(none)") +
                                         ", expected " + std::to_string(offset_)));
    return;
  }
  if (msg.body.size() > ft::kChunkSize) {
    fail(Error(ErrorCode::kProtocol, remote_name() + ": a chunk is larger than 4096 bytes"));
    return;
  }
  if (msg.body.empty()) {
    // EOF: the final ack, then the file takes its place.
    session_.send(std::string(ft::typ::kAck), {{std::string(ft::kOffsetProp), offset_}});
    if (::fchmod(fd_, remote_mode_ & ~umask_ & 0777U) != 0 || ::close(fd_) != 0) {
      fd_ = -1;
      fail(Error(ErrorCode::kIo, "writing " + target_path_ + ": " + errno_text(errno)));
      return;
    }
    fd_ = -1;
    if (::rename(temp_path_.c_str(), target_path_.c_str()) != 0) {
      fail(Error(ErrorCode::kIo,
                 "cannot rename the download to " + target_path_ + ": " + errno_text(errno)));
      return;
    }
    temp_path_.clear();
    succeed();
    return;
  }
  if (!write_all(fd_, msg.body.data(), msg.body.size())) {
    fail(Error(ErrorCode::kIo, "writing " + target_path_ + ": " + errno_text(errno)));
    return;
  }
  offset_ += static_cast<std::int64_t>(msg.body.size());
  if (++chunks_ % ft::kAckEveryChunks == 0) {
    session_.send(std::string(ft::typ::kAck), {{std::string(ft::kOffsetProp), offset_}});
  }
}

void FileCopy::begin_upload() {
  struct stat st {};
  if (::fstat(fd_, &st) != 0) {
    fail(Error(ErrorCode::kIo, command_.local + ": " + errno_text(errno)));
    return;
  }
  ft::UploadRequest request;
  request.src_path = base_name(command_.local);
  request.path = command_.remote.path;
  request.size = static_cast<std::int64_t>(st.st_size);
  request.mode = static_cast<std::uint32_t>(st.st_mode) & ft::mode::kPerm;
  step_ = Step::kUploadWaitFirstAck;
  session_.send(std::string(ft::typ::kPutFile), {}, request.encode());
}

void FileCopy::on_upload_ack(const protocol::ProtoMsg& msg) {
  const auto offset = msg.hdr.prop_int(ft::kOffsetProp);
  if (!offset) {
    fail(Error(ErrorCode::kProtocol, remote_name() + ": an ack without an offset"));
    return;
  }
  if (step_ == Step::kUploadWaitFirstAck) {
    if (*offset != 0) {
      fail(Error(ErrorCode::kProtocol, remote_name() + ": the first ack is not at offset 0"));
      return;
    }
    step_ = Step::kUpload;
    pump_upload();
    return;
  }
  if (*offset > offset_) {
    fail(Error(ErrorCode::kProtocol, remote_name() + ": an ack beyond the bytes sent"));
    return;
  }
  acked_ = std::max(acked_, *offset);
  // The final ack echoes the EOF chunk, whose offset is the total; every other
  // ack names a data chunk's start, below it.
  if (eof_sent_ && *offset == offset_) {
    succeed();
    return;
  }
  pump_upload();
}

void FileCopy::pump_upload() {
  std::uint8_t buffer[ft::kChunkSize];
  while (!eof_sent_ && offset_ - acked_ <= static_cast<std::int64_t>(ft::kWindowBytes)) {
    const ssize_t n = ::read(fd_, buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail(Error(ErrorCode::kIo, "reading " + command_.local + ": " + errno_text(errno)));
      return;
    }
    if (n == 0) {
      session_.send(std::string(ft::typ::kChunk), {{std::string(ft::kOffsetProp), offset_}});
      eof_sent_ = true;
      return;
    }
    session_.send(std::string(ft::typ::kChunk), {{std::string(ft::kOffsetProp), offset_}},
                  protocol::Bytes(buffer, buffer + n));
    offset_ += n;
  }
}

void FileCopy::fail(const Error& error) {
  if (step_ == Step::kDone) return;
  step_ = Step::kDone;
  remove_temp();
  session_.end(error);
}

void FileCopy::succeed() {
  if (step_ == Step::kDone) return;
  step_ = Step::kDone;
  session_.end(Status::Ok());
}

void FileCopy::remove_temp() {
  if (fd_ >= 0 && !command_.upload) {
    ::close(fd_);
    fd_ = -1;
  }
  if (!temp_path_.empty()) {
    ::unlink(temp_path_.c_str());
    temp_path_.clear();
  }
}

}  // namespace tether::hub::cli
