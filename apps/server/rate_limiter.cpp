// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT

#include "rate_limiter.h"

#include <algorithm>
#include <cmath>
#include <functional>

namespace cidrot::server {

RateLimiter::Shard& RateLimiter::shard(std::string_view key) {
  return shards_[std::hash<std::string_view>{}(key) % kShards];
}

void RateLimiter::prune(Shard& s, Clock::time_point now) {
  // A bucket that has refilled completely behaves exactly like a missing one, so dropping it
  // loses nothing; only keys that are actively limited stay.
  const double rate = static_cast<double>(per_minute_) / 60.0;
  for (auto it = s.buckets.begin(); it != s.buckets.end();) {
    const double elapsed = std::chrono::duration<double>(now - it->second.updated).count();
    if (it->second.tokens + elapsed * rate >= static_cast<double>(per_minute_)) {
      it = s.buckets.erase(it);
    } else {
      ++it;
    }
  }
  // Still too many distinct keys: an abusive client population. Forget the oldest half rather
  // than grow without bound (those keys get a fresh minute).
  if (s.buckets.size() >= kMaxPerShard) {
    std::vector<std::pair<Clock::time_point, std::string>> by_age;
    by_age.reserve(s.buckets.size());
    for (const auto& [k, b] : s.buckets) by_age.emplace_back(b.updated, k);
    std::nth_element(by_age.begin(), by_age.begin() + static_cast<long>(by_age.size() / 2),
                     by_age.end());
    for (std::size_t i = 0; i < by_age.size() / 2; ++i) s.buckets.erase(by_age[i].second);
  }
}

std::int64_t RateLimiter::acquire(std::string_view key, Clock::time_point now) {
  if (per_minute_ <= 0) return 0;
  const double capacity = static_cast<double>(per_minute_);
  const double rate = capacity / 60.0;
  Shard& s = shard(key);
  std::lock_guard<std::mutex> lock(s.mu);
  auto it = s.buckets.find(std::string(key));
  if (it == s.buckets.end()) {
    if (s.buckets.size() >= kMaxPerShard) prune(s, now);
    s.buckets.emplace(std::string(key), Bucket{capacity - 1.0, now});
    return 0;
  }
  Bucket& b = it->second;
  const double elapsed = std::chrono::duration<double>(now - b.updated).count();
  b.tokens = std::min(capacity, b.tokens + std::max(0.0, elapsed) * rate);
  b.updated = now;
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return 0;
  }
  return std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil((1.0 - b.tokens) / rate)));
}

void RateLimiter::refund(std::string_view key) {
  if (per_minute_ <= 0) return;
  Shard& s = shard(key);
  std::lock_guard<std::mutex> lock(s.mu);
  auto it = s.buckets.find(std::string(key));
  if (it != s.buckets.end()) {
    it->second.tokens = std::min(static_cast<double>(per_minute_), it->second.tokens + 1.0);
  }
}

std::size_t RateLimiter::size() const {
  std::size_t n = 0;
  for (const auto& s : shards_) {
    std::lock_guard<std::mutex> lock(s.mu);
    n += s.buckets.size();
  }
  return n;
}

}  // namespace cidrot::server
