// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
//
// Time is passed in: every time-dependent rule (hour/day windows, lease TTLs) reads a Clock, so
// tests drive time with ManualClock instead of sleeping.

#ifndef CIDROT_CLOCK_H_
#define CIDROT_CLOCK_H_

#include <atomic>
#include <chrono>
#include <cstdint>

namespace cidrot {

using TimePoint = std::chrono::system_clock::time_point;

// Milliseconds since the Unix epoch; the form stores persist.
inline std::int64_t to_unix_ms(TimePoint t) noexcept {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}
inline TimePoint from_unix_ms(std::int64_t ms) noexcept {
  return TimePoint(std::chrono::duration_cast<TimePoint::duration>(std::chrono::milliseconds(ms)));
}

// Abstract wall clock. Implementations must be safe to call from any thread.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const noexcept = 0;
};

// std::chrono::system_clock. Stateless; thread-safe.
class SystemClock final : public Clock {
 public:
  TimePoint now() const noexcept override { return std::chrono::system_clock::now(); }
};

// A clock that moves only when told. Thread-safe: set()/advance() may race with now().
class ManualClock final : public Clock {
 public:
  explicit ManualClock(TimePoint start) noexcept : ms_(to_unix_ms(start)) {}
  TimePoint now() const noexcept override { return from_unix_ms(ms_.load()); }
  void set(TimePoint t) noexcept { ms_.store(to_unix_ms(t)); }
  void advance(std::chrono::milliseconds d) noexcept { ms_.fetch_add(d.count()); }

 private:
  std::atomic<std::int64_t> ms_;
};

}  // namespace cidrot

#endif  // CIDROT_CLOCK_H_
