// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT

#include "cidrot_app/numbers_csv.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <optional>
#include <string>

#include "cidrot/error.h"

namespace cidrot::app {
namespace {

enum Column {
  kCallerId,
  kCarrier,
  kAreaCode,
  kDailyLimit,
  kHourlyLimit,
  kMeta,
  kCampaigns,
  kActive,
  kMaxConcurrent,
  kColumnCount
};

constexpr std::array<const char*, kColumnCount> kColumnNames = {
    "caller_id", "carrier",   "area_code", "daily_limit",   "hourly_limit",
    "meta_json", "campaigns", "active",    "max_concurrent"};

[[noreturn]] void structural(int line, const std::string& message) {
  throw Error(ErrorCode::kInvalidArgument, "csv: line " + std::to_string(line) + ": " + message,
              "csv");
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// Reads one record starting at `pos`; advances `pos` and `line`. Fields are returned with
// unquoted fields trimmed; quoted ones verbatim.
std::vector<std::string> read_record(std::string_view text, std::size_t& pos, int& line) {
  std::vector<std::string> fields;
  std::string field;
  const int start_line = line;
  bool quoted_field = false;
  while (true) {
    if (pos < text.size() && text[pos] == '"' && trim(field).empty()) {
      // A quoted field: everything up to the closing quote, "" being a quote.
      field.clear();
      quoted_field = true;
      ++pos;
      while (true) {
        if (pos >= text.size()) structural(start_line, "unterminated quoted field");
        const char c = text[pos++];
        if (c == '"') {
          if (pos < text.size() && text[pos] == '"') {
            field.push_back('"');
            ++pos;
            continue;
          }
          break;
        }
        if (c == '\n') ++line;
        field.push_back(c);
        if (field.size() > kMaxCsvFieldBytes) structural(start_line, "field too long");
      }
      // Only blanks may follow a closing quote before the separator.
      while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t')) ++pos;
      if (pos < text.size() && text[pos] != ',' && text[pos] != '\n' && text[pos] != '\r') {
        structural(start_line, "text after a closing quote");
      }
      continue;
    }
    if (pos >= text.size() || text[pos] == ',' || text[pos] == '\n' || text[pos] == '\r') {
      fields.push_back(quoted_field ? std::move(field) : std::string(trim(field)));
      field.clear();
      quoted_field = false;
      if (pos >= text.size()) return fields;
      const char c = text[pos++];
      if (c == ',') continue;
      if (c == '\r' && pos < text.size() && text[pos] == '\n') ++pos;
      ++line;
      return fields;
    }
    field.push_back(text[pos++]);
    if (field.size() > kMaxCsvFieldBytes) structural(start_line, "field too long");
  }
}

std::optional<std::int64_t> parse_limit(const std::string& v, const char* field) {
  if (v.empty()) return std::nullopt;
  const bool digits = v.size() <= 12 &&
                      std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (!digits) {
    throw Error(
        ErrorCode::kInvalidArgument,
        std::string(field) + ": expected a non-negative integer, got '" + v.substr(0, 32) + "'",
        field);
  }
  return std::stoll(v);
}

bool parse_bool(const std::string& v, const char* field) {
  const std::string l = lower(v);
  if (l.empty() || l == "1" || l == "true" || l == "yes" || l == "y") return true;
  if (l == "0" || l == "false" || l == "no" || l == "n") return false;
  throw Error(ErrorCode::kInvalidArgument,
              std::string(field) + ": expected true or false, got '" + v.substr(0, 32) + "'",
              field);
}

Number to_number(const std::vector<std::string>& fields, const std::vector<int>& columns) {
  Number n;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    const std::string& v = fields[i];
    switch (columns[i]) {
      case kCallerId:
        n.caller_id = v;
        break;
      case kCarrier:
        n.carrier = v;
        break;
      case kAreaCode:
        n.area_code = v;
        break;
      case kDailyLimit:
        n.daily_limit = parse_limit(v, "daily_limit");
        break;
      case kHourlyLimit:
        n.hourly_limit = parse_limit(v, "hourly_limit");
        break;
      case kMeta:
        n.meta_json = v.empty() ? "{}" : v;
        break;
      case kCampaigns: {
        std::string_view rest = v;
        while (!rest.empty()) {
          const auto semi = rest.find(';');
          const std::string_view c = trim(rest.substr(0, semi));
          if (!c.empty()) n.campaigns.emplace_back(c);
          rest.remove_prefix(semi == std::string_view::npos ? rest.size() : semi + 1);
        }
        break;
      }
      case kActive:
        n.active = parse_bool(v, "active");
        break;
      case kMaxConcurrent: {
        const auto m = parse_limit(v, "max_concurrent");
        if (m && (*m < 1 || *m > 1000000)) {
          throw Error(ErrorCode::kInvalidArgument, "max_concurrent: must be 1..1000000",
                      "max_concurrent");
        }
        if (m) n.max_concurrent = static_cast<std::int32_t>(*m);
        break;
      }
      default:
        break;
    }
  }
  return n;
}

}  // namespace

CsvParseResult parse_numbers_csv(std::string_view text, std::size_t max_rows) {
  if (text.find('\0') != std::string_view::npos) structural(1, "NUL byte in CSV");
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  CsvParseResult result;
  std::vector<int> columns = {kCallerId, kCarrier, kAreaCode, kDailyLimit, kHourlyLimit, kMeta};
  std::size_t pos = 0;
  int line = 1;
  bool first = true;
  std::size_t records = 0;
  while (pos < text.size()) {
    const int record_line = line;
    // Blank and comment lines are skipped before they are parsed as records.
    const auto eol = text.find('\n', pos);
    const std::string_view raw =
        trim(text.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos));
    if (raw.empty() || raw == "\r" || raw.front() == '#') {
      pos = eol == std::string_view::npos ? text.size() : eol + 1;
      ++line;
      continue;
    }
    std::vector<std::string> fields = read_record(text, pos, line);
    if (first) {
      first = false;
      if (lower(fields[0]) == "caller_id") {
        result.had_header = true;
        columns.clear();
        for (const auto& f : fields) {
          const std::string name = lower(f) == "meta" ? "meta_json" : lower(f);
          const auto it = std::find(kColumnNames.begin(), kColumnNames.end(), name);
          if (it == kColumnNames.end()) {
            std::string known;
            for (const char* k : kColumnNames)
              known += (known.empty() ? "" : ", ") + std::string(k);
            structural(record_line,
                       "unknown column '" + f.substr(0, 40) + "' (known: " + known + ")");
          }
          const int col = static_cast<int>(it - kColumnNames.begin());
          if (std::find(columns.begin(), columns.end(), col) != columns.end()) {
            structural(record_line, "duplicate column '" + name + "'");
          }
          columns.push_back(col);
        }
        continue;
      }
    }
    if (++records > max_rows) {
      structural(record_line, "more than " + std::to_string(max_rows) + " records");
    }
    if (fields.size() > columns.size()) {
      result.errors.push_back({record_line, "csv",
                               "csv: " + std::to_string(fields.size()) +
                                   " fields, expected at most " + std::to_string(columns.size())});
      continue;
    }
    try {
      result.rows.push_back({record_line, to_number(fields, columns)});
      if (result.rows.back().number.caller_id.empty()) {
        result.rows.pop_back();
        result.errors.push_back({record_line, "caller_id", "caller_id: missing"});
      }
    } catch (const Error& e) {
      result.errors.push_back({record_line, e.field(), e.what()});
    }
  }
  return result;
}

std::string csv_quote(std::string_view field) {
  const bool needs = field.find_first_of(",\"\r\n") != std::string_view::npos ||
                     (!field.empty() && (field.front() == ' ' || field.back() == ' ' ||
                                         field.front() == '\t' || field.back() == '\t'));
  if (!needs) return std::string(field);
  std::string out = "\"";
  for (char c : field) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

std::string numbers_csv_header(bool extended) {
  std::string h = "caller_id,carrier,area_code,daily_limit,hourly_limit,meta_json";
  if (extended) h += ",campaigns,active,max_concurrent";
  return h;
}

std::string numbers_csv_row(const Number& n, bool extended) {
  auto limit = [](const std::optional<std::int64_t>& l) {
    return l ? std::to_string(*l) : std::string();
  };
  std::string row = csv_quote(n.caller_id) + "," + csv_quote(n.carrier) + "," +
                    csv_quote(n.area_code) + "," + limit(n.daily_limit) + "," +
                    limit(n.hourly_limit) + "," + csv_quote(n.meta_json);
  if (extended) {
    std::string campaigns;
    for (const auto& c : n.campaigns) campaigns += (campaigns.empty() ? "" : ";") + c;
    row += "," + csv_quote(campaigns) + "," + (n.active ? "true" : "false") + "," +
           std::to_string(n.max_concurrent);
  }
  return row;
}

}  // namespace cidrot::app
