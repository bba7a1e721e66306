// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT

#include "log.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>

#include "cidrot/clock.h"
#include "codec.h"

namespace cidrot::server {

std::string now_iso8601() { return iso8601(std::chrono::system_clock::now()); }

namespace {

char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool starts_with_lower(std::string_view s, std::string_view word) {
  if (s.size() < word.size()) return false;
  for (std::size_t i = 0; i < word.size(); ++i) {
    if (ascii_lower(s[i]) != word[i]) return false;
  }
  return true;
}

// Case-insensitive: does the query name a credential? One pass in place, since it runs for every
// access line.
bool mentions_credential(std::string_view query) {
  for (std::size_t i = 0; i < query.size(); ++i) {
    const std::string_view rest = query.substr(i);
    switch (ascii_lower(query[i])) {
      case 't':
        if (starts_with_lower(rest, "token")) return true;
        break;
      case 's':
        if (starts_with_lower(rest, "secret")) return true;
        break;
      case 'p':
        if (starts_with_lower(rest, "password") || starts_with_lower(rest, "passwd")) return true;
        break;
      case 'a':
        if (starts_with_lower(rest, "auth")) return true;
        break;
      default:
        break;
    }
  }
  return false;
}

void append_uint(std::string& out, std::uint64_t v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

}  // namespace

std::string redact_target(std::string_view target) {
  const auto q = target.find('?');
  if (q != std::string_view::npos && mentions_credential(target.substr(q))) {
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
  // One buffer per thread, so that a line costs no allocation once it has grown.
  thread_local std::string line;
  line.clear();
  line += now_iso8601();
  line += ' ';
  line += remote;
  line += " \"";
  line += method;
  line += ' ';
  target = target.substr(0, 512);
  const auto q = target.find('?');
  const bool redact = q != std::string_view::npos && mentions_credential(target.substr(q));
  // Control characters cannot reach here (the HTTP parser rejects them), but a quote could.
  const std::size_t from = line.size();
  line += redact ? target.substr(0, q) : target;
  std::replace(line.begin() + static_cast<std::ptrdiff_t>(from), line.end(), '"', '\'');
  if (redact) line += "?<redacted>";
  line += "\" ";
  append_uint(line, status);
  line += ' ';
  append_uint(line, bytes);
  line += ' ';
  const auto micros = static_cast<std::uint64_t>(std::max(0.0, millis) * 1000.0 + 0.5);
  append_uint(line, micros / 1000);
  const auto frac = static_cast<unsigned>(micros % 1000);
  const char tail[] = {'.',
                       static_cast<char>('0' + frac / 100),
                       static_cast<char>('0' + frac / 10 % 10),
                       static_cast<char>('0' + frac % 10),
                       'm',
                       's',
                       '\n'};
  line.append(tail, sizeof tail);
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
