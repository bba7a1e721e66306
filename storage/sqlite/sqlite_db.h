// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
// Private to the SQLite backend: opening, validating and migrating a cidrot database file, and
// mapping SQLite failures onto cidrot::Error.
#ifndef CIDROT_STORAGE_SQLITE_DB_H_
#define CIDROT_STORAGE_SQLITE_DB_H_

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Exception.h>

#include <cstdint>
#include <memory>
#include <string>

#include "cidrot/error.h"

namespace cidrot::storage::sqlite {

// Newest schema this build reads and writes (PRAGMA user_version).
constexpr int kSchemaVersion = 4;
// PRAGMA application_id of a cidrot database: "CIDR" in ASCII.
constexpr std::int32_t kApplicationId = 0x43494452;

struct Options {
  std::string path;  // file system path of the database
  bool synchronous_full = false;
  int busy_timeout_ms = 5000;
};

// Parses a sqlite:// URL (see docs/storage-sqlite.md). Throws Error(kInvalidArgument|kUnsupported).
Options parse_url(const std::string& url);

// Opens a connection with the per-connection settings (busy timeout, synchronous, ...).
// Does not validate or migrate; call prepare_database() once per store first.
std::unique_ptr<SQLite::Database> connect(const Options& opts);

// Checks the file is a cidrot database this build can read (or an empty/new file), enables WAL
// and migrates the schema to kSchemaVersion. Never writes to a file it rejects. Throws
// Error(kCorrupt) naming the file for a non-database, a damaged database, another application's
// database or a newer schema; Error(kBackendUnavailable) when the file cannot be opened.
void prepare_database(const Options& opts);

// Maps a SQLite failure to the cidrot::Error a caller should see; `what` names the operation.
Error map_error(const SQLite::Exception& e, const std::string& path, const char* what);

}  // namespace cidrot::storage::sqlite

#endif  // CIDROT_STORAGE_SQLITE_DB_H_
