// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
// Shared helpers for the conformance cases: a fresh store behind a Rotator on a manual clock.
#ifndef CIDROT_TESTS_CONFORMANCE_FIXTURE_H_
#define CIDROT_TESTS_CONFORMANCE_FIXTURE_H_

#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "cidrot/cidrot.h"
#include "conformance.h"

namespace cidrot::conformance {

inline TimePoint utc(int y, int mo, int d, int h = 0, int mi = 0, int s = 0) {
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

inline Number num(const std::string& caller_id, std::vector<std::string> campaigns = {},
                  std::int64_t hourly = 0, std::int64_t daily = 0, std::int32_t max_conc = 1) {
  Number n;
  n.caller_id = caller_id;
  n.carrier = "TestTel";
  n.campaigns = std::move(campaigns);
  n.hourly_limit = hourly;
  n.daily_limit = daily;
  n.max_concurrent = max_conc;
  return n;
}

struct Fixture {
  std::shared_ptr<ManualClock> clock;
  std::shared_ptr<Store> store;
  std::unique_ptr<Rotator> rot;

  // Monday 2 March 2026, 10:10:00 in New York (EST, UTC-5).
  explicit Fixture(const std::string& zone = "America/New_York",
                   TimePoint start = utc(2026, 3, 2, 15, 10, 0))
      : clock(std::make_shared<ManualClock>(start)), store(fresh_store()) {
    RotatorOptions o;
    o.time_zone = zone;
    rot = std::make_unique<Rotator>(store, o, clock);
  }

  void add(std::vector<Number> numbers) { rot->add_numbers(std::move(numbers)); }

  LeaseResult next(const std::string& to, const std::string& campaign = "sales",
                   const std::string& agent = "a1") {
    return rot->next(CallRequest{to, campaign, agent, std::chrono::seconds(0)});
  }

  // Leases and returns the caller-ID, or "denied:<reason>".
  std::string pick(const std::string& to, const std::string& campaign = "sales") {
    LeaseResult r = next(to, campaign);
    if (!r) return std::string("denied:") + denial_reason_name(r.denial);
    return r.lease->number.caller_id;
  }

  // Leases and immediately releases; returns the caller-ID or the denial.
  std::string pick_release(const std::string& to, const std::string& campaign = "sales") {
    LeaseResult r = next(to, campaign);
    if (!r) return std::string("denied:") + denial_reason_name(r.denial);
    rot->release(r.lease->id);
    return r.lease->number.caller_id;
  }

  void advance(std::chrono::milliseconds d) { clock->advance(d); }
};

}  // namespace cidrot::conformance

#endif  // CIDROT_TESTS_CONFORMANCE_FIXTURE_H_
