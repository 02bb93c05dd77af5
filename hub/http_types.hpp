// An HTTP request and response as the JSON API sees them, without any transport:
// the lws glue fills an HttpRequest and writes the HttpResponse back.
#pragma once

#include <map>
#include <optional>
#include <string>

namespace tether::hub {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string path;    // without the query string
  std::optional<std::string> session_cookie;
  std::string content_type;
  std::string body;
  // The query string's key=value pairs (URL-decoded; the last of a repeated key wins).
  std::map<std::string, std::string> query{};
  // The Authorization header ("Bearer <API token>"), when sent.
  std::optional<std::string> authorization{};
  // The client's address (for the login limits and the audit trail); "" unknown.
  std::string peer{};
};

struct HttpResponse {
  unsigned status = 200;
  std::string body;        // JSON
  std::string set_cookie;  // empty = none
  // The body's media type; JSON unless a route says otherwise (JSON lines export).
  std::string content_type = "application/json";
};

}  // namespace tether::hub
