// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
// Shared by the network-store benchmarks (redis_bench.cpp, postgres_bench.cpp): a lease loop
// that times each store call, and the p50/p99 table of those calls printed after the runs.
#ifndef CIDROT_BENCH_LEASE_TIMING_H_
#define CIDROT_BENCH_LEASE_TIMING_H_

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "cidrot/cidrot.h"

namespace cidrot::bench {

// The latencies (us) of the lease calls of every thread of each run, by run name. Thread-safe.
class LeaseLatencies {
 public:
  // Called by thread 0 before its loop: a run name measured again starts afresh.
  void clear(const std::string& run) {
    std::lock_guard<std::mutex> lock(mu_);
    us_[run].clear();
  }
  void add(const std::string& run, const std::vector<double>& us) {
    std::lock_guard<std::mutex> lock(mu_);
    auto& all = us_[run];
    all.insert(all.end(), us.begin(), us.end());
  }
  // Prints one line per run: calls, p50, p99. Call after the benchmarks ran.
  void print(int name_width) {
    std::lock_guard<std::mutex> lock(mu_);
    std::printf("\nlease call latency over all threads of each run (us):\n");
    std::printf("%-*s %10s %10s %10s\n", name_width, "benchmark", "calls", "p50", "p99");
    for (auto& [name, v] : us_) {
      if (v.empty()) continue;
      std::sort(v.begin(), v.end());
      const auto at = [&v](double q) { return v[static_cast<std::size_t>(q * (v.size() - 1))]; };
      std::printf("%-*s %10zu %10.1f %10.1f\n", name_width, name.c_str(), v.size(), at(0.50),
                  at(0.99));
    }
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::vector<double>> us_;
};

// The lease both benchmarks time: campaign "bench", destination 212-555-0199, a fresh id; held
// 10 minutes when the loop releases it, 50 ms otherwise (the pool refills by expiry).
inline LeaseRequest bench_request(const Ladder& ladder, const Windows& windows, bool release,
                                  const char* agent) {
  LeaseRequest req;
  req.lease_id = make_lease_id();
  req.campaign = "bench";
  req.agent = agent;
  req.destination = "2125550199";
  req.ladder = &ladder;
  req.windows = windows;
  req.ttl = std::chrono::milliseconds(release ? 600000 : 50);
  return req;
}

// Runs the benchmark loop of `state`: per iteration one Store::lease() of make_request(turn)
// (turn = this thread's running count from its index), timed into *us; with `release`, each
// granted lease is then released (not timed). Sets items processed and the "denied" counter.
template <class MakeRequest>
void timed_leases(benchmark::State& state, Store& store, bool release, MakeRequest make_request,
                  std::vector<double>* us) {
  us->reserve(1 << 16);
  std::int64_t denied = 0;
  std::size_t turn = static_cast<std::size_t>(state.thread_index());
  for (auto _ : state) {
    const LeaseRequest req = make_request(turn++);
    const auto t0 = std::chrono::steady_clock::now();
    const LeaseResult r = store.lease(req);
    us->push_back(
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
    if (!r) {
      ++denied;
    } else if (release) {
      ReleaseRequest rel;
      rel.lease_id = r.lease->id;
      rel.now = req.windows.now;
      store.release(rel);
    }
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["denied"] = benchmark::Counter(static_cast<double>(denied));
}

}  // namespace cidrot::bench

#endif  // CIDROT_BENCH_LEASE_TIMING_H_
