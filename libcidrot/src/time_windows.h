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
  struct Cache {
    std::int64_t valid_from_ms, valid_until_ms, hour_start, day_start;
  };
  Windows compute(TimePoint now) const;

  std::string zone_name_;
  const void* zone_;  // const date::time_zone*; kept opaque so this header stays dependency-free
  mutable std::mutex mu_;
  mutable std::shared_ptr<const Cache> cache_;
};

}  // namespace cidrot::detail

#endif  // CIDROT_SRC_TIME_WINDOWS_H_
