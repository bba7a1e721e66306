// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
//
// A child process for the SQLite multi-process and crash tests (started with fork/exec):
//   cidrot_sqlite_worker lease URL THREADS HOUR_START DAY_START OUT_FILE DEADLINE_S
//     THREADS threads lease from the pool (any NPA, campaign "mp"), hold each lease a random
//     0..1 ms, release it, and retry on all_reserved until the pool answers all_limited or the
//     deadline passes. Writes one line per lease to OUT_FILE:
//       caller_id lease_id held_from_ns held_until_ns
//     (CLOCK_MONOTONIC, system-wide): the span between the lease call returning and the release
//     call starting, which lies inside the time the store held the lease.
//   cidrot_sqlite_worker crash URL THREADS
//     THREADS threads lease forever; each acknowledged lease id is written to stdout as one line
//     with a single write(2), so a SIGKILL never leaves a half line of an acknowledged lease.
// Exit status 0 on success, 2 on a store error (message on stderr).

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "cidrot/cidrot.h"

namespace {

std::int64_t mono_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int run_lease(const std::string& url, int threads, std::int64_t hour_start, std::int64_t day_start,
              const std::string& out_file, int deadline_s) {
  auto store = cidrot::open_store(url);
  const cidrot::Ladder ladder = {cidrot::LadderStep{cidrot::Tier::kAny, {}}};
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(deadline_s);
  std::mutex mu;
  std::vector<std::string> lines;
  std::atomic<bool> failed{false};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      std::mt19937 rng(static_cast<unsigned>(::getpid() * 131 + t));
      std::vector<std::string> mine;
      try {
        while (std::chrono::steady_clock::now() < deadline) {
          cidrot::LeaseRequest req;
          req.lease_id = cidrot::make_lease_id();
          req.campaign = "mp";
          req.agent = "w" + std::to_string(::getpid()) + "." + std::to_string(t);
          req.destination = "2125550100";
          req.ladder = &ladder;
          req.windows = {std::chrono::system_clock::now(), hour_start, day_start};
          req.ttl = std::chrono::minutes(10);
          cidrot::LeaseResult r = store->lease(req);
          if (!r) {
            if (r.denial == cidrot::DenialReason::kAllReserved) {
              std::this_thread::sleep_for(std::chrono::microseconds(200));
              continue;
            }
            break;  // all_limited: every number reached its cap
          }
          const std::int64_t from = mono_ns();
          std::this_thread::sleep_for(std::chrono::microseconds(rng() % 1000));
          const std::int64_t until = mono_ns();
          cidrot::ReleaseRequest rel;
          rel.lease_id = r.lease->id;
          rel.now = std::chrono::system_clock::now();
          if (store->release(rel) != 1) {
            std::cerr << "release of " << r.lease->id << " ended no lease\n";
            failed = true;
          }
          mine.push_back(r.lease->number.caller_id + " " + r.lease->id + " " +
                         std::to_string(from) + " " + std::to_string(until));
        }
      } catch (const std::exception& e) {
        std::cerr << "worker " << ::getpid() << ": " << e.what() << "\n";
        failed = true;
      }
      std::lock_guard<std::mutex> lock(mu);
      lines.insert(lines.end(), mine.begin(), mine.end());
    });
  }
  for (auto& th : pool) th.join();
  std::ofstream out(out_file);
  for (const auto& l : lines) out << l << "\n";
  out.close();
  return failed || !out ? 2 : 0;
}

int run_crash(const std::string& url, int threads) {
  auto store = cidrot::open_store(url);
  const cidrot::Ladder ladder = {cidrot::LadderStep{cidrot::Tier::kAny, {}}};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      try {
        for (;;) {
          cidrot::LeaseRequest req;
          req.lease_id = cidrot::make_lease_id();
          req.campaign = "crash";
          req.destination = "2125550100";
          req.ladder = &ladder;
          const auto now = std::chrono::system_clock::now();
          const std::int64_t s = std::chrono::system_clock::to_time_t(now);
          req.windows = {now, s - s % 3600, s - s % 86400};
          req.ttl = std::chrono::hours(1);
          cidrot::LeaseResult r = store->lease(req);
          if (!r) continue;
          const std::string line = r.lease->id + "\n";
          if (::write(1, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
            std::_Exit(3);
          }
        }
      } catch (const std::exception& e) {
        std::cerr << "crash worker: " << e.what() << "\n";
        std::_Exit(2);
      }
    });
  }
  for (auto& th : pool) th.join();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  try {
    if (args.size() == 7 && args[0] == "lease") {
      return run_lease(args[1], std::stoi(args[2]), std::stoll(args[3]), std::stoll(args[4]),
                       args[5], std::stoi(args[6]));
    }
    if (args.size() == 3 && args[0] == "crash") return run_crash(args[1], std::stoi(args[2]));
  } catch (const std::exception& e) {
    std::cerr << "worker: " << e.what() << "\n";
    return 2;
  }
  std::cerr << "usage: cidrot_sqlite_worker lease URL THREADS HOUR_START DAY_START OUT DEADLINE_S\n"
               "       cidrot_sqlite_worker crash URL THREADS\n";
  return 64;
}
