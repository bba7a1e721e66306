// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT

#include "live_stats.h"

#include <boost/json/array.hpp>

namespace cidrot::server::dashboard {
namespace {

std::int64_t second_of(LiveStats::Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

}  // namespace

void LiveStats::observe(bool granted, Clock::duration latency, Clock::time_point now) noexcept {
  const std::int64_t s = second_of(now);
  Slot& slot = slots_[static_cast<std::size_t>(s % kSlots)];
  std::int64_t seen = slot.second.load(std::memory_order_acquire);
  // The first writer of a new second recycles the slot. A writer racing with the reset can lose
  // its one count; a dashboard figure can afford that, the lease path cannot afford a lock.
  if (seen != s && slot.second.compare_exchange_strong(seen, s, std::memory_order_acq_rel)) {
    slot.granted.store(0, std::memory_order_relaxed);
    slot.denied.store(0, std::memory_order_relaxed);
    slot.latency_sum_ns.store(0, std::memory_order_relaxed);
    slot.latency_max_ns.store(0, std::memory_order_relaxed);
  }
  (granted ? slot.granted : slot.denied).fetch_add(1, std::memory_order_relaxed);
  const auto ns = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(latency).count());
  slot.latency_sum_ns.fetch_add(ns, std::memory_order_relaxed);
  std::uint64_t max = slot.latency_max_ns.load(std::memory_order_relaxed);
  while (ns > max &&
         !slot.latency_max_ns.compare_exchange_weak(max, ns, std::memory_order_relaxed)) {
  }
}

boost::json::object LiveStats::snapshot(Clock::time_point now) const {
  const std::int64_t current = second_of(now);
  boost::json::array granted_series, denied_series;
  std::uint64_t granted10 = 0, denied10 = 0, count = 0, sum_ns = 0, max_ns = 0;
  for (std::int64_t s = current - kWindow + 1; s <= current; ++s) {
    const Slot& slot = slots_[static_cast<std::size_t>(s % kSlots)];
    std::uint64_t g = 0, d = 0;
    if (slot.second.load(std::memory_order_acquire) == s) {
      g = slot.granted.load(std::memory_order_relaxed);
      d = slot.denied.load(std::memory_order_relaxed);
      sum_ns += slot.latency_sum_ns.load(std::memory_order_relaxed);
      const auto m = slot.latency_max_ns.load(std::memory_order_relaxed);
      if (m > max_ns) max_ns = m;
      count += g + d;
    }
    if (s >= current - 10 && s < current) {
      granted10 += g;
      denied10 += d;
    }
    granted_series.push_back(g);
    denied_series.push_back(d);
  }
  const double mean_ms = count ? static_cast<double>(sum_ns) / static_cast<double>(count) / 1e6 : 0;
  return {{"window_s", kWindow},
          {"requests_per_s", static_cast<double>(granted10 + denied10) / 10.0},
          {"leases_per_s", static_cast<double>(granted10) / 10.0},
          {"denials_per_s", static_cast<double>(denied10) / 10.0},
          {"lease_latency_ms",
           boost::json::object{{"mean", mean_ms}, {"max", static_cast<double>(max_ns) / 1e6}}},
          {"series", boost::json::object{{"granted", std::move(granted_series)},
                                         {"denied", std::move(denied_series)}}}};
}

}  // namespace cidrot::server::dashboard
