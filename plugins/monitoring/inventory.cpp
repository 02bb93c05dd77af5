#include "plugins/monitoring/inventory.hpp"

#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <utility>

#include "daemon/process/run_to_completion.hpp"

namespace tether::plugins::monitoring {
namespace {

using protocol::Array;
using protocol::Map;
using protocol::Value;

std::string trim_newline(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

std::string unquote(std::string value) {
  if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
      value.back() == value.front()) {
    return value.substr(1, value.size() - 2);
  }
  return value;
}

// os-release(5): KEY=value lines, values optionally quoted.
std::map<std::string, std::string> read_os_release() {
  std::map<std::string, std::string> fields;
  std::ifstream file("/etc/os-release");
  if (!file) file.open("/usr/lib/os-release");
  std::string line;
  while (std::getline(file, line)) {
    const auto equals = line.find('=');
    if (equals == std::string::npos || line.empty() || line[0] == '#') continue;
    fields[line.substr(0, equals)] = unquote(trim_newline(line.substr(equals + 1)));
  }
  return fields;
}

// Adds `key` = `value`, turning a repeated key into an array of its values.
void add_entry(Map& entries, std::string key, std::string value) {
  for (auto& [existing, current] : entries) {
    if (existing != key) continue;
    if (auto* list = current.as_array()) {
      list->emplace_back(std::move(value));
    } else {
      current = Value(Array{std::move(current), Value(std::move(value))});
    }
    return;
  }
  entries.emplace_back(std::move(key), Value(std::move(value)));
}

struct ScriptRun {
  std::string output;
  std::string problem;  // empty when the script ran and exited 0
};

ScriptRun run_script(const std::string& path, const InventoryOptions& options) {
  ScriptRun run;
  process::ProgramRun program;
  program.argv = {path};
  program.timeout = options.script_timeout;
  program.max_output = options.max_output;
  program.keep = process::ProgramRun::Keep::kHead;
  program.capture_stderr = false;
  auto ran = process::run_to_completion(program);
  if (!ran.ok()) {
    run.problem = path + ": cannot run it: " + ran.error().message();
  } else if (ran->ended == process::ProgramOutcome::Ended::kTimedOut) {
    run.problem = path + ": killed after " + std::to_string(options.script_timeout.count()) +
                  " ms (monitoring.inventory-timeout)";
  } else if (!ran->succeeded()) {
    run.problem = path + ": " + ran->describe(options.script_timeout) + "; its output is ignored";
  } else {
    run.output = std::move(ran->output);
  }
  return run;
}

}  // namespace

void add_inventory_lines(const std::string& output, Map& entries) {
  std::istringstream lines(output);
  std::string line;
  while (std::getline(lines, line)) {
    line = trim_newline(line);
    const auto equals = line.find('=');
    if (equals == std::string::npos || equals == 0) continue;
    add_entry(entries, line.substr(0, equals), line.substr(equals + 1));
  }
}

Inventory collect_inventory(const InventoryOptions& options) {
  Inventory inventory;
  auto os = read_os_release();
  Map builtin;
  builtin.emplace_back("os", Value(os.count("PRETTY_NAME") ? os["PRETTY_NAME"] : os["NAME"]));
  builtin.emplace_back("os_id", Value(os["ID"]));
  builtin.emplace_back("os_version", Value(os["VERSION_ID"]));
  utsname names{};
  if (uname(&names) == 0) {
    builtin.emplace_back("kernel", Value(std::string(names.release)));
    builtin.emplace_back("hostname", Value(std::string(names.nodename)));
    builtin.emplace_back("architecture", Value(std::string(names.machine)));
  }

  Map scripted;
  std::error_code error;
  std::vector<std::string> scripts;
  for (const auto& entry : std::filesystem::directory_iterator(options.directory, error)) {
    if (!entry.is_regular_file(error)) continue;
    if (access(entry.path().c_str(), X_OK) != 0) continue;
    scripts.push_back(entry.path().string());
  }
  std::sort(scripts.begin(), scripts.end());
  for (const auto& script : scripts) {
    auto run = run_script(script, options);
    if (!run.problem.empty()) {
      inventory.problems.push_back(run.problem);
      continue;
    }
    add_inventory_lines(run.output, scripted);
  }

  inventory.entries = std::move(builtin);
  for (auto& [key, value] : scripted) {
    if (protocol::find(inventory.entries, key) != nullptr) {
      inventory.problems.push_back("inventory key '" + key +
                                   "' from a script is built in; the script's value is ignored");
      continue;
    }
    inventory.entries.emplace_back(key, std::move(value));
  }
  return inventory;
}

std::string read_boot_id() {
  std::ifstream file("/proc/sys/kernel/random/boot_id");
  std::string id;
  std::getline(file, id);
  return trim_newline(id);
}

std::uint64_t read_uptime_seconds() {
  std::ifstream file("/proc/uptime");
  double seconds = 0;
  if (!(file >> seconds) || seconds < 0) return 0;
  return static_cast<std::uint64_t>(seconds);
}

}  // namespace tether::plugins::monitoring
