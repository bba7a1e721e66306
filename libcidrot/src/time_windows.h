// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
// Private: calendar hour/day windows in an IANA time zone (Howard Hinnant's date/tz).
#ifndef CIDROT_SRC_TIME_WINDOWS_H_
#define CIDROT_SRC_TIME_WINDOWS_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "cidrot/types.h"

namespace cidrot::detail {

// Computes the windows containing an instant. Thread-safe; caches the current windows so the hot
// path is two atomic loads until the hour ends.
class WindowCalculator {
 public:
  // `zone` "" = host zone (TZ, /etc/localtime), else UTC. Throws Error(kInvalidArgument,
  // field "time_zone") for an unknown zone.
  explicit WindowCalculator(const std::string& zone);
  ~WindowCalculator();

  Windows at(TimePoint now) const;
  const std::string& zone_name() const noexcept { return zone_name_; }

 private:
  Windows compute(TimePoint now) const;

  std::string zone_name_;
  const void* zone_;  // const date::time_zone*; kept opaque so this header stays dependency-free
  // The windows of the current hour, read lock-free under a sequence lock: every lease reads
  // them, and they change once an hour.
  mutable std::mutex write_mu_;
  mutable std::atomic<std::uint64_t> seq_{0};
  mutable std::atomic<std::int64_t> valid_from_ms_{1}, valid_until_ms_{0};
  mutable std::atomic<std::int64_t> hour_start_{0}, day_start_{0};
};

}  // namespace cidrot::detail

#endif  // CIDROT_SRC_TIME_WINDOWS_H_
