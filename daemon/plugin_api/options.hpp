// Declaring and reading an options section (spec/daemon.md's `section.key` names),
// without Boost in sight. A plugin owns its section: it declares each key with its
// default and help text (what --help prints), and reads the values back typed
// through an OptionReader, which reports every problem naming the option exactly
// ("shell.idle-timeout: not a number: 'abc'"). The daemon's parser does the rest:
// the command line, the --config file, unknown options, --help and --check-config.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tether::daemon {

// Every option given, on the command line or in the file, by full name
// ("shell.max-sessions") with its text as given. Options not given are absent.
using OptionValues = std::map<std::string, std::string, std::less<>>;

struct OptionDecl {
  std::string key;                          // within the section: "idle-timeout"
  std::optional<std::string> default_text;  // shown by --help; nullopt: none
  std::string help;                         // one line, what the option means
};

class OptionReader;

// One [section] of the configuration.
struct OptionSection {
  std::string name;  // "shell"; a plugin's section is named like the plugin
  std::vector<OptionDecl> options;
  // Reads every key of the section through the reader, so that each problem is
  // reported. --check-config calls it without building anything, so it must not
  // have effects beyond reading (it may look at files and users, as a check does).
  // Null for the daemon's own sections, which its parser checks itself.
  std::function<void(OptionReader&)> check;

  // The declared default text of `key`, if any.
  std::optional<std::string> default_of(std::string_view key) const;
};

// Upper bounds that keep every user-supplied number within what the daemon can
// represent and schedule.
inline constexpr std::size_t kMaxOptionCount = std::size_t{1} << 30;
inline constexpr double kMaxOptionSeconds = 10.0 * 365 * 24 * 3600;

// Reads one section's values. Each reading function leaves `out` untouched when
// the option was not given (so `out` holds the default) or is invalid (and then a
// problem naming the option is recorded).
class OptionReader {
 public:
  // `section` may be empty: keys are then full names. `problems` collects one line
  // per problem and must outlive the reader.
  OptionReader(const OptionValues& values, std::string section, std::vector<std::string>& problems);

  const std::string& section() const { return section_; }
  // "section.key".
  std::string name(std::string_view key) const;
  // The text given for `key`, or nullopt when it was not given (or given empty).
  std::optional<std::string> text(std::string_view key) const;
  // Records "section.key: what".
  void problem(std::string_view key, std::string_view what);
  // Problems recorded through this reader.
  std::size_t problem_count() const { return count_; }
  bool ok() const { return count_ == 0; }

  void string(std::string_view key, std::string& out);
  // A whole number in [min, max]; refuses garbage, signs, and hex.
  void count(std::string_view key, std::size_t& out, std::size_t min = 0,
             std::size_t max = kMaxOptionCount);
  // Seconds, whole or with a fraction ("0.25"); `positive` refuses zero.
  void seconds(std::string_view key, std::chrono::milliseconds& out, bool positive);
  // Whole seconds; zero allowed (commonly "off").
  void whole_seconds(std::string_view key, std::chrono::seconds& out);
  // true/yes/on/1 or false/no/off/0.
  void boolean(std::string_view key, bool& out);
  // One of the labels; the problem lists them all.
  template <typename T>
  void choice(std::string_view key, T& out,
              std::initializer_list<std::pair<const char*, T>> choices) {
    auto v = text(key);
    if (!v) return;
    std::string known;
    for (const auto& [label, value] : choices) {
      if (*v == label) {
        out = value;
        return;
      }
      known += known.empty() ? label : std::string(", ") + label;
    }
    problem(key, "unknown choice '" + *v + "' (one of: " + known + ")");
  }
  // An absolute path (not checked for existence).
  void absolute_path(std::string_view key, std::string& out);
  // A file that must exist, be regular and readable now (certificates, keys).
  void existing_file(std::string_view key, std::string& out);
  void check_file(std::string_view key, const std::string& path);

 private:
  const OptionValues& values_;
  std::string section_;
  std::vector<std::string>& problems_;
  std::size_t count_ = 0;
};

}  // namespace tether::daemon
