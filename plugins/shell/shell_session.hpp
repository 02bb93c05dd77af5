// One remote shell: a PtyProcess brought into the event loop. It moves keystrokes
// to the PTY and output to the backend with flow control, runs the idle and health
// timers, and takes the session down when it ends for any reason.
//
// Lifecycle: running -> ending -> finished.
// - ending starts when the shell exits by itself, or stop() is called (backend
//   `stop`, idle or health timeout, link down, daemon shutdown). Every process of the
//   session gets SIGHUP (+SIGCONT), then SIGKILL after ShellTuning::kill_grace.
// - finished is reached when the shell has exited AND the terminal is at end of
//   file (every process holding the slave has closed it, so every byte the session
//   wrote has been read) AND all that output has been queued. Then the last sweep
//   kills any straggler, the shell is reaped, the final `stop` is sent after the
//   output (same flow, same priority class, so it cannot overtake it), and
//   on_finished is called; the owner destroys the session later (never from inside
//   one of its callbacks).
// - When the shell exited by itself, output keeps flowing under flow control until
//   the end. When anything else ended the session, the backend no longer wants the
//   output: it is read and discarded, so that a slow or gone backend cannot hold
//   the teardown up.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "daemon/loop/event_loop.hpp"
#include "daemon/loop/short_timer.hpp"
#include "daemon/plugin_api/outbound.hpp"
#include "plugins/shell/pty_process.hpp"
#include "plugins/shell/shell_tuning.hpp"
#include "plugins/shell/terminal_size.hpp"
#include "protocol/value.hpp"

namespace tether::plugins::shell {

enum class EndReason {
  kExited,         // the shell exited by itself
  kStopRequested,  // backend `stop`
  kIdle,           // no input for idle_timeout
  kNoPong,         // health ping not answered in time
  kLinkDown,       // the connection dropped: nothing can be sent any more
  kShutdown,       // the daemon is stopping
};

struct SessionSettings {
  ShellTuning tuning;
  std::chrono::seconds idle_timeout{0};   // 0 = never
  std::chrono::seconds ping_interval{0};  // 0 = no health pings
  std::chrono::seconds pong_timeout{0};
};

class ShellSession {
 public:
  static Result<std::unique_ptr<ShellSession>> start(
      daemon::EventLoop& loop, daemon::Outbound& outbound, const SessionSettings& settings,
      std::string sid, PtyProcess process, TerminalSize size, std::function<void()> on_finished);
  // Kills what is left of the session and reaps the shell (waiting at most a
  // moment for a SIGKILLed process), so that no session outlives its object.
  ~ShellSession();
  ShellSession(const ShellSession&) = delete;
  ShellSession& operator=(const ShellSession&) = delete;

  // Queues keystrokes for the PTY. Fails when the session is ending or more than
  // ShellTuning::input_cap bytes are waiting.
  Status write_input(std::span<const std::uint8_t> bytes);
  Status resize(TerminalSize size);
  TerminalSize size() const { return size_; }
  void pong();

  // Begins ending the session; later calls only make it quieter (a link drop or
  // shutdown during an ending stops its output and final message).
  void stop(EndReason reason);

  bool ending() const { return ending_; }
  bool finished() const { return finished_; }
  pid_t pid() const { return process_.pid(); }
  const std::string& sid() const { return sid_; }
  // Why the session ended (meaningful once ending()) and how the shell exited, if
  // that was seen: for the audit log.
  EndReason end_reason() const { return reason_; }
  const std::optional<ExitStatus>& exit_status() const { return exit_; }

 private:
  ShellSession(daemon::EventLoop& loop, daemon::Outbound& outbound, const SessionSettings& settings,
               std::string sid, PtyProcess process, TerminalSize size,
               std::function<void()> on_finished);
  Status attach();

  // Output: PTY -> backend.
  void on_master_readable();
  void on_master_hangup();
  // While output streams, the terminal is not watched but read every
  // kStreamReadInterval by stream_timer_, and what gathers is sent every
  // kCoalesceWindow or read_chunk bytes; a read that finds nothing, with nothing
  // left to send, ends the stream.
  void read_stream();
  bool streaming() const;
  std::size_t read_room() const;
  // Sends what was read; at end of output, stops watching the terminal.
  void send_read_output();
  // The one place that decides whether the terminal is watched for output: while
  // it is open, not paused by a full queue and not streaming.
  void update_master_interest();
  // Reads at most `limit` bytes into unsent_ and returns how many; sets eof_ at end
  // of file. Stops at a short read unless `draining_to_eof` (after a hangup, when
  // no event will follow).
  std::size_t read_master(std::size_t limit, bool draining_to_eof = false);
  void flush_unsent();
  bool over_queue_cap() const;
  void pause_output();
  void resume_output();
  void discard_output();

  // Input: backend -> PTY.
  void flush_input();

  void on_child_event();
  void on_idle_timer();
  void send_ping();
  void begin_ending(EndReason reason);
  void escalate_kill();
  void on_linger_expired();
  void maybe_finish();
  void finish();
  void send_final_stop();
  void send(std::string_view typ, protocol::Map props, protocol::Bytes body,
            daemon::Priority priority);

  daemon::EventLoop& loop_;
  daemon::Outbound& outbound_;
  SessionSettings settings_;
  std::string sid_;
  std::string flow_;
  PtyProcess process_;
  TerminalSize size_;
  std::function<void()> on_finished_;

  protocol::Bytes unsent_;  // output read from the PTY, not yet queued
  protocol::Bytes input_;   // keystrokes not yet written to the PTY
  bool output_paused_ = false;
  bool discarding_ = false;
  bool eof_ = false;
  bool master_open_ = true;  // the master watch still delivers events

  bool ending_ = false;
  bool finished_ = false;
  bool quiet_ = false;  // nothing more may be sent (link down, or already said goodbye)
  EndReason reason_ = EndReason::kExited;
  std::optional<ExitStatus> exit_;

  std::chrono::steady_clock::time_point last_input_;
  bool awaiting_pong_ = false;

  daemon::Timer idle_timer_;
  daemon::Timer ping_timer_;
  daemon::Timer pong_timer_;
  daemon::Timer kill_timer_;
  daemon::Timer linger_timer_;
  std::chrono::steady_clock::time_point first_unsent_at_;
  std::unique_ptr<daemon::ShortTimer> stream_timer_;
  std::unique_ptr<daemon::FdWatch> master_watch_;
  std::unique_ptr<daemon::FdWatch> child_watch_;
};

}  // namespace tether::plugins::shell
