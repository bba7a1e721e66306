// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
//
// Scale-out: several OS processes, each with several threads, lease from one small pool with
// hourly and daily caps on one Redis, as several cidrot-servers behind a load balancer would.
// Asserts zero double leases, zero cap overruns, and counts that add up exactly.

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "cidrot/cidrot.h"
#include "scaleout_pool.h"

extern char** environ;

namespace {

using cidrot::scaleout::kDaily;
using cidrot::scaleout::kHourly;

constexpr int kProcesses = 4;
constexpr int kThreads = 4;

struct PhaseResult {
  std::map<std::string, std::int64_t> grants;  // summed over processes
  std::int64_t overlaps = 0;
  std::int64_t errors = 0;
};

std::string temp_dir() {
  char tmpl[] = "/tmp/cidrot-scaleout-XXXXXX";
  const char* d = ::mkdtemp(tmpl);
  REQUIRE(d != nullptr);
  return d;
}

// Starts kProcesses workers at once and sums what they report.
PhaseResult run_phase(const std::string& mode, const std::string& url, const std::string& dir,
                      std::int64_t hour, std::int64_t day, std::int64_t now_ms) {
  const std::string counters = dir + "/counters-" + mode + std::to_string(hour);
  {
    std::ofstream f(counters, std::ios::binary);
    const std::vector<char> zeros(sizeof(int) * cidrot::scaleout::kNumbers, 0);
    f.write(zeros.data(), static_cast<std::streamsize>(zeros.size()));
  }
  std::vector<pid_t> pids;
  std::vector<std::string> outs;
  for (int p = 0; p < kProcesses; ++p) {
    outs.push_back(dir + "/out-" + mode + std::to_string(hour) + "-" + std::to_string(p));
    std::vector<std::string> args = {CIDROT_SCALEOUT_WORKER,
                                     mode,
                                     url,
                                     std::to_string(kThreads),
                                     counters,
                                     outs.back(),
                                     std::to_string(hour),
                                     std::to_string(day),
                                     std::to_string(now_ms)};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = 0;
    REQUIRE(::posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) == 0);
    pids.push_back(pid);
  }
  PhaseResult r;
  for (std::size_t p = 0; p < pids.size(); ++p) {
    int status = 0;
    REQUIRE(::waitpid(pids[p], &status, 0) == pids[p]);
    INFO("worker " << p << " status " << status);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 0);
    std::ifstream in(outs[p]);
    std::string word, cid;
    std::int64_t n = 0;
    while (in >> word) {
      if (word == "grant") {
        in >> cid >> n;
        r.grants[cid] += n;
      } else if (word == "overlaps") {
        in >> n;
        r.overlaps += n;
      } else if (word == "errors") {
        in >> n;
        r.errors += n;
      }
    }
  }
  return r;
}

std::int64_t total(const PhaseResult& r) {
  std::int64_t t = 0;
  for (const auto& [cid, n] : r.grants) t += n;
  return t;
}

}  // namespace

TEST_CASE("scale-out: 4 processes x 4 threads share one capped pool on one Redis",
          "[redis][scaleout]") {
  const std::string url = std::string(CIDROT_TEST_REDIS_URL) + "?prefix=scale" +
                          std::to_string(::getpid()) + "x" + std::to_string(::time(nullptr));
  auto store = cidrot::open_store(url);
  const auto pool = cidrot::scaleout::pool();
  REQUIRE(store->upsert_numbers(pool).inserted == cidrot::scaleout::kNumbers);
  const std::string dir = temp_dir();

  // Windows: day D with hours H0, H1, H2 (3600 s apart), time inside each hour.
  const std::int64_t day = 1767225600;  // 2026-01-01T00:00:00Z
  const std::int64_t h0 = day, h1 = day + 3600, h2 = day + 7200;
  std::int64_t max_concurrent_sum = 0;
  for (const auto& n : pool) max_concurrent_sum += n.max_concurrent;

  SECTION("phases") {
    // Hold: nobody releases, so the pool hands out exactly its concurrency, once per slot.
    PhaseResult hold = run_phase("hold", url, dir, h0, day, h0 * 1000 + 1000);
    CHECK(hold.errors == 0);
    CHECK(hold.overlaps == 0);
    CHECK(total(hold) == max_concurrent_sum);
    for (const auto& n : pool) {
      INFO(n.caller_id);
      CHECK(hold.grants[n.caller_id] == n.max_concurrent);
    }
    CHECK(store->list_leases(cidrot::from_unix_ms(h0 * 1000 + 2000), 1000).size() ==
          static_cast<std::size_t>(max_concurrent_sum));
    for (const auto& n : pool) {
      cidrot::ReleaseRequest rel;
      rel.caller_id = n.caller_id;
      rel.now = cidrot::from_unix_ms(h0 * 1000 + 2000);
      CHECK(store->release(rel) == n.max_concurrent);
    }

    // Churn in H0: each number now has max_concurrent uses of its hourly cap.
    PhaseResult c0 = run_phase("churn", url, dir, h0, day, h0 * 1000 + 3000);
    CHECK(c0.errors == 0);
    CHECK(c0.overlaps == 0);
    for (const auto& n : pool) {
      INFO(n.caller_id);
      CHECK(c0.grants[n.caller_id] == kHourly - n.max_concurrent);
    }

    // H1: the hour rolled, the day did not: the daily cap leaves kDaily - kHourly per number.
    PhaseResult c1 = run_phase("churn", url, dir, h1, day, h1 * 1000 + 1000);
    CHECK(c1.errors == 0);
    CHECK(c1.overlaps == 0);
    for (const auto& n : pool) {
      INFO(n.caller_id);
      CHECK(c1.grants[n.caller_id] == kDaily - kHourly);
    }

    // H2: every number is at its daily cap: nothing at all, denied as all_limited.
    PhaseResult c2 = run_phase("churn", url, dir, h2, day, h2 * 1000 + 1000);
    CHECK(c2.errors == 0);
    CHECK(total(c2) == 0);

    // The store's own counts agree with what the processes were granted.
    cidrot::Windows w;
    w.now = cidrot::from_unix_ms(h2 * 1000 + 5000);
    w.hour_start = h2;
    w.day_start = day;
    std::int64_t uses = 0;
    for (const auto& n : pool) {
      auto st = store->get_number(n.caller_id, w);
      REQUIRE(st);
      INFO(n.caller_id);
      CHECK(st->total_uses == kDaily);
      CHECK(st->day_count == kDaily);
      CHECK(st->hour_count == 0);
      CHECK(st->active_leases == 0);
      CHECK(st->daily_capped());
      uses += st->total_uses;
    }
    CHECK(uses == total(hold) + total(c0) + total(c1) + total(c2));
    const auto stats = store->stats(w);
    CHECK(stats.total_uses == uses);
    CHECK(stats.active_leases == 0);
    CHECK(stats.capped_daily == cidrot::scaleout::kNumbers);
    CHECK(store->list_leases(w.now, 1000).empty());
  }
  for (const auto& n : pool) store->remove_number(n.caller_id);
  std::filesystem::remove_all(dir);
}
