// What the device says about itself in monitoring `status` (wire.md 5.1): its OS
// release, kernel, hostname and architecture, plus whatever the device's own
// inventory scripts add. Like Mender's inventory scripts, every executable file in
// the inventory folder is run with no arguments, and each `key=value` line of its
// output becomes an inventory entry (a key printed several times collects its values
// in an array). Scripts run one after another, each killed at its timeout, and only
// the first `max_output` bytes of each are read, so a hung or chatty script costs
// bounded time and memory.
//
// Everything here blocks (it reads /proc and /etc, forks, waits): call it through
// EventLoop::run_blocking, never on the loop.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "protocol/value.hpp"

namespace tether::plugins::monitoring {

struct InventoryOptions {
  // monitoring.inventory-dir; a folder that does not exist adds nothing.
  std::string directory = "/etc/tether/inventory.d";
  // monitoring.inventory-timeout: how long one script may run.
  std::chrono::milliseconds script_timeout{10000};
  // Bytes of one script's output that are read; the rest is ignored.
  std::size_t max_output = 65536;
};

struct Inventory {
  protocol::Map entries;
  // One sentence per script that failed, timed out or printed nothing usable, for
  // the caller to log.
  std::vector<std::string> problems;
};

// The built-in entries (os, os_id, os_version, kernel, hostname, architecture) and
// every script's entries; a script's key never replaces a built-in one.
Inventory collect_inventory(const InventoryOptions& options);

// Parses one script's output: `key=value` lines; blank lines, lines without `=` and
// lines with an empty key are skipped; a trailing \r is dropped.
void add_inventory_lines(const std::string& output, protocol::Map& entries);

// /proc/sys/kernel/random/boot_id without its newline; empty when unreadable.
std::string read_boot_id();
// Whole seconds since boot (/proc/uptime); 0 when unreadable.
std::uint64_t read_uptime_seconds();

}  // namespace tether::plugins::monitoring
