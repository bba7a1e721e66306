// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
// SQLite-specific store behaviour the conformance suite cannot see: the maintained pool states
// (cap re-admission at window roll-over, expiry), all-or-nothing batches, several store objects
// on one file and other connections' changes followed by the in-memory selection order, and that
// no statement of a lease scans.
#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <array>
#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "cidrot/cidrot.h"
#include "store_checks.h"
#include "test_util.h"

using namespace cidrot;
using namespace cidrot::sqlite_test;

namespace {

const Ladder kAnyLadder = {LadderStep{Tier::kAny, {}}};
constexpr std::int64_t kHour = 3600;

LeaseResult lease_on(Store& store, const Windows& w, const Ladder& ladder = kAnyLadder,
                     std::chrono::milliseconds ttl = std::chrono::minutes(5)) {
  LeaseRequest req;
  req.lease_id = make_lease_id();
  req.campaign = "sales";
  req.destination = "2125550199";
  req.ladder = &ladder;
  req.windows = w;
  req.ttl = ttl;
  return store.lease(req);
}

struct Db {
  std::string path = fresh_dir() + "/cidrot.db";
  std::shared_ptr<Store> store = open_store("sqlite://" + path);
  std::int64_t base = 1'800'000'000 - 1'800'000'000 % 86400;  // a day start

  Windows at(std::int64_t seconds_into_day) const {
    const std::int64_t s = base + seconds_into_day;
    return Windows{std::chrono::system_clock::from_time_t(s), s - s % kHour, base};
  }
  LeaseResult lease(const Windows& w, const Ladder& ladder = kAnyLadder,
                    std::chrono::milliseconds ttl = std::chrono::minutes(5)) {
    return lease_on(*store, w, ladder, ttl);
  }
  std::int64_t release_all(const std::string& caller_id, const Windows& w) {
    ReleaseRequest r;
    r.caller_id = caller_id;
    r.now = w.now;
    return store->release(r);
  }
};

}  // namespace

TEST_CASE("capped numbers come back when their window rolls over", "[store]") {
  Db db;
  db.store->upsert_numbers({make_number("2125550101", 1, 3), make_number("2125550102", 1, 3)});
  for (int hour = 0; hour < 3; ++hour) {
    const Windows w = db.at(hour * kHour + 60);
    std::set<std::string> got;
    for (int i = 0; i < 2; ++i) {
      LeaseResult r = db.lease(w);
      REQUIRE(r);
      got.insert(r.lease->number.caller_id);
      db.release_all(r.lease->number.caller_id, w);
    }
    CHECK(got.size() == 2);
    LeaseResult denied = db.lease(w);
    REQUIRE_FALSE(denied);
    CHECK(denied.denial == DenialReason::kAllLimited);
  }
  // Daily cap 3 reached by both: the next hour of the same day stays limited.
  LeaseResult r = db.lease(db.at(3 * kHour + 60));
  REQUIRE_FALSE(r);
  CHECK(r.denial == DenialReason::kAllLimited);
  // The next day re-admits them.
  db.base += 86400;
  CHECK(db.lease(db.at(60)));
}

TEST_CASE("an expired lease frees its number inside the next lease", "[store]") {
  Db db;
  db.store->upsert_numbers({make_number("2125550101")});
  const Windows w = db.at(60);
  REQUIRE(db.lease(w, kAnyLadder, std::chrono::seconds(30)));
  LeaseResult busy = db.lease(db.at(89));
  REQUIRE_FALSE(busy);
  CHECK(busy.denial == DenialReason::kAllReserved);
  CHECK(db.lease(db.at(90)));
}

TEST_CASE("a lease another connection made expires here, and is counted once", "[store]") {
  Db db;
  db.store->upsert_numbers({make_number("2125550101"), make_number("2125550102")});
  // Its own writer and lease registry, as another process would have.
  auto other = open_store("sqlite://" + db.path + "?busy_timeout_ms=4999");
  REQUIRE(db.lease(db.at(0)));  // this connection has learnt the file's leases
  LeaseResult theirs = lease_on(*other, db.at(60), kAnyLadder, std::chrono::seconds(30));
  REQUIRE(theirs);
  CHECK(theirs.lease->number.caller_id == "2125550102");
  // Until 90 s the number is reserved for this connection too; at 90 s its lease (learnt from
  // the file, never seen here) has expired and this connection drops it.
  REQUIRE_FALSE(db.lease(db.at(89)));
  LeaseResult mine = db.lease(db.at(90));
  REQUIRE(mine);
  CHECK(mine.lease->number.caller_id == "2125550102");
  SQLite::Database raw(db.path);
  CHECK(query_int(raw, "SELECT count(*) FROM leases") == 2);
  CHECK(query_int(raw, "SELECT live_leases FROM numbers WHERE caller_id = '2125550102'") == 1);
  // The other connection's registry still holds the dropped row: releasing it ends nothing, and
  // its own expiry pass finds the row gone and leaves the number's count alone.
  ReleaseRequest rel;
  rel.lease_id = theirs.lease->id;
  rel.now = db.at(91).now;
  CHECK(other->release(rel) == 0);
  CHECK(other->expire(db.at(92).now) == 0);
  CHECK(query_int(raw, "SELECT live_leases FROM numbers WHERE caller_id = '2125550102'") == 1);
  REQUIRE_FALSE(lease_on(*other, db.at(93)));
}

TEST_CASE("a lease seq is never reused, even after the newest lease row went", "[store]") {
  Db db;
  db.store->upsert_numbers({make_number("2125550101"), make_number("2125550102")});
  auto other = open_store("sqlite://" + db.path + "?busy_timeout_ms=4999");
  const Windows w = db.at(60);
  REQUIRE(lease_on(*other, w));  // other has learnt the file's leases
  LeaseResult mine = db.lease(w);
  REQUIRE(mine);
  ReleaseRequest rel;
  rel.lease_id = mine.lease->id;
  rel.now = w.now;
  REQUIRE(db.store->release(rel) == 1);  // the newest row is gone
  // A rowid would now be reused, and `other`, which knows the gone row's seq, would miss the new
  // row: it could neither release it by id nor see it in its pick order.
  REQUIRE(lease_on(*other, w));
  LeaseResult again = db.lease(w);  // nothing is free: other holds both
  REQUIRE_FALSE(again);
  SQLite::Database raw(db.path);
  CHECK(query_int(raw, "SELECT count(DISTINCT seq) FROM leases") == 2);
  CHECK(query_int(raw, "SELECT min(seq) < max(seq) AND max(seq) = 3 FROM leases") == 1);
  CHECK(query_int(raw, "SELECT lease_seq FROM changes ORDER BY gen DESC LIMIT 1") == 3);
}

TEST_CASE("a lease by one connection is released by id through another", "[store]") {
  Db db;
  db.store->upsert_numbers({make_number("2125550101")});
  auto other = open_store("sqlite://" + db.path + "?busy_timeout_ms=4999");
  const Windows w = db.at(60);
  for (int i = 0; i < 3; ++i) {
    // Alternate which connection leases and which releases; each release must find the row the
    // other connection inserted since its last transaction.
    Store& leaser = i % 2 ? *other : *db.store;
    Store& releaser = i % 2 ? *db.store : *other;
    LeaseResult r = lease_on(leaser, w);
    REQUIRE(r);
    ReleaseRequest rel;
    rel.lease_id = r.lease->id;
    rel.now = w.now;
    CHECK(releaser.release(rel) == 1);
    CHECK(leaser.release(rel) == 0);
  }
}

TEST_CASE("expired leases are dropped in expiry order, whatever order they were taken in",
          "[store]") {
  Db db;
  std::vector<Number> numbers;
  for (int i = 0; i < 300; ++i) numbers.push_back(make_number(std::to_string(2125550000LL + i)));
  db.store->upsert_numbers(numbers);
  // TTLs that do not follow the lease order: lease i expires at 60 + (i * 7919 % 300) s.
  std::map<std::int64_t, std::string> by_expiry;
  for (int i = 0; i < 300; ++i) {
    const std::int64_t ttl = i * 7919 % 300 + 1;
    LeaseResult r = db.lease(db.at(60), kAnyLadder, std::chrono::seconds(ttl));
    REQUIRE(r);
    by_expiry[60 + ttl] = r.lease->number.caller_id;
  }
  REQUIRE(by_expiry.size() == 300);
  // Every 50 s, exactly the leases whose expiry passed are gone.
  SQLite::Database raw(db.path);
  std::int64_t gone = 0;
  for (std::int64_t t = 60; t <= 420; t += 50) {
    const auto expired =
        static_cast<std::int64_t>(std::distance(by_expiry.begin(), by_expiry.upper_bound(t)));
    INFO("t=" << t);
    CHECK(db.store->expire(db.at(t).now) == expired - gone);
    CHECK(query_int(raw, "SELECT count(*) FROM leases") == 300 - expired);
    CHECK(query_int(raw, "SELECT sum(live_leases) FROM numbers") == 300 - expired);
    gone = expired;
  }
  CHECK(query_int(raw, "SELECT count(*) FROM leases") == 0);
}

TEST_CASE("a failing upsert batch writes nothing", "[store]") {
  Db db;
  db.store->upsert_numbers({make_number("2125550101", 7)});
  std::vector<Number> batch;
  for (int i = 0; i < 1000; ++i) batch.push_back(make_number(std::to_string(3125550000LL + i)));
  batch[0] = make_number("2125550101", 9);
  batch.back().area_code = "x";  // not an NPA: the store fails on the last number
  CHECK_THROWS_AS(db.store->upsert_numbers(batch), Error);
  SQLite::Database raw(db.path);
  CHECK(query_int(raw, "SELECT count(*) FROM numbers") == 1);
  CHECK(query_int(raw, "SELECT hourly_limit FROM numbers") == 7);
  // The store keeps working after the failed batch, and its in-memory selection order forgot the
  // batch too: the one number is leased, then the pool is all reserved (no 312 number).
  LeaseResult first = db.lease(db.at(60));
  REQUIRE(first);
  CHECK(first.lease->number.caller_id == "2125550101");
  LeaseResult second = db.lease(db.at(60));
  REQUIRE_FALSE(second);
  CHECK(second.denial == DenialReason::kAllReserved);
}

TEST_CASE("two store objects on one file never double-lease", "[store]") {
  Db db;
  auto other = open_store("sqlite://" + db.path);
  std::vector<Number> numbers;
  for (int i = 0; i < 8; ++i) numbers.push_back(make_number(std::to_string(2125550100 + i), 20));
  db.store->upsert_numbers(numbers);
  const Windows w = db.at(60);
  std::mutex mu;
  std::map<std::string, int> held;  // caller_id -> leases currently held
  // Counted here and checked after the join: Catch2's assertions are not thread-safe.
  std::atomic<int> granted{0}, violations{0}, lost_releases{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      Store& s = t % 2 ? *other : *db.store;
      for (int i = 0; i < 400; ++i) {
        LeaseResult r = lease_on(s, w);
        if (!r) {
          if (r.denial == DenialReason::kAllLimited) break;
          continue;
        }
        ++granted;
        const std::string cid = r.lease->number.caller_id;
        {
          std::lock_guard<std::mutex> lock(mu);
          if (++held[cid] > 1) ++violations;
        }
        std::this_thread::yield();
        {
          std::lock_guard<std::mutex> lock(mu);
          --held[cid];
        }
        ReleaseRequest rel;
        rel.lease_id = r.lease->id;
        rel.now = w.now;
        if (s.release(rel) != 1) ++lost_releases;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(violations == 0);
  CHECK(lost_releases == 0);
  CHECK(granted == 8 * 20);
  StoreStats st = db.store->stats(w);
  CHECK(st.total_uses == 8 * 20);
  CHECK(st.capped_hourly == 8);
}

TEST_CASE(
    "callers behind a write lock held elsewhere give up after busy_timeout_ms, leasing nothing",
    "[store]") {
  Db db;
  db.store->upsert_numbers({make_number("2125550101"), make_number("2125550102"),
                            make_number("2125550103"), make_number("2125550104")});
  auto store = open_store("sqlite://" + db.path + "?busy_timeout_ms=300");
  const Windows w = db.at(60);
  auto lease_from_threads = [&](int n) {
    std::atomic<int> granted{0}, unavailable{0}, other{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < n; ++t) {
      threads.emplace_back([&] {
        try {
          if (lease_on(*store, w)) ++granted;
        } catch (const Error& e) {
          ++(e.code() == ErrorCode::kBackendUnavailable ? unavailable : other);
        }
      });
    }
    for (auto& t : threads) t.join();
    return std::array<int, 3>{granted.load(), unavailable.load(), other.load()};
  };
  SQLite::Database raw(db.path, SQLite::OPEN_READWRITE);
  raw.exec("BEGIN IMMEDIATE");  // as another process's long write would
  // One caller leads and waits for the lock, the others queue behind it: all give up.
  CHECK(lease_from_threads(6) == std::array<int, 3>{0, 6, 0});
  raw.exec("ROLLBACK");
  CHECK(query_int(raw, "SELECT count(*) FROM leases") == 0);
  // The store recovers: the four numbers go to four of six callers, the rest are denied.
  CHECK(lease_from_threads(6) == std::array<int, 3>{4, 0, 0});
  CHECK(query_int(raw, "SELECT count(*) FROM leases") == 4);
}

TEST_CASE("a lease batch is one transaction; a locked file fails it once, for every request",
          "[store]") {
  Db db;
  std::vector<Number> numbers;
  for (int i = 0; i < 8; ++i) numbers.push_back(make_number(std::to_string(2125550100 + i)));
  db.store->upsert_numbers(numbers);
  auto store = open_store("sqlite://" + db.path + "?busy_timeout_ms=300");
  const Windows w = db.at(60);
  std::vector<LeaseRequest> reqs(5);
  for (auto& r : reqs) {
    r.lease_id = make_lease_id();
    r.campaign = "sales";
    r.destination = "2125550199";
    r.ladder = &kAnyLadder;
    r.windows = w;
  }
  std::vector<LeaseResult> results(reqs.size());
  std::vector<LeaseBatchItem> items;
  for (std::size_t i = 0; i < reqs.size(); ++i) items.push_back({&reqs[i], &results[i], {}});
  SQLite::Database raw(db.path, SQLite::OPEN_READWRITE);
  const std::int64_t gens = query_int(raw, "SELECT count(*) FROM changes");
  store->lease_batch(items.data(), items.size());
  std::set<std::string> leased;
  for (std::size_t i = 0; i < items.size(); ++i) {
    REQUIRE_FALSE(items[i].error);
    REQUIRE(results[i]);
    leased.insert(results[i].lease->number.caller_id);
  }
  CHECK(leased.size() == 5);
  // One commit: one changes entry for the five leases.
  CHECK(query_int(raw, "SELECT count(*) FROM changes") == gens + 1);

  // Held write lock: every request gets backend_unavailable after one wait, not one per request.
  for (auto& r : reqs) r.lease_id = make_lease_id();
  raw.exec("BEGIN IMMEDIATE");
  const auto t0 = std::chrono::steady_clock::now();
  store->lease_batch(items.data(), items.size());
  const auto waited = std::chrono::steady_clock::now() - t0;
  raw.exec("ROLLBACK");
  for (const LeaseBatchItem& item : items) {
    CHECK(testing::error_of(item.error).code() == ErrorCode::kBackendUnavailable);
  }
  CHECK(waited < std::chrono::milliseconds(1500));
  CHECK(query_int(raw, "SELECT count(*) FROM leases") == 5);
}

TEST_CASE("the SQL a lease or release runs never scans the pool", "[store]") {
  Db db;
  std::vector<Number> numbers;
  for (int i = 0; i < 2000; ++i) {
    numbers.push_back(make_number(std::to_string(2125550000LL + i * 7919 % 10000), 1));
  }
  db.store->upsert_numbers(numbers);
  SQLite::Database raw(db.path, SQLite::OPEN_READWRITE);
  raw.exec("ANALYZE");
  // The statements the writer runs per lease, release or transaction, with their parameters
  // (see sqlite_store.cpp). The pick itself is an in-memory probe.
  const char* statements[] = {
      "SELECT id FROM numbers WHERE hourly_limit > 0 AND hour_count >= hourly_limit"
      " AND hour_start < ?1 UNION SELECT id FROM numbers WHERE daily_limit > 0"
      " AND day_count >= daily_limit AND day_start < ?2",
      "UPDATE numbers SET live_leases = live_leases + 1 WHERE id = ?1",
      "SELECT 1 FROM leases WHERE seq = ?1 AND id = ?2",
      "DELETE FROM leases WHERE seq = ?1 AND id = ?2",
      "SELECT seq, id, number_id, expires_at FROM leases WHERE seq > ?1 ORDER BY seq",
  };
  for (const char* sql : statements) {
    SQLite::Statement plan(raw, std::string("EXPLAIN QUERY PLAN ") + sql);
    std::string detail;
    while (plan.executeStep()) detail += plan.getColumn(3).getString() + "; ";
    INFO(sql << "\n  -> " << detail);
    CHECK(detail.find("SCAN") == std::string::npos);
    CHECK(detail.find("TEMP B-TREE FOR ORDER BY") == std::string::npos);
  }
}

TEST_CASE("reads count live leases per number once, not once per number", "[store]") {
  Db db;
  std::vector<Number> numbers;
  for (int i = 0; i < 500; ++i) numbers.push_back(make_number(std::to_string(2125550000LL + i)));
  db.store->upsert_numbers(numbers);
  for (int i = 0; i < 100; ++i) REQUIRE(db.lease(db.at(60)));
  SQLite::Database raw(db.path);
  // The shape of list_numbers' query with a "leased" filter (sqlite_store.cpp, kLiveCte).
  SQLite::Statement plan(raw,
                         "EXPLAIN QUERY PLAN WITH live AS MATERIALIZED (SELECT number_id, count(*)"
                         " AS c FROM leases WHERE expires_at > ?1 GROUP BY number_id) SELECT n.id,"
                         " coalesce((SELECT live.c FROM live WHERE live.number_id = n.id), 0)"
                         " FROM numbers n WHERE coalesce((SELECT live.c FROM live"
                         " WHERE live.number_id = n.id), 0) > 0");
  std::string detail;
  while (plan.executeStep()) detail += plan.getColumn(3).getString() + "; ";
  INFO(detail);
  // One scan of leases (live rows only), then lookups of its counts.
  const std::size_t scan = detail.find("SCAN leases");
  CHECK(scan != std::string::npos);
  CHECK(detail.find("SCAN leases", scan + 1) == std::string::npos);
  CHECK(detail.find("SEARCH live USING AUTOMATIC") != std::string::npos);
  // And the answers: 100 leased numbers, each with one live lease.
  ListQuery q;
  q.leased = true;
  q.limit = 1000;
  ListPage page = db.store->list_numbers(q, db.at(60));
  CHECK(page.total == 100);
  for (const NumberState& n : page.items) CHECK(n.active_leases == 1);
  q.leased = false;
  CHECK(db.store->list_numbers(q, db.at(60)).total == 400);
}

TEST_CASE("a store follows the numbers another connection changed", "[store]") {
  Db db;
  db.store->upsert_numbers({make_number("2125550101"), make_number("2125550102")});
  // Another busy_timeout gives this store object its own writer connection and in-memory index,
  // as another process would have.
  auto other = open_store("sqlite://" + db.path + "?busy_timeout_ms=4999");
  const Ladder ladder = {LadderStep{Tier::kSameNpa, {212}}, LadderStep{Tier::kAny, {}}};
  const Windows w = db.at(60);
  LeaseResult first = lease_on(*other, w, ladder);  // loads other's index
  REQUIRE(first);
  CHECK(first.lease->number.caller_id == "2125550101");
  ReleaseRequest rel;
  rel.lease_id = first.lease->id;
  rel.now = w.now;
  CHECK(db.store->release(rel) == 1);  // released through the first connection

  SECTION("single changes are re-read by id") {
    REQUIRE(db.store->set_active("2125550102", false));
    REQUIRE(db.store->remove_number("2125550101"));
    db.store->upsert_numbers({make_number("3125550100")});
    LeaseResult r = lease_on(*other, w, ladder);
    REQUIRE(r);
    CHECK(r.lease->number.caller_id == "3125550100");
    CHECK(r.lease->tier == Tier::kAny);
    LeaseResult none = lease_on(*other, w, ladder);
    REQUIRE_FALSE(none);
    CHECK(none.denial == DenialReason::kAllReserved);
    // And the first connection sees the lease the other one took.
    CHECK_FALSE(db.lease(w, ladder));
  }
  SECTION("leases are released through either connection, by id or by caller-ID") {
    LeaseResult a = db.lease(w, ladder);
    REQUIRE(a);
    ReleaseRequest by_cid;
    by_cid.caller_id = a.lease->number.caller_id;
    by_cid.now = w.now;
    CHECK(other->release(by_cid) == 1);
    ReleaseRequest by_id;
    by_id.lease_id = a.lease->id;
    by_id.now = w.now;
    CHECK(db.store->release(by_id) == 0);  // already gone
    LeaseResult b = lease_on(*other, w, ladder);
    REQUIRE(b);
    by_id.lease_id = b.lease->id;
    CHECK(db.store->release(by_id) == 1);
    CHECK(other->release(by_id) == 0);
    // Both numbers are free again on both connections.
    CHECK(db.lease(w, ladder));
    CHECK(lease_on(*other, w, ladder));
    CHECK_FALSE(db.lease(w, ladder));
  }
  SECTION("a change too large to list reloads the whole index") {
    std::vector<Number> many;
    for (int i = 0; i < 12000; ++i) many.push_back(make_number(std::to_string(4155550000LL + i)));
    db.store->upsert_numbers(many);
    const Ladder sf = {LadderStep{Tier::kSameNpa, {415}}};
    LeaseResult r = lease_on(*other, w, sf);
    REQUIRE(r);
    CHECK(r.lease->number.caller_id == "4155550000");
  }
  SECTION("a gap in the changes log (pruned entries) reloads the whole index") {
    REQUIRE(db.store->set_active("2125550101", false));  // logged, then pruned below
    db.store->upsert_numbers({make_number("3125550100")});
    {
      SQLite::Database raw(db.path, SQLite::OPEN_READWRITE);
      const std::int64_t newest = query_int(raw, "SELECT max(gen) FROM changes");
      raw.exec("DELETE FROM changes WHERE gen < " + std::to_string(newest));
    }
    LeaseResult r = lease_on(*other, w, ladder);
    REQUIRE(r);
    CHECK(r.lease->number.caller_id == "2125550102");
    LeaseResult next = lease_on(*other, w, ladder);
    REQUIRE(next);
    CHECK(next.lease->number.caller_id == "3125550100");
  }
}

// The writer keeps the rows it leased in memory instead of reading them back: what it answers and
// the caps it enforces must still be the file's after other connections and rollbacks.
TEST_CASE("leases answer and count a number as the file has it, whoever changed it last",
          "[store]") {
  Db db;
  const Windows w = db.at(60);
  auto release_id = [&](Store& s, const LeaseResult& r) {
    ReleaseRequest rel;
    rel.lease_id = r.lease->id;
    rel.now = w.now;
    return s.release(rel);
  };
  SQLite::Database raw(db.path);
  auto hour_count = [&](const std::string& cid) {
    return query_int(raw, "SELECT hour_count FROM numbers WHERE caller_id = '" + cid + "'");
  };

  SECTION("another connection's changes and uses") {
    db.store->upsert_numbers({make_number("2125550101", /*hourly=*/3)});
    auto other = open_store("sqlite://" + db.path + "?busy_timeout_ms=4999");
    LeaseResult first = db.lease(w);  // the writer now holds the row
    REQUIRE(first);
    CHECK(first.lease->number.carrier == "TestTel");
    CHECK(release_id(*db.store, first) == 1);
    Number changed = make_number("2125550101", /*hourly=*/3);
    changed.carrier = "OtherTel";
    changed.meta_json = R"({"pool":"b"})";
    other->upsert_numbers({changed});
    LeaseResult second = lease_on(*other, w);  // the other connection uses it once
    REQUIRE(second);
    CHECK(release_id(*other, second) == 1);
    LeaseResult third = db.lease(w);
    REQUIRE(third);
    CHECK(third.lease->number.carrier == "OtherTel");
    CHECK(third.lease->number.meta_json == R"({"pool":"b"})");
    CHECK(hour_count("2125550101") == 3);
    // Released through the other connection: this one must see the number free, and capped.
    CHECK(release_id(*other, third) == 1);
    LeaseResult capped = db.lease(w);
    REQUIRE_FALSE(capped);
    CHECK(capped.denial == DenialReason::kAllLimited);
  }
  SECTION("a batch rolled back after a lease") {
    db.store->upsert_numbers({make_number("2125550101", /*hourly=*/3), make_number("3125550101")});
    const Ladder at212 = {LadderStep{Tier::kSameNpa, {212}}};
    const Ladder at312 = {LadderStep{Tier::kSameNpa, {312}}};
    LeaseResult held = db.lease(w, at312);
    REQUIRE(held);
    // The second request reuses a live lease id: it fails after the first one's UPDATE ran in the
    // same transaction, which is rolled back and run again without it.
    std::vector<LeaseRequest> reqs(2);
    for (auto& r : reqs) {
      r.campaign = "sales";
      r.destination = "2125550199";
      r.ladder = &at212;
      r.windows = w;
    }
    reqs[0].lease_id = make_lease_id();
    reqs[1].lease_id = held.lease->id;
    std::vector<LeaseResult> results(2);
    std::vector<LeaseBatchItem> items = {{&reqs[0], &results[0], {}}, {&reqs[1], &results[1], {}}};
    db.store->lease_batch(items.data(), items.size());
    REQUIRE_FALSE(items[0].error);
    REQUIRE(results[0]);
    CHECK(testing::error_of(items[1].error).code() == ErrorCode::kConflict);
    CHECK(hour_count("2125550101") == 1);
    CHECK(release_id(*db.store, results[0]) == 1);
    // Two more uses reach the cap of 3, not one.
    for (int use = 2; use <= 3; ++use) {
      LeaseResult r = db.lease(w, at212);
      REQUIRE(r);
      CHECK(release_id(*db.store, r) == 1);
    }
    CHECK(hour_count("2125550101") == 3);
    CHECK(db.lease(w, at212).denial == DenialReason::kAllLimited);
  }
}

TEST_CASE("a bulk import into an empty store rebuilds its indexes as the schema defines them",
          "[store]") {
  Db db;
  std::vector<Number> numbers;
  for (int i = 0; i < 12000; ++i) {
    numbers.push_back(make_number(std::to_string(3125550000LL + (i * 7919) % 12000), 1));
  }
  numbers.push_back(make_number("2125550100", 1));
  UpsertResult r = db.store->upsert_numbers(numbers);
  CHECK(r.inserted == 12001);
  Db fresh;
  fresh.store->upsert_numbers({make_number("2125550101")});
  SQLite::Database raw(db.path), ref(fresh.path);
  const std::string schema =
      "SELECT group_concat(name || ':' || sql, ';') FROM"
      " (SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
      " ORDER BY name)";
  CHECK(raw.execAndGet(schema).getString() == ref.execAndGet(schema).getString());
  CHECK(raw.execAndGet("PRAGMA integrity_check").getString() == "ok");
  // Served through the rebuilt indexes: the same-NPA step and the any step.
  const Ladder ladder = {LadderStep{Tier::kSameNpa, {212}}, LadderStep{Tier::kAny, {}}};
  LeaseResult first = db.lease(db.at(60), ladder);
  REQUIRE(first);
  CHECK(first.lease->number.caller_id == "2125550100");
  LeaseResult second = db.lease(db.at(60), ladder);
  REQUIRE(second);
  CHECK(second.lease->tier == Tier::kAny);
  CHECK(second.lease->number.caller_id == "3125550000");
  ListQuery q;
  q.area_codes = {312};
  q.limit = 1;
  CHECK(db.store->list_numbers(q, db.at(60)).total == 12000);
}

TEST_CASE("the WAL stays bounded and restarts under continuous leases from several threads",
          "[store]") {
  // The writer checkpoints itself at 10000 WAL pages (the background checkpointer alone never
  // catches up under continuous writes, so without that the WAL would grow without bound). Its
  // checkpoint fails while a background one is still running, which on a loaded machine can
  // take a few thousand more pages; twice the threshold still tells bounded from unbounded.
  constexpr std::int64_t kMaxFrames = 2 * 10000;
  Db db;
  std::vector<Number> numbers;
  for (int i = 0; i < 5000; ++i) numbers.push_back(make_number(std::to_string(2120000000 + i)));
  db.store->upsert_numbers(numbers);
  const Windows w = db.at(60);
  const std::string wal = db.path + "-wal";
  std::atomic<bool> done{false};
  std::atomic<std::int64_t> largest{0};
  std::thread watcher([&] {
    while (!done) {
      std::error_code ec;
      const auto size = static_cast<std::int64_t>(std::filesystem::file_size(wal, ec));
      if (!ec && size > largest) largest = size;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 8000; ++i) {
        LeaseResult r = db.lease(w);
        ReleaseRequest rel;
        if (r) rel.lease_id = r.lease->id;
        rel.now = w.now;
        if (!r || db.store->release(rel) != 1) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  done = true;
  watcher.join();
  CHECK(failures == 0);
  SQLite::Database check(db.path);
  const std::int64_t page = query_int(check, "PRAGMA page_size");
  CHECK(largest <= 32 + kMaxFrames * (page + 24));
  // The WAL header's checkpoint sequence number counts the times the WAL restarted from its
  // start: 64000 commits of 2-3 pages each (fewer when commits are grouped) wrap it several times.
  const std::string header = read_file(wal).substr(0, 16);
  REQUIRE(header.size() == 16);
  const auto byte = [&](int i) {
    return static_cast<std::uint32_t>(static_cast<unsigned char>(header[i]));
  };
  const std::uint32_t restarts = byte(12) << 24 | byte(13) << 16 | byte(14) << 8 | byte(15);
  CHECK(restarts >= 2);
}
