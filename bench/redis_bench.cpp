// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
//
// Redis store throughput and latency: N client threads share one store object (as the threads of
// one cidrot-server do) over one Redis. The memory store runs the same workload in the same
// process for a ratio.
//
//   CIDROT_BENCH_REDIS_URL=redis://127.0.0.1:6390/0 ./cidrot_redis_bench
//
// Workloads (numbers spread over 10 NPAs, the destination's NPA first, then anything):
//   Lease         lease only; each lease ends by its 50 ms TTL, so every script call also expires
//                 about one lease (the steady state of a server whose calls are never released)
//   LeaseRelease  lease then release (two script calls per lease)
//   Ping, EvalTrivial  baselines through the same client: a bare round trip, and EVALSHA of
//                 "return 1" (the fixed cost of any script call), for ratios within one run
// leases/s is items_per_second. redis_cpu_us is the Redis main thread's CPU time (INFO cpu) per
// item: unlike wall time it does not grow when other processes compete for the CPU, and
// 1e6 / redis_cpu_us is what one dedicated Redis core sustains. After the table, p50/p99 of single
// lease calls over all threads of each run (the last, measured run of each benchmark).

#include <benchmark/benchmark.h>
#include <hiredis/hiredis.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cidrot/cidrot.h"
#include "lease_timing.h"
#include "redis/redis_client.h"

namespace {

constexpr int kNumbers = 5000;
constexpr std::uint16_t kNpas[] = {212, 646, 917, 718, 347, 305, 786, 312, 773, 415};

cidrot::bench::LeaseLatencies g_latency_us;  // per benchmark run name

std::string redis_url() {
  const char* env = std::getenv("CIDROT_BENCH_REDIS_URL");
  std::string base = env != nullptr && *env != '\0' ? env : "redis://127.0.0.1:6390/0";
  return base + "?pool=16&timeout_ms=5000&prefix=bench" + std::to_string(std::time(nullptr));
}

std::shared_ptr<cidrot::Store> open_seeded(const std::string& url) {
  auto store = cidrot::open_store(url);
  std::vector<cidrot::Number> numbers;
  for (int i = 0; i < kNumbers; ++i) {
    cidrot::Number n;
    const std::uint16_t npa = kNpas[i % 10];
    char buf[16];
    std::snprintf(buf, sizeof buf, "%u55%05d", npa, i);
    n.caller_id = buf;
    n.area_code = std::to_string(npa);
    n.campaigns = {"bench"};
    n.hourly_limit = 0;
    n.daily_limit = 0;
    numbers.push_back(n);
  }
  store->upsert_numbers(numbers);
  return store;
}

cidrot::Store& store_for(const std::string& kind) {
  static std::mutex mu;
  static std::map<std::string, std::shared_ptr<cidrot::Store>> stores;
  std::lock_guard<std::mutex> lock(mu);
  auto& s = stores[kind];
  if (!s) s = open_seeded(kind == "redis" ? redis_url() : "memory://");
  return *s;
}

const std::vector<cidrot::Ladder>& ladders() {
  static const std::vector<cidrot::Ladder> all = [] {
    std::vector<cidrot::Ladder> v;
    for (std::uint16_t npa : kNpas) {
      v.push_back({cidrot::LadderStep{cidrot::Tier::kSameNpa, {npa}},
                   cidrot::LadderStep{cidrot::Tier::kAny, {}}});
    }
    return v;
  }();
  return all;
}

cidrot::Windows windows_now() {
  cidrot::Windows w;
  w.now = std::chrono::system_clock::now();
  const std::int64_t s = cidrot::to_unix_ms(w.now) / 1000;
  w.hour_start = s - s % 3600;
  w.day_start = s - s % 86400;
  return w;
}

// A client pool of the store's own kind, for the baselines.
cidrot::storage::redis::Pool& baseline_pool() {
  static cidrot::storage::redis::Pool* pool = [] {
    cidrot::storage::redis::Endpoint ep;
    const char* env = std::getenv("CIDROT_BENCH_REDIS_URL");
    std::string url = env != nullptr && *env != '\0' ? env : "redis://127.0.0.1:6390/0";
    // host:port of redis://host:port/db (the bench URL is a plain one).
    const auto hp = url.substr(8, url.find('/', 8) - 8);
    ep.host = hp.substr(0, hp.find(':'));
    ep.port = std::stoi(hp.substr(hp.find(':') + 1));
    ep.display = hp;
    auto* p = new cidrot::storage::redis::Pool(ep, 16, std::chrono::milliseconds(5000), "return 1");
    p->start(std::chrono::steady_clock::now() + std::chrono::seconds(5));
    return p;
  }();
  return *pool;
}

// Seconds of CPU the Redis main thread has used.
double redis_cpu_seconds() {
  cidrot::storage::redis::Args a;
  a.add("INFO").add("cpu");
  auto r =
      baseline_pool().with(std::chrono::steady_clock::now() + std::chrono::seconds(5),
                           [&](cidrot::storage::redis::Connection& c, bool) { return c.run(a); });
  const std::string info(r->str, r->len);
  double total = 0;
  for (const char* key : {"used_cpu_sys_main_thread:", "used_cpu_user_main_thread:"}) {
    const auto pos = info.find(key);
    if (pos != std::string::npos) total += std::atof(info.c_str() + pos + std::strlen(key));
  }
  return total;
}

void run(benchmark::State& state, const std::string& name, const std::string& kind, bool release) {
  cidrot::Store& store = store_for(kind);
  const std::string key = name + "/threads:" + std::to_string(state.threads());
  double cpu0 = 0;
  if (state.thread_index() == 0) {
    store.expire(std::chrono::system_clock::now() + std::chrono::hours(1));
    if (kind == "redis") cpu0 = redis_cpu_seconds();
    g_latency_us.clear(key);
  }
  std::vector<double> lat;
  cidrot::bench::timed_leases(
      state, store, release,
      [release](std::size_t turn) {
        return cidrot::bench::bench_request(ladders()[turn % 10], windows_now(), release, "a");
      },
      &lat);
  if (state.thread_index() == 0 && kind == "redis") {
    // Every thread has left the loop (the library waits for all of them at its end).
    const double per = (redis_cpu_seconds() - cpu0) * 1e6 /
                       static_cast<double>(state.iterations() * state.threads());
    state.counters["redis_cpu_us"] = benchmark::Counter(per);
  }
  g_latency_us.add(key, lat);
}

void run_baseline(benchmark::State& state, bool script) {
  auto& pool = baseline_pool();
  const double cpu0 = state.thread_index() == 0 ? redis_cpu_seconds() : 0;
  cidrot::storage::redis::Args args;
  if (script) {
    args.add("").add("").add("0");
  } else {
    args.add("PING");
  }
  for (auto _ : state) {
    pool.with(std::chrono::steady_clock::now() + std::chrono::seconds(5),
              [&](cidrot::storage::redis::Connection& c, bool) {
                return script ? c.eval(args) : c.run(args);
              });
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    state.counters["redis_cpu_us"] =
        benchmark::Counter((redis_cpu_seconds() - cpu0) * 1e6 /
                           static_cast<double>(state.iterations() * state.threads()));
  }
}

}  // namespace

int main(int argc, char** argv) {
  for (bool script : {false, true}) {
    benchmark::RegisterBenchmark(script ? "redis/EvalTrivial" : "redis/Ping",
                                 [script](benchmark::State& s) { run_baseline(s, script); })
        ->Threads(1)
        ->Threads(16)
        ->UseRealTime()
        ->MinTime(2.0);
  }
  for (const char* kind : {"redis", "memory"}) {
    for (bool release : {false, true}) {
      // Memory leases at ~1M/s would drain the pool within one 50 ms TTL: compare lease+release.
      if (std::string(kind) == "memory" && !release) continue;
      const std::string name = std::string(kind) + (release ? "/LeaseRelease" : "/Lease");
      auto* b = benchmark::RegisterBenchmark(
          name.c_str(), [name, kind = std::string(kind), release](benchmark::State& s) {
            run(s, name, kind, release);
          });
      b->Threads(1)->Threads(4)->Threads(16)->UseRealTime()->MinTime(2.0);
    }
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  try {
    benchmark::RunSpecifiedBenchmarks();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "redis_bench: %s\n", e.what());
    return 1;
  }
  benchmark::Shutdown();
  g_latency_us.print(40);
  return 0;
}
