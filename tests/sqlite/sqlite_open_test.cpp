// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
// Opening sqlite:// stores: URL forms and options, and files that must be refused untouched.
#include <SQLiteCpp/Database.h>

#include <catch2/catch.hpp>

#include "cidrot/cidrot.h"
#include "test_util.h"

using namespace cidrot;
using namespace cidrot::sqlite_test;

namespace {

ErrorCode code_of(const std::function<void()>& fn, std::string* message = nullptr) {
  try {
    fn();
  } catch (const Error& e) {
    if (message) *message = e.what();
    return e.code();
  }
  FAIL("no cidrot::Error thrown");
  return ErrorCode::kInternal;
}

// A cidrot database file with one number in it, closed again.
std::string make_db(const std::string& dir) {
  const std::string path = dir + "/cidrot.db";
  auto store = open_store("sqlite://" + path);
  store->upsert_numbers({make_number("2125550101")});
  return path;
}

}  // namespace

TEST_CASE("sqlite:///abs/path.db creates a WAL database with the current schema", "[open]") {
  const std::string path = fresh_dir() + "/cidrot.db";
  auto store = open_store("sqlite://" + path);
  CHECK(store->backend_name() == "sqlite");
  store->ping();
  SQLite::Database db(path);
  CHECK(query_int(db, "PRAGMA user_version") == 4);
  CHECK(query_int(db, "PRAGMA application_id") == 0x43494452);
  CHECK(db.execAndGet("PRAGMA journal_mode").getString() == "wal");
}

TEST_CASE("sqlite URL options", "[open]") {
  const std::string dir = fresh_dir();
  SECTION("synchronous and busy_timeout_ms are accepted") {
    auto a = open_store("sqlite://" + dir + "/a.db?synchronous=full&busy_timeout_ms=250");
    auto b = open_store("sqlite://" + dir + "/b.db?synchronous=NORMAL");
    a->upsert_numbers({make_number("2125550101")});
    b->upsert_numbers({make_number("2125550101")});
  }
  SECTION("sqlite://localhost/abs is the same absolute path") {
    open_store("sqlite://localhost" + dir + "/c.db")->upsert_numbers({make_number("2125550101")});
    SQLite::Database db(dir + "/c.db");
    CHECK(query_int(db, "SELECT count(*) FROM numbers") == 1);
  }
  SECTION("an unknown key is kUnsupported naming the supported ones") {
    std::string msg;
    CHECK(code_of([&] { open_store("sqlite://" + dir + "/x.db?journal=off"); }, &msg) ==
          ErrorCode::kUnsupported);
    CHECK_THAT(msg, Catch::Contains("journal") && Catch::Contains("synchronous") &&
                        Catch::Contains("busy_timeout_ms"));
  }
  SECTION("bad values are kInvalidArgument") {
    CHECK(code_of([&] { open_store("sqlite://" + dir + "/x.db?synchronous=off"); }) ==
          ErrorCode::kInvalidArgument);
    CHECK(code_of([&] { open_store("sqlite://" + dir + "/x.db?busy_timeout_ms=soon"); }) ==
          ErrorCode::kInvalidArgument);
    CHECK(code_of([&] { open_store("sqlite://"); }) == ErrorCode::kInvalidArgument);
    CHECK(code_of([&] { open_store("sqlite://u:p@host:5/x.db"); }) == ErrorCode::kInvalidArgument);
  }
  SECTION("a missing directory is kBackendUnavailable") {
    std::string msg;
    CHECK(code_of([&] { open_store("sqlite://" + dir + "/nope/x.db"); }, &msg) ==
          ErrorCode::kBackendUnavailable);
    CHECK_THAT(msg, Catch::Contains(dir + "/nope/x.db"));
  }
}

TEST_CASE("files that are not a cidrot database this build can read are refused untouched",
          "[open]") {
  const std::string dir = fresh_dir();
  std::string path = dir + "/cidrot.db";
  std::string msg;

  SECTION("a text file") { write_file(path, "caller_id,carrier\n2125550101,TestTel\n"); }
  SECTION("a newer schema") {
    path = make_db(dir);
    SQLite::Database(path, SQLite::OPEN_READWRITE).exec("PRAGMA user_version=99");
    const std::string before = read_file(path);
    CHECK(code_of([&] { open_store("sqlite://" + path); }, &msg) == ErrorCode::kCorrupt);
    CHECK_THAT(msg, Catch::Contains("newer") && Catch::Contains("99"));
    CHECK(read_file(path) == before);
  }
  SECTION("another application's SQLite database") {
    SQLite::Database(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE)
        .exec("CREATE TABLE invoices (id INTEGER PRIMARY KEY)");
  }
  SECTION("a damaged cidrot database") {
    path = make_db(dir);
    std::string bytes = read_file(path);
    REQUIRE(bytes.size() >= 4 * 4096);
    // Overwrite the b-tree pages after the first (schema) page.
    for (std::size_t i = 4096; i < bytes.size(); ++i) bytes[i] = static_cast<char>(0xA5);
    write_file(path, bytes);
  }
  const std::string before = read_file(path);
  CHECK(code_of([&] { open_store("sqlite://" + path); }, &msg) == ErrorCode::kCorrupt);
  CHECK_THAT(msg, Catch::Contains(path));
  CHECK(msg.find('\n') == std::string::npos);  // one line in a log or on stderr
  CHECK(read_file(path) == before);
}

TEST_CASE("a reopened store has its numbers, counters and leases", "[open]") {
  const std::string path = fresh_dir() + "/cidrot.db";
  const Ladder ladder = {LadderStep{Tier::kAny, {}}};
  const auto now = std::chrono::system_clock::now();
  Windows w{now, 1000 * 3600, 1000 * 86400};
  std::string lease_id = make_lease_id();
  {
    auto store = open_store("sqlite://" + path);
    store->upsert_numbers({make_number("2125550101", 5, 10)});
    LeaseRequest req;
    req.lease_id = lease_id;
    req.campaign = "sales";
    req.destination = "2125550199";
    req.ladder = &ladder;
    req.windows = w;
    REQUIRE(store->lease(req));
  }
  auto store = open_store("sqlite://" + path);
  auto st = store->get_number("2125550101", w);
  REQUIRE(st);
  CHECK(st->total_uses == 1);
  CHECK(st->hour_count == 1);
  CHECK(st->day_count == 1);
  CHECK(st->active_leases == 1);
  auto leases = store->list_leases(now, 10);
  REQUIRE(leases.size() == 1);
  CHECK(leases[0].id == lease_id);
}

TEST_CASE("a schema 1 file is migrated (to 3, through 2) with its numbers, counters and leases",
          "[open]") {
  const std::string path = fresh_dir() + "/v1.db";
  const std::int64_t hour = 1000 * 3600, day = hour - hour % 86400;
  const auto now = std::chrono::system_clock::from_time_t(hour + 60);
  {
    // The schema 1 tables as released (sqlite_db.cpp, migration 0 -> 1), with two numbers: one
    // leased once (reserved, max_concurrent 1), one free serving campaign "sales" only.
    SQLite::Database db(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    db.exec("PRAGMA journal_mode=WAL");
    db.exec(R"sql(
CREATE TABLE numbers (id INTEGER PRIMARY KEY, caller_id TEXT NOT NULL UNIQUE,
  area_code TEXT NOT NULL, npa INTEGER NOT NULL, carrier TEXT NOT NULL DEFAULT '',
  campaigns TEXT NOT NULL DEFAULT '', hourly_limit INTEGER NOT NULL DEFAULT 0,
  daily_limit INTEGER NOT NULL DEFAULT 0, max_concurrent INTEGER NOT NULL DEFAULT 1,
  active INTEGER NOT NULL DEFAULT 1, meta_json TEXT NOT NULL DEFAULT '{}',
  last_used INTEGER NOT NULL DEFAULT 0, total_uses INTEGER NOT NULL DEFAULT 0,
  hour_start INTEGER NOT NULL DEFAULT 0, hour_count INTEGER NOT NULL DEFAULT 0,
  day_start INTEGER NOT NULL DEFAULT 0, day_count INTEGER NOT NULL DEFAULT 0,
  last_disposition TEXT NOT NULL DEFAULT '', last_duration_s INTEGER NOT NULL DEFAULT -1);
CREATE INDEX numbers_hour_capped ON numbers (hour_start)
  WHERE hourly_limit > 0 AND hour_count >= hourly_limit;
CREATE INDEX numbers_day_capped ON numbers (day_start)
  WHERE daily_limit > 0 AND day_count >= daily_limit;
CREATE INDEX numbers_npa ON numbers (npa);
CREATE TABLE pool (id INTEGER PRIMARY KEY, number_id INTEGER NOT NULL, campaign TEXT NOT NULL,
  npa INTEGER NOT NULL, state INTEGER NOT NULL, last_used INTEGER NOT NULL,
  caller_id TEXT NOT NULL);
CREATE INDEX pool_pick ON pool (campaign, npa, state, last_used, caller_id, number_id);
CREATE INDEX pool_pick_any ON pool (campaign, state, last_used, caller_id, number_id);
CREATE INDEX pool_number ON pool (number_id);
CREATE TABLE leases (id TEXT PRIMARY KEY, number_id INTEGER NOT NULL, campaign TEXT NOT NULL,
  agent TEXT NOT NULL, destination TEXT NOT NULL, leased_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL, tier TEXT NOT NULL) WITHOUT ROWID;
CREATE INDEX leases_expiry ON leases (expires_at);
CREATE INDEX leases_number ON leases (number_id, expires_at);
CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
)sql");
    const std::string h = std::to_string(hour), d = std::to_string(day);
    const std::string leased_at = std::to_string((hour + 10) * 1000);
    const std::string expires = std::to_string((hour + 600) * 1000);
    db.exec("INSERT INTO meta VALUES ('hour_start', " + h + "), ('day_start', " + d + ")");
    db.exec(
        "INSERT INTO numbers (id, caller_id, area_code, npa, last_used, total_uses,"
        " hour_start, hour_count, day_start, day_count) VALUES"
        " (1, '2125550101', '212', 212, " +
        leased_at + ", 1, " + h + ", 1, " + d + ", 1)");
    db.exec(
        "INSERT INTO numbers (id, caller_id, area_code, npa, campaigns) VALUES"
        " (2, '2125550102', '212', 212, 'sales')");
    db.exec(
        "INSERT INTO pool (number_id, campaign, npa, state, last_used, caller_id) VALUES"
        " (1, '', 212, 1, " +
        leased_at +
        ", '2125550101'),"
        " (2, 'sales', 212, 0, 0, '2125550102')");
    db.exec("INSERT INTO leases VALUES ('" + std::string(32, 'a') +
            "', 1, 'sales', '',"
            " '2125550199', " +
            leased_at + ", " + expires + ", 'any')");
    db.exec("PRAGMA user_version=1");
    db.exec("PRAGMA application_id=" + std::to_string(0x43494452));
  }
  auto store = open_store("sqlite://" + path);
  {
    SQLite::Database db(path);
    CHECK(query_int(db, "PRAGMA user_version") == 4);
    CHECK(query_int(db, "SELECT count(*) FROM sqlite_master WHERE name IN ('pool', 'pick')") == 0);
    // One entry, from 3 -> 4, carrying the lease seq counter over (the one migrated lease).
    CHECK(query_int(db, "SELECT count(*) FROM changes") == 1);
    CHECK(query_int(db, "SELECT lease_seq FROM changes") == 1);
    CHECK(query_int(db, "SELECT count(*) FROM sqlite_master WHERE name = 'leases_expiry'") == 0);
    CHECK(query_int(db, "SELECT live_leases FROM numbers WHERE id = 1") == 1);
    CHECK(query_int(db, "SELECT pick_state FROM numbers WHERE id = 1") == 1);
  }
  const Ladder ladder = {LadderStep{Tier::kAny, {}}};
  const Windows w{now, hour, day};
  auto lease = [&] {
    LeaseRequest req;
    req.lease_id = make_lease_id();
    req.campaign = "sales";
    req.destination = "2125550199";
    req.ladder = &ladder;
    req.windows = w;
    return store->lease(req);
  };
  // The migrated lease still holds 2125550101: the free number comes next, then none.
  LeaseResult r = lease();
  REQUIRE(r);
  CHECK(r.lease->number.caller_id == "2125550102");
  LeaseResult denied = lease();
  REQUIRE_FALSE(denied);
  CHECK(denied.denial == DenialReason::kAllReserved);
  ReleaseRequest rel;
  rel.lease_id = std::string(32, 'a');
  rel.now = now;
  CHECK(store->release(rel) == 1);
  LeaseResult again = lease();
  REQUIRE(again);
  CHECK(again.lease->number.caller_id == "2125550101");
  auto st = store->get_number("2125550101", w);
  REQUIRE(st);
  CHECK(st->total_uses == 2);
  CHECK(st->hour_count == 2);
}
