// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
//
// PostgreSQL store throughput and latency: N client threads share one store object (the threads
// of one cidrot-server) over one PostgreSQL with its default durability (synchronous_commit on,
// fsync on), so every lease waits for its WAL flush; concurrent commits share flushes.
//
//   CIDROT_BENCH_POSTGRES_URL=postgresql://user:pass@127.0.0.1:5433/db ./cidrot_postgres_bench
//
// Each run makes a schema bench_<pid> (drop it afterwards: DROP SCHEMA bench_<pid> CASCADE).
// Workloads (5000 numbers over 10 NPAs; ladder: the destination's NPA, then anything):
//   Lease         lease only; each lease ends by its 50 ms TTL, so lease calls also delete about
//                 one expired lease each (a server whose calls are never released)
//   LeaseRelease  lease then release (two transactions per lease)
//   Ping          baseline: one round trip (SELECT 1), no commit
//   SetActive     baseline: the cheapest durable write, a one-row UPDATE committed alone
//   Upsert20k     bulk import of 20,000 new numbers in one call (numbers/s)
// leases/s is items_per_second. After the table: p50/p99 of single lease calls over all threads
// of each benchmark's last run.

#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cidrot/cidrot.h"
#include "lease_timing.h"

namespace {

using cidrot::Ladder;
using cidrot::LadderStep;
using cidrot::Tier;

constexpr int kPoolNumbers = 5000;
constexpr std::uint16_t kAreaCodes[] = {212, 646, 917, 718, 347, 305, 786, 312, 773, 415};

cidrot::bench::LeaseLatencies g_lease_us;

std::string bench_url(const std::string& extra) {
  const char* env = std::getenv("CIDROT_BENCH_POSTGRES_URL");
  if (env == nullptr || *env == '\0') env = std::getenv("CIDROT_TEST_POSTGRES_URL");
  if (env == nullptr || *env == '\0') return "";
  std::string url = env;
  url += url.find('?') == std::string::npos ? "?" : "&";
  return url + "pool=16&timeout_ms=10000&schema=bench_" + std::to_string(::getpid()) + extra;
}

cidrot::Number make_number(int i, int npa_index) {
  cidrot::Number n;
  const std::uint16_t npa = kAreaCodes[npa_index % 10];
  char digits[16];
  std::snprintf(digits, sizeof digits, "%u5%06d", npa, i);
  n.caller_id = digits;
  n.area_code = std::to_string(npa);
  n.campaigns = {"bench"};
  n.hourly_limit = 0;
  n.daily_limit = 0;
  return n;
}

// The shared store, seeded once; nullptr when no server is configured.
cidrot::Store* shared_store() {
  static std::shared_ptr<cidrot::Store> store = []() -> std::shared_ptr<cidrot::Store> {
    const std::string url = bench_url("");
    if (url.empty()) return nullptr;
    auto s = cidrot::open_store(url);
    std::vector<cidrot::Number> numbers;
    for (int i = 0; i < kPoolNumbers; ++i) numbers.push_back(make_number(i, i));
    s->upsert_numbers(numbers);
    return s;
  }();
  return store.get();
}

const Ladder& ladder_for(std::size_t i) {
  static const std::vector<Ladder> ladders = [] {
    std::vector<Ladder> v;
    for (std::uint16_t npa : kAreaCodes) {
      v.push_back({LadderStep{Tier::kSameNpa, {npa}}, LadderStep{Tier::kAny, {}}});
    }
    return v;
  }();
  return ladders[i % ladders.size()];
}

cidrot::Windows windows_at(cidrot::TimePoint now) {
  cidrot::Windows w;
  w.now = now;
  const std::int64_t s = cidrot::to_unix_ms(now) / 1000;
  w.hour_start = s - s % 3600;
  w.day_start = s - s % 86400;
  return w;
}

bool have_server(benchmark::State& state) {
  if (shared_store() != nullptr) return true;
  state.SkipWithError("set CIDROT_BENCH_POSTGRES_URL (or CIDROT_TEST_POSTGRES_URL)");
  return false;
}

void lease_loop(benchmark::State& state, bool release) {
  if (!have_server(state)) return;
  cidrot::Store& store = *shared_store();
  const std::string key = std::string(release ? "LeaseRelease" : "Lease") +
                          "/threads:" + std::to_string(state.threads());
  if (state.thread_index() == 0) {
    store.expire(std::chrono::system_clock::now() + std::chrono::hours(1));
    g_lease_us.clear(key);
  }
  std::vector<double> us;
  cidrot::bench::timed_leases(
      state, store, release,
      [release](std::size_t turn) {
        return cidrot::bench::bench_request(
            ladder_for(turn), windows_at(std::chrono::system_clock::now()), release, "bench");
      },
      &us);
  g_lease_us.add(key, us);
}

void ping_loop(benchmark::State& state) {
  if (!have_server(state)) return;
  for (auto _ : state) shared_store()->ping();
  state.SetItemsProcessed(state.iterations());
}

void set_active_loop(benchmark::State& state) {
  if (!have_server(state)) return;
  // Each thread toggles its own number, so the rows never contend: the cost is the commit.
  const std::string caller = make_number(state.thread_index(), state.thread_index()).caller_id;
  for (auto _ : state) shared_store()->set_active(caller, true);
  state.SetItemsProcessed(state.iterations());
}

void upsert_loop(benchmark::State& state) {
  if (!have_server(state)) return;
  static int round = 0;
  for (auto _ : state) {
    state.PauseTiming();
    // New numbers every round (inserts, not updates), in a schema of their own.
    auto store = cidrot::open_store(bench_url("_upsert" + std::to_string(round++)));
    std::vector<cidrot::Number> numbers;
    for (int i = 0; i < 20000; ++i) numbers.push_back(make_number(i, i));
    state.ResumeTiming();
    store->upsert_numbers(numbers);
  }
  state.SetItemsProcessed(state.iterations() * 20000);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::RegisterBenchmark("postgres/Ping", ping_loop)
      ->Threads(1)
      ->Threads(8)
      ->UseRealTime()
      ->MinTime(1.0);
  benchmark::RegisterBenchmark("postgres/SetActive", set_active_loop)
      ->Threads(1)
      ->Threads(8)
      ->Threads(16)
      ->UseRealTime()
      ->MinTime(2.0);
  benchmark::RegisterBenchmark("postgres/Lease", [](benchmark::State& s) { lease_loop(s, false); })
      ->Threads(1)
      ->Threads(8)
      ->Threads(16)
      ->UseRealTime()
      ->MinTime(3.0);
  benchmark::RegisterBenchmark("postgres/LeaseRelease",
                               [](benchmark::State& s) { lease_loop(s, true); })
      ->Threads(8)
      ->Threads(16)
      ->UseRealTime()
      ->MinTime(3.0);
  benchmark::RegisterBenchmark("postgres/Upsert20k", upsert_loop)
      ->Iterations(3)
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  g_lease_us.print(28);
  return 0;
}
