// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
//
// The dashboard's live figures: /next-cid outcomes and lease latency per second over the last
// minute, in a ring of per-second slots written lock-free by the store workers.

#ifndef CIDROT_SERVER_DASHBOARD_LIVE_STATS_H_
#define CIDROT_SERVER_DASHBOARD_LIVE_STATS_H_

#include <array>
#include <atomic>
#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>

namespace cidrot::server::dashboard {

class LiveStats {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr int kWindow = 60;  // seconds kept

  // One Rotator::next() call: granted or denied, and how long it took.
  void observe(bool granted, Clock::duration latency,
               Clock::time_point now = Clock::now()) noexcept;

  // {"window_s", "requests_per_s", "leases_per_s", "denials_per_s" (each over the last 10 full
  //  seconds), "lease_latency_ms": {"mean", "max"} (last 60 s), "series": {"granted": [60],
  //  "denied": [60]} (per second, oldest first, the current partial second last)}
  boost::json::object snapshot(Clock::time_point now = Clock::now()) const;

 private:
  struct Slot {
    std::atomic<std::int64_t> second{-1};
    std::atomic<std::uint64_t> granted{0};
    std::atomic<std::uint64_t> denied{0};
    std::atomic<std::uint64_t> latency_sum_ns{0};
    std::atomic<std::uint64_t> latency_max_ns{0};
  };
  static constexpr int kSlots = 64;
  std::array<Slot, kSlots> slots_{};
};

}  // namespace cidrot::server::dashboard

#endif  // CIDROT_SERVER_DASHBOARD_LIVE_STATS_H_
