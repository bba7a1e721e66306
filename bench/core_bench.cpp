// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
// Rotator lease+release on memory:// with 1k / 100k / 1M numbers over ~300 area codes, about half
// of them leased at any time (each iteration leases one and releases the oldest lease).
// BM_LeaseRelease times the pair; BM_LeaseOnly the by-value next() alone, BM_LeaseOnlyReuse
// next(request, &result) with kept results (both in timed runs of 16 leases).
//   cidrot_core_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <chrono>
#include <deque>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cidrot/cidrot.h"

namespace {

std::vector<std::uint16_t> geographic_npas(std::size_t want) {
  std::vector<std::uint16_t> out;
  for (const cidrot::AreaCode* a : cidrot::all_area_codes()) {
    if (a->region[0] != '\0' && a->time_zones != 0) out.push_back(a->npa);
    if (out.size() == want) break;
  }
  return out;
}

cidrot::Number make_number(std::int64_t i, const std::vector<std::uint16_t>& npas) {
  cidrot::Number num;
  const auto npa = npas[static_cast<std::size_t>(i) % npas.size()];
  const auto line = i / static_cast<std::int64_t>(npas.size());
  // NXX 200..999 x line 0000..9999 per NPA: unique, valid numbers.
  const auto nxx = 200 + line / 10000;
  char buf[16];
  std::snprintf(buf, sizeof buf, "%03u%03lld%04lld", static_cast<unsigned>(npa),
                static_cast<long long>(nxx), static_cast<long long>(line % 10000));
  num.caller_id = buf;
  num.carrier = "BenchTel";
  num.hourly_limit = 0;
  num.daily_limit = 0;
  return num;
}

struct World {
  std::unique_ptr<cidrot::Rotator> rot;
  std::vector<std::string> destinations;
  std::deque<std::string> held;
};

World make_world(std::int64_t n, bool lease_half = true) {
  World w;
  const auto npas = geographic_npas(300);
  cidrot::RotatorOptions o;
  o.time_zone = "America/New_York";
  w.rot = std::make_unique<cidrot::Rotator>(cidrot::open_store("memory://"), o);
  for (std::int64_t i = 0; i < n;) {
    std::vector<cidrot::Number> chunk;
    for (; i < n && chunk.size() < 50000; ++i) chunk.push_back(make_number(i, npas));
    w.rot->add_numbers(std::move(chunk));
  }
  for (std::size_t i = 0; i < 4096; ++i) {
    w.destinations.push_back(std::to_string(npas[(i * 7919) % npas.size()]) + "5550" +
                             std::to_string(100 + i % 900));
  }
  // Lease half the pool, destinations spread over every area code.
  for (std::int64_t i = 0; lease_half && i < n / 2; ++i) {
    auto r = w.rot->next({w.destinations[static_cast<std::size_t>(i) % w.destinations.size()],
                          "bench", "agent", std::chrono::seconds(3600)});
    if (r) w.held.push_back(r.lease->id);
  }
  return w;
}

void BM_LeaseRelease(benchmark::State& state) {
  World w = make_world(state.range(0));
  std::size_t i = 0;
  std::int64_t denied = 0;
  for (auto _ : state) {
    auto r =
        w.rot->next({w.destinations[i++ & 4095], "bench", "agent", std::chrono::seconds(3600)});
    if (r) {
      w.held.push_back(std::move(r.lease->id));
    } else {
      ++denied;
    }
    w.rot->release(w.held.front());
    w.held.pop_front();
  }
  state.counters["denied"] = static_cast<double>(denied);
  state.counters["held"] = static_cast<double>(w.held.size());
}

// Only the leases are timed (manual time), in runs of kTimedRun: two steady_clock reads cost
// ~25 ns here, so timing each lease alone would add that much to every figure. The matching
// releases run outside the timed region, after each run (the pool stays about half leased).
constexpr int kTimedRun = 16;

// Builds the result in place in an optional (guaranteed copy elision through the conversion), so
// the timed region holds next() and nothing of a move.
struct NextCall {
  cidrot::Rotator* rot;
  const std::string* destination;
  operator cidrot::LeaseResult() const {  // NOLINT(google-explicit-constructor)
    return rot->next({*destination, "bench", "agent", std::chrono::seconds(3600)});
  }
};

void BM_LeaseOnly(benchmark::State& state) {
  World w = make_world(state.range(0));
  std::size_t i = 0;
  std::optional<cidrot::LeaseResult> r[kTimedRun];
  while (state.KeepRunningBatch(kTimedRun)) {
    const auto t0 = std::chrono::steady_clock::now();
    for (auto& slot : r) slot.emplace(NextCall{w.rot.get(), &w.destinations[i++ & 4095]});
    const auto t1 = std::chrono::steady_clock::now();
    state.SetIterationTime(std::chrono::duration<double>(t1 - t0).count());
    for (auto& slot : r) {
      if (*slot) w.held.push_back(std::move(slot->lease->id));
      slot.reset();
      w.rot->release(w.held.front());
      w.held.pop_front();
    }
  }
}

// As BM_LeaseOnly, through next(request, &result) with results reused across runs (the
// embedding fast path: their strings keep their storage, so a grant allocates nothing).
void BM_LeaseOnlyReuse(benchmark::State& state) {
  World w = make_world(state.range(0));
  std::size_t i = 0;
  cidrot::CallRequest req{"", "bench", "agent", std::chrono::seconds(3600)};
  cidrot::LeaseResult r[kTimedRun];
  while (state.KeepRunningBatch(kTimedRun)) {
    const auto t0 = std::chrono::steady_clock::now();
    for (auto& slot : r) {
      req.destination = w.destinations[i++ & 4095];
      w.rot->next(req, &slot);
    }
    const auto t1 = std::chrono::steady_clock::now();
    state.SetIterationTime(std::chrono::duration<double>(t1 - t0).count());
    for (auto& slot : r) {
      if (slot) w.held.push_back(slot.lease->id);
      w.rot->release(w.held.front());
      w.held.pop_front();
    }
  }
}

std::int64_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::int64_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * 4096;
}

// Resident memory per number: RSS growth while a store fills with n numbers (freed temporaries
// are returned to the OS first), then again with half of them leased (lease records included).
void BM_MemoryPerNumber(benchmark::State& state) {
  for (auto _ : state) {
    malloc_trim(0);
    const std::int64_t before = resident_bytes();
    World w = make_world(state.range(0), /*lease_half=*/false);
    malloc_trim(0);
    const std::int64_t filled = resident_bytes();
    for (std::int64_t i = 0; i < state.range(0) / 2; ++i) {
      auto r = w.rot->next({w.destinations[static_cast<std::size_t>(i) & 4095], "bench", "agent",
                            std::chrono::seconds(3600)});
      if (r) w.held.push_back(r.lease->id);
    }
    malloc_trim(0);
    const std::int64_t leased = resident_bytes();
    const auto n = static_cast<double>(state.range(0));
    state.counters["bytes_per_number"] = static_cast<double>(filled - before) / n;
    state.counters["bytes_per_number_half_leased"] = static_cast<double>(leased - before) / n;
  }
}

}  // namespace

BENCHMARK(BM_LeaseRelease)->Arg(1000)->Arg(100000)->Arg(1000000)->Unit(benchmark::kNanosecond);
BENCHMARK(BM_LeaseOnly)
    ->Arg(1000)
    ->Arg(100000)
    ->Arg(1000000)
    ->UseManualTime()
    ->Unit(benchmark::kNanosecond);
BENCHMARK(BM_LeaseOnlyReuse)
    ->Arg(1000)
    ->Arg(100000)
    ->Arg(1000000)
    ->UseManualTime()
    ->Unit(benchmark::kNanosecond);
BENCHMARK(BM_MemoryPerNumber)->Arg(1000000)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK_MAIN();
