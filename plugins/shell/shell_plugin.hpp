// The remote-shell protocol handler (proto 0x0001, wire.md section 4), compatible
// with Mender's mender-connect: `new` starts a shell on a fresh PTY as the configured
// user, `shell` carries keystrokes in and output out, `resize`, `stop`, and the
// device's health `ping` answered by the backend's `pong`.
//
// Every refusal (limits, a second `new` on a live sid, bad props, an unknown sid) is
// a reply of the same typ with status 2 and the reason as body text. The plugin
// answers; it never drops the connection or another session over a bad message.
//
// Every shell that opens and closes leaves an audit record (docs/shell.md, "Audit
// log"): who, which sid, as which user, for how long, and how it ended.
//
// When the link drops, every shell is stopped: a shell whose operator is gone is a
// root shell nobody watches, and Mender's shells that outlived a drop were its
// weakness. A backend that reconnects opens a new one.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "daemon/loop/event_loop.hpp"
#include "daemon/plugin_api/plugin_context.hpp"
#include "daemon/plugin_api/protocol_handler.hpp"
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
  ShellPlugin(const daemon::PluginContext& context, const ShellOptions& options,
              const ShellTuning& tuning = {});
  // Kills every session's processes and reaps the shells.
  ~ShellPlugin() override;
  ShellPlugin(const ShellPlugin&) = delete;
  ShellPlugin& operator=(const ShellPlugin&) = delete;

  Status on_message(const protocol::ProtoMsg& msg) override;
  void on_disconnected() override;
  // Control `close` (or `error` close:true) for a shell's sid stops it as `stop` would.
  void on_session_closed(std::string_view sid) override;
  void on_shutdown() override;

  // Sessions in the table, including those still tearing down.
  std::size_t session_count() const { return sessions_.size(); }
  // The shell's pid (= its session id) for `sid`, or -1: for tests and diagnostics.
  pid_t shell_pid(std::string_view sid) const;

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
  // Writes the audit record of a session that ended, and forgets it.
  void audit_close(const std::string& sid, const ShellSession* session);

  // What the audit record of a live session needs when it closes.
  struct AuditEntry {
    std::string user_id;
    std::chrono::steady_clock::time_point opened;
    bool closed_by_backend = false;  // control close, not the shell protocol's stop
  };

  daemon::EventLoop& loop_;
  daemon::Outbound& outbound_;
  daemon::PluginLogger log_;
  std::map<std::string, AuditEntry, std::less<>> audit_;
  ShellOptions options_;
  SessionSettings settings_;
  Result<UserAccount> account_;
  SessionTable<ShellSession> sessions_;
  // Posted callbacks hold a weak reference to this, so that one which runs after
  // the plugin is gone does nothing.
  std::shared_ptr<ShellPlugin*> self_;
};

// The table row's factory: reads the [shell] section and builds the plugin.
Result<std::unique_ptr<daemon::ProtocolHandler>> make_plugin(const daemon::PluginContext& context,
                                                             daemon::OptionReader& options);

}  // namespace tether::plugins::shell
