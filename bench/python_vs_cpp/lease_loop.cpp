// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
//
// The C++ half of the Python-vs-C++ lease benchmark (bench.py runs both and compares). One round
// = `calls` iterations of Rotator::next() + Rotator::release() on memory://, the same workload as
// bench.py's Python loop: 1000 numbers in NPA 212, destination 212-555-0199, one campaign.
// Prints one line per round: "round <i> wall_ns_per_call <x> cpu_ns_per_call <y>".
//
// Usage: lease_loop [calls=200000] [rounds=1]

#include <cidrot/cidrot.h>

#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

// CPU time of this thread: on a shared, loaded machine wall time mostly measures the neighbours.
double thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

}  // namespace

int main(int argc, char** argv) {
  const long calls = argc > 1 ? std::atol(argv[1]) : 200000;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 1;
  cidrot::Rotator rot(cidrot::open_store("memory://"));
  std::vector<cidrot::Number> numbers(1000);
  for (int i = 0; i < 1000; ++i) {
    char id[16];
    std::snprintf(id, sizeof id, "212555%04d", i);
    numbers[i].caller_id = id;
  }
  rot.add_numbers(numbers);

  const cidrot::CallRequest request{"2125550199", "bench", "agent1", std::chrono::seconds(0)};
  for (long i = 0; i < calls / 10; ++i) {  // warm-up: caches, allocator, branch predictors
    rot.release(rot.next(request).lease->id);
  }
  for (int r = 0; r < rounds; ++r) {
    const double cpu0 = thread_cpu_ns();
    const auto t0 = std::chrono::steady_clock::now();
    for (long i = 0; i < calls; ++i) {
      const cidrot::LeaseResult result = rot.next(request);
      if (!result) {
        std::fprintf(stderr, "denied: %s\n", cidrot::denial_reason_name(result.denial));
        return 1;
      }
      rot.release(result.lease->id);
    }
    const auto ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0);
    const double cpu = thread_cpu_ns() - cpu0;
    std::printf("round %d wall_ns_per_call %.1f cpu_ns_per_call %.1f\n", r,
                ns.count() / static_cast<double>(calls), cpu / static_cast<double>(calls));
    std::fflush(stdout);
  }
  return 0;
}
