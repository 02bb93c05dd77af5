// The remote-shell protocol handler (proto 0x0001, wire.md section 4), compatible
// with Mender's mender-connect: `new` starts a shell on a fresh PTY as the configured
// user, `shell` carries keystrokes in and output out, `resize`, `stop`, and the
// device's health `ping` answered by the backend's `pong`.
//
// Every refusal (limits, a second `new` on a live sid, bad props, an unknown sid) is
// a reply of the same typ with status 2 and the reason as body text. The plugin
// answers; it never drops the connection or another session over a bad message.
//
// When the link drops, every shell is stopped: a shell whose operator is gone is a
// root shell nobody watches, and Mender's shells that outlived a drop were its
// weakness. A backend that reconnects opens a new one.
#pragma once

#include <memory>
#include <string>

#include "daemon/loop/event_loop.hpp"
#include "daemon/router/protocol_handler.hpp"
#include "plugins/shell/containment.hpp"
#include "plugins/shell/session_table.hpp"
#include "plugins/shell/shell_options.hpp"
#include "plugins/shell/shell_session.hpp"
#include "plugins/shell/shell_tuning.hpp"
#include "plugins/shell/user_account.hpp"

namespace tether::plugins::shell {

class ShellPlugin final : public daemon::ProtocolHandler {
 public:
  // Resolves options.user here, once (NSS may block; see user_account.hpp). Must be
  // constructed and used on the event loop thread, which must outlive the sessions
  // (see PtyProcess on PR_SET_PDEATHSIG). If the user cannot be resolved, every
  // `new` is refused with the reason; the daemon's option check reports it at start.
  ShellPlugin(daemon::EventLoop& loop, daemon::Outbound& outbound, const ShellOptions& options,
              const ShellTuning& tuning = {});
  // Kills every session's processes and reaps the shells.
  ~ShellPlugin() override;
  ShellPlugin(const ShellPlugin&) = delete;
  ShellPlugin& operator=(const ShellPlugin&) = delete;

  Status on_message(const protocol::ProtoMsg& msg) override;
  void on_disconnected() override;
  void on_shutdown() override;

  // Sessions in the table, including those still tearing down.
  std::size_t session_count() const { return sessions_.size(); }
  // The shell's pid (= its session id) for `sid`, or -1: for tests and diagnostics.
  pid_t shell_pid(std::string_view sid) const;
  // How sessions are contained, chosen at construction (docs/shell.md).
  const Containment& containment() const { return containment_; }

 private:
  void handle_new(const protocol::ProtoMsg& msg);
  void handle_input(const protocol::ProtoMsg& msg);
  void handle_resize(const protocol::ProtoMsg& msg);
  void handle_stop(const protocol::ProtoMsg& msg);
  void handle_pong(const protocol::ProtoMsg& msg);
  // A live (not ending) session, or nullptr after replying status 2 to `msg`.
  ShellSession* live_session_or_refuse(const protocol::ProtoMsg& msg);
  void reply(const protocol::ProtoHdr& request, std::int64_t status, std::string_view text);
  void stop_all(EndReason reason);

  daemon::EventLoop& loop_;
  daemon::Outbound& outbound_;
  ShellOptions options_;
  SessionSettings settings_;
  Result<UserAccount> account_;
  // Before sessions_: a session's containment refers to it.
  Containment containment_;
  SessionTable<ShellSession> sessions_;
  // Posted callbacks hold a weak reference to this, so that one which runs after
  // the plugin is gone does nothing.
  std::shared_ptr<ShellPlugin*> self_;
};

}  // namespace tether::plugins::shell
