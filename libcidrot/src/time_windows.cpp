// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
#include "time_windows.h"

#include <date/tz.h>

#include <chrono>
#include <cstdlib>
#include <fstream>

#include "cidrot/error.h"

namespace cidrot::detail {
namespace {

// date/tz reads a zone's rules from its file on the zone's first get_info(), not in
// locate_zone(). Read them here, at construction: a server holding every descriptor it may open
// (thousands of connections) would otherwise fail its first lease with EMFILE, and every later
// one too until a descriptor is free, and a zone whose file is unreadable is reported at start
// rather than on the first call. Throws what get_info throws.
const date::time_zone* loaded(const date::time_zone* zone) {
  zone->get_info(date::floor<std::chrono::seconds>(std::chrono::system_clock::now()));
  return zone;
}

// The host's zone: $TZ if it names an IANA zone, then the /etc/localtime link date/tz resolves;
// UTC when neither works (containers often have no zone at all).
const date::time_zone* host_zone(std::string* name) {
  if (const char* tz = std::getenv("TZ"); tz != nullptr && *tz != '\0') {
    std::string z = tz[0] == ':' ? tz + 1 : tz;
    try {
      const auto* zone = loaded(date::locate_zone(z));
      *name = zone->name();
      return zone;
    } catch (const std::exception&) {
    }
  }
  try {
    const auto* zone = loaded(date::current_zone());
    *name = zone->name();
    return zone;
  } catch (const std::exception&) {
  }
  const auto* zone = loaded(date::locate_zone("UTC"));
  *name = zone->name();
  return zone;
}

}  // namespace

WindowCalculator::WindowCalculator(const std::string& zone) {
  if (zone.empty()) {
    zone_ = host_zone(&zone_name_);
    return;
  }
  if (zone.size() > 64) {
    throw Error(ErrorCode::kInvalidArgument, "time_zone: longer than 64 bytes", "time_zone");
  }
  try {
    const auto* z = loaded(date::locate_zone(zone));
    zone_ = z;
    zone_name_ = z->name();
  } catch (const std::exception&) {
    throw Error(ErrorCode::kInvalidArgument,
                "time_zone: unknown IANA time zone '" + zone + "' (e.g. America/New_York)",
                "time_zone");
  }
}

WindowCalculator::~WindowCalculator() = default;

Windows WindowCalculator::compute(TimePoint now) const {
  using namespace std::chrono;
  const auto* zone = static_cast<const date::time_zone*>(zone_);
  const auto sys_s = date::floor<seconds>(now);
  const auto info = zone->get_info(sys_s);
  // Local wall time; an hour window starts at a local :00 boundary. For zones with a :30 or :45
  // offset (Newfoundland, India) this differs from UTC hours, so it is computed, not assumed.
  const auto local = sys_s + info.offset;
  const auto local_hour = date::floor<hours>(local);
  const auto local_day = date::floor<date::days>(local);
  Windows w;
  w.now = now;
  w.hour_start = (local_hour - info.offset).time_since_epoch().count();
  // Midnight may fall in a different offset than now (a DST change during the day): ask the zone.
  const date::local_seconds midnight{local_day.time_since_epoch()};
  try {
    w.day_start = zone->to_sys(midnight, date::choose::earliest).time_since_epoch().count();
  } catch (const std::exception&) {
    w.day_start = (local_day - info.offset).time_since_epoch().count();
  }
  return w;
}

Windows WindowCalculator::at(TimePoint now) const {
  const std::int64_t ms = to_unix_ms(now);
  for (int attempt = 0; attempt < 4; ++attempt) {
    const std::uint64_t before = seq_.load(std::memory_order_acquire);
    if (before & 1) continue;  // a writer is mid-update
    const std::int64_t from = valid_from_ms_.load(std::memory_order_relaxed);
    const std::int64_t until = valid_until_ms_.load(std::memory_order_relaxed);
    const std::int64_t hour = hour_start_.load(std::memory_order_relaxed);
    const std::int64_t day = day_start_.load(std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_acquire);
    if (seq_.load(std::memory_order_relaxed) != before) continue;
    if (ms >= from && ms < until) return Windows{now, hour, day};
    break;
  }
  Windows w = compute(now);
  // Valid until the next hour boundary (which also covers every day boundary), and never past
  // the end of the current UTC offset: a DST fall-back repeats a local hour.
  const auto* zone = static_cast<const date::time_zone*>(zone_);
  const auto info = zone->get_info(date::floor<std::chrono::seconds>(now));
  const std::int64_t offset_end_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(info.end.time_since_epoch()).count();
  const std::int64_t until = std::min(w.hour_start * 1000 + 3600 * 1000, offset_end_ms);
  std::lock_guard<std::mutex> lock(write_mu_);
  seq_.fetch_add(1, std::memory_order_acq_rel);
  valid_from_ms_.store(w.hour_start * 1000, std::memory_order_relaxed);
  valid_until_ms_.store(until, std::memory_order_relaxed);
  hour_start_.store(w.hour_start, std::memory_order_relaxed);
  day_start_.store(w.day_start, std::memory_order_relaxed);
  seq_.fetch_add(1, std::memory_order_release);
  return w;
}

}  // namespace cidrot::detail
