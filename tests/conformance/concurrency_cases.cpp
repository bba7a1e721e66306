// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
// Concurrency: real threads leasing from a small pool through one store object and through
// separate store objects over the same URL (separate connections/handles).
#include <atomic>
#include <catch2/catch.hpp>
#include <map>
#include <mutex>
#include <thread>

#include "fixture.h"

using namespace cidrot;
using namespace cidrot::conformance;
using namespace std::chrono_literals;

namespace {

struct Tally {
  std::mutex mu;
  std::map<std::string, std::atomic<int>> held;  // caller_id -> live leases seen by the test
  std::map<std::string, int> granted;
  std::atomic<int> double_leases{0};
  std::atomic<int> ok{0};
  std::atomic<int> denied{0};
  std::atomic<int> unexpected{0};   // denials other than all_reserved/all_limited
  std::vector<std::string> errors;  // exceptions thrown in workers
};

// `threads` workers lease+release on their own Rotator over `stores[i % stores.size()]` until
// the pool answers all_limited (every number at its cap), recording every grant. all_reserved
// means "another thread holds them right now": retry, so the outcome never depends on timing.
void hammer(const std::vector<std::shared_ptr<Store>>& stores,
            const std::shared_ptr<ManualClock>& clock, int threads, Tally* t) {
  auto run_worker = [&](int w) {
    RotatorOptions o;
    o.time_zone = "America/New_York";
    Rotator rot(stores[w % stores.size()], o, clock);
    for (int i = 0; i < 200000; ++i) {
      LeaseResult r = rot.next(CallRequest{"2125559999", "sales", "t" + std::to_string(w), 0s});
      if (!r) {
        t->denied++;
        if (r.denial == DenialReason::kAllLimited) return;
        // Catch2 assertions are not thread-safe: count, check after join.
        if (r.denial != DenialReason::kAllReserved) t->unexpected++;
        std::this_thread::yield();
        continue;
      }
      const std::string& id = r.lease->number.caller_id;
      std::atomic<int>* h;
      {
        std::lock_guard<std::mutex> lock(t->mu);
        h = &t->held[id];
        t->granted[id]++;
      }
      if (h->fetch_add(1) != 0) t->double_leases++;
      t->ok++;
      std::this_thread::yield();
      h->fetch_sub(1);
      rot.release(r.lease->id);
    }
  };
  std::vector<std::thread> pool;
  for (int w = 0; w < threads; ++w) {
    pool.emplace_back([&, w] {
      try {
        run_worker(w);
      } catch (const std::exception& e) {
        // A store fault must fail the case, not abort the test binary.
        std::lock_guard<std::mutex> lock(t->mu);
        t->errors.push_back(e.what());
      }
    });
  }
  for (auto& th : pool) th.join();
  for (const auto& e : t->errors) UNSCOPED_INFO("worker error: " << e);
  CHECK(t->errors.empty());
}

}  // namespace

TEST_CASE("8 threads on one store: no double lease, no cap overrun", "[conformance][concurrency]") {
  auto clock = std::make_shared<ManualClock>(utc(2026, 3, 2, 15, 10, 0));
  auto store = fresh_store();
  {
    RotatorOptions o;
    o.time_zone = "America/New_York";
    Rotator setup(store, o, clock);
    std::vector<Number> nums;
    for (int i = 0; i < 5; ++i) {
      nums.push_back(num("21255501" + std::to_string(10 + i), {}, 30, 0));
    }
    setup.add_numbers(nums);
  }
  Tally t;
  hammer({store}, clock, 8, &t);
  CHECK(t.double_leases == 0);
  CHECK(t.unexpected == 0);
  // 5 numbers x 30 per hour: exactly 150 grants, 30 each, whatever the interleaving.
  CHECK(t.ok == 150);
  for (const auto& [id, n] : t.granted) {
    CHECK(n == 30);
    RotatorOptions o;
    o.time_zone = "America/New_York";
    Rotator check(store, o, clock);
    auto st = check.get_number(id);
    REQUIRE(st);
    CHECK(st->hour_count == 30);
    CHECK(st->total_uses == 30);
    CHECK(st->active_leases == 0);
  }
}

TEST_CASE("8 threads on separate store handles: no double lease", "[conformance][concurrency]") {
  const std::string url = fresh_url();
  if (url.rfind("memory:", 0) == 0) {
    SUCCEED("memory:// handles are separate stores; covered by the one-store case");
    return;
  }
  auto clock = std::make_shared<ManualClock>(utc(2026, 3, 2, 15, 10, 0));
  std::vector<std::shared_ptr<Store>> stores;
  for (int i = 0; i < 4; ++i) stores.push_back(open_store(url));
  {
    RotatorOptions o;
    o.time_zone = "America/New_York";
    Rotator setup(stores[0], o, clock);
    std::vector<Number> nums;
    for (int i = 0; i < 4; ++i) nums.push_back(num("21255501" + std::to_string(10 + i), {}, 0, 25));
    setup.add_numbers(nums);
  }
  Tally t;
  hammer(stores, clock, 8, &t);
  CHECK(t.double_leases == 0);
  CHECK(t.unexpected == 0);
  CHECK(t.ok == 100);  // 4 numbers x 25 per day
  for (const auto& [id, n] : t.granted) CHECK(n == 25);
}

TEST_CASE("failing calls beside releases: every release of a live lease ends it",
          "[conformance][concurrency]") {
  // One thread keeps leasing with an id already in use (each call fails with kConflict); six
  // others lease and release. A store that batches calls and undoes a batch for one failure
  // must still end every released lease exactly once.
  Fixture f;
  std::vector<Number> nums;
  for (int i = 0; i < 32; ++i) nums.push_back(num("21255502" + std::to_string(10 + i)));
  f.add(nums);
  const Ladder any = {LadderStep{Tier::kAny, {}}};
  LeaseRequest fixed;
  fixed.lease_id = std::string(32, 'f');
  fixed.campaign = "c";
  fixed.destination = "2125550199";
  fixed.ladder = &any;
  fixed.windows = Windows{f.clock->now(), 0, 0};
  fixed.ttl = std::chrono::minutes(5);
  REQUIRE(f.store->lease(fixed));
  std::atomic<bool> stop{false};
  std::atomic<int> conflicts{0}, wrong{0};
  std::thread spoiler([&] {
    while (!stop) {
      try {
        f.store->lease(fixed);
      } catch (const Error& e) {
        if (e.code() == ErrorCode::kConflict) ++conflicts;
      }
    }
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        LeaseResult r = f.next("2125550199", "c");
        if (!r) continue;
        if (f.rot->release(r.lease->id) != 1) ++wrong;
      }
    });
  }
  for (auto& t : threads) t.join();
  stop = true;
  spoiler.join();
  CHECK(conflicts > 0);
  CHECK(wrong == 0);
  CHECK(f.rot->stats().active_leases == 1);  // only the fixed-id lease
}
