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
  CHECK(query_int(db, "PRAGMA user_version") == 1);
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
