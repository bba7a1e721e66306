// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
// The store worker pool (apps/server/hand_off.h) with real threads: every job runs exactly once,
// a job stuck behind a long one is still taken up, and a steady stream does not wake a worker
// per job.

#include "hand_off.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

using namespace cidrot::server;
using namespace std::chrono_literals;

TEST_CASE("HandOff runs every job exactly once, from many producers", "[hand_off]") {
  constexpr int kProducers = 4;
  constexpr int kPerProducer = 20000;
  std::vector<std::atomic<int>> runs(kProducers * kPerProducer);
  {
    HandOff<int> pool(HandOffOptions{3}, [&](int& i) { runs[static_cast<std::size_t>(i)]++; });
    std::vector<std::thread> producers;
    for (int p = 0; p < kProducers; ++p) {
      producers.emplace_back([&pool, p] {
        for (int i = 0; i < kPerProducer; ++i) {
          pool.push(p * kPerProducer + i);
          // Gaps now and then, so that workers also go to sleep and are woken.
          if (i % 5000 == 0) std::this_thread::sleep_for(2ms);
        }
      });
    }
    for (auto& t : producers) t.join();
    pool.join();  // runs what is queued before it returns
  }
  int wrong = 0;
  for (const auto& r : runs) wrong += r.load() != 1;
  CHECK(wrong == 0);
}

TEST_CASE("HandOff takes up a job queued behind a long one with no push after it", "[hand_off]") {
  std::atomic<bool> release{false};
  std::atomic<bool> second_ran{false};
  HandOff<int> pool(HandOffOptions{2}, [&](int& i) {
    if (i == 0) {
      // The long store call: returns once the second job has run (or after 5 s).
      const auto until = std::chrono::steady_clock::now() + 5s;
      while (!release.load() && std::chrono::steady_clock::now() < until) {
        std::this_thread::sleep_for(1ms);
      }
    } else {
      second_ran = true;
      release = true;
    }
  });
  std::this_thread::sleep_for(100ms);  // both workers asleep
  const auto t0 = std::chrono::steady_clock::now();
  pool.push(0);
  std::this_thread::sleep_for(5ms);  // the first job is running
  pool.push(1);
  while (!second_ran.load() && std::chrono::steady_clock::now() - t0 < 6s) {
    std::this_thread::sleep_for(1ms);
  }
  CHECK(second_ran.load());
  CHECK(std::chrono::steady_clock::now() - t0 < 2s);
}

TEST_CASE("HandOff does not wake a worker per job while one is awake", "[hand_off]") {
  constexpr int kJobs = 20000;
  std::atomic<int> done{0};
  HandOff<int> pool(HandOffOptions{2}, [&](int&) { done++; });
  for (int i = 0; i < kJobs; ++i) pool.push(i);
  pool.join();
  CHECK(done.load() == kJobs);
  // A thread switch per job would be kJobs wake-ups; a loaded machine may put the workers to
  // sleep now and then.
  CHECK(pool.wakes() < kJobs / 10);
}

TEST_CASE("HandOff takes batchable jobs waiting together in one run_batch, in order",
          "[hand_off]") {
  // Jobs: negative = not batchable. One worker, held by job 1000 while the rest queue.
  std::atomic<bool> release{false};
  std::mutex mu;
  std::vector<std::vector<int>> batches;  // what each run_batch got
  std::vector<int> singles;
  HandOffOptions o{1};
  o.max_batch = 4;
  HandOff<int> pool(
      o,
      [&](int& i) {
        if (i == 1000) {
          while (!release.load()) std::this_thread::sleep_for(1ms);
        }
        std::lock_guard<std::mutex> lock(mu);
        singles.push_back(i);
      },
      [](const int& i) { return i >= 0 && i != 1000; },
      [&](std::vector<int>& jobs) {
        std::lock_guard<std::mutex> lock(mu);
        batches.push_back(jobs);
      });
  pool.push(1000);
  std::this_thread::sleep_for(20ms);  // the worker is inside job 1000
  for (int i : {1, 2, 3, 4, 5, 6, -7, 8, 9}) pool.push(i);
  release = true;
  pool.join();
  // At most max_batch per batch; a batch takes the batchable jobs around a non-batchable one.
  CHECK(batches == std::vector<std::vector<int>>{{1, 2, 3, 4}, {5, 6, 8, 9}});
  CHECK(singles == std::vector<int>{1000, -7});
}

TEST_CASE("HandOff runs one batch at a time; other workers take the other jobs meanwhile",
          "[hand_off]") {
  std::atomic<bool> release{false}, in_batch{false};
  std::mutex mu;
  std::vector<std::vector<int>> batches;
  std::vector<int> singles;
  HandOffOptions o{3};
  HandOff<int> pool(
      o,
      [&](int& i) {
        std::lock_guard<std::mutex> lock(mu);
        singles.push_back(i);
      },
      [](const int& i) { return i >= 0; },
      [&](std::vector<int>& jobs) {
        {
          std::lock_guard<std::mutex> lock(mu);
          batches.push_back(jobs);
        }
        if (jobs.front() == 1) {
          in_batch = true;
          while (!release.load()) std::this_thread::sleep_for(1ms);
        }
      });
  pool.push(1);
  pool.push(2);
  while (!in_batch.load()) std::this_thread::sleep_for(1ms);
  for (int i : {3, 4, -5}) pool.push(i);
  // -5 is taken by another worker while the batch runs; 3 and 4 wait for the batch's worker.
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (!singles.empty() || std::chrono::steady_clock::now() > deadline) break;
    }
    std::this_thread::sleep_for(1ms);
  }
  std::this_thread::sleep_for(20ms);  // time enough for a wrong worker to take 3 and 4
  {
    std::lock_guard<std::mutex> lock(mu);
    CHECK(singles == std::vector<int>{-5});
    CHECK(batches == std::vector<std::vector<int>>{{1, 2}});
  }
  release = true;
  pool.join();
  CHECK(batches == std::vector<std::vector<int>>{{1, 2}, {3, 4}});
}

TEST_CASE("HandOff runs every batch on one thread, whichever workers were awake", "[hand_off]") {
  std::mutex mu;
  std::set<std::thread::id> batch_threads, other_threads;
  std::atomic<int> done{0};
  HandOffOptions o{4};
  o.spin = std::chrono::microseconds(0);  // every pause puts the workers to sleep
  HandOff<int> pool(
      o,
      [&](int&) {
        std::lock_guard<std::mutex> lock(mu);
        other_threads.insert(std::this_thread::get_id());
        ++done;
      },
      [](const int& i) { return i >= 0; },
      [&](std::vector<int>& jobs) {
        std::lock_guard<std::mutex> lock(mu);
        batch_threads.insert(std::this_thread::get_id());
        done += static_cast<int>(jobs.size());
      });
  int pushed = 0;
  for (int round = 0; round < 50; ++round) {
    // A batchable job then one that is not: the worker woken for the second must leave the
    // first to the lane, even when the lane has not taken it up yet.
    for (int i = 0; i < 3; ++i, ++pushed) pool.push(i == 1 ? -1 : pushed);
    std::this_thread::sleep_for(std::chrono::microseconds(300));
  }
  pool.join();
  CHECK(done.load() == pushed);
  CHECK(batch_threads.size() == 1);
  CHECK(other_threads.count(*batch_threads.begin()) == 0);
}

TEST_CASE("HandOff scales up for a job by that job's own wait, not a batch queued for the lane",
          "[hand_off]") {
  std::atomic<bool> release{false};
  std::atomic<bool> blocked_single{false}, in_batch{false};
  std::atomic<std::int64_t> fast_ran_at{0};
  HandOffOptions o{3};  // the lane and two general workers
  o.spin = std::chrono::microseconds(0);
  o.scale_after = 200ms;
  o.standby_poll = 10ms;
  auto now_us = [] {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  };
  HandOff<int> pool(
      o,
      [&](int& i) {
        if (i == -1) {
          blocked_single = true;
          while (!release.load()) std::this_thread::sleep_for(1ms);
        } else {
          fast_ran_at = now_us();
        }
      },
      [](const int& i) { return i >= 0; },
      [&](std::vector<int>&) {
        in_batch = true;
        while (!release.load()) std::this_thread::sleep_for(1ms);
      });
  pool.push(1);  // the lane takes it and blocks
  while (!in_batch.load()) std::this_thread::sleep_for(1ms);
  pool.push(2);   // batchable: waits for the lane
  pool.push(-1);  // one general worker takes it and blocks
  while (!blocked_single.load()) std::this_thread::sleep_for(1ms);
  std::this_thread::sleep_for(300ms);  // job 2 has now waited past scale_after
  const std::int64_t pushed = now_us();
  pool.push(-2);
  std::this_thread::sleep_for(100ms);
  // Job -2 has waited 100 ms, under scale_after: the sleeping worker is not woken for it yet,
  // however long job 2 (the lane's) has waited.
  CHECK(fast_ran_at.load() == 0);
  // Past scale_after, the standby worker takes it up, although the other general worker is
  // still blocked.
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (fast_ran_at.load() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
  }
  CHECK(fast_ran_at.load() - pushed >= 200000);
  CHECK(fast_ran_at.load() - pushed < 5000000);
  release = true;
  pool.join();
}
