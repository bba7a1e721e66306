// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
// The small capped pool the scale-out test and its worker processes share.
#ifndef CIDROT_TESTS_REDIS_SCALEOUT_POOL_H_
#define CIDROT_TESTS_REDIS_SCALEOUT_POOL_H_

#include <string>
#include <vector>

#include "cidrot/store.h"

namespace cidrot::scaleout {

constexpr int kNumbers = 24;
constexpr std::int64_t kHourly = 12;
constexpr std::int64_t kDaily = 20;
constexpr const char* kCampaign = "scale";

// 24 numbers over three NPAs; every fourth serves all campaigns, every sixth takes 2 calls at once.
inline std::vector<Number> pool() {
  static const char* const npas[] = {"212", "646", "305"};
  std::vector<Number> out;
  for (int i = 0; i < kNumbers; ++i) {
    Number n;
    n.area_code = npas[i % 3];
    n.caller_id = n.area_code + "55501" + (i < 10 ? "0" : "") + std::to_string(i);
    n.carrier = "test";
    if (i % 4 != 0) n.campaigns = {kCampaign};
    n.hourly_limit = kHourly;
    n.daily_limit = kDaily;
    n.max_concurrent = i % 6 == 0 ? 2 : 1;
    out.push_back(n);
  }
  return out;
}

// Same NPA first, then anything in the pool.
inline Ladder ladder() {
  Ladder l;
  l.push_back(LadderStep{Tier::kSameNpa, {212}});
  l.push_back(LadderStep{Tier::kAny, {}});
  return l;
}

inline int slot_of(const std::vector<Number>& pool, const std::string& caller_id) {
  for (std::size_t i = 0; i < pool.size(); ++i) {
    if (pool[i].caller_id == caller_id) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace cidrot::scaleout

#endif  // CIDROT_TESTS_REDIS_SCALEOUT_POOL_H_
