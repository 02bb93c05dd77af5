#include "hub/server/static_files.hpp"

#include <sys/stat.h>

#include <utility>

namespace tether::hub {

const char* const kStaticHeaders =
    "x-content-type-options: nosniff\x0d\x0a"
    "cache-control: no-cache\x0d\x0a"
    "referrer-policy: no-referrer\x0d\x0a"
    "x-frame-options: DENY\x0d\x0a"
    "content-security-policy: default-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'\x0d\x0a";

const char* mime_type(std::string_view path) {
  auto ends = [&](std::string_view ext) {
    return path.size() >= ext.size() && path.substr(path.size() - ext.size()) == ext;
  };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".js") || ends(".mjs")) return "text/javascript; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".svg")) return "image/svg+xml";
  if (ends(".png")) return "image/png";
  if (ends(".ico")) return "image/x-icon";
  if (ends(".json") || ends(".map")) return "application/json";
  if (ends(".woff2")) return "font/woff2";
  return nullptr;
}

bool safe_static_path(std::string_view path) {
  if (path.empty() || path[0] != '/' || path.size() > 256) return false;
  if (path.find("..") != std::string_view::npos || path.find("//") != std::string_view::npos ||
      path.find("/.") != std::string_view::npos) {
    return false;
  }
  for (char c : path) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '/' || c == '.' || c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

std::optional<StaticFile> resolve_static(const std::string& web_root, std::string request_path) {
  if (request_path == "/") request_path = "/index.html";
  const char* mime = safe_static_path(request_path) ? mime_type(request_path) : nullptr;
  if (mime == nullptr) return std::nullopt;
  std::string file = web_root + request_path;
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  return StaticFile{std::move(file), mime};
}

}  // namespace tether::hub
