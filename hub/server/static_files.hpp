// The web UI's files under hub.web-root: which request paths map to which file
// and content type. Deliberately narrow: a short list of extensions, no dot
// files, no "..", nothing but [A-Za-z0-9/._-]; anything else is 404.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace tether::hub {

// Headers sent with every static file (lws wants them CRLF-terminated).
extern const char* const kStaticHeaders;

struct StaticFile {
  std::string path;  // web_root + request path, a regular file
  const char* mime;
};

// The file to serve for `request_path` ("/" is /index.html), or nullopt (404).
std::optional<StaticFile> resolve_static(const std::string& web_root, std::string request_path);

// The parts of resolve_static that do not look at the file system.
bool safe_static_path(std::string_view path);
const char* mime_type(std::string_view path);  // nullptr: not served

}  // namespace tether::hub
