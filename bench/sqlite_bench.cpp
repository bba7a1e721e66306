// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
//
// SQLite backend throughput, next to a plain single-row SQLite UPDATE loop on the same disk in the
// same run (the ceiling any SQLite design pays per transaction):
//   BM_UpdateLoop/<sync>            one autocommit UPDATE of one row per iteration (WAL)
//   BM_UpdateLoopRandom             the same, but of a random row of 10k (as a lease updates the
//                                   row of whichever number it picks)
//   BM_Lease/<sync>/threads:N       Store::lease() from N threads (group commit), 10k-number pool
//   BM_LeaseRelease/threads:8       lease + release per iteration (a whole call)
//   BM_LeaseBatch/calls:N           Store::lease_batch() of N leases from one thread (a burst)
//   BM_LeaseOne / BM_DenyExhausted  one thread: a successful lease in a 100k pool vs a denial in a
//                                   100k pool where every number is at its hourly cap
//   BM_Import100k                   upsert_numbers() of 100k new numbers into an empty file
//                                   (closing the store afterwards is reported apart, close_s)
// Files go to $CIDROT_BENCH_DIR (default: the system temp directory).
//   ninja -C build cidrot_sqlite_bench && build/bench/cidrot_sqlite_bench --benchmark_repetitions=5

#include <benchmark/benchmark.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "cidrot/cidrot.h"

namespace {

using namespace cidrot;

std::string bench_dir() {
  static const std::string dir = [] {
    const char* env = std::getenv("CIDROT_BENCH_DIR");
    std::filesystem::path base = env && *env ? env : std::filesystem::temp_directory_path();
    auto d = base / ("cidrot-sqlite-bench-" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d.string();
  }();
  return dir;
}

const Ladder kLadder = {LadderStep{Tier::kSameNpa, {212}}, LadderStep{Tier::kAny, {}}};
constexpr std::int64_t kHourStart = 1'800'000'000 - 1'800'000'000 % 3600;
constexpr std::int64_t kDayStart = 1'800'000'000 - 1'800'000'000 % 86400;

std::vector<Number> numbers(int count, std::int64_t hourly, std::int32_t max_concurrent) {
  std::vector<Number> out;
  out.reserve(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    Number n;
    n.caller_id = std::to_string(2122000000LL + i);
    n.area_code = "212";
    n.carrier = "BenchTel";
    n.hourly_limit = hourly;
    n.daily_limit = 0;
    n.max_concurrent = max_concurrent;
    out.push_back(std::move(n));
  }
  return out;
}

LeaseResult lease(Store& store) {
  LeaseRequest req;
  req.lease_id = make_lease_id();
  req.lease_id_fresh = true;  // as the Rotator sends it
  req.campaign = "bench";
  req.agent = "a";
  req.destination = "2125550100";
  req.ladder = &kLadder;
  req.windows = {from_unix_ms(kHourStart * 1000 + 60000), kHourStart, kDayStart};
  req.ttl = std::chrono::hours(1);
  return store.lease(req);
}

std::shared_ptr<Store> open(const std::string& name, const std::string& options = "") {
  return open_store("sqlite://" + bench_dir() + "/" + name + ".db" + options);
}

// --- the plain SQLite ceiling ------------------------------------------------------------------

void BM_UpdateLoop(benchmark::State& state) {
  const bool full = state.range(0) != 0;
  const std::string path = bench_dir() + (full ? "/loop_full.db" : "/loop_normal.db");
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_exec(db, "PRAGMA journal_mode=WAL", nullptr, nullptr, nullptr);
  sqlite3_exec(db, full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL", nullptr, nullptr,
               nullptr);
  sqlite3_exec(db,
               "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v INTEGER NOT NULL);"
               "INSERT OR IGNORE INTO t VALUES (1, 0)",
               nullptr, nullptr, nullptr);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "UPDATE t SET v = v + 1 WHERE id = 1", -1, &st, nullptr);
  for (auto _ : state) {
    if (sqlite3_step(st) != SQLITE_DONE) state.SkipWithError("update failed");
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_UpdateLoop)->ArgName("full")->Arg(0)->Arg(1)->UseRealTime();

void BM_UpdateLoopRandom(benchmark::State& state) {
  const std::string path = bench_dir() + "/loop_random.db";
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL", nullptr, nullptr, nullptr);
  // Rows about as wide as a numbers row (~150 bytes).
  sqlite3_exec(
      db,
      "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v INTEGER NOT NULL, pad TEXT);"
      "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 10000)"
      " INSERT OR IGNORE INTO t SELECT i, 0, printf('%.140c', 'x') FROM c",
      nullptr, nullptr, nullptr);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "UPDATE t SET v = v + 1 WHERE id = ?1", -1, &st, nullptr);
  std::uint64_t x = 88172645463325252ULL;
  for (auto _ : state) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;  // xorshift64: a cheap uniform row choice
    sqlite3_bind_int64(st, 1, static_cast<sqlite3_int64>(1 + x % 10000));
    if (sqlite3_step(st) != SQLITE_DONE) state.SkipWithError("update failed");
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_UpdateLoopRandom)->UseRealTime();

// --- leases ------------------------------------------------------------------------------------

std::shared_ptr<Store> g_lease_store[2];  // [normal, full]: 10k numbers, never limited

void BM_Lease(benchmark::State& state) {
  Store& store = *g_lease_store[state.range(0)];
  for (auto _ : state) {
    if (!lease(store)) state.SkipWithError("denied");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Lease)->ArgName("full")->Arg(0)->Threads(1)->Threads(8)->UseRealTime();
BENCHMARK(BM_Lease)->ArgName("full")->Arg(1)->Threads(8)->UseRealTime();

void BM_LeaseRelease(benchmark::State& state) {
  Store& store = *g_lease_store[0];
  for (auto _ : state) {
    LeaseResult r = lease(store);
    if (!r) {
      state.SkipWithError("denied");
      break;
    }
    ReleaseRequest rel;
    rel.lease_id = r.lease->id;
    rel.now = r.lease->leased_at;
    store.release(rel);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_LeaseRelease)->Threads(8)->UseRealTime();

// A burst of calls leased together (Store::lease_batch: one transaction), from one thread.
void BM_LeaseBatch(benchmark::State& state) {
  Store& store = *g_lease_store[0];
  const auto n = static_cast<std::size_t>(state.range(0));
  std::vector<LeaseRequest> reqs(n);
  std::vector<LeaseResult> results(n);
  std::vector<LeaseBatchItem> items(n);
  for (std::size_t i = 0; i < n; ++i) {
    reqs[i].campaign = "bench";
    reqs[i].agent = "a";
    reqs[i].destination = "2125550100";
    reqs[i].ladder = &kLadder;
    reqs[i].windows = {from_unix_ms(kHourStart * 1000 + 60000), kHourStart, kDayStart};
    reqs[i].ttl = std::chrono::hours(1);
    reqs[i].lease_id_fresh = true;
    items[i] = LeaseBatchItem{&reqs[i], &results[i], nullptr};
  }
  for (auto _ : state) {
    state.PauseTiming();
    for (auto& r : reqs) r.lease_id = make_lease_id();
    state.ResumeTiming();
    store.lease_batch(items.data(), n);
    for (std::size_t i = 0; i < n; ++i) {
      if (items[i].error || !results[i]) state.SkipWithError("batch item failed or denied");
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(n));
}
BENCHMARK(BM_LeaseBatch)->ArgName("calls")->Arg(8)->Arg(64)->UseRealTime();

// --- denial in an exhausted 100k pool vs a successful lease in a 100k pool ----------------------

std::shared_ptr<Store> g_open_100k, g_exhausted_100k;

void BM_LeaseOne(benchmark::State& state) {
  for (auto _ : state) {
    if (!lease(*g_open_100k)) state.SkipWithError("denied");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_LeaseOne)->UseRealTime();

void BM_DenyExhausted(benchmark::State& state) {
  for (auto _ : state) {
    LeaseResult r = lease(*g_exhausted_100k);
    if (r || r.denial != DenialReason::kAllLimited) state.SkipWithError("not all_limited");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DenyExhausted)->UseRealTime();

// --- import ------------------------------------------------------------------------------------

void BM_Import100k(benchmark::State& state) {
  const std::vector<Number> batch = numbers(100000, 100, 1);
  int round = 0;
  double close_s = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto store = open("import" + std::to_string(round++));
    state.ResumeTiming();
    store->upsert_numbers(batch);
    // Closing the last connection checkpoints the whole WAL into the file and fsyncs it: that is
    // not part of the import (which is committed when upsert_numbers returns), so it is timed
    // apart, as the close_s counter.
    state.PauseTiming();
    const auto t0 = std::chrono::steady_clock::now();
    store.reset();
    close_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    state.ResumeTiming();
  }
  state.counters["close_s"] = close_s / static_cast<double>(state.iterations());
  state.SetItemsProcessed(state.iterations() * 100000);
}
BENCHMARK(BM_Import100k)->Unit(benchmark::kMillisecond)->Iterations(1)->UseRealTime();

void setup() {
  g_lease_store[0] = open("lease_normal");
  g_lease_store[1] = open("lease_full", "?synchronous=full");
  for (auto& s : g_lease_store) s->upsert_numbers(numbers(10000, 0, 1000000));
  g_open_100k = open("open100k");
  g_open_100k->upsert_numbers(numbers(100000, 0, 1000000));
  g_exhausted_100k = open("exhausted100k");
  g_exhausted_100k->upsert_numbers(numbers(100000, 1, 1));
  // Cap every number: 100k leases from 8 threads, then the pool answers all_limited.
  std::atomic<int> granted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      while (lease(*g_exhausted_100k)) ++granted;
    });
  }
  for (auto& t : threads) t.join();
  if (granted != 100000) {
    std::fprintf(stderr, "setup: expected 100000 leases, got %d\n", granted.load());
    std::exit(1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  setup();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  g_lease_store[0].reset();
  g_lease_store[1].reset();
  g_open_100k.reset();
  g_exhausted_100k.reset();
  std::error_code ec;
  std::filesystem::remove_all(bench_dir(), ec);
  return 0;
}
