#include "plugins/shell/shell_session.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <csignal>
#include <utility>

#include "plugins/shell/shell_wire.hpp"
#include "protocol/message.hpp"

namespace tether::plugins::shell {
namespace {

using Clock = std::chrono::steady_clock;

// How long the destructor waits for a shell it has just SIGKILLed to become
// reapable: normally microseconds, longer for a process in uninterruptible sleep.
constexpr std::chrono::milliseconds kReapWait{1000};

// A session ending in the hangup path must not read forever from a terminal whose
// slave a process outside the session still writes to.
constexpr std::size_t kMaxHangupDrain = std::size_t{4} * 1024 * 1024;

std::string_view end_text(EndReason reason) {
  switch (reason) {
    case EndReason::kExited:  // the exit speaks for itself (exit_code)
    case EndReason::kStopRequested:
      return "";
    case EndReason::kIdle:
      return "idle timeout";
    case EndReason::kNoPong:
      return "health check timeout: no pong";
    case EndReason::kLinkDown:
      return "connection lost";
    case EndReason::kShutdown:
      return "daemon shutting down";
  }
  return "";
}

// Streaming output is sent at least this often (see read_stream): long enough to
// gather tens of KiB from a fast producer, too short for a person to notice.
constexpr std::chrono::milliseconds kCoalesceWindow{2};
// Output of at least this many bytes in one read is bulk, not interaction.
constexpr std::size_t kBulkOutput = 256;
// While a terminal streams, it is read this often instead of on every wakeup. The
// kernel moves PTY output to the reader through a 4 KiB buffer, a line at a time
// from a line-buffered program: a reader that wakes for each line pays a context
// switch per 100 bytes. Waiting this long lets about 2 KiB gather at 20 MB/s, yet
// is short enough that the buffer does not fill and stall the shell (measured in
// docs/performance.md: 100 µs halves a bare reader's CPU at equal throughput).
constexpr std::chrono::microseconds kStreamReadInterval{100};
// One read(2) of a PTY master returns at most the kernel's 4 KiB line buffer; a
// 16 KiB stack buffer leaves room to spare without a heap buffer per session.
constexpr std::size_t kReadStep = std::size_t{16} * 1024;

protocol::Bytes text_bytes(std::string_view text) {
  return {text.begin(), text.end()};
}

}  // namespace

Result<std::unique_ptr<ShellSession>> ShellSession::start(
    daemon::EventLoop& loop, daemon::Outbound& outbound, const SessionSettings& settings,
    std::string sid, PtyProcess process, std::unique_ptr<SessionContainment> containment,
    TerminalSize size, std::function<void()> on_finished) {
  std::unique_ptr<ShellSession> session(new ShellSession(loop, outbound, settings, std::move(sid),
                                                         std::move(process), std::move(containment),
                                                         size, std::move(on_finished)));
  if (Status attached = session->attach(); !attached) {
    return attached.error();  // the destructor kills and reaps the shell
  }
  return session;
}

ShellSession::ShellSession(daemon::EventLoop& loop, daemon::Outbound& outbound,
                           const SessionSettings& settings, std::string sid, PtyProcess process,
                           std::unique_ptr<SessionContainment> containment, TerminalSize size,
                           std::function<void()> on_finished)
    : loop_(loop),
      outbound_(outbound),
      settings_(settings),
      sid_(std::move(sid)),
      flow_("shell/" + sid_),
      process_(std::move(process)),
      containment_(std::move(containment)),
      size_(size),
      on_finished_(std::move(on_finished)),
      last_input_(Clock::now()),
      idle_timer_(loop),
      ping_timer_(loop),
      pong_timer_(loop),
      kill_timer_(loop),
      linger_timer_(loop) {}

Status ShellSession::attach() {
  auto stream_timer = daemon::ShortTimer::create(loop_);
  if (!stream_timer) {
    return stream_timer.error().wrap("creating the stream read timer");
  }
  stream_timer_ = std::move(stream_timer.value());
  auto master = daemon::FdWatch::create(loop_, process_.master(),
                                        {.on_readable = [this] { on_master_readable(); },
                                         .on_writable = [this] { flush_input(); },
                                         .on_hangup = [this] { on_master_hangup(); }});
  if (!master) {
    return master.error().wrap("watching the PTY");
  }
  master_watch_ = std::move(master.value());
  auto child = daemon::FdWatch::create(loop_, process_.pidfd(),
                                       {.on_readable = [this] { on_child_event(); },
                                        .on_writable = nullptr,
                                        .on_hangup = [this] { on_child_event(); }});
  if (!child) {
    return child.error().wrap("watching the shell process");
  }
  child_watch_ = std::move(child.value());
  if (settings_.idle_timeout.count() > 0) {
    idle_timer_.start(settings_.idle_timeout, [this] { on_idle_timer(); });
  }
  if (settings_.ping_interval.count() > 0) {
    ping_timer_.start(settings_.ping_interval, [this] { send_ping(); });
  }
  return Status::Ok();
}

ShellSession::~ShellSession() {
  outbound_.cancel_drained(flow_);
  stream_timer_.reset();
  master_watch_.reset();
  child_watch_.reset();
  if (!process_.reaped()) {
    // The zombie or live shell pins the session id, so this sweep cannot hit a
    // stranger; the shell is the session's leader and is killed with the rest.
    containment_->kill_all_now();
    process_.reap(kReapWait);
  }
}

// ---- output -------------------------------------------------------------------------

void ShellSession::on_master_readable() {
  if (eof_ || output_paused_ || streaming()) {
    return;
  }
  const std::size_t got = read_master(read_room());
  if (!eof_ && !discarding_ && got >= kBulkOutput) {
    // Bulk output: from now on read at a steady pace instead of on every wakeup.
    first_unsent_at_ = Clock::now();
    stream_timer_->start_repeating(kStreamReadInterval, [this] { read_stream(); });
    update_master_interest();
    return;
  }
  send_read_output();
}

void ShellSession::read_stream() {
  if (eof_ || output_paused_ || !master_open_) {
    stream_timer_->cancel();  // defensive: whatever ended the stream stops the ticks
    return;
  }
  const bool had_unsent = !unsent_.empty();
  const std::size_t got = read_master(read_room());
  if (eof_ || discarding_ || (got == 0 && !had_unsent)) {
    // The producer paused with everything sent (or output ended): go back to waking
    // on output, so that the next keystroke's echo is not held.
    send_read_output();
    return;
  }
  const auto now = Clock::now();
  if (!had_unsent) {
    first_unsent_at_ = now;
  }
  // A producer that merely hiccups (a busy CPU, a slow pipe) keeps the stream: what
  // was gathered goes out when it is a full chunk or kCoalesceWindow old.
  if (unsent_.size() >= settings_.tuning.read_chunk || now - first_unsent_at_ >= kCoalesceWindow) {
    flush_unsent();  // a full queue pauses output, which also ends the ticks
  }
}

std::size_t ShellSession::read_room() const {
  return settings_.tuning.read_chunk - std::min(unsent_.size(), settings_.tuning.read_chunk);
}

bool ShellSession::streaming() const {
  return stream_timer_ != nullptr && stream_timer_->pending();
}

void ShellSession::send_read_output() {
  stream_timer_->cancel();
  flush_unsent();
  const bool output_ended = eof_ && master_open_;
  if (output_ended) {
    master_open_ = false;
  }
  update_master_interest();
  if (output_ended) {
    maybe_finish();
  }
}

void ShellSession::update_master_interest() {
  if (master_watch_) {
    master_watch_->want_readable(master_open_ && !output_paused_ && !streaming());
  }
}

void ShellSession::on_master_hangup() {
  // The watch is stopped: whatever the terminal still holds must be read now.
  master_open_ = false;
  stream_timer_->cancel();
  if (!eof_) {
    read_master(kMaxHangupDrain, true);
    eof_ = true;
  }
  flush_unsent();
  maybe_finish();
}

std::size_t ShellSession::read_master(std::size_t limit, bool draining_to_eof) {
  std::size_t taken = 0;
  std::array<std::uint8_t, kReadStep> step;  // not in unsent_: growing it would zero-fill
  while (taken < limit) {
    const std::size_t want = std::min(limit - taken, step.size());
    const ssize_t n = ::read(process_.master(), step.data(), want);
    if (n > 0) {
      unsent_.insert(unsent_.end(), step.begin(), step.begin() + n);
      taken += static_cast<std::size_t>(n);
      if (static_cast<std::size_t>(n) < want && !draining_to_eof) {
        // A short read emptied the terminal's buffer. Another read would only
        // return EAGAIN, and on a PTY that costs a wait for the kernel's flush
        // worker: come back on the next readable event instead.
        break;
      }
      continue;
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0 && errno == EAGAIN) {
      break;
    }
    // 0, or EIO once every holder of the slave has closed it: end of the output.
    eof_ = true;
    break;
  }
  if (discarding_) {
    unsent_.clear();
  }
  return taken;
}

void ShellSession::flush_unsent() {
  while (!unsent_.empty() && !quiet_) {
    if (over_queue_cap()) {
      pause_output();
      return;
    }
    const std::size_t chunk = std::min(unsent_.size(), settings_.tuning.read_chunk);
    protocol::Bytes body;
    if (chunk == unsent_.size()) {
      body.swap(unsent_);
    } else {
      body.assign(unsent_.begin(), unsent_.begin() + static_cast<std::ptrdiff_t>(chunk));
      unsent_.erase(unsent_.begin(), unsent_.begin() + static_cast<std::ptrdiff_t>(chunk));
    }
    protocol::ProtoMsg msg = protocol::make_msg(
        protocol::proto::kShell, std::string(wire::typ::kShell), sid_,
        {{std::string(wire::prop::kStatus), wire::status::kNormal}}, std::move(body));
    if (Status sent = outbound_.send(msg, daemon::Priority::kBulk, flow_); !sent) {
      if (!outbound_.connected()) {
        unsent_.clear();  // the link-down stop that follows discards the rest too
        return;
      }
      // The queue's hard cap: keep the bytes and retry once it drains.
      unsent_.insert(unsent_.begin(), msg.body.begin(), msg.body.end());
      pause_output();
      return;
    }
  }
  if (quiet_) {
    unsent_.clear();
  }
  if (!unsent_.empty() || over_queue_cap()) {
    pause_output();
  }
}

bool ShellSession::over_queue_cap() const {
  return outbound_.queued_bytes(flow_) >= settings_.tuning.session_queue_cap ||
         outbound_.total_queued_bytes() >= settings_.tuning.total_queue_cap;
}

void ShellSession::pause_output() {
  if (output_paused_) {
    return;
  }
  output_paused_ = true;
  stream_timer_->cancel();
  update_master_interest();
  outbound_.when_drained(flow_, settings_.tuning.session_queue_low,
                         settings_.tuning.total_queue_low, [this] { resume_output(); });
}

void ShellSession::resume_output() {
  if (!output_paused_) {
    return;
  }
  output_paused_ = false;
  flush_unsent();
  if (output_paused_) {
    return;
  }
  update_master_interest();
  maybe_finish();
}

void ShellSession::discard_output() {
  discarding_ = true;
  unsent_.clear();
  outbound_.cancel_drained(flow_);
  if (output_paused_) {
    output_paused_ = false;
    update_master_interest();
  }
}

// ---- input --------------------------------------------------------------------------

Status ShellSession::write_input(std::span<const std::uint8_t> bytes) {
  if (ending_) {
    return Error("session is ending");
  }
  if (bytes.size() > settings_.tuning.input_cap - input_.size()) {
    return Error("input buffer full (" + std::to_string(settings_.tuning.input_cap) +
                 " bytes): keystrokes dropped");
  }
  last_input_ = Clock::now();
  const bool was_empty = input_.empty();
  input_.insert(input_.end(), bytes.begin(), bytes.end());
  if (was_empty) {
    flush_input();
  }
  return Status::Ok();
}

void ShellSession::flush_input() {
  std::size_t written = 0;
  while (written < input_.size()) {
    ssize_t n = ::write(process_.master(), input_.data() + written, input_.size() - written);
    if (n > 0) {
      written += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0 && errno == EAGAIN) {
      break;
    }
    written = input_.size();  // EIO: nobody reads the terminal any more
  }
  input_.erase(input_.begin(), input_.begin() + static_cast<std::ptrdiff_t>(written));
  if (master_open_) {
    master_watch_->want_writable(!input_.empty());
  }
}

Status ShellSession::resize(TerminalSize size) {
  if (ending_) {
    return Error("session is ending");
  }
  if (Status resized = process_.resize(size); !resized) {
    return resized;
  }
  size_ = size;
  return Status::Ok();
}

// ---- timers -------------------------------------------------------------------------

void ShellSession::on_idle_timer() {
  const auto idle = Clock::now() - last_input_;
  if (idle >= settings_.idle_timeout) {
    stop(EndReason::kIdle);
    return;
  }
  idle_timer_.start(std::chrono::ceil<std::chrono::milliseconds>(settings_.idle_timeout - idle),
                    [this] { on_idle_timer(); });
}

void ShellSession::send_ping() {
  send(wire::typ::kPing,
       {{std::string(wire::prop::kTimeout), std::int64_t{settings_.pong_timeout.count()}},
        {std::string(wire::prop::kStatus), wire::status::kControl}},
       {}, daemon::Priority::kControl);
  if (!awaiting_pong_) {
    awaiting_pong_ = true;
    pong_timer_.start(settings_.pong_timeout, [this] { stop(EndReason::kNoPong); });
  }
  ping_timer_.start(settings_.ping_interval, [this] { send_ping(); });
}

void ShellSession::pong() {
  awaiting_pong_ = false;
  pong_timer_.cancel();
}

// ---- ending -------------------------------------------------------------------------

void ShellSession::stop(EndReason reason) {
  if (reason == EndReason::kLinkDown) {
    quiet_ = true;
  }
  if (reason != EndReason::kExited) {
    discard_output();
  }
  if (!ending_) {
    begin_ending(reason);
  }
  if (reason == EndReason::kShutdown && !quiet_) {
    // The loop may not run long enough to see the end: say goodbye now.
    send_final_stop();
    quiet_ = true;
  }
  maybe_finish();
}

void ShellSession::begin_ending(EndReason reason) {
  ending_ = true;
  reason_ = reason;
  idle_timer_.cancel();
  ping_timer_.cancel();
  pong_timer_.cancel();
  input_.clear();
  if (master_open_) {
    master_watch_->want_writable(false);
  }
  containment_->hang_up();
  kill_timer_.start(settings_.tuning.kill_grace, [this] { escalate_kill(); });
}

void ShellSession::escalate_kill() {
  containment_->kill_all(nullptr);
  linger_timer_.start(settings_.tuning.linger, [this] { on_linger_expired(); });
}

void ShellSession::on_linger_expired() {
  if (!eof_ && output_paused_ && !discarding_) {
    // Output of a shell that exited by itself is still on its way to a slow backend.
    linger_timer_.start(settings_.tuning.linger, [this] { on_linger_expired(); });
    return;
  }
  // Something outside the session holds the terminal open (or the shell will not
  // die): end the session anyway; closing the master hangs the terminal up.
  containment_->kill_all(nullptr);
  if (!eof_ && master_open_) {
    read_master(settings_.tuning.read_chunk);
    flush_unsent();
  }
  eof_ = true;
  unsent_.clear();
  if (!exit_) {
    exit_ = process_.exit_status();
  }
  finish();
}

void ShellSession::on_child_event() {
  if (exit_) {
    return;
  }
  exit_ = process_.exit_status();
  if (!exit_) {
    return;
  }
  // Exit is observed without reaping (see PtyProcess::exit_status), so the pidfd
  // stays readable: stop watching it.
  child_watch_->want_readable(false);
  if (!ending_) {
    // Jobs the shell left behind belong to the session and end with it.
    begin_ending(EndReason::kExited);
  }
  maybe_finish();
}

void ShellSession::maybe_finish() {
  if (finished_ || !exit_ || !eof_ || !unsent_.empty()) {
    return;
  }
  finish();
}

void ShellSession::finish() {
  finished_ = true;
  stream_timer_->cancel();
  kill_timer_.cancel();
  linger_timer_.cancel();
  idle_timer_.cancel();
  ping_timer_.cancel();
  pong_timer_.cancel();
  outbound_.cancel_drained(flow_);
  if (master_open_) {
    master_watch_->want_readable(false);
    master_watch_->want_writable(false);
  }
  // Stragglers that closed the terminal but stayed in the session; only then is the
  // session id released by reaping the shell (the process-tree walk finds members
  // by it).
  containment_->kill_all([this] { complete_finish(); });
}

void ShellSession::complete_finish() {
  process_.reap(std::chrono::milliseconds(0));
  process_.close_master();
  if (!quiet_) {
    send_final_stop();
    quiet_ = true;
  }
  if (on_finished_) {
    on_finished_();
  }
}

void ShellSession::send_final_stop() {
  protocol::Map props;
  const bool normal = reason_ == EndReason::kExited || reason_ == EndReason::kStopRequested ||
                      reason_ == EndReason::kShutdown;
  props.emplace_back(std::string(wire::prop::kStatus),
                     normal ? wire::status::kNormal : wire::status::kError);
  if (reason_ == EndReason::kExited && exit_) {
    props.emplace_back(std::string(wire::prop::kExitCode), std::int64_t{exit_->code});
  }
  // Same flow and class as the output, so it cannot overtake it in the queue.
  send(wire::typ::kStop, std::move(props), text_bytes(end_text(reason_)), daemon::Priority::kBulk);
}

void ShellSession::send(std::string_view typ, protocol::Map props, protocol::Bytes body,
                        daemon::Priority priority) {
  if (quiet_) {
    return;
  }
  // A failure means the link is down; on_disconnected ends the session.
  (void)outbound_.send(protocol::make_msg(protocol::proto::kShell, std::string(typ), sid_,
                                          std::move(props), std::move(body)),
                       priority, flow_);
}

}  // namespace tether::plugins::shell
