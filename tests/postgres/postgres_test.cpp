// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
// PostgreSQL-specific behaviour the conformance suite cannot express: migrations, URL options,
// error messages, bulk import, and selection under row-lock contention.

#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "cidrot/cidrot.h"
#include "pg_test_support.h"

using namespace cidrot;
using namespace cidrot::pgtest;
using namespace std::chrono_literals;

namespace {

std::string fresh_url(const std::string& prefix = "t") {
  return with_option(base_url(), "schema=" + fresh_schema(prefix));
}

ErrorCode code_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.code();
  }
  FAIL("no cidrot::Error was thrown");
  return ErrorCode::kInternal;
}

Number plain(const std::string& caller_id, std::int32_t max_concurrent = 1) {
  Number n;
  n.caller_id = caller_id;
  n.hourly_limit = 0;
  n.daily_limit = 0;
  n.max_concurrent = max_concurrent;
  return n;
}

RotatorOptions utc() {
  RotatorOptions o;
  o.time_zone = "UTC";
  return o;
}

}  // namespace

TEST_CASE("postgres: both schemes open the same store", "[postgres]") {
  const std::string url = fresh_url();
  auto a = open_store(url);
  CHECK(a->backend_name() == "postgresql");
  Rotator(a, utc()).add_numbers({plain("2125550100")});
  std::string alias = "postgres" + url.substr(url.find("://"));
  auto b = open_store(alias);
  CHECK(Rotator(b, utc()).get_number("2125550100").has_value());
  b->ping();
}

TEST_CASE("postgres: URL options are checked", "[postgres]") {
  CHECK(code_of([] { open_store(with_option(base_url(), "bogus=1")); }) == ErrorCode::kUnsupported);
  CHECK(code_of([] { open_store(with_option(base_url(), "schema=bad-name")); }) ==
        ErrorCode::kInvalidArgument);
  CHECK(code_of([] { open_store(with_option(base_url(), "schema=1abc")); }) ==
        ErrorCode::kInvalidArgument);
  CHECK(code_of([] { open_store(with_option(base_url(), "pool=0")); }) ==
        ErrorCode::kInvalidArgument);
  CHECK(code_of([] { open_store(with_option(base_url(), "timeout_ms=abc")); }) ==
        ErrorCode::kInvalidArgument);
  try {
    open_store(with_option(base_url(), "bogus=1"));
  } catch (const Error& e) {
    CHECK(e.field() == "url");
    CHECK(std::string(e.what()).find("timeout_ms") != std::string::npos);  // lists what is known
  }
}

TEST_CASE("postgres: a wrong password fails cleanly and is never echoed", "[postgres]") {
  const std::string secret = "Not-The-Password-7731";
  std::string url = base_url();
  // postgresql://user[:pass]@host... -> postgresql://user:<secret>@host...
  const auto scheme_end = url.find("://") + 3;
  const auto at = url.find('@', scheme_end);
  REQUIRE(at != std::string::npos);
  std::string user = url.substr(scheme_end, at - scheme_end);
  user = user.substr(0, user.find(':'));
  url = url.substr(0, scheme_end) + user + ":" + secret + url.substr(at);
  try {
    open_store(with_option(url, "timeout_ms=3000"));
    // A server configured with trust authentication accepts any password; nothing to check.
    SUCCEED("server does not check passwords");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::kBackendUnavailable);
    CHECK(std::string(e.what()).find(secret) == std::string::npos);
  }
}

TEST_CASE("postgres: nothing listening is backend_unavailable, quickly", "[postgres]") {
  const auto t0 = std::chrono::steady_clock::now();
  CHECK(code_of([] { open_store("postgresql://nobody:pw@127.0.0.1:1/db?timeout_ms=500"); }) ==
        ErrorCode::kBackendUnavailable);
  CHECK(std::chrono::steady_clock::now() - t0 < 5s);
}

TEST_CASE("postgres: a database of a newer schema version is refused as corrupt", "[postgres]") {
  const std::string schema = fresh_schema("newer");
  const std::string url = with_option(base_url(), "schema=" + schema);
  open_store(url);
  raw_sql(url, "INSERT INTO \"" + schema + "\".schema_version (version) VALUES (999)");
  try {
    open_store(url);
    FAIL("opened a schema of version 999");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::kCorrupt);
    CHECK(std::string(e.what()).find("999") != std::string::npos);
    CHECK(std::string(e.what()).find("upgrade") != std::string::npos);
  }
}

TEST_CASE("postgres: several processes migrating one fresh schema at once", "[postgres]") {
  const std::string schema = fresh_schema("race");
  const std::string url = with_option(base_url(), "schema=" + schema);
  struct Gate {
    std::atomic<int> ready{0};
  };
  Gate* gate = shared_block<Gate>();
  constexpr int kProcs = 6;
  const auto codes = run_children(kProcs, [&](int) {
    gate->ready++;
    while (gate->ready < kProcs) std::this_thread::yield();  // all start together
    auto store = open_store(url);
    Rotator rot(store, utc());
    rot.add_numbers({plain("2125550100")});
    return rot.get_number("2125550100") ? 0 : 1;
  });
  for (int c : codes) CHECK(c == 0);
  CHECK(raw_sql(url, "SELECT count(*) FROM \"" + schema + "\".schema_version") == "1");
}

TEST_CASE("postgres: bulk upsert is one statement and keeps usage state", "[postgres]") {
  auto store = open_store(fresh_url("bulk"));
  auto clock = std::make_shared<ManualClock>(std::chrono::system_clock::from_time_t(1772409600));
  Rotator rot(store, utc(), clock);
  std::vector<Number> nums;
  for (int i = 0; i < 20000; ++i) {
    Number n = plain(std::to_string(2125500000LL + i));
    n.carrier = i % 2 ? "Quote\"Back\\slash,{brace}" : "Plain";
    n.campaigns = {"sales", "c" + std::to_string(i % 7)};
    n.meta_json = "{\"i\":" + std::to_string(i) + ",\"s\":\"a,b}\"}";
    nums.push_back(n);
  }
  const auto t0 = std::chrono::steady_clock::now();
  UpsertResult r = rot.add_numbers(nums);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  WARN("upsert of 20000 new numbers: " << ms.count() << " ms");
  CHECK(r.inserted == 20000);
  CHECK(r.updated == 0);

  LeaseResult l = rot.next(CallRequest{"2125559999", "sales", "a", 0s});
  REQUIRE(l);
  const std::string used = l.lease->number.caller_id;

  for (auto& n : nums) n.carrier = "Changed";
  r = rot.add_numbers(nums);
  CHECK(r.inserted == 0);
  CHECK(r.updated == 20000);
  auto st = rot.get_number(used);
  REQUIRE(st);
  CHECK(st->number.carrier == "Changed");
  CHECK(st->total_uses == 1);
  CHECK(st->active_leases == 1);

  auto odd = rot.get_number("2125500001");
  REQUIRE(odd);
  CHECK(odd->number.meta_json == "{\"i\":1,\"s\":\"a,b}\"}");
  CHECK(odd->number.campaigns == std::vector<std::string>{"c1", "sales"});  // sorted by the Rotator
}

TEST_CASE("postgres: a local number with room is not skipped while others lock it",
          "[postgres][concurrency]") {
  // One local number that takes 8 calls at once, plus plenty of non-local ones. 8 callers lease
  // at the same moment and hold: all must get the local number. A plain SKIP LOCKED pick would
  // skip the row while a concurrent lease holds its lock and hand out non-local numbers.
  const std::string url = fresh_url("room");
  auto store = open_store(with_option(url, "pool=8"));
  auto clock = std::make_shared<ManualClock>(std::chrono::system_clock::from_time_t(1772409600));
  {
    Rotator setup(store, utc(), clock);
    std::vector<Number> nums = {plain("2125550100", 8)};
    for (int i = 0; i < 20; ++i) nums.push_back(plain(std::to_string(3105550100LL + i)));
    setup.add_numbers(nums);
  }
  for (int round = 0; round < 5; ++round) {
    std::atomic<int> local{0}, leased{0};
    std::vector<std::string> ids(8);
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&, t] {
        Rotator rot(store, utc(), clock);
        LeaseResult r = rot.next(CallRequest{"2125559999", "sales", "a", 0s});
        if (!r) return;
        leased++;
        if (r.lease->number.caller_id == "2125550100") local++;
        ids[t] = r.lease->id;
      });
    }
    for (auto& th : threads) th.join();
    CHECK(leased == 8);
    CHECK(local == 8);
    Rotator rot(store, utc(), clock);
    for (const auto& id : ids) {
      if (!id.empty()) rot.release(id);
    }
  }
}
