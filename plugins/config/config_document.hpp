// The stored configuration and what a `set` does to it (wire.md section 5.2), as
// plain values with no loop, store or bus, so that the rules are tested on their own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "protocol/config.hpp"
#include "protocol/result.hpp"
#include "protocol/value.hpp"

namespace tether::plugins::config {

// Bounds on what the backend may store (config.max-bytes, config.max-depth).
struct ConfigLimits {
  // Encoded size of the whole stored document (version and values).
  std::size_t max_bytes = std::size_t{1} << 20U;
  // Nesting of the values: a scalar directly under `values` is depth 0, a map or
  // array holding scalars is depth 1, and so on.
  std::size_t max_depth = 16;
};

// The config in force: its version and its values (never a nil at the top level:
// a nil deletes its key).
struct ConfigDocument {
  std::uint64_t version = 0;
  protocol::Map values;

  // The stored form is the `current` body: {version, values}.
  protocol::Bytes encode() const;
  static Result<ConfigDocument> decode(const protocol::Bytes& bytes);
  friend bool operator==(const ConfigDocument&, const ConfigDocument&) = default;
};

// What one `set` changes: the document to store, and what Changed announces.
struct ConfigChange {
  ConfigDocument next;
  // The keys whose value is new or different, with their new values.
  protocol::Map changed;
  // The keys that were present and are gone.
  std::vector<std::string> removed;
};

// Checks the values of a `set` against the limits (depth; the type rules are the
// decoder's: extension types never decode). kInvalidArgument with a sentence.
Status check_values(const protocol::Map& values, const ConfigLimits& limits);

// Applies `set` to `current`: merge (a nil deletes its key) or replace (nils are
// ignored). Refuses, with kInvalidArgument, values over the limits and a result
// whose encoding exceeds max_bytes. Does not look at the versions: the caller
// decides whether the set is new.
Result<ConfigChange> apply_set(const ConfigDocument& current, const protocol::ConfigSet& set,
                               const ConfigLimits& limits);

}  // namespace tether::plugins::config
