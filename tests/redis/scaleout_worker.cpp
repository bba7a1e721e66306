// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
//
// One process of the Redis scale-out test (scaleout_test.cpp starts several). Its threads lease
// from the shared pool until the store says every number is capped (mode "churn": lease, hold a
// moment, release) or reserved (mode "hold": lease and keep). Every holder bumps a per-number
// counter in a file mapped by all processes while it holds the number, so two holders of one
// exclusive number at once are seen no matter which processes they are in.
//
//   redis_scaleout_worker MODE URL THREADS COUNTERS_FILE OUT_FILE HOUR_START DAY_START NOW_MS
//
// OUT_FILE gets "grant <caller_id> <count>" lines, then "overlaps N" and "errors N".

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "cidrot/cidrot.h"
#include "scaleout_pool.h"

int main(int argc, char** argv) {
  if (argc != 9) {
    std::cerr << "usage: redis_scaleout_worker MODE URL THREADS COUNTERS OUT HOUR DAY NOW_MS\n";
    return 2;
  }
  const std::string mode = argv[1], url = argv[2];
  const int threads = std::atoi(argv[3]);
  const std::int64_t hour = std::atoll(argv[6]), day = std::atoll(argv[7]);
  const std::int64_t now_base = std::atoll(argv[8]);
  const bool churn = mode == "churn";

  const int fd = ::open(argv[4], O_RDWR);
  if (fd < 0) {
    std::perror("open counters");
    return 2;
  }
  auto* holders = static_cast<int*>(::mmap(nullptr, sizeof(int) * cidrot::scaleout::kNumbers,
                                           PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
  if (holders == MAP_FAILED) {
    std::perror("mmap");
    return 2;
  }
  const auto pool = cidrot::scaleout::pool();

  std::shared_ptr<cidrot::Store> store;
  try {
    store = cidrot::open_store(url);
  } catch (const std::exception& e) {
    std::cerr << "open_store: " << e.what() << "\n";
    return 2;
  }
  const cidrot::Ladder ladder = cidrot::scaleout::ladder();
  const auto started = std::chrono::steady_clock::now();

  std::mutex mu;
  std::map<std::string, std::int64_t> grants;
  std::atomic<std::int64_t> overlaps{0}, errors{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      std::mt19937 rng(static_cast<unsigned>(::getpid() * 131 + t));
      std::map<std::string, std::int64_t> mine;
      for (;;) {
        const auto elapsed = std::chrono::steady_clock::now() - started;
        if (elapsed > std::chrono::seconds(60)) {
          std::cerr << "worker: no end after 60 s\n";
          errors++;
          break;
        }
        cidrot::LeaseRequest req;
        req.lease_id = cidrot::make_lease_id();
        req.campaign = cidrot::scaleout::kCampaign;
        req.agent = "w" + std::to_string(::getpid()) + "." + std::to_string(t);
        req.destination = "2125550199";
        req.ladder = &ladder;
        req.windows.now = cidrot::from_unix_ms(
            now_base + std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count());
        req.windows.hour_start = hour;
        req.windows.day_start = day;
        req.ttl = std::chrono::milliseconds(600000);
        cidrot::LeaseResult r;
        try {
          r = store->lease(req);
        } catch (const std::exception& e) {
          std::cerr << "lease: " << e.what() << "\n";
          errors++;
          break;
        }
        if (!r) {
          if (r.denial == cidrot::DenialReason::kAllLimited) break;
          if (r.denial == cidrot::DenialReason::kAllReserved) {
            if (!churn) break;
            std::this_thread::sleep_for(std::chrono::microseconds(50 + rng() % 200));
            continue;
          }
          std::cerr << "unexpected denial " << cidrot::denial_reason_name(r.denial) << "\n";
          errors++;
          break;
        }
        const std::string& cid = r.lease->number.caller_id;
        const int slot = cidrot::scaleout::slot_of(pool, cid);
        if (slot < 0) {
          errors++;
          break;
        }
        const int held = __atomic_add_fetch(&holders[slot], 1, __ATOMIC_SEQ_CST);
        if (held > pool[static_cast<std::size_t>(slot)].max_concurrent) overlaps++;
        mine[cid]++;
        if (!churn) continue;  // hold: keep it, the test checks and releases
        std::this_thread::sleep_for(std::chrono::microseconds(rng() % 300));
        __atomic_sub_fetch(&holders[slot], 1, __ATOMIC_SEQ_CST);
        cidrot::ReleaseRequest rel;
        rel.lease_id = r.lease->id;
        rel.now = req.windows.now;
        rel.outcome.disposition = "answered";
        rel.outcome.duration_s = 1;
        try {
          if (store->release(rel) != 1) {
            std::cerr << "release ended no lease\n";
            errors++;
          }
        } catch (const std::exception& e) {
          std::cerr << "release: " << e.what() << "\n";
          errors++;
          break;
        }
      }
      std::lock_guard<std::mutex> lock(mu);
      for (const auto& [cid, n] : mine) grants[cid] += n;
    });
  }
  for (auto& w : workers) w.join();

  std::ofstream out(argv[5]);
  for (const auto& [cid, n] : grants) out << "grant " << cid << " " << n << "\n";
  out << "overlaps " << overlaps.load() << "\nerrors " << errors.load() << "\n";
  return out.good() ? 0 : 2;
}
