// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
// WriteHealth: what /health says of the store's write path (apps/server/write_health.h).
#include "write_health.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <thread>
#include <vector>

using cidrot::server::WriteHealth;
using std::chrono::milliseconds;

namespace {
WriteHealth::Clock::time_point at(int ms) {
  return WriteHealth::Clock::time_point(milliseconds(ms));
}
}  // namespace

TEST_CASE("a write failure reads as failing until a call succeeds or the window passes",
          "[server][health]") {
  WriteHealth h;
  CHECK(h.failing(at(1000), milliseconds(10000)) == "");
  h.ok(at(1000));
  h.failed(at(2000), "sqlite: database is locked");
  CHECK(h.failing(at(2000), milliseconds(10000)) == "sqlite: database is locked");
  CHECK(h.failing(at(11999), milliseconds(10000)) == "sqlite: database is locked");
  CHECK(h.failing(at(12000), milliseconds(10000)) == "");  // tried again after the window
  h.ok(at(2500));
  CHECK(h.failing(at(3000), milliseconds(10000)) == "");
  h.failed(at(4000), "disk full");
  CHECK(h.failing(at(4001), milliseconds(10000)) == "disk full");
  h.ok(at(3999));  // a success reported late, from before the failure, does not clear it
  CHECK(h.failing(at(4001), milliseconds(10000)) == "disk full");
}

TEST_CASE("two threads reporting at once keep the later success", "[server][health]") {
  // Each round: a failure at 2 ms, then two threads report successes at 1 and 3 ms at the same
  // moment. Only the 3 ms one is after the failure; if the 1 ms report overwrote it (a check
  // then a store, racing), the failure would still show.
  constexpr int kRounds = 20000;
  std::vector<WriteHealth> healths(kRounds);
  for (auto& h : healths) h.failed(at(2), "failed between the two successes");
  // The two threads meet before every round, so that their reports of one round coincide.
  std::atomic<int> arrived{0};
  auto report = [&](int ms) {
    for (int i = 0; i < kRounds; ++i) {
      arrived.fetch_add(1);
      while (arrived.load() < 2 * (i + 1)) std::this_thread::yield();
      healths[static_cast<std::size_t>(i)].ok(at(ms));
    }
  };
  std::thread early(report, 1), late(report, 3);
  early.join();
  late.join();
  int still_failing = 0;
  for (const auto& h : healths) still_failing += !h.failing(at(4), milliseconds(10000)).empty();
  CHECK(still_failing == 0);
}
