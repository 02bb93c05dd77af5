// The config service's JSON: an operator's push body checked and turned into the
// next desired document, and documents converted to the msgpack map that goes to
// the device (and the device's msgpack back to JSON). Pure functions, so that
// every rule is tested on its own.
//
// JSON -> msgpack: objects become maps, arrays arrays, strings str, true/false
// bool, integers int (uint above INT64_MAX), other numbers float64, null nil.
// msgpack -> JSON: the inverse; bin becomes a base64 string and NaN / infinities
// null (JSON has no words for them), so a device's bin value does not come back
// as bin if a merge rebases on it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "protocol/result.hpp"
#include "protocol/value.hpp"

namespace tether::hub::config_json {

// Bounds on what an operator may push. max_depth is the device's default
// config.max-depth: a scalar directly under `values` is depth 0.
struct Limits {
  std::size_t max_body = 16384;      // bytes of the POST body (the API's own cap)
  std::size_t max_document = 65536;  // bytes of the resulting document, as msgpack
  std::size_t max_depth = 16;        // nesting below a top-level key
  std::size_t max_keys = 1024;       // top-level keys of the document
  std::size_t max_key_bytes = 256;   // length of a top-level key
};

// An operator's push: {"values": {...}, "replace": bool?, "expect_version": uint?}.
struct Push {
  std::string values_json;  // the `values` object, re-serialised
  bool replace = false;
  std::optional<std::uint64_t> expect_version;
};

// Checks the body (kInvalidArgument with a sentence for the operator: not JSON,
// truncated, wrong types, unknown fields, too deep, nulls in a replace).
Result<Push> parse_push(std::string_view body, const Limits& limits = {});

// The next document: `values` merged into `base` (a null deletes its top-level
// key), or `values` itself for a replace. Checks the result's size and key bounds.
// Both are JSON objects; the answer is the re-serialised document.
Result<std::string> next_document(const std::string& base_json, const Push& push,
                                  const Limits& limits = {});

// A stored document (a JSON object) as the msgpack map sent in `set`.
Result<protocol::Map> to_msgpack(const std::string& document_json);

// A msgpack map (a device's `current` values) as a JSON object.
std::string to_json(const protocol::Map& values);

// Whether `json` is a JSON object, for documents read back from the store.
bool is_object(const std::string& json);

}  // namespace tether::hub::config_json
