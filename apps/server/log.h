// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
//
// Server logging: diagnostics to stderr, one access line per request to stdout (buffered; flushed
// about once a second and at exit). Neither ever contains an admin token: the access line carries
// the method, path and query (a query that names a token, secret or password is redacted) and no
// headers.

#ifndef CIDROT_SERVER_LOG_H_
#define CIDROT_SERVER_LOG_H_

#include <string>
#include <string_view>

#include "cidrot_app/config.h"

namespace cidrot::server {

using app::LogLevel;

class Logger {
 public:
  explicit Logger(LogLevel level) : level_(level) {}

  bool enabled(LogLevel level) const noexcept {
    return level_ != LogLevel::kOff && static_cast<int>(level) >= static_cast<int>(level_);
  }
  // "2026-11-21T17:00:00.123Z WARNING message" on stderr.
  void log(LogLevel level, std::string_view message) const;
  // An access line on stdout (at INFO and below).
  void access(std::string_view remote, std::string_view method, std::string_view target,
              unsigned status, std::size_t bytes, double millis) const;
  // A line on stdout, flushed at once (startup banner: scripts and tests read it).
  void banner(std::string_view line) const;
  void flush() const;

 private:
  LogLevel level_;
};

// `target` with a query that mentions a credential replaced by "?<redacted>".
std::string redact_target(std::string_view target);

// Current UTC time as "2026-11-21T17:00:00.123Z".
std::string now_iso8601();

}  // namespace cidrot::server

#endif  // CIDROT_SERVER_LOG_H_
