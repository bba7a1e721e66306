// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
//
// RATE_LIMIT_PER_AGENT: a token bucket per key (the agent, or the client address when a request
// names no agent) holding a minute's worth of requests and refilling continuously. Sharded so
// that worker threads rarely contend; memory is bounded by pruning full (idle) buckets.

#ifndef CIDROT_SERVER_RATE_LIMITER_H_
#define CIDROT_SERVER_RATE_LIMITER_H_

#include <array>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace cidrot::server {

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  // `per_minute` 0 disables the limiter (acquire() always succeeds).
  explicit RateLimiter(std::int64_t per_minute) : per_minute_(per_minute) {}

  bool enabled() const noexcept { return per_minute_ > 0; }

  // Takes one token for `key`. Returns 0 when allowed, else the whole seconds until a token is
  // available (>= 1, for Retry-After).
  std::int64_t acquire(std::string_view key, Clock::time_point now = Clock::now());
  // Gives back a token taken by acquire() for a request that turned out to be invalid.
  void refund(std::string_view key);

  std::size_t size() const;

 private:
  struct Bucket {
    double tokens;
    Clock::time_point updated;
  };
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<std::string, Bucket> buckets;
  };
  static constexpr std::size_t kShards = 16;
  static constexpr std::size_t kMaxPerShard = 16384;

  Shard& shard(std::string_view key);
  void prune(Shard& s, Clock::time_point now);

  std::int64_t per_minute_;
  std::array<Shard, kShards> shards_;
};

}  // namespace cidrot::server

#endif  // CIDROT_SERVER_RATE_LIMITER_H_
