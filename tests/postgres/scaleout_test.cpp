// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
//
// Scale-out: several OS processes (each its own store, its own connection pool) x several
// threads lease from one small pool in one PostgreSQL database, as several cidrot-servers behind
// a load balancer do. Double leases are caught the moment they happen: every process counts the
// holders of each number in memory shared by all of them.

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <map>
#include <thread>

#include "cidrot/cidrot.h"
#include "pg_test_support.h"

using namespace cidrot;
using namespace cidrot::pgtest;
using namespace std::chrono_literals;

namespace {

constexpr int kMaxNumbers = 32;
constexpr int kProcesses = 4;
constexpr int kThreads = 4;

struct Shared {
  std::atomic<int> held[kMaxNumbers];      // live leases per number, as seen by the workers
  std::atomic<int> max_conc[kMaxNumbers];  // each number's max_concurrent
  std::atomic<int> granted[kMaxNumbers];   // grants per number
  std::atomic<int> over_concurrency{0};    // a grant that made held exceed max_concurrent
  std::atomic<int> denied[4];              // by DenialReason
  std::atomic<int> errors{0};
  std::atomic<int> unknown_number{0};
};

TimePoint at_hour(int hour) {
  // Monday 2 March 2026, hour:20 UTC. Windows are computed in UTC below.
  return std::chrono::system_clock::from_time_t(1772409600 + hour * 3600 + 20 * 60);
}

std::string caller(int i) { return "21255501" + std::to_string(10 + i); }

int index_of(const std::string& caller_id) {
  for (int i = 0; i < kMaxNumbers; ++i) {
    if (caller(i) == caller_id) return i;
  }
  return -1;
}

// One worker process: kThreads threads, each `attempts` lease+release cycles at `when`.
int worker_process(const std::string& url, Shared* sh, TimePoint when, int attempts) {
  auto store = open_store(url);
  auto clock = std::make_shared<ManualClock>(when);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      RotatorOptions o;
      o.time_zone = "UTC";
      Rotator rot(store, o, clock);
      for (int i = 0; i < attempts; ++i) {
        try {
          LeaseResult r = rot.next(CallRequest{"2125559999", "sales", "w" + std::to_string(t), 0s});
          if (!r) {
            sh->denied[static_cast<int>(r.denial)]++;
            continue;
          }
          const int n = index_of(r.lease->number.caller_id);
          if (n < 0) {
            sh->unknown_number++;
            continue;
          }
          if (sh->held[n].fetch_add(1) + 1 > sh->max_conc[n].load()) sh->over_concurrency++;
          sh->granted[n]++;
          std::this_thread::yield();
          sh->held[n].fetch_sub(1);  // before the store frees it, so a correct store never trips
          rot.release(r.lease->id, {"answered", 30});
        } catch (const std::exception& e) {
          std::fprintf(stderr, "worker: %s\n", e.what());
          sh->errors++;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  return 0;
}

void run_phase(const std::string& url, Shared* sh, TimePoint when, int attempts) {
  const auto codes =
      run_children(kProcesses, [&](int) { return worker_process(url, sh, when, attempts); });
  for (int c : codes) CHECK(c == 0);
}

int total(const std::atomic<int>* a, int n) {
  int s = 0;
  for (int i = 0; i < n; ++i) s += a[i].load();
  return s;
}

}  // namespace

TEST_CASE("scale-out: 4 processes x 4 threads, capped pool: no double lease, caps exact",
          "[postgres][scaleout]") {
  const std::string url = with_option(base_url(), "schema=" + fresh_schema("scale") + "&pool=4");
  Shared* sh = shared_block<Shared>();
  // 6 exclusive numbers capped 20/hour and 30/day, 2 numbers taking 3 calls at once capped
  // 40/hour and 60/day.
  constexpr int kNumbers = 8;
  {
    auto store = open_store(url);
    RotatorOptions o;
    o.time_zone = "UTC";
    Rotator setup(store, o);
    std::vector<Number> nums;
    for (int i = 0; i < kNumbers; ++i) {
      Number n;
      n.caller_id = caller(i);
      n.campaigns = {"sales"};
      const bool multi = i >= 6;
      n.hourly_limit = multi ? 40 : 20;
      n.daily_limit = multi ? 60 : 30;
      n.max_concurrent = multi ? 3 : 1;
      sh->max_conc[i] = n.max_concurrent;
      nums.push_back(n);
    }
    setup.add_numbers(nums);
  }  // closed before forking: children must not share this process's sessions

  // Hour 1: 400 attempts for 6x20 + 2x40 = 200 grants.
  const int attempts = 25;
  run_phase(url, sh, at_hour(1), attempts);
  CHECK(sh->over_concurrency == 0);
  CHECK(sh->errors == 0);
  CHECK(sh->unknown_number == 0);
  CHECK(total(sh->granted, kNumbers) == 200);
  CHECK(total(sh->granted, kNumbers) + total(sh->denied, 4) == kProcesses * kThreads * attempts);
  for (int i = 0; i < kNumbers; ++i) CHECK(sh->granted[i] == (i >= 6 ? 40 : 20));

  // Hour 2, same day: the daily caps leave 6x10 + 2x20 = 100.
  int before[kMaxNumbers];
  for (int i = 0; i < kNumbers; ++i) before[i] = sh->granted[i];
  for (auto& d : sh->denied) d = 0;
  run_phase(url, sh, at_hour(2), attempts);
  CHECK(sh->over_concurrency == 0);
  CHECK(sh->errors == 0);
  for (int i = 0; i < kNumbers; ++i) CHECK(sh->granted[i] - before[i] == (i >= 6 ? 20 : 10));
  CHECK(sh->denied[static_cast<int>(DenialReason::kAllLimited)] > 0);

  // The store's own counts agree with what the workers were granted.
  auto store = open_store(url);
  auto clock = std::make_shared<ManualClock>(at_hour(2));
  RotatorOptions o;
  o.time_zone = "UTC";
  Rotator check(store, o, clock);
  const StoreStats st = check.stats();
  CHECK(st.total_uses == 300);
  CHECK(st.active_leases == 0);
  CHECK(st.capped_daily == kNumbers);
  for (int i = 0; i < kNumbers; ++i) {
    auto n = check.get_number(caller(i));
    REQUIRE(n);
    CHECK(n->total_uses == sh->granted[i]);
    CHECK(n->day_count == n->number.daily_limit.value());
    CHECK(n->hour_count == sh->granted[i] - before[i]);
    CHECK(n->last_disposition == "answered");
  }
}

TEST_CASE("scale-out: as many numbers as callers: never a denial, never a double lease",
          "[postgres][scaleout]") {
  // Each of the 16 workers holds at most one lease at a time and there are 16 numbers, so some
  // number is always free: a denial here would be the SKIP LOCKED trap (a number skipped while
  // a concurrent call was giving it back).
  const std::string url = with_option(base_url(), "schema=" + fresh_schema("free") + "&pool=4");
  Shared* sh = shared_block<Shared>();
  constexpr int kNumbers = kProcesses * kThreads;
  {
    auto store = open_store(url);
    RotatorOptions o;
    o.time_zone = "UTC";
    Rotator setup(store, o);
    std::vector<Number> nums;
    for (int i = 0; i < kNumbers; ++i) {
      Number n;
      n.caller_id = caller(i);
      n.hourly_limit = 0;
      n.daily_limit = 0;
      sh->max_conc[i] = 1;
      nums.push_back(n);
    }
    setup.add_numbers(nums);
  }
  const int attempts = 60;
  run_phase(url, sh, at_hour(1), attempts);
  CHECK(sh->over_concurrency == 0);
  CHECK(sh->errors == 0);
  CHECK(total(sh->denied, 4) == 0);
  CHECK(total(sh->granted, kNumbers) == kProcesses * kThreads * attempts);

  auto store = open_store(url);
  auto clock = std::make_shared<ManualClock>(at_hour(1));
  RotatorOptions o;
  o.time_zone = "UTC";
  Rotator check(store, o, clock);
  CHECK(check.stats().total_uses == kProcesses * kThreads * attempts);
  CHECK(check.stats().active_leases == 0);
}
