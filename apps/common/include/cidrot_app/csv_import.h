// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
//
// The seed system's caller-ID CSV format, shared by the CLI (`cidrot import/export`) and the HTTP
// server (POST /api/numbers/import):
//
//   caller_id,carrier,area_code,daily_limit,hourly_limit,meta_json
//   2125551234,Verizon,212,1000,100,"{""state"": ""NY""}"
//
// - RFC 4180 quoting ("" inside a quoted field is one "; quoted fields may span lines); blank lines
//   and lines starting with '#' are skipped; a UTF-8 byte-order mark is ignored; \n, \r\n and \r
//   all end a record.
// - The header is optional. Without one the columns are the seed's six, in that order, and a row
//   may stop early (missing trailing fields are empty). With one (its first field is `caller_id`),
//   columns are matched by name, in any order, and may also include the extended columns
//   `campaigns` (names separated by ';'), `active` and `max_concurrent` that `export --full`
//   writes.
// - Empty fields take defaults: area_code is derived from caller_id, limits are the Rotator's
//   defaults, meta_json is {}, campaigns none (= every campaign), max_concurrent 1, active true.
// - For compatibility with hand-written files, an unquoted meta_json that is the last column may
//   contain commas: `2125551234,Verizon,212,1000,100,{"state": "NY", "type": "mobile"}`.
// - A record longer than ReaderOptions::max_record_bytes is rejected without being held in memory.
//
// Each bad row is reported with its line number and reason and skipped; the reader then carries on
// with the next record. Only a malformed header stops the whole file (FormatError).

#ifndef CIDROT_APP_CSV_IMPORT_H_
#define CIDROT_APP_CSV_IMPORT_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "cidrot/rotator.h"
#include "cidrot/types.h"

namespace cidrot::app::csv {

// The seed's six columns first, in the seed's order; then the extended ones.
enum class Column {
  kCallerId,
  kCarrier,
  kAreaCode,
  kDailyLimit,
  kHourlyLimit,
  kMetaJson,
  kCampaigns,
  kActive,
  kMaxConcurrent,
};

// "caller_id", "carrier", ..., "active".
const char* column_name(Column column) noexcept;

// Thrown when the file as a whole cannot be read (a header naming an unknown or repeated column).
class FormatError : public std::runtime_error {
 public:
  FormatError(std::int64_t line, const std::string& reason);
  std::int64_t line() const noexcept { return line_; }
  const std::string& reason() const noexcept { return reason_; }  // what() without "line N: "

 private:
  std::int64_t line_;
  std::string reason_;
};

struct RowError {
  std::int64_t line = 0;  // 1-based physical line where the record starts
  std::string reason;     // one line, starts with the field at fault when there is one
};

struct ReaderOptions {
  std::size_t max_record_bytes = 64 * 1024;
};

// Streams records from `in`; holds one record at a time. Not thread-safe.
class Reader {
 public:
  enum class Status { kRow, kError, kEnd };

  explicit Reader(std::istream& in, ReaderOptions options = {});

  // Reads the next data record. kRow: `number` holds it, caller_id in the 10-digit form (checked
  // with cidrot::normalize_nanp), area_code derived when empty, limits nullopt when empty; the
  // remaining rules (lengths, meta_json an object, area code matching) are the Rotator's
  // (normalize_number). kError: `error` says why; the record is skipped. kEnd: no more input.
  // Throws FormatError for a bad header, and whatever `in` throws.
  Status next(Number& number, RowError& error);

  // The physical line (1-based) where the record last returned starts.
  std::int64_t line() const noexcept { return record_line_; }
  // Whether the file started with a header (known once next() has been called).
  bool has_header() const noexcept { return has_header_; }
  // Bytes consumed so far (for progress reporting).
  std::uint64_t bytes_read() const noexcept { return bytes_; }

 private:
  enum class Scan { kRecord, kTooLong, kBadQuote, kEnd };
  Scan scan_record();
  void read_header();
  bool fill_number(Number& number, RowError& error) const;

  std::streambuf* buf_;
  ReaderOptions options_;
  std::vector<Column> columns_;
  int meta_index_ = -1;  // meta_json's position when it is the last column, else -1
  bool started_ = false;
  bool has_header_ = false;
  std::int64_t line_ = 1;         // physical line of the next character
  std::int64_t record_line_ = 0;  // where the current record starts
  std::uint64_t bytes_ = 0;
  std::vector<std::string> fields_;
  std::size_t field_count_ = 0;
  std::string scan_error_;
};

// Writing: the header line and one row per number, quoted where RFC 4180 needs it. `full` adds
// the extended columns. Limits are written as stored (0 = no cap).
void write_header(std::ostream& out, bool full);
void write_row(std::ostream& out, const Number& number, bool full);
// Appends `value` to `out`, quoted when it holds a comma, quote, CR/LF or edge whitespace.
void append_field(std::string& out, std::string_view value);

// ---- Import driver (the same rules for the CLI and the server) ----

struct ImportOptions {
  bool dry_run = false;            // validate only; write nothing
  bool atomic = false;             // all rows in one upsert, and only if no row was rejected
  std::size_t chunk_rows = 10000;  // rows per upsert otherwise (each chunk is atomic)
  // When > 0, chunk_rows is only the first chunk's size: later chunks double while an upsert
  // takes under half of this and halve when one takes over twice this (between 1000 and
  // max_chunk_rows). Large chunks write a big file several times faster; short upserts keep
  // other writers of the store (a running server) waiting less.
  std::chrono::milliseconds target_upsert_time{0};
  std::size_t max_chunk_rows = 200000;
  std::size_t max_errors_kept = 1000;  // ImportSummary::errors keeps at most this many
  ReaderOptions reader;
};

struct ImportSummary {
  std::int64_t rows = 0;         // data records read
  std::int64_t valid = 0;        // rows that passed validation
  std::int64_t inserted = 0;     // written as new numbers
  std::int64_t updated = 0;      // written over existing numbers (incl. repeats within the file)
  std::int64_t rejected = 0;     // rows skipped as invalid
  bool committed = false;        // false when nothing was written (dry run, atomic with rejects)
  std::vector<RowError> errors;  // the first max_errors_kept rejected rows
};

struct ImportProgress {
  std::uint64_t bytes = 0;
  std::int64_t rows = 0;
};

struct ImportCallbacks {
  std::function<void(const RowError&)> on_reject;          // each rejected row, as found
  std::function<void(const ImportProgress&)> on_progress;  // every few thousand rows
};

// Reads `in`, validates each row with rotator.normalize_number(), and upserts valid rows in
// chunks (or all at once with `atomic`). Repeated caller-IDs: the later row wins. `summary` is
// filled as the import goes, so that after an exception it says what was committed before it.
// Throws FormatError for a bad header and cidrot::Error for store faults (the chunk that failed
// was not written).
void import_csv(std::istream& in, Rotator& rotator, const ImportOptions& options,
                ImportSummary& summary, const ImportCallbacks& callbacks = {});

}  // namespace cidrot::app::csv

#endif  // CIDROT_APP_CSV_IMPORT_H_
