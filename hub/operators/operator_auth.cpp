#include "hub/operators/operator_auth.hpp"

#include <utility>

#include "hub/json.hpp"

namespace tether::hub {

namespace {

// A well-formed hash of a password nobody knows, checked when a login names no
// account, so that such a login costs the same as a wrong password. Same
// iteration count as hash_password's default.
constexpr const char* kStandInHash =
    "pbkdf2-sha256$200000$00000000000000000000000000000000$"
    "0000000000000000000000000000000000000000000000000000000000000000";

std::optional<std::string> bearer(const std::optional<std::string>& authorization) {
  constexpr std::string_view kBearer = "Bearer ";
  if (!authorization || authorization->size() <= kBearer.size() ||
      authorization->compare(0, kBearer.size(), kBearer) != 0) {
    return std::nullopt;
  }
  std::string token = authorization->substr(kBearer.size());
  while (!token.empty() && token.back() == ' ') token.pop_back();
  while (!token.empty() && token.front() == ' ') token.erase(0, 1);
  return token;
}

}  // namespace

HttpResponse json_error(unsigned status, const std::string& message) {
  return HttpResponse{status, "{\"error\":" + json::quote(message) + "}", {}};
}

std::string OperatorAuth::session_cookie(const std::string& value, std::uint32_t max_age) const {
  return std::string(kSessionCookie) + "=" + value +
         "; Path=/; Max-Age=" + std::to_string(max_age) + "; HttpOnly; Secure; SameSite=Strict";
}

std::optional<Caller> OperatorAuth::caller_for(const std::optional<std::string>& cookie,
                                               const std::optional<std::string>& authorization,
                                               bool* via_token) {
  if (via_token != nullptr) *via_token = false;
  if (cookie && !cookie->empty()) {
    if (auto user = sessions_.user_of(*cookie)) {
      // The role is the account's now, not at login: a change applies at once.
      return accounts_.caller_for_user(*user);
    }
  }
  if (auto token = bearer(authorization)) {
    if (via_token != nullptr) *via_token = true;
    return accounts_.caller_for_token(*token);
  }
  return std::nullopt;
}

void OperatorAuth::login(const HttpRequest& req, const HttpReply& done) {
  if (req.content_type.rfind("application/json", 0) != 0) {
    done(json_error(415, "send application/json"));
    return;
  }
  auto fields = json::parse_flat_object(req.body);
  if (!fields.ok()) {
    done(json_error(400, "bad request: " + fields.error().message()));
    return;
  }
  const auto user = fields->find("username");
  const auto pass = fields->find("password");
  if (user == fields->end() || pass == fields->end()) {
    done(json_error(400, "username and password are required"));
    return;
  }
  const std::string name = user->second.substr(0, 64);
  const std::string address = req.peer;
  if (!limiter_.begin(address, name, LoginLimiter::Clock::now())) {
    audit_.record({name, "login", {}, "denied", "too many attempts", address, 0});
    done(json_error(429, "too many login attempts; wait a moment"));
    return;
  }
  const Account* account = accounts_.find(name);
  if (account == nullptr) account = find_after_reload(name);
  // Constant time in the name: the stand-in is checked for a name nobody has.
  std::string stored = account != nullptr ? account->password_hash : kStandInHash;
  const bool queued = passwords_.verify(
      pass->second, std::move(stored), [this, name, address, done](Result<bool> ok) {
        if (!ok.ok()) {
          log_.error(ok.error().wrap("checking the password of " + name).message());
          audit_.record({name, "login", {}, "failed", "password check failed", address, 0});
          done(json_error(500, "internal error"));
          return;
        }
        // Looked up again: the account may have changed during the check.
        const Account* now = accounts_.find(name);
        const bool name_ok = now != nullptr && constant_time_equal(now->name, name);
        if (!*ok || !name_ok) {
          log_.info("failed login attempt");
          audit_.record({name, "login", {}, "failed", "wrong name or password", address, 0});
          done(json_error(401, "invalid username or password"));
          return;
        }
        if (now->disabled) {
          audit_.record({name, "login", {}, "denied", "account disabled", address, 0});
          done(json_error(403, "this account is disabled"));
          return;
        }
        auto session = sessions_.create(name);
        if (!session.ok()) {
          log_.error(session.error().message());
          done(json_error(500, "internal error"));
          return;
        }
        limiter_.succeeded(address, name, LoginLimiter::Clock::now());
        log_.info("operator " + name + " logged in");
        audit_.record({name, "login", {}, "ok", std::string(role_name(now->role)), address, 0});
        done(HttpResponse{200,
                          "{\"user\":" + json::quote(name) +
                              ",\"role\":" + json::quote(std::string(role_name(now->role))) + "}",
                          session_cookie(*session, session_ttl_s_)});
      });
  if (!queued) {
    audit_.record({name, "login", {}, "failed", "hub busy", address, 0});
    done(json_error(503, "too many logins in progress; try again"));
  }
}

const Account* OperatorAuth::find_after_reload(const std::string& name) {
  const auto now = LoginLimiter::Clock::now();
  if (reloaded_for_unknown_name_ && now - *reloaded_for_unknown_name_ < kUnknownNameReload) {
    return nullptr;
  }
  reloaded_for_unknown_name_ = now;
  if (auto s = refresh(false); !s.ok()) {
    log_.error(s.error().wrap("reading the operator accounts again").message());
    return nullptr;
  }
  return accounts_.find(name);
}

HttpResponse OperatorAuth::logout(const HttpRequest& req, const Caller& caller) {
  if (req.session_cookie) {
    if (auto s = sessions_.remove(*req.session_cookie); !s.ok()) {
      log_.error(s.error().wrap("logout of " + caller.user).message());
      return json_error(500, "internal error");
    }
  }
  audit_.record({caller.user, "logout", {}, "ok", {}, req.peer, 0});
  return HttpResponse{200, "{}", session_cookie("", 0)};
}

void OperatorAuth::end_sessions_of(const std::string& user, const std::string& why) {
  if (auto s = sessions_.remove_user(user); !s.ok()) {
    // A row left behind grants nothing the account does not have now (the role
    // is read on every request, a disabled account is refused); it expires.
    log_.error(s.error().wrap(why + ": ending the sessions of " + user).message());
  }
  operators_.disconnect_user(user, why);
}

void OperatorAuth::set_news(OperatorNews* news) {
  accounts_.set_news(news);
  sessions_.set_news(news);
}

Status OperatorAuth::refresh(bool forget_sessions) {
  auto ended = accounts_.reload();
  if (!ended.ok()) return ended.error();
  // The instance that made the change removes the rows and tells that too.
  for (const EndedAccount& e : *ended) sessions_of_user_ended(e.name, e.why);
  if (forget_sessions) sessions_.forget_all();
  return Status::Ok();
}

void OperatorAuth::sessions_of_user_ended(const std::string& user, const std::string& why) {
  sessions_.forget_user(user);
  operators_.disconnect_user(user, why);
}

}  // namespace tether::hub
