// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
#include "cidrot_app/csv_import.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <istream>
#include <limits>
#include <ostream>
#include <streambuf>
#include <unordered_map>
#include <utility>

#include "cidrot/error.h"
#include "cidrot/nanp.h"

namespace cidrot::app::csv {
namespace {

using Traits = std::char_traits<char>;
constexpr Traits::int_type kEof = Traits::eof();

constexpr Column kSeedColumns[] = {Column::kCallerId,   Column::kCarrier,     Column::kAreaCode,
                                   Column::kDailyLimit, Column::kHourlyLimit, Column::kMetaJson};
constexpr Column kAllColumns[] = {
    Column::kCallerId,   Column::kCarrier,     Column::kAreaCode,
    Column::kDailyLimit, Column::kHourlyLimit, Column::kMetaJson,
    Column::kCampaigns,  Column::kActive,      Column::kMaxConcurrent};

bool is_blank(char c) { return c == ' ' || c == '\t'; }

void trim_right(std::string& s) {
  while (!s.empty() && (is_blank(s.back()) || s.back() == '\r')) s.pop_back();
}

std::string lower(std::string_view s) {
  std::string r(s);
  std::transform(r.begin(), r.end(), r.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return r;
}

// The value quoted into a message, cut so that a 60 KiB field does not become a 60 KiB line.
std::string shown(std::string_view v) {
  constexpr std::size_t kMax = 40;
  std::string s(v.substr(0, kMax));
  for (char& c : s) {
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  }
  return "'" + s + (v.size() > kMax ? "...'" : "'");
}

bool parse_int(std::string_view v, std::int64_t& out) {
  if (v.empty() || v.size() > 18) return false;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  return ec == std::errc() && end == v.data() + v.size();
}

bool parse_bool(std::string_view v, bool& out) {
  const std::string l = lower(v);
  if (l == "1" || l == "true" || l == "yes" || l == "y" || l == "on") return out = true, true;
  if (l == "0" || l == "false" || l == "no" || l == "n" || l == "off") return out = false, true;
  return false;
}

std::vector<std::string> split_campaigns(std::string_view v) {
  std::vector<std::string> names;
  std::string cur;
  for (char c : v) {
    if (c == ';' || c == ',' || c == '|' || is_blank(c)) {
      if (!cur.empty()) names.push_back(std::move(cur));
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) names.push_back(std::move(cur));
  return names;
}

}  // namespace

const char* column_name(Column column) noexcept {
  switch (column) {
    case Column::kCallerId:
      return "caller_id";
    case Column::kCarrier:
      return "carrier";
    case Column::kAreaCode:
      return "area_code";
    case Column::kDailyLimit:
      return "daily_limit";
    case Column::kHourlyLimit:
      return "hourly_limit";
    case Column::kMetaJson:
      return "meta_json";
    case Column::kCampaigns:
      return "campaigns";
    case Column::kActive:
      return "active";
    case Column::kMaxConcurrent:
      return "max_concurrent";
  }
  return "?";
}

FormatError::FormatError(std::int64_t line, const std::string& reason)
    : std::runtime_error("line " + std::to_string(line) + ": " + reason),
      line_(line),
      reason_(reason) {}

Reader::Reader(std::istream& in, ReaderOptions options)
    : buf_(in.rdbuf()),
      options_(options),
      columns_(std::begin(kSeedColumns), std::end(kSeedColumns)),
      meta_index_(5) {}

// Scans one record into fields_[0..field_count_). Character handling is inlined here rather than
// split into helpers because this loop is the import's hot path (tens of MB per second).
Reader::Scan Reader::scan_record() {
  field_count_ = 0;
  scan_error_.clear();
  record_line_ = line_;
  std::size_t record_bytes = 0;

  auto get = [&]() -> Traits::int_type {
    const Traits::int_type c = buf_->sbumpc();
    if (c == kEof) return c;
    ++bytes_;
    ++record_bytes;
    if (c == '\n' || (c == '\r' && buf_->sgetc() != '\n')) ++line_;
    return c;
  };
  auto at_eol = [](Traits::int_type c) { return c == kEof || c == '\n' || c == '\r'; };

  Traits::int_type c = get();
  if (c == kEof) return Scan::kEnd;
  const std::size_t max = options_.max_record_bytes;
  if (c == '#') {  // a comment line reads as a blank one
    while (!at_eol(c)) c = get();
    if (c == '\r' && buf_->sgetc() == '\n') get();
    if (fields_.empty()) fields_.emplace_back();
    fields_[0].clear();
    field_count_ = 1;
    return Scan::kRecord;
  }

  for (;;) {
    if (field_count_ == fields_.size()) fields_.emplace_back();
    std::string& f = fields_[field_count_++];
    f.clear();
    while (is_blank(static_cast<char>(c))) c = get();

    if (c == '"') {
      for (;;) {
        c = get();
        if (c == kEof) {
          scan_error_ = "unterminated quoted field";
          return Scan::kBadQuote;
        }
        if (c == '"') {
          if (buf_->sgetc() != '"') break;
          c = get();
        }
        f.push_back(Traits::to_char_type(c));
        if (record_bytes > max) break;
      }
      if (record_bytes <= max) {
        c = get();
        while (is_blank(static_cast<char>(c))) c = get();
        if (c != ',' && !at_eol(c)) {
          scan_error_ = "unexpected character after a closing quote (quote \" as \"\")";
          while (!at_eol(c)) c = get();
          return Scan::kBadQuote;
        }
      }
    } else if (c == '{' && static_cast<int>(field_count_) - 1 == meta_index_) {
      // Unquoted JSON as the last column: the rest of the line, commas and all.
      while (!at_eol(c) && record_bytes <= max) {
        f.push_back(Traits::to_char_type(c));
        c = get();
      }
      trim_right(f);
    } else {
      while (c != ',' && !at_eol(c) && record_bytes <= max) {
        f.push_back(Traits::to_char_type(c));
        c = get();
      }
      trim_right(f);
    }

    if (record_bytes > max) {
      while (!at_eol(c)) c = get();
      if (c == '\r' && buf_->sgetc() == '\n') get();
      return Scan::kTooLong;
    }
    if (c == ',') {
      c = get();
      continue;
    }
    if (c == '\r' && buf_->sgetc() == '\n') get();
    return Scan::kRecord;
  }
}

void Reader::read_header() {
  std::vector<Column> cols;
  for (std::size_t i = 0; i < field_count_; ++i) {
    std::string name = lower(fields_[i]);
    if (name == "meta") name = "meta_json";
    const auto* it = std::find_if(std::begin(kAllColumns), std::end(kAllColumns),
                                  [&](Column col) { return name == column_name(col); });
    if (it == std::end(kAllColumns)) {
      std::string known;
      for (Column col : kAllColumns)
        known += (known.empty() ? "" : ", ") + std::string(column_name(col));
      throw FormatError(record_line_,
                        "header: unknown column " + shown(fields_[i]) + " (known: " + known + ")");
    }
    if (std::find(cols.begin(), cols.end(), *it) != cols.end()) {
      throw FormatError(record_line_, "header: column '" + name + "' appears twice");
    }
    cols.push_back(*it);
  }
  columns_ = std::move(cols);
  meta_index_ = columns_.back() == Column::kMetaJson ? static_cast<int>(columns_.size()) - 1 : -1;
  has_header_ = true;
}

bool Reader::fill_number(Number& number, RowError& error) const {
  error.line = record_line_;
  if (field_count_ > columns_.size()) {
    error.reason = "expected at most " + std::to_string(columns_.size()) + " fields, got " +
                   std::to_string(field_count_) + " (quote fields that contain commas)";
    return false;
  }
  number = Number{};
  auto fail = [&](Column col, const std::string& what) {
    error.reason = std::string(column_name(col)) + ": " + what;
    return false;
  };
  for (std::size_t i = 0; i < field_count_; ++i) {
    const std::string& v = fields_[i];
    const Column col = columns_[i];
    switch (col) {
      case Column::kCallerId:
        if (v.empty()) return fail(col, "empty");
        try {
          number.caller_id = normalize_nanp(v, "caller_id");
        } catch (const Error& e) {
          error.reason = e.what();
          return false;
        }
        break;
      case Column::kCarrier:
        number.carrier = v;
        break;
      case Column::kAreaCode:
        number.area_code = v;
        break;
      case Column::kDailyLimit:
      case Column::kHourlyLimit: {
        if (v.empty()) break;
        std::int64_t n = 0;
        if (!parse_int(v, n) || n < 0) return fail(col, shown(v) + " is not a whole number >= 0");
        (col == Column::kDailyLimit ? number.daily_limit : number.hourly_limit) = n;
        break;
      }
      case Column::kMetaJson:
        if (!v.empty()) number.meta_json = v;
        break;
      case Column::kCampaigns:
        number.campaigns = split_campaigns(v);
        break;
      case Column::kMaxConcurrent: {
        if (v.empty()) break;
        std::int64_t n = 0;
        if (!parse_int(v, n) || n < 1 || n > std::numeric_limits<std::int32_t>::max()) {
          return fail(col, shown(v) + " is not a whole number >= 1");
        }
        number.max_concurrent = static_cast<std::int32_t>(n);
        break;
      }
      case Column::kActive:
        if (v.empty()) break;
        if (!parse_bool(v, number.active)) return fail(col, shown(v) + " is not true or false");
        break;
    }
  }
  if (number.caller_id.empty()) return fail(Column::kCallerId, "empty");
  if (number.area_code.empty()) number.area_code = number.caller_id.substr(0, 3);
  return true;
}

Reader::Status Reader::next(Number& number, RowError& error) {
  if (!started_ && bytes_ == 0) {
    // A UTF-8 byte-order mark, as spreadsheet programs write it.
    static constexpr unsigned char kBom[] = {0xEF, 0xBB, 0xBF};
    for (unsigned char b : kBom) {
      if (buf_->sgetc() != Traits::to_int_type(static_cast<char>(b))) break;
      buf_->sbumpc();
      ++bytes_;
    }
  }
  for (;;) {
    switch (scan_record()) {
      case Scan::kEnd:
        return Status::kEnd;
      case Scan::kTooLong:
        started_ = true;
        error = {record_line_,
                 "record is longer than " + std::to_string(options_.max_record_bytes) + " bytes"};
        return Status::kError;
      case Scan::kBadQuote:
        started_ = true;
        error = {record_line_, scan_error_};
        return Status::kError;
      case Scan::kRecord:
        break;
    }
    if (field_count_ == 1 && fields_[0].empty()) continue;  // blank line
    if (!started_) {
      started_ = true;
      // A header is a first line that names a caller_id column, wherever it is: no data row has
      // a field that reads "caller_id".
      for (std::size_t i = 0; i < field_count_; ++i) {
        if (lower(fields_[i]) == "caller_id") {
          read_header();
          break;
        }
      }
      if (has_header_) continue;
    }
    return fill_number(number, error) ? Status::kRow : Status::kError;
  }
}

void append_field(std::string& out, std::string_view value) {
  const bool quote = value.find_first_of(",\"\r\n") != std::string_view::npos ||
                     (!value.empty() && (is_blank(value.front()) || is_blank(value.back())));
  if (!quote) {
    out.append(value);
    return;
  }
  out.push_back('"');
  for (char c : value) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
}

void write_header(std::ostream& out, bool full) {
  out << "caller_id,carrier,area_code,daily_limit,hourly_limit,meta_json"
      << (full ? ",campaigns,active,max_concurrent\n" : "\n");
}

void write_row(std::ostream& out, const Number& n, bool full) {
  std::string line;
  line.reserve(64 + n.carrier.size() + n.meta_json.size());
  append_field(line, n.caller_id);
  line.push_back(',');
  append_field(line, n.carrier);
  line.push_back(',');
  append_field(line, n.area_code);
  line.push_back(',');
  if (n.daily_limit) line += std::to_string(*n.daily_limit);
  line.push_back(',');
  if (n.hourly_limit) line += std::to_string(*n.hourly_limit);
  line.push_back(',');
  append_field(line, n.meta_json);
  if (full) {
    std::string campaigns;
    for (const auto& c : n.campaigns) campaigns += (campaigns.empty() ? "" : ";") + c;
    line.push_back(',');
    append_field(line, campaigns);
    line += (n.active ? ",true," : ",false,") + std::to_string(n.max_concurrent);
  }
  line.push_back('\n');
  out.write(line.data(), static_cast<std::streamsize>(line.size()));
}

void import_csv(std::istream& in, Rotator& rotator, const ImportOptions& options,
                ImportSummary& summary, const ImportCallbacks& callbacks) {
  Reader reader(in, options.reader);
  std::size_t chunk_rows = std::max<std::size_t>(options.chunk_rows, 1);
  const auto target = options.target_upsert_time;
  std::vector<Number> chunk;
  std::unordered_map<std::string, std::size_t> index;  // caller_id -> position in chunk
  std::int64_t repeats = 0;

  auto flush = [&] {
    if (!chunk.empty()) {
      // Key order makes the store's index inserts sequential: half the CPU of file order on
      // SQLite (measured in bench/results/cli.md).
      std::sort(chunk.begin(), chunk.end(),
                [](const Number& a, const Number& b) { return a.caller_id < b.caller_id; });
      const auto start = std::chrono::steady_clock::now();
      const UpsertResult r = rotator.add_numbers(std::move(chunk));
      const auto took = std::chrono::steady_clock::now() - start;
      if (target.count() > 0) {
        if (took < target / 2 && chunk_rows * 2 <= options.max_chunk_rows) chunk_rows *= 2;
        if (took > target * 2)
          chunk_rows = std::max(chunk_rows / 2, std::min<std::size_t>(chunk_rows, 1000));
      }
      summary.inserted += r.inserted;
      summary.updated += r.updated + repeats;
      summary.committed = true;
    }
    chunk.clear();
    index.clear();
    repeats = 0;
  };
  auto progress = [&] {
    if (callbacks.on_progress) callbacks.on_progress({reader.bytes_read(), summary.rows});
  };

  Number number;
  RowError error;
  for (;;) {
    Reader::Status status = reader.next(number, error);
    if (status == Reader::Status::kEnd) break;
    ++summary.rows;
    if (status == Reader::Status::kRow) {
      try {
        number = rotator.normalize_number(std::move(number));
      } catch (const Error& e) {
        if (e.code() != ErrorCode::kInvalidArgument) throw;
        error = {reader.line(), e.what()};
        status = Reader::Status::kError;
      }
    }
    if (status == Reader::Status::kError) {
      ++summary.rejected;
      if (summary.errors.size() < options.max_errors_kept) summary.errors.push_back(error);
      if (callbacks.on_reject) callbacks.on_reject(error);
    } else {
      ++summary.valid;
      if (!options.dry_run) {
        // The later row wins, as it would if the rows were written one by one.
        const auto [it, fresh] = index.try_emplace(number.caller_id, chunk.size());
        if (fresh) {
          chunk.push_back(std::move(number));
        } else {
          chunk[it->second] = std::move(number);
          ++repeats;
        }
        if (!options.atomic && chunk.size() >= chunk_rows) flush();
      }
    }
    if (summary.rows % 4096 == 0) progress();
  }
  progress();
  if (options.atomic && summary.rejected > 0) return;
  flush();
}

}  // namespace cidrot::app::csv
