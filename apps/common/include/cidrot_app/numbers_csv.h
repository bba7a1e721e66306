// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
//
// The seed's CSV format for caller-IDs, shared by the server's POST /api/numbers/import and the
// CLI's import/export:
//
//   caller_id,carrier,area_code,daily_limit,hourly_limit,meta_json
//   2125550100,Verizon,212,1000,100,"{""state"": ""NY""}"
//
// RFC 4180 quoting ("" inside quotes; quoted fields may span lines), LF or CRLF. The header is
// optional (without one the columns are the six above, in that order); with one, columns may come
// in any order and three more are accepted: campaigns (separated by ';'), active, max_concurrent.
// Empty limits mean "the server's default"; an empty meta_json means {}.
//
// This is structural parsing only: values are converted to types here, but validation of the
// number itself (NANP form, area code, meta being a JSON object, bounds) is the Rotator's
// normalize_number(), so every frontend applies the same rules.

#ifndef CIDROT_APP_NUMBERS_CSV_H_
#define CIDROT_APP_NUMBERS_CSV_H_

#include <string>
#include <string_view>
#include <vector>

#include "cidrot/types.h"

namespace cidrot::app {

inline constexpr std::size_t kMaxCsvRows = 200000;
inline constexpr std::size_t kMaxCsvFieldBytes = 8192;

struct CsvRow {
  int line = 0;  // 1-based physical line where the record starts
  Number number;
};

struct CsvRowError {
  int line = 0;
  std::string field;    // "caller_id", "daily_limit", ... or "csv"
  std::string message;  // one line, starts with the field name
};

struct CsvParseResult {
  std::vector<CsvRow> rows;         // converted records, in file order
  std::vector<CsvRowError> errors;  // records that could not be converted (not in `rows`)
  bool had_header = false;
};

// Parses CSV text. Per-record conversion problems (a non-numeric limit, too many fields) go to
// `errors` and the record is skipped. Throws Error(kInvalidArgument, field "csv") for problems
// that make the whole text unusable: an unterminated quote, a NUL byte, a header with an unknown
// or duplicate column or without caller_id, more than `max_rows` records, a field longer than
// kMaxCsvFieldBytes. Blank lines and lines starting with '#' are skipped.
CsvParseResult parse_numbers_csv(std::string_view text, std::size_t max_rows = kMaxCsvRows);

// The seed header line (no newline), and with `extended` the three extra columns as well.
std::string numbers_csv_header(bool extended = false);

// One record (no newline) matching numbers_csv_header(extended). Limits left unset are empty.
std::string numbers_csv_row(const Number& number, bool extended = false);

// Quotes `field` for CSV when it holds a comma, quote, CR/LF or leading/trailing blank.
std::string csv_quote(std::string_view field);

}  // namespace cidrot::app

#endif  // CIDROT_APP_NUMBERS_CSV_H_
