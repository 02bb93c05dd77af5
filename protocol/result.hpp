// Errors as values. Nothing in tether throws across a layer boundary or the event
// loop: a fallible function returns Result<T>, and the error carries enough context
// (what was being done, with what) for the one place that logs it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace tether {

// What kind of failure an Error is, so that a boundary (the D-Bus service, a reply
// on the wire, an exit code) can classify it without parsing the sentence. The
// names of the first five are the D-Bus contract's io.tether.Error.<Name>.
enum class ErrorCode : std::uint8_t {
  kInternal,         // unclassified, or a bug: nothing the caller did
  kInvalidArgument,  // the caller's input is malformed or out of range
  kNotFound,         // the thing named does not exist (or is not the caller's)
  kBusy,             // a limit is reached or the resource is held; try later
  kStorageFailure,   // the durable store could not read or commit
  kAccessDenied,     // the caller may not do this
  kIo,               // a system call on a file, socket or process failed
  kProtocol,         // a peer broke the wire contract
  kUnavailable,      // not connected, not configured, or shutting down
};

// "Internal", "InvalidArgument", "NotFound", "Busy", "StorageFailure",
// "AccessDenied", "Io", "Protocol", "Unavailable".
constexpr std::string_view error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return "InvalidArgument";
    case ErrorCode::kNotFound:
      return "NotFound";
    case ErrorCode::kBusy:
      return "Busy";
    case ErrorCode::kStorageFailure:
      return "StorageFailure";
    case ErrorCode::kAccessDenied:
      return "AccessDenied";
    case ErrorCode::kIo:
      return "Io";
    case ErrorCode::kProtocol:
      return "Protocol";
    case ErrorCode::kUnavailable:
      return "Unavailable";
    case ErrorCode::kInternal:
      break;
  }
  return "Internal";
}

// A failure with a kind and a human-readable sentence. The sentence grows outward
// as the error travels up ("decoding config set: values: not a map"); the kind is
// set where the failure is understood and kept by wrap().
class Error {
 public:
  Error() = default;
  explicit Error(std::string message) : message_(std::move(message)) {}
  Error(ErrorCode code, std::string message) : message_(std::move(message)), code_(code) {}

  const std::string& message() const { return message_; }
  ErrorCode code() const { return code_; }

  // Returns a copy whose message is prefixed with `what`, for adding context as
  // an error crosses a layer: return err.wrap("reading token file").
  Error wrap(const std::string& what) const { return Error(code_, what + ": " + message_); }

 private:
  std::string message_;
  ErrorCode code_ = ErrorCode::kInternal;
};

// Either a value or an Error. Deliberately small: C++20 has no std::expected.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

// Success-or-error for operations that produce nothing.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)), failed_(true) {}  // NOLINT: implicit by design

  static Status Ok() { return {}; }

  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool failed_ = false;
};

}  // namespace tether
