#include "hub/json.hpp"

#include <cstdint>

namespace tether::hub::json {

namespace {

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Length of the valid UTF-8 sequence at s[i], or 0.
std::size_t utf8_len(std::string_view s, std::size_t i) {
  const auto b = static_cast<unsigned char>(s[i]);
  std::size_t n = b < 0x80           ? 1
                  : (b >> 5) == 0x6  ? 2
                  : (b >> 4) == 0xE  ? 3
                  : (b >> 3) == 0x1E ? 4
                                     : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
  }
  return n;
}

class Parser {
 public:
  explicit Parser(std::string_view t) : t_(t) {}

  Result<std::map<std::string, std::string>> object() {
    std::map<std::string, std::string> out;
    ws();
    if (!eat('{')) return Error("expected an object");
    ws();
    if (eat('}')) return finish(std::move(out));
    for (;;) {
      ws();
      auto key = string();
      if (!key.ok()) return key.error();
      ws();
      if (!eat(':')) return Error("expected ':'");
      ws();
      auto value = string();
      if (!value.ok()) return value.error();
      if (!out.emplace(std::move(*key), std::move(*value)).second) return Error("duplicate key");
      ws();
      if (eat(',')) continue;
      if (eat('}')) return finish(std::move(out));
      return Error("expected ',' or '}'");
    }
  }

 private:
  Result<std::map<std::string, std::string>> finish(std::map<std::string, std::string> out) {
    ws();
    if (i_ != t_.size()) return Error("trailing characters");
    return out;
  }
  void ws() {
    while (i_ < t_.size() &&
           (t_[i_] == ' ' || t_[i_] == '\t' || t_[i_] == '\n' || t_[i_] == '\r')) {
      ++i_;
    }
  }
  bool eat(char c) {
    if (i_ < t_.size() && t_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  Result<std::uint32_t> hex4() {
    if (i_ + 4 > t_.size()) return Error("truncated \\u escape");
    std::uint32_t v = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = t_[i_++];
      v <<= 4;
      if (c >= '0' && c <= '9')
        v |= static_cast<std::uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f')
        v |= static_cast<std::uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        v |= static_cast<std::uint32_t>(c - 'A' + 10);
      else
        return Error("bad \\u escape");
    }
    return v;
  }
  Result<std::string> string() {
    if (!eat('"')) return Error("expected a string");
    std::string out;
    while (i_ < t_.size()) {
      const char c = t_[i_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) return Error("control character in string");
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      if (i_ >= t_.size()) break;
      const char e = t_[i_++];
      switch (e) {
        case '"':
          out.push_back('"');
          break;
        case '\\':
          out.push_back('\\');
          break;
        case '/':
          out.push_back('/');
          break;
        case 'b':
          out.push_back('\b');
          break;
        case 'f':
          out.push_back('\f');
          break;
        case 'n':
          out.push_back('\n');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case 't':
          out.push_back('\t');
          break;
        case 'u': {
          auto cp = hex4();
          if (!cp.ok()) return cp.error();
          std::uint32_t v = *cp;
          if (v >= 0xD800 && v < 0xDC00) {
            if (!eat('\\') || !eat('u')) return Error("lone surrogate");
            auto lo = hex4();
            if (!lo.ok()) return lo.error();
            if (*lo < 0xDC00 || *lo > 0xDFFF) return Error("bad surrogate pair");
            v = 0x10000 + ((v - 0xD800) << 10) + (*lo - 0xDC00);
          } else if (v >= 0xDC00 && v <= 0xDFFF) {
            return Error("lone surrogate");
          }
          append_utf8(out, v);
          break;
        }
        default:
          return Error("bad escape");
      }
    }
    return Error("unterminated string");
  }

  std::string_view t_;
  std::size_t i_ = 0;
};

}  // namespace

std::string quote(std::string_view s) {
  std::string out;
  append_quoted(out, s);
  return out;
}

void append_quoted(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
      ++i;
    } else if (c < 0x20) {
      out += "\\u00";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
      ++i;
    } else if (c < 0x80) {
      out.push_back(static_cast<char>(c));
      ++i;
    } else if (const std::size_t n = utf8_len(s, i); n != 0) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      out += "\\ufffd";
      ++i;
    }
  }
  out.push_back('"');
}

Result<std::map<std::string, std::string>> parse_flat_object(std::string_view text) {
  return Parser(text).object();
}

}  // namespace tether::hub::json
