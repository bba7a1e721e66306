// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
//
// Prometheus metrics of cidrot-server: lock-free counters written by the I/O and worker threads,
// rendered as the text exposition format by GET /metrics.

#ifndef CIDROT_SERVER_METRICS_H_
#define CIDROT_SERVER_METRICS_H_

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cidrot/types.h"
#include "router.h"

namespace cidrot::server {

// The label set of one route: method="GET",route="/next-cid".
std::string route_label(std::string_view method, std::string_view pattern);
// route_label() of every route of `router`, in table order (what Metrics' constructor takes).
std::vector<std::string> route_labels(const Router& router);

class Metrics {
 public:
  // One label set per route (route_label()), in Router::routes() order; requests that matched no
  // route are counted as route="other".
  explicit Metrics(std::vector<std::string> labels);

  // route_index -1 = no route matched.
  void count_request(int route_index, unsigned status) noexcept;
  void observe_lease(std::chrono::steady_clock::duration d) noexcept;
  void count_denial(DenialReason reason) noexcept;
  void count_grant() noexcept { granted_.fetch_add(1, std::memory_order_relaxed); }
  void count_rate_limited() noexcept;
  void connection_opened() noexcept { connections_.fetch_add(1, std::memory_order_relaxed); }
  void connection_closed() noexcept { connections_.fetch_sub(1, std::memory_order_relaxed); }
  // A connection closed on accept because --max-connections were open. Returns the new total.
  std::uint64_t connection_refused() noexcept {
    return refused_.fetch_add(1, std::memory_order_relaxed) + 1;
  }

  // The exposition text. `stats` adds the numbers-by-state gauges (nullptr when the store could
  // not be read; cidrot_store_up is then 0).
  std::string render(const StoreStats* stats) const;

 private:
  static constexpr std::array<unsigned, 15> kStatuses = {200, 201, 400, 401, 403, 404, 405, 408,
                                                         409, 413, 429, 431, 500, 503, 0};
  static constexpr std::array<double, 14> kBuckets = {
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5};
  using Row = std::array<std::atomic<std::uint64_t>, kStatuses.size()>;

  std::vector<std::string> labels_;  // routes + "other"
  std::unique_ptr<Row[]> requests_;
  std::array<std::atomic<std::uint64_t>, kBuckets.size() + 1> lease_buckets_{};
  std::atomic<std::uint64_t> lease_count_{0};
  std::atomic<std::uint64_t> lease_sum_ns_{0};
  std::array<std::atomic<std::uint64_t>, 4> denials_{};
  std::atomic<std::uint64_t> rate_limited_{0};
  std::atomic<std::uint64_t> granted_{0};
  std::atomic<std::int64_t> connections_{0};
  std::atomic<std::uint64_t> refused_{0};
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

}  // namespace cidrot::server

#endif  // CIDROT_SERVER_METRICS_H_
