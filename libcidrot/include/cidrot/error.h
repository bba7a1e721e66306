// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
//
// cidrot::Error is the one exception type the library throws. Expected outcomes (no caller-ID
// available, unknown lease id on release) are values, never exceptions; Error is for bad input and
// infrastructure faults.

#ifndef CIDROT_ERROR_H_
#define CIDROT_ERROR_H_

#include <stdexcept>
#include <string>

namespace cidrot {

enum class ErrorCode {
  kInvalidArgument,     // bad input; Error::field() names the offending field
  kNotFound,            // a named number/campaign does not exist where one is required
  kUnsupported,         // unknown URL scheme/option, or a backend not compiled in
  kBackendUnavailable,  // the store cannot be reached (connection refused, timeout)
  kCorrupt,             // the store holds data this version cannot read (newer schema, damage)
  kConflict,            // a concurrent change made the operation impossible; retrying may work
  kInternal,            // a bug or an unexpected fault
};

// Returns the stable snake_case name of `code`, e.g. "invalid_argument", "backend_unavailable".
// These names are part of the wire contract (HTTP bodies, CLI messages, Python exceptions).
const char* error_code_name(ErrorCode code) noexcept;

// Thrown by every fallible library call. what() is a complete one-line message that, for
// kInvalidArgument, starts with the field name ("destination: ..."). Copyable; thread-compatible.
class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message, std::string field = {});

  ErrorCode code() const noexcept { return code_; }
  // The input field at fault ("destination", "hourly_limit", "url", ...), or empty.
  const std::string& field() const noexcept { return field_; }

 private:
  ErrorCode code_;
  std::string field_;
};

}  // namespace cidrot

#endif  // CIDROT_ERROR_H_
