// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
//
// Whether the store's write path works, as the latest /next-cid calls found it. /health's own
// check is a read round trip, which a store can pass while every lease fails: SQLite with its
// write lock held past busy_timeout_ms (another process's long import) or a full disk, Redis at
// maxmemory, a PostgreSQL in read-only recovery. A load balancer polling /health should take such
// a server out of rotation.
#ifndef CIDROT_SERVER_WRITE_HEALTH_H_
#define CIDROT_SERVER_WRITE_HEALTH_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

namespace cidrot::server {

// Thread-safe. ok() is cheap enough for every request: one relaxed load, and a compare-exchange
// at most once per millisecond.
class WriteHealth {
 public:
  using Clock = std::chrono::steady_clock;

  // A lease call got its answer from the store (a lease or a denial).
  void ok(Clock::time_point now) noexcept {
    // A maximum, not the last store: threads report out of order.
    const std::int64_t ms = to_ms(now);
    std::int64_t seen = last_ok_ms_.load(std::memory_order_relaxed);
    while (seen < ms && !last_ok_ms_.compare_exchange_weak(seen, ms, std::memory_order_relaxed)) {
    }
  }

  // A lease call failed because the store did (ErrorCode::kBackendUnavailable); `why` is the
  // error's message.
  void failed(Clock::time_point now, std::string_view why) {
    std::lock_guard<std::mutex> lock(mu_);
    why_.assign(why);
    last_failed_ms_.store(to_ms(now), std::memory_order_relaxed);
  }

  // The last failure's message when it came less than `window` before `now` and no call
  // succeeded after it; else "". A server that gets no calls (taken out of rotation) reads as
  // working again once `window` has passed, so that it is tried again.
  std::string failing(Clock::time_point now, std::chrono::milliseconds window) const {
    const std::int64_t failed_ms = last_failed_ms_.load(std::memory_order_relaxed);
    if (failed_ms <= last_ok_ms_.load(std::memory_order_relaxed)) return "";
    if (to_ms(now) - failed_ms >= window.count()) return "";
    std::lock_guard<std::mutex> lock(mu_);
    return why_;
  }

 private:
  static std::int64_t to_ms(Clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  }

  std::atomic<std::int64_t> last_ok_ms_{INT64_MIN};
  std::atomic<std::int64_t> last_failed_ms_{INT64_MIN};
  mutable std::mutex mu_;
  std::string why_;
};

}  // namespace cidrot::server

#endif  // CIDROT_SERVER_WRITE_HEALTH_H_
