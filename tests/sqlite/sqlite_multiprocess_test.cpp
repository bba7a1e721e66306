// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
// Several real processes (fork/exec of cidrot_sqlite_worker), each with several threads, lease
// from one small capped pool in one file. Each records the span it held every lease; the parent
// checks that no number was ever held by more leases than its concurrency limit at once, that no
// cap was overrun, and that the counts add up in the file.
#include <SQLiteCpp/Database.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "cidrot/cidrot.h"
#include "test_util.h"

using namespace cidrot;
using namespace cidrot::sqlite_test;

TEST_CASE("processes sharing one file never double-lease nor overrun caps", "[multiprocess]") {
  constexpr int kProcesses = 4, kThreads = 4, kNumbers = 16, kHourly = 25;
  const std::string dir = fresh_dir();
  const std::string url = "sqlite://" + dir + "/shared.db";
  std::map<std::string, int> max_concurrent;
  {
    std::vector<Number> numbers;
    for (int i = 0; i < kNumbers; ++i) {
      const int conc = i % 4 == 0 ? 2 : 1;
      // Half serve every campaign, half name the test's campaign (and another one).
      std::vector<std::string> campaigns;
      if (i % 2) campaigns = {"other", "mp"};
      numbers.push_back(
          make_number(std::to_string(2125550100 + i), kHourly, 1000, conc, campaigns));
      max_concurrent[numbers.back().caller_id] = conc;
    }
    // A number the campaign must never get.
    numbers.push_back(make_number("2125550199", 0, 0, 1, {"other"}));
    open_store(url)->upsert_numbers(numbers);
  }
  const std::int64_t now_s = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  const std::int64_t hour_start = now_s - now_s % 3600, day_start = now_s - now_s % 86400;

  std::vector<pid_t> pids;
  for (int p = 0; p < kProcesses; ++p) {
    pids.push_back(
        spawn_worker({"lease", url, std::to_string(kThreads), std::to_string(hour_start),
                      std::to_string(day_start), dir + "/out" + std::to_string(p), "120"}));
  }
  for (pid_t pid : pids) CHECK(wait_exit(pid) == 0);

  struct Held {
    std::int64_t from, until;
  };
  std::map<std::string, std::vector<Held>> by_number;
  std::set<std::string> lease_ids;
  std::map<int, int> per_process;
  int total = 0;
  for (int p = 0; p < kProcesses; ++p) {
    std::ifstream in(dir + "/out" + std::to_string(p));
    std::string cid, id;
    Held h{};
    while (in >> cid >> id >> h.from >> h.until) {
      by_number[cid].push_back(h);
      CHECK(lease_ids.insert(id).second);
      ++per_process[p];
      ++total;
    }
  }
  INFO("leases per process: " << per_process[0] << " " << per_process[1] << " " << per_process[2]
                              << " " << per_process[3]);
  // Every number reached its hourly cap exactly: the workers stop only at all_limited.
  CHECK(total == kNumbers * kHourly);
  CHECK(by_number.count("2125550199") == 0);
  int double_leases = 0, cap_overruns = 0;
  for (auto& [cid, spans] : by_number) {
    if (static_cast<int>(spans.size()) > kHourly) ++cap_overruns;
    // Sweep: +1 at each start, -1 at each end (ends first at equal times).
    std::vector<std::pair<std::int64_t, int>> events;
    for (const Held& h : spans) {
      events.emplace_back(h.from, +1);
      events.emplace_back(h.until, -1);
    }
    std::sort(events.begin(), events.end());
    int held = 0;
    for (const auto& e : events) {
      held += e.second;
      if (held > max_concurrent[cid]) ++double_leases;
    }
  }
  CHECK(double_leases == 0);
  CHECK(cap_overruns == 0);
  // Several processes really took part.
  CHECK(std::count_if(per_process.begin(), per_process.end(),
                      [](const auto& kv) { return kv.second > 0; }) >= 2);

  SQLite::Database db(dir + "/shared.db");
  CHECK(query_int(db, "SELECT sum(total_uses) FROM numbers") == kNumbers * kHourly);
  CHECK(query_int(db, "SELECT max(hour_count) FROM numbers") == kHourly);
  CHECK(query_int(db, "SELECT count(*) FROM leases") == 0);
  CHECK(db.execAndGet("PRAGMA integrity_check").getString() == "ok");
}
