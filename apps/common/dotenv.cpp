// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
// A deliberately small .env dialect: what docker compose and python-dotenv files use in practice
// (the seed's .env.example parses unchanged), without variable expansion or multi-line values,
// so a value never depends on the environment it is read in.

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "cidrot/error.h"
#include "cidrot_app/config.h"

namespace cidrot::app {
namespace {

[[noreturn]] void fail(const std::string& source, int line, const std::string& field,
                       const std::string& message) {
  const std::string where = line > 0 ? source + ":" + std::to_string(line) : source;
  throw Error(ErrorCode::kInvalidArgument,
              where + ": " + (field.empty() ? "" : field + ": ") + message,
              field.empty() ? "env_file" : field);
}

bool is_space(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

bool valid_key(std::string_view key) {
  if (key.empty()) return false;
  const auto head = static_cast<unsigned char>(key[0]);
  if (!(std::isalpha(head) || head == '_')) return false;
  for (char c : key) {
    const auto u = static_cast<unsigned char>(c);
    if (!(std::isalnum(u) || u == '_')) return false;
  }
  return true;
}

// After a closing quote only blanks or a comment may follow.
void expect_rest_empty(std::string_view rest, const std::string& source, int line,
                       const std::string& key) {
  rest = trim(rest);
  if (!rest.empty() && rest.front() != '#') {
    fail(source, line, key, "unexpected text after the closing quote");
  }
}

std::string parse_value(std::string_view raw, const std::string& source, int line,
                        const std::string& key) {
  std::string_view v = trim(raw);
  if (v.empty()) return {};
  if (v.front() == '\'') {
    const auto end = v.find('\'', 1);
    if (end == std::string_view::npos) fail(source, line, key, "unterminated single quote");
    expect_rest_empty(v.substr(end + 1), source, line, key);
    return std::string(v.substr(1, end - 1));
  }
  if (v.front() == '"') {
    std::string out;
    for (std::size_t i = 1; i < v.size(); ++i) {
      const char c = v[i];
      if (c == '"') {
        expect_rest_empty(v.substr(i + 1), source, line, key);
        return out;
      }
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      if (++i == v.size()) break;
      switch (v[i]) {
        case 'n':
          out.push_back('\n');
          break;
        case 't':
          out.push_back('\t');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case '\\':
        case '"':
        case '\'':
        case '$':
          out.push_back(v[i]);
          break;
        default:
          // Unknown escapes stay as written, as in python-dotenv.
          out.push_back('\\');
          out.push_back(v[i]);
      }
    }
    fail(source, line, key, "unterminated double quote (values cannot span lines)");
  }
  // Unquoted: a '#' starts a comment only after a blank, so "pa#ss" keeps its '#'.
  for (std::size_t i = 1; i < v.size(); ++i) {
    if (v[i] == '#' && is_space(v[i - 1])) return std::string(trim(v.substr(0, i)));
  }
  if (v.front() == '#') return {};
  return std::string(v);
}

}  // namespace

std::vector<DotenvEntry> parse_dotenv(std::string_view text, const std::string& source) {
  if (text.size() > kMaxDotenvBytes) {
    fail(source, 0, "", "file larger than " + std::to_string(kMaxDotenvBytes) + " bytes");
  }
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  std::vector<DotenvEntry> entries;
  int line_no = 0;
  while (!text.empty()) {
    ++line_no;
    const auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() > kMaxDotenvLineBytes) {
      fail(source, line_no, "",
           "line longer than " + std::to_string(kMaxDotenvLineBytes) + " bytes");
    }
    if (line.find('\0') != std::string_view::npos) fail(source, line_no, "", "NUL byte");
    line = trim(line);
    if (line.empty() || line.front() == '#') continue;
    if (line.substr(0, 7) == "export " || line.substr(0, 7) == "export\t") {
      line = trim(line.substr(7));
    }
    const auto eq = line.find('=');
    if (eq == std::string_view::npos) {
      fail(source, line_no, "",
           "expected KEY=VALUE, got '" + std::string(line.substr(0, 40)) + "'");
    }
    const std::string_view key = trim(line.substr(0, eq));
    if (key.size() > kMaxDotenvKeyBytes || !valid_key(key)) {
      fail(source, line_no, "",
           "invalid key '" + std::string(key.substr(0, 40)) +
               "' (letters, digits and '_', not starting with a digit)");
    }
    DotenvEntry entry;
    entry.key = std::string(key);
    entry.line = line_no;
    entry.value = parse_value(line.substr(eq + 1), source, line_no, entry.key);
    if (entry.value.size() > kMaxDotenvValueBytes) {
      fail(source, line_no, entry.key,
           "value longer than " + std::to_string(kMaxDotenvValueBytes) + " bytes");
    }
    entries.push_back(std::move(entry));
  }
  return entries;
}

std::vector<DotenvEntry> read_dotenv_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw Error(ErrorCode::kInvalidArgument,
                "CIDROT_ENV_FILE: cannot open '" + path + "': " + std::strerror(errno), "env_file");
  }
  std::string text;
  text.resize(kMaxDotenvBytes + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) {
    throw Error(ErrorCode::kInvalidArgument, "env_file: cannot read '" + path + "'", "env_file");
  }
  text.resize(static_cast<std::size_t>(in.gcount()));
  return parse_dotenv(text, path);
}

}  // namespace cidrot::app
