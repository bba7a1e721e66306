// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT

#include "metrics.h"

#include <cstdio>

#include "cidrot/version.h"

namespace cidrot::server {
namespace {

void append_double(std::string& out, double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  out += buf;
}

}  // namespace

std::string route_label(std::string_view method, std::string_view pattern) {
  return "method=\"" + std::string(method) + "\",route=\"" + std::string(pattern) + "\"";
}

std::vector<std::string> route_labels(const Router& router) {
  std::vector<std::string> labels;
  for (const auto& r : router.routes()) {
    labels.push_back(route_label(std::string(http::to_string(r.method)), r.pattern));
  }
  return labels;
}

Metrics::Metrics(std::vector<std::string> labels)
    : labels_(std::move(labels)), requests_(std::make_unique<Row[]>(labels_.size() + 1)) {
  // Requests no route matched (404, 405, unparseable): any method, so one fixed label set.
  labels_.push_back(route_label("other", "other"));
}

void Metrics::count_request(int route_index, unsigned status) noexcept {
  const std::size_t row =
      route_index < 0 ? labels_.size() - 1 : static_cast<std::size_t>(route_index);
  std::size_t col = kStatuses.size() - 1;  // "other" statuses
  for (std::size_t i = 0; i + 1 < kStatuses.size(); ++i) {
    if (kStatuses[i] == status) {
      col = i;
      break;
    }
  }
  requests_[row][col].fetch_add(1, std::memory_order_relaxed);
}

void Metrics::observe_lease(std::chrono::steady_clock::duration d) noexcept {
  const double s = std::chrono::duration<double>(d).count();
  std::size_t i = 0;
  while (i < kBuckets.size() && s > kBuckets[i]) ++i;
  lease_buckets_[i].fetch_add(1, std::memory_order_relaxed);
  lease_count_.fetch_add(1, std::memory_order_relaxed);
  lease_sum_ns_.fetch_add(
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count()),
      std::memory_order_relaxed);
}

void Metrics::count_denial(DenialReason reason) noexcept {
  denials_[static_cast<std::size_t>(reason)].fetch_add(1, std::memory_order_relaxed);
}

void Metrics::count_rate_limited() noexcept {
  rate_limited_.fetch_add(1, std::memory_order_relaxed);
}

std::string Metrics::render(const StoreStats* stats) const {
  std::string out;
  out.reserve(4096);
  out += "# HELP cidrot_build_info Version of cidrot-server.\n# TYPE cidrot_build_info gauge\n";
  out += "cidrot_build_info{version=\"" + std::string(version()) + "\"} 1\n";
  out +=
      "# HELP cidrot_uptime_seconds Seconds since the server started.\n"
      "# TYPE cidrot_uptime_seconds gauge\ncidrot_uptime_seconds ";
  append_double(out,
                std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count());
  out +=
      "\n# HELP cidrot_http_requests_total HTTP requests answered, by route and status.\n"
      "# TYPE cidrot_http_requests_total counter\n";
  for (std::size_t r = 0; r < labels_.size(); ++r) {
    for (std::size_t c = 0; c < kStatuses.size(); ++c) {
      const auto n = requests_[r][c].load(std::memory_order_relaxed);
      if (n == 0) continue;
      out += "cidrot_http_requests_total{" + labels_[r] + ",status=\"" +
             (kStatuses[c] ? std::to_string(kStatuses[c]) : std::string("other")) + "\"} " +
             std::to_string(n) + "\n";
    }
  }
  out +=
      "# HELP cidrot_http_connections Open HTTP connections.\n"
      "# TYPE cidrot_http_connections gauge\ncidrot_http_connections " +
      std::to_string(connections_.load(std::memory_order_relaxed)) + "\n";
  out +=
      "# HELP cidrot_http_connections_refused_total Connections closed on accept: "
      "--max-connections were open.\n"
      "# TYPE cidrot_http_connections_refused_total counter\n"
      "cidrot_http_connections_refused_total " +
      std::to_string(refused_.load(std::memory_order_relaxed)) + "\n";
  out +=
      "# HELP cidrot_lease_duration_seconds Time to pick and lease a caller-ID (store call).\n"
      "# TYPE cidrot_lease_duration_seconds histogram\n";
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < kBuckets.size(); ++i) {
    cumulative += lease_buckets_[i].load(std::memory_order_relaxed);
    out += "cidrot_lease_duration_seconds_bucket{le=\"";
    append_double(out, kBuckets[i]);
    out += "\"} " + std::to_string(cumulative) + "\n";
  }
  cumulative += lease_buckets_[kBuckets.size()].load(std::memory_order_relaxed);
  out += "cidrot_lease_duration_seconds_bucket{le=\"+Inf\"} " + std::to_string(cumulative) + "\n";
  out += "cidrot_lease_duration_seconds_sum ";
  append_double(out, static_cast<double>(lease_sum_ns_.load(std::memory_order_relaxed)) / 1e9);
  out += "\ncidrot_lease_duration_seconds_count " +
         std::to_string(lease_count_.load(std::memory_order_relaxed)) + "\n";
  out +=
      "# HELP cidrot_denials_total /next-cid requests answered without a caller-ID, by reason.\n"
      "# TYPE cidrot_denials_total counter\n";
  for (auto r : {DenialReason::kPoolEmpty, DenialReason::kAllReserved, DenialReason::kAllLimited,
                 DenialReason::kNoMatchInScope}) {
    out += std::string("cidrot_denials_total{reason=\"") + denial_reason_name(r) + "\"} " +
           std::to_string(denials_[static_cast<std::size_t>(r)].load(std::memory_order_relaxed)) +
           "\n";
  }
  out +=
      "# HELP cidrot_leases_granted_total Leases this server granted since it started.\n"
      "# TYPE cidrot_leases_granted_total counter\ncidrot_leases_granted_total " +
      std::to_string(granted_.load(std::memory_order_relaxed)) + "\n";
  out +=
      "# HELP cidrot_rate_limited_total /next-cid requests refused by RATE_LIMIT_PER_AGENT.\n"
      "# TYPE cidrot_rate_limited_total counter\ncidrot_rate_limited_total " +
      std::to_string(rate_limited_.load(std::memory_order_relaxed)) + "\n";
  out +=
      "# HELP cidrot_store_up Whether the last read of the store for /metrics succeeded.\n"
      "# TYPE cidrot_store_up gauge\ncidrot_store_up " +
      std::string(stats ? "1" : "0") + "\n";
  if (stats) {
    out +=
        "# HELP cidrot_numbers Caller-IDs by state (a number can be in several states).\n"
        "# TYPE cidrot_numbers gauge\n";
    const std::pair<const char*, std::int64_t> states[] = {{"total", stats->numbers},
                                                           {"active", stats->active},
                                                           {"disabled", stats->disabled},
                                                           {"leased", stats->leased_numbers},
                                                           {"capped_hourly", stats->capped_hourly},
                                                           {"capped_daily", stats->capped_daily}};
    for (const auto& [name, value] : states) {
      out += std::string("cidrot_numbers{state=\"") + name + "\"} " + std::to_string(value) + "\n";
    }
    out +=
        "# HELP cidrot_leases_active Unexpired, unreleased leases.\n"
        "# TYPE cidrot_leases_active gauge\ncidrot_leases_active " +
        std::to_string(stats->active_leases) + "\n";
    // A sum over the numbers that exist now: it drops when a number is deleted, so a gauge.
    out +=
        "# HELP cidrot_store_total_uses Leases ever granted on the store's current numbers (all "
        "servers).\n"
        "# TYPE cidrot_store_total_uses gauge\ncidrot_store_total_uses " +
        std::to_string(stats->total_uses) + "\n";
  }
  return out;
}

}  // namespace cidrot::server
