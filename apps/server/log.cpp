// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT

#include "log.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>

#include "cidrot/clock.h"
#include "codec.h"

namespace cidrot::server {

std::string now_iso8601() { return iso8601(std::chrono::system_clock::now()); }

std::string redact_target(std::string_view target) {
  const auto q = target.find('?');
  if (q == std::string_view::npos) return std::string(target);
  std::string lower(target.substr(q));
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const char* word : {"token", "secret", "password", "passwd", "auth"}) {
    if (lower.find(word) != std::string::npos)
      return std::string(target.substr(0, q)) + "?<redacted>";
  }
  return std::string(target);
}

void Logger::log(LogLevel level, std::string_view message) const {
  if (!enabled(level)) return;
  std::string line = now_iso8601();
  line += ' ';
  std::string name = app::log_level_name(level);
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  line += name;
  line += ' ';
  line += message;
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stderr);
}

void Logger::access(std::string_view remote, std::string_view method, std::string_view target,
                    unsigned status, std::size_t bytes, double millis) const {
  if (!enabled(LogLevel::kInfo)) return;
  std::string line;
  line.reserve(96 + target.size());
  line += now_iso8601();
  line += ' ';
  line += remote;
  line += " \"";
  line += method;
  line += ' ';
  // Control characters cannot reach here (the HTTP parser rejects them), but a quote could.
  for (char c : redact_target(target.substr(0, 512))) line += c == '"' ? '\'' : c;
  char tail[64];
  std::snprintf(tail, sizeof tail, "\" %u %zu %.3fms\n", status, bytes, millis);
  line += tail;
  std::fwrite(line.data(), 1, line.size(), stdout);
}

void Logger::banner(std::string_view line) const {
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

void Logger::flush() const {
  std::fflush(stdout);
  std::fflush(stderr);
}

}  // namespace cidrot::server
