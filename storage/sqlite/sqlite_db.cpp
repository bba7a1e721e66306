// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
#include "sqlite_db.h"

#include <SQLiteCpp/Statement.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <thread>
#include <vector>

#include "url.h"

namespace cidrot::storage::sqlite {
namespace {

// Each entry migrates from version (index) to version (index + 1). Never edit a released entry:
// files in the field were created by it; append a new one and bump kSchemaVersion instead.
const std::vector<const char*>& migrations() {
  static const std::vector<const char*> steps = {
      // 0 -> 1: the initial schema.
      //
      // numbers: configuration and usage of each caller-ID. Times: last_used in unix ms, the
      // hour/day window starts in unix s (as Windows carries them).
      // pool: one row per (number, campaign it serves; '' = every campaign), duplicating the
      // selection key so that a pick is one index probe per (campaign, NPA) instead of a scan:
      // state 0 = available, 1 = at its concurrency limit, 2 = at an hourly/daily cap,
      // 3 = inactive, evaluated against the windows in meta. Ordering by (state, last_used,
      // caller_id) puts the least recently used available number first and, when there is none,
      // tells the denial reason from the same probe.
      // leases: live leases (expired ones until the next lease/expire drops them).
      // meta: the hour/day windows the pool states were evaluated in.
      R"sql(
CREATE TABLE numbers (
  id               INTEGER PRIMARY KEY,
  caller_id        TEXT    NOT NULL UNIQUE,
  area_code        TEXT    NOT NULL,
  npa              INTEGER NOT NULL,
  carrier          TEXT    NOT NULL DEFAULT '',
  campaigns        TEXT    NOT NULL DEFAULT '',
  hourly_limit     INTEGER NOT NULL DEFAULT 0,
  daily_limit      INTEGER NOT NULL DEFAULT 0,
  max_concurrent   INTEGER NOT NULL DEFAULT 1,
  active           INTEGER NOT NULL DEFAULT 1,
  meta_json        TEXT    NOT NULL DEFAULT '{}',
  last_used        INTEGER NOT NULL DEFAULT 0,
  total_uses       INTEGER NOT NULL DEFAULT 0,
  hour_start       INTEGER NOT NULL DEFAULT 0,
  hour_count       INTEGER NOT NULL DEFAULT 0,
  day_start        INTEGER NOT NULL DEFAULT 0,
  day_count        INTEGER NOT NULL DEFAULT 0,
  last_disposition TEXT    NOT NULL DEFAULT '',
  last_duration_s  INTEGER NOT NULL DEFAULT -1
);
CREATE INDEX numbers_hour_capped ON numbers (hour_start)
  WHERE hourly_limit > 0 AND hour_count >= hourly_limit;
CREATE INDEX numbers_day_capped ON numbers (day_start)
  WHERE daily_limit > 0 AND day_count >= daily_limit;
CREATE INDEX numbers_npa ON numbers (npa);

CREATE TABLE pool (
  id        INTEGER PRIMARY KEY,
  number_id INTEGER NOT NULL,
  campaign  TEXT    NOT NULL,
  npa       INTEGER NOT NULL,
  state     INTEGER NOT NULL,
  last_used INTEGER NOT NULL,
  caller_id TEXT    NOT NULL
);
CREATE INDEX pool_pick ON pool (campaign, npa, state, last_used, caller_id, number_id);
CREATE INDEX pool_pick_any ON pool (campaign, state, last_used, caller_id, number_id);
CREATE INDEX pool_number ON pool (number_id);

CREATE TABLE leases (
  id          TEXT    PRIMARY KEY,
  number_id   INTEGER NOT NULL,
  campaign    TEXT    NOT NULL,
  agent       TEXT    NOT NULL,
  destination TEXT    NOT NULL,
  leased_at   INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL,
  tier        TEXT    NOT NULL
) WITHOUT ROWID;
CREATE INDEX leases_expiry ON leases (expires_at);
CREATE INDEX leases_number ON leases (number_id, expires_at);

CREATE TABLE meta (
  key   TEXT    PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO meta (key, value) VALUES ('hour_start', 0), ('day_start', 0);
)sql",
      // 1 -> 2: fewer pages and statements per lease.
      //
      // pick replaces pool: the same key, but as the primary key of a WITHOUT ROWID table, so a
      // lease moves one entry of one b-tree (plus its "any NPA" index) instead of a rowid row and
      // three indexes. A number finds its own pick rows from its numbers row (campaigns, npa,
      // pick_state, last_used, caller_id), so no index by number is needed.
      // numbers.live_leases counts the number's rows in leases (expired ones until they are
      // dropped), so a lease or release no longer counts leases to decide the state.
      // numbers.pick_state is the state its pick rows are filed under.
      R"sql(
ALTER TABLE numbers ADD COLUMN live_leases INTEGER NOT NULL DEFAULT 0;
ALTER TABLE numbers ADD COLUMN pick_state INTEGER NOT NULL DEFAULT 3;
UPDATE numbers SET
  live_leases = (SELECT count(*) FROM leases l WHERE l.number_id = numbers.id),
  pick_state = coalesce((SELECT p.state FROM pool p WHERE p.number_id = numbers.id LIMIT 1), 3);
CREATE TABLE pick (
  campaign  TEXT    NOT NULL,
  npa       INTEGER NOT NULL,
  state     INTEGER NOT NULL,
  last_used INTEGER NOT NULL,
  caller_id TEXT    NOT NULL,
  number_id INTEGER NOT NULL,
  PRIMARY KEY (campaign, npa, state, last_used, caller_id)
) WITHOUT ROWID;
INSERT OR IGNORE INTO pick (campaign, npa, state, last_used, caller_id, number_id)
  SELECT p.campaign, n.npa, n.pick_state, n.last_used, n.caller_id, n.id
  FROM pool p JOIN numbers n ON n.id = p.number_id;
CREATE INDEX pick_any ON pick (campaign, state, last_used, caller_id, number_id);
DROP TABLE pool;
)sql",
      // 2 -> 3: fewer pages written per lease.
      //
      // The selection order moves into each writer's memory (pick_index.h); the pick table
      // goes. changes lists, per write transaction, the numbers whose selection key it changed
      // (ids: native-endian int64 array; NULL: too many, reload all), so that a process can
      // bring its in-memory order up to date with what other processes wrote.
      // leases is appended in lease order (seq, never reused thanks to AUTOINCREMENT, so that a
      // process finds the leases others added by seq) and keeps only its expiry index, which
      // also grows at its end: a lease no longer writes a page chosen by its random id or by its
      // number. Writers find a lease by id or by number in memory.
      R"sql(
DROP TABLE pick;
CREATE TABLE changes (
  gen INTEGER PRIMARY KEY,
  ids BLOB
);
CREATE TABLE leases_v3 (
  seq         INTEGER PRIMARY KEY AUTOINCREMENT,
  id          TEXT    NOT NULL,
  number_id   INTEGER NOT NULL,
  campaign    TEXT    NOT NULL,
  agent       TEXT    NOT NULL,
  destination TEXT    NOT NULL,
  leased_at   INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL,
  tier        TEXT    NOT NULL
);
INSERT INTO leases_v3 (id, number_id, campaign, agent, destination, leased_at, expires_at, tier)
  SELECT id, number_id, campaign, agent, destination, leased_at, expires_at, tier FROM leases
  ORDER BY leased_at, id;
DROP TABLE leases;
ALTER TABLE leases_v3 RENAME TO leases;
CREATE INDEX leases_expiry ON leases (expires_at);
)sql",
      // 3 -> 4: two b-trees less written per lease.
      //
      // Each writer keeps the expiry of every lease row in memory (it already learns every row
      // by seq), so leases_expiry, whose page each lease wrote, goes. Readers that count live
      // leases scan the leases table, which holds live leases only (expired rows are dropped by
      // the next write after they expire).
      // seq is no longer AUTOINCREMENT, which rewrote the sqlite_sequence row on every insert:
      // each changes entry now carries lease_seq, the highest seq assigned by then (so seqs are
      // never reused), and writers assign seqs above the newest entry's. The entry added here
      // carries the AUTOINCREMENT counter over.
      R"sql(
CREATE TABLE leases_v4 (
  seq         INTEGER PRIMARY KEY,
  id          TEXT    NOT NULL,
  number_id   INTEGER NOT NULL,
  campaign    TEXT    NOT NULL,
  agent       TEXT    NOT NULL,
  destination TEXT    NOT NULL,
  leased_at   INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL,
  tier        TEXT    NOT NULL
);
INSERT INTO leases_v4 SELECT seq, id, number_id, campaign, agent, destination, leased_at,
  expires_at, tier FROM leases ORDER BY seq;
ALTER TABLE changes ADD COLUMN lease_seq INTEGER;
INSERT INTO changes (ids, lease_seq) VALUES (x'', max(
  coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'leases'), 0),
  coalesce((SELECT max(seq) FROM leases), 0)));
DROP TABLE leases;
ALTER TABLE leases_v4 RENAME TO leases;
)sql",
  };
  return steps;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

Error corrupt(const std::string& path, const std::string& why) {
  return Error(ErrorCode::kCorrupt, "sqlite: " + path + ": " + why);
}

// Rejects, before SQLite touches the file, anything that is neither empty nor a SQLite 3 file.
void check_header(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return;  // a new database
    throw Error(ErrorCode::kBackendUnavailable,
                "sqlite: cannot open " + path + ": " + std::strerror(errno));
  }
  if (S_ISDIR(st.st_mode)) {
    throw Error(ErrorCode::kBackendUnavailable, "sqlite: cannot open " + path + ": is a directory");
  }
  if (st.st_size == 0) return;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw Error(ErrorCode::kBackendUnavailable,
                "sqlite: cannot open " + path + ": " + std::strerror(errno));
  }
  char header[16] = {};
  in.read(header, sizeof header);
  if (in.gcount() < static_cast<std::streamsize>(sizeof header) ||
      std::memcmp(header, "SQLite format 3\0", 16) != 0) {
    throw corrupt(path, "not a SQLite database (the file exists and has another format)");
  }
}

// SQLite's own busy handler sleeps 1, 2, 5, 10 ... 100 ms between tries; writers in other
// processes hold the lock for well under a millisecond, so that wastes most of the wait. Retry
// within microseconds first, then back off to 1 ms, until busy_timeout_ms has passed.
// The context pointer carries the timeout; a connection is used by one thread at a time, so the
// start of the current wait can live in a thread_local.
int busy_handler(void* timeout_ms, int attempt) {
  thread_local std::chrono::steady_clock::time_point started;
  const auto now = std::chrono::steady_clock::now();
  if (attempt == 0) started = now;
  const auto limit = std::chrono::milliseconds(reinterpret_cast<std::intptr_t>(timeout_ms));
  if (now - started >= limit) return 0;
  if (attempt < 8) {
    std::this_thread::yield();
  } else {
    std::this_thread::sleep_for(std::chrono::microseconds(attempt < 40 ? 50 : 1000));
  }
  return 1;
}

std::int64_t pragma_int(SQLite::Database& db, const char* pragma) {
  return db.execAndGet(std::string("PRAGMA ") + pragma).getInt64();
}

}  // namespace

Options parse_url(const std::string& url) {
  StoreUrl u = parse_store_url(url, {"synchronous", "busy_timeout_ms"});
  Options opts;
  // sqlite:///abs/path.db and sqlite://localhost/abs/path.db name an absolute path;
  // sqlite://relative/path.db a path relative to the working directory.
  if (u.host.empty() || lower(u.host) == "localhost") {
    opts.path = u.path;
  } else {
    opts.path = u.host + u.path;
  }
  if (opts.path.empty() || opts.path == "/") {
    throw Error(
        ErrorCode::kInvalidArgument,
        "url: sqlite:// needs a database file path, e.g. sqlite:///var/lib/cidrot/cidrot.db",
        "url");
  }
  if (!u.user.empty() || !u.password.empty() || !u.port.empty()) {
    throw Error(ErrorCode::kInvalidArgument,
                "url: sqlite:// takes no user, password or port; write sqlite:///path/to/file.db",
                "url");
  }
  if (auto it = u.query.find("synchronous"); it != u.query.end()) {
    const std::string v = lower(it->second);
    if (v == "full") {
      opts.synchronous_full = true;
    } else if (v != "normal") {
      throw Error(ErrorCode::kInvalidArgument,
                  "url: option 'synchronous' must be 'normal' or 'full'", "url");
    }
  }
  opts.busy_timeout_ms = static_cast<int>(url_int_option(u, "busy_timeout_ms", 5000, 0, 3600000));
  return opts;
}

std::unique_ptr<SQLite::Database> connect(const Options& opts) {
  try {
    // NOMUTEX: every connection is used by one thread at a time (the batch leader, or a reader
    // borrowed from the pool under its mutex).
    auto db = std::make_unique<SQLite::Database>(
        opts.path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE | SQLite::OPEN_NOMUTEX,
        opts.busy_timeout_ms);
    sqlite3_busy_handler(db->getHandle(), &busy_handler,
                         reinterpret_cast<void*>(static_cast<std::intptr_t>(opts.busy_timeout_ms)));
    db->exec(opts.synchronous_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
    db->exec("PRAGMA foreign_keys=OFF; PRAGMA temp_store=MEMORY");
    return db;
  } catch (const SQLite::Exception& e) {
    throw map_error(e, opts.path, "open");
  }
}

void prepare_database(const Options& opts) {
  check_header(opts.path);
  auto db = connect(opts);
  try {
    // Read-only checks first: nothing below writes until the file is known to be ours.
    const std::int64_t version = pragma_int(*db, "user_version");
    const std::int64_t app_id = pragma_int(*db, "application_id");
    const std::int64_t tables =
        db->execAndGet("SELECT count(*) FROM sqlite_master WHERE type = 'table'").getInt64();
    if (app_id != kApplicationId && (app_id != 0 || tables != 0 || version != 0)) {
      throw corrupt(opts.path, "a SQLite database of another application (application_id " +
                                   std::to_string(app_id) + "), not a cidrot store");
    }
    if (version > kSchemaVersion) {
      throw corrupt(opts.path, "written by a newer libcidrot (schema version " +
                                   std::to_string(version) + "; this build reads up to " +
                                   std::to_string(kSchemaVersion) + "); upgrade libcidrot");
    }
    if (version > 0) {
      SQLite::Statement check(*db, "PRAGMA quick_check(1)");
      check.executeStep();
      std::string result = check.getColumn(0).getString();
      // SQLite's report spans lines ("*** in database main ***\nOn tree page 3 ..."); error
      // messages are one line in logs and on a CLI's stderr.
      std::replace(result.begin(), result.end(), '\n', ' ');
      if (result != "ok")
        throw corrupt(opts.path, "damaged database (quick_check: " + result + ")");
    }
    const std::string mode = lower(db->execAndGet("PRAGMA journal_mode=WAL").getString());
    if (mode != "wal") {
      throw Error(ErrorCode::kBackendUnavailable,
                  "sqlite: " + opts.path + ": cannot enable WAL (journal_mode is " + mode + ")");
    }
    if (version < kSchemaVersion) {
      // Several processes may open a new file at once: re-read the version under the write lock.
      db->exec("BEGIN IMMEDIATE");
      try {
        std::int64_t v = pragma_int(*db, "user_version");
        for (; v < kSchemaVersion; ++v) db->exec(migrations().at(static_cast<std::size_t>(v)));
        db->exec("PRAGMA user_version=" + std::to_string(kSchemaVersion));
        db->exec("PRAGMA application_id=" + std::to_string(kApplicationId));
        db->exec("COMMIT");
      } catch (...) {
        if (!db->getHandle() || !sqlite3_get_autocommit(db->getHandle())) db->exec("ROLLBACK");
        throw;
      }
    }
  } catch (const SQLite::Exception& e) {
    throw map_error(e, opts.path, "open");
  }
}

Error map_error(const SQLite::Exception& e, const std::string& path, const char* what) {
  const int code = e.getErrorCode() & 0xff;
  const std::string msg = std::string("sqlite: ") + what + " " + path + ": " + e.what();
  switch (code) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return Error(ErrorCode::kCorrupt, msg);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Error(ErrorCode::kBackendUnavailable, msg + " (busy_timeout_ms exceeded)");
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
    case SQLITE_PROTOCOL:
    case SQLITE_NOLFS:
      return Error(ErrorCode::kBackendUnavailable, msg);
    default:
      return Error(ErrorCode::kInternal, msg);
  }
}

}  // namespace cidrot::storage::sqlite
