#include "plugins/shell/shell_plugin.hpp"

#include <cstdio>

#include "plugins/shell/pty_process.hpp"
#include "plugins/shell/shell_wire.hpp"
#include "plugins/shell/terminal_size.hpp"
#include "protocol/message.hpp"

namespace tether::plugins::shell {
namespace {

SessionSettings settings_from(const ShellOptions& options, const ShellTuning& tuning) {
  SessionSettings settings;
  settings.tuning = tuning;
  settings.idle_timeout = options.idle_timeout;
  settings.ping_interval = options.ping_interval;
  settings.pong_timeout =
      tuning.pong_timeout.value_or(options.ping_interval + std::chrono::seconds(5));
  return settings;
}

// The audit record's reason= word for how a session ended.
std::string_view reason_word(EndReason reason) {
  switch (reason) {
    case EndReason::kExited:
      return "exited";
    case EndReason::kStopRequested:
      return "stopped";
    case EndReason::kIdle:
      return "idle-timeout";
    case EndReason::kNoPong:
      return "no-pong";
    case EndReason::kLinkDown:
      return "link-down";
    case EndReason::kShutdown:
      return "shutdown";
  }
  return "unknown";
}

std::string seconds_text(std::chrono::steady_clock::duration duration) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(duration).count();
  char text[32];
  std::snprintf(text, sizeof text, "%lld.%03llds", static_cast<long long>(ms / 1000),
                static_cast<long long>(ms % 1000));
  return text;
}

}  // namespace

Result<std::unique_ptr<daemon::ProtocolHandler>> make_plugin(const daemon::PluginContext& context,
                                                             daemon::OptionReader& options) {
  const ShellOptions shell_options = read_options(options);
  if (!options.ok()) return Error(ErrorCode::kInvalidArgument, "invalid [shell] options");
  auto plugin = std::make_unique<ShellPlugin>(context, shell_options);
  return std::unique_ptr<daemon::ProtocolHandler>(std::move(plugin));
}

ShellPlugin::ShellPlugin(const daemon::PluginContext& context, const ShellOptions& options,
                         const ShellTuning& tuning)
    : loop_(context.loop),
      outbound_(context.outbound),
      log_(context.log),
      options_(options),
      settings_(settings_from(options, tuning)),
      account_(lookup_user(options.user)),
      sessions_(options.max_sessions, options.max_per_user),
      self_(std::make_shared<ShellPlugin*>(this)) {}

ShellPlugin::~ShellPlugin() {
  // Each session's destructor kills its processes and reaps its shell.
  for (const std::string& sid : sessions_.sids()) {
    audit_close(sid, sessions_.find(sid));
    sessions_.erase(sid);
  }
}

void ShellPlugin::audit_close(const std::string& sid, const ShellSession* session) {
  auto entry = audit_.find(sid);
  if (entry == audit_.end()) {
    return;
  }
  std::string reason = "plugin-stopped";  // destroyed while it still ran
  if (session != nullptr && session->ending()) {
    reason = reason_word(session->end_reason());
    if (session->end_reason() == EndReason::kStopRequested && entry->second.closed_by_backend) {
      reason = "closed";
    }
  }
  std::string exit_code = "none";
  if (session != nullptr && session->exit_status()) {
    exit_code = std::to_string(session->exit_status()->code);
  }
  log_.audit("close",
             {{"sid", sid},
              {"user_id", entry->second.user_id},
              {"duration", seconds_text(std::chrono::steady_clock::now() - entry->second.opened)},
              {"reason", reason},
              {"exit_code", exit_code}});
  audit_.erase(entry);
}

pid_t ShellPlugin::shell_pid(std::string_view sid) const {
  const ShellSession* session = sessions_.find(sid);
  return session == nullptr ? -1 : session->pid();
}

Status ShellPlugin::on_message(const protocol::ProtoMsg& msg) {
  const std::string& typ = msg.hdr.typ;
  if (msg.hdr.sid.size() > wire::kMaxSidBytes) {
    reply(msg.hdr, wire::status::kError, "sid longer than 256 bytes");
    return Status::Ok();
  }
  if (typ == wire::typ::kNew) {
    handle_new(msg);
  } else if (typ == wire::typ::kShell) {
    handle_input(msg);
  } else if (typ == wire::typ::kResize) {
    handle_resize(msg);
  } else if (typ == wire::typ::kStop) {
    handle_stop(msg);
  } else if (typ == wire::typ::kPong) {
    handle_pong(msg);
  } else if (typ == wire::typ::kPing) {
    // Device-to-backend in Mender's protocol; answered anyway, as a peer would.
    (void)outbound_.send(
        protocol::make_msg(protocol::proto::kShell, std::string(wire::typ::kPong), msg.hdr.sid),
        daemon::Priority::kControl);
  } else {
    return Error(ErrorCode::kProtocol, "unknown shell message type \"" + typ.substr(0, 64) + "\"");
  }
  return Status::Ok();
}

void ShellPlugin::handle_new(const protocol::ProtoMsg& msg) {
  const protocol::ProtoHdr& hdr = msg.hdr;
  if (hdr.sid.empty()) {
    reply(hdr, wire::status::kError, "new needs a sid");
    return;
  }
  std::string user_id;
  if (const protocol::Value* value = protocol::find(hdr.props, wire::prop::kUserId)) {
    const std::string* text = value->as_str();
    if (text == nullptr || text->size() > wire::kMaxUserIdBytes) {
      reply(hdr, wire::status::kError, "user_id must be a string of at most 256 bytes");
      return;
    }
    user_id = *text;
  }
  auto size = terminal_size_from_props(hdr.props, TerminalSize{});
  if (!size) {
    reply(hdr, wire::status::kError, size.error().message());
    return;
  }
  if (auto refusal = sessions_.refusal(hdr.sid, user_id)) {
    reply(hdr, wire::status::kError, *refusal);
    return;
  }
  if (!account_) {
    reply(hdr, wire::status::kError, "shell user unavailable: " + account_.error().message());
    return;
  }
  auto process = PtyProcess::spawn(options_.command, *account_, *size);
  if (!process) {
    reply(hdr, wire::status::kError, process.error().message());
    return;
  }
  std::weak_ptr<ShellPlugin*> weak_self = self_;
  auto on_finished = [this, weak_self, sid = hdr.sid] {
    // Destroyed later, never inside one of the session's own callbacks.
    loop_.post([weak_self, sid] {
      if (auto self = weak_self.lock()) {
        ShellPlugin& plugin = **self;
        plugin.audit_close(sid, plugin.sessions_.find(sid));
        plugin.sessions_.erase(sid);
      }
    });
  };
  auto session = ShellSession::start(loop_, outbound_, settings_, hdr.sid,
                                     std::move(process.value()), *size, std::move(on_finished));
  if (!session) {
    reply(hdr, wire::status::kError, session.error().message());
    return;
  }
  const pid_t pid = session.value()->pid();
  audit_[hdr.sid] = AuditEntry{user_id, std::chrono::steady_clock::now()};
  log_.audit("open", {{"sid", hdr.sid},
                      {"user_id", user_id},
                      {"pid", std::to_string(pid)},
                      {"user", account_->name}});
  sessions_.insert(hdr.sid, std::move(user_id), std::move(session.value()));
  reply(hdr, wire::status::kNormal, "");
}

ShellSession* ShellPlugin::live_session_or_refuse(const protocol::ProtoMsg& msg) {
  ShellSession* session = sessions_.find(msg.hdr.sid);
  if (session == nullptr) {
    reply(msg.hdr, wire::status::kError, "session not found");
    return nullptr;
  }
  if (session->ending()) {
    reply(msg.hdr, wire::status::kError, "session is ending");
    return nullptr;
  }
  return session;
}

void ShellPlugin::handle_input(const protocol::ProtoMsg& msg) {
  ShellSession* session = live_session_or_refuse(msg);
  if (session == nullptr || msg.body.empty()) {
    return;
  }
  if (Status written = session->write_input(msg.body); !written) {
    reply(msg.hdr, wire::status::kError, written.error().message());
  }
}

void ShellPlugin::handle_resize(const protocol::ProtoMsg& msg) {
  ShellSession* session = live_session_or_refuse(msg);
  if (session == nullptr) {
    return;
  }
  auto size = terminal_size_from_props(msg.hdr.props, session->size());
  if (!size) {
    reply(msg.hdr, wire::status::kError, size.error().message());
    return;
  }
  if (Status resized = session->resize(*size); !resized) {
    reply(msg.hdr, wire::status::kError, resized.error().message());
  }
}

void ShellPlugin::handle_stop(const protocol::ProtoMsg& msg) {
  const protocol::ProtoHdr& hdr = msg.hdr;
  if (hdr.sid.empty()) {
    const protocol::Value* value = protocol::find(hdr.props, wire::prop::kUserId);
    const std::string* user_id = value == nullptr ? nullptr : value->as_str();
    if (user_id == nullptr) {
      reply(hdr, wire::status::kError, "stop needs a sid or a user_id");
      return;
    }
    std::vector<std::string> sids = sessions_.sids_of_user(*user_id);
    if (sids.empty()) {
      reply(hdr, wire::status::kNormal, "no sessions");
    }
    // Each session answers with its own `stop` once it has ended.
    for (const std::string& sid : sids) {
      sessions_.find(sid)->stop(EndReason::kStopRequested);
    }
    return;
  }
  ShellSession* session = sessions_.find(hdr.sid);
  if (session == nullptr) {
    reply(hdr, wire::status::kError, "session not found");
    return;
  }
  // Answered by the session's final `stop` (status 1) once every process is gone.
  session->stop(EndReason::kStopRequested);
}

void ShellPlugin::handle_pong(const protocol::ProtoMsg& msg) {
  if (ShellSession* session = sessions_.find(msg.hdr.sid)) {
    session->pong();
  }
}

void ShellPlugin::reply(const protocol::ProtoHdr& request, std::int64_t status,
                        std::string_view text) {
  protocol::ProtoMsg msg = protocol::make_msg(
      protocol::proto::kShell, request.typ.empty() ? std::string(wire::typ::kShell) : request.typ,
      request.sid.size() > wire::kMaxSidBytes ? std::string() : request.sid,
      {{std::string(wire::prop::kStatus), status}}, protocol::Bytes(text.begin(), text.end()));
  (void)outbound_.send(msg, daemon::Priority::kControl);
}

void ShellPlugin::stop_all(EndReason reason) {
  for (const std::string& sid : sessions_.sids()) {
    if (ShellSession* session = sessions_.find(sid)) {
      session->stop(reason);
    }
  }
}

void ShellPlugin::on_disconnected() {
  stop_all(EndReason::kLinkDown);
}

void ShellPlugin::on_session_closed(std::string_view sid) {
  ShellSession* session = sessions_.find(sid);
  if (session == nullptr) {
    return;  // not a shell's sid
  }
  if (auto entry = audit_.find(sid); entry != audit_.end() && !session->ending()) {
    entry->second.closed_by_backend = true;
  }
  session->stop(EndReason::kStopRequested);
}

void ShellPlugin::on_shutdown() {
  stop_all(EndReason::kShutdown);
}

}  // namespace tether::plugins::shell
