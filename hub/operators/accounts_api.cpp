#include "hub/operators/accounts_api.hpp"

#include <charconv>
#include <utility>

#include "hub/json.hpp"

namespace tether::hub {

namespace {

constexpr std::string_view kAccounts = "/api/accounts";
constexpr std::string_view kTokens = "/api/tokens";
constexpr std::size_t kMaxPasswordLength = 1024;

unsigned status_for(const Error& e) {
  switch (e.code()) {
    case ErrorCode::kInvalidArgument:
      return 400;
    case ErrorCode::kNotFound:
      return 404;
    case ErrorCode::kBusy:
      return 409;
    case ErrorCode::kAccessDenied:
      return 403;
    default:
      return 500;
  }
}

std::string account_json(const Account& a, bool from_config) {
  return "{\"name\":" + json::quote(a.name) +
         ",\"role\":" + json::quote(std::string(role_name(a.role))) +
         ",\"disabled\":" + (a.disabled ? "true" : "false") +
         ",\"created\":" + std::to_string(a.created_ms) +
         ",\"config\":" + (from_config ? "true" : "false") + "}";
}

std::string token_json(const ApiToken& t) {
  return "{\"id\":" + json::quote(t.id) + ",\"user\":" + json::quote(t.user) +
         ",\"role\":" + json::quote(std::string(role_name(t.role))) +
         ",\"label\":" + json::quote(t.label) + ",\"created\":" + std::to_string(t.created_ms) +
         "}";
}

std::string audit_json(const AuditRecord& r) {
  const AuditEvent& e = r.event;
  return "{\"id\":" + std::to_string(r.id) + ",\"at\":" + std::to_string(e.at_ms) +
         ",\"user\":" + json::quote(e.user) + ",\"action\":" + json::quote(e.action) +
         ",\"device\":" + json::quote(e.device) + ",\"outcome\":" + json::quote(e.outcome) +
         ",\"detail\":" + json::quote(e.detail) + ",\"address\":" + json::quote(e.address) + "}";
}

std::optional<std::int64_t> number(const std::map<std::string, std::string>& query, const char* key,
                                   bool* bad) {
  auto it = query.find(key);
  if (it == query.end() || it->second.empty()) return std::nullopt;
  std::int64_t v = 0;
  const auto& s = it->second;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v < 0) {
    *bad = true;
    return std::nullopt;
  }
  return v;
}

}  // namespace

bool AccountsApi::handle(const HttpRequest& req, const Caller& caller, bool via_token,
                         HttpReply& done) {
  const std::string& p = req.path;
  if (p == kAccounts || p.rfind(std::string(kAccounts) + "/", 0) == 0) {
    accounts_route(req, caller, done);
    return true;
  }
  if (p == kTokens || p.rfind(std::string(kTokens) + "/", 0) == 0) {
    tokens_route(req, caller, via_token, done);
    return true;
  }
  if (p == "/api/audit") {
    done(audit_route(req, caller));
    return true;
  }
  return false;
}

void AccountsApi::fail(const Status& status, const std::string& what, HttpReply& done) {
  const unsigned code = status_for(status.error());
  if (code == 500) log_.error(status.error().wrap(what).message());
  done(json_error(code, code == 500 ? "internal error" : status.error().message()));
}

void AccountsApi::accounts_route(const HttpRequest& req, const Caller& caller, HttpReply& done) {
  if (req.path == kAccounts) {
    if (!caller.may(Role::kAdmin)) return done(forbidden(Role::kAdmin));
    if (req.method == "GET") {
      std::string body = "[";
      for (const Account& a : accounts_.list()) {
        if (body.size() > 1) body += ",";
        body += account_json(a, accounts_.is_config_admin(a.name));
      }
      return done(HttpResponse{200, body + "]", {}});
    }
    if (req.method != "POST") return done(json_error(405, "use GET or POST"));
    auto fields = json::parse_flat_object(req.body);
    if (!fields.ok()) return done(json_error(400, "bad request: " + fields.error().message()));
    const std::string name = (*fields)["name"];
    const auto role = parse_role((*fields)["role"]);
    const std::string password = (*fields)["password"];
    if (!role) return done(json_error(400, "role must be viewer, operator or admin"));
    if (!valid_account_name(name)) {
      return done(json_error(400, "an account name is 1-64 of A-Z a-z 0-9 . _ @ -"));
    }
    if (password.size() < 8 || password.size() > kMaxPasswordLength) {
      return done(json_error(400, "a password has 8 to 1024 bytes"));
    }
    if (accounts_.find(name) != nullptr) {
      return done(json_error(409, "an account named " + name + " exists"));
    }
    const std::string by = caller.user;
    const std::string address = req.peer;
    const Role r = *role;
    if (!passwords_.hash(password,
                         [this, name, r, by, address, done](Result<std::string> hashed) mutable {
                           if (!hashed.ok())
                             return fail(hashed.error(), "hashing a password", done);
                           if (auto s = accounts_.create(name, r, *hashed); !s.ok()) {
                             audit_.record({by, "account.create", {}, "failed", name, address, 0});
                             return fail(s, "creating account " + name, done);
                           }
                           audit_.record({by,
                                          "account.create",
                                          {},
                                          "ok",
                                          name + " as " + std::string(role_name(r)),
                                          address,
                                          0});
                           done(HttpResponse{201, account_json(*accounts_.find(name), false), {}});
                         })) {
      done(json_error(503, "the hub is busy; try again"));
    }
    return;
  }
  // /api/accounts/{name}/{verb}
  const std::string rest = req.path.substr(kAccounts.size() + 1);
  const auto slash = rest.find('/');
  if (slash == std::string::npos) return done(json_error(404, "no such route"));
  const std::string name = rest.substr(0, slash);
  const std::string verb = rest.substr(slash + 1);
  if (req.method != "POST") return done(json_error(405, "use POST"));
  const bool self = name == caller.user;
  if (verb == "password") {
    if (!caller.may(Role::kAdmin) && !self) return done(forbidden(Role::kAdmin));
    auto fields = json::parse_flat_object(req.body);
    if (!fields.ok()) return done(json_error(400, "bad request: " + fields.error().message()));
    const std::string password = (*fields)["password"];
    if (password.size() < 8 || password.size() > kMaxPasswordLength) {
      return done(json_error(400, "a password has 8 to 1024 bytes"));
    }
    if (accounts_.find(name) == nullptr) return done(json_error(404, "no account named " + name));
    const std::string by = caller.user;
    const std::string address = req.peer;
    if (!passwords_.hash(
            password, [this, name, by, address, done](Result<std::string> hashed) mutable {
              if (!hashed.ok()) return fail(hashed.error(), "hashing a password", done);
              if (auto s = accounts_.set_password_hash(name, *hashed); !s.ok()) {
                audit_.record({by, "account.password", {}, "failed", name, address, 0});
                return fail(s, "changing the password of " + name, done);
              }
              audit_.record({by, "account.password", {}, "ok", name, address, 0});
              done(HttpResponse{200, "{}", {}});
            })) {
      done(json_error(503, "the hub is busy; try again"));
    }
    return;
  }
  if (!caller.may(Role::kAdmin)) return done(forbidden(Role::kAdmin));
  if (self && verb != "enable") {
    return done(json_error(400, "an admin cannot " + verb + " their own account"));
  }
  Status s = Status::Ok();
  std::string detail = name;
  std::string why;
  if (verb == "disable") {
    s = accounts_.set_disabled(name, true);
    why = "account disabled";
  } else if (verb == "enable") {
    s = accounts_.set_disabled(name, false);
  } else if (verb == "delete") {
    s = accounts_.remove(name);
    why = "account deleted";
  } else if (verb == "role") {
    auto fields = json::parse_flat_object(req.body);
    if (!fields.ok()) return done(json_error(400, "bad request: " + fields.error().message()));
    const auto role = parse_role((*fields)["role"]);
    if (!role) return done(json_error(400, "role must be viewer, operator or admin"));
    s = accounts_.set_role(name, *role);
    detail += " to " + std::string(role_name(*role));
    why = "account role changed";
  } else {
    return done(json_error(404, "no such route"));
  }
  if (!s.ok()) {
    audit_.record({caller.user, "account." + verb, {}, "failed", detail, req.peer, 0});
    return fail(s, verb + " account " + name, done);
  }
  // Sockets carry the role they had at the upgrade: they end with the change.
  if (!why.empty()) auth_.end_sessions_of(name, why);
  audit_.record({caller.user, "account." + verb, {}, "ok", detail, req.peer, 0});
  done(HttpResponse{200, "{}", {}});
}

void AccountsApi::tokens_route(const HttpRequest& req, const Caller& caller, bool via_token,
                               HttpReply& done) {
  if (req.path == kTokens) {
    if (req.method == "GET") {
      const bool all = req.query.count("all") != 0;
      if (all && !caller.may(Role::kAdmin)) return done(forbidden(Role::kAdmin));
      std::string body = "[";
      for (const ApiToken& t : accounts_.tokens(all ? std::string() : caller.user)) {
        if (body.size() > 1) body += ",";
        body += token_json(t);
      }
      return done(HttpResponse{200, body + "]", {}});
    }
    if (req.method != "POST") return done(json_error(405, "use GET or POST"));
    auto fields = json::parse_flat_object(req.body);
    if (!fields.ok()) return done(json_error(400, "bad request: " + fields.error().message()));
    std::string user = (*fields)["user"];
    if (user.empty()) user = caller.user;
    if (user != caller.user && !caller.may(Role::kAdmin)) return done(forbidden(Role::kAdmin));
    if (via_token) {
      return done(json_error(403, "forbidden: tokens are made from a login session"));
    }
    const std::string role_text = (*fields)["role"];
    const Account* owner = accounts_.find(user);
    if (owner == nullptr) return done(json_error(404, "no account named " + user));
    const auto role = role_text.empty() ? std::optional<Role>(owner->role) : parse_role(role_text);
    if (!role) return done(json_error(400, "role must be viewer, operator or admin"));
    auto made = accounts_.create_token(user, *role, (*fields)["label"]);
    if (!made.ok()) {
      audit_.record({caller.user, "token.create", {}, "failed", "for " + user, req.peer, 0});
      return fail(made.error(), "making a token", done);
    }
    audit_.record({caller.user,
                   "token.create",
                   {},
                   "ok",
                   "id=" + made->record.id + " for " + user + " as " +
                       std::string(role_name(made->record.role)),
                   req.peer,
                   0});
    std::string body = token_json(made->record);
    body.pop_back();
    body += ",\"token\":" + json::quote(made->token) + "}";
    return done(HttpResponse{201, std::move(body), {}});
  }
  // /api/tokens/{id}/revoke
  const std::string rest = req.path.substr(kTokens.size() + 1);
  const auto slash = rest.find('/');
  if (slash == std::string::npos || rest.substr(slash + 1) != "revoke") {
    return done(json_error(404, "no such route"));
  }
  if (req.method != "POST") return done(json_error(405, "use POST"));
  const std::string id = rest.substr(0, slash);
  const ApiToken* token = accounts_.token_by_id(id);
  if (token == nullptr) return done(json_error(404, "no such token"));
  const bool own = token->user == caller.user && !via_token;
  if (!own && !caller.may(Role::kAdmin)) return done(forbidden(Role::kAdmin));
  const std::string owner = token->user;
  if (auto s = accounts_.revoke_token(id); !s.ok()) return fail(s, "revoking a token", done);
  audit_.record({caller.user, "token.revoke", {}, "ok", "id=" + id + " of " + owner, req.peer, 0});
  done(HttpResponse{200, "{}", {}});
}

HttpResponse AccountsApi::audit_route(const HttpRequest& req, const Caller& caller) {
  if (!caller.may(Role::kAdmin)) return forbidden(Role::kAdmin);
  if (req.method != "GET") return json_error(405, "use GET");
  if (store_ == nullptr) return json_error(503, "no audit store");
  AuditQuery q;
  auto text = [&](const char* key) {
    auto it = req.query.find(key);
    return it == req.query.end() ? std::string() : it->second.substr(0, 200);
  };
  q.user = text("user");
  q.device = text("device");
  q.action = text("action");
  bool bad = false;
  q.from_ms = number(req.query, "from", &bad).value_or(0);
  q.to_ms = number(req.query, "to", &bad).value_or(0);
  q.before_id = number(req.query, "before", &bad).value_or(0);
  const bool jsonl = text("format") == "jsonl";
  q.limit = static_cast<std::size_t>(number(req.query, "limit", &bad).value_or(jsonl ? 5000 : 200));
  if (bad) return json_error(400, "from, to, before and limit are non-negative integers");
  auto records = store_->audit(q);
  if (!records.ok()) {
    log_.error(records.error().wrap("GET /api/audit").message());
    return json_error(500, "internal error");
  }
  std::string body;
  if (jsonl) {
    for (const auto& r : *records) body += audit_json(r) + "\n";
    HttpResponse res{200, std::move(body), {}};
    res.content_type = "application/x-ndjson";
    return res;
  }
  body = "[";
  for (const auto& r : *records) {
    if (body.size() > 1) body += ",";
    body += audit_json(r);
  }
  return HttpResponse{200, body + "]", {}};
}

}  // namespace tether::hub
